"""Service cluster IP and node port allocation against the real object store on SQLite."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gardener.apiserver.builtin.allocators import (
    IP_PREFIX,
    PORT_PREFIX,
    AllocationRepair,
    IPRange,
    PortRange,
    Reservations,
    ServiceAllocator,
)
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import AdmissionRequest, Context, ObjectStore
from gardener.apiserver.storage.sqlite import SQLiteBackend

NS = "default"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ObjectStore]:
    backend = SQLiteBackend(tmp_path / "s.db", synchronous="NORMAL")
    await backend.start()
    store = ObjectStore(backend=backend, registry=Registry())
    await store.create(_info(store, "namespaces"), "", {"metadata": {"name": NS}}, ctx=Context())
    allocator = ServiceAllocator(
        backend=backend, cluster_ip_range="10.0.0.0/28", node_port_range=(30000, 30019), seed=7
    )
    store.mutating.append(allocator.admit)
    store.validating.append(allocator.on_delete)
    yield store
    await backend.close()


def _info(store: ObjectStore, plural: str) -> ResourceInfo:
    info = store.registry.get("", "v1", plural)
    assert info is not None
    return info


def _svc(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80, "protocol": "TCP"}], **spec}}


async def _create(store: ObjectStore, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
    return await store.create(_info(store, "services"), NS, obj, ctx=Context(dry_run=dry_run))


async def _reserved(store: ObjectStore, prefix: str) -> list[str]:
    result = await store.backend.list_range(prefix)
    return sorted(s.key[len(prefix) :] for s in result.items)


def test_ip_range_hands_out_neither_network_broadcast_nor_first_address() -> None:
    r = IPRange("10.0.0.0/28")
    picked = list(r.candidates(random.Random(1)))
    assert sorted(picked, key=lambda ip: int(ip.rsplit(".", 1)[1])) == [f"10.0.0.{i}" for i in range(2, 15)]
    assert r.contains("10.0.0.1") and not r.contains("10.0.0.0") and not r.contains("10.0.0.15")
    assert not r.contains("10.0.1.1") and not r.contains("nonsense")


def test_random_picks_prefer_the_upper_band() -> None:
    """kube's static subrange: the lower band (16 addresses of a /24) is left for addresses asked for by name."""
    first = next(IPRange("10.0.0.0/24").candidates(random.Random(3)))
    assert int(first.rsplit(".", 1)[1]) > 16
    ports = PortRange(30000, 32767)
    assert next(ports.candidates(random.Random(3))) >= 30000 + 86
    assert sorted(PortRange(30000, 30019).candidates(random.Random(0))) == list(range(30000, 30020))


