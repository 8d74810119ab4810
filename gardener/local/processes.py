"""Detached child processes with pid files, so `down` and `status` work from another shell."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Managed:
    name: str
    args: tuple[str, ...]


def _pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


#: set in the environment of everything the local garden starts, so `down` finds what they started in turn
MARKER = "GARDENER_LOCAL_DATA_DIR"


def start(proc: Managed, *, run_dir: Path, log_dir: Path) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, MARKER: str(run_dir.parent)}
    with open(log_dir / f"{proc.name}.log", "ab") as log:
        child = subprocess.Popen(
            list(proc.args), stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env
        )
    _pid_file(run_dir, proc.name).write_text(str(child.pid))
    return child.pid


def pid_of(name: str, *, run_dir: Path) -> int | None:
    """The pid if the process is alive, else None (and a stale pid file is removed)."""
    path = _pid_file(run_dir, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    except PermissionError:
        return pid
    if _is_zombie(pid):
        path.unlink(missing_ok=True)
        return None
    return pid


def _is_zombie(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state == "Z"


def stop(name: str, *, run_dir: Path, timeout: float = 15.0) -> bool:
    """SIGTERM the process group, SIGKILL after `timeout`; True if something was running."""
    pid = pid_of(name, run_dir=run_dir)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_of(name, run_dir=run_dir) is not None:
        time.sleep(0.1)
    if pid_of(name, run_dir=run_dir) is not None:
        _signal_group(pid, signal.SIGKILL)
        while pid_of(name, run_dir=run_dir) is not None and time.monotonic() < deadline + 5:
            time.sleep(0.1)
    _pid_file(run_dir, name).unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def strays(data_dir: Path) -> list[int]:
    """Processes left from a local garden: they carry its marker or name its data dir on their command line.

    The data dir must end there (a `/` or the end of an argument follows), so that the garden in `/tmp/garden`
    leaves the one in `/tmp/garden2` alone.
    """
    marker = f"{MARKER}={data_dir}".encode()
    needle = re.compile(re.escape(str(data_dir).encode()) + rb"(?=/|\x00|$)")
    mine = _ancestors()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle.search(cmdline) or marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _ancestors() -> set[int]:
    """This process and its parents: a shell that ran `gardener local down --data-dir X` names X too."""
    pids = set()
    pid = os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def sweep(data_dir: Path, *, timeout: float = 10.0) -> int:
    """SIGTERM every stray, SIGKILL what is left after `timeout`; returns how many there were."""
    pids = strays(data_dir)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return len(pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)
