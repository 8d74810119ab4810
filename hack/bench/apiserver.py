#!/usr/bin/env python3
"""Benchmark the embedded API server end to end and print ONE JSON line of figures to stdout.

It starts its own server (``python -m gardener.apiserver.main --data-dir TMP --secure-port 0``) on
loopback and talks to it over HTTPS with the admin client certificate from the kubeconfig the server
writes, on keep-alive connections. Phases, each bounded in time and count:

1. N durable ConfigMap creates from C concurrent clients: creates/s, p50/p99 latency, failures.
2. Baseline: the same number of writes straight into SQLite with the server's durability settings
   (WAL, synchronous=FULL, one transaction and commit per write, a value of the size the server
   stores) from C threads with a connection each: writes/s and "database is locked" failures.
   ``create_vs_raw_ratio`` = api rate / raw rate (median of 3 raw runs). A single-writer raw rate is reported alongside,
   since C writers each committing on their own mostly wait in SQLite's busy handler.
3. Open-loop fixed rate (200 creates/s for 10 s): failures and p99 measured from the scheduled
   send time, so a stalled server cannot hide behind a slowed-down client.
4. LIST of 10,000 ConfigMaps as JSON (median of 5), and the same list paged with ``limit=500``.
5. Watch fan-out: 100 watch streams (in a separate client process so parsing them does not stall
   the writer), 200 creates spaced 10 ms; latency per event and watcher from the write's ack and
   from its send time.
6. Server RSS (VmRSS, and RssAnon: the private heap) at startup, after each phase and idle after
   the work, plus the peak (VmHWM).
7. The LIST of phase 4 once more from a server started with ``--watch-cache=false`` on the same storage
   (``list_uncached_ms_median``): phase 4 is served by the watch cache (``list_watch_cache_ms_median``).

``--storage etcd`` starts a single-member etcd (``hack/bench/etcd_raw.py``) and runs the same phases on a
server over it; the baseline of phase 2 is then raw etcd create transactions at the same concurrency
(``raw_etcd_*``), and a second replica on the same etcd (sharing the first one's PKI) adds
``replica_watch_*``: a write acknowledged by replica A seen by a watch on replica B.

The server's own CPU time per phase (``*_server_cpu_*``) is reported too: unlike rates and
latencies it barely moves when other work shares the machine (``loadavg_1m_*`` says how busy it was).
Targets are reported in keys (``target_*`` and ``targets_met``), never asserted. Progress goes to stderr.

    .venv/bin/python hack/bench/apiserver.py [--storage sqlite|etcd] [--creates 2000] [--concurrency 16] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import math
import multiprocessing
import multiprocessing.synchronize
import os
import platform
import queue
import shutil
import signal
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from etcd_raw import EtcdServer, phase_raw_etcd  # a sibling script, not a package

REPO = Path(__file__).resolve().parents[2]
#: the server's key prefix in etcd, so the raw baseline's keys are outside its watch
ETCD_PREFIX = "/garden-bench"
MIB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=30)

TARGET_CREATE_RATIO_MIN = 0.5
TARGET_FIXED_RATE_FAILED_MAX = 0
TARGET_LIST_MS_MAX = 300.0
TARGET_WATCH_P99_MS_MAX = 50.0
TARGET_IDLE_RSS_MIB_MAX = 60.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class Settings:
    creates: int
    concurrency: int
    fixed_rate: float
    fixed_seconds: float
    list_objects: int
    list_repeats: int
    list_page: int
    list_fill_concurrency: int
    watchers: int
    watch_writes: int
    watch_interval: float
    watch_procs: int
    raw_repeats: int
    settle_seconds: float
    quick: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        quick = bool(args.quick)
        cpus = os.cpu_count() or 1
        return cls(
            creates=args.creates if args.creates is not None else (200 if quick else 2000),
            concurrency=args.concurrency if args.concurrency is not None else (8 if quick else 16),
            fixed_rate=50.0 if quick else 200.0,
            fixed_seconds=2.0 if quick else 10.0,
            list_objects=500 if quick else 10_000,
            list_repeats=3 if quick else 5,
            list_page=100 if quick else 500,
            list_fill_concurrency=16 if quick else 32,
            watchers=10 if quick else 100,
            watch_writes=20 if quick else 200,
            watch_interval=0.01,
            watch_procs=args.watch_procs if args.watch_procs else max(1, min(4, cpus - 1)),
            raw_repeats=1 if quick else 3,
            settle_seconds=1.0 if quick else 3.0,
            quick=quick,
        )


@dataclass
class Setup:
    """What the servers run on, and every server started, so all are stopped at the end."""

    work_dir: Path
    storage: str = "sqlite"
    watch_cache: bool = True
    etcd_url: str = ""
    script: Path | None = None
    servers: list[Server] = field(default_factory=list)

    def server_args(self, *, watch_cache: bool | None = None) -> list[str]:
        cache = self.watch_cache if watch_cache is None else watch_cache
        args = [f"--watch-cache={'true' if cache else 'false'}"]
        if self.storage == "etcd":
            args += ["--storage", "etcd", "--etcd-servers", self.etcd_url, "--etcd-prefix", ETCD_PREFIX]
        return args

    def new_server(self, data_dir: Path, *, watch_cache: bool | None = None) -> Server:
        server = Server(data_dir=data_dir, script=self.script, extra_args=self.server_args(watch_cache=watch_cache))
        self.servers.append(server)
        return server


# ---------------------------------------------------------------------------------------------
# statistics


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3) if not math.isnan(seconds) else seconds


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# the server process


@dataclass
class TLSFiles:
    ca: Path
    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx


@dataclass
class Server:
    data_dir: Path
    script: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    tls: TLSFiles | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, *, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        entry = [str(self.script)] if self.script is not None else ["-m", "gardener.apiserver.main"]
        args = [sys.executable, *entry, "--data-dir", str(self.data_dir), "--secure-port", "0", *self.extra_args]
        self.kubeconfig.unlink(missing_ok=True)  # a restart on the same directory writes a new one
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        with open(self.data_dir / "apiserver.log", "ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=out, cwd=REPO, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.kubeconfig.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"apiserver exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"apiserver not ready within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)
        config = yaml.safe_load(self.kubeconfig.read_text())
        self.url = str(config["clusters"][0]["cluster"]["server"])
        if not self.url.startswith(("https://127.0.0.1:", "https://[::1]:", "https://localhost:")):
            raise RuntimeError(f"refusing to benchmark a non-loopback server: {self.url}")
        user = config["users"][0]["user"]
        tls_dir = self.data_dir / "bench-client"
        tls_dir.mkdir(mode=0o700, exist_ok=True)
        files = TLSFiles(ca=tls_dir / "ca.crt", cert=tls_dir / "client.crt", key=tls_dir / "client.key")
        for path, data in (
            (files.ca, config["clusters"][0]["cluster"]["certificate-authority-data"]),
            (files.cert, user["client-certificate-data"]),
            (files.key, user["client-key-data"]),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(base64.b64decode(data))
        self.tls = files

    def log_tail(self, lines: int = 30) -> str:
        path = self.data_dir / "apiserver.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def memory(self) -> dict[str, float]:
        """VmRSS, RssAnon (private heap) and VmHWM (peak RSS) of the server process in MiB."""
        out: dict[str, float] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon"):
                out[name] = round(int(value.split()[0]) * 1024 / MIB, 1)
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process (all threads) so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)


# ---------------------------------------------------------------------------------------------
# HTTP helpers


def configmap(name: str, index: int) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": "bench", "shard": str(index % 16)}},
            "data": {"index": str(index), "payload": "x" * 256},
        }
    )


def cm_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps"


def session_for(server: Server, *, limit: int) -> aiohttp.ClientSession:
    assert server.tls is not None
    connector = aiohttp.TCPConnector(ssl=server.tls.context(), limit=limit, keepalive_timeout=120)
    return aiohttp.ClientSession(base_url=server.url, connector=connector, timeout=REQUEST_TIMEOUT)


async def create_namespace(session: aiohttp.ClientSession, name: str) -> None:
    body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    async with session.post("/api/v1/namespaces", data=body, headers=JSON_HEADERS) as resp:
        text = await resp.text()
        if resp.status != 201:
            raise RuntimeError(f"creating namespace {name}: {resp.status} {text[:300]}")


async def warm_up(session: aiohttp.ClientSession, namespace: str, connections: int) -> None:
    """Open `connections` keep-alive connections (TLS handshakes) before anything is timed."""

    async def one() -> None:
        async with session.get(cm_path(namespace), params={"limit": "1"}) as resp:
            await resp.read()

    for _ in range(2):
        await asyncio.gather(*(one() for _ in range(connections)))


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.errors[reason] = self.errors.get(reason, 0) + 1


async def post_create(
    session: aiohttp.ClientSession, namespace: str, name: str, index: int, out: Outcome, started: float
) -> float | None:
    """POST one ConfigMap; record latency from `started`; return the ack time or None on failure."""
    try:
        async with session.post(cm_path(namespace), data=configmap(name, index), headers=JSON_HEADERS) as resp:
            await resp.read()
            acked = time.monotonic()
            if resp.status != 201:
                out.fail(f"http {resp.status}")
                return None
    except (aiohttp.ClientError, TimeoutError) as exc:
        out.fail(type(exc).__name__)
        return None
    out.latencies.append(acked - started)
    return acked


async def closed_loop_creates(
    session: aiohttp.ClientSession, namespace: str, names: Iterable[tuple[int, str]], concurrency: int
) -> Outcome:
    out = Outcome()
    work: Iterator[tuple[int, str]] = iter(names)

    async def worker() -> None:
        for index, name in work:
            await post_create(session, namespace, name, index, out, time.monotonic())

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    out.elapsed = time.monotonic() - started
    return out


# ---------------------------------------------------------------------------------------------
# phases


async def phase_creates(server: Server, s: Settings) -> tuple[dict[str, Any], bytes]:
    ns = "bench-create"
    async with session_for(server, limit=s.concurrency) as session:
        await create_namespace(session, ns)
        await warm_up(session, ns, s.concurrency)
        log(f"creates: {s.creates} ConfigMaps with {s.concurrency} concurrent clients")
        cpu = server.cpu_seconds()
        out = await closed_loop_creates(session, ns, ((i, f"cm-{i:06d}") for i in range(s.creates)), s.concurrency)
        cpu = server.cpu_seconds() - cpu
        # One stored object, so the raw SQLite baseline writes values of the same shape and size.
        async with session.get(f"{cm_path(ns)}/cm-000000") as resp:
            sample = await resp.read()
    result = {
        "creates": s.creates,
        "concurrency": s.concurrency,
        "create_per_s": rate(len(out.latencies), out.elapsed),
        "create_p50_ms": ms(percentile(out.latencies, 50)),
        "create_p99_ms": ms(percentile(out.latencies, 99)),
        "create_failed": out.failed,
        "create_errors": out.errors,
        "create_seconds": round(out.elapsed, 3),
        "create_server_cpu_ms_per_op": round(cpu * 1000 / max(1, s.creates), 3),
    }
    log(f"creates: {result['create_per_s']}/s p50 {result['create_p50_ms']} ms p99 {result['create_p99_ms']} ms")
    return result, sample


def raw_sqlite_writes(path: Path, *, writes: int, threads: int, template: dict[str, Any]) -> dict[str, Any]:
    """`writes` INSERTs, one BEGIN IMMEDIATE ... COMMIT each, from `threads` threads with a connection each."""
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    # The server's table: a text primary key and a JSON blob, without a rowid.
    setup.execute("CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, rv INTEGER, value BLOB) WITHOUT ROWID")
    setup.close()
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    locked = 0
    failed = 0
    sizes: list[int] = []
    barrier = threading.Barrier(threads + 1)

    def run() -> None:
        nonlocal locked, failed
        conn = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        mine: list[float] = []
        barrier.wait()
        try:
            while (i := next(counter)) < writes:
                meta = {**template["metadata"], "name": f"raw-{i:06d}", "resourceVersion": str(i + 1)}
                value = orjson.dumps({**template, "metadata": meta})
                if i == 0:
                    sizes.append(len(value))
                started = time.monotonic()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("INSERT INTO objects(key, rv, value) VALUES (?,?,?)", (f"raw/{i:06d}", i + 1, value))
                    conn.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    with lock:
                        if "locked" in str(exc) or "busy" in str(exc):
                            locked += 1
                        else:
                            failed += 1
                    continue
                mine.append(time.monotonic() - started)
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    pool = [threading.Thread(target=run, name=f"raw-{n}", daemon=True) for n in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    started = time.monotonic()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - started
    return {
        "per_s": rate(len(latencies), elapsed),
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "locked": locked,
        "failed": failed,
        "value_bytes": sizes[0] if sizes else 0,
        "seconds": round(elapsed, 3),
    }


def phase_raw_sqlite(work_dir: Path, s: Settings, sample: bytes) -> dict[str, Any]:
    """The median of `raw_repeats` runs (each on a fresh file): C committing writers are noisy."""
    template: dict[str, Any] = orjson.loads(sample)
    log(f"raw sqlite: {s.creates} writes from {s.concurrency} threads (WAL, synchronous=FULL, commit per write)")
    runs = [
        raw_sqlite_writes(work_dir / f"raw-{n}.db", writes=s.creates, threads=s.concurrency, template=template)
        for n in range(s.raw_repeats)
    ]
    raw = sorted(runs, key=lambda r: float(r["per_s"]))[len(runs) // 2]
    single_n = max(50, s.creates // 4)
    singles = [
        raw_sqlite_writes(work_dir / f"raw1-{n}.db", writes=single_n, threads=1, template=template)["per_s"]
        for n in range(s.raw_repeats)
    ]
    log(
        f"raw sqlite: {raw['per_s']}/s (runs {[r['per_s'] for r in runs]}, {raw['locked']} locked), "
        f"single writer {statistics.median(singles)}/s"
    )
    return {
        "raw_sqlite_writes_per_s": raw["per_s"],
        "raw_sqlite_runs_per_s": [r["per_s"] for r in runs],
        "raw_sqlite_p50_ms": raw["p50_ms"],
        "raw_sqlite_p99_ms": raw["p99_ms"],
        "raw_sqlite_locked": sum(int(r["locked"]) for r in runs),
        "raw_sqlite_failed": sum(int(r["failed"]) for r in runs),
        "raw_sqlite_value_bytes": raw["value_bytes"],
        "raw_sqlite_single_writer_per_s": statistics.median(singles),
    }


async def phase_fixed_rate(server: Server, s: Settings) -> dict[str, Any]:
    ns = "bench-rate"
    total = int(s.fixed_rate * s.fixed_seconds)
    out = Outcome()
    async with session_for(server, limit=256) as session:
        await create_namespace(session, ns)
        await warm_up(session, ns, 16)
        log(f"fixed rate: {s.fixed_rate:g} creates/s for {s.fixed_seconds:g} s (open loop)")
        tasks: list[asyncio.Task[float | None]] = []
        lag: list[float] = []
        start = time.monotonic() + 0.05
        cpu = server.cpu_seconds()
        for i in range(total):
            at = start + i / s.fixed_rate
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            lag.append(time.monotonic() - at)
            # Latency counts from the scheduled time: queueing behind a slow server is the server's.
            tasks.append(asyncio.create_task(post_create(session, ns, f"rate-{i:06d}", i, out, at)))
        await asyncio.gather(*tasks)
        out.elapsed = time.monotonic() - start
        cpu = server.cpu_seconds() - cpu
    result = {
        "fixed_rate_rps": s.fixed_rate,
        "fixed_rate_seconds": s.fixed_seconds,
        "fixed_rate_sent": total,
        "fixed_rate_failed": out.failed,
        "fixed_rate_errors": out.errors,
        "fixed_rate_p50_ms": ms(percentile(out.latencies, 50)),
        "fixed_rate_p99_ms": ms(percentile(out.latencies, 99)),
        "fixed_rate_max_ms": ms(max(out.latencies, default=math.nan)),
        "fixed_rate_client_max_lag_ms": ms(max(lag, default=0.0)),
        "fixed_rate_server_cpu_pct": round(100 * cpu / out.elapsed, 1) if out.elapsed > 0 else 0.0,
    }
    log(f"fixed rate: {out.failed} failed, p99 {result['fixed_rate_p99_ms']} ms")
    return result


async def phase_list(server: Server, s: Settings) -> dict[str, Any]:
    ns = "bench-list"
    async with session_for(server, limit=max(s.list_fill_concurrency, 4)) as session:
        await create_namespace(session, ns)
        log(f"list: filling {s.list_objects} ConfigMaps with {s.list_fill_concurrency} clients")
        fill = await closed_loop_creates(
            session, ns, ((i, f"list-{i:06d}") for i in range(s.list_objects)), s.list_fill_concurrency
        )
        if fill.failed:
            raise RuntimeError(f"list fill: {fill.failed} creates failed: {fill.errors}")
        full: list[float] = []
        size = 0
        cpu = server.cpu_seconds()
        for _ in range(s.list_repeats):
            started = time.monotonic()
            async with session.get(cm_path(ns)) as resp:
                body = await resp.read()
            full.append(time.monotonic() - started)
            items = len(orjson.loads(body)["items"])
            if resp.status != 200 or items != s.list_objects:
                raise RuntimeError(f"list returned {resp.status} with {items} items, wanted {s.list_objects}")
            size = len(body)
        cpu = server.cpu_seconds() - cpu
        paged: list[float] = []
        pages = 0
        for _ in range(s.list_repeats):
            started = time.monotonic()
            cont = ""
            seen = pages = 0
            while True:
                params = {"limit": str(s.list_page), **({"continue": cont} if cont else {})}
                async with session.get(cm_path(ns), params=params) as resp:
                    page = orjson.loads(await resp.read())
                pages += 1
                seen += len(page["items"])
                cont = page["metadata"].get("continue", "")
                if not cont or pages > s.list_objects:
                    break
            paged.append(time.monotonic() - started)
            if seen != s.list_objects:
                raise RuntimeError(f"paged list saw {seen} items, wanted {s.list_objects}")
    result = {
        "list_objects": s.list_objects,
        "list_fill_per_s": rate(len(fill.latencies), fill.elapsed),
        "list_ms_median": ms(statistics.median(full)),
        "list_ms_min": ms(min(full)),
        "list_bytes": size,
        "list_server_cpu_ms": ms(cpu / s.list_repeats),
        "list_paged_limit": s.list_page,
        "list_paged_pages": pages,
        "list_paged_ms_median": ms(statistics.median(paged)),
    }
    log(f"list: full {result['list_ms_median']} ms, paged {result['list_paged_ms_median']} ms ({pages} pages)")
    return result


# -- watch fan-out: the watchers live in child processes so reading 100 streams does not stall the writer


@dataclass(frozen=True)
class WatchJob:
    url: str
    tls: TLSFiles
    path: str
    resource_version: str
    watchers: int
    expected: int


def watch_child(job: WatchJob, ready: Any, results: Any, stop: multiprocessing.synchronize.Event) -> None:
    try:
        asyncio.run(_watch_child(job, ready, results, stop))
    except Exception as exc:  # the parent fails the phase (before the writes) or counts missing events (after)
        ready.put(f"watcher process failed: {exc!r}")
        results.put(("error", repr(exc)))


async def _watch_child(job: WatchJob, ready: Any, results: Any, stop: multiprocessing.synchronize.Event) -> None:
    connector = aiohttp.TCPConnector(ssl=job.tls.context(), limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None)
    async with aiohttp.ClientSession(base_url=job.url, connector=connector, timeout=timeout) as session:
        params = {"watch": "true", "resourceVersion": job.resource_version}
        # The server subscribes before it sends the headers, so a returned response is a live watch.
        responses = await asyncio.gather(*(session.get(job.path, params=params) for _ in range(job.watchers)))
        for resp in responses:
            if resp.status != 200:
                raise RuntimeError(f"watch answered {resp.status}: {(await resp.text())[:200]}")
        received: list[dict[str, float]] = [{} for _ in responses]

        async def read(resp: aiohttp.ClientResponse, seen: dict[str, float]) -> None:
            while len(seen) < job.expected:
                line = await resp.content.readline()
                at = time.monotonic()
                if not line:
                    return
                event = orjson.loads(line)
                if event.get("type") == "ADDED":
                    seen[event["object"]["metadata"]["name"]] = at

        tasks = [asyncio.create_task(read(r, seen)) for r, seen in zip(responses, received, strict=True)]
        ready.put(len(responses))
        pending: set[asyncio.Task[None]] = set(tasks)
        while pending and not stop.is_set():
            _, pending = await asyncio.wait(pending, timeout=0.1)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for resp in responses:
            resp.close()
        results.put(("ok", received))


async def phase_watch(server: Server, s: Settings) -> dict[str, Any]:
    assert server.tls is not None
    ns = "bench-watch"
    mp = multiprocessing.get_context("spawn")
    ready: Any = mp.Queue()
    results: Any = mp.Queue()
    stop = mp.Event()
    procs: list[multiprocessing.process.BaseProcess] = []
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    out = Outcome()
    async with session_for(server, limit=8) as session:
        await create_namespace(session, ns)
        await warm_up(session, ns, 8)
        async with session.get(cm_path(ns)) as resp:
            rv = str(orjson.loads(await resp.read())["metadata"]["resourceVersion"])
        per_proc = [len(chunk) for chunk in _split(range(s.watchers), s.watch_procs)]
        log(f"watch: {s.watchers} watchers in {len(per_proc)} client process(es) from resourceVersion {rv}")
        try:
            for count in per_proc:
                job = WatchJob(server.url, server.tls, cm_path(ns), rv, count, s.watch_writes)
                proc: multiprocessing.process.BaseProcess = mp.Process(
                    target=watch_child, args=(job, ready, results, stop), daemon=True
                )
                proc.start()
                procs.append(proc)
            opened = 0
            for _ in procs:
                answer = await asyncio.to_thread(ready.get, True, 60.0)
                if not isinstance(answer, int):
                    raise RuntimeError(str(answer))
                opened += answer
            log(f"watch: {opened} streams open; {s.watch_writes} creates spaced {s.watch_interval * 1000:g} ms")

            async def write(i: int) -> None:
                name = f"watch-{i:06d}"
                sent[name] = time.monotonic()
                ack = await post_create(session, ns, name, i, out, sent[name])
                if ack is not None:
                    acked[name] = ack

            start = time.monotonic() + 0.05
            cpu = server.cpu_seconds()
            tasks = []
            for i in range(s.watch_writes):
                at = start + i * s.watch_interval
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(write(i)))
            await asyncio.gather(*tasks)
            collected = await asyncio.to_thread(_collect, results, len(procs), stop, 15.0)
            cpu = server.cpu_seconds() - cpu
        finally:
            stop.set()
            for proc in procs:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
                    proc.join(timeout=5)
    from_ack: list[float] = []
    from_send: list[float] = []
    received = 0
    for seen in collected:
        for name, at in seen.items():
            if name in sent:
                received += 1
                from_send.append(at - sent[name])
                if name in acked:
                    from_ack.append(at - acked[name])
    result = {
        "watchers": s.watchers,
        "watch_writes": s.watch_writes,
        "watch_write_failed": out.failed,
        "watch_events_expected": s.watchers * len(acked),
        "watch_events_received": received,
        "watch_p50_ms": ms(percentile(from_ack, 50)),
        "watch_p99_ms": ms(percentile(from_ack, 99)),
        "watch_max_ms": ms(max(from_ack, default=math.nan)),
        "watch_from_send_p50_ms": ms(percentile(from_send, 50)),
        "watch_from_send_p99_ms": ms(percentile(from_send, 99)),
        "watch_write_p50_ms": ms(percentile(out.latencies, 50)),
        "watch_server_cpu_us_per_event": round(cpu * 1e6 / received, 1) if received else 0.0,
    }
    log(
        f"watch: {received}/{result['watch_events_expected']} events, from ack p50 {result['watch_p50_ms']} "
        f"p99 {result['watch_p99_ms']} ms; from send p99 {result['watch_from_send_p99_ms']} ms"
    )
    return result


def _split(items: Sequence[int], parts: int) -> list[Sequence[int]]:
    parts = max(1, min(parts, len(items)))
    size = math.ceil(len(items) / parts)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _collect(
    results: Any, expected: int, stop: multiprocessing.synchronize.Event, grace: float
) -> list[dict[str, float]]:
    """Per-watcher receive times from every child; after `grace` seconds tell stragglers to stop."""
    out: list[dict[str, float]] = []
    deadline = time.monotonic() + grace
    got = 0
    while got < expected:
        try:
            kind, payload = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            if stop.is_set():
                log("watch: a watcher process did not report")
                break
            stop.set()
            deadline = time.monotonic() + 30.0
            continue
        got += 1
        if kind == "ok":
            out.extend(payload)
        else:
            log(f"watch: watcher process failed: {payload}")
    return out


async def phase_replica_watch(a: Server, b: Server, s: Settings) -> dict[str, Any]:
    """Writes acknowledged by replica `a`, seen by one watch on replica `b` (both on one etcd)."""
    ns = "bench-replica"
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    seen: dict[str, float] = {}
    out = Outcome()
    watch_timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None)
    async with session_for(a, limit=8) as sa, session_for(b, limit=4) as sb:
        await create_namespace(sa, ns)
        await warm_up(sa, ns, 8)
        await warm_up(sb, ns, 2)
        async with sb.get(cm_path(ns)) as resp:
            rv = str(orjson.loads(await resp.read())["metadata"]["resourceVersion"])
        params = {"watch": "true", "resourceVersion": rv}
        stream = await sb.get(cm_path(ns), params=params, timeout=watch_timeout)
        if stream.status != 200:
            raise RuntimeError(f"watch on replica B answered {stream.status}: {(await stream.text())[:200]}")
        done = asyncio.Event()

        async def read() -> None:
            while len(seen) < s.watch_writes:
                line = await stream.content.readline()
                at = time.monotonic()
                if not line:
                    return
                event = orjson.loads(line)
                if event.get("type") == "ADDED":
                    seen.setdefault(event["object"]["metadata"]["name"], at)
            done.set()

        reader = asyncio.create_task(read())
        log(f"replicas: {s.watch_writes} creates through A spaced {s.watch_interval * 1000:g} ms, one watch on B")

        async def write(i: int) -> None:
            name = f"replica-{i:06d}"
            sent[name] = time.monotonic()
            ack = await post_create(sa, ns, name, i, out, sent[name])
            if ack is not None:
                acked[name] = ack

        try:
            start = time.monotonic() + 0.05
            tasks = []
            for i in range(s.watch_writes):
                delay = start + i * s.watch_interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(write(i)))
            await asyncio.gather(*tasks)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=15.0)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            stream.close()
        # Read-your-writes across replicas: a LIST on B right after A acknowledged a create includes it.
        missing = 0
        list_times: list[float] = []
        for i in range(max(5, s.watch_writes // 10)):
            name = f"ryw-{i:06d}"
            if await post_create(sa, ns, name, i, out, time.monotonic()) is None:
                continue
            started = time.monotonic()
            async with sb.get(cm_path(ns)) as resp:
                names = {item["metadata"]["name"] for item in orjson.loads(await resp.read())["items"]}
            list_times.append(time.monotonic() - started)
            missing += name not in names
    from_ack = [seen[n] - acked[n] for n in acked if n in seen]
    from_send = [seen[n] - sent[n] for n in sent if n in seen]
    result = {
        "replica_watch_writes": s.watch_writes,
        "replica_watch_write_failed": out.failed,
        "replica_watch_events_expected": len(acked),
        "replica_watch_events_received": len(from_ack),
        "replica_watch_p50_ms": ms(percentile(from_ack, 50)),
        "replica_watch_p99_ms": ms(percentile(from_ack, 99)),
        "replica_watch_max_ms": ms(max(from_ack, default=math.nan)),
        "replica_watch_from_send_p99_ms": ms(percentile(from_send, 99)),
        "replica_list_after_write_missing": missing,
        "replica_list_after_write_p50_ms": ms(percentile(list_times, 50)),
    }
    log(
        f"replicas: {len(from_ack)}/{len(acked)} events on B, from A's ack p50 {result['replica_watch_p50_ms']} "
        f"p99 {result['replica_watch_p99_ms']} ms; LIST on B missed {missing} fresh writes"
    )
    return result


async def phase_list_uncached(server: Server, s: Settings) -> dict[str, Any]:
    """Phase 4's LIST from a server without the watch cache: every LIST reads storage."""
    ns = "bench-list"
    full: list[float] = []
    async with session_for(server, limit=2) as session:
        await warm_up(session, ns, 1)
        cpu = server.cpu_seconds()
        for _ in range(s.list_repeats):
            started = time.monotonic()
            async with session.get(cm_path(ns)) as resp:
                body = await resp.read()
            full.append(time.monotonic() - started)
            items = len(orjson.loads(body)["items"])
            if resp.status != 200 or items != s.list_objects:
                raise RuntimeError(f"uncached list returned {resp.status} with {items} items, wanted {s.list_objects}")
        cpu = server.cpu_seconds() - cpu
    result = {
        "list_uncached_ms_median": ms(statistics.median(full)),
        "list_uncached_ms_min": ms(min(full)),
        "list_uncached_server_cpu_ms": ms(cpu / s.list_repeats),
    }
    log(f"list without the watch cache: {result['list_uncached_ms_median']} ms")
    return result