async def test_cluster_ip_is_allocated_and_freed_on_delete(store: ObjectStore) -> None:
    svc = await _create(store, _svc("a"))
    ip = svc["spec"]["clusterIP"]
    assert svc["spec"]["clusterIPs"] == [ip]
    assert svc["spec"]["ipFamilies"] == ["IPv4"] and svc["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert IPRange("10.0.0.0/28").contains(ip) and ip != "10.0.0.1"
    assert await _reserved(store, IP_PREFIX) == [ip]
    with pytest.raises(StatusError) as taken:
        await _create(store, _svc("b", clusterIP=ip))
    assert taken.value.code == 422
    assert taken.value.causes[0].field == "spec.clusterIPs"
    assert taken.value.causes[0].message == (
        f'Invalid value: []string{{"{ip}"}}: failed to allocate IP {ip}: provided IP is already allocated'
    )
    await store.delete(_info(store, "services"), NS, "a", ctx=Context())
    assert await _reserved(store, IP_PREFIX) == []
    again = await _create(store, _svc("b", clusterIP=ip))
    assert again["spec"]["clusterIP"] == ip


async def test_requested_ip_outside_the_range(store: ObjectStore) -> None:
    with pytest.raises(StatusError) as exc:
        await _create(store, _svc("a", clusterIP="10.0.1.5"))
    assert exc.value.causes[0].message.endswith(
        "failed to allocate IP 10.0.1.5: the provided IP (10.0.1.5) is not in the valid range. "
        "The range of valid IPs is 10.0.0.0/28"
    )
    assert await _reserved(store, IP_PREFIX) == []


async def test_headless_and_external_name_get_no_address(store: ObjectStore) -> None:
    headless = await _create(store, _svc("h", clusterIP="None", selector={"app": "x"}))
    assert headless["spec"]["clusterIPs"] == ["None"] and headless["spec"]["ipFamilyPolicy"] == "SingleStack"
    selectorless = await _create(store, _svc("s", clusterIP="None"))
    assert selectorless["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    assert selectorless["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    external = await _create(store, _svc("e", type="ExternalName", externalName="example.com"))
    assert "clusterIP" not in external["spec"]
    assert await _reserved(store, IP_PREFIX) == []


async def test_node_ports(store: ObjectStore) -> None:
    svc = await _create(
        store,
        {
            "metadata": {"name": "np"},
            "spec": {
                "type": "NodePort",
                "ports": [
                    {"name": "tcp", "port": 53, "protocol": "TCP"},
                    {"name": "udp", "port": 53, "protocol": "UDP"},
                    {"name": "web", "port": 80, "protocol": "TCP", "nodePort": 30005},
                ],
            },
        },
    )
    tcp, udp, web = (p["nodePort"] for p in svc["spec"]["ports"])
    assert tcp == udp and 30000 <= tcp <= 30019 and web == 30005
    assert await _reserved(store, PORT_PREFIX) == sorted([str(tcp), "30005"])
    with pytest.raises(StatusError) as taken:
        await _create(store, _svc("x", type="NodePort", ports=[{"port": 1, "nodePort": 30005}]))
    assert taken.value.causes[0].field == "spec.ports[0].nodePort"
    assert taken.value.causes[0].message == "Invalid value: 30005: provided port is already allocated"
    with pytest.raises(StatusError) as outside:
        await _create(store, _svc("y", type="NodePort", ports=[{"port": 1, "nodePort": 99999}]))
    assert outside.value.causes[0].message == (
        "Invalid value: 99999: provided port is not in the valid range. The range of valid ports is 30000-30019"
    )
    # the failed creates gave their cluster IPs back: only np holds one
    assert await _reserved(store, IP_PREFIX) == [svc["spec"]["clusterIP"]]


async def test_type_changes_release_what_the_new_type_does_not_use(store: ObjectStore) -> None:
    info = _info(store, "services")
    svc = await _create(store, _svc("t", type="NodePort"))
    ip = svc["spec"]["clusterIP"]
    assert len(await _reserved(store, PORT_PREFIX)) == 1
    changed = await store.patch(info, NS, "t", patch_type="merge", body={"spec": {"type": "ClusterIP"}}, ctx=Context())
    assert "nodePort" not in changed["spec"]["ports"][0]
    assert changed["spec"]["clusterIP"] == ip
    assert await _reserved(store, PORT_PREFIX) == []
    external = await store.patch(
        info,
        NS,
        "t",
        patch_type="merge",
        body={"spec": {"type": "ExternalName", "externalName": "example.com"}},
        ctx=Context(),
    )
    assert "clusterIP" not in external["spec"]
    assert await _reserved(store, IP_PREFIX) == []
    back = await store.patch(
        info, NS, "t", patch_type="merge", body={"spec": {"type": "NodePort", "externalName": None}}, ctx=Context()
    )
    assert back["spec"]["clusterIP"] and back["spec"]["ports"][0]["nodePort"]
    assert await _reserved(store, IP_PREFIX) == [back["spec"]["clusterIP"]]


async def test_a_put_without_allocated_values_keeps_them(store: ObjectStore) -> None:
    info = _info(store, "services")
    svc = await _create(store, _svc("p", type="NodePort"))
    body = _svc("p", type="NodePort")
    body["spec"]["ports"][0]["name"] = svc["spec"]["ports"][0].get("name", "")
    updated = await store.update(info, NS, "p", body, ctx=Context())
    assert updated["spec"]["clusterIP"] == svc["spec"]["clusterIP"]
    assert updated["spec"]["ports"][0]["nodePort"] == svc["spec"]["ports"][0]["nodePort"]
    assert len(await _reserved(store, PORT_PREFIX)) == 1


async def test_dry_run_and_failed_creates_leak_nothing(store: ObjectStore) -> None:
    dry = await _create(store, _svc("d", type="NodePort"), dry_run=True)
    assert dry["spec"]["clusterIP"] and dry["spec"]["ports"][0]["nodePort"]
    assert await _reserved(store, IP_PREFIX) == [] and await _reserved(store, PORT_PREFIX) == []
    await _create(store, _svc("dup"))
    with pytest.raises(StatusError) as exists:
        await _create(store, _svc("dup", type="NodePort"))
    assert exists.value.reason == "AlreadyExists"
    assert len(await _reserved(store, IP_PREFIX)) == 1 and await _reserved(store, PORT_PREFIX) == []


async def test_a_later_admission_refusal_rolls_the_allocation_back(store: ObjectStore) -> None:
    async def refuse(req: AdmissionRequest) -> None:
        if req.obj is not None and req.obj["metadata"]["name"] == "refused":
            raise StatusError(403, "Forbidden", "no")

    store.validating.append(refuse)
    with pytest.raises(StatusError):
        await _create(store, _svc("refused", type="LoadBalancer", externalTrafficPolicy="Local"))
    assert await _reserved(store, IP_PREFIX) == [] and await _reserved(store, PORT_PREFIX) == []


async def test_local_load_balancer_gets_a_health_check_port(store: ObjectStore) -> None:
    svc = await _create(store, _svc("lb", type="LoadBalancer", externalTrafficPolicy="Local"))
    hc = svc["spec"]["healthCheckNodePort"]
    assert 30000 <= hc <= 30019 and hc != svc["spec"]["ports"][0]["nodePort"]
    assert len(await _reserved(store, PORT_PREFIX)) == 2
    await store.delete(_info(store, "services"), NS, "lb", ctx=Context())
    assert await _reserved(store, PORT_PREFIX) == []


async def test_finalizers_keep_the_allocation_until_the_service_is_gone(store: ObjectStore) -> None:
    info = _info(store, "services")
    svc = await _create(store, {**_svc("f"), "metadata": {"name": "f", "finalizers": ["example.com/keep"]}})
    _, gone = await store.delete(info, NS, "f", ctx=Context())
    assert not gone and await _reserved(store, IP_PREFIX) == [svc["spec"]["clusterIP"]]
    await store.patch(info, NS, "f", patch_type="merge", body={"metadata": {"finalizers": None}}, ctx=Context())
    assert await _reserved(store, IP_PREFIX) == []


async def test_two_allocators_on_one_storage_never_share_an_address(store: ObjectStore) -> None:
    """A second API server on the same storage (its own allocator, its own random sequence)."""
    other = ObjectStore(backend=store.backend, registry=store.registry)
    second = ServiceAllocator(
        backend=store.backend, cluster_ip_range="10.0.0.0/28", node_port_range=(30000, 30019), seed=7
    )
    other.mutating.append(second.admit)
    ips = []
    for i in range(6):
        target = store if i % 2 else other
        created = await target.create(_info(store, "services"), NS, _svc(f"s{i}"), ctx=Context())
        ips.append(created["spec"]["clusterIP"])
    assert len(set(ips)) == 6
    assert await _reserved(store, IP_PREFIX) == sorted(ips)


async def test_a_full_range_is_an_internal_error(store: ObjectStore) -> None:
    for i in range(13):  # 10.0.0.2 .. 10.0.0.14; 10.0.0.1 is the kubernetes Service's
        await _create(store, _svc(f"s{i}"))
    with pytest.raises(StatusError) as full:
        await _create(store, _svc("one-too-many"))
    assert full.value.code == 500 and full.value.message == "failed to allocate a serviceIP: range is full"


async def test_repair_frees_leaks_after_two_runs_and_claims_what_services_hold(store: ObjectStore) -> None:
    svc = await _create(store, _svc("kept", type="NodePort"))
    ip, port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    repair = AllocationRepair(backend=store.backend)
    leak = Reservations(backend=store.backend, prefix=IP_PREFIX)
    assert await leak.claim("10.0.0.9", owner=f"{NS}/crashed")
    # a Service stored without claims (written before allocation existed)
    unclaimed = {**_svc("old", clusterIP="10.0.0.12", clusterIPs=["10.0.0.12"]), "kind": "Service"}
    unclaimed["metadata"]["namespace"] = NS
    await store.backend.create(f"/registry/core/services/{NS}/old", unclaimed)

    await repair.repair()
    assert await _reserved(store, IP_PREFIX) == sorted([ip, "10.0.0.9", "10.0.0.12"])
    await repair.repair()
    assert await _reserved(store, IP_PREFIX) == sorted([ip, "10.0.0.12"])
    assert await _reserved(store, PORT_PREFIX) == [str(port)]
    assert await Reservations(backend=store.backend, prefix=IP_PREFIX).owner("10.0.0.12") == f"{NS}/old"
