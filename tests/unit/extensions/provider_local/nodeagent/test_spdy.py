"""The SPDY/3.1 codec and session of the node agent's port-forward: wire layout, header compression, stream rules."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from extensions.provider_local.nodeagent import spdy

HEADERS: spdy.Headers = (("streamtype", "error"), ("port", "8080"), ("requestid", "0"))

ALL_FRAMES: list[spdy.Frame] = [
    spdy.DataFrame(1, b"payload"),
    spdy.DataFrame(3, b"", fin=True),
    spdy.SynStream(5, HEADERS, associated_to=1, priority=3, slot=2, fin=True, unidirectional=True),
    spdy.SynReply(5, (("a", "1"), ("a", "2"), ("b", ""))),
    spdy.RstStream(7, spdy.RstStatus.CANCEL),
    spdy.Settings((spdy.Setting(4, 100, flags=1), spdy.Setting(7, 65536)), clear=True),
    spdy.Ping(2),
    spdy.GoAway(9, spdy.GoAwayStatus.PROTOCOL_ERROR),
    spdy.HeadersFrame(9, (("x", "y"),), fin=True),
    spdy.WindowUpdate(1, 4096),
]


def test_dictionary_is_the_spec_constant() -> None:
    # zlib names the dictionary by its Adler-32 in the stream header; Go's reader refuses any other
    assert len(spdy.DICTIONARY) == 1423
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b",*,enq=0.")


def test_golden_bytes_follow_the_spec_layout() -> None:
    encode = spdy.FrameEncoder().encode
    # control frame: C bit + version 3 | type | flags | 24-bit length | payload
    assert encode(spdy.Ping(1)) == bytes.fromhex("80030006 00000004 00000001")
    assert encode(spdy.RstStream(1, spdy.RstStatus.CANCEL)) == bytes.fromhex("80030003 00000008 00000001 00000005")
    assert encode(spdy.GoAway(3)) == bytes.fromhex("80030007 00000008 00000003 00000000")
    assert encode(spdy.WindowUpdate(5, 0x10000)) == bytes.fromhex("80030009 00000008 00000005 00010000")
    assert encode(spdy.Settings((spdy.Setting(7, 0x10000, flags=1),))) == bytes.fromhex(
        "80030004 0000000c 00000001 01000007 00010000"
    )
    # data frame: stream id (C bit clear) | flags | 24-bit length | data
    assert encode(spdy.DataFrame(3, b"hi", fin=True)) == bytes.fromhex("00000003 01000002 6869")

    syn = encode(spdy.SynStream(1, HEADERS, priority=7, fin=True))
    control, flags_length, stream_id, associated, priority, slot = struct.unpack_from(">IIIIBB", syn)
    assert control == 0x80030001
    assert flags_length >> 24 == spdy.FLAG_FIN and flags_length & 0xFFFFFF == len(syn) - 8
    assert (stream_id, associated, priority, slot) == (1, 0, 7 << 5, 0)
    # the header block: 32-bit pair count, then 32-bit length-prefixed names and values
    block = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(syn[18:])
    assert block == (
        b"\x00\x00\x00\x03"
        b"\x00\x00\x00\x0astreamtype\x00\x00\x00\x05error"
        b"\x00\x00\x00\x04port\x00\x00\x00\x048080"
        b"\x00\x00\x00\x09requestid\x00\x00\x00\x010"
    )


def test_every_frame_round_trips_even_when_fed_byte_by_byte() -> None:
    encoder = spdy.FrameEncoder()
    wire = b"".join(encoder.encode(frame) for frame in ALL_FRAMES)
    assert spdy.FrameDecoder().feed(wire) == ALL_FRAMES
    decoder = spdy.FrameDecoder()
    frames = [frame for i in range(len(wire)) for frame in decoder.feed(wire[i : i + 1])]
    assert frames == ALL_FRAMES


def test_multiple_values_travel_nul_separated_and_names_lowercase() -> None:
    frame = spdy.SynReply(1, (("Set-Cookie", "a"), ("X", "1"), ("set-cookie", "b")))
    wire = spdy.FrameEncoder().encode(frame)
    block = zlib.decompressobj(zdict=spdy.DICTIONARY).decompress(wire[12:])
    assert b"set-cookie\x00\x00\x00\x03a\x00b" in block
    decoded = spdy.FrameDecoder().feed(wire)[0]
    assert isinstance(decoded, spdy.SynReply)
    assert decoded.headers == (("set-cookie", "a"), ("set-cookie", "b"), ("x", "1"))
    assert spdy.header(decoded.headers, "Set-Cookie") == "a"
    assert spdy.header(decoded.headers, "missing") == ""


def test_header_blocks_share_one_compression_context_per_direction() -> None:
    encoder = spdy.FrameEncoder()
    frames = [spdy.SynStream(i, HEADERS) for i in (1, 3, 5)]
    wires = [encoder.encode(frame) for frame in frames]
    # repeated headers compress to a back-reference into the previous frames' text
    assert len(wires[1]) < len(wires[0]) and len(wires[2]) < len(wires[0])
    decoder = spdy.FrameDecoder()
    assert [f for wire in wires for f in decoder.feed(wire)] == frames
    # a reader that missed the first frame cannot make sense of the second
    with pytest.raises(spdy.SpdyError):
        spdy.FrameDecoder().feed(wires[1])
    # data frames in between leave the context alone
    encoder2, decoder2 = spdy.FrameEncoder(), spdy.FrameDecoder()
    mixed = [spdy.SynStream(1, HEADERS), spdy.DataFrame(1, b"x" * 100), spdy.HeadersFrame(1, HEADERS)]
    assert decoder2.feed(b"".join(encoder2.encode(f) for f in mixed)) == mixed


@pytest.mark.parametrize(
    ("wire", "problem"),
    [
        ("80020006 00000004 00000001", "unsupported SPDY version 2"),
        ("00000000 00000001 00", "data frame for stream 0"),
        ("80030003 00000008 00000000 00000005", "stream id 0"),
        ("80030003 00000004 00000001", "bad length"),
        ("80030001 00000004 00000001", "short SYN_STREAM"),
        ("80030001 0000000c 00000001 00000000 0000 0000", "does not decompress"),
        ("80030004 00000008 00000002 00000000", "entry count"),
    ],
)
def test_malformed_input_is_a_protocol_error(wire: str, problem: str) -> None:
    with pytest.raises(spdy.SpdyError, match=problem):
        spdy.FrameDecoder().feed(bytes.fromhex(wire))


def test_unknown_control_frames_are_kept_for_the_session_to_ignore() -> None:
    credential = bytes.fromhex("8003000a 00000002 abcd")
    assert spdy.FrameDecoder().feed(credential) == [spdy.UnknownControl(10, 0, b"\xab\xcd")]


def test_encoder_refuses_what_the_wire_cannot_carry() -> None:
    with pytest.raises(ValueError):
        spdy.FrameEncoder().encode(spdy.DataFrame(0, b""))
    with pytest.raises(ValueError):
        spdy.FrameEncoder().encode(spdy.DataFrame(1, b"\0" * (spdy.MAX_LENGTH + 1)))


class _Pipe:
    """One end of an in-memory byte channel (the session logic without sockets)."""

    def __init__(self, inbox: asyncio.Queue[bytes], outbox: asyncio.Queue[bytes]) -> None:
        self.inbox, self.outbox = inbox, outbox

    async def read(self) -> bytes:
        return await self.inbox.get()

    async def write(self, data: bytes) -> None:
        await self.outbox.put(data)

    async def close(self) -> None:
        await self.outbox.put(b"")  # the peer reads EOF
        await self.inbox.put(b"")  # and so do we, as after closing a socket


def _pipes() -> tuple[_Pipe, _Pipe]:
    a: asyncio.Queue[bytes] = asyncio.Queue()
    b: asyncio.Queue[bytes] = asyncio.Queue()
    return _Pipe(a, b), _Pipe(b, a)


async def test_sessions_open_streams_half_close_reset_and_ping() -> None:
    async with asyncio.timeout(10):
        await _sessions_open_streams_half_close_reset_and_ping()


async def _sessions_open_streams_half_close_reset_and_ping() -> None:
    client_end, server_end = _pipes()
    accepted: list[spdy.Stream] = []

    def on_stream(stream: spdy.Stream) -> None:
        if stream.header("port") == "0":
            raise spdy.StreamRejected("no port")
        accepted.append(stream)

    server = spdy.Session(server_end, server=True, on_stream=on_stream)
    client = spdy.Session(client_end, server=False)
    tasks = [asyncio.create_task(server.run()), asyncio.create_task(client.run())]

    stream = await client.open_stream((("port", "1"),))
    assert stream.id == 1 and accepted[0].id == 1 and accepted[0].header("PORT") == "1"
    await stream.write(b"x" * 100_000)  # several DATA frames
    await stream.close()
    received = b""
    while chunk := await accepted[0].read():
        received += chunk
    assert received == b"x" * 100_000  # then EOF: the client's FIN
    await accepted[0].write(b"back")
    await accepted[0].close()
    assert await stream.read() == b"back" and await stream.read() == b""
    with pytest.raises(spdy.StreamClosedError):
        await stream.write(b"after close")

    with pytest.raises(spdy.StreamClosedError, match="refused"):
        await client.open_stream((("port", "0"),))

    second = await client.open_stream((("port", "2"),))
    assert second.id == 5  # ids grow by two, the refused one is used up
    await accepted[1].reset()
    assert await second.read() == b""
    assert second.is_reset

    await client.ping()  # the server echoes a client's (odd) ping
    await server.ping()  # and the other way round

    await client.close()  # GOAWAY, then the channel ends
    await asyncio.wait_for(tasks[0], 5)  # the server stops reading at the GOAWAY
    assert server.ended and client.ended
    await server.close()
    await asyncio.wait_for(tasks[1], 5)


def test_an_oversized_header_block_is_refused_before_it_is_inflated() -> None:
    wire = spdy.FrameEncoder().encode(spdy.SynStream(1, (("x", "a" * (spdy.MAX_HEADER_BLOCK + 1)),)))
    with pytest.raises(spdy.SpdyError, match="too large"):
        spdy.FrameDecoder().feed(wire)


async def test_an_idle_session_says_goaway_and_closes() -> None:
    client_end, server_end = _pipes()
    server = spdy.Session(server_end, server=True, on_stream=lambda stream: None, idle_timeout=0.05)
    client = spdy.Session(client_end, server=False)
    async with asyncio.timeout(10):
        await asyncio.gather(server.run(), client.run())
    assert server.ended and client.ended
    with pytest.raises(spdy.StreamClosedError):
        await client.open_stream((("port", "1"),))
