"""The controller manager's disruption, HPA and resource quota controllers against a real API server, run as kube
runs them: as `system:kube-controller-manager` with one ServiceAccount per controller
(`--use-service-account-credentials`), so every write goes through the `system:controller:*` roles the server
bootstraps. No kubelet runs here: the test writes the pod status a kubelet would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gardener.runtime.errors import TooManyRequests
from gardener.runtime.kube import Kube
from tests.helpers import ServerProcess, eventually, kubectl, module_server
from tests.kubecomponents import ComponentProcess, controller_manager, user_kubeconfig

server = module_server("kcm-policy")
NS = "shop"
PODS = f"/api/v1/namespaces/{NS}/pods"
RS = f"/apis/apps/v1/namespaces/{NS}/replicasets"
PDBS = f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets"
HPAS = f"/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers"
QUOTAS = f"/api/v1/namespaces/{NS}/resourcequotas"
EVENTS = f"/api/v1/namespaces/{NS}/events"
METRICS_MESSAGE = (
    "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource "
    "metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"
)


@pytest.fixture(scope="module")
def kube(server: ServerProcess) -> Iterator[Kube]:
    client = Kube.from_kubeconfig(server.kubeconfig)
    yield client
    client.close()


@pytest.fixture(scope="module")
def kcm(server: ServerProcess, kube: Kube) -> Iterator[ComponentProcess]:
    kubectl("create", "namespace", NS, kubeconfig=server.kubeconfig)
    hard = {"pods": "10", "requests.cpu": "2", "requests.memory": "1Gi", "count/replicasets.apps": "5"}
    kube.create(QUOTAS, {"metadata": {"name": "quota"}, "spec": {"hard": hard}})
    process = controller_manager(
        user_kubeconfig(server, "system:kube-controller-manager"),
        server.data_dir / "kcm.log",
        "--use-service-account-credentials=true",
        "--controllers=replicaset,disruption,horizontalpodautoscaling,resourcequota",
        "--horizontal-pod-autoscaler-sync-period=1s",
    )
    yield process
    process.stop()


def replica_set(name: str, replicas: int) -> dict[str, Any]:
    container = {"name": "app", "image": "python:3.12", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def live_pods(kube: Kube, app: str) -> list[dict[str, Any]]:
    return [p for p in kube.list(PODS, label_selector=f"app={app}") if not p["metadata"].get("deletionTimestamp")]


def make_ready(kube: Kube, pod: dict[str, Any]) -> None:
    """What a kubelet would write once the pod runs."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    conditions = [{"type": t, "status": "True", "lastTransitionTime": now} for t in ("Ready", "ContainersReady")]
    status = {"phase": "Running", "startTime": now, "conditions": conditions}
    kube.merge_patch(f"{PODS}/{pod['metadata']['name']}/status", {"status": status})


def evict(kube: Kube, name: str) -> None:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": NS}}
    kube.create(f"{PODS}/{name}/eviction", body)


def events(kube: Kube, name: str) -> list[dict[str, Any]]:
    return [e for e in kube.list(EVENTS) if e["involvedObject"]["name"] == name]


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def can_i(kubeconfig: Path, *args: str) -> str:
    return kubectl("auth", "can-i", *args, kubeconfig=kubeconfig, check=False).stdout.strip()


def test_controllers_write_as_their_service_accounts(server: ServerProcess, kcm: ComponentProcess, kube: Kube) -> None:
    kube.create(RS, replica_set("web", 3))
    eventually(lambda: len(live_pods(kube, "web")) == 3, timeout=30, what=f"3 pods of web\n{kcm.log_tail()}")
    # the manager's own identity may not create pods: the replicaset-controller's ServiceAccount did
    admin = server.kubeconfig
    assert can_i(admin, "create", "pods", "-n", NS, "--as=system:kube-controller-manager") == "no"
    account = "system:serviceaccount:kube-system:replicaset-controller"
    assert can_i(admin, "create", "pods", "-n", NS, f"--as={account}") == "yes"
    assert kube.get("/api/v1/namespaces/kube-system/serviceaccounts/replicaset-controller") is not None
    created = [e for e in events(kube, "web") if e["reason"] == "SuccessfulCreate"]
    assert created and created[0]["source"]["component"] == "replicaset-controller"
    for account in ("disruption-controller", "horizontal-pod-autoscaler", "resourcequota-controller"):
        binding = kube.get(f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:controller:{account}")
        assert binding is not None and binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}
        ]

    def quota_counts() -> bool:
        used = (kube.get(f"{QUOTAS}/quota") or {}).get("status", {}).get("used") or {}
        assert used == {
            "pods": "3",
            "requests.cpu": "300m",
            "requests.memory": "192Mi",
            "count/replicasets.apps": "1",
        }, used
        return True

    eventually(quota_counts, timeout=15, what="quota usage of 3 pods")
    assert restored_by_controller(kube), f"the controller never restored the quota's usage\n{kcm.log_tail()}"


