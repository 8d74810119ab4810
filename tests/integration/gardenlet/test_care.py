"""The care controller against real API servers, without root: the garden, the seed, and a stand-in for a shoot's
API server (one of our API servers on an ephemeral port, not behind a load balancer).

The test plays what would run the control plane: it creates the workloads in the seed namespace as the gardenlet's
components name and label them, and writes their status through the status subresource as a kubelet and the
workload controllers would. The Shoot's status is written as a finished reconcile leaves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from gardener.runtime.kube import Kube, resource_path
from gardener.runtime.pki import KeyPair, issue_client_cert
from gardenlet.care.controller import Care, CareSettings
from gardenlet.components.secrets import ADMIN_CLIENT, ADMIN_GROUP, ADMIN_USER, CA, secret_manifest
from tests.gardens import EXAMPLES, prepare_garden, seed_identity, server_ca
from tests.helpers import ServerProcess, aeventually, create_namespace

T = TypeVar("T")
CORE = "/apis/core.gardener.cloud/v1beta1"
MERGE = "application/merge-patch+json"
PROJECT_NAMESPACE = "garden-dev"
SEED = "local"
CONTROL_PLANE = {"gardener.cloud/role": "controlplane"}
ETCD_SELECTOR = {"app": "etcd-statefulset", "role": "main"}
APISERVER_SELECTOR = {"app": "kubernetes", "role": "apiserver"}
KCM_SELECTOR = {"app": "kubernetes", "role": "controller-manager"}
SETTINGS = CareSettings(period=0.3, request_timeout=3.0)
TYPES = ("APIServerAvailable", "ControlPlaneHealthy", "EveryNodeReady", "SystemComponentsHealthy")


@dataclass
class Landscape:
    garden: Kube
    seed: Kube
    seed_kubeconfig: Path
    #: the stand-in shoot API server and an admin client of it
    shoot_server: ServerProcess
    shoot_kube: Kube
    #: the garden as the gardenlet of seed `local` sees it
    gardenlet_kubeconfig: Path
    #: the shoot's CA and admin certificate, as the secrets manager would have stored them in the seed
    shoot_ca: bytes
    shoot_admin: KeyPair


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landscape]:
    root = tmp_path_factory.mktemp("care")
    servers = [ServerProcess(data_dir=root / name) for name in ("garden", "seed", "shoot")]
    kubes: list[Kube] = []
    try:
        garden_server, seed_server, shoot_server = (s.start() for s in servers)
        kubes += [Kube.from_kubeconfig(s.kubeconfig) for s in (garden_server, seed_server, shoot_server)]
        prepare_garden(garden_server, project_namespace=PROJECT_NAMESPACE)
        create_namespace("kube-system", kubeconfig=shoot_server.kubeconfig)
        shoot_ca = server_ca(shoot_server)
        yield Landscape(
            garden=kubes[0],
            seed=kubes[1],
            seed_kubeconfig=seed_server.kubeconfig,
            shoot_server=shoot_server,
            shoot_kube=kubes[2],
            gardenlet_kubeconfig=seed_identity(garden_server, seed=SEED),
            shoot_ca=shoot_ca.cert_pem,
            shoot_admin=issue_client_cert(shoot_ca, user=ADMIN_USER, groups=[ADMIN_GROUP]),
        )
    finally:
        for kube in kubes:
            kube.close()
        for server in reversed(servers):
            server.stop()


@pytest.fixture
async def care(landscape: Landscape) -> AsyncIterator[Care]:
    """A Care of seed `local` with the gardenlet's garden rights, its loop running."""
    garden = Kube.from_kubeconfig(landscape.gardenlet_kubeconfig, field_manager="gardenlet")
    seed = Kube.from_kubeconfig(landscape.seed_kubeconfig, field_manager="gardenlet")
    controller = Care(garden=garden, seed=seed, seed_name=SEED, settings=SETTINGS)
    loop = asyncio.get_running_loop().create_task(controller.run())
    try:
        yield controller
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        garden.close()
        seed.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _shoot_path(name: str, subresource: str = "") -> str:
    path = f"{CORE}/namespaces/{PROJECT_NAMESPACE}/shoots/{name}"
    return f"{path}/{subresource}" if subresource else path


