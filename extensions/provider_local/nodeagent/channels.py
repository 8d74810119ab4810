"""The remote command protocol of exec and attach over WebSockets (`channel.k8s.io` and its versions), and exec
itself: a command run as a host process bound to the session's streams.

Each binary message starts with a byte naming its stream: 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize; the
`base64.` variants send text messages with the stream as an ASCII digit and the data base64-encoded. Versions
differ in what the error stream carries: before v4 only the message of a failure (nothing on success); from v4 on
a metav1.Status in JSON, the exit code of a command as a cause (`NonZeroExitCode`, `ExitCode`); v5 adds the close
signal (255, stream) with which a client half-closes its stdin. Resize messages are JSON `{"Width", "Height"}`.
A session starts with an empty message on the lowest writable stream and ends with the status on the error
stream and a WebSocket close, as upstream's kubelet (v1-v4) and its stream translator (v5) do; the messages
follow theirs, including the two ways they word an exit code.

An exec runs under a pseudo-terminal that follows resize messages when a TTY is asked for, else with pipes. It
runs in a session of its own: whatever it started is killed when the command ends or the client goes away.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import struct
import sys
import termios
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gardener.runtime.process import signal_group

log = logging.getLogger("provider_local.nodeagent.channels")

Obj = dict[str, Any]
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V5 = "v5.channel.k8s.io"
#: subprotocol -> (version, base64); "" is a client that offers none (binary, version 1)
PROTOCOLS: dict[str, tuple[int, bool]] = {
    "": (1, False),
    V1: (1, False),
    V1_BASE64: (1, True),
    V2: (2, False),
    V3: (3, False),
    V4: (4, False),
    V4_BASE64: (4, True),
    V5: (5, False),
}
STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)
CLOSE = 255
_CHUNK = 32 * 1024
#: after the command exits, how long output still held open by its leftovers is read
DRAIN_SECONDS = 2.0
# Runs the command as the leader of a new session with the pseudo-terminal as its controlling terminal, so that
# job control and SIGWINCH work; Python's subprocess has no setctty.
_CONTROLLING_TTY = "import fcntl,os,sys,termios;fcntl.ioctl(0,termios.TIOCSCTTY,0);os.execv(sys.argv[1],sys.argv[2:])"


class StreamOptionsError(ValueError):
    """The query asks for no stream at all."""


@dataclass(frozen=True)
class StreamOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> StreamOptions:
        """As upstream's `NewOptions`: the kubelet's parameters `input`, `output`, `error` and `tty` (the API
        server translates PodExecOptions' stdin, stdout, stderr, tty to them), true when "1"."""
        tty, stdin, stdout, stderr = (query.get(name) == "1" for name in ("tty", "input", "output", "error"))
        if tty and stderr:
            stderr = False  # a terminal has one output
        if not (stdin or stdout or stderr):
            raise StreamOptionsError("you must specify at least 1 of stdin, stdout, stderr")
        return cls(stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)


@dataclass(frozen=True)
class TerminalSize:
    width: int
    height: int


@dataclass(frozen=True)
class ExecLaunch:
    """How a command runs in a container here: the host argv, the container's environment and directory."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path


def offered_protocols(request: web.Request) -> list[str]:
    header = ",".join(request.headers.getall("Sec-WebSocket-Protocol", []))
    return [p.strip() for p in header.split(",") if p.strip()]


def negotiate(offered: Sequence[str]) -> str | None:
    """The first offered subprotocol we speak; "" when none is offered; None when none of them is ours."""
    if not offered:
        return ""
    return next((p for p in offered if p and p in PROTOCOLS), None)


def go_json(obj: Any) -> bytes:
    """JSON as Go's encoding/json writes it: compact, UTF-8, HTML characters escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(char, escaped)
    return text.replace("\u2029", "\\u2029").encode()


def success_status() -> Obj:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, *, error: str) -> Obj:
    """A command that exited with `code`; `error` is what the runtime said about it."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {error}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_error_status(error: str) -> Obj:
    """apimachinery's NewInternalError."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {error}",
        "reason": "InternalError",
        "details": {"causes": [{"message": error}]},
        "code": 500,
    }