def restored_by_controller(kube: Kube, *, attempts: int = 3) -> bool:
    """Drop `pods` from the quota's usage: the controller notices a hard resource without usage at once (the API
    server's own quota loop only at its next resync) and writes it back through resourcequotas/status, which
    shows as the field owned by a manager other than the one that dropped it. Tried again in the rare case the
    API server's loop got there first."""
    path = f"{QUOTAS}/quota"
    for _ in range(attempts):
        quota = kube.get(path) or {}
        used = {k: v for k, v in quota["status"]["used"].items() if k != "pods"}
        tampered = {**quota, "status": {**quota["status"], "used": used}}
        kube.request("PUT", f"{path}/status", tampered, params={"fieldManager": "test-tamper"})
        restored = eventually(
            lambda: (kube.get(path) or {})["status"]["used"].get("pods") == "3" and kube.get(path), timeout=15
        )
        owners = [
            m["manager"]
            for m in restored["metadata"].get("managedFields") or []
            if m.get("subresource") == "status" and "f:pods" in json.dumps(m.get("fieldsV1", {}).get("f:status", {}))
        ]
        if owners and "test-tamper" not in owners:
            return True
    return False


def test_a_budget_allows_one_eviction_of_three_ready_pods(kcm: ComponentProcess, kube: Kube) -> None:
    for pod in live_pods(kube, "web"):
        make_ready(kube, pod)
    pdb = {"metadata": {"name": "web"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}
    kube.create(PDBS, pdb)

    def budget(healthy: int, allowed: int) -> dict[str, Any]:
        current = kube.get(f"{PDBS}/web") or {}
        status = current.get("status") or {}
        numbers = {k: status.get(k) for k in ("expectedPods", "currentHealthy", "desiredHealthy", "disruptionsAllowed")}
        assert numbers == {
            "expectedPods": 3,
            "currentHealthy": healthy,
            "desiredHealthy": 2,
            "disruptionsAllowed": allowed,
        }, status
        assert status["observedGeneration"] == current["metadata"]["generation"]
        return current

    current = eventually(lambda: budget(3, 1), timeout=15, what=f"the budget's status\n{kcm.log_tail()}")
    allowed = conditions(current)["DisruptionAllowed"]
    assert (allowed["status"], allowed["reason"], allowed["message"]) == ("True", "SufficientPods", "")

    first, second = sorted(p["metadata"]["name"] for p in live_pods(kube, "web"))[:2]
    evict(kube, first)

    def replaced() -> bool:
        names = [p["metadata"]["name"] for p in live_pods(kube, "web")]
        return len(names) == 3 and first not in names

    eventually(replaced, timeout=15, what="the evicted pod replaced")
    # the replacement the ReplicaSet made is not Ready: two healthy pods, none to spare
    current = eventually(lambda: budget(2, 0), timeout=15, what="the budget after one eviction")
    blocked = conditions(current)["DisruptionAllowed"]
    assert (blocked["status"], blocked["reason"]) == ("False", "InsufficientPods")
    with pytest.raises(TooManyRequests) as refused:
        evict(kube, second)
    assert refused.value.message == "Cannot evict pod as it would violate the pod's disruption budget."
    cause = refused.value.status_doc["details"]["causes"][0]["message"]
    assert cause == "The disruption budget web needs 2 healthy pods and has 2 currently"

    # once the replacement is Ready the controller gives the budget back
    for pod in live_pods(kube, "web"):
        make_ready(kube, pod)
    eventually(lambda: budget(3, 1), timeout=15, what="the budget after the replacement became Ready")
    evict(kube, second)


def test_an_autoscaler_without_metrics_keeps_its_target_within_bounds(
    server: ServerProcess, kcm: ComponentProcess, kube: Kube
) -> None:
    kube.create(RS, replica_set("api", 1))
    target = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api"}
    metric = {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
    }
    spec = {"scaleTargetRef": target, "minReplicas": 2, "maxReplicas": 4, "metrics": [metric]}
    kube.create(HPAS, {"metadata": {"name": "api"}, "spec": spec})

    eventually(lambda: (kube.get(f"{RS}/api") or {})["spec"]["replicas"] == 2, timeout=15, what="api raised to 2")

    def scaling_inactive() -> dict[str, Any]:
        hpa = kube.get(f"{HPAS}/api") or {}
        active = conditions(hpa).get("ScalingActive") or {}
        assert active.get("reason") == "FailedGetResourceMetric", hpa.get("status")
        return hpa

    hpa = eventually(scaling_inactive, timeout=15, what=f"ScalingActive False\n{kcm.log_tail()}")
    by_type = conditions(hpa)
    assert by_type["ScalingActive"]["status"] == "False"
    assert by_type["ScalingActive"]["message"] == f"the HPA was unable to compute the replica count: {METRICS_MESSAGE}"
    assert (by_type["AbleToScale"]["status"], by_type["AbleToScale"]["reason"]) == ("True", "SucceededGetScale")
    assert hpa["status"]["currentReplicas"] == 2
    assert hpa["status"]["desiredReplicas"] == 2
    assert hpa["status"]["lastScaleTime"]

    def hpa_events() -> dict[str, dict[str, Any]]:
        found = {
            e["reason"]: e for e in events(kube, "api") if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"
        }
        assert {"SuccessfulRescale", "FailedGetResourceMetric", "FailedComputeMetricsReplicas"} <= set(found), found
        return found

    found = eventually(hpa_events, timeout=10, what="the autoscaler's events")
    assert (
        found["SuccessfulRescale"]["message"]
        == "New size: 2; reason: Current number of replicas below Spec.MinReplicas"
    )
    assert found["SuccessfulRescale"]["source"]["component"] == "horizontal-pod-autoscaler"
    assert found["FailedGetResourceMetric"]["type"] == "Warning"
    assert found["FailedGetResourceMetric"]["message"] == METRICS_MESSAGE
    first_error = f"failed to get cpu resource metric value: {METRICS_MESSAGE}"
    assert found["FailedComputeMetricsReplicas"]["message"] == (
        f"invalid metrics (1 invalid out of 1), first error is: {first_error}"
    )
    # the same through kubectl, as a user reads it
    shown = json.loads(kubectl("get", "hpa", "api", "-n", NS, "-o", "json", kubeconfig=server.kubeconfig).stdout)
    assert shown["status"]["desiredReplicas"] == 2


def test_what_cannot_be_computed_is_said_in_the_status(kcm: ComponentProcess, kube: Kube) -> None:
    # a pod whose controller has no scale subresource: a percentage of it cannot be taken, so nothing may go
    container = {"name": "w", "image": "python:3.12", "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}
    template = {"spec": {"restartPolicy": "Never", "containers": [container]}}
    job = kube.create(
        f"/apis/batch/v1/namespaces/{NS}/jobs", {"metadata": {"name": "batch"}, "spec": {"template": template}}
    )
    owner = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "batch",
        "uid": job["metadata"]["uid"],
        "controller": True,
    }
    meta = {"name": "worker", "labels": {"app": "worker"}, "ownerReferences": [owner]}
    kube.create(PODS, {"metadata": meta, "spec": {"containers": [container]}})
    selector = {"matchLabels": {"app": "worker"}}
    kube.create(PDBS, {"metadata": {"name": "worker"}, "spec": {"maxUnavailable": "50%", "selector": selector}})
    target = {"apiVersion": "apps/v1", "kind": "Widget", "name": "w"}
    kube.create(HPAS, {"metadata": {"name": "widget"}, "spec": {"scaleTargetRef": target, "maxReplicas": 3}})

    def failed_safe() -> dict[str, Any]:
        status = (kube.get(f"{PDBS}/worker") or {}).get("status") or {}
        allowed = conditions({"status": status}).get("DisruptionAllowed") or {}
        assert allowed.get("reason") == "SyncFailed", status
        return status

    status = eventually(failed_safe, timeout=15, what="the budget's fail-safe status")
    assert status["disruptionsAllowed"] == 0
    assert conditions({"status": status})["DisruptionAllowed"]["message"] == (
        "jobs.batch does not implement the scale subresource"
    )

    def unable_to_scale() -> dict[str, Any]:
        able = conditions(kube.get(f"{HPAS}/widget") or {}).get("AbleToScale") or {}
        assert able.get("reason") == "FailedGetScale", able
        return able

    able = eventually(unable_to_scale, timeout=15, what="the autoscaler's FailedGetScale")
    assert able["status"] == "False"
    assert able["message"] == (
        'the HPA controller was unable to get the target\'s current scale: no matches for kind "Widget" in group "apps"'
    )
    assert kcm.alive(), kcm.log_tail()
