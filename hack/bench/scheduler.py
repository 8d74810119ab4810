#!/usr/bin/env python3
"""Benchmark gardener-scheduler against the embedded API server and print ONE JSON line of figures to stdout.

It starts its own API server with the garden API, grants the scheduler's user its role, registers S Seeds (ready,
allocatable shoots 1000, spread over 4 regions) and a CloudProfile, then:

1. Burst: with the scheduler running and synced, N Shoots are created at once (C concurrent clients). A watch in
   this process sees each Shoot appear and then get its `spec.seedName`: bind latency is the time between the two
   (both seen by the same watch), and `burst_shoots_per_s` is N over the time from the first create to the last
   binding. Creates and bindings share the server here, so the burst rate is bounded by the create rate.
2. Backlog: the scheduler is stopped, N more Shoots are created, and a new scheduler process is started:
   `backlog_seconds` runs from its start to the last binding (start-up, initial list and all bindings),
   `backlog_shoots_per_s` counts the bindings between the first and the last one only.
3. Raw PATCH: the same number of merge patches, on the same Shoots, at the scheduler's concurrency (W worker threads
   with the same client, the official `kubernetes` client), with no scheduler running: what binding could cost at
   best. ``bind_vs_raw_patch_ratio`` = backlog rate / raw rate. The same patches from aiohttp are reported too.

The placement is checked as well: every Shoot bound, to a Seed in its region, spread evenly (shoots per Seed).
Progress goes to stderr. Nothing is asserted; the smoke test only checks the shape of the output.

    .venv/bin/python hack/bench/scheduler.py [--shoots 5000] [--seeds 100] [--workers 32] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import json
import math
import os
import shutil
import ssl
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.helpers import ServerProcess  # noqa: E402
from tests.scheduling import (  # noqa: E402
    CORE,
    MERGE,
    NAMESPACE,
    SchedulerProcess,
    create_seed,
    kube_for,
    prepare_garden,
    scheduler_kubeconfig,
    shoot,
)

REGIONS = ("region-0", "region-1", "region-2", "region-3")
ALLOCATABLE = 1000
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Settings:
    seeds: int
    shoots: int
    workers: int
    create_concurrency: int
    bind_timeout: float
    quick: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        quick = bool(args.quick)
        return cls(
            seeds=args.seeds or (10 if quick else 100),
            shoots=args.shoots or (300 if quick else 5000),
            workers=args.workers or (8 if quick else 32),
            create_concurrency=args.create_concurrency or (16 if quick else 64),
            bind_timeout=60.0 if quick else 600.0,
            quick=quick,
        )


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(pct / 100.0 * len(ordered)))) - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2) if not math.isnan(seconds) else seconds


def per_s(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# ---- an aiohttp client with the admin's certificate, and a watch of Shoots ----


def ssl_context(kubeconfig: Path, work: Path) -> tuple[str, ssl.SSLContext]:
    cfg = yaml.safe_load(kubeconfig.read_text())
    cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
    files = {}
    for name, data in (
        ("ca.crt", cluster["certificate-authority-data"]),
        ("client.crt", user["client-certificate-data"]),
        ("client.key", user["client-key-data"]),
    ):
        files[name] = work / name
        fd = os.open(files[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64decode(data))
    ctx = ssl.create_default_context(cafile=str(files["ca.crt"]))
    ctx.load_cert_chain(str(files["client.crt"]), str(files["client.key"]))
    return str(cluster["server"]), ctx


@dataclass
class Watcher:
    """When each Shoot was first seen, and when it was first seen bound (and where)."""

    added: dict[str, float] = field(default_factory=dict)
    bound: dict[str, float] = field(default_factory=dict)
    seed: dict[str, str] = field(default_factory=dict)
    region: dict[str, str] = field(default_factory=dict)

    async def run(self, session: aiohttp.ClientSession, rv: str) -> None:
        params = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true", "timeoutSeconds": "1800"}
        async with session.get(f"{CORE}/namespaces/{NAMESPACE}/shoots", params=params) as resp:
            resp.raise_for_status()
            async for line in resp.content:
                now = time.monotonic()
                if not line.strip():
                    continue
                event = orjson.loads(line)
                obj = event["object"]
                if event["type"] not in ("ADDED", "MODIFIED"):
                    continue
                name = obj["metadata"]["name"]
                self.added.setdefault(name, now)
                self.region.setdefault(name, obj["spec"]["region"])
                seed = obj["spec"].get("seedName")
                if seed and name not in self.bound:
                    self.bound[name] = now
                    self.seed[name] = seed

    async def wait_bound(self, names: Sequence[str], *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not all(n in self.bound for n in names):
            if time.monotonic() > deadline:
                missing = sum(n not in self.bound for n in names)
                raise RuntimeError(f"{missing} of {len(names)} shoots not bound within {timeout:.0f}s")
            await asyncio.sleep(0.02)


async def create_shoots(
    session: aiohttp.ClientSession, names: Sequence[str], *, concurrency: int
) -> tuple[float, float, int]:
    """POST all, `concurrency` at a time; (first send, last ack, failures)."""
    work = iter(enumerate(names))
    failed = 0

    async def client() -> None:
        nonlocal failed
        for i, name in work:
            body = orjson.dumps(shoot(name, region=REGIONS[i % len(REGIONS)]))
            async with session.post(f"{CORE}/namespaces/{NAMESPACE}/shoots", data=body, headers=JSON) as resp:
                await resp.read()
                if resp.status != 201:
                    failed += 1
                    if failed == 1:
                        log(f"create failed: {resp.status} {(await resp.text())[:300]}")

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return started, time.monotonic(), failed


async def list_rv(session: aiohttp.ClientSession) -> str:
    async with session.get(f"{CORE}/namespaces/{NAMESPACE}/shoots", params={"limit": "1"}) as resp:
        return str((await resp.json())["metadata"]["resourceVersion"])


# ---- phases ----


def raw_patches_kubernetes(kubeconfig: Path, names: Sequence[str], *, workers: int) -> tuple[float, list[float]]:
    """The scheduler's binding call (a merge patch through the official client) without the scheduler."""
    kube = kube_for(kubeconfig, pool=workers + 2)

    def one(name: str) -> float:
        started = time.monotonic()
        body = {"metadata": {"annotations": {"bench.gardener.cloud/raw": "kubernetes"}}}
        kube.raw("PATCH", f"{CORE}/namespaces/{NAMESPACE}/shoots/{name}", body, content_type=MERGE)
        return time.monotonic() - started

    kube.raw("GET", f"{CORE}/namespaces/{NAMESPACE}/shoots?limit=1")  # connect before the clock runs
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        started = time.monotonic()
        latencies = list(pool.map(one, names))
        return time.monotonic() - started, latencies


