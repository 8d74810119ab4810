"""The resource quota controller's counting: kube's Quantity spelling of sums, and agreement to the unit with the
API server's own quota loop (which would otherwise rewrite every status this controller writes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gardener.apiserver.builtin.admission.common import quantity as server_quantity
from gardener.apiserver.builtin.admission.resourcequota import scope_matches as server_scope_matches
from gardener.apiserver.builtin.admission.resourcequota import usage as server_usage
from gardener.kube_controller_manager.resourcequota import (
    Format,
    Quantity,
    _counted_kinds,
    needs_sync,
    parse_quantity,
    quota_status,
    status_current,
)


@pytest.mark.parametrize(
    ("text", "canonical", "fmt"),
    [
        ("0", "0", Format.DECIMAL_SI),
        ("100m", "100m", Format.DECIMAL_SI),
        ("0.1", "100m", Format.DECIMAL_SI),
        ("1.5", "1500m", Format.DECIMAL_SI),
        ("2000", "2k", Format.DECIMAL_SI),
        ("1500", "1500", Format.DECIMAL_SI),
        ("1024", "1024", Format.DECIMAL_SI),
        ("100M", "100M", Format.DECIMAL_SI),
        ("1.5Gi", "1536Mi", Format.BINARY_SI),
        ("2048Mi", "2Gi", Format.BINARY_SI),
        ("512Ki", "512Ki", Format.BINARY_SI),
        ("0.5Ki", "512", Format.BINARY_SI),
        ("1e3", "1e3", Format.DECIMAL_EXPONENT),
        ("12E6", "12e6", Format.DECIMAL_EXPONENT),
        ("1.0000000001", "1000000001n", Format.DECIMAL_SI),
        ("10u", "10u", Format.DECIMAL_SI),
    ],
)
def test_quantities_print_in_kubes_canonical_form(text: str, canonical: str, fmt: Format) -> None:
    q = parse_quantity(text)
    assert q is not None
    assert (str(q), q.format) == (canonical, fmt)


@pytest.mark.parametrize("text", ["", "1.2.3", "Mi", "1Qi", "one", "1e", "--1"])
def test_what_is_no_quantity(text: str) -> None:
    assert parse_quantity(text) is None


def test_sums_keep_the_format_of_their_first_non_zero_term() -> None:
    zero = Quantity(Decimal(0))
    mi, m = parse_quantity("64Mi"), parse_quantity("100M")
    assert mi is not None and m is not None
    assert str(zero + mi + mi) == "128Mi"
    # a binary sum that is not a whole number of Ki is printed plainly, not with decimal suffixes
    assert str(zero + mi + m) == "167108864"
    assert str(zero + m + mi) == "167108864"
    assert str(zero + m + m) == "200M"


def container(cpu: str | None = None, memory: str | None = None, *, limits: dict[str, str] | None = None) -> Any:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "resources": {"requests": requests, "limits": limits or {}}}


def pod(name: str, *containers: Any, phase: str = "Running", init: Any = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": list(containers), **spec}
    if init is not None:
        body["initContainers"] = [init]
    return {"metadata": {"name": name}, "spec": body, "status": {"phase": phase}}


OBJECTS: list[tuple[str, str, dict[str, Any]]] = [
    ("", "pods", pod("a", container("100m", "64Mi"), container("0.5", "100M", limits={"memory": "1Gi"}))),
    ("", "pods", pod("b", container("250m", "1Gi"), init=container("2", "10Mi"))),
    ("", "pods", pod("done", container("1", "1Gi"), phase="Succeeded")),
    ("", "pods", pod("besteffort", {"name": "c"}, activeDeadlineSeconds=30)),
    ("", "services", {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 1}, {"port": 2}]}}),
    ("", "services", {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 1}]}}),
    ("", "configmaps", {"metadata": {"name": "cm"}}),
    (
        "",
        "persistentvolumeclaims",
        {
            "metadata": {"name": "pvc"},
            "spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1536Mi"}}},
        },
    ),
    ("apps", "deployments", {"metadata": {"name": "d"}}),
]
HARD = {
    "pods": "10",
    "count/pods": "10",
    "cpu": "10",
    "requests.cpu": "10",
    "requests.memory": "10Gi",
    "limits.memory": "10Gi",
    "services": "5",
    "services.nodeports": "5",
    "services.loadbalancers": "1",
    "configmaps": "5",
    "requests.storage": "10Gi",
    "fast.storageclass.storage.k8s.io/requests.storage": "5Gi",
    "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "2",
    "count/deployments.apps": "3",
    "requests.nvidia.com/gpu": "1",
}


def server_used(quota: dict[str, Any], objects: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Decimal]:
    """What the API server's quota loop computes (gardener.apiserver.controllers.resourcequota._write)."""
    used = {k: Decimal(0) for k in quota["spec"]["hard"]}
    for group, plural, obj in objects:
        if server_scope_matches(quota, obj, group=group, plural=plural):
            for name, value in server_usage(obj, group=group, plural=plural).items():
                if name in used:
                    used[name] += value
    return used


