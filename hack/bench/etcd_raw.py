#!/usr/bin/env python3
"""Raw etcd write rate through its HTTP/JSON gateway: the baseline for the API server's etcd storage.

Each write is the transaction the etcd backend uses for a create (`create_revision == 0` -> put of a
value the size of a stored object), sent with aiohttp over keep-alive connections from C concurrent
clients, so `api creates/s / raw etcd txns/s` says what the API server adds on top of etcd.

For `hack/bench/apiserver.py`:

    from etcd_raw import EtcdServer, phase_raw_etcd
    with EtcdServer(work_dir / "etcd") as etcd:          # or an existing URL
        result.update(phase_raw_etcd(etcd.url, writes=2000, concurrency=16, sample=sample))

Standalone (starts its own etcd in a temporary directory unless --etcd is given), one JSON line:

    .venv/bin/python hack/bench/etcd_raw.py [--writes 2000] [--concurrency 16] [--value-bytes 400] [--etcd URL]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import orjson


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EtcdServer:
    """A single-member etcd on free loopback ports with its data in `data_dir` (fsync on, as in production)."""

    def __init__(self, data_dir: Path, *, binary: str = "") -> None:
        self.data_dir = data_dir
        self.binary = binary or shutil.which("etcd") or "/usr/bin/etcd"
        self.client_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def __enter__(self) -> EtcdServer:
        self.start()
        return self

    def __exit__(self, *exc: object | type[BaseException] | TracebackType | None) -> None:
        self.stop()

    def start(self, *, timeout: float = 20.0) -> None:
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError(f"etcd not found at {self.binary} (make installs Debian's etcd-server)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.client_port, peer_port = _free_port(), _free_port()
        peer = f"http://127.0.0.1:{peer_port}"
        args = [
            self.binary,
            "--name=bench",
            f"--data-dir={self.data_dir / 'data'}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=bench={peer}",
            "--log-level=warn",
        ]
        with open(self.data_dir / "etcd.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                req = urllib.request.Request(self.url + "/v3/maintenance/status", data=b"{}", method="POST")
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if json.loads(resp.read()).get("leader"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"etcd did not start; see {self.data_dir / 'etcd.log'}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


async def raw_etcd_writes(
    url: str, *, writes: int, concurrency: int, value: bytes, prefix: str = "/bench-raw"
) -> dict[str, Any]:
    """`writes` create transactions of `value` from `concurrency` clients; per_s, p50/p99 ms, failures."""
    run = f"{prefix}/{os.getpid()}-{time.monotonic_ns()}/"
    encoded_value = base64.b64encode(value).decode()
    counter = itertools.count()
    latencies: list[float] = []
    failed = 0
    errors: list[str] = []

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal failed
        while (i := next(counter)) < writes:
            key = base64.b64encode(f"{run}{i:08d}".encode()).decode()
            body = orjson.dumps(
                {
                    "compare": [{"target": "CREATE", "key": key, "create_revision": "0", "result": "EQUAL"}],
                    "success": [{"request_put": {"key": key, "value": encoded_value}}],
                }
            )
            started = time.perf_counter()
            try:
                async with session.post(url + "/v3/kv/txn", data=body) as resp:
                    payload = orjson.loads(await resp.read())
                ok = resp.status == 200 and bool(payload.get("succeeded"))
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                ok, payload = False, {"error": repr(exc)}
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                failed += 1
                if len(errors) < 5:
                    errors.append(str(payload)[:200])

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def call(path: str, body: bytes) -> None:
            async with session.post(url + path, data=body) as resp:
                await resp.read()

        # Warm up the keep-alive connections so the run measures writes, not TCP handshakes.
        await asyncio.gather(*(call("/v3/maintenance/status", b"{}") for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        await call(
            "/v3/kv/deleterange",
            orjson.dumps(
                {"key": base64.b64encode(run.encode()).decode(), "range_end": base64.b64encode(_end(run)).decode()}
            ),
        )
    return {
        "per_s": round(len(latencies) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(_percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 2),
        "failed": failed,
        "errors": errors,
        "value_bytes": len(value),
        "seconds": round(elapsed, 3),
    }


def _end(prefix: str) -> bytes:
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return bytes(raw)


def phase_raw_etcd(url: str, *, writes: int, concurrency: int, sample: bytes) -> dict[str, Any]:
    """Baseline keys for the API server benchmark; `sample` is one stored object as the API served it."""
    many = asyncio.run(raw_etcd_writes(url, writes=writes, concurrency=concurrency, value=sample))
    single = asyncio.run(raw_etcd_writes(url, writes=max(50, writes // 4), concurrency=1, value=sample))
    return {
        "raw_etcd_writes_per_s": many["per_s"],
        "raw_etcd_p50_ms": many["p50_ms"],
        "raw_etcd_p99_ms": many["p99_ms"],
        "raw_etcd_failed": many["failed"],
        "raw_etcd_value_bytes": many["value_bytes"],
        "raw_etcd_single_writer_per_s": single["per_s"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--writes", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--value-bytes", type=int, default=400)
    p.add_argument("--etcd", default="", help="an etcd client URL; default: start one in a temporary directory")
    args = p.parse_args(argv)
    sample = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "data": {"v": "x" * max(0, args.value_bytes - 60)}})
    with tempfile.TemporaryDirectory(prefix="etcd-bench-") as tmp:
        if args.etcd:
            result = phase_raw_etcd(args.etcd, writes=args.writes, concurrency=args.concurrency, sample=sample)
        else:
            with EtcdServer(Path(tmp)) as etcd:
                result = phase_raw_etcd(etcd.url, writes=args.writes, concurrency=args.concurrency, sample=sample)
    result["concurrency"] = args.concurrency
    print(json.dumps(result), flush=True)
    return 0 if result["raw_etcd_failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
