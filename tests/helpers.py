"""Test helpers: start real servers as processes, run real kubectl, wait for conditions."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from gardener.runtime import pki

T = TypeVar("T")
VENV_BIN = Path(sys.executable).parent
KUBECTL = str(VENV_BIN / "kubectl") if (VENV_BIN / "kubectl").exists() else (shutil.which("kubectl") or "kubectl")


def eventually(check: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> T:
    """Poll `check` until it returns a truthy value without raising; fail with the last problem seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = f"returned {value!r}"
        except AssertionError as exc:
            last = exc
        except Exception as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s: {last}")
        time.sleep(interval)


async def aeventually(check: Callable[[], T], *, timeout: float = 20.0, what: str = "condition") -> T:
    """`eventually` for async tests: `check` runs in a thread, so the event loop (and controllers on it) keep going."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        try:
            value = await asyncio.to_thread(check)
            if value:
                return value
            last = f"returned {value!r}"
        except AssertionError as exc:
            last = exc
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s: {last}")
        await asyncio.sleep(0.1)


@dataclass
class ServerProcess:
    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 30.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.kubeconfig.exists():
            self.kubeconfig.unlink()
        args = [
            sys.executable,
            "-m",
            "gardener.apiserver.main",
            "--data-dir",
            str(self.data_dir),
            "--secure-port",
            str(self.port),
            *self.extra_args,
        ]
        log = open(self.data_dir / "apiserver.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        log.close()

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"apiserver exited: {self.log_tail()}")
            return self.kubeconfig.exists()

        eventually(ready, timeout=timeout, what="apiserver ready")
        server = yaml.safe_load(self.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        self.port = int(server.rsplit(":", 1)[1])
        return self

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir / "apiserver.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def module_server(name: str, *, extra_args: tuple[str, ...] = ()) -> Any:
    """A module-scoped fixture: an API server of the module's own (under a fresh `name` directory), for tests
    that need a store nobody else writes to. Assign it to the fixture's name: `server = module_server("x")`."""

    @pytest.fixture(scope="module")
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
        process = ServerProcess(data_dir=tmp_path_factory.mktemp(name), extra_args=list(extra_args)).start()
        yield process
        process.stop()

    return server


def kubectl(
    *args: str, kubeconfig: Path, input: str | None = None, check: bool = True, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    result = subprocess.run(
        [KUBECTL, *args], input=input, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}{result.stdout}")
    return result


def kubectl_get(*args: str, kubeconfig: Path) -> Any:
    """`kubectl get <args> -o json`, decoded."""
    return json.loads(kubectl("get", *args, "-o", "json", kubeconfig=kubeconfig).stdout)


def create_namespace(name: str, *, kubeconfig: Path) -> None:
    """Create a namespace with `kubectl apply` (idempotent, and JSON on the wire)."""
    kubectl(
        "apply", "-f", "-", kubeconfig=kubeconfig, input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n"
    )


def write_tls_pair(directory: Path, *, common_name: str) -> None:
    """A throw-away self-signed certificate and its key as `tls.crt` and `tls.key` in `directory`, for a
    `kubectl create secret tls` or a TLS test server that nobody needs to trust."""
    pair = pki.create_ca(common_name=common_name, valid_days=1)
    (directory / "tls.crt").write_bytes(pair.cert_pem)
    (directory / "tls.key").write_bytes(pair.key_pem)
