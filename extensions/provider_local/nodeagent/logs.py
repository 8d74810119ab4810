"""A container's log as the kubelet API serves it (`/containerLogs`): tail, since, limitBytes, follow, previous,
timestamps, with upstream's query decoding and its errors.

A container writes stdout and stderr straight into `containers/<name>/log`, a plain file, so that the process
outlives the kubelet. Upstream keeps the last terminated instance for `kubectl logs --previous`: here the runner
moves `log` to `log.previous` just before it starts the next instance (`keep_previous`).

Plain files carry no time, so the kubelet keeps an index beside each log (`log.index`, moved along to
`log.previous.index`). Each index line `<end> <nanoseconds>` says: the bytes of the log up to offset `end` that no
earlier line covers were first seen by the kubelet while the file's modification time was `<nanoseconds>`.
A line's timestamp is therefore the time the file system gave the newest write the kubelet saw together with the
line: the line's own write, or one at most a look later (`INDEX_INTERVAL` while the container runs; every read of
the log looks too). Lines written while no kubelet watched (an agent restart) all get the time of the newest of
them. A line no look has covered yet gets the file's current modification time.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gardener.runtime.process import PidFile

log = logging.getLogger("provider_local.nodeagent.logs")

Obj = dict[str, Any]
LOG = "log"
PREVIOUS = "log.previous"
INDEX_SUFFIX = ".index"
#: how often the runner indexes a running container's log
INDEX_INTERVAL = 0.2
#: how often a follower looks for new output
FOLLOW_POLL = 0.1
_CHUNK = 64 * 1024
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

Write = Callable[[bytes], Awaitable[None]]


class LogRequestError(Exception):
    """A request the kubelet answers with an error: the HTTP status and upstream's text body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---- the timestamp index --------------------------------------------------------------------------------------


def index_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.name + INDEX_SUFFIX)


def _parse(line: str) -> tuple[int, int] | None:
    end, _, stamp = line.partition(" ")
    try:
        return int(end), int(stamp)
    except ValueError:
        return None


def _read_index(path: Path) -> list[tuple[int, int]]:
    """(end, stamp) entries with growing ends; entries a racing writer repeated are skipped."""
    entries: list[tuple[int, int]] = []
    try:
        text = path.read_text()
    except OSError:
        return entries
    for line in text.splitlines():
        entry = _parse(line)
        if entry is not None and (not entries or entry[0] > entries[-1][0]):
            entries.append((entry[0], max(entry[1], entries[-1][1]) if entries else entry[1]))
    return entries


def _last_entry(path: Path) -> tuple[int, int]:
    """The index's last entry, reading only the end of the file (the runner looks several times a second)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(size - 256, 0))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return 0, 0
    for line in reversed(lines):
        entry = _parse(line)
        if entry is not None:
            return entry
    return 0, 0


def catch_up(log_path: Path) -> None:
    """Index what the log gained since the last look (a cheap stat when nothing changed)."""
    try:
        st = os.stat(log_path)
    except OSError:
        return
    path = index_path(log_path)
    covered, last_stamp = _last_entry(path)
    if st.st_size == covered:
        return
    line = f"{st.st_size} {max(st.st_mtime_ns, last_stamp)}\n"
    try:
        if st.st_size < covered:
            # The log was replaced under the same name: its index starts over.
            path.write_text(line)
        else:
            with open(path, "a") as f:
                f.write(line)
    except OSError as exc:
        log.warning("Cannot index container log", extra={"path": str(log_path), "error": str(exc)})


async def keep_index(log_path: Path, *, interval: float = INDEX_INTERVAL) -> None:
    """Index a running container's log until cancelled, with one last look at the end."""
    try:
        while True:
            catch_up(log_path)
            await asyncio.sleep(interval)
    finally:
        catch_up(log_path)


def keep_previous(directory: Path) -> None:
    """Before a container starts again: the current instance's log (and index) becomes the previous one."""
    current = directory / LOG
    if not current.exists():
        return
    catch_up(current)
    previous = directory / PREVIOUS
    index_path(previous).unlink(missing_ok=True)
    os.replace(current, previous)
    if index_path(current).exists():
        os.replace(index_path(current), index_path(previous))


