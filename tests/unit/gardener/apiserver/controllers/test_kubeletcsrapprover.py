"""Kubelet-serving requests: kube's signer checks and Gardener's approver decisions, on parsed requests."""

from __future__ import annotations

import ipaddress
from typing import Any

from gardener.apiserver.controllers.csrsigning import Requested, kubelet_serving_problem
from gardener.apiserver.controllers.kubeletcsrapprover import addresses_problem, node_name

SERVING = ["digital signature", "server auth"]
LOCAL = ipaddress.ip_address("127.0.0.5")


def _request(**changes: Any) -> Requested:
    values: dict[str, Any] = {
        "common_name": "system:node:n1",
        "organizations": ("system:nodes",),
        "dns_names": ("n1",),
        "ip_addresses": (LOCAL,),
    }
    return Requested(**{**values, **changes})


def test_kube_signer_checks_in_kubes_order() -> None:
    assert kubelet_serving_problem(_request(), SERVING) is None
    assert kubelet_serving_problem(_request(), [*SERVING, "key encipherment"]) is None
    assert kubelet_serving_problem(_request(organizations=()), SERVING) == "subject organization is not system:nodes"
    assert kubelet_serving_problem(_request(dns_names=(), ip_addresses=()), SERVING) == (
        "DNS or IP subjectAltName is required"
    )
    assert kubelet_serving_problem(_request(emails=("a@b.c",)), SERVING) == "Email subjectAltNames are not allowed"
    assert kubelet_serving_problem(_request(), ["digital signature", "client auth"]) == (
        "usages did not match [digital signature key encipherment server auth]"
    )
    assert kubelet_serving_problem(_request(common_name="n1"), SERVING) == (
        "subject common name does not begin with system:node:"
    )


def test_gardener_approver_wants_the_node_itself() -> None:
    assert node_name("system:node:n1", _request()) == ("n1", "")
    assert node_name("bob", _request()) == ("", 'username "bob" is not prefixed with "system:node:"')
    assert node_name("system:node:n2", _request())[1] == "common name in CSR does not match username"
    assert node_name("system:node:n1", _request(organizations=("system:nodes", "x")))[1] == (
        "organization in CSR does not match nodes group"
    )


def test_gardener_approver_wants_exactly_the_nodes_addresses() -> None:
    node = {
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.5"},
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalDNS", "address": "n1.cluster.local"},
            ]
        }
    }
    assert addresses_problem(node, _request(dns_names=("n1.cluster.local", "n1"))) == ""
    assert addresses_problem(node, _request()).startswith("DNS names in CSR do not match addresses of type")
    wider = _request(dns_names=("n1", "n1.cluster.local"), ip_addresses=(LOCAL, ipaddress.ip_address("10.0.0.1")))
    assert addresses_problem(node, wider) == (
        "IP addresses in CSR do not match addresses of type 'InternalIP' or 'ExternalIP' in node object"
    )
