"""The Deployment and ReplicaSet controllers of the project's kube-controller-manager, driven with kubectl.

One API server of the module's own (SQLite) and one controller manager process running only `replicaset` and
`deployment`. No kubelet runs: the test makes pods Ready by writing their status, as a kubelet would. Rollouts are
recorded from a `kubectl get pods --watch` stream, so every state the API server went through is checked, not
samples of it. Expected names, annotations, conditions and event texts are upstream's (kube 1.32).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import KUBECTL, ServerProcess, create_namespace, eventually, kubectl, kubectl_get, module_server
from tests.kubecomponents import ComponentProcess, controller_manager

NS = "rollouts"
#: a namespace of its own for the test that fills a quota
QUOTA_NS = "quota"
#: the alphabet of rand.SafeEncodeString: pod-template hashes are made of it
HASH = "[bcdfghjklmnpqrstvwxz2456789]{1,10}"

server = module_server("kcm-deployment")


@pytest.fixture(scope="module")
def kcm(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComponentProcess]:
    create_namespace(NS, kubeconfig=server.kubeconfig)
    log = tmp_path_factory.mktemp("kcm") / "kcm.log"
    process = controller_manager(server.kubeconfig, log, "--controllers=replicaset,deployment")
    yield process
    alive = process.alive()
    process.stop()
    assert alive, f"the controller manager died:\n{process.log_tail()}"


def _k(server: ServerProcess, *args: str, ns: str = NS) -> subprocess.CompletedProcess[str]:
    return kubectl(*args, "-n", ns, kubeconfig=server.kubeconfig)


def _get(server: ServerProcess, *args: str, ns: str = NS) -> Any:
    return kubectl_get(*args, "-n", ns, kubeconfig=server.kubeconfig)


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _hash(pod: dict[str, Any]) -> str:
    return str(pod["metadata"].get("labels", {}).get("pod-template-hash", ""))


def _live_pods(server: ServerProcess, app: str, *, ns: str = NS) -> list[dict[str, Any]]:
    items = _get(server, "pods", "-l", f"app={app}", ns=ns)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def make_ready(server: ServerProcess, pod: str) -> None:
    """What a kubelet reports once the containers run and pass their readiness probes."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready = {"type": "Ready", "status": "True", "lastTransitionTime": now}
    patch = json.dumps({"status": {"phase": "Running", "conditions": [ready]}})
    _k(server, "patch", "pod", pod, "--subresource=status", "--type=merge", "-p", patch)


def _complete(d: dict[str, Any]) -> bool:
    want, status = d["spec"]["replicas"], d.get("status") or {}
    return bool(
        status.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and status.get("updatedReplicas", 0) == want
        and status.get("replicas", 0) == want
        and status.get("availableReplicas", 0) == want
    )


def drive_rollout(server: ServerProcess, name: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """Mark every pod of the Deployment Ready as it appears, until the rollout is complete."""

    def done() -> dict[str, Any] | None:
        for pod in _live_pods(server, name):
            if not _ready(pod):
                make_ready(server, pod["metadata"]["name"])
        d: dict[str, Any] = _get(server, "deployment", name)
        return d if _complete(d) else None

    complete = eventually(done, timeout=timeout, interval=0.1, what=f"rollout of {name}")
    assert complete is not None
    return complete


class PodWatch:
    """`kubectl get pods --watch --output-watch-events -o json`: every change of the selected pods, in order."""

    def __init__(self, kubeconfig: Path, selector: str) -> None:
        cmd = [KUBECTL, "get", "pods", "-n", NS, "-l", selector, "--watch", "--output-watch-events", "-o", "json"]
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.events: list[dict[str, Any]] = []
        self._buffer = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        decoder = json.JSONDecoder()
        for line in self.proc.stdout:
            self._buffer += line
            while True:
                text = self._buffer.lstrip()
                try:
                    event, end = decoder.raw_decode(text)
                except ValueError:
                    break
                self.events.append(event)
                self._buffer = text[end:]

    def stop(self) -> list[dict[str, Any]]:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return list(self.events)


def replay(events: list[dict[str, Any]], *, start: int) -> list[list[dict[str, Any]]]:
    """The live (not terminating) pods after each event from `start` on."""
    pods: dict[str, dict[str, Any]] = {}
    states = []
    for i, event in enumerate(events):
        pod = event["object"]
        name = pod["metadata"]["name"]
        if event["type"] == "DELETED" or pod["metadata"].get("deletionTimestamp"):
            pods.pop(name, None)
        else:
            pods[name] = pod
        if i + 1 >= start:
            states.append(list(pods.values()))
    return states


def _events(server: ServerProcess, involved: str, *, ns: str = NS) -> list[tuple[str, str]]:
    items = _get(server, "events", ns=ns)["items"]
    return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == involved]


