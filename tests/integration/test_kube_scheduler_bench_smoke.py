"""Smoke test for hack/bench/scheduler_pods.py: a small run goes through every phase and prints one JSON line.

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
BENCH = REPO / "hack" / "bench" / "scheduler_pods.py"

#: figures that must be numbers greater than zero
POSITIVE = (
    "nodes",
    "pods",
    "raw_bind_pods_per_s",
    "raw_bind_p50_ms",
    "burst_pods_per_s",
    "burst_p50_ms",
    "burst_p99_ms",
    "rate_p50_ms",
    "rate_p99_ms",
    "rate_bound_after_create_p99_ms",
    "backlog_pods_per_s",
    "backlog_vs_raw_ratio",
    "burst_vs_raw_ratio",
    "burst_scheduler_cpu_ms_per_pod",
)


def test_small_bench_prints_one_json_line(tmp_path: Path) -> None:
    args = ["--quick", "--nodes", "5", "--pods", "40", "--rate", "20", "--rate-seconds", "1", "--dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=180, cwd=REPO, check=False
    )
    assert result.returncode == 0, f"bench failed ({result.returncode}):\n{result.stderr[-4000:]}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stdout, got {lines!r}"
    doc: dict[str, Any] = json.loads(lines[0])
    assert doc["quick"] is True and doc["nodes"] == 5 and doc["pods"] == 40
    for key in POSITIVE:
        value = doc.get(key)
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{key}={value!r}"
        assert math.isfinite(value) and value > 0, f"{key}={value!r}"
    # every pod of every scheduler phase (warm-up, burst, rate, backlog) bound once, by the scheduler, on all nodes
    assert doc["rate_pods"] == 20 and doc["rate_create_failed"] == 0
    assert doc["scheduled"] == doc["scheduler_attempts_scheduled"] == 1 + 40 + 20 + 40
    assert doc["scheduler_attempts_unschedulable"] == doc["scheduler_attempts_error"] == 0
    assert doc["nodes_used"] == 5
    assert len(doc["raw_bind_runs_pods_per_s"]) == 2
    assert set(doc["targets_met"]) == {"backlog_vs_raw_ratio", "rate_p99_ms"}
    assert list(tmp_path.iterdir()) == []
