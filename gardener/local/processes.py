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

from gardener.runtime.process import PidFile, start_ticks


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
    PidFile.of(child.pid).write(_pid_file(run_dir, proc.name))
    return child.pid


def pid_of(name: str, *, run_dir: Path) -> int | None:
    """The pid if the process is alive, else None (and a stale pid file is removed)."""
    path = _pid_file(run_dir, name)
    record = PidFile.read(path)
    if record is None or not record.alive():
        path.unlink(missing_ok=True)
        return None
    return record.pid


def stop(name: str, *, run_dir: Path, timeout: float = 15.0) -> bool:
    """SIGTERM the process group, SIGKILL after `timeout`; True if something was running."""
    path = _pid_file(run_dir, name)
    record = PidFile.read(path)
    running = record is not None and record.alive()
    if record is not None:
        record.stop(timeout)
    path.unlink(missing_ok=True)
    return running


def strays(data_dir: Path) -> list[int]:
    """Processes left from a local garden: they carry its marker or name its data dir on their command line or in
    their environment (a pod's processes: their HOME is the pod's directory).

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
        # a pod's processes name the data dir only in their environment (HOME is the pod's directory)
        if needle.search(cmdline) or marker in environ.split(b"\0") or needle.search(environ):
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
    while time.monotonic() < deadline and any(start_ticks(p) is not None for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if start_ticks(pid) is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return len(pids)
