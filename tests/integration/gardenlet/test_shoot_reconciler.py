"""The shoot reconciler against a real garden API server and a real seed API server, without root.

No node agent runs on the seed, so no pod ever starts: etcd never becomes ready, and the flow must say so in the
Shoot. The only stand-in is the cloud's load balancer controller (`_load_balancer`), which gives the API server's
Service an address the way a cloud would. The seed has the extension CRDs, but the garden registers no extension,
so the flow must refuse to wait for the Infrastructure and DNSRecord nothing would ever reconcile. Deleting such a
half-built Shoot must still remove everything: its deletion flow needs no running pod.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from gardener.apis.extensions.crds import extensions_crds
from gardener.local.garden import install_crds
from gardener.runtime.controller import Result
from gardener.runtime.kube import Kube, resource_path
from gardenlet.botanist.profile import SeedProfile
from gardenlet.care.controller import CareSettings
from gardenlet.components import secrets as secret_names
from gardenlet.components.base import Timeouts
from gardenlet.flow import RetryPolicy
from gardenlet.shoot.controller import ShootControllerSettings, run_shoot_controller
from gardenlet.shoot.flow import FlowSettings
from gardenlet.shoot.reconciler import ShootReconciler
from tests.gardens import EXAMPLES, prepare_garden, seed_identity
from tests.helpers import ServerProcess, aeventually

T = TypeVar("T")
CORE = "/apis/core.gardener.cloud/v1beta1"
EXTENSIONS = "/apis/extensions.gardener.cloud/v1alpha1"
PROJECT_NAMESPACE = "garden-dev"
SEED = "local"
#: what the stand-in load balancer controller hands out (TEST-NET-1: nothing answers there, nothing needs to)
LB_ADDRESS = "192.0.2.10"
#: a flow that gives up within seconds: etcd cannot become ready without a node agent
FLOW = FlowSettings(
    components=Timeouts(ready=1.0, gone=30.0, interval=0.2),
    extensions=Timeouts(ready=1.0, gone=30.0, interval=0.2),
    namespace=Timeouts(ready=10.0, gone=60.0, interval=0.2),
    retry=RetryPolicy(timeout=1.5, interval=0.2, backoff=2.0, max_interval=0.5),
)
BACKOFF = (30.0, 60.0)


@dataclass
class Landscape:
    garden: ServerProcess
    seed: ServerProcess
    #: the test's own clients, with admin rights
    garden_kube: Kube
    seed_kube: Kube
    #: the garden as the gardenlet of seed `local` sees it (a seed's rights only)
    gardenlet_kubeconfig: Path


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landscape]:
    root = tmp_path_factory.mktemp("shoot-reconciler")
    garden = ServerProcess(data_dir=root / "garden").start()
    seed = ServerProcess(data_dir=root / "seed").start()
    garden_kube = Kube.from_kubeconfig(garden.kubeconfig)
    seed_kube = Kube.from_kubeconfig(seed.kubeconfig)
    try:
        prepare_garden(garden, project_namespace=PROJECT_NAMESPACE)
        install_crds(seed.kubeconfig, crds=extensions_crds(), timeout=60)
        yield Landscape(
            garden=garden,
            seed=seed,
            garden_kube=garden_kube,
            seed_kube=seed_kube,
            gardenlet_kubeconfig=seed_identity(garden, seed=SEED),
        )
    finally:
        garden_kube.close()
        seed_kube.close()
        seed.stop()
        garden.stop()


def _reconciler(landscape: Landscape) -> tuple[ShootReconciler, Kube, Kube]:
    garden = Kube.from_kubeconfig(landscape.gardenlet_kubeconfig, field_manager="gardenlet")
    seed = Kube.from_kubeconfig(landscape.seed.kubeconfig, field_manager="gardenlet")
    reconciler = ShootReconciler(
        garden=garden, seed=seed, seed_name=SEED, profile=SeedProfile(), settings=FLOW, backoff=BACKOFF
    )
    return reconciler, garden, seed


def _create_shoot(landscape: Landscape, name: str) -> None:
    manifest = yaml.safe_load((EXAMPLES / "40-shoot-workerless.yaml").read_text())
    manifest["metadata"]["name"] = name
    manifest["spec"]["seedName"] = SEED
    landscape.garden_kube.create(f"{CORE}/namespaces/{PROJECT_NAMESPACE}/shoots", manifest)


def _shoot(landscape: Landscape, name: str) -> dict[str, Any] | None:
    return landscape.garden_kube.get(f"{CORE}/namespaces/{PROJECT_NAMESPACE}/shoots/{name}")


async def _load_balancer(seed: Kube, namespace: str) -> None:
    """The cloud's load balancer controller, for the one Service the flow waits on: an address in its status."""
    path = resource_path("v1", "Service", namespace, "kube-apiserver")
    while await seed.aget(path) is None:
        await asyncio.sleep(0.1)
    await seed.araw(
        "PATCH",
        f"{path}/status",
        {"status": {"loadBalancer": {"ingress": [{"ip": LB_ADDRESS}]}}},
        content_type="application/merge-patch+json",
    )