def test_create_scale_and_rollout_status(server: ServerProcess, kcm: ComponentProcess) -> None:
    _k(server, "create", "deployment", "web", "--image=python:3.12", "--replicas=3")

    def one_rs_with_three_pods() -> dict[str, Any] | None:
        rss = _get(server, "rs", "-l", "app=web")["items"]
        pods = _live_pods(server, "web")
        return rss[0] if len(rss) == 1 and len(pods) == 3 else None

    rs = eventually(one_rs_with_three_pods, what="one ReplicaSet with three pods")
    assert rs is not None
    name = rs["metadata"]["name"]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert re.fullmatch(f"web-{HASH}", name) and name == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    owner = rs["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Deployment", "web", True)
    notes = rs["metadata"]["annotations"]
    assert notes["deployment.kubernetes.io/revision"] == "1"
    # 25 % of 3: a surge of 1 (rounded up), so at most 4 pods
    assert (notes["deployment.kubernetes.io/desired-replicas"], notes["deployment.kubernetes.io/max-replicas"]) == (
        "3",
        "4",
    )
    for pod in _live_pods(server, "web"):
        assert pod["metadata"]["name"].startswith(f"{name}-") and _hash(pod) == pod_hash
        assert pod["metadata"]["ownerReferences"][0]["name"] == name
    events = eventually(lambda: _events(server, "web"), what="deployment events")
    assert ("ScalingReplicaSet", f"Scaled up replica set {name} from 0 to 3") in events
    assert any(r == "SuccessfulCreate" and m.startswith(f"Created pod: {name}-") for r, m in _events(server, name))

    _k(server, "scale", "deployment", "web", "--replicas=5")
    eventually(lambda: len(_live_pods(server, "web")) == 5, what="five pods")
    _k(server, "scale", "deployment", "web", "--replicas=3")
    eventually(lambda: len(_live_pods(server, "web")) == 3, what="three pods again")
    assert len(_get(server, "rs", "-l", "app=web")["items"]) == 1
    deployment_events = eventually(
        lambda: [m for r, m in _events(server, "web") if r == "ScalingReplicaSet" and "from 5 to 3" in m],
        what="scale-down event",
    )
    assert deployment_events == [f"Scaled down replica set {name} from 5 to 3"]
    assert any(r == "SuccessfulDelete" and m.startswith("Deleted pod: ") for r, m in _events(server, name))

    # nothing is available before the pods are Ready
    d = _get(server, "deployment", "web")
    available = {c["type"]: c for c in d["status"]["conditions"]}["Available"]
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert available["message"] == "Deployment does not have minimum availability."
    assert "availableReplicas" not in d["status"] and d["status"]["unavailableReplicas"] == 3

    for pod in _live_pods(server, "web"):
        make_ready(server, pod["metadata"]["name"])
    out = _k(server, "rollout", "status", "deployment/web", "--timeout=60s").stdout
    assert 'deployment "web" successfully rolled out' in out
    d = _get(server, "deployment", "web")
    status = d["status"]
    assert status["observedGeneration"] >= d["metadata"]["generation"]
    counts = [status.get(f) for f in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")]
    assert counts == [3, 3, 3, 3] and "unavailableReplicas" not in status
    conditions = {c["type"]: c for c in status["conditions"]}
    assert (conditions["Available"]["status"], conditions["Available"]["reason"]) == (
        "True",
        "MinimumReplicasAvailable",
    )
    progressing = conditions["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")
    assert progressing["message"] == f'ReplicaSet "{name}" has successfully progressed.'
    rs_status = _get(server, "rs", name)["status"]
    assert (rs_status["replicas"], rs_status["readyReplicas"], rs_status["availableReplicas"]) == (3, 3, 3)
    assert rs_status["fullyLabeledReplicas"] == 3 and rs_status["observedGeneration"] >= 1


def test_rolling_update_keeps_within_surge_and_unavailability_then_undo(
    server: ServerProcess, kcm: ComponentProcess
) -> None:
    first = _get(server, "rs", "-l", "app=web")["items"]
    assert len(first) == 1, "runs after test_create_scale_and_rollout_status"
    first_name = first[0]["metadata"]["name"]
    strategy = {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}
    _k(server, "patch", "deployment", "web", "--type=merge", "-p", json.dumps(strategy))
    drive_rollout(server, "web")

    watch = PodWatch(server.kubeconfig, "app=web")
    eventually(lambda: len(watch.events) >= 3, what="the watch to list the three pods")
    _k(server, "set", "image", "deployment/web", "python=python:3.13")
    _k(server, "annotate", "deployment", "web", "kubernetes.io/change-cause=python 3.13")
    d = drive_rollout(server, "web")
    events = watch.stop()

    states = replay(events, start=3)
    totals = [len(state) for state in states]
    ready = [sum(_ready(p) for p in state) for state in states]
    assert max(totals) <= 3 + 1, f"more than replicas+maxSurge pods at some point: {totals}"
    assert min(ready) >= 3 - 0, f"fewer than replicas-maxUnavailable ready pods at some point: {ready}"
    assert 4 in totals, f"the rollout never used its surge: {totals}"
    images = {p["spec"]["containers"][0]["image"] for p in states[-1]}
    assert images == {"python:3.13"} and len(states[-1]) == 3

    rss = {rs["metadata"]["name"]: rs for rs in _get(server, "rs", "-l", "app=web")["items"]}
    assert set(rss) - {first_name} and rss[first_name]["spec"]["replicas"] == 0
    (second_name,) = set(rss) - {first_name}
    second = rss[second_name]["metadata"]["annotations"]
    assert second["deployment.kubernetes.io/revision"] == "2"
    assert second["kubernetes.io/change-cause"] == "python 3.13"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    scaled = [m for r, m in _events(server, "web") if r == "ScalingReplicaSet"]
    assert f"Scaled up replica set {second_name} from 0 to 1" in scaled
    assert f"Scaled down replica set {first_name} from 3 to 2" in scaled

    # kubectl 1.37 rolls back client-side: it patches revision 1's template into the Deployment
    _k(server, "rollout", "undo", "deployment/web")
    d = drive_rollout(server, "web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "python:3.12"
    rss = {rs["metadata"]["name"]: rs for rs in _get(server, "rs", "-l", "app=web")["items"]}
    assert set(rss) == {first_name, second_name}, "the rollback reuses revision 1's ReplicaSet"
    notes = rss[first_name]["metadata"]["annotations"]
    assert notes["deployment.kubernetes.io/revision"] == "3"
    assert notes["deployment.kubernetes.io/revision-history"] == "1"
    assert rss[first_name]["spec"]["replicas"] == 3 and rss[second_name]["spec"]["replicas"] == 0
    eventually(
        lambda: (
            _get(server, "deployment", "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        ),
        what="the Deployment at revision 3",
    )
    history = _k(server, "rollout", "history", "deployment/web").stdout
    revisions = {line.split()[0]: line.split(None, 1)[1].strip() for line in history.splitlines()[2:] if line.strip()}
    assert revisions == {"2": "python 3.13", "3": "<none>"}, history


def test_recreate_removes_old_pods_before_creating_new_ones(server: ServerProcess, kcm: ComponentProcess) -> None:
    template = {
        "metadata": {"labels": {"app": "rec"}},
        "spec": {"containers": [{"name": "python", "image": "python:3.12"}]},
    }
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "rec", "namespace": NS},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": "rec"}},
            "template": template,
        },
    }
    kubectl("create", "-f", "-", kubeconfig=server.kubeconfig, input=json.dumps(manifest))
    drive_rollout(server, "rec")

    watch = PodWatch(server.kubeconfig, "app=rec")
    eventually(lambda: len(watch.events) >= 2, what="the watch to list the two pods")
    _k(server, "set", "image", "deployment/rec", "python=python:3.13")
    drive_rollout(server, "rec")
    states = replay(watch.stop(), start=2)

    mixed = [sorted({_hash(p) for p in state}) for state in states if len({_hash(p) for p in state}) > 1]
    assert not mixed, f"old and new pods ran together: {mixed}"
    assert [] in states, "every old pod is gone before a new one is created"
    assert {p["spec"]["containers"][0]["image"] for p in states[-1]} == {"python:3.13"} and len(states[-1]) == 2
    scaled = [m for r, m in _events(server, "rec") if r == "ScalingReplicaSet"]
    assert any(re.fullmatch(f"Scaled down replica set rec-{HASH} from 2 to 0", m) for m in scaled), scaled


def test_selector_not_matching_template_is_refused(server: ServerProcess, kcm: ComponentProcess) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "mismatch", "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": "one"}},
            "template": {
                "metadata": {"labels": {"app": "two"}},
                "spec": {"containers": [{"name": "c", "image": "python:3.12"}]},
            },
        },
    }
    result = kubectl("create", "-f", "-", "-v=6", kubeconfig=server.kubeconfig, input=json.dumps(manifest), check=False)
    assert result.returncode != 0
    assert "422 Unprocessable Entity" in result.stderr
    assert "spec.template.metadata.labels" in result.stderr and "`selector` does not match template `labels`" in (
        result.stderr
    )


