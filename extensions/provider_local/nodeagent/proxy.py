"""A tiny kube-proxy: TCP listeners on service addresses that forward to ready endpoints.

Connections are spread round-robin over the backends; a backend that refuses is skipped for that
connection. A listener is kept while its address and port stay wanted, so a backend change never
drops connections that are already established.

An address without ready backends refuses connections, as kube-proxy's REJECT rule for a Service
without endpoints does: its listening socket is closed, so a client is told "connection refused" at
once instead of being accepted and cut off (a hibernated shoot's API address then fails fast). The
socket opens again as soon as a backend is ready; connections already established stay untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass

log = logging.getLogger("provider_local.nodeagent.proxy")

Address = tuple[str, int]
CONNECT_TIMEOUT = 3.0
CHUNK = 65536


@dataclass(frozen=True)
class ProxyPlan:
    """The changes that make one owner's listeners match what it wants, decided apart from any socket."""

    #: wanted addresses with ready backends that do not listen yet
    listen: tuple[Address, ...]
    #: wanted addresses without ready backends that still listen: they must refuse from now on
    refuse: tuple[Address, ...]
    #: addresses no longer wanted at all: closed, with their connections
    drop: tuple[Address, ...]


def plan(*, owned: Set[Address], listening: Set[Address], wanted: Mapping[Address, Sequence[Address]]) -> ProxyPlan:
    """What to change so that exactly the wanted addresses with ready backends listen.

    `owned` are the addresses the owner had before, `listening` those of them whose socket is open.
    """
    return ProxyPlan(
        listen=tuple(a for a, backends in wanted.items() if backends and a not in listening),
        refuse=tuple(a for a, backends in wanted.items() if not backends and a in listening),
        drop=tuple(sorted(set(owned) - set(wanted))),
    )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


class Listener:
    def __init__(self, address: Address, *, on_connection: Callable[[], None]) -> None:
        self.address = address
        self.backends: list[Address] = []
        self._next = 0
        self._server: asyncio.Server | None = None
        self._on_connection = on_connection
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Open the listening socket (again); raises OSError when the address cannot be bound."""
        if self._server is None:
            host, port = self.address
            self._server = await asyncio.start_server(self._accept, host, port, reuse_address=True, reuse_port=True)

    def refuse(self) -> None:
        """Close the listening socket so new connections are refused; established ones go on."""
        server, self._server = self._server, None
        if server is not None:
            server.close()  # closes the listening socket at once; wait_closed would wait for every connection

    async def close(self) -> None:
        self.refuse()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._on_connection()
        upstream = await self._connect()
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await w.wait_closed()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        backends = list(self.backends)
        for i in range(len(backends)):
            host, port = backends[(self._next + i) % len(backends)]
            try:
                conn = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError):
                continue
            self._next = (self._next + i + 1) % len(backends)
            return conn
        return None


class ProxyTable:
    """All listeners of the node, grouped by the service that wants them (listening or refusing)."""

    def __init__(self, *, on_connection: Callable[[], None] = lambda: None) -> None:
        self._listeners: dict[Address, Listener] = {}
        self._owners: dict[str, set[Address]] = {}
        self._on_connection = on_connection

    def count(self) -> int:
        return len(self._listeners)

    def listening(self) -> set[Address]:
        """The addresses whose socket is open (the others refuse connections)."""
        return {a for a, listener in self._listeners.items() if listener.listening}

    async def set(self, owner: str, wanted: Mapping[Address, Sequence[Address]]) -> list[str]:
        """Make `owner`'s listeners exactly `wanted` (address -> ready backends); an address without backends
        refuses connections. Returns the addresses that failed to bind."""
        owned = self._owners.get(owner, set())
        steps = plan(owned=owned, listening=owned & self.listening(), wanted=wanted)
        for address in steps.drop:
            await self._drop(address)
        for address, backends in wanted.items():
            listener = self._listeners.setdefault(address, Listener(address, on_connection=self._on_connection))
            listener.backends = list(backends)
        for address in steps.refuse:
            self._listeners[address].refuse()
        failed = []
        for address in steps.listen:
            try:
                await self._listeners[address].start()
            except OSError as exc:
                failed.append(f"{address[0]}:{address[1]} ({exc.strerror or exc})")
        self._owners[owner] = set(wanted)
        return failed

    async def remove(self, owner: str) -> None:
        for address in self._owners.pop(owner, set()):
            await self._drop(address)

    async def _drop(self, address: Address) -> None:
        listener = self._listeners.pop(address, None)
        if listener is not None:
            await listener.close()

    async def close(self) -> None:
        for owner in list(self._owners):
            await self.remove(owner)
