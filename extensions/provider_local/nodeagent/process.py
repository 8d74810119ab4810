"""Container processes on the host: start, adopt after an agent restart, signal, stop.

Every container runs in a session of its own, so its process group is the container: signals go
to the group, and leftovers are killed with it. A pid file (`gardener.runtime.process`) records the pid
together with the process start time, so a restarted agent re-adopts exactly its own processes and
never signals a stranger that reused the pid.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from extensions.provider_local.nodeagent.objects import now_rfc3339
from gardener.runtime.process import PidFile, signal_group

#: a container's log is rotated (one old file kept) when it starts again past this size
LOG_LIMIT = 10 * 1024 * 1024


class HostProcess:
    """One container process: a child of ours, or one adopted from its pid file.

    Children are started with `subprocess.Popen`, not asyncio's subprocess transports: those kill
    their process when they are closed, and a container must outlive an agent that stops without
    `--cleanup-on-exit`. Exits are noticed through a pidfd, for children and adopted processes alike.
    """

    def __init__(self, record: PidFile, child: subprocess.Popen[bytes] | None, pid_file: Path) -> None:
        self.record = record
        self._child = child
        self._pid_file = pid_file
        self.exit_code: int | None = None
        self._exited: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int:
        return self.record.pid

    @property
    def adopted(self) -> bool:
        return self._child is None

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        pid_file: Path,
    ) -> HostProcess:
        """Start the process; OSError when it cannot be executed."""
        if log_path.exists() and log_path.stat().st_size > LOG_LIMIT:
            os.replace(log_path, log_path.with_name(log_path.name + ".1"))
        with open(log_path, "ab") as log:
            child = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=str(cwd),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        record = PidFile.of(child.pid, started_at=now_rfc3339())
        record.write(pid_file)
        return cls(record, child, pid_file)

    @classmethod
    def adopt(cls, pid_file: Path) -> HostProcess | None:
        """The process recorded in `pid_file` if it still runs (the same process, not a reused pid)."""
        record = PidFile.read(pid_file)
        if record is None or not record.alive():
            return None
        return cls(record, None, pid_file)

    def running(self) -> bool:
        if self._child is not None:
            return self._child.poll() is None
        return self.record.alive()

    def _exit_future(self) -> asyncio.Future[None]:
        if self._exited is None:
            loop = asyncio.get_running_loop()
            self._exited = loop.create_future()
            try:
                fd = os.pidfd_open(self.pid)
            except ProcessLookupError:
                self._exited.set_result(None)
                return self._exited
            exited = self._exited

            def on_exit() -> None:
                loop.remove_reader(fd)
                os.close(fd)
                if not exited.done():
                    exited.set_result(None)

            loop.add_reader(fd, on_exit)
            # An adopted pid may have ended between the liveness check and pidfd_open.
            if self._child is None and not self.record.alive():
                on_exit()
        return self._exited

    async def wait(self) -> int | None:
        """Wait for the exit; the exit code, or None when an adopted process ended (its code is lost)."""
        await asyncio.shield(self._exit_future())
        if self._child is not None:
            self.exit_code = self._child.wait()
        # The container is its process group: nothing of it may outlive its main process.
        signal_group(self.pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)
        return self.exit_code

    def signal(self, sig: int) -> None:
        if self.running():
            signal_group(self.pid, sig)

    async def stop(self, grace: float) -> int | None:
        """SIGTERM the group, SIGKILL it after `grace` seconds; returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self._exit_future()), timeout=max(grace, 0.0))
        except TimeoutError:
            self.signal(signal.SIGKILL)
        return await self.wait()


async def stop_recorded(pid_file: Path, grace: float) -> bool:
    """Stop the process of a pid file whose pod is gone; True when something still ran."""
    proc = HostProcess.adopt(pid_file)
    if proc is None:
        pid_file.unlink(missing_ok=True)
        return False
    await proc.stop(grace)
    return True
