"""A tiny kube-proxy: TCP listeners on service addresses that forward to ready endpoints.

Connections are spread round-robin over the backends; a backend that refuses is skipped for that
connection. A listener is kept while its address and port stay wanted, so a backend change never
drops connections that are already established.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger("provider_local.nodeagent.proxy")

Address = tuple[str, int]
CONNECT_TIMEOUT = 3.0
CHUNK = 65536


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

    async def start(self) -> None:
        host, port = self.address
        self._server = await asyncio.start_server(self._accept, host, port, reuse_address=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
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
    """All listeners of the node, grouped by the service that wants them."""

    def __init__(self, *, on_connection: Callable[[], None] = lambda: None) -> None:
        self._listeners: dict[Address, Listener] = {}
        self._owners: dict[str, set[Address]] = {}
        self._on_connection = on_connection

    def count(self) -> int:
        return len(self._listeners)

    async def set(self, owner: str, wanted: Mapping[Address, Sequence[Address]]) -> list[str]:
        """Make `owner`'s listeners exactly `wanted` (address -> backends); returns addresses that failed to bind."""
        failed = []
        for address in self._owners.get(owner, set()) - set(wanted):
            await self._drop(address)
        for address, backends in wanted.items():
            listener = self._listeners.get(address)
            if listener is None:
                listener = Listener(address, on_connection=self._on_connection)
                try:
                    await listener.start()
                except OSError as exc:
                    failed.append(f"{address[0]}:{address[1]} ({exc.strerror or exc})")
                    continue
                self._listeners[address] = listener
            listener.backends = list(backends)
        self._owners[owner] = {a for a in wanted if a in self._listeners}
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
