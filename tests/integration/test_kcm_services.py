"""The controller manager's endpoints and EndpointSlice controllers against a real API server: a Service over
pods the test marks Ready (no kubelet runs here) gets Endpoints and an EndpointSlice as kube writes them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from gardener.kube_controller_manager.objects import parse_time
from gardener.runtime.kube import Kube
from tests.helpers import ServerProcess, eventually, kubectl, module_server
from tests.kubecomponents import ComponentProcess, controller_manager, register_node

server = module_server("kcm-services")
NS = "shop"
EP = f"/api/v1/namespaces/{NS}/endpoints"
SLICES = f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"
PODS = f"/api/v1/namespaces/{NS}/pods"
SERVICES = f"/api/v1/namespaces/{NS}/services"


@pytest.fixture(scope="module")
def kcm(server: ServerProcess) -> Iterator[ComponentProcess]:
    register_node(server.kubeconfig, "node-1", zone="zone-a")
    register_node(server.kubeconfig, "node-2", zone="zone-b")
    kubectl("create", "namespace", NS, kubeconfig=server.kubeconfig)
    process = controller_manager(
        server.kubeconfig, server.data_dir / "kcm.log", "--controllers=endpoint,endpointslice,serviceaccount"
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def kube(server: ServerProcess) -> Iterator[Kube]:
    client = Kube.from_kubeconfig(server.kubeconfig)
    yield client
    client.close()


def make_pod(kube: Kube, name: str, *, node: str, ip: str, ready: bool) -> None:
    container = {"name": "web", "image": "python:3.12", "ports": [{"name": "http", "containerPort": 8080}]}
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"nodeName": node, "containers": [container]},
    }
    kube.create(PODS, body)
    set_ready(kube, name, ip=ip, ready=ready)


def set_ready(kube: Kube, name: str, *, ip: str, ready: bool) -> None:
    """What the kubelet would write."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = "True" if ready else "False"
    conditions = [{"type": t, "status": status, "lastTransitionTime": now} for t in ("Ready", "ContainersReady")]
    body = {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "conditions": conditions}}
    kube.merge_patch(f"{PODS}/{name}/status", body)


def endpoints(kube: Kube, name: str) -> dict[str, Any]:
    ep = kube.get(f"{EP}/{name}")
    assert ep is not None, f"no Endpoints {name}"
    return ep


def slices(kube: Kube, service: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.list(SLICES, label_selector=f"kubernetes.io/service-name={service}")
    return items


def ips(subsets: list[dict[str, Any]], field: str) -> list[str]:
    return sorted(a["ip"] for s in subsets for a in s.get(field) or [])


def test_a_service_gets_endpoints_and_a_slice_of_its_pods(kcm: ComponentProcess, kube: Kube) -> None:
    make_pod(kube, "web-1", node="node-1", ip="10.10.0.1", ready=True)
    make_pod(kube, "web-2", node="node-2", ip="10.10.0.2", ready=False)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]},
    }
    created = kube.create(SERVICES, service)

    def split() -> dict[str, Any]:
        ep = endpoints(kube, "web")
        subsets = ep.get("subsets") or []
        assert ips(subsets, "addresses") == ["10.10.0.1"] and ips(subsets, "notReadyAddresses") == ["10.10.0.2"]
        return ep

    ep = eventually(split, timeout=20, what="Endpoints with one ready and one not-ready address")
    [subset] = ep["subsets"]
    assert subset["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}], "the named targetPort, resolved"
    ready = subset["addresses"][0]
    assert ready["nodeName"] == "node-1"
    assert {k: ready["targetRef"][k] for k in ("kind", "namespace", "name")} == {
        "kind": "Pod",
        "namespace": NS,
        "name": "web-1",
    }
    assert ep["metadata"]["labels"] == {"tier": "front"}
    trigger = parse_time(ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"])
    assert trigger is not None and trigger >= (parse_time(created["metadata"]["creationTimestamp"]) or 0)

    def one_slice() -> dict[str, Any]:
        found = slices(kube, "web")
        assert len(found) == 1 and len(found[0].get("endpoints") or []) == 2, found
        return found[0]

    es = eventually(one_slice, timeout=20, what="an EndpointSlice with two endpoints")
    assert es["addressType"] == "IPv4"
    assert es["metadata"]["labels"] == {
        "tier": "front",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    [owner] = es["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "Service",
        "web",
        created["metadata"]["uid"],
        True,
    )
    assert es["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    by_pod = {e["targetRef"]["name"]: e for e in es["endpoints"]}
    assert by_pod["web-1"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert by_pod["web-2"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert (by_pod["web-1"]["nodeName"], by_pod["web-1"]["zone"]) == ("node-1", "zone-a")
    assert (by_pod["web-2"]["addresses"], by_pod["web-2"]["zone"]) == (["10.10.0.2"], "zone-b")

    shown = kubectl("get", "endpoints", "web", "-n", NS, kubeconfig=kcm.kubeconfig).stdout
    assert "10.10.0.1:8080" in shown and "10.10.0.2" not in shown, shown

    set_ready(kube, "web-2", ip="10.10.0.2", ready=True)
    eventually(
        lambda: ips(endpoints(kube, "web").get("subsets") or [], "addresses") == ["10.10.0.1", "10.10.0.2"],
        timeout=20,
        what="web-2 ready in the Endpoints",
    )
    eventually(
        lambda: all(e["conditions"]["ready"] for e in one_slice()["endpoints"]),
        timeout=20,
        what="web-2 ready in the slice",
    )
    assert one_slice()["metadata"]["name"] == es["metadata"]["name"], "the slice is updated, not replaced"
    assert kcm.alive(), kcm.log_tail()


def test_selectorless_endpoints_are_left_alone_and_endpoints_go_with_their_service(
    kcm: ComponentProcess, kube: Kube
) -> None:
    manual = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.0.2.7"}], "ports": [{"port": 5432, "protocol": "TCP"}]}],
    }
    kube.create(
        SERVICES,
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "external"}, "spec": {"ports": [{"port": 5432}]}},
    )
    kube.create(EP, manual)
    empty = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "nobody"},
        "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]},
    }
    kube.create(SERVICES, empty)

    def placeholder() -> dict[str, Any]:
        [es] = slices(kube, "nobody")
        assert es["endpoints"] in ([], None) and "ports" not in es
        return es

    eventually(placeholder, timeout=20, what="a placeholder slice for a Service without pods")
    eventually(lambda: kube.get(f"{EP}/nobody") is not None, timeout=20, what="empty Endpoints of nobody")
    # both Services were handled after `external` was created: its Endpoints are as the user wrote them
    assert endpoints(kube, "external")["subsets"] == manual["subsets"]
    assert slices(kube, "external") == []

    kube.delete(f"{SERVICES}/web")
    eventually(lambda: kube.get(f"{EP}/web") is None, timeout=20, what="Endpoints deleted with their Service")
    eventually(lambda: slices(kube, "web") == [], timeout=30, what="slices collected with their Service")
    assert endpoints(kube, "external")["subsets"] == manual["subsets"]
    assert kcm.alive(), kcm.log_tail()