def _events(landscape: Landscape, name: str) -> list[dict[str, Any]]:
    listed = landscape.garden_kube.raw("GET", resource_path("v1", "Event", PROJECT_NAMESPACE)) or {}
    return [e for e in listed.get("items") or [] if e["involvedObject"]["name"] == name]


async def test_a_flow_that_cannot_finish_reports_error_and_deletion_still_cleans_up(landscape: Landscape) -> None:
    name = "stuck"
    namespace = f"shoot--dev--{name}"
    key = f"{PROJECT_NAMESPACE}/{name}"
    _create_shoot(landscape, name)
    reconciler, garden, seed = _reconciler(landscape)
    try:
        result, _ = await asyncio.wait_for(
            asyncio.gather(reconciler.reconcile(key), _load_balancer(landscape.seed_kube, namespace)), timeout=120
        )
        # A retryable failure: the reconciler asks to be called again after its backoff.
        assert isinstance(result, Result) and result.requeue_after == BACKOFF[0], result

        shoot = _shoot(landscape, name)
        assert shoot is not None
        status = shoot["status"]
        last = status["lastOperation"]
        assert (last["type"], last["state"]) == ("Create", "Error"), last
        assert 0 < last["progress"] < 100, last
        assert last["description"].startswith("Flow failed in tasks "), last
        assert last["description"].endswith("; will retry."), last
        errors = {e["taskID"]: e for e in status["lastErrors"]}
        assert set(errors) == {"deploy-infrastructure", "deploy-internal-dns-record", "wait-etcd"}, errors
        infrastructure = errors["deploy-infrastructure"]["description"]
        assert infrastructure.startswith("gave up after 1.5s, last error: no extension is registered for "), errors
        assert "Infrastructure of type 'local'" in infrastructure, errors
        assert "DNSRecord of type 'local'" in errors["deploy-internal-dns-record"]["description"], errors
        # no controller of the seed acts on the StatefulSet, let alone a kubelet
        assert "etcd ready not done after 1s: statefulset etcd-main: " in errors["wait-etcd"]["description"], errors
        assert all("codes" not in e for e in errors.values()), errors  # retryable: no Gardener error code
        for task in errors:
            assert task in last["description"], last
        assert status["technicalID"] == namespace
        assert status["seedName"] == SEED
        assert status["observedGeneration"] == shoot["metadata"]["generation"]
        assert status["retryCycleStartTime"]
        assert "gardener" in shoot["metadata"]["finalizers"]
        assert shoot["metadata"]["labels"]["shoot.gardener.cloud/status"] == "unhealthy"

        events = _events(landscape, name)
        assert ("Normal", "Creating") in {(e["type"], e["reason"]) for e in events}, events
        warnings = [e for e in events if e["type"] == "Warning"]
        assert [e["reason"] for e in warnings] == ["ReconcileError"], warnings
        assert 'task "wait-etcd" failed' in warnings[0]["message"], warnings

        # What the flow got to build is in the seed, and nothing of what it could not.
        ns = landscape.seed_kube.get(resource_path("v1", "Namespace", name=namespace))
        assert ns is not None and ns["metadata"]["labels"]["shoot.gardener.cloud/name"] == name, ns
        secrets = {s["metadata"]["name"] for s in landscape.seed_kube.list(resource_path("v1", "Secret", namespace))}
        assert set(secret_names.ALL) | {"cloudprovider"} <= secrets, secrets
        etcd = landscape.seed_kube.get(resource_path("apps/v1", "StatefulSet", namespace, "etcd-main"))
        assert etcd is not None and etcd["spec"]["replicas"] == 1, etcd
        assert landscape.seed_kube.get(resource_path("v1", "Service", namespace, "etcd-main-client")) is not None
        assert landscape.seed_kube.get(f"{EXTENSIONS}/clusters/{namespace}") is not None
        for deployment in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            assert landscape.seed_kube.get(resource_path("apps/v1", "Deployment", namespace, deployment)) is None
        # the controller manager's kubeconfig points at the API server's in-seed (cluster) address
        kcm_access = landscape.seed_kube.get(resource_path("v1", "Secret", namespace, secret_names.KCM_KUBECONFIG))
        service = landscape.seed_kube.get(resource_path("v1", "Service", namespace, "kube-apiserver"))
        assert kcm_access is not None and service is not None
        kcm_kubeconfig = yaml.safe_load(base64.b64decode(kcm_access["data"]["kubeconfig"]))
        assert kcm_kubeconfig["clusters"][0]["cluster"]["server"] == f"https://{service['spec']['clusterIP']}"
        assert landscape.seed_kube.get(f"{EXTENSIONS}/namespaces/{namespace}/infrastructures/{name}") is None
        assert not landscape.seed_kube.list(f"{EXTENSIONS}/namespaces/{namespace}/dnsrecords")
        # The user's kubeconfig is published with the load balancer's address.
        published = landscape.garden_kube.get(resource_path("v1", "Secret", PROJECT_NAMESPACE, f"{name}.kubeconfig"))
        assert published is not None
        kubeconfig = base64.b64decode(published["data"]["kubeconfig"]).decode()
        assert f"server: https://{LB_ADDRESS}" in kubeconfig, kubeconfig

        # Within the backoff, a second call runs no flow (the status it wrote itself is no reason to).
        before = _shoot(landscape, name)
        assert before is not None
        again = await reconciler.reconcile(key)
        assert isinstance(again, Result) and again.requeue_after is not None
        assert 0 < again.requeue_after <= BACKOFF[0], again
        after = _shoot(landscape, name)
        assert after is not None and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]

        # Deletion of the half-built Shoot: no pod has to run for its control plane to go.
        landscape.garden_kube.merge_patch(
            f"{CORE}/namespaces/{PROJECT_NAMESPACE}/shoots/{name}",
            {"metadata": {"annotations": {"confirmation.gardener.cloud/deletion": "true"}}},
        )
        landscape.garden_kube.delete(f"{CORE}/namespaces/{PROJECT_NAMESPACE}/shoots/{name}")
        deleting = _shoot(landscape, name)
        assert deleting is not None and deleting["metadata"].get("deletionTimestamp"), deleting
        assert await asyncio.wait_for(reconciler.reconcile(key), timeout=120) is None
        assert _shoot(landscape, name) is None  # the finalizer is gone, and with it the Shoot
        assert landscape.seed_kube.get(resource_path("v1", "Namespace", name=namespace)) is None
        assert landscape.seed_kube.get(f"{EXTENSIONS}/clusters/{namespace}") is None
        gone = landscape.garden_kube.get(resource_path("v1", "Secret", PROJECT_NAMESPACE, f"{name}.kubeconfig"))
        assert gone is None
        reasons = [(e["type"], e["reason"]) for e in _events(landscape, name)]
        assert ("Normal", "Deleting") in reasons and ("Normal", "Deleted") in reasons, reasons
        # Nothing is left to do for a Shoot that is gone.
        assert await reconciler.reconcile(key) is None
    finally:
        garden.close()
        seed.close()