@pytest.mark.parametrize(
    "spec",
    [
        {"hard": HARD},
        {"hard": {"pods": "5", "requests.cpu": "4"}, "scopes": ["NotTerminating", "NotBestEffort"]},
        {"hard": {"pods": "5", "count/pods": "5"}, "scopes": ["BestEffort"]},
        {"hard": {"pods": "5"}, "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass"}]}},
    ],
)
def test_usage_agrees_with_the_api_servers_quota_loop(spec: dict[str, Any]) -> None:
    quota = {"metadata": {"name": "q"}, "spec": spec}
    status = quota_status(quota, OBJECTS)
    assert status["hard"] == spec["hard"]
    assert {k: server_quantity(v) for k, v in status["used"].items()} == server_used(quota, OBJECTS)


def test_usage_is_written_in_kubes_spelling() -> None:
    used = quota_status({"spec": {"hard": HARD}}, OBJECTS)["used"]
    assert used == {
        "configmaps": "1",
        "count/deployments.apps": "1",
        "count/pods": "3",
        "cpu": "2600m",
        "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "fast.storageclass.storage.k8s.io/requests.storage": "1536Mi",
        "limits.memory": "1Gi",
        "pods": "3",
        "requests.cpu": "2600m",
        "requests.memory": "1240850688",
        "requests.nvidia.com/gpu": "0",
        "requests.storage": "1536Mi",
        "services": "2",
        "services.loadbalancers": "1",
        "services.nodeports": "3",
    }


def test_status_is_compared_by_value() -> None:
    quota = {"spec": {"hard": {"cpu": "1"}}, "status": {"hard": {"cpu": "1000m"}, "used": {"cpu": "0.5"}}}
    assert status_current(quota, {"hard": {"cpu": "1"}, "used": {"cpu": "500m"}})
    assert not status_current(quota, {"hard": {"cpu": "1"}, "used": {"cpu": "600m"}})
    assert not needs_sync(quota)


def test_a_quota_needs_a_sync_when_its_status_lags_its_spec() -> None:
    assert needs_sync({"spec": {"hard": {"pods": "1"}}})
    assert needs_sync({"spec": {"hard": {"pods": "2"}}, "status": {"hard": {"pods": "1"}, "used": {"pods": "0"}}})
    # a hard resource without usage (upstream's missing-usage queue)
    assert needs_sync({"spec": {"hard": {"pods": "1", "cpu": "1"}}, "status": {"hard": {"pods": "1", "cpu": "1"}}})


def test_the_kinds_a_quota_counts() -> None:
    kinds = _counted_kinds(["count/deployments.apps", "secrets", "count/widgets.example.com", "requests.cpu"])
    assert kinds == {
        ("", "pods"),
        ("", "services"),
        ("", "persistentvolumeclaims"),
        ("apps", "deployments"),
        ("", "secrets"),
        ("example.com", "widgets"),
    }