async def raw_patches_aiohttp(
    session: aiohttp.ClientSession, names: Sequence[str], *, concurrency: int
) -> tuple[float, list[float]]:
    work = iter(names)
    latencies: list[float] = []
    body = orjson.dumps({"metadata": {"annotations": {"bench.gardener.cloud/raw": "aiohttp"}}})
    headers = {"Content-Type": MERGE, "Accept": "application/json"}

    async def client() -> None:
        for name in work:
            t = time.monotonic()
            async with session.patch(f"{CORE}/namespaces/{NAMESPACE}/shoots/{name}", data=body, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"raw patch failed: {r.status} {(await r.text())[:300]}")
            latencies.append(time.monotonic() - t)

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.monotonic() - started, latencies


def scheduler_figures(scheduler: SchedulerProcess, prefix: str) -> dict[str, Any]:
    m = scheduler.metrics()
    count = m.get("gardener_scheduler_bind_latency_seconds_count", 0.0)
    total = m.get("gardener_scheduler_bind_latency_seconds_sum", 0.0)
    return {
        f"{prefix}_scheduler_scheduled": int(
            m.get('gardener_scheduler_schedule_attempts_total{result="scheduled"}', 0)
        ),
        f"{prefix}_scheduler_errors": int(m.get('gardener_scheduler_schedule_attempts_total{result="error"}', 0)),
        f"{prefix}_scheduler_unschedulable": int(
            m.get('gardener_scheduler_schedule_attempts_total{result="unschedulable"}', 0)
        ),
        f"{prefix}_scheduler_bind_latency_mean_ms": ms(total / count) if count else math.nan,
    }


