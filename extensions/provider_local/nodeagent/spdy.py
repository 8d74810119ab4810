"""SPDY/3.1 as Kubernetes streaming speaks it: the frame codec and a small asyncio stream multiplexer.

`kubectl port-forward` multiplexes its connections over one SPDY/3.1 session, tunneled in WebSocket binary
messages or over a raw upgraded HTTP connection; the Go side is moby/spdystream. This module holds what both
ends of such a session need, apart from any HTTP: frames as values, their wire form (header blocks compressed
with one zlib context per direction, primed with the spec's dictionary) and a `Session` that turns a byte
channel into streams. It follows spdystream where that differs from the spec: no flow control (spdystream
never sends WINDOW_UPDATE, so honouring send windows would stall after 64 KiB), a peer's PING is echoed, a
rejected stream is reset with CANCEL. Only `portforward` (and tests) import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("provider_local.nodeagent.spdy")

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_CLEAR_SETTINGS = 0x01
MAX_LENGTH = 0xFFFFFF  # 24-bit length field of every frame
MAX_STREAM_ID = 0x7FFFFFFF
MAX_HEADER_BLOCK = 1 << 20  # decompressed; a bigger block is a protocol error, not a memory bill
DATA_CHUNK = 32 * 1024  # payload per DATA frame we send (io.Copy's buffer on the Go side)
HIGH_WATER = 256 * 1024  # buffered input per stream before the session stops reading
REPLY_TIMEOUT = 30.0  # client-go's createStreamResponseTimeout

# SPDY/3 section 2.6.10.1: length-prefixed words, then a tail of common value fragments.
# fmt: off
_DICTIONARY_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
    "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
    "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie",
    "keep-alive", "origin",
)
# fmt: on
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _DICTIONARY_WORDS) + _DICTIONARY_TAIL.encode()


class FrameType(enum.IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(enum.IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    INVALID_CREDENTIALS = 10
    FRAME_TOO_LARGE = 11


class GoAwayStatus(enum.IntEnum):
    OK = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2


#: name/value pairs, names lowercase; a name with several values appears once per value
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers = ()
    associated_to: int = 0
    priority: int = 0
    slot: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = ()
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Setting:
    id: int
    value: int
    flags: int = 0


@dataclass(frozen=True)
class Settings:
    entries: tuple[Setting, ...] = ()
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = GoAwayStatus.OK


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers = ()
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class UnknownControl:
    """A control frame of a type SPDY/3.1 does not define (or CREDENTIAL): the spec says to ignore it."""

    type: int
    flags: int
    payload: bytes


Frame = (
    DataFrame
    | SynStream
    | SynReply
    | RstStream
    | Settings
    | Ping
    | GoAway
    | HeadersFrame
    | WindowUpdate
    | UnknownControl
)


class SpdyError(Exception):
    """The peer broke the protocol; the session cannot go on."""


class StreamClosedError(ConnectionError):
    """Writing to a stream that was reset or finished, or whose session ended."""


class StreamRejected(Exception):
    """Raised by a new-stream handler to refuse a stream (it is reset, as spdystream does)."""


def header(headers: Headers, name: str) -> str:
    """The first value of `name` (case-insensitive), or "" (Go's `http.Header.Get`)."""
    wanted = name.lower()
    return next((value for key, value in headers if key == wanted), "")


def _header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    out = [struct.pack(">I", len(grouped))]
    for name, values in grouped.items():
        raw_name, raw_value = name.encode("latin-1"), "\x00".join(values).encode("latin-1")
        out += [struct.pack(">I", len(raw_name)), raw_name, struct.pack(">I", len(raw_value)), raw_value]
    return b"".join(out)


def _parse_header_block(block: bytes) -> Headers:
    def take(pos: int) -> tuple[bytes, int]:
        if pos + 4 > len(block):
            raise SpdyError("truncated header block")
        (size,) = struct.unpack_from(">I", block, pos)
        if pos + 4 + size > len(block):
            raise SpdyError("truncated header block")
        return block[pos + 4 : pos + 4 + size], pos + 4 + size

    if len(block) < 4:
        raise SpdyError("truncated header block")
    (count,) = struct.unpack_from(">I", block)
    pos, pairs = 4, []
    for _ in range(count):
        name, pos = take(pos)
        value, pos = take(pos)
        pairs += [(name.decode("latin-1").lower(), v) for v in value.decode("latin-1").split("\x00")]
    if pos != len(block):
        raise SpdyError("trailing bytes after the header block")
    return tuple(pairs)


def _check_stream_id(stream_id: int) -> None:
    if not 0 < stream_id <= MAX_STREAM_ID:
        raise ValueError(f"stream id {stream_id} out of range")


class FrameEncoder:
    """Frames to bytes for one direction of one connection: all header blocks share one zlib stream."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(level=9, zdict=DICTIONARY)

    def _compress(self, headers: Headers) -> bytes:
        return self._deflate.compress(_header_block(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, DataFrame):
            _check_stream_id(frame.stream_id)
            if len(frame.data) > MAX_LENGTH:
                raise ValueError("data frame too large")
            return struct.pack(">II", frame.stream_id, (FLAG_FIN if frame.fin else 0) << 24 | len(frame.data)) + (
                frame.data
            )
        kind, flags, payload = self._control(frame)
        if len(payload) > MAX_LENGTH:
            raise ValueError("control frame too large")
        return struct.pack(">HHI", 0x8000 | VERSION, kind, flags << 24 | len(payload)) + payload

    def _control(self, frame: Frame) -> tuple[int, int, bytes]:
        fin = FLAG_FIN if getattr(frame, "fin", False) else 0
        match frame:
            case SynStream():
                _check_stream_id(frame.stream_id)
                flags = fin | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
                head = struct.pack(">IIBB", frame.stream_id, frame.associated_to, (frame.priority & 7) << 5, frame.slot)
                return FrameType.SYN_STREAM, flags, head + self._compress(frame.headers)
            case SynReply():
                _check_stream_id(frame.stream_id)
                return FrameType.SYN_REPLY, fin, struct.pack(">I", frame.stream_id) + self._compress(frame.headers)
            case HeadersFrame():
                _check_stream_id(frame.stream_id)
                return FrameType.HEADERS, fin, struct.pack(">I", frame.stream_id) + self._compress(frame.headers)
            case RstStream():
                _check_stream_id(frame.stream_id)
                return FrameType.RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status)
            case Settings():
                body = b"".join(struct.pack(">II", s.flags << 24 | s.id, s.value) for s in frame.entries)
                flags = FLAG_CLEAR_SETTINGS if frame.clear else 0
                return FrameType.SETTINGS, flags, struct.pack(">I", len(frame.entries)) + body
            case Ping():
                return FrameType.PING, 0, struct.pack(">I", frame.id)
            case GoAway():
                return FrameType.GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id, frame.status)
            case WindowUpdate():
                return FrameType.WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta)
            case UnknownControl():
                return frame.type, frame.flags, frame.payload
        raise TypeError(f"not a SPDY frame: {frame!r}")


class FrameDecoder:
    """Bytes to frames for one direction of one connection, fed in pieces of any size."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        pos = 0
        while len(self._buffer) - pos >= 8:
            first, second = struct.unpack_from(">II", self._buffer, pos)
            length = second & MAX_LENGTH
            if len(self._buffer) - pos - 8 < length:
                break
            payload = bytes(self._buffer[pos + 8 : pos + 8 + length])
            pos += 8 + length
            frames.append(self._parse(first, second >> 24, payload))
        del self._buffer[:pos]
        return frames

    def _headers(self, compressed: bytes) -> Headers:
        try:
            block = self._inflate.decompress(compressed, MAX_HEADER_BLOCK)
        except zlib.error as exc:
            raise SpdyError(f"header block does not decompress: {exc}") from exc
        if self._inflate.unconsumed_tail:
            raise SpdyError("header block too large")
        return _parse_header_block(block)

    def _parse(self, first: int, flags: int, payload: bytes) -> Frame:
        if not first & 0x80000000:
            if not first:
                raise SpdyError("data frame for stream 0")
            return DataFrame(first, payload, fin=bool(flags & FLAG_FIN))
        version, kind = first >> 16 & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyError(f"unsupported SPDY version {version}")
        fin = bool(flags & FLAG_FIN)

        def words(count: int, *, exact: bool = True) -> tuple[int, ...]:
            if len(payload) < 4 * count or (exact and len(payload) != 4 * count):
                raise SpdyError(f"control frame type {kind} has a bad length {len(payload)}")
            return struct.unpack_from(f">{count}I", payload)

        match kind:
            case FrameType.SYN_STREAM:
                if len(payload) < 10:
                    raise SpdyError("short SYN_STREAM")
                stream_id, associated, priority, slot = struct.unpack_from(">IIBB", payload)
                return SynStream(
                    _stream_id(stream_id),
                    self._headers(payload[10:]),
                    associated_to=associated & MAX_STREAM_ID,
                    priority=priority >> 5,
                    slot=slot,
                    fin=fin,
                    unidirectional=bool(flags & FLAG_UNIDIRECTIONAL),
                )
            case FrameType.SYN_REPLY | FrameType.HEADERS:
                (stream_id,) = words(1, exact=False)
                cls = SynReply if kind == FrameType.SYN_REPLY else HeadersFrame
                return cls(_stream_id(stream_id), self._headers(payload[4:]), fin=fin)
            case FrameType.RST_STREAM:
                stream_id, status = words(2)
                return RstStream(_stream_id(stream_id), status)
            case FrameType.SETTINGS:
                (count,) = words(1, exact=False)
                if len(payload) != 4 + 8 * count:
                    raise SpdyError("SETTINGS length does not match its entry count")
                pairs = [struct.unpack_from(">II", payload, 4 + 8 * i) for i in range(count)]
                entries = tuple(Setting(key & 0xFFFFFF, value, key >> 24) for key, value in pairs)
                return Settings(entries, clear=bool(flags & FLAG_CLEAR_SETTINGS))
            case FrameType.PING:
                return Ping(words(1)[0])
            case FrameType.GOAWAY:
                last, status = words(2)
                return GoAway(last & MAX_STREAM_ID, status)
            case FrameType.WINDOW_UPDATE:
                stream_id, delta = words(2)
                return WindowUpdate(stream_id & MAX_STREAM_ID, delta & MAX_STREAM_ID)
        return UnknownControl(kind, flags, payload)


def _stream_id(raw: int) -> int:
    stream_id = raw & MAX_STREAM_ID
    if not stream_id:
        raise SpdyError("stream id 0 is not allowed")
    return stream_id


class Channel(Protocol):
    """An ordered byte transport under a session (a WebSocket, an upgraded connection)."""

    async def read(self) -> bytes:
        """The next bytes, or b"" when the peer is gone."""

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class Stream:
    """One SPDY stream: a byte pipe each way, half-closed with FIN, torn down with RST_STREAM."""

    def __init__(self, session: Session, stream_id: int, headers: Headers) -> None:
        self.id = stream_id
        self.headers = headers
        self._session = session
        self._buffer = bytearray()
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._ready = asyncio.Event()  # the SYN_REPLY went out (peer's stream) or came in (ours)
        self._remote_fin = False
        self._local_fin = False
        self._reset = False
        self._abandoned = False

    def header(self, name: str) -> str:
        return header(self.headers, name)

    @property
    def is_reset(self) -> bool:
        return self._reset

    async def read(self, size: int = DATA_CHUNK) -> bytes:
        """Up to `size` bytes; b"" once the peer finished (FIN), the stream was reset or the session ended."""
        while not self._buffer:
            if self._remote_fin or self._reset or self._abandoned:
                return b""
            self._readable.clear()
            await self._readable.wait()
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        if len(self._buffer) <= HIGH_WATER:
            self._room.set()
        return chunk

    async def write(self, data: bytes) -> None:
        await self._ready.wait()
        for start in range(0, len(data), DATA_CHUNK) if data else ():
            if self._local_fin or self._reset:
                raise StreamClosedError(f"stream {self.id} is closed")
            await self._session.send(DataFrame(self.id, data[start : start + DATA_CHUNK]))

    async def close(self) -> None:
        """Half-close: tell the peer we send no more (an empty DATA frame with FIN). Never raises."""
        if self._local_fin or self._reset:
            return
        self._local_fin = True
        await self._ready.wait()
        if self._reset:
            return
        with contextlib.suppress(ConnectionError):
            await self._session.send(DataFrame(self.id, b"", fin=True))
        self._session.forget_if_done(self)

    async def reset(self, status: int = RstStatus.CANCEL) -> None:
        """Tear the stream down both ways (RST_STREAM). Never raises."""
        if self._reset:
            return
        self._mark_reset()
        self._session.forget(self)
        with contextlib.suppress(ConnectionError):
            await self._session.send(RstStream(self.id, status))

    def abandon(self) -> None:
        """Stop reading: drop what is buffered and whatever still arrives, so the session never waits for us."""
        self._abandoned = True
        self._buffer.clear()
        self._readable.set()
        self._room.set()

    # the session's side

    async def _receive(self, data: bytes) -> None:
        if self._abandoned or self._reset:
            return
        self._buffer += data
        self._readable.set()
        while len(self._buffer) > HIGH_WATER and not (self._abandoned or self._reset):
            self._room.clear()
            await self._room.wait()

    def _finish_remote(self) -> None:
        self._remote_fin = True
        self._readable.set()
        self._session.forget_if_done(self)

    def _mark_reset(self) -> None:
        self._reset = True
        self._ready.set()
        self._readable.set()
        self._room.set()

    @property
    def _done(self) -> bool:
        return self._reset or (self._local_fin and self._remote_fin)


NewStreamHandler = Callable[[Stream], None]


class Session:
    """A SPDY/3.1 connection over a `Channel`, as client or server.

    `run()` reads until the peer goes (EOF, GOAWAY) and answers on the way: a peer's new stream goes to
    `on_stream` (synchronously; raise `StreamRejected` to refuse it), then gets its SYN_REPLY; a peer's PING is
    echoed. `close()` resets what is left, says GOAWAY and closes the channel.
    """

    def __init__(
        self,
        channel: Channel,
        *,
        server: bool,
        on_stream: NewStreamHandler | None = None,
        name: str = "",
        idle_timeout: float | None = None,
    ) -> None:
        self.name = name
        self._channel = channel
        self._server = server
        self._on_stream = on_stream
        self._idle_timeout = idle_timeout
        self._encoder = FrameEncoder()
        self._decoder = FrameDecoder()
        self._write_lock = asyncio.Lock()
        self._streams: dict[int, Stream] = {}
        self._next_stream_id = 2 if server else 1
        self._next_ping_id = 2 if server else 1
        self._last_peer_stream_id = 0
        self._pings: dict[int, asyncio.Future[None]] = {}
        self._last_activity = asyncio.get_running_loop().time()
        self._ended = False  # the channel is gone for us: nothing more is sent
        self._closed = False
        self._goaway_received = False

    @property
    def ended(self) -> bool:
        return self._ended

    async def run(self) -> None:
        watchdog = None
        if self._idle_timeout:
            watchdog = asyncio.get_running_loop().create_task(self._close_when_idle(self._idle_timeout))
        try:
            while not self._goaway_received and (data := await self._channel.read()):
                self._last_activity = asyncio.get_running_loop().time()
                for frame in self._decoder.feed(data):
                    await self._dispatch(frame)
        except SpdyError as exc:
            log.warning(
                "SPDY protocol error, closing the connection", extra={"connection": self.name, "error": str(exc)}
            )
            with contextlib.suppress(ConnectionError):
                await self.send(GoAway(self._last_peer_stream_id, GoAwayStatus.PROTOCOL_ERROR))
        except ConnectionError:
            pass
        finally:
            if watchdog is not None:
                watchdog.cancel()
            self._end()

    async def open_stream(self, headers: Headers, *, fin: bool = False, timeout: float = REPLY_TIMEOUT) -> Stream:
        """A new stream of ours, once the peer replied; `StreamClosedError` if it refused or the session ended."""
        if self._ended:
            raise StreamClosedError("the connection is closed")
        stream_id, self._next_stream_id = self._next_stream_id, self._next_stream_id + 2
        stream = Stream(self, stream_id, headers)
        self._streams[stream_id] = stream
        if fin:
            stream._local_fin = True
        await self.send(SynStream(stream_id, headers, fin=fin))
        try:
            async with asyncio.timeout(timeout):
                await stream._ready.wait()
        except TimeoutError:
            await stream.reset()
            raise
        if stream.is_reset:
            raise StreamClosedError(f"stream {stream_id} was refused")
        return stream

    async def ping(self) -> None:
        """One round trip to the peer."""
        ping_id, self._next_ping_id = self._next_ping_id, self._next_ping_id + 2
        answer = self._pings[ping_id] = asyncio.get_running_loop().create_future()
        try:
            await self.send(Ping(ping_id))
            await answer
        finally:
            self._pings.pop(ping_id, None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._ended:
            for stream in list(self._streams.values()):
                await stream.reset()
            if not self._goaway_received:
                with contextlib.suppress(ConnectionError):
                    await self.send(GoAway(self._last_peer_stream_id))
        self._end()
        with contextlib.suppress(ConnectionError, OSError):
            await self._channel.close()

    async def send(self, frame: Frame) -> None:
        """Write one frame; header compression order is write order, so both happen under one lock."""
        async with self._write_lock:
            if self._ended:
                raise StreamClosedError("the connection is closed")
            try:
                await self._channel.write(self._encoder.encode(frame))
            except (ConnectionError, OSError) as exc:
                self._end()
                raise StreamClosedError("the connection is closed") from exc
        self._last_activity = asyncio.get_running_loop().time()

    def forget(self, stream: Stream) -> None:
        self._streams.pop(stream.id, None)

    def forget_if_done(self, stream: Stream) -> None:
        if stream._done:
            self.forget(stream)

    def _end(self) -> None:
        self._ended = True
        for stream in self._streams.values():
            stream._mark_reset()
        self._streams.clear()
        for answer in self._pings.values():
            if not answer.done():
                answer.set_exception(StreamClosedError("the connection is closed"))

    async def _close_when_idle(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        while (left := self._last_activity + timeout - loop.time()) > 0:
            await asyncio.sleep(left)
        log.info("Closing idle SPDY connection", extra={"connection": self.name, "idleTimeout": timeout})
        await self.close()

    async def _dispatch(self, frame: Frame) -> None:
        match frame:
            case DataFrame():
                stream = self._streams.get(frame.stream_id)
                if stream is not None and not stream._remote_fin:  # else: a late frame of a stream we let go
                    await stream._receive(frame.data)
                    if frame.fin:
                        stream._finish_remote()
            case SynStream():
                await self._accept(frame)
            case SynReply():
                stream = self._streams.get(frame.stream_id)
                if stream is not None:
                    stream._ready.set()
                    if frame.fin:
                        stream._finish_remote()
            case HeadersFrame():
                stream = self._streams.get(frame.stream_id)
                if stream is not None and frame.fin:
                    stream._finish_remote()
            case RstStream():
                stream = self._streams.pop(frame.stream_id, None)
                if stream is not None:
                    stream._mark_reset()
            case Ping():
                if frame.id % 2 != self._next_ping_id % 2:
                    await self.send(frame)
                elif (answer := self._pings.get(frame.id)) is not None and not answer.done():
                    answer.set_result(None)
            case GoAway():
                self._goaway_received = True
            case Settings() | WindowUpdate() | UnknownControl():
                pass  # no flow control (see the module docstring), nothing to configure

    async def _accept(self, frame: SynStream) -> None:
        own_parity = 0 if self._server else 1  # a server's streams are even, a client's odd
        if frame.stream_id % 2 == own_parity or frame.stream_id <= self._last_peer_stream_id:
            await self.send(RstStream(frame.stream_id, RstStatus.PROTOCOL_ERROR))
            return
        self._last_peer_stream_id = frame.stream_id
        stream = Stream(self, frame.stream_id, frame.headers)
        stream._local_fin = frame.unidirectional
        stream._remote_fin = frame.fin
        self._streams[frame.stream_id] = stream
        try:
            if self._on_stream is None or self._closed:
                raise StreamRejected("not accepting streams")
            self._on_stream(stream)
        except StreamRejected as exc:
            log.info("Stream rejected", extra={"connection": self.name, "stream": frame.stream_id, "reason": str(exc)})
            await stream.reset()
            return
        await self.send(SynReply(frame.stream_id))
        stream._ready.set()