async def test_the_shoot_controller_loop_picks_up_creation_and_deletion(landscape: Landscape) -> None:
    """`run_shoot_controller` as the gardenlet runs it (its informer, queue and retries), given the seed profile
    because no node registers without a node agent."""
    name = "looped"
    namespace = f"shoot--dev--{name}"
    settings = ShootControllerSettings(
        workers=2, backoff=(0.5, 2.0), flow=FLOW, care=CareSettings(period=0.5, request_timeout=1.0)
    )
    controller = asyncio.get_running_loop().create_task(
        run_shoot_controller(
            garden_kubeconfig=landscape.gardenlet_kubeconfig,
            seed_kubeconfig=landscape.seed.kubeconfig,
            seed_name=SEED,
            settings=settings,
            profile=SeedProfile(),
        )
    )
    try:
        _create_shoot(landscape, name)
        await _load_balancer(landscape.seed_kube, namespace)

        def failed() -> dict[str, Any]:
            shoot = _shoot(landscape, name)
            assert shoot is not None
            status = shoot.get("status") or {}
            assert (status.get("lastOperation") or {}).get("state") == "Error", status.get("lastOperation")
            assert "wait-etcd" in {e["taskID"] for e in status.get("lastErrors") or []}, status.get("lastErrors")
            return shoot

        await aeventually(failed, what="the flow failed and said where", timeout=60.0)
        # retried after the backoff, without anyone asking: another ReconcileError
        await aeventually(
            lambda: [e["reason"] for e in _events(landscape, name)].count("ReconcileError") >= 2,
            what="a retry after the backoff",
            timeout=60.0,
        )

        path = f"{CORE}/namespaces/{PROJECT_NAMESPACE}/shoots/{name}"
        landscape.garden_kube.merge_patch(
            path, {"metadata": {"annotations": {"confirmation.gardener.cloud/deletion": "true"}}}
        )
        landscape.garden_kube.delete(path)
        await aeventually(lambda: _shoot(landscape, name) is None, what="the shoot deleted", timeout=60.0)
        assert landscape.seed_kube.get(resource_path("v1", "Namespace", name=namespace)) is None
        assert controller.done() is False  # the loop keeps serving
    finally:
        controller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await controller