async def run(s: Settings, work: Path) -> dict[str, Any]:
    server = ServerProcess(data_dir=work / "apiserver").start(timeout=60)
    schedulers: list[SchedulerProcess] = []
    try:
        kube = prepare_garden(server, regions=REGIONS)
        log(f"registering {s.seeds} seeds")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: create_seed(
                        kube, f"seed-{i:03d}", region=REGIONS[i % len(REGIONS)], allocatable=ALLOCATABLE
                    ),
                    range(s.seeds),
                )
            )
        sched_kubeconfig = scheduler_kubeconfig(server)

        def scheduler() -> SchedulerProcess:
            proc = SchedulerProcess(
                kubeconfig=sched_kubeconfig, log_path=work / "scheduler.log", args=["--workers", str(s.workers)]
            )
            schedulers.append(proc)
            return proc

        url, ctx = ssl_context(server.kubeconfig, work)
        connector = aiohttp.TCPConnector(ssl=ctx, limit=s.create_concurrency + 2)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        async with aiohttp.ClientSession(base_url=url, connector=connector, timeout=timeout) as session:
            watcher = Watcher()
            watch = asyncio.create_task(watcher.run(session, await list_rv(session)))
            out: dict[str, Any] = {"quick": s.quick, "seeds": s.seeds, "shoots": s.shoots, "workers": s.workers}
            out["create_concurrency"] = s.create_concurrency

            # 1. burst
            first = scheduler().start()
            log(f"burst: {s.shoots} shoots at once, {s.create_concurrency} concurrent creates")
            burst = [f"b-{i:05d}" for i in range(s.shoots)]
            cpu = (cpu_seconds(first.pid), cpu_seconds(server.proc.pid))  # type: ignore[union-attr]
            started, acked, failed = await create_shoots(session, burst, concurrency=s.create_concurrency)
            await watcher.wait_bound(burst, timeout=s.bind_timeout)
            last = max(watcher.bound[n] for n in burst)
            latencies = [watcher.bound[n] - watcher.added[n] for n in burst]
            out |= {
                "burst_seconds": round(last - started, 3),
                "burst_shoots_per_s": per_s(s.shoots, last - started),
                "burst_create_per_s": per_s(s.shoots, acked - started),
                "burst_create_failed": failed,
                "burst_last_bind_after_last_create_ms": ms(last - acked),
                "bind_p50_ms": ms(percentile(latencies, 50)),
                "bind_p99_ms": ms(percentile(latencies, 99)),
                "bind_max_ms": ms(max(latencies)),
                "burst_scheduler_cpu_ms_per_shoot": round((cpu_seconds(first.pid) - cpu[0]) * 1000 / s.shoots, 3),
                "burst_server_cpu_ms_per_shoot": round(
                    (cpu_seconds(server.proc.pid) - cpu[1]) * 1000 / s.shoots,  # type: ignore[union-attr]
                    3,
                ),
            }
            out |= scheduler_figures(first, "burst")
            log(f"burst: {out['burst_shoots_per_s']} shoots/s, bind p50 {out['bind_p50_ms']} p99 {out['bind_p99_ms']}")
            first.stop()

            # 2. backlog
            backlog = [f"q-{i:05d}" for i in range(s.shoots)]
            _, _, failed = await create_shoots(session, backlog, concurrency=s.create_concurrency)
            log(f"backlog: {s.shoots} unbound shoots, starting a scheduler")
            launched = time.monotonic()
            second = scheduler().start()
            await watcher.wait_bound(backlog, timeout=s.bind_timeout)
            times = sorted(watcher.bound[n] for n in backlog)
            window = times[-1] - times[0]
            out |= {
                "backlog_create_failed": failed,
                "backlog_seconds": round(times[-1] - launched, 3),
                "backlog_first_bind_after_start_ms": ms(times[0] - launched),
                "backlog_shoots_per_s": per_s(s.shoots - 1, window),
            }
            out |= scheduler_figures(second, "backlog")
            log(f"backlog: {out['backlog_shoots_per_s']} shoots/s, {out['backlog_seconds']} s from process start")
            second.stop()
            watch.cancel()

            # 3. raw PATCH, same count, same concurrency, no scheduler
            log(f"raw: {s.shoots} PATCHes with {s.workers} threads (kubernetes client), then aiohttp")
            elapsed, raw_lat = await asyncio.to_thread(
                raw_patches_kubernetes, server.kubeconfig, backlog, workers=s.workers
            )
            aio_elapsed, aio_lat = await raw_patches_aiohttp(session, backlog, concurrency=s.workers)
        out |= {
            "raw_patch_per_s": per_s(s.shoots, elapsed),
            "raw_patch_p50_ms": ms(percentile(raw_lat, 50)),
            "raw_patch_p99_ms": ms(percentile(raw_lat, 99)),
            "raw_patch_aiohttp_per_s": per_s(s.shoots, aio_elapsed),
            "raw_patch_aiohttp_p50_ms": ms(percentile(aio_lat, 50)),
        }
        out["bind_vs_raw_patch_ratio"] = round(out["backlog_shoots_per_s"] / out["raw_patch_per_s"], 3)
        out["burst_vs_raw_patch_ratio"] = round(out["burst_shoots_per_s"] / out["raw_patch_per_s"], 3)
        names = burst + backlog
        per_seed = Counter(watcher.seed[n] for n in names)
        out |= {
            "bound": sum(n in watcher.bound for n in names),
            "wrong_region": sum(
                watcher.region[n] != REGIONS[int(watcher.seed[n].rsplit("-", 1)[1]) % len(REGIONS)] for n in names
            ),
            "seeds_used": len(per_seed),
            "shoots_per_seed_min": min(per_seed.values()),
            "shoots_per_seed_max": max(per_seed.values()),
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
        }
        return out
    finally:
        for proc in schedulers:
            proc.stop()
        server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shoots", type=int, default=0)
    p.add_argument("--seeds", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="scheduler workers, and the raw PATCH concurrency")
    p.add_argument("--create-concurrency", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a small run for the smoke test")
    p.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    args = p.parse_args()
    settings = Settings.from_args(args)
    work = Path(tempfile.mkdtemp(prefix="bench-scheduler-", dir=args.dir))
    try:
        result = asyncio.run(run(settings, work))
    except BaseException:
        for log_file in (work / "scheduler.log", work / "apiserver" / "apiserver.log"):
            if log_file.exists():
                log(f"--- {log_file.name}:\n" + "\n".join(log_file.read_text(errors="replace").splitlines()[-20:]))
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
