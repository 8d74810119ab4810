"""Node processes on the host: a pid file with the process start time, so a restarted MCM adopts exactly its
own processes and never signals a stranger that reused the pid."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


def start_ticks(pid: int) -> int | None:
    """The start time of `pid` in clock ticks since boot; None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else int(fields[19])


@dataclass(frozen=True)
class PidFile:
    pid: int
    ticks: int

    def alive(self) -> bool:
        return start_ticks(self.pid) == self.ticks

    def write(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"pid": self.pid, "ticks": self.ticks}))
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> PidFile | None:
        try:
            doc = json.loads(path.read_text())
            return cls(int(doc["pid"]), int(doc["ticks"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def stop(self, grace: float) -> None:
        """SIGTERM the process group, SIGKILL it after `grace` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if not self.alive():
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
            deadline = time.monotonic() + wait
            while self.alive() and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, os.WNOHANG)
                time.sleep(0.05)
