#!/usr/bin/env python3
"""Shoot creation on a local garden: how fast workerless shoots get ready, and what their control planes cost.

Brings up ``gardener local up`` in a temporary directory (as ``hack/demo.py`` does), applies the example Project,
CloudProfile and SecretBinding, then:

1. Single: S workerless shoots (``solo-0..``) one after another, each waited for alone; ``single_create_median_s``
   is the median time from the create request to ``lastOperation`` Create Succeeded at 100 % (target <= 3 s).
   They are deleted again (and waited for) before the burst, so that the burst starts from an idle seed.
2. Burst: N workerless shoots (``bench-0..N-1``, copies of ``hack/examples/40-shoot-workerless.yaml``) created at
   once by N concurrent clients; per shoot the time from its create request to Create Succeeded 100 %
   (``burst_create_median_s`` / ``burst_create_p90_s``), the time until all of them Succeeded, and until all of them
   are Ready (Succeeded and every health condition True, which the care controller refreshes every ~10 s).
3. Memory: per shoot the sum of VmRSS of its control-plane processes (etcd and API server), found through
   /proc command lines naming its technical ID ``shoot--dev--bench-N`` (also inside pod directories); median,
   maximum and the total over all burst shoots.

ONE JSON line goes to stdout (targets as ``target_*`` keys, never asserted); progress goes to stderr.
``gardener local down`` always runs at the end.

    .venv/bin/python hack/bench/shoots.py [--shoots 10] [--single 3] [--quick] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "hack" / "examples"
sys.path.insert(0, str(REPO))

from gardener.runtime.kube import Kube  # noqa: E402
from hack.bench.common import percentile, rss_kib  # noqa: E402
from tests.helpers import kubectl  # noqa: E402

NAMESPACE = "garden-dev"
PROJECT = "dev"
SHOOTS = f"/apis/core.gardener.cloud/v1beta1/namespaces/{NAMESPACE}/shoots"
HEALTH = ("APIServerAvailable", "ControlPlaneHealthy", "EveryNodeReady", "SystemComponentsHealthy")
TARGET_SINGLE_CREATE_MEDIAN_S = 3.0
KIB = 1024
Obj = dict[str, Any]


def log(message: str) -> None:
    print(f"[shoots-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def gardener(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gardener.local.main", *args], cwd=REPO, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"gardener {' '.join(args)} failed: {result.stderr.strip()}")


def wait(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"shoots bench: {what} not within {timeout:.0f}s")
        time.sleep(interval)


def shoot_manifest(name: str) -> Obj:
    manifest: Obj = yaml.safe_load((EXAMPLES / "40-shoot-workerless.yaml").read_text())
    manifest = copy.deepcopy(manifest)
    manifest["metadata"] = {"name": name, "namespace": NAMESPACE}
    return manifest


def created(shoot: Obj) -> bool:
    status = shoot.get("status") or {}
    last = status.get("lastOperation") or {}
    return bool(
        last.get("type") == "Create"
        and last.get("state") == "Succeeded"
        and last.get("progress") == 100
        and status.get("observedGeneration") == shoot["metadata"].get("generation")
    )


def ready(shoot: Obj) -> bool:
    conditions = {c.get("type"): c.get("status") for c in (shoot.get("status") or {}).get("conditions") or []}
    return created(shoot) and all(conditions.get(t) == "True" for t in HEALTH)


def list_shoots(garden: Kube) -> dict[str, Obj]:
    return {s["metadata"]["name"]: s for s in (garden.get(SHOOTS) or {}).get("items") or []}


def create_and_follow(garden: Kube, names: Sequence[str], *, timeout: float) -> tuple[dict[str, float], float, float]:
    """Create the shoots at once; (seconds to Create Succeeded per shoot, until all Succeeded, until all Ready)."""
    applied: dict[str, float] = {}

    def create(name: str) -> None:
        applied[name] = time.monotonic()
        garden.raw("POST", SHOOTS, shoot_manifest(name))

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
        list(pool.map(create, names))
    succeeded: dict[str, float] = {}
    all_succeeded = all_ready = math.nan
    deadline = start + timeout
    while time.monotonic() < deadline:
        shoots = list_shoots(garden)
        now = time.monotonic()
        for name in names:
            shoot = shoots.get(name)
            if shoot is not None and name not in succeeded and created(shoot):
                succeeded[name] = now - applied[name]
        if len(succeeded) == len(names) and math.isnan(all_succeeded):
            all_succeeded = now - start
        if all(name in shoots and ready(shoots[name]) for name in names):
            all_ready = now - start
            return succeeded, all_succeeded, all_ready
        time.sleep(0.1)
    missing = sorted(set(names) - set(succeeded))
    raise SystemExit(f"shoots bench: not ready within {timeout:.0f}s (not Succeeded: {missing})")


def delete_shoots(garden: Kube, names: Sequence[str], *, timeout: float) -> None:
    for name in names:
        garden.merge_patch(
            f"{SHOOTS}/{name}", {"metadata": {"annotations": {"confirmation.gardener.cloud/deletion": "true"}}}
        )
        garden.delete(f"{SHOOTS}/{name}")
    wait(lambda: not set(names) & set(list_shoots(garden)), timeout=timeout, what="shoots deleted", interval=0.5)


def control_plane_rss(technical_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per technical ID: VmRSS (KiB) of each of its processes, keyed `<program>[pid]`."""
    patterns = {tid: re.compile(re.escape(tid).encode() + rb"(?=[/_\s\0]|$)") for tid in technical_ids}
    found: dict[str, dict[str, int]] = {tid: {} for tid in technical_ids}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        for tid, pattern in patterns.items():
            if pattern.search(cmdline):
                args = cmdline.split(b"\0")
                program = args[0].decode(errors="replace").rsplit("/", 1)[-1]
                if b"gardener.apiserver.main" in args:
                    program = "kube-apiserver"
                found[tid][f"{program}[{entry.name}]"] = rss_kib(int(entry.name))
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shoots", type=int, default=10, help="shoots created at once in the burst")
    p.add_argument("--single", type=int, default=3, help="shoots created one after another before the burst")
    p.add_argument("--quick", action="store_true", help="a smoke run: 2 shoots in the burst, 1 single")
    p.add_argument("--dir", type=Path, default=None, help="parent of the temporary data dir")
    p.add_argument("--timeout", type=float, default=300.0, help="per phase")
    p.add_argument("--keep", action="store_true", help="keep the data dir (logs) after the run")
    args = p.parse_args()
    burst_n, single_n = (2, 1) if args.quick else (args.shoots, args.single)
    tmp = Path(tempfile.mkdtemp(prefix="gardener-shoots-bench-", dir=args.dir))
    data = tmp / "garden"
    kc = data / "garden.kubeconfig"
    garden: Kube | None = None
    try:
        began = time.monotonic()
        gardener("local", "up", "--data-dir", str(data))
        log(f"garden up in {time.monotonic() - began:.1f}s ({data})")
        garden = Kube.from_kubeconfig(kc)

        def seed_ready() -> bool:
            seed = garden.get("/apis/core.gardener.cloud/v1beta1/seeds/local") if garden else None
            conditions = ((seed or {}).get("status") or {}).get("conditions") or []
            return any(c.get("type") == "GardenletReady" and c.get("status") == "True" for c in conditions)

        wait(seed_ready, timeout=120, what="seed local ready", interval=0.2)
        kubectl(
            "apply",
            "-f",
            str(EXAMPLES / "00-project.yaml"),
            "-f",
            str(EXAMPLES / "10-cloudprofile-local.yaml"),
            kubeconfig=kc,
        )
        kubectl("wait", "--for=jsonpath={.status.phase}=Ready", f"project/{PROJECT}", "--timeout=60s", kubeconfig=kc)
        kubectl("apply", "-f", str(EXAMPLES / "30-secretbinding-local.yaml"), kubeconfig=kc)
        log(f"seed ready, project set up after {time.monotonic() - began:.1f}s")

        single: list[float] = []
        solo = [f"solo-{i}" for i in range(single_n)]
        for name in solo:
            times, _, _ = create_and_follow(garden, [name], timeout=args.timeout)
            single.append(times[name])
            log(f"{name}: Create Succeeded after {times[name]:.2f}s")
        delete_shoots(garden, solo, timeout=args.timeout)
        log("single shoots deleted")

        names = [f"bench-{i}" for i in range(burst_n)]
        times, all_succeeded, all_ready = create_and_follow(garden, names, timeout=args.timeout)
        log(f"burst of {burst_n}: all Succeeded after {all_succeeded:.1f}s, all Ready after {all_ready:.1f}s")
        tids = [f"shoot--{PROJECT}--{name}" for name in names]
        rss = control_plane_rss(tids)
        per_shoot = [sum(rss[tid].values()) / KIB for tid in tids]
        processes = [len(rss[tid]) for tid in tids]
        log(f"control-plane RSS (KiB): {rss}")
        burst = list(times.values())
        single_median = statistics.median(single)
        doc: dict[str, Any] = {
            "quick": args.quick,
            "shoots": burst_n,
            "single_shoots": single_n,
            "single_create_seconds": [round(t, 3) for t in single],
            "single_create_median_s": round(single_median, 3),
            "target_single_create_median_s": TARGET_SINGLE_CREATE_MEDIAN_S,
            "target_met": single_median <= TARGET_SINGLE_CREATE_MEDIAN_S,
            "burst_create_median_s": round(statistics.median(burst), 3),
            "burst_create_p90_s": round(percentile(burst, 0.9), 3),
            "burst_create_max_s": round(max(burst), 3),
            "burst_all_succeeded_s": round(all_succeeded, 3),
            "burst_all_ready_s": round(all_ready, 3),
            "control_plane_processes_per_shoot": min(processes),
            "rss_per_shoot_median_mib": round(statistics.median(per_shoot), 1),
            "rss_per_shoot_max_mib": round(max(per_shoot), 1),
            "rss_total_mib": round(sum(per_shoot), 1),
        }
        print(json.dumps(doc), flush=True)
    finally:
        if garden is not None:
            garden.close()
        subprocess.run(
            [sys.executable, "-m", "gardener.local.main", "local", "down", "--data-dir", str(data)],
            cwd=REPO,
            capture_output=True,
            check=False,
        )
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
