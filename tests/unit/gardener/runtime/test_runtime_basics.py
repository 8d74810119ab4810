"""Durations, the error family, pid files and log lines: the small parts of the runtime every component shares."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from gardener.runtime import logs
from gardener.runtime.durations import parse_duration, parse_duration_or
from gardener.runtime.errors import (
    AlreadyExists,
    Conflict,
    ErrorCode,
    NotFound,
    PermanentError,
    ServerError,
    TemporaryError,
    TooManyRequests,
    Unreachable,
    api_error,
    classify,
    describe,
    retryable,
)
from gardener.runtime.process import PidFile, start_ticks


@pytest.mark.parametrize(
    ("text", "seconds"), [("10m", 600), ("1h30m", 5400), ("90s", 90), ("2.5m", 150), ("250ms", 0.25), (42, 42)]
)
def test_durations_read_like_go(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10", "5d", "1h 30m"])
def test_a_bad_duration_is_refused_or_defaulted(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
    assert parse_duration_or(text, 7) == 7
    assert parse_duration_or(None, 7) == 7


def test_permanent_errors_always_carry_a_code_and_temporary_ones_a_delay() -> None:
    assert PermanentError("bad spec").codes == (ErrorCode.CONFIGURATION_PROBLEM,)
    quota = PermanentError("quota", codes=[ErrorCode.INFRA_QUOTA_EXCEEDED, ErrorCode.INFRA_QUOTA_EXCEEDED])
    assert quota.codes == (ErrorCode.INFRA_QUOTA_EXCEEDED,)
    assert TemporaryError("later").delay == 0
    with pytest.raises(ValueError, match="negative"):
        TemporaryError("never", delay=-1)
    assert not retryable(["ERR_INFRA_UNAUTHORIZED"]) and retryable(["ERR_RETRYABLE_INFRA_DEPENDENCIES"])


def test_foreign_exceptions_classify_as_temporary() -> None:
    err = classify(KeyError("spec"))
    assert isinstance(err, TemporaryError) and err.message == "KeyError: 'spec'"
    assert describe(RuntimeError()) == "RuntimeError"
    throttled = classify(api_error(429, b'{"reason":"TooManyRequests","details":{"retryAfterSeconds":3}}'))
    assert isinstance(throttled, TemporaryError) and throttled.delay == 3
    assert throttled.codes == (ErrorCode.INFRA_RATE_LIMITS_EXCEEDED,)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (404, b'{"kind":"Status","reason":"NotFound","message":"gone"}', NotFound),
        (409, b'{"reason":"AlreadyExists","message":"exists"}', AlreadyExists),
        (409, b'{"reason":"Conflict","message":"changed"}', Conflict),
        (429, b"{}", TooManyRequests),
        (503, b"not json at all", ServerError),
        (0, "connection refused", Unreachable),
    ],
)
def test_api_errors_are_typed_by_meaning(status: int, body: bytes | str, kind: type[Exception]) -> None:
    err = api_error(status, body)
    assert type(err) is kind and err.status == status


def test_a_pid_file_adopts_only_the_process_it_names(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        record = PidFile.of(child.pid, started_at="2025-01-01T00:00:00Z")
        record.write(tmp_path / "pid")
        loaded = PidFile.read(tmp_path / "pid")
        assert loaded == record and loaded.alive()
        # Another start time is another process that happens to have the same pid.
        assert not PidFile(child.pid, record.ticks + 1).alive()
        loaded.stop(5.0)
        assert child.wait(5) is not None and start_ticks(child.pid) is None
    finally:
        child.kill()
        child.wait()
    (tmp_path / "garbage").write_text("{")
    assert PidFile.read(tmp_path / "garbage") is None and PidFile.read(tmp_path / "missing") is None


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("gardenlet.shoot", logging.INFO, __file__, 1, message, None, None)
    for k, v in extra.items():
        setattr(record, k, v)
    return record


def test_log_lines_keep_their_fields_and_the_bound_key() -> None:
    with logs.fields(key="garden-dev/a"):
        line = logs.LogfmtFormatter().format(_record("Reconciling", attempt=2, note="two words"))
        doc = json.loads(logs.JSONFormatter().format(_record("Reconciling", attempt=2)))
    assert 'msg=Reconciling key=garden-dev/a attempt=2 note="two words"' in line
    assert doc["key"] == "garden-dev/a" and doc["attempt"] == 2 and doc["level"] == "info"
    assert "key=" not in logs.LogfmtFormatter().format(_record("Idle"))
    with pytest.raises(ValueError, match="log format"):
        logs.setup_logging(log_format="yaml")
