"""Smoke test for hack/bench/shoots.py: `--quick` brings up a local garden, creates shoots and prints one JSON line.

Only the shape of the output is checked; timings and memory depend on the machine, so no targets are asserted.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "hack" / "bench" / "shoots.py"

pytestmark = [
    pytest.mark.skipif(not Path("/usr/bin/etcd").exists(), reason="etcd is not installed (Debian package etcd-server)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="load balancers listen on port 443 of loopback addresses"),
]

#: figures that must be numbers greater than zero
POSITIVE = (
    "shoots",
    "single_shoots",
    "single_create_median_s",
    "target_single_create_median_s",
    "burst_create_median_s",
    "burst_create_p90_s",
    "burst_create_max_s",
    "burst_all_succeeded_s",
    "burst_all_ready_s",
    "control_plane_processes_per_shoot",
    "rss_per_shoot_median_mib",
    "rss_per_shoot_max_mib",
    "rss_total_mib",
)


def test_quick_bench_prints_one_json_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, f"bench failed ({result.returncode}):\n{result.stderr[-4000:]}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stdout, got {lines!r}"
    doc: dict[str, Any] = json.loads(lines[0])
    assert doc["quick"] is True
    assert isinstance(doc["target_met"], bool)
    for key in POSITIVE:
        value = doc.get(key)
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{key}={value!r}"
        assert math.isfinite(value) and value > 0, f"{key}={value!r}"
    assert doc["shoots"] == 2
    assert len(doc["single_create_seconds"]) == doc["single_shoots"]
    assert doc["burst_create_median_s"] <= doc["burst_create_p90_s"] <= doc["burst_create_max_s"]
    assert doc["rss_total_mib"] >= doc["rss_per_shoot_max_mib"]
    # `local down` ran and the temporary data dir is gone
    assert list(tmp_path.iterdir()) == []
