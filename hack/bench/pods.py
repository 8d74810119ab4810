#!/usr/bin/env python3
"""Benchmark the kubelet: P pods (a Python sleep) on three local nodes, create to Running, and what a pod costs
the kubelet in memory; prints ONE JSON line of figures to stdout, progress to stderr.

It starts its own API server, kube-scheduler and three kubelets (provider-local's node agent in kubelet mode,
as a local shoot's machines run it), then:

1. Baseline (same run, same program): P `python3 -c "import time; time.sleep(...)"` processes started with a
   bare `subprocess.Popen` from this process, p50/p99 of the start call and the total wall time; they are
   stopped before the pods are created.
2. Pods: P pods created from C concurrent clients; a list every 100 ms records when each pod first reads
   Running; latency runs from its create's send to that moment. `pods_running_per_s` = P over first send to
   last Running.
3. Memory: the kubelets' RSS (sum of the three) before the pods and once every pod runs;
   `kubelet_rss_per_pod_kib` = the growth over P (the containers' own memory is not counted: it is the same
   with or without a kubelet).

    .venv/bin/python hack/bench/pods.py [--pods 300] [--concurrency 16] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from gardener.runtime.aiokube import AsyncKube  # noqa: E402
from gardener.runtime.kube import PODS  # noqa: E402
from hack.bench.common import percentile, rss_kib  # noqa: E402
from tests.helpers import ServerProcess  # noqa: E402
from tests.kubecomponents import ComponentProcess, kubelet, scheduler  # noqa: E402

SLEEP = "import time; time.sleep(100000)"


def progress(message: str) -> None:
    print(f"[pods bench] {message}", file=sys.stderr, flush=True)


def baseline(count: int) -> dict[str, float]:
    starts: list[float] = []
    procs = []
    begin = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        procs.append(subprocess.Popen([sys.executable, "-c", SLEEP], start_new_session=True))
        starts.append(time.perf_counter() - t0)
    wall = time.perf_counter() - begin
    for proc in procs:
        proc.kill()
    for proc in procs:
        proc.wait()
    return {
        "bare_start_p50_ms": round(percentile(starts, 0.5) * 1000, 2),
        "bare_start_p99_ms": round(percentile(starts, 0.99) * 1000, 2),
        "bare_started_per_s": round(count / wall, 1),
    }


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "pods"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "sleep", "image": "python:3.12", "command": ["python3", "-c", SLEEP]}],
        },
    }


async def run_pods(kubeconfig: Path, count: int, concurrency: int) -> dict[str, float]:
    client = AsyncKube.from_kubeconfig(kubeconfig)
    sent: dict[str, float] = {}
    running: dict[str, float] = {}
    limit = asyncio.Semaphore(concurrency)

    async def create(name: str) -> None:
        async with limit:
            sent[name] = time.perf_counter()
            await client.create(PODS.path("default"), pod(name))

    async def watch() -> None:
        while len(running) < count:
            listed = await client.request("GET", PODS.path("default"), params={"labelSelector": "bench=pods"})
            now = time.perf_counter()
            for item in (listed or {}).get("items") or []:
                name = item["metadata"]["name"]
                if (item.get("status") or {}).get("phase") == "Running" and name not in running:
                    running[name] = now
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    begin = time.perf_counter()
    await asyncio.gather(*(create(f"sleep-{i}") for i in range(count)))
    await asyncio.wait_for(watcher, timeout=600)
    latencies = [running[n] - sent[n] for n in running]
    await client.close()
    return {
        "pods_running_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "pods_running_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "pods_running_per_s": round(count / (max(running.values()) - begin), 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--pods", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--dir", type=Path, help="keep everything here (default: a temporary directory, removed)")
    args = p.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="pods-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"pods": args.pods, "nodes": 3}
    progress("baseline: bare subprocess starts")
    figures |= baseline(args.pods)
    server = ServerProcess(data_dir=root / "apiserver", extra_args=["--service-cluster-ip-range", "127.233.250.0/24"])
    server.data_dir.mkdir(parents=True, exist_ok=True)
    server.start()
    components: list[ComponentProcess] = [scheduler(server.kubeconfig, root / "scheduler.log")]
    kubelets = [
        kubelet(
            server.kubeconfig,
            root / f"node-{i}.log",
            name=f"node-{i}",
            data_dir=root / f"node-{i}",
            block=f"127.233.{i}",
        )
        for i in range(1, 4)
    ]
    components += kubelets
    try:
        time.sleep(5)  # the kubelets register and sync
        before = sum(rss_kib(k.proc.pid) for k in kubelets if k.proc)
        progress(f"creating {args.pods} pods")
        figures |= asyncio.run(run_pods(server.kubeconfig, args.pods, args.concurrency))
        after = sum(rss_kib(k.proc.pid) for k in kubelets if k.proc)
        figures["kubelet_rss_before_kib"] = before
        figures["kubelet_rss_after_kib"] = after
        figures["kubelet_rss_per_pod_kib"] = round((after - before) / args.pods, 1)
        figures["running_p50_vs_bare_start_p50"] = round(
            figures["pods_running_p50_ms"] / max(figures["bare_start_p50_ms"], 0.01), 1
        )
    finally:
        for component in reversed(components):
            component.stop()
        server.stop()
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
