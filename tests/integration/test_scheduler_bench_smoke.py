"""Smoke test for hack/bench/scheduler.py: `--quick` runs every phase and prints one JSON line.

Only the shape of the output and the placement are checked; timings depend on the machine, so none are asserted.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "hack" / "bench" / "scheduler.py"

#: figures that must be numbers greater than zero
POSITIVE = (
    "seeds",
    "shoots",
    "workers",
    "burst_seconds",
    "burst_shoots_per_s",
    "burst_create_per_s",
    "bind_p50_ms",
    "bind_p99_ms",
    "backlog_seconds",
    "backlog_shoots_per_s",
    "raw_patch_per_s",
    "raw_patch_p50_ms",
    "raw_patch_aiohttp_per_s",
    "bind_vs_raw_patch_ratio",
    "burst_vs_raw_patch_ratio",
    "burst_scheduler_cpu_ms_per_shoot",
    "burst_scheduler_bind_latency_mean_ms",
)


def test_quick_bench_prints_one_json_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, f"bench failed ({result.returncode}):\n{result.stderr[-4000:]}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stdout, got {lines!r}"
    doc: dict[str, Any] = json.loads(lines[0])
    assert doc["quick"] is True
    for key in POSITIVE:
        value = doc.get(key)
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{key}={value!r}"
        assert math.isfinite(value) and value > 0, f"{key}={value!r}"
    # every Shoot of both phases bound exactly once, in its region, by the scheduler, spread over all seeds
    assert doc["bound"] == 2 * doc["shoots"]
    assert doc["burst_scheduler_scheduled"] == doc["backlog_scheduler_scheduled"] == doc["shoots"]
    assert doc["wrong_region"] == 0 and doc["seeds_used"] == doc["seeds"]
    assert doc["burst_create_failed"] == doc["backlog_create_failed"] == 0
    assert doc["burst_scheduler_unschedulable"] == doc["backlog_scheduler_unschedulable"] == 0
    assert list(tmp_path.iterdir()) == []