def _create_shoot(
    landscape: Landscape,
    name: str,
    *,
    url: str,
    hibernated: bool = False,
    last_operation: tuple[str, str] = ("Create", "Succeeded"),
) -> str:
    """A workerless Shoot on seed `local` as a finished flow leaves it, and its seed namespace with the shoot's
    CA and admin certificate; returns the technical ID."""
    manifest = yaml.safe_load((EXAMPLES / "40-shoot-workerless.yaml").read_text())
    manifest["metadata"]["name"] = name
    manifest["spec"]["seedName"] = SEED
    manifest["spec"]["hibernation"] = {"enabled": hibernated}
    landscape.garden.create(f"{CORE}/namespaces/{PROJECT_NAMESPACE}/shoots", manifest)
    technical_id = f"shoot--dev--{name}"
    kind, state = last_operation
    status = {
        "lastOperation": {
            "type": kind,
            "state": state,
            "progress": 100 if state == "Succeeded" else 50,
            "description": "Shoot cluster has been successfully reconciled.",
            "lastUpdateTime": "2025-01-01T00:00:00Z",
        },
        "technicalID": technical_id,
        "seedName": SEED,
        "hibernated": hibernated,
        "advertisedAddresses": [{"name": "external", "url": url}],
    }
    landscape.garden.raw("PATCH", _shoot_path(name, "status"), {"status": status}, content_type=MERGE)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": technical_id}}
    landscape.seed.apply(resource_path("v1", "Namespace"), namespace)
    landscape.seed.server_side_apply(secret_manifest(technical_id, CA, {"ca.crt": landscape.shoot_ca}))
    admin = {"tls.crt": landscape.shoot_admin.cert_pem, "tls.key": landscape.shoot_admin.key_pem}
    landscape.seed.server_side_apply(secret_manifest(technical_id, ADMIN_CLIENT, admin, tls=True))
    return technical_id


def _container(name: str) -> dict[str, Any]:
    return {"containers": [{"name": name, "image": f"registry.k8s.io/{name}:test"}]}


def _workload(kind: str, namespace: str, name: str, selector: dict[str, str], replicas: int) -> dict[str, Any]:
    labels = {**selector, **CONTROL_PLANE}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": labels}, "spec": _container(name)},
    }
    if kind == "StatefulSet":
        spec["serviceName"] = f"{name}-client"
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    }


def _rolled_out(kind: str, replicas: int) -> dict[str, Any]:
    """The status the workload controllers and kubelets report once `replicas` pods run and are ready."""
    if kind == "Deployment":
        return {
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        }
    revision = {"currentRevision": "etcd-main-1", "updateRevision": "etcd-main-1"}
    return {"replicas": replicas, "readyReplicas": replicas, "currentReplicas": replicas, **revision}


def _report(kube: Kube, kind: str, namespace: str, name: str, status: dict[str, Any]) -> None:
    """Write a workload's status through its status subresource, for its current generation."""
    path = resource_path("apps/v1", kind, namespace, name)
    obj = kube.get(path)
    assert obj is not None, path
    body = {"status": {"observedGeneration": obj["metadata"]["generation"], **status}}
    kube.raw("PATCH", f"{path}/status", body, content_type=MERGE)


def _control_plane(landscape: Landscape, namespace: str, *, replicas: int) -> None:
    """etcd-main, kube-apiserver and kube-controller-manager (a workerless shoot has no scheduler) as the
    gardenlet's components create them, rolled out."""
    for kind, name, selector in (
        ("StatefulSet", "etcd-main", ETCD_SELECTOR),
        ("Deployment", "kube-apiserver", APISERVER_SELECTOR),
        ("Deployment", "kube-controller-manager", KCM_SELECTOR),
    ):
        landscape.seed.server_side_apply(_workload(kind, namespace, name, selector, replicas))
        _report(landscape.seed, kind, namespace, name, _rolled_out(kind, replicas))


def _shoot(landscape: Landscape, name: str) -> dict[str, Any]:
    shoot = landscape.garden.get(_shoot_path(name))
    assert shoot is not None
    return shoot


def _conditions(landscape: Landscape, name: str) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (_shoot(landscape, name).get("status") or {}).get("conditions") or []}


def _label(landscape: Landscape, name: str) -> str | None:
    labels: dict[str, str] = _shoot(landscape, name)["metadata"].get("labels") or {}
    return labels.get("shoot.gardener.cloud/status")


def _verdicts(landscape: Landscape, name: str) -> dict[str, tuple[str, str]]:
    return {t: (c["status"], c["reason"]) for t, c in _conditions(landscape, name).items()}


