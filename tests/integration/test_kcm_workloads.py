"""The controller manager's workload controllers (StatefulSet, DaemonSet, Job, CronJob, TTL after finished) as a
process against a real API server, driven and read with kubectl. No kubelet runs: the tests write pod status
themselves, as a kubelet would, to make pods Running, Ready, Succeeded or Failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ServerProcess, create_namespace, eventually, kubectl, kubectl_get, module_server
from tests.kubecomponents import ComponentProcess, controller_manager, register_node

server = module_server("kcm-workloads")

CONTROLLERS = "--controllers=statefulset,daemonset,job,cronjob,ttl-after-finished"
CONTAINER = {"name": "main", "image": "busybox", "command": ["sleep", "3600"]}


@pytest.fixture(scope="module")
def kcm(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComponentProcess]:
    log = tmp_path_factory.mktemp("kcm-workloads") / "kcm.log"
    process = controller_manager(server.kubeconfig, log, CONTROLLERS)
    yield process
    process.stop()


def apply(kubeconfig: Path, obj: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, input=json.dumps(obj))


def pods(kubeconfig: Path, ns: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl_get("pods", "-n", ns, "-l", selector, kubeconfig=kubeconfig)["items"]
    return items


def exists(kubeconfig: Path, ns: str, *what: str) -> bool:
    return kubectl("get", *what, "-n", ns, kubeconfig=kubeconfig, check=False).returncode == 0


def set_pod_status(kubeconfig: Path, ns: str, name: str, phase: str, *, ready: bool = False) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now}]
    status: dict[str, Any] = {"phase": phase, "conditions": conditions}
    if phase in ("Succeeded", "Failed"):
        code = 0 if phase == "Succeeded" else 1
        terminated = {
            "exitCode": code,
            "startedAt": now,
            "finishedAt": now,
            "reason": "Completed" if code == 0 else "Error",
        }
        status["containerStatuses"] = [
            {
                "name": "main",
                "image": "busybox",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": terminated},
            }
        ]
    patch = json.dumps({"status": status})
    kubectl("patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge", "-p", patch, kubeconfig=kubeconfig)


def events(kubeconfig: Path, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = kubectl_get("events", "-n", ns, kubeconfig=kubeconfig)["items"]
    return [
        (e.get("type", ""), e.get("reason", ""), e.get("message", ""))
        for e in items
        if (e.get("involvedObject") or {}).get("name") == name
    ]


def test_statefulset_creates_pods_in_order_with_their_claims(server: ServerProcess, kcm: ComponentProcess) -> None:
    kc, ns = server.kubeconfig, "sts"
    create_namespace(ns, kubeconfig=kc)
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    apply(
        kc,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": ns},
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [CONTAINER]}},
                "volumeClaimTemplates": [claim],
            },
        },
    )

    def first() -> dict[str, Any]:
        sts = kubectl_get("statefulset", "db", "-n", ns, kubeconfig=kc)
        assert sts["status"].get("replicas") == 1, sts["status"]
        return sts

    sts = eventually(first, what="db-0 created and counted")
    assert not exists(kc, ns, "pod", "db-1"), "db-1 must wait until db-0 is Running and Ready"
    pod = kubectl_get("pod", "db-0", "-n", ns, kubeconfig=kc)
    labels = pod["metadata"]["labels"]
    revision = sts["status"]["updateRevision"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "db-0"
    assert labels["apps.kubernetes.io/pod-index"] == "0"
    assert labels["controller-revision-hash"] == revision == sts["status"]["currentRevision"]
    assert revision.startswith("db-")
    assert pod["spec"]["hostname"] == "db-0" and pod["spec"]["subdomain"] == "db"
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "data")
    assert volume["persistentVolumeClaim"]["claimName"] == "data-db-0"
    pvc = kubectl_get("pvc", "data-db-0", "-n", ns, kubeconfig=kc)
    assert pvc["metadata"]["labels"] == {"app": "db"}
    assert exists(kc, ns, "controllerrevision", revision)

    set_pod_status(kc, ns, "db-0", "Running", ready=True)
    eventually(lambda: exists(kc, ns, "pod", "db-1") and exists(kc, ns, "pvc", "data-db-1"), what="db-1 and its claim")
    set_pod_status(kc, ns, "db-1", "Running", ready=True)

    def ready() -> dict[str, Any]:
        status: dict[str, Any] = kubectl_get("statefulset", "db", "-n", ns, kubeconfig=kc)["status"]
        assert status.get("readyReplicas") == 2 and status.get("availableReplicas") == 2, status
        return status

    status = eventually(ready, what="both replicas ready")
    assert status["replicas"] == 2 and status["updatedReplicas"] == 2 and status["observedGeneration"] == 1
    seen = events(kc, ns, "db")
    assert ("Normal", "SuccessfulCreate", "create Pod db-0 in StatefulSet db successful") in seen
    assert ("Normal", "SuccessfulCreate", "create Claim data-db-1 Pod db-1 in StatefulSet db success") in seen

    kubectl("scale", "statefulset", "db", "-n", ns, "--replicas=1", kubeconfig=kc)
    eventually(lambda: not exists(kc, ns, "pod", "db-1"), what="db-1 removed on scale-down")
    assert exists(kc, ns, "pvc", "data-db-1"), "claims outlive their pods under the Retain policy"


def test_jobs_complete_and_fail_as_upstream(server: ServerProcess, kcm: ComponentProcess) -> None:
    kc, ns = server.kubeconfig, "jobs"
    create_namespace(ns, kubeconfig=kc)
    template = {"spec": {"restartPolicy": "Never", "containers": [CONTAINER]}}
    for name, limit in (("ok", 6), ("bad", 1)):
        spec = {"completions": 2, "parallelism": 2, "backoffLimit": limit, "template": template}
        apply(kc, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": ns}, "spec": spec})
    two = {
        name: eventually(lambda n=name: len(p := pods(kc, ns, f"job-name={n}")) == 2 and p, what=f"pods of {name}")
        for name in ("ok", "bad")
    }
    for pod in two["ok"]:
        assert "batch.kubernetes.io/job-tracking" in pod["metadata"]["finalizers"]
        assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "ok"
        set_pod_status(kc, ns, pod["metadata"]["name"], "Succeeded")
    for pod in two["bad"]:
        set_pod_status(kc, ns, pod["metadata"]["name"], "Failed")

    kubectl("wait", "--for=condition=complete", "job/ok", "-n", ns, "--timeout=30s", kubeconfig=kc, timeout=40)
    status = kubectl_get("job", "ok", "-n", ns, kubeconfig=kc)["status"]
    assert status["succeeded"] == 2 and status.get("active", 0) == 0 and status["completionTime"]
    kinds = [(c["type"], c.get("reason")) for c in status["conditions"]]
    assert kinds == [("SuccessCriteriaMet", "CompletionsReached"), ("Complete", "CompletionsReached")]
    assert not any(p["metadata"].get("finalizers") for p in pods(kc, ns, "job-name=ok")), "counted pods are released"
    assert ("Normal", "Completed", "Job completed") in events(kc, ns, "ok")

    def failed() -> dict[str, Any]:
        job_status: dict[str, Any] = kubectl_get("job", "bad", "-n", ns, kubeconfig=kc)["status"]
        assert any(c["type"] == "Failed" for c in job_status.get("conditions") or []), job_status
        return job_status

    status = eventually(failed, what="job bad failed")
    failed_condition = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed_condition["reason"] == "BackoffLimitExceeded"
    assert failed_condition["message"] == "Job has reached the specified backoff limit"
    assert status["failed"] == 2 and "completionTime" not in status
    assert [c["type"] for c in status["conditions"]] == ["FailureTarget", "Failed"]
    assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in events(kc, ns, "bad")

    spec = {"ttlSecondsAfterFinished": 1, "template": template}
    apply(kc, {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "brief", "namespace": ns}, "spec": spec})
    pod = eventually(lambda: pods(kc, ns, "job-name=brief"), what="pod of brief")[0]
    set_pod_status(kc, ns, pod["metadata"]["name"], "Succeeded")
    eventually(lambda: not exists(kc, ns, "job", "brief"), what="finished job deleted after its TTL")


def test_daemonset_places_one_pod_per_eligible_node(server: ServerProcess, kcm: ComponentProcess) -> None:
    kc, ns = server.kubeconfig, "daemons"
    create_namespace(ns, kubeconfig=kc)
    cordoned = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    dedicated = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    register_node(kc, "w1", labels={"role": "worker"})
    register_node(kc, "w2", labels={"role": "worker"}, taints=cordoned)
    register_node(kc, "w3", labels={"role": "worker"}, taints=dedicated)
    register_node(kc, "i1", labels={"role": "infra"})
    template = {
        "metadata": {"labels": {"app": "agent"}},
        "spec": {"nodeSelector": {"role": "worker"}, "containers": [CONTAINER]},
    }
    ds = {"selector": {"matchLabels": {"app": "agent"}}, "template": template}
    apply(
        kc, {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": ns}, "spec": ds}
    )

    def placed() -> dict[str, dict[str, Any]]:
        found = {}
        for pod in pods(kc, ns, "app=agent"):
            terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            [term] = terms["nodeSelectorTerms"]
            [field] = term["matchFields"]
            assert field["key"] == "metadata.name" and field["operator"] == "In"
            found[field["values"][0]] = pod
        assert set(found) == {"w1", "w2"}, sorted(found)
        return found

    found = eventually(placed, what="daemon pods on w1 and w2")
    pod = found["w2"]
    assert not pod["spec"].get("nodeName"), "the scheduler binds daemon pods"
    tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerated
    assert ("node.kubernetes.io/not-ready", "NoExecute") in tolerated
    assert ("node.kubernetes.io/pid-pressure", "NoSchedule") in tolerated
    assert "controller-revision-hash" in pod["metadata"]["labels"]

    def counted() -> dict[str, Any]:
        status: dict[str, Any] = kubectl_get("daemonset", "agent", "-n", ns, kubeconfig=kc)["status"]
        assert status.get("desiredNumberScheduled") == 2 and status.get("currentNumberScheduled") == 2, status
        return status

    status = eventually(counted, what="daemonset status")
    assert status["numberMisscheduled"] == 0 and status["numberReady"] == 0 and status["updatedNumberScheduled"] == 2
    assert ("Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}") in events(kc, ns, "agent")


def test_cronjob_schedules_it_cannot_use_are_warnings(server: ServerProcess, kcm: ComponentProcess) -> None:
    kc, ns = server.kubeconfig, "crons"
    create_namespace(ns, kubeconfig=kc)
    job_template = {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [CONTAINER]}}}}

    def cronjob(name: str, schedule: str) -> str:
        obj = {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"schedule": schedule, "jobTemplate": job_template},
        }
        result = kubectl("create", "-f", "-", kubeconfig=kc, input=json.dumps(obj), check=False)
        return "" if result.returncode == 0 else result.stderr

    assert cronjob("never", "59 23 31 2 *") == ""
    assert cronjob("tick", "@every 1s") == ""
    refused = cronjob("zero-step", "*/0 * * * *")

    def warned(name: str, reason: str) -> str:
        found = [m for t, r, m in events(kc, ns, name) if (t, r) == ("Warning", reason)]
        assert found, events(kc, ns, name)
        return found[0]

    message = eventually(lambda: warned("never", "InvalidSchedule"), what="InvalidSchedule event")
    assert message == "invalid schedule: 59 23 31 2 * : time difference between two schedules is less than 1 second"
    if refused:
        assert "step of range should be a positive number" in refused, refused
    else:
        message = eventually(lambda: warned("zero-step", "UnparseableSchedule"), what="UnparseableSchedule event")
        assert message == 'unparseable schedule: "*/0 * * * *" : step of range should be a positive number: */0'
    assert kcm.alive(), kcm.log_tail()

    def started() -> dict[str, Any]:
        status: dict[str, Any] = kubectl_get("cronjob", "tick", "-n", ns, kubeconfig=kc).get("status") or {}
        assert status.get("active") and status.get("lastScheduleTime"), status
        return status

    status = eventually(started, what="a job started by the working cronjob")
    [ref] = status["active"]
    scheduled = datetime.fromisoformat(status["lastScheduleTime"].replace("Z", "+00:00"))
    assert ref["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
    job = kubectl_get("job", ref["name"], "-n", ns, kubeconfig=kc)
    assert (
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == status["lastScheduleTime"]
    )
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert ("Normal", "SuccessfulCreate", f"Created job {ref['name']}") in events(kc, ns, "tick")