class ChannelSession:
    """One accepted WebSocket: the client's stdin and resizes come in, output and the final status go out."""

    def __init__(self, ws: web.WebSocketResponse, *, protocol: str, options: StreamOptions) -> None:
        self._ws = ws
        self.protocol = protocol
        self.version, self._base64 = PROTOCOLS[protocol]
        self.options = options
        self.stdin = asyncio.StreamReader()
        self.resizes: asyncio.Queue[TerminalSize] = asyncio.Queue()
        #: set when the client closed the connection or it broke
        self.gone = asyncio.Event()
        self._resize_text = ""
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def accept(cls, request: web.Request, *, protocol: str, options: StreamOptions) -> ChannelSession:
        ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), max_msg_size=0)
        await ws.prepare(request)
        session = cls(ws, protocol=protocol, options=options)
        session._reader = asyncio.create_task(session._receive())
        # The client learns that the streams are open from an empty message on the lowest writable one.
        first = STDOUT if options.stdout else STDERR if options.stderr else ERROR
        await session.send(first, b"")
        return session

    @property
    def response(self) -> web.WebSocketResponse:
        return self._ws

    async def send(self, channel: int, data: bytes) -> None:
        if self._ws.closed:
            self.gone.set()
            return
        try:
            if self._base64:
                await self._ws.send_str(f"{channel}{base64.b64encode(data).decode()}")
            else:
                await self._ws.send_bytes(bytes([channel]) + data)
        except (ConnectionError, RuntimeError):
            self.gone.set()

    async def finish(self, status: Obj) -> None:
        """Report the result on the error stream (as this version wants it) and close the connection."""
        if self.version >= 4:
            await self.send(ERROR, go_json(status))
        elif status.get("status") != "Success":
            await self.send(ERROR, str(status.get("message") or "").encode())
        await self.close()

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _receive(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type == aiohttp.WSMsgType.BINARY and not self._base64:
                    self._dispatch(bytes(msg.data))
                elif msg.type == aiohttp.WSMsgType.TEXT and self._base64 and msg.data:
                    try:
                        payload = base64.b64decode(str(msg.data)[1:], validate=True)
                    except (binascii.Error, ValueError):
                        continue
                    self._dispatch(bytes([ord(str(msg.data)[0]) - ord("0") & 0xFF]) + payload)
        finally:
            if not self.stdin.at_eof():
                self.stdin.feed_eof()
            self.gone.set()

    def _dispatch(self, data: bytes) -> None:
        if not data:
            return
        channel, payload = data[0], data[1:]
        if channel == CLOSE and self.version >= 5:
            if payload[:1] == bytes([STDIN]) and not self.stdin.at_eof():
                self.stdin.feed_eof()
        elif channel == STDIN and self.options.stdin and not self.stdin.at_eof():
            self.stdin.feed_data(payload)
        elif channel == RESIZE:
            self._resize(payload.decode(errors="replace"))

    def _resize(self, text: str) -> None:
        """A stream of JSON objects, possibly split across messages (Go's json.Decoder on the stream)."""
        self._resize_text += text
        decoder = json.JSONDecoder()
        while True:
            rest = self._resize_text.lstrip()
            if not rest:
                self._resize_text = ""
                return
            try:
                value, end = decoder.raw_decode(rest)
            except json.JSONDecodeError:
                self._resize_text = rest
                return
            self._resize_text = rest[end:]
            if isinstance(value, dict):
                fields = {str(k).lower(): v for k, v in value.items()}
                width, height = fields.get("width", 0), fields.get("height", 0)
                if isinstance(width, int) and isinstance(height, int):
                    self.resizes.put_nowait(TerminalSize(width=width, height=height))


# ---- exec -------------------------------------------------------------------------------------------------------


class ExecStartError(Exception):
    """The command could not be started."""


def _program(launch: ExecLaunch) -> str:
    if not launch.argv:
        raise ExecStartError("exec: no command given")
    name = launch.argv[0]
    if "/" in name:
        path = name if os.path.isabs(name) else str(launch.cwd / name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise ExecStartError(f'exec: "{name}": stat {name}: no such file or directory')
    found = shutil.which(name, path=launch.env.get("PATH", os.defpath))
    if found is None:
        raise ExecStartError(f'exec: "{name}": executable file not found in $PATH')
    return found


def _code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


async def run_command(session: ChannelSession, launch: ExecLaunch, *, command: Sequence[str]) -> None:
    """Run the command bound to the session's streams and finish the session with its outcome."""
    try:
        program = _program(launch)
        runner = _run_tty if session.options.tty else _run_pipes
        code = await runner(session, program, launch)
    except (ExecStartError, OSError) as exc:
        error = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        await session.finish(internal_error_status(f"error executing command in container: {error}"))
        return
    if code is None:
        await session.close()
        return
    if code == 0:
        await session.finish(success_status())
        return
    if session.version >= 5:
        # v5 sessions pass upstream's stream translator, which words the runtime's exit error its own way
        error = f"command terminated with exit code {code}"
    else:
        error = f"error executing command [{' '.join(command)}], exit code {code}"
    await session.finish(exit_status(code, error=error))


async def _stop(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _run_pipes(session: ChannelSession, program: str, launch: ExecLaunch) -> int | None:
    opts = session.options
    pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    proc = await asyncio.create_subprocess_exec(
        *launch.argv,
        executable=program,
        stdin=pipe if opts.stdin else null,
        stdout=pipe if opts.stdout else null,
        stderr=pipe if opts.stderr else null,
        env=dict(launch.env),
        cwd=str(launch.cwd),
        start_new_session=True,
    )

    async def copy_out(reader: asyncio.StreamReader, channel: int) -> None:
        while data := await reader.read(_CHUNK):
            await session.send(channel, data)

    async def copy_in(writer: asyncio.StreamWriter) -> None:
        try:
            while data := await session.stdin.read(_CHUNK):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass  # the command stopped reading
        finally:
            writer.close()

    outputs = [
        asyncio.ensure_future(copy_out(reader, channel))
        for reader, channel in ((proc.stdout, STDOUT), (proc.stderr, STDERR))
        if reader is not None
    ]
    others: list[asyncio.Future[Any]] = [asyncio.ensure_future(session.gone.wait())]
    if proc.stdin is not None:
        others.append(asyncio.ensure_future(copy_in(proc.stdin)))
    exited = asyncio.ensure_future(proc.wait())
    try:
        await asyncio.wait({exited, others[0]}, return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            return None
        if outputs:
            await asyncio.wait(outputs, timeout=DRAIN_SECONDS)
        return _code(exited.result())
    finally:
        signal_group(proc.pid, signal.SIGKILL)
        await _stop([*outputs, *others])
        await exited


async def _ready(fd: int, *, write: bool, stop: asyncio.Event | None = None) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    (loop.add_writer if write else loop.add_reader)(fd, wake)
    waits: set[asyncio.Future[Any]] = {ready}
    if stop is not None:
        waits.add(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        (loop.remove_writer if write else loop.remove_reader)(fd)
        for waiter in waits:
            waiter.cancel()


async def _run_tty(session: ChannelSession, program: str, launch: ExecLaunch) -> int | None:
    master, slave = os.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            "-c",
            _CONTROLLING_TTY,
            program,
            *launch.argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(launch.env),
            cwd=str(launch.cwd),
            start_new_session=True,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    exited_event = asyncio.Event()

    async def output() -> None:
        while True:
            try:
                data = os.read(master, _CHUNK)
            except BlockingIOError:
                if exited_event.is_set():
                    return  # everything the command wrote is read
                await _ready(master, write=False, stop=exited_event)
                continue
            except OSError:
                return  # EIO: nobody holds the terminal any more
            if not data:
                return
            if session.options.stdout:
                await session.send(STDOUT, data)

    async def typing() -> None:
        # A terminal has no end of input: the close of stdin is not passed on, as upstream's runtimes do.
        while data := await session.stdin.read(_CHUNK):
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(master, view) :]
                except BlockingIOError:
                    await _ready(master, write=True)
                except OSError:
                    return

    async def resizing() -> None:
        while True:
            size = await session.resizes.get()
            with contextlib.suppress(OSError):
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width, 0, 0))

    reader = asyncio.ensure_future(output())
    others = [asyncio.ensure_future(f) for f in (typing(), resizing(), session.gone.wait())]
    exited = asyncio.ensure_future(proc.wait())
    try:
        await asyncio.wait({exited, others[-1]}, return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            return None
        exited_event.set()
        await asyncio.wait({reader}, timeout=DRAIN_SECONDS)
        return _code(exited.result())
    finally:
        signal_group(proc.pid, signal.SIGKILL)
        await _stop([reader, *others])
        os.close(master)
        await exited