async def _wait_for(
    landscape: Landscape,
    name: str,
    expected: dict[str, tuple[str, str]],
    *,
    label: str,
    messages: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Wait until the Shoot's conditions have these (status, reason) and messages, and its status label is `label`."""

    def seen() -> dict[str, dict[str, Any]]:
        conditions = _conditions(landscape, name)
        verdicts = {t: (c["status"], c["reason"]) for t, c in conditions.items()}
        assert {t: verdicts.get(t) for t in expected} == expected, verdicts
        for ctype, message in (messages or {}).items():
            assert conditions[ctype]["message"] == message, conditions[ctype]
        assert _label(landscape, name) == label, _label(landscape, name)
        return conditions

    return await aeventually(seen, what=f"conditions of {name}")


async def test_a_running_control_plane_is_healthy_and_each_failing_part_is_named(
    landscape: Landscape, care: Care
) -> None:
    name = "running"
    namespace = _create_shoot(landscape, name, url=landscape.shoot_server.url)
    _control_plane(landscape, namespace, replicas=1)
    care.trigger(f"{PROJECT_NAMESPACE}/{name}")
    healthy = await _wait_for(
        landscape,
        name,
        {
            "APIServerAvailable": ("True", "HealthzRequestSucceeded"),
            "ControlPlaneHealthy": ("True", "ControlPlaneRunning"),
            "EveryNodeReady": ("True", "NoWorkers"),
            "SystemComponentsHealthy": ("True", "SystemComponentsRunning"),
        },
        label="healthy",
    )
    assert set(healthy) == set(TYPES), healthy
    # A check that finds nothing new leaves the Shoot alone.
    before = _shoot(landscape, name)["metadata"]["resourceVersion"]
    for _ in range(2):
        assert await care.check(f"{PROJECT_NAMESPACE}/{name}") is True
    assert _shoot(landscape, name)["metadata"]["resourceVersion"] == before

    # The API server's pod is not available any more: the periodic check notices and says which workload.
    _report(landscape.seed, "Deployment", namespace, "kube-apiserver", {"availableReplicas": 0, "readyReplicas": 0})
    unhealthy = await _wait_for(
        landscape,
        name,
        {
            "ControlPlaneHealthy": ("False", "ControlPlaneUnhealthy"),
            "APIServerAvailable": ("True", "HealthzRequestSucceeded"),
        },
        label="unhealthy",
        messages={"ControlPlaneHealthy": "deployment kube-apiserver: 0 of 1 replicas available"},
    )
    assert (
        unhealthy["ControlPlaneHealthy"]["lastTransitionTime"] >= healthy["ControlPlaneHealthy"]["lastTransitionTime"]
    )
    # a condition that did not change keeps its transition time
    for ctype in ("APIServerAvailable", "EveryNodeReady", "SystemComponentsHealthy"):
        assert unhealthy[ctype]["lastTransitionTime"] == healthy[ctype]["lastTransitionTime"], ctype

    # etcd is ready again but rolling out a new revision, the API server back, the controller manager down:
    # every failing part is named
    _report(landscape.seed, "Deployment", namespace, "kube-apiserver", _rolled_out("Deployment", 1))
    _report(landscape.seed, "StatefulSet", namespace, "etcd-main", {"updateRevision": "etcd-main-2"})
    _report(landscape.seed, "Deployment", namespace, "kube-controller-manager", {"availableReplicas": 0})
    await _wait_for(
        landscape,
        name,
        {"ControlPlaneHealthy": ("False", "ControlPlaneUnhealthy")},
        label="unhealthy",
        messages={
            "ControlPlaneHealthy": "deployment kube-controller-manager: 0 of 1 replicas available; "
            "statefulset etcd-main: rolling out revision etcd-main-2"
        },
    )

    # etcd and the controller manager are gone altogether
    landscape.seed.delete(resource_path("apps/v1", "StatefulSet", namespace, "etcd-main"))
    landscape.seed.delete(resource_path("apps/v1", "Deployment", namespace, "kube-controller-manager"))
    await _wait_for(
        landscape,
        name,
        {"ControlPlaneHealthy": ("False", "ControlPlaneMissing")},
        label="unhealthy",
        messages={
            "ControlPlaneHealthy": "Missing control plane components: StatefulSet/etcd-main, "
            "Deployment/kube-controller-manager."
        },
    )

    # and back: healthy again
    _control_plane(landscape, namespace, replicas=1)
    await _wait_for(landscape, name, {"ControlPlaneHealthy": ("True", "ControlPlaneRunning")}, label="healthy")

    # A system component inside the shoot that has not rolled out.
    system = _workload("Deployment", "kube-system", "coredns", {"k8s-app": "kube-dns"}, 2)
    landscape.shoot_kube.server_side_apply(system)
    try:
        _report(
            landscape.shoot_kube,
            "Deployment",
            "kube-system",
            "coredns",
            {**_rolled_out("Deployment", 2), "availableReplicas": 1},
        )
        await _wait_for(
            landscape,
            name,
            {
                "SystemComponentsHealthy": ("False", "SystemComponentsUnhealthy"),
                "ControlPlaneHealthy": ("True", "ControlPlaneRunning"),
            },
            label="unhealthy",
            messages={"SystemComponentsHealthy": "deployment coredns: 1 of 2 replicas available"},
        )
    finally:
        landscape.shoot_kube.delete(resource_path("apps/v1", "Deployment", "kube-system", "coredns"))


async def test_an_api_server_that_cannot_be_reached_is_not_available(landscape: Landscape, care: Care) -> None:
    name = "unreachable"
    port = _closed_port()
    namespace = _create_shoot(landscape, name, url=f"https://127.0.0.1:{port}")
    _control_plane(landscape, namespace, replicas=1)
    care.trigger(f"{PROJECT_NAMESPACE}/{name}")
    conditions = await _wait_for(
        landscape,
        name,
        {
            "APIServerAvailable": ("False", "HealthzRequestFailed"),
            "ControlPlaneHealthy": ("True", "ControlPlaneRunning"),
            "EveryNodeReady": ("True", "NoWorkers"),  # a workerless shoot has no nodes to look at
            "SystemComponentsHealthy": ("Unknown", "APIServerDown"),
        },
        label="unhealthy",
    )
    assert conditions["APIServerAvailable"]["message"] == (
        f"API server /healthz cannot be reached: ConnectionRefusedError: [Errno 111] Connect call failed "
        f"('127.0.0.1', {port})"
    )
    # The same failure again changes nothing, so the Shoot is not written again.
    before = _shoot(landscape, name)["metadata"]["resourceVersion"]
    for _ in range(2):
        assert await care.check(f"{PROJECT_NAMESPACE}/{name}") is True
    assert _shoot(landscape, name)["metadata"]["resourceVersion"] == before

    # An API server that answers with a certificate the shoot's CA did not sign is not the shoot's API server:
    # the seed namespace holds another CA (the garden's) than the one that signed the stand-in's certificate.
    other = {"ca.crt": (landscape.gardenlet_kubeconfig.parent / "pki" / "ca.crt").read_bytes()}
    landscape.seed.server_side_apply(secret_manifest(namespace, CA, other))
    landscape.garden.raw(
        "PATCH",
        _shoot_path(name, "status"),
        {"status": {"advertisedAddresses": [{"name": "external", "url": landscape.shoot_server.url}]}},
        content_type=MERGE,
    )

    def untrusted() -> str:
        condition = _conditions(landscape, name)["APIServerAvailable"]
        assert (condition["status"], condition["reason"]) == ("False", "HealthzRequestFailed"), condition
        assert "CERTIFICATE_VERIFY_FAILED" in condition["message"], condition
        return str(condition["message"])

    await aeventually(untrusted, what="APIServerAvailable False for a foreign certificate")


async def test_a_hibernated_shoot_is_healthy_only_when_its_control_plane_is_really_down(
    landscape: Landscape, care: Care
) -> None:
    name = "sleeping"
    # Hibernated: nothing of the shoot is to be reached, so its address must not matter.
    namespace = _create_shoot(landscape, name, url=f"https://127.0.0.1:{_closed_port()}", hibernated=True)
    _control_plane(landscape, namespace, replicas=0)
    care.trigger(f"{PROJECT_NAMESPACE}/{name}")
    await _wait_for(
        landscape,
        name,
        {t: ("True", "ShootHibernated") for t in TYPES},
        label="healthy",
        messages={"ControlPlaneHealthy": "Shoot cluster is hibernated: its control plane is scaled down."},
    )

    # etcd scaled up again while the shoot is meant to sleep
    etcd = _workload("StatefulSet", namespace, "etcd-main", ETCD_SELECTOR, 1)
    landscape.seed.server_side_apply(etcd)
    _report(landscape.seed, "StatefulSet", namespace, "etcd-main", _rolled_out("StatefulSet", 1))
    await _wait_for(
        landscape,
        name,
        {
            "ControlPlaneHealthy": ("False", "HibernationIncomplete"),
            **{
                t: ("True", "ShootHibernated")
                for t in ("APIServerAvailable", "EveryNodeReady", "SystemComponentsHealthy")
            },
        },
        label="unhealthy",
        messages={"ControlPlaneHealthy": "Shoot is hibernated, but: StatefulSet/etcd-main wants 1 replicas."},
    )

    # scaled down, but its replica and pod are still there
    landscape.seed.server_side_apply(_workload("StatefulSet", namespace, "etcd-main", ETCD_SELECTOR, 0))
    _report(landscape.seed, "StatefulSet", namespace, "etcd-main", {"replicas": 1, "readyReplicas": 1})
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "etcd-main-0", "namespace": namespace, "labels": {**ETCD_SELECTOR, **CONTROL_PLANE}},
        "spec": _container("etcd"),
    }
    landscape.seed.create(resource_path("v1", "Pod", namespace), pod)
    pod_path = resource_path("v1", "Pod", namespace, "etcd-main-0")
    landscape.seed.raw("PATCH", f"{pod_path}/status", {"status": {"phase": "Running"}}, content_type=MERGE)

    def draining() -> str:
        condition = _conditions(landscape, name)["ControlPlaneHealthy"]
        expected = "Shoot is hibernated, but: StatefulSet/etcd-main still has 1 replicas; pods etcd-main-0 still exist."
        assert condition["message"] == expected, condition
        assert condition["reason"] == "HibernationIncomplete", condition
        return str(condition["message"])

    await aeventually(draining, what="hibernation incomplete while a replica runs")

    # the replica goes, its pod has terminated: hibernated, healthy
    _report(landscape.seed, "StatefulSet", namespace, "etcd-main", {"replicas": 0, "readyReplicas": 0})
    landscape.seed.raw("PATCH", f"{pod_path}/status", {"status": {"phase": "Succeeded"}}, content_type=MERGE)
    await _wait_for(landscape, name, {"ControlPlaneHealthy": ("True", "ShootHibernated")}, label="healthy")


