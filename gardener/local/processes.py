"""Detached child processes with pid files, so `down` and `status` work from another shell."""

from __future__ import annotations

import os
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


def start(proc: Managed, *, run_dir: Path, log_dir: Path) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{proc.name}.log", "ab") as log:
        child = subprocess.Popen(
            list(proc.args), stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
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
