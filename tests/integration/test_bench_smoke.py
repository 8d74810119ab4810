"""Smoke test for hack/bench/apiserver.py: `--quick` runs every phase and prints one JSON line.

Only the shape of the output is checked (keys present, figures positive); timings depend on the
machine, so none are asserted.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "hack" / "bench" / "apiserver.py"

#: figures that must be numbers greater than zero
POSITIVE = (
    "creates",
    "concurrency",
    "create_per_s",
    "create_p50_ms",
    "create_p99_ms",
    "create_server_cpu_ms_per_op",
    "raw_sqlite_writes_per_s",
    "raw_sqlite_p50_ms",
    "raw_sqlite_p99_ms",
    "raw_sqlite_value_bytes",
    "raw_sqlite_single_writer_per_s",
    "create_vs_raw_ratio",
    "create_vs_raw_single_writer_ratio",
    "fixed_rate_rps",
    "fixed_rate_sent",
    "fixed_rate_p50_ms",
    "fixed_rate_p99_ms",
    "list_objects",
    "list_ms_median",
    "list_bytes",
    "list_paged_limit",
    "list_paged_pages",
    "list_paged_ms_median",
    "watchers",
    "watch_writes",
    "watch_events_expected",
    "watch_events_received",
    "watch_from_send_p50_ms",
    "watch_from_send_p99_ms",
    "rss_startup_mib",
    "rss_idle_mib",
    "rss_peak_mib",
)
#: counts that must be whole numbers, zero or more
COUNTS = ("create_failed", "raw_sqlite_failed", "raw_sqlite_locked", "fixed_rate_failed", "watch_write_failed")
#: measured from the write's ack, so a watcher may legitimately see the event first (a negative latency)
FINITE = ("watch_p50_ms", "watch_p99_ms")
TARGETS = (
    "target_create_vs_raw_ratio_min",
    "target_fixed_rate_failed_max",
    "target_list_ms_max",
    "target_watch_p99_ms_max",
    "target_idle_rss_mib_max",
)


def test_quick_bench_prints_one_json_line_with_positive_figures(tmp_path: Path) -> None:
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
    for key in COUNTS:
        assert isinstance(doc.get(key), int) and doc[key] >= 0, f"{key}={doc.get(key)!r}"
    for key in FINITE:
        assert isinstance(doc.get(key), int | float) and math.isfinite(doc[key]), f"{key}={doc.get(key)!r}"
    for key in TARGETS:
        assert isinstance(doc.get(key), int | float), f"{key}={doc.get(key)!r}"
    assert set(doc["targets_met"]) == {
        "create_vs_raw_ratio",
        "fixed_rate_failed",
        "list_ms",
        "watch_p99_ms",
        "idle_rss_mib",
    }
    assert all(isinstance(v, bool) for v in doc["targets_met"].values())
    # Every object the phases asked for exists and every watcher saw every write.
    assert doc["list_paged_pages"] == math.ceil(doc["list_objects"] / doc["list_paged_limit"])
    assert doc["watch_events_received"] == doc["watch_events_expected"] == doc["watchers"] * doc["watch_writes"]
    # Nothing is left behind in the work directory.
    assert list(tmp_path.iterdir()) == []