async def settled_memory(server: Server, seconds: float) -> dict[str, float]:
    """Wait `seconds`, then until VmRSS stops moving (bounded), and read it."""
    await asyncio.sleep(seconds)
    last = server.memory()
    for _ in range(10):
        await asyncio.sleep(0.5)
        now = server.memory()
        if abs(now["VmRSS"] - last["VmRSS"]) < 0.5:
            return now
        last = now
    return last


# ---------------------------------------------------------------------------------------------
# main


async def run(server: Server, setup: Setup, s: Settings) -> dict[str, Any]:
    work_dir = setup.work_dir
    result: dict[str, Any] = {
        "quick": s.quick,
        "storage": setup.storage,
        "watch_cache": setup.watch_cache,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_1m_start": os.getloadavg()[0],
    }
    startup = await settled_memory(server, 1.0)
    result["rss_startup_mib"] = startup["VmRSS"]
    result["rss_startup_anon_mib"] = startup["RssAnon"]
    log(f"server pid {server.pid} at {server.url}, startup RSS {startup['VmRSS']} MiB")

    creates, sample = await phase_creates(server, s)
    result.update(creates)
    result["rss_after_creates_mib"] = server.memory()["VmRSS"]
    if setup.storage == "etcd":
        log(f"raw etcd: {s.creates} create transactions from {s.concurrency} clients")
        result.update(
            await asyncio.to_thread(
                phase_raw_etcd, setup.etcd_url, writes=s.creates, concurrency=s.concurrency, sample=sample
            )
        )
        log(f"raw etcd: {result['raw_etcd_writes_per_s']}/s, single writer {result['raw_etcd_single_writer_per_s']}/s")
    else:
        result.update(await asyncio.to_thread(phase_raw_sqlite, work_dir, s, sample))
    raw_rate = result[f"raw_{setup.storage}_writes_per_s"]
    result["create_vs_raw_ratio"] = round(result["create_per_s"] / raw_rate, 3) if raw_rate else 0.0
    single_rate = result[f"raw_{setup.storage}_single_writer_per_s"]
    result["create_vs_raw_single_writer_ratio"] = round(result["create_per_s"] / single_rate, 3) if single_rate else 0.0
    result["target_create_vs_raw_ratio_min"] = TARGET_CREATE_RATIO_MIN
    result.update(await phase_fixed_rate(server, s))
    result["target_fixed_rate_failed_max"] = TARGET_FIXED_RATE_FAILED_MAX
    result["rss_after_fixed_rate_mib"] = server.memory()["VmRSS"]
    result.update(await phase_list(server, s))
    if setup.watch_cache:
        result["list_watch_cache_ms_median"] = result["list_ms_median"]
        result["list_watch_cache_paged_ms_median"] = result["list_paged_ms_median"]
        result["list_watch_cache_server_cpu_ms"] = result["list_server_cpu_ms"]
    result["rss_after_list_mib"] = server.memory()["VmRSS"]
    result["target_list_ms_max"] = TARGET_LIST_MS_MAX
    result.update(await phase_watch(server, s))
    result["target_watch_p99_ms_max"] = TARGET_WATCH_P99_MS_MAX
    if setup.storage == "etcd":
        replica = setup.new_server(work_dir / "server-b")
        # The same CA and service-account key, so A's admin certificate is good for B too.
        shutil.copytree(server.data_dir / "pki", replica.data_dir / "pki")
        log("replicas: starting replica B on the same etcd")
        await asyncio.to_thread(replica.start)
        try:
            result.update(await phase_replica_watch(server, replica, s))
        finally:
            replica.stop()

    idle = await settled_memory(server, s.settle_seconds)
    result["rss_idle_mib"] = idle["VmRSS"]
    result["loadavg_1m_end"] = os.getloadavg()[0]
    result["rss_idle_anon_mib"] = idle["RssAnon"]
    result["rss_peak_mib"] = idle["VmHWM"]
    result["target_idle_rss_mib_max"] = TARGET_IDLE_RSS_MIB_MAX
    log(f"idle RSS {idle['VmRSS']} MiB (peak {idle['VmHWM']} MiB)")
    # The same LIST once more from a server without the watch cache, on the same storage.
    server.stop()
    uncached = setup.new_server(server.data_dir, watch_cache=False)
    await asyncio.to_thread(uncached.start)
    try:
        result.update(await phase_list_uncached(uncached, s))
    finally:
        uncached.stop()
    result["targets_met"] = {
        "create_vs_raw_ratio": result["create_vs_raw_ratio"] >= TARGET_CREATE_RATIO_MIN,
        "fixed_rate_failed": result["fixed_rate_failed"] <= TARGET_FIXED_RATE_FAILED_MAX,
        "list_ms": result["list_ms_median"] < TARGET_LIST_MS_MAX,
        "watch_p99_ms": result["watch_p99_ms"] < TARGET_WATCH_P99_MS_MAX,
        "idle_rss_mib": result["rss_idle_mib"] < TARGET_IDLE_RSS_MIB_MAX,
    }
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--creates", type=int, help="durable creates in phase 1 (default 2000, quick 200)")
    p.add_argument("--concurrency", type=int, help="concurrent clients/threads in phases 1-2 (default 16, quick 8)")
    p.add_argument("--quick", action="store_true", help="small numbers, finishes well under a minute (smoke test)")
    p.add_argument(
        "--storage",
        choices=["sqlite", "etcd"],
        default="sqlite",
        help="the server's storage; etcd starts its own etcd and compares with raw etcd writes",
    )
    p.add_argument(
        "--watch-cache",
        choices=["true", "false"],
        default="true",
        help="the server's --watch-cache (phase 7 always uses false)",
    )
    p.add_argument("--watch-procs", type=int, default=0, help="watcher client processes (default: cpus-1, 1-4)")
    p.add_argument("--dir", type=Path, help="parent of the temporary work directory (default: the system temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (server log, databases)")
    p.add_argument(
        "--server-script",
        type=Path,
        help="run this Python script with the server's flags instead of `-m gardener.apiserver.main`",
    )
    p.add_argument("--timeout", type=float, help="overall limit in seconds (default 900, quick 120)")
    args = p.parse_args(argv)
    for name in ("creates", "concurrency"):
        value = getattr(args, name)
        if value is not None and not 1 <= value <= 1_000_000:
            p.error(f"--{name} must be between 1 and 1000000")
    return args


def _finite(value: Any) -> Any:
    """NaN (a figure with no samples) becomes null, so the line is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    s = Settings.from_args(args)
    timeout = args.timeout or (120.0 if s.quick else 900.0)
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="apiserver-bench-", dir=args.dir))
    setup = Setup(work, storage=args.storage, watch_cache=args.watch_cache == "true", script=args.server_script)
    etcd: EtcdServer | None = None
    try:
        if setup.storage == "etcd":
            etcd = EtcdServer(work / "etcd")
            log(f"starting etcd ({etcd.binary})")
            etcd.start()
            setup.etcd_url = etcd.url
        server = setup.new_server(work / "server")
        log(f"starting the API server in {work}")
        server.start()
        result = asyncio.run(asyncio.wait_for(run(server, setup, s), timeout=timeout))
    except BaseException:
        for started in setup.servers:
            if started.proc is not None:
                log(f"server log tail ({started.data_dir.name}):\n{started.log_tail()}")
        raise
    finally:
        for started in setup.servers:
            started.stop()
        if etcd is not None:
            etcd.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    print(json.dumps(_finite(result), separators=(",", ":"), allow_nan=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