async def test_shoots_being_created_or_deleted_are_left_to_the_shoot_controller(landscape: Landscape) -> None:
    garden = Kube.from_kubeconfig(landscape.gardenlet_kubeconfig, field_manager="gardenlet")
    seed = Kube.from_kubeconfig(landscape.seed_kubeconfig, field_manager="gardenlet")
    care = Care(garden=garden, seed=seed, seed_name=SEED, settings=SETTINGS)
    try:
        name = "creating"
        namespace = _create_shoot(
            landscape, name, url=landscape.shoot_server.url, last_operation=("Create", "Processing")
        )
        _control_plane(landscape, namespace, replicas=1)
        key = f"{PROJECT_NAMESPACE}/{name}"
        assert await care.check(key) is True  # keep looking: it is ours, just not yet
        assert not _conditions(landscape, name)

        # the Create succeeded: now it is checked
        done = {"lastOperation": {**_shoot(landscape, name)["status"]["lastOperation"], "state": "Succeeded"}}
        landscape.garden.raw("PATCH", _shoot_path(name, "status"), {"status": done}, content_type=MERGE)
        assert await care.check(key) is True
        assert _verdicts(landscape, name)["ControlPlaneHealthy"] == ("True", "ControlPlaneRunning")

        # deletion began: care stops looking and writes nothing more
        landscape.garden.merge_patch(
            _shoot_path(name),
            {"metadata": {"finalizers": ["gardener"], "annotations": {"confirmation.gardener.cloud/deletion": "true"}}},
        )
        landscape.garden.delete(_shoot_path(name))
        before = _shoot(landscape, name)
        landscape.seed.delete(resource_path("apps/v1", "StatefulSet", namespace, "etcd-main"))
        assert await care.check(key) is False
        after = _shoot(landscape, name)
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        landscape.garden.merge_patch(_shoot_path(name), {"metadata": {"finalizers": None}})
        assert await care.check(key) is False  # gone
    finally:
        garden.close()
        seed.close()
