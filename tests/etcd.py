"""Start a real single-member etcd on free loopback ports in a temporary directory, for tests.

`make` installs etcd (Debian's etcd-server) when it is missing; tests that need it skip with a clear
reason if the binary is still not there. Progress notifications come every second (instead of
etcd's 10 minutes), so tests can see the window advance without writes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


def etcd_binary() -> str | None:
    for candidate in (os.environ.get("ETCD_BIN", ""), "/usr/bin/etcd", shutil.which("etcd") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_etcd() -> str:
    binary = etcd_binary()
    if binary is None:
        pytest.skip("etcd is not installed (make installs Debian's etcd-server; or set ETCD_BIN)")
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EtcdProcess:
    data_dir: Path
    binary: str = ""
    client_port: int = 0
    peer_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def start(self, *, timeout: float = 20.0, keep_ports: bool = False) -> EtcdProcess:
        """Start etcd; with `keep_ports` on the ports of the previous run (a restart clients can follow)."""
        self.binary = self.binary or require_etcd()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # a free port can be taken between picking and binding it
            if not (keep_ports and self.client_port):
                self.client_port, self.peer_port = _free_port(), _free_port()
            peer = f"http://127.0.0.1:{self.peer_port}"
            args = [
                self.binary,
                "--name=test",
                f"--data-dir={self.data_dir / 'data'}",
                f"--listen-client-urls={self.url}",
                f"--advertise-client-urls={self.url}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=test={peer}",
                "--experimental-watch-progress-notify-interval=1s",
                "--log-level=warn",
            ]
            log = open(self.data_dir / "etcd.log", "ab")  # noqa: SIM115 - handed to the child
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
            log.close()
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                if self._ready():
                    return self
                time.sleep(0.05)
            self.stop(signal.SIGKILL)
        raise RuntimeError(f"etcd did not start: {self.log_tail()}")

    def _ready(self) -> bool:
        req = urllib.request.Request(self.url + "/v3/maintenance/status", data=b"{}", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                return bool(json.loads(resp.read()).get("leader"))
        except OSError:
            return False

    def post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            result: dict[str, object] = json.loads(resp.read())
            return result

    def log_tail(self, lines: int = 30) -> str:
        path = self.data_dir / "etcd.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
