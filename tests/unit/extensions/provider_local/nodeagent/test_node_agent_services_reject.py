"""A service address without ready endpoints refuses connections, as kube-proxy's REJECT rule does.

The decision is pure (`plan`); one test also opens real sockets on loopback to show what a client sees: refused
while there is no backend, answered once there is one, and an established connection outliving its backend's
removal from the table.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from extensions.provider_local.nodeagent.proxy import ProxyPlan, ProxyTable, plan

A = ("127.12.0.1", 80)
B = ("127.13.0.1", 443)
POD = ("127.11.0.1", 8080)


def test_an_address_without_backends_does_not_listen() -> None:
    assert plan(owned=set(), listening=set(), wanted={A: [], B: [POD]}) == ProxyPlan(listen=(B,), refuse=(), drop=())


def test_losing_the_last_backend_stops_listening() -> None:
    assert plan(owned={A, B}, listening={A, B}, wanted={A: [], B: [POD]}) == ProxyPlan(listen=(), refuse=(A,), drop=())


def test_a_backend_coming_back_listens_again() -> None:
    assert plan(owned={A}, listening=set(), wanted={A: [POD]}) == ProxyPlan(listen=(A,), refuse=(), drop=())


def test_unchanged_state_changes_nothing() -> None:
    assert plan(owned={A, B}, listening={A}, wanted={A: [POD], B: []}) == ProxyPlan(listen=(), refuse=(), drop=())


def test_addresses_no_longer_wanted_are_dropped() -> None:
    assert plan(owned={A, B}, listening={A}, wanted={}) == ProxyPlan(listen=(), refuse=(), drop=(A, B))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def test_a_client_is_refused_without_backends_and_served_with_one() -> None:
    backend = await asyncio.start_server(_echo, "127.0.0.1", 0)
    pod = ("127.0.0.1", int(backend.sockets[0].getsockname()[1]))
    service = ("127.0.0.1", _free_port())
    table = ProxyTable()
    try:
        assert await table.set("ns/svc", {service: []}) == []
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(*service)

        assert await table.set("ns/svc", {service: [pod]}) == []
        reader, writer = await asyncio.open_connection(*service)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"

        # the endpoints go away: new clients are refused, the established connection still works
        assert await table.set("ns/svc", {service: []}) == []
        assert table.listening() == set()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(*service)
        writer.write(b"pong")
        assert await reader.readexactly(4) == b"pong"
        writer.close()
        await writer.wait_closed()

        assert await table.set("ns/svc", {service: [pod]}) == []
        reader, writer = await asyncio.open_connection(*service)
        writer.write(b"back")
        assert await reader.readexactly(4) == b"back"
        writer.close()
        await writer.wait_closed()
    finally:
        await table.close()
        backend.close()
        await backend.wait_closed()
