"""What objects count against quotas, and kube's way of printing it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gardener.apiserver.builtin.admission.common import format_quantity
from gardener.apiserver.builtin.admission.resourcequota import missing_compute, render, usage


def _pod(*containers: dict[str, Any], phase: str = "Pending") -> dict[str, Any]:
    return {"spec": {"containers": list(containers)}, "status": {"phase": phase}}


def test_pod_usage_sums_containers_and_skips_finished_pods() -> None:
    a = {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}
    b = {"name": "b", "resources": {"requests": {"cpu": "1"}}}
    used = usage(_pod(a, b), group="", plural="pods")
    assert used["pods"] == used["count/pods"] == 1
    assert used["requests.cpu"] == used["cpu"] == Decimal("1.25")
    assert used["limits.memory"] == 128 * 1024**2
    assert usage(_pod(a, phase="Succeeded"), group="", plural="pods") == {}
    assert usage({}, group="apps", plural="deployments") == {"count/deployments.apps": 1}


def test_service_usage_counts_node_ports_and_load_balancers() -> None:
    svc = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    assert usage(svc, group="", plural="services") == {
        "count/services": 1,
        "services": 1,
        "services.nodeports": 2,
        "services.loadbalancers": 1,
    }


def test_quantities_print_as_kube_prints_them() -> None:
    assert format_quantity(Decimal("0.6")) == "600m"
    assert format_quantity(Decimal(3)) == "3"
    assert format_quantity(Decimal(512 * 1024**2), binary=True) == "512Mi"
    assert format_quantity(Decimal(500 * 10**6), binary=True) == "500M"
    assert render({"requests.memory": Decimal(1024**3), "pods": Decimal(2)}) == "pods=2,requests.memory=1Gi"


def test_containers_must_state_what_a_compute_quota_tracks() -> None:
    pod = _pod({"name": "a", "resources": {"limits": {"cpu": "1"}}}, {"name": "b"})
    assert missing_compute(pod, {"limits.cpu", "requests.memory", "pods"}) == (
        "limits.cpu for: b; requests.memory for: a,b"
    )
    assert missing_compute(pod, {"pods"}) == ""
