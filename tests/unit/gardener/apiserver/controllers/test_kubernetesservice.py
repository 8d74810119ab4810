"""What the `kubernetes` Service, Endpoints and EndpointSlice say about the server."""

from __future__ import annotations

from gardener.apiserver.controllers.kubernetesservice import (
    SYSTEM_PRIORITY_CLASSES,
    MasterAddress,
    advertised_ip,
    desired_objects,
    service_ip,
)


def test_service_ip_is_the_first_address_of_the_range() -> None:
    assert service_ip("10.0.0.0/24") == "10.0.0.1"
    assert service_ip("10.96.0.0/12") == "10.96.0.1"
    assert service_ip("fd00:10:96::/112") == "fd00:10:96::1"


def test_advertised_ip_replaces_the_unspecified_address() -> None:
    assert advertised_ip("127.0.0.1") == "127.0.0.1"
    assert advertised_ip("0.0.0.0") == "127.0.0.1"
    assert advertised_ip("::") == "::1"
    assert advertised_ip("192.168.1.5") == "192.168.1.5"


def test_objects_point_at_the_server() -> None:
    objects = dict(desired_objects(cluster_ip="10.0.0.1", master=MasterAddress(ip="127.0.0.1", port=6443)))
    service = objects[("", "v1", "services")]
    assert service["spec"]["clusterIP"] == "10.0.0.1"
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]
    endpoints = objects[("", "v1", "endpoints")]
    assert endpoints["subsets"] == [
        {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}
    ]
    assert endpoints["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    slice_ = objects[("discovery.k8s.io", "v1", "endpointslices")]
    assert slice_["addressType"] == "IPv4"
    assert slice_["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert slice_["endpoints"] == [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]


def test_system_priority_classes() -> None:
    values = {pc["metadata"]["name"]: pc["value"] for pc in SYSTEM_PRIORITY_CLASSES}
    assert values == {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
