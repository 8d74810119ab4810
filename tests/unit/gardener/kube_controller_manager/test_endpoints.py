"""Endpoints and EndpointSlices computed from Services and pods as upstream's controllers compute them."""

from __future__ import annotations

from typing import Any

from gardener.kube_controller_manager.endpoints import (
    TriggerTimeTracker,
    build_subsets,
    find_port,
    format_time,
    selects,
    should_be_in_endpoints,
    truncate,
)
from gardener.kube_controller_manager.endpointslice import (
    endpoint_ports,
    plan_slices,
    pod_endpoint,
    slice_labels,
)
from gardener.kube_controller_manager.serviceaccount import missing_accounts

SVC_UID = "svc-uid"


def service(*, ports: list[dict[str, Any]] | None = None, cluster_ip: str = "10.0.0.1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "uid": SVC_UID,
            "labels": {"app": "web", "endpointslice.kubernetes.io/managed-by": "someone"},
            "creationTimestamp": "2024-01-01T00:00:00Z",
        },
        "spec": {
            "selector": {"app": "web"},
            "clusterIP": cluster_ip,
            "ipFamilies": ["IPv4"],
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
            if ports is None
            else ports,
            **spec,
        },
    }


def pod(
    name: str, ip: str | None, *, ready: bool = True, node: str = "n1", terminating: bool = False, **spec: Any
) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if terminating:
        m["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": "2024-01-02T00:00:00Z"}
        ],
    }
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    containers = [{"name": "c", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]
    return {"metadata": m, "spec": {"nodeName": node, "containers": containers, **spec}, "status": status}


def test_ports_resolve_by_number_by_name_and_through_sidecars() -> None:
    p = pod("a", "10.1.0.1")
    assert find_port(p, {"port": 80, "targetPort": 9000}) == 9000
    assert find_port(p, {"port": 80}) == 80, "no targetPort: the port itself"
    assert find_port(p, {"port": 80, "targetPort": "http"}) == 8080
    assert find_port(p, {"port": 80, "targetPort": "http", "protocol": "UDP"}) is None, "the protocol must match too"
    assert find_port(p, {"port": 80, "targetPort": "metrics"}) is None
    sidecar = {"name": "s", "restartPolicy": "Always", "ports": [{"name": "metrics", "containerPort": 9090}]}
    plain_init = {"name": "i", "ports": [{"name": "setup", "containerPort": 7070}]}
    p["spec"]["initContainers"] = [sidecar, plain_init]
    assert find_port(p, {"port": 80, "targetPort": "metrics"}) == 9090
    assert find_port(p, {"port": 80, "targetPort": "setup"}) is None, "plain init containers serve nothing"


def test_selection_and_membership() -> None:
    assert selects(service(), {"app": "web", "x": "y"})
    assert not selects(service(), {"app": "db"})
    assert not selects({"spec": {}}, {"app": "web"}), "no selector selects nothing"
    assert selects({"spec": {"selector": {}}}, {"any": "thing"})
    assert not should_be_in_endpoints(pod("a", None), include_terminating=False)
    assert not should_be_in_endpoints(pod("a", "10.1.0.1", terminating=True), include_terminating=False)
    assert should_be_in_endpoints(pod("a", "10.1.0.1", terminating=True), include_terminating=True)
    done = pod("a", "10.1.0.1")
    done["status"]["phase"] = "Succeeded"
    assert not should_be_in_endpoints(done, include_terminating=True)


def test_subsets_split_ready_and_not_ready_addresses() -> None:
    pods = [
        pod("b", "10.1.0.2", ready=False, node="n2"),
        pod("a", "10.1.0.1"),
        pod("c", None),
        pod("d", "10.1.0.4", terminating=True),
    ]
    subsets = build_subsets(service(), pods)
    assert subsets == [
        {
            "addresses": [
                {
                    "ip": "10.1.0.1",
                    "nodeName": "n1",
                    "targetRef": {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"},
                }
            ],
            "notReadyAddresses": [
                {
                    "ip": "10.1.0.2",
                    "nodeName": "n2",
                    "targetRef": {"kind": "Pod", "namespace": "ns", "name": "b", "uid": "uid-b"},
                }
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
    ]
    published = build_subsets(service(publishNotReadyAddresses=True), pods)
    assert [a["ip"] for a in published[0]["addresses"]] == ["10.1.0.1", "10.1.0.2", "10.1.0.4"]
    assert "notReadyAddresses" not in published[0]


def test_subsets_group_pods_by_the_ports_they_offer() -> None:
    other = pod("z", "10.1.0.9")
    other["spec"]["containers"][0]["ports"][0]["containerPort"] = 9999
    ports = [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "fixed", "port": 81, "targetPort": 7000, "protocol": "TCP", "appProtocol": "h2c"},
    ]
    subsets = build_subsets(service(ports=ports), [pod("a", "10.1.0.1"), pod("b", "10.1.0.2"), other])
    shapes = sorted(([a["ip"] for a in s["addresses"]], [p["port"] for p in s["ports"]]) for s in subsets)
    assert shapes == [
        (["10.1.0.1", "10.1.0.2"], [8080]),
        (["10.1.0.1", "10.1.0.2", "10.1.0.9"], [7000]),
        (["10.1.0.9"], [9999]),
    ], "one subset per set of addresses offering the same ports"
    fixed = next(p for s in subsets for p in s["ports"] if p["port"] == 7000)
    assert fixed == {"name": "fixed", "port": 7000, "protocol": "TCP", "appProtocol": "h2c"}


def test_headless_services_without_ports_still_list_addresses() -> None:
    subsets = build_subsets(service(ports=[], cluster_ip="None"), [pod("a", "10.1.0.1", hostname="a", subdomain="web")])
    assert subsets == [
        {
            "addresses": [
                {
                    "ip": "10.1.0.1",
                    "nodeName": "n1",
                    "targetRef": {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"},
                    "hostname": "a",
                }
            ]
        }
    ]
    assert build_subsets(service(ports=[]), [pod("a", "10.1.0.1")]) == [], "a portless Service with an IP: none"


def test_truncation_keeps_ready_addresses_first() -> None:
    def addresses(n: int, prefix: str) -> list[dict[str, Any]]:
        return [{"ip": f"{prefix}.{i}"} for i in range(n)]

    subsets = [
        {"addresses": addresses(600, "a"), "notReadyAddresses": addresses(300, "b")},
        {"addresses": addresses(200, "c")},
    ]
    assert truncate(subsets, capacity=1000)
    assert len(subsets[0]["addresses"]) == 600 and len(subsets[1]["addresses"]) == 200
    assert len(subsets[0]["notReadyAddresses"]) == 200
    small = [{"addresses": addresses(3, "a")}]
    assert not truncate(small, capacity=1000)


def test_trigger_time_is_the_earliest_unreflected_change() -> None:
    tracker = TriggerTimeTracker()
    svc = service()
    pods = [pod("a", "10.1.0.1")]
    assert format_time(tracker.compute(svc, pods) or 0) == "2024-01-01T00:00:00Z", "new Service: its creation"
    assert tracker.compute(svc, pods) is None, "nothing changed since"
    moved = pod("a", "10.1.0.1")
    moved["status"]["conditions"][0]["lastTransitionTime"] = "2024-01-03T00:00:00.5Z"
    assert format_time(tracker.compute(svc, [moved]) or 0) == "2024-01-03T00:00:00.5Z"
    tracker.delete("ns", "web")
    assert format_time(tracker.compute(svc, [moved]) or 0) == "2024-01-01T00:00:00Z"


# ---- EndpointSlices ----


def test_slice_endpoints_carry_conditions_node_zone_and_pod() -> None:
    node = {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}}}
    endpoint = pod_endpoint(pod("a", "10.1.0.1"), node, service(), "IPv4")
    assert endpoint == {
        "addresses": ["10.1.0.1"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"},
        "nodeName": "n1",
        "zone": "z1",
    }
    leaving = pod_endpoint(pod("a", "10.1.0.1", terminating=True), None, service(), "IPv4")
    assert leaving["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert "zone" not in leaving
    published = pod_endpoint(pod("a", "10.1.0.1", ready=False), None, service(publishNotReadyAddresses=True), "IPv4")
    assert published["conditions"] == {"ready": True, "serving": False, "terminating": False}
    assert pod_endpoint(pod("a", "10.1.0.1"), None, service(), "IPv6")["addresses"] == []
    assert endpoint_ports(service(ports=[{"port": 80, "targetPort": 8080}]), pod("a", "1.2.3.4")) == [
        {"name": "", "port": 8080, "protocol": "TCP"}
    ]


def test_slice_labels_keep_the_reserved_ones_for_the_controller() -> None:
    assert slice_labels(service()) == {
        "app": "web",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert slice_labels(service(cluster_ip="None"))["service.kubernetes.io/headless"] == ""


def _endpoints(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        pod_endpoint(pod(f"p{i:03d}", f"10.1.{i // 250}.{i % 250}"), None, service(), "IPv4")
        for i in range(start, start + n)
    ]


PORTS = [{"name": "http", "port": 8080, "protocol": "TCP"}]
KEY = (("http", 8080, "TCP", ""),)


def _existing(
    name: str, endpoints: list[dict[str, Any]], *, ports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    owner = {"apiVersion": "v1", "kind": "Service", "name": "web", "uid": SVC_UID, "controller": True}
    body: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "resourceVersion": "7",
            "labels": slice_labels(service()),
            "ownerReferences": [owner],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
    }
    if ports:
        body["ports"] = ports
    return body


def test_a_new_service_gets_slices_of_at_most_the_maximum() -> None:
    plan = plan_slices(service(), {KEY: (PORTS, _endpoints(250))}, [], address_type="IPv4", max_per_slice=100)
    assert [len(s["endpoints"]) for s in plan.create] == [100, 100, 50]
    assert not plan.update and not plan.delete
    body = plan.create[0]
    assert body["metadata"]["generateName"] == "web-" and body["addressType"] == "IPv4" and body["ports"] == PORTS
    ref = body["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("Service", "web", SVC_UID, True)


def test_a_service_without_endpoints_keeps_one_placeholder() -> None:
    plan = plan_slices(service(), {}, [], address_type="IPv4")
    assert len(plan.create) == 1 and plan.create[0]["endpoints"] == [] and "ports" not in plan.create[0]
    again = plan_slices(service(), {}, [_existing("web-p", [])], address_type="IPv4")
    assert not again.create and not again.update and not again.delete, "the placeholder stays as it is"


def test_the_placeholder_is_reused_when_endpoints_come() -> None:
    plan = plan_slices(service(), {KEY: (PORTS, _endpoints(2))}, [_existing("web-p", [])], address_type="IPv4")
    assert not plan.create and not plan.delete
    [update] = plan.update
    assert update["metadata"]["name"] == "web-p" and update["metadata"]["resourceVersion"] == "7"
    assert len(update["endpoints"]) == 2 and update["ports"] == PORTS


def test_changes_touch_as_few_slices_as_possible() -> None:
    full = _existing("web-a", _endpoints(100), ports=PORTS)
    half = _existing("web-b", _endpoints(50, 100), ports=PORTS)
    desired = _endpoints(100) + _endpoints(49, 100) + _endpoints(3, 200)
    desired[0] = {**desired[0], "conditions": {"ready": False, "serving": False, "terminating": False}}
    plan = plan_slices(service(), {KEY: (PORTS, desired)}, [full, half], address_type="IPv4", max_per_slice=100)
    assert not plan.create and not plan.delete
    names = sorted(s["metadata"]["name"] for s in plan.update)
    assert names == ["web-a", "web-b"]
    by_name = {s["metadata"]["name"]: s for s in plan.update}
    assert by_name["web-a"]["endpoints"][0]["conditions"]["ready"] is False
    assert len(by_name["web-b"]["endpoints"]) == 52, "the new endpoints fill the slice already being written"
    unchanged = plan_slices(service(), {KEY: (PORTS, _endpoints(150))}, [full, half], address_type="IPv4")
    assert not unchanged.create and not unchanged.update and not unchanged.delete


def test_slices_of_other_ports_or_owners_go() -> None:
    stranger = _existing("web-x", _endpoints(1), ports=PORTS)
    stranger["metadata"]["ownerReferences"][0]["uid"] = "old-service"
    other_ports = _existing("web-y", _endpoints(1), ports=[{"name": "http", "port": 9999, "protocol": "TCP"}])
    plan = plan_slices(service(), {KEY: (PORTS, _endpoints(1))}, [stranger, other_ports], address_type="IPv4")
    assert [s["metadata"]["name"] for s in plan.delete] == ["web-x"]
    assert [s["metadata"]["name"] for s in plan.update] == ["web-y"], "a slice to delete is reused for one to create"
    assert plan.update[0]["ports"] == PORTS and not plan.create


# ---- ServiceAccounts: what pods in a namespace need besides Services ----


def test_default_accounts_are_made_only_in_active_namespaces() -> None:
    active = {"metadata": {"name": "a"}, "status": {"phase": "Active"}}
    assert missing_accounts(active, set()) == ["default"]
    assert missing_accounts(active, {"default", "other"}) == []
    assert missing_accounts({**active, "status": {"phase": "Terminating"}}, set()) == []
    assert missing_accounts(None, set()) == []
