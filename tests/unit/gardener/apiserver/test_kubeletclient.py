"""Finding a Node's kubelet as kube's NodeConnectionInfoGetter does, and Go's words for a failed dial."""

from __future__ import annotations

import socket

import pytest

from gardener.apiserver.errors import StatusError
from gardener.apiserver.kubeletclient import Endpoint, describe_dial_error, node_endpoint

KUBE_DEFAULT = ("Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP")


def _node(*addresses: tuple[str, str], port: object = None, hostname_label: str = "") -> dict[str, object]:
    status: dict[str, object] = {"addresses": [{"type": t, "address": a} for t, a in addresses]}
    if port is not None:
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": port}}
    labels = {"kubernetes.io/hostname": hostname_label} if hostname_label else {}
    return {"metadata": {"name": "n", "labels": labels}, "status": status}


def test_addresses_in_the_preferred_order_and_the_reported_port() -> None:
    node = _node(("Hostname", "n"), ("InternalIP", "10.0.0.5"), port=10255)
    assert node_endpoint(node, preferred=("InternalIP", "Hostname")) == Endpoint("10.0.0.5", 10255)
    assert node_endpoint(node, preferred=KUBE_DEFAULT) == Endpoint("n", 10255)
    assert node_endpoint(_node(("InternalIP", "fd00::1"), port=0), preferred=KUBE_DEFAULT).hostport == "[fd00::1]:10250"
    assert node_endpoint(_node(hostname_label="legacy"), preferred=KUBE_DEFAULT).host == "legacy"


def test_no_preferred_address_is_kubes_500() -> None:
    with pytest.raises(StatusError) as caught:
        node_endpoint(_node(("ExternalDNS", "n.example.com")), preferred=("InternalIP",))
    assert (caught.value.code, caught.value.reason) == (500, "")
    assert caught.value.message == "no preferred addresses found; known addresses: [{ExternalDNS n.example.com}]"


def test_dial_errors_in_gos_words() -> None:
    endpoint = Endpoint("127.0.0.1", 1)
    assert describe_dial_error(endpoint, ConnectionRefusedError(111, "Connection refused")) == (
        "dial tcp 127.0.0.1:1: connect: connection refused"
    )
    assert describe_dial_error(endpoint, TimeoutError()) == "dial tcp 127.0.0.1:1: i/o timeout"
    assert describe_dial_error(Endpoint("nowhere", 1), socket.gaierror(-2, "Name or service not known")) == (
        "dial tcp: lookup nowhere: no such host"
    )