class _Stamps:
    """Timestamps of byte offsets in one log, from its index; looked at again for offsets it does not cover."""

    def __init__(self, log_path: Path, f: BinaryIO, *, look: bool) -> None:
        self._log_path = log_path
        self._file = f
        self._look = look
        self._ends: list[int] = []
        self._stamps: list[int] = []
        #: the log's size at the last look: offsets below it that the index lacks will not appear in it
        self._seen = -1
        self._load()

    def _load(self) -> None:
        if self._look:
            catch_up(self._log_path)
        self._seen = os.fstat(self._file.fileno()).st_size
        entries = _read_index(index_path(self._log_path))
        self._ends = [end for end, _ in entries]
        self._stamps = [stamp for _, stamp in entries]

    def at(self, offset: int) -> int:
        i = bisect.bisect_right(self._ends, offset)
        if i == len(self._ends) and offset >= self._seen:
            self._load()
            i = bisect.bisect_right(self._ends, offset)
        if i == len(self._ends):
            return os.fstat(self._file.fileno()).st_mtime_ns
        return self._stamps[i]


# ---- options ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogOptions:
    """`PodLogOptions` as the kubelet uses them; `since` in nanoseconds since the epoch."""

    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since: int | None = None


def _bool(value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(value)


def _rfc3339(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None or "T" not in value.upper():
        raise ValueError(value)
    return parsed


def parse_options(query: Mapping[str, str], *, now: dt.datetime) -> LogOptions:
    """Decode and validate the query as the kubelet does (v1 PodLogOptions); LogRequestError as it answers."""
    params = dict(query)
    tail = params.get("tail")
    if tail:  # the old name of tailLines; "all" means no limit
        params.pop("tailLines", None)
        if tail != "all":
            params["tailLines"] = tail
    try:
        flags = {name: _bool(params[name]) for name in ("follow", "previous", "timestamps") if name in params}
        ints = {name: int(params[name]) for name in ("tailLines", "limitBytes", "sinceSeconds") if name in params}
        since_time = _rfc3339(params["sinceTime"]) if "sinceTime" in params else None
    except ValueError:
        raise LogRequestError(400, '{"message": "Unable to decode query."}') from None
    if (
        ints.get("tailLines", 0) < 0
        or ints.get("limitBytes", 1) < 1
        or ints.get("sinceSeconds", 1) < 1
        or ("sinceSeconds" in ints and since_time is not None)
    ):
        raise LogRequestError(422, '{"message": "Invalid request."}')
    stream = params.get("stream")
    if stream is not None and stream != "All":
        raise LogRequestError(
            400,
            f'unable to return the given log stream: "{stream}". Please enable PodLogsQuerySplitStreams feature gate'
            " in kubelet",
        )
    since: dt.datetime | None = None
    if "sinceSeconds" in ints:
        since = now - dt.timedelta(seconds=ints["sinceSeconds"])
    if since_time is not None and (since is None or since_time > since):
        since = since_time
    return LogOptions(
        follow=flags.get("follow", False),
        previous=flags.get("previous", False),
        timestamps=flags.get("timestamps", False),
        tail_lines=ints.get("tailLines"),
        limit_bytes=ints.get("limitBytes"),
        since=None if since is None else int(since.timestamp()) * 1_000_000_000 + since.microsecond * 1000,
    )


# ---- which instance ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogSource:
    """The log file of one container instance; `instance` is the running process to follow, if any."""

    path: Path
    instance: PidFile | None = None

    @property
    def current(self) -> bool:
        return self.path.name == LOG


def _status_of(pod: Obj, container: str) -> Obj | None:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for item in status.get(key) or []:
            if item.get("name") == container:
                return dict(item)
    return None


def choose(pod: Obj, container: str, *, previous: bool, directory: Path) -> LogSource:
    """The instance upstream's `validateContainerLogStatus` picks, as one of our two files."""
    name = str((pod.get("metadata") or {}).get("name") or "")
    status = _status_of(pod, container)
    if status is None:
        raise LogRequestError(400, f'container "{container}" in pod "{name}" is not available')
    state, last = status.get("state") or {}, (status.get("lastState") or {}).get("terminated")
    if previous:
        if last is None:
            raise LogRequestError(400, f'previous terminated container "{container}" in pod "{name}" not found')
        # While it backs off, the last terminated instance still owns `log`: the next start moves it.
        return LogSource(directory / (LOG if "waiting" in state else PREVIOUS))
    if "running" in state:
        return LogSource(directory / LOG, PidFile.read(directory / "pid"))
    if "terminated" in state or last is not None:
        return LogSource(directory / LOG)
    reason = str((state.get("waiting") or {}).get("reason") or "")
    if reason == "ErrImagePull":
        why = "image can't be pulled"
    elif reason == "ImagePullBackOff":
        why = "trying and failing to pull image"
    elif reason:
        why = reason
    else:
        raise LogRequestError(400, f'container "{container}" in pod "{name}" is waiting to start - no logs yet')
    raise LogRequestError(400, f'container "{container}" in pod "{name}" is waiting to start: {why}')


# ---- reading ----------------------------------------------------------------------------------------------------


def tail_start(f: BinaryIO, lines: int | None) -> int:
    """Where the last `lines` lines begin (upstream's FindTailLineStartIndex: an unterminated last line does not
    count, and comes along)."""
    if lines is None:
        return 0
    pos = f.seek(0, os.SEEK_END)
    seen = 0
    while pos > 0:
        size = min(_CHUNK, pos)
        pos -= size
        f.seek(pos)
        data = f.read(size)
        end = len(data)
        while (i := data.rfind(b"\n", 0, end)) >= 0:
            seen += 1
            if seen == lines + 1:
                return pos + i + 1
            end = i
    return 0


def format_stamp(ns: int) -> str:
    """RFC 3339 with nine fraction digits, in UTC (Go's RFC3339NanoFixed, as upstream prefixes lines)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


class _Output:
    """since, timestamps and limitBytes, applied line by line as upstream's logWriter does."""

    def __init__(self, options: LogOptions, write: Write) -> None:
        self._options = options
        self._write = write
        self._remaining = options.limit_bytes

    @property
    def needs_stamps(self) -> bool:
        return self._options.timestamps or self._options.since is not None

    async def line(self, data: bytes, stamp: int) -> bool:
        """Write one line; True once limitBytes is used up."""
        if self._options.since is not None and stamp < self._options.since:
            return False
        if self._options.timestamps:
            data = format_stamp(stamp).encode() + b" " + data
        if self._remaining is not None:
            data = data[: self._remaining]
            self._remaining -= len(data)
        await self._write(data)
        return self._remaining is not None and self._remaining <= 0


async def stream(
    source: LogSource,
    options: LogOptions,
    write: Write,
    *,
    alive: Callable[[], bool] = lambda: True,
    poll: float = FOLLOW_POLL,
) -> None:
    """Write the log as asked; with `follow`, until the instance stops or `alive()` turns false."""
    try:
        f = open(source.path, "rb")  # noqa: SIM115 - closed below, across awaits
    except FileNotFoundError:
        return
    with f:
        out = _Output(options, write)
        offset = tail_start(f, options.tail_lines)
        f.seek(offset)
        stamps = _Stamps(source.path, f, look=source.current) if out.needs_stamps else None
        pending = b""
        following = options.follow and source.instance is not None
        while True:
            chunk = f.read(_CHUNK)
            if chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for text in lines:
                    line = text + b"\n"
                    if await out.line(line, stamps.at(offset) if stamps else 0):
                        return
                    offset += len(line)
                continue
            if not following:
                if pending:
                    await out.line(pending, stamps.at(offset) if stamps else 0)
                return
            if source.instance is None or not source.instance.alive() or not alive():
                # One more pass: what the instance wrote just before it stopped.
                following = False
                continue
            await asyncio.sleep(poll)


async def follow_output(
    path: Path, instance: PidFile, write: Write, *, alive: Callable[[], bool], poll: float = FOLLOW_POLL
) -> None:
    """What the instance writes from now on, as it comes (attach), until it stops or `alive()` turns false."""
    with contextlib.ExitStack() as stack:
        try:
            f = stack.enter_context(open(path, "rb"))
        except FileNotFoundError:
            return
        f.seek(0, os.SEEK_END)
        following = True
        while True:
            chunk = f.read(_CHUNK)
            if chunk:
                await write(chunk)
                continue
            if not following:
                return
            if not (instance.alive() and alive()):
                following = False  # one more pass for the last words
                continue
            await asyncio.sleep(poll)


def has_container(pod: Obj, container: str) -> bool:
    """Whether the pod's spec names the container (upstream answers 404 before anything else otherwise)."""
    spec = pod.get("spec") or {}
    names: Sequence[Obj] = [
        *(spec.get("containers") or []),
        *(spec.get("initContainers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]
    return any(c.get("name") == container for c in names)
