"""Loopback address pools of the node agent: fresh, sticky, persisted, and never shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from extensions.provider_local.nodeagent.addresses import AddressPool, PoolExhausted


def test_allocation_is_stable_per_key_and_distinct_across_keys() -> None:
    pool = AddressPool("127.1.0.0/16")
    a = pool.allocate("ns/a")
    b = pool.allocate("ns/b")
    assert a != b
    assert pool.allocate("ns/a") == a
    assert pool.contains(a) and pool.contains(b)
    assert a not in ("127.1.0.0", "127.1.255.255")
    assert pool.owner(b) == "ns/b"


def test_a_key_that_comes_back_gets_its_address_again() -> None:
    pool = AddressPool("127.1.0.0/16")
    first = pool.allocate("ns/etcd-0")
    others = [pool.allocate(f"ns/web-{i}") for i in range(3)]
    pool.release("ns/etcd-0")
    assert pool.allocate("ns/fresh") not in (first, *others), "fresh keys avoid remembered addresses"
    assert pool.allocate("ns/etcd-0") == first


def test_preferred_address_is_used_when_free() -> None:
    pool = AddressPool("127.1.0.0/16")
    assert pool.allocate("ns/a", preferred="127.1.7.7") == "127.1.7.7"
    assert pool.allocate("ns/b", preferred="127.1.7.7") != "127.1.7.7"
    assert pool.allocate("ns/c", preferred="10.0.0.1") != "10.0.0.1"


def test_reserve_records_addresses_seen_in_the_api() -> None:
    pool = AddressPool("127.2.0.0/16")
    assert pool.reserve("ns/svc", "127.2.0.9")
    assert not pool.reserve("ns/other", "127.2.0.9"), "taken by another key"
    assert not pool.reserve("ns/outside", "10.96.0.1")
    assert pool.allocate("ns/svc") == "127.2.0.9"


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "ips.json"
    pool = AddressPool("127.1.0.0/16", state_file=state)
    kept = pool.allocate("ns/kept")
    gone = pool.allocate("ns/gone")
    pool.release("ns/gone")
    again = AddressPool("127.1.0.0/16", state_file=state)
    assert again.get("ns/kept") == kept
    assert again.get("ns/gone") is None
    assert again.allocate("ns/new") not in (kept, gone)
    assert again.allocate("ns/gone") == gone


def test_small_pools_run_out_and_reuse_remembered_addresses() -> None:
    pool = AddressPool("127.9.0.0/30")  # two usable addresses
    a, b = pool.allocate("a"), pool.allocate("b")
    with pytest.raises(PoolExhausted):
        pool.allocate("c")
    pool.release("a")
    assert pool.allocate("c") == a, "a remembered address is reused when nothing else is free"
    assert {a, b} == {"127.9.0.1", "127.9.0.2"}
