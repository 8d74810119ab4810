"""Host processes that outlive the component that started them: a pid file with the process start time.

The start time (clock ticks since boot, from /proc) makes a restarted component adopt exactly its own processes
and never signal a stranger that reused the pid. Each process leads a session of its own, so signals go to its
process group and take its children along.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PidFile", "signal_group", "start_ticks"]


def start_ticks(pid: int) -> int | None:
    """The start time of `pid` in clock ticks since boot; None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


def signal_group(pid: int, sig: int) -> None:
    """Signal the process group `pid` leads; nothing when it is gone or not ours."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@dataclass(frozen=True)
class PidFile:
    """What a pid file records: the pid, its start ticks and (optionally) when it started, RFC 3339."""

    pid: int
    ticks: int
    started_at: str = ""

    @classmethod
    def of(cls, pid: int, *, started_at: str = "") -> PidFile:
        return cls(pid, start_ticks(pid) or 0, started_at)

    def alive(self) -> bool:
        return start_ticks(self.pid) == self.ticks

    def write(self, path: Path) -> None:
        """Replace `path` atomically, so a reader never sees half a record."""
        doc: dict[str, object] = {"pid": self.pid, "ticks": self.ticks}
        if self.started_at:
            doc["startedAt"] = self.started_at
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> PidFile | None:
        try:
            doc = json.loads(path.read_text())
            return cls(int(doc["pid"]), int(doc["ticks"]), str(doc.get("startedAt") or ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def stop(self, grace: float) -> None:
        """SIGTERM the process group, SIGKILL it after `grace` seconds (blocking; a child of ours is reaped)."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if not self.alive():
                return
            signal_group(self.pid, sig)
            deadline = time.monotonic() + wait
            while self.alive() and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, os.WNOHANG)
                time.sleep(0.05)