def test_replica_set_adopts_orphans_and_reports_pods_it_cannot_create(
    server: ServerProcess, kcm: ComponentProcess
) -> None:
    create_namespace(QUOTA_NS, kubeconfig=server.kubeconfig)
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "two-pods"},
        "spec": {"hard": {"pods": "2"}},
    }
    kubectl("create", "-n", QUOTA_NS, "-f", "-", kubeconfig=server.kubeconfig, input=json.dumps(quota))
    stray = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "stray", "labels": {"app": "bare"}},
        "spec": {"containers": [{"name": "python", "image": "python:3.12"}]},
    }
    kubectl("create", "-n", QUOTA_NS, "-f", "-", kubeconfig=server.kubeconfig, input=json.dumps(stray))
    template = {"metadata": {"labels": {"app": "bare"}}, "spec": stray["spec"]}
    replica_set = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "bare"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "bare"}}, "template": template},
    }
    kubectl("create", "-n", QUOTA_NS, "-f", "-", kubeconfig=server.kubeconfig, input=json.dumps(replica_set))

    def failure() -> dict[str, Any] | None:
        conditions = (_get(server, "rs", "bare", ns=QUOTA_NS).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == "ReplicaFailure"), None)

    cond = eventually(failure, what="the ReplicaFailure condition")
    assert cond is not None
    assert (cond["status"], cond["reason"]) == ("True", "FailedCreate") and "exceeded quota" in cond["message"]
    pods = _live_pods(server, "bare", ns=QUOTA_NS)
    assert len(pods) == 2 and "stray" in {p["metadata"]["name"] for p in pods}
    adopted = next(p for p in pods if p["metadata"]["name"] == "stray")["metadata"]["ownerReferences"]
    assert [(r["kind"], r["name"], r["controller"]) for r in adopted] == [("ReplicaSet", "bare", True)]
    events = _events(server, "bare", ns=QUOTA_NS)
    assert any(r == "FailedCreate" and m.startswith("Error creating: ") and "exceeded quota" in m for r, m in events)
    assert _get(server, "rs", "bare", ns=QUOTA_NS)["status"]["replicas"] == 2

    _k(server, "scale", "rs", "bare", "--replicas=2", ns=QUOTA_NS)
    eventually(lambda: failure() is None, what="the ReplicaFailure condition to go")
