"""The kubelet's container logs (`extensions.provider_local.nodeagent.logs`): upstream's query decoding, which
instance a request reads, tail/since/limitBytes/timestamps, the timestamp index, previous logs, and following a
real process until it stops."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from extensions.provider_local.nodeagent import logs
from extensions.provider_local.nodeagent.logs import LogOptions, LogRequestError, LogSource
from gardener.runtime.process import PidFile

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _tail(data: bytes, lines: int | None) -> bytes:
    f = io.BytesIO(data)
    return data[logs.tail_start(f, lines) :]


def test_tail_counts_complete_lines_as_upstream() -> None:
    assert _tail(b"a\nb\nc\n", 2) == b"b\nc\n"
    assert _tail(b"a\nb\nc\n", 0) == b""
    assert _tail(b"a\nb\nc\n", 10) == b"a\nb\nc\n"
    assert _tail(b"a\nb\nc\n", None) == b"a\nb\nc\n"
    # an unterminated last line does not count, and comes along
    assert _tail(b"a\nb\nc", 1) == b"b\nc"
    assert _tail(b"a\nb\nc", 0) == b"c"
    big = b"".join(b"%d\n" % i for i in range(100_000))
    assert _tail(big, 3) == b"99997\n99998\n99999\n"


def test_query_decoding_and_validation_as_the_kubelet() -> None:
    options = logs.parse_options(
        {"follow": "true", "timestamps": "1", "tailLines": "5", "limitBytes": "10", "sinceSeconds": "60"}, now=NOW
    )
    assert options == LogOptions(
        follow=True,
        timestamps=True,
        tail_lines=5,
        limit_bytes=10,
        since=int((NOW - dt.timedelta(seconds=60)).timestamp()) * 10**9,
    )
    since = logs.parse_options({"sinceTime": "2026-01-02T03:00:00Z"}, now=NOW).since
    assert since == int(dt.datetime(2026, 1, 2, 3, tzinfo=dt.UTC).timestamp()) * 10**9
    assert logs.parse_options({"tail": "all", "tailLines": "3"}, now=NOW).tail_lines is None
    assert logs.parse_options({"tail": "7"}, now=NOW).tail_lines == 7
    for bad in ({"follow": "yes"}, {"tailLines": "x"}, {"sinceTime": "yesterday"}):
        with pytest.raises(LogRequestError) as decode:
            logs.parse_options(bad, now=NOW)
        assert (decode.value.status, decode.value.message) == (400, '{"message": "Unable to decode query."}')
    for invalid in (
        {"tailLines": "-1"},
        {"limitBytes": "0"},
        {"sinceSeconds": "0"},
        {"sinceSeconds": "5", "sinceTime": "2026-01-02T03:00:00Z"},
    ):
        with pytest.raises(LogRequestError) as validation:
            logs.parse_options(invalid, now=NOW)
        assert (validation.value.status, validation.value.message) == (422, '{"message": "Invalid request."}')
    with pytest.raises(LogRequestError, match="Please enable PodLogsQuerySplitStreams"):
        logs.parse_options({"stream": "Stdout"}, now=NOW)


def _pod(status: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "status": {"containerStatuses": [{"name": "app", **status}]}}


def test_instance_choice_follows_validate_container_log_status(tmp_path: Path) -> None:
    running: dict[str, Any] = {"state": {"running": {}}}
    crashed = {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1}}}
    restarted = {"state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1}}}
    assert logs.choose(_pod(running), "app", previous=False, directory=tmp_path).path == tmp_path / "log"
    # while it backs off, the instance that just died still owns `log`
    assert logs.choose(_pod(crashed), "app", previous=False, directory=tmp_path).path == tmp_path / "log"
    assert logs.choose(_pod(crashed), "app", previous=True, directory=tmp_path).path == tmp_path / "log"
    assert logs.choose(_pod(restarted), "app", previous=True, directory=tmp_path).path == tmp_path / "log.previous"
    cases = [
        (_pod(running), "app", True, 'previous terminated container "app" in pod "web" not found'),
        (_pod({"state": {"waiting": {"reason": "ContainerCreating"}}}), "app", False, "is waiting to start: Cont"),
        (_pod(running), "sidecar", False, 'container "sidecar" in pod "web" is not available'),
    ]
    for pod, container, previous, message in cases:
        with pytest.raises(LogRequestError) as exc:
            logs.choose(pod, container, previous=previous, directory=tmp_path)
        assert exc.value.status == 400 and message in exc.value.message


async def _read(source: LogSource, options: LogOptions) -> bytes:
    out = bytearray()

    async def write(data: bytes) -> None:
        out.extend(data)

    await logs.stream(source, options, write, poll=0.01)
    return bytes(out)


def _touch(path: Path, ns: int) -> None:
    os.utime(path, ns=(ns, ns))


async def test_index_stamps_lines_with_the_time_they_were_first_seen(tmp_path: Path) -> None:
    log_path = tmp_path / "log"
    t1, t2 = 1_700_000_000_000_000_000, 1_700_000_060_500_000_000
    log_path.write_bytes(b"one\ntwo\n")
    _touch(log_path, t1)
    logs.catch_up(log_path)
    logs.catch_up(log_path)  # nothing new: no entry
    with open(log_path, "ab") as f:
        f.write(b"three\npartial")
    _touch(log_path, t2)
    logs.catch_up(log_path)
    assert logs.index_path(log_path).read_text() == f"8 {t1}\n21 {t2}\n"

    source = LogSource(log_path)
    stamped = await _read(source, LogOptions(timestamps=True))
    assert stamped.decode().splitlines() == [
        "2023-11-14T22:13:20.000000000Z one",
        "2023-11-14T22:13:20.000000000Z two",
        "2023-11-14T22:14:20.500000000Z three",
        "2023-11-14T22:14:20.500000000Z partial",
    ]
    assert await _read(source, LogOptions(since=t1 + 1)) == b"three\npartial"
    assert await _read(source, LogOptions(tail_lines=1)) == b"three\npartial"
    # limitBytes counts what is written, timestamps included, and cuts the last line
    assert await _read(source, LogOptions(limit_bytes=6)) == b"one\ntw"
    assert await _read(source, LogOptions(timestamps=True, limit_bytes=33)) == b"2023-11-14T22:13:20.000000000Z on"
    assert await _read(LogSource(tmp_path / "missing"), LogOptions()) == b""

    # a replaced log starts its index over
    log_path.write_bytes(b"new\n")
    _touch(log_path, t2 + 1)
    logs.catch_up(log_path)
    assert logs.index_path(log_path).read_text() == f"4 {t2 + 1}\n"


def test_previous_log_is_kept_with_its_index(tmp_path: Path) -> None:
    (tmp_path / "log").write_bytes(b"first instance\n")
    logs.keep_previous(tmp_path)
    assert not (tmp_path / "log").exists()
    assert (tmp_path / "log.previous").read_bytes() == b"first instance\n"
    assert (tmp_path / "log.previous.index").read_text().startswith("15 ")
    (tmp_path / "log").write_bytes(b"second\n")
    logs.keep_previous(tmp_path)
    assert (tmp_path / "log.previous").read_bytes() == b"second\n"
    logs.keep_previous(tmp_path)  # nothing ran since: the previous log stays
    assert (tmp_path / "log.previous").read_bytes() == b"second\n"


async def test_follow_streams_until_the_instance_stops(tmp_path: Path) -> None:
    log_path = tmp_path / "log"
    script = "import sys,time\nfor i in range(4):\n    print(i, flush=True); time.sleep(0.1)\nprint('end', end='')\n"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=out)
    try:
        chunks: list[bytes] = []

        async def write(data: bytes) -> None:
            chunks.append(data)

        source = LogSource(log_path, PidFile.of(proc.pid))
        await logs.stream(source, LogOptions(follow=True, timestamps=True), write, poll=0.01)
        proc.wait(timeout=10)
        lines = b"".join(chunks).decode().splitlines()
        assert [line.split(" ", 1)[1] for line in lines] == ["0", "1", "2", "3", "end"]
        stamps = [line.split(" ", 1)[0] for line in lines]
        assert stamps == sorted(stamps) and len(set(stamps)) > 1  # seen at different times, in order
    finally:
        proc.kill()
        proc.wait()
