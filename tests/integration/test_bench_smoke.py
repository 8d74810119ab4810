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

import pytest

from tests.etcd import etcd_binary

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "hack" / "bench" / "apiserver.py"

#: figures that must be numbers greater than zero, whatever the storage
COMMON_POSITIVE = (
    "creates",
    "concurrency",
    "create_per_s",
    "create_p50_ms",
    "create_p99_ms",
    "create_server_cpu_ms_per_op",
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
    "list_watch_cache_ms_median",
    "list_uncached_ms_median",
)
POSITIVE = (
    *COMMON_POSITIVE,
    "raw_sqlite_writes_per_s",
    "raw_sqlite_p50_ms",
    "raw_sqlite_p99_ms",
    "raw_sqlite_value_bytes",
    "raw_sqlite_single_writer_per_s",
)
ETCD_POSITIVE = (
    *COMMON_POSITIVE,
    "raw_etcd_writes_per_s",
    "raw_etcd_p50_ms",
    "raw_etcd_p99_ms",
    "raw_etcd_value_bytes",
    "raw_etcd_single_writer_per_s",
    "replica_watch_writes",
    "replica_watch_events_received",
    "replica_watch_from_send_p99_ms",
    "replica_list_after_write_p50_ms",
)
#: counts that must be whole numbers, zero or more
COMMON_COUNTS = ("create_failed", "fixed_rate_failed", "watch_write_failed")
COUNTS = (*COMMON_COUNTS, "raw_sqlite_failed", "raw_sqlite_locked")
ETCD_COUNTS = (*COMMON_COUNTS, "raw_etcd_failed", "replica_watch_write_failed")
#: measured from the write's ack, so a watcher may legitimately see the event first (a negative latency)
FINITE = ("watch_p50_ms", "watch_p99_ms")
TARGETS = (
    "target_create_vs_raw_ratio_min",
    "target_fixed_rate_failed_max",
    "target_list_ms_max",
    "target_watch_p99_ms_max",
    "target_idle_rss_mib_max",
)


def _quick_bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path), *args],
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
    # Nothing is left behind in the work directory.
    assert list(tmp_path.iterdir()) == []
    return doc


def _check(doc: dict[str, Any], *, positive: tuple[str, ...], counts: tuple[str, ...]) -> None:
    assert doc["quick"] is True
    for key in positive:
        value = doc.get(key)
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{key}={value!r}"
        assert math.isfinite(value) and value > 0, f"{key}={value!r}"
    for key in counts:
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


def test_quick_bench_prints_one_json_line_with_positive_figures(tmp_path: Path) -> None:
    doc = _quick_bench(tmp_path)
    assert doc["storage"] == "sqlite" and doc["watch_cache"] is True
    _check(doc, positive=POSITIVE, counts=COUNTS)


def test_quick_bench_on_etcd_compares_with_raw_etcd_and_a_second_replica(tmp_path: Path) -> None:
    if etcd_binary() is None:
        pytest.skip("etcd is not installed (make installs Debian's etcd-server; or set ETCD_BIN)")
    doc = _quick_bench(tmp_path, "--storage", "etcd")
    assert doc["storage"] == "etcd"
    _check(doc, positive=ETCD_POSITIVE, counts=ETCD_COUNTS)
    assert "raw_sqlite_writes_per_s" not in doc
    for key in ("replica_watch_p50_ms", "replica_watch_p99_ms"):  # from A's ack: B may see it first
        assert isinstance(doc.get(key), int | float) and math.isfinite(doc[key]), f"{key}={doc.get(key)!r}"
    assert doc["replica_watch_events_received"] == doc["replica_watch_events_expected"] == doc["replica_watch_writes"]
    assert doc["replica_list_after_write_missing"] == 0
