"""The provider-local node agent against a real embedded API server: workloads become host processes.

One API server and one agent serve the module (each test in its own namespace). The agent uses
loopback ranges of its own (127.11-13.x.x) so a local garden running on the same machine does not
collide with it. After the module, the agent stops with --cleanup-on-exit and no process it started
may be left (checked in /proc).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ServerProcess, create_namespace, eventually, kubectl
from tests.kubecomponents import ComponentProcess, controller_manager, scheduler

POD_NET, SVC_NET, LB_NET = "127.11.", "127.12.", "127.13."
TIMEOUT = 30.0

# A web server that answers with its pod's name, bound to the address given as argv[1].
WEB = (
    "import http.server, os, sys\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = os.environ['HOSTNAME'].encode()\n"
    "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def log_message(self, *args): pass\n"
    "http.server.ThreadingHTTPServer((sys.argv[1], 8080), H).serve_forever()\n"
)


@dataclass
class AgentProcess:
    """`provider-local-node-agent` as a child process; its output goes to agent.log in its data dir."""

    kubeconfig: Path
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    pids: set[int] = field(default_factory=set)
    #: the controller manager and scheduler the kubelet works beside (started once, kept across agent restarts)
    companions: list[ComponentProcess] = field(default_factory=list)

    def start(self) -> AgentProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.companions:
            logs = self.data_dir.parent / f"{self.data_dir.name}-components"
            logs.mkdir(exist_ok=True)
            self.companions = [
                controller_manager(self.kubeconfig, logs / "kcm.log"),
                scheduler(self.kubeconfig, logs / "scheduler.log"),
            ]
        (self.data_dir / "metrics.port").unlink(missing_ok=True)
        args = [
            sys.executable,
            "-m",
            "extensions.provider_local.nodeagent.main",
            "--port",
            "0",
            "--kubeconfig",
            str(self.kubeconfig),
            "--data-dir",
            str(self.data_dir),
            "--node-name",
            "test-node",
            "--metrics-port",
            "0",
            "--pod-network",
            f"{POD_NET}0.0/16",
            "--service-network",
            f"{SVC_NET}0.0/16",
            "--load-balancer-network",
            f"{LB_NET}0.0/16",
            "--cleanup-on-exit",
        ]
        with open(self.data_dir / "agent.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        eventually(self.healthy, timeout=TIMEOUT, what="node agent healthy")
        return self

    def healthy(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, f"agent exited: {self.log_tail()}"
        port = int((self.data_dir / "metrics.port").read_text())
        return http_get(f"http://127.0.0.1:{port}/healthz") == "ok"

    def metrics(self) -> str:
        port = int((self.data_dir / "metrics.port").read_text())
        return http_get(f"http://127.0.0.1:{port}/metrics")

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir / "agent.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)

    def stop_companions(self) -> None:
        for component in reversed(self.companions):
            component.stop()


def alive(pid: int) -> bool:
    """True for a running process (zombies are dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def processes_under(directory: Path) -> list[int]:
    """Live processes whose working directory or command line points into `directory`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid() or not alive(int(entry.name)):
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(directory)) or str(directory) in cmdline:
            found.append(int(entry.name))
    return found


def seed_server(data_dir: Path) -> ServerProcess:
    """A seed API server handing out cluster IPs from the agent's loopback service network."""
    return ServerProcess(data_dir=data_dir, extra_args=["--service-cluster-ip-range", f"{SVC_NET}0.0/16"]).start()


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = seed_server(tmp_path_factory.mktemp("seed"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def agent(seed: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    agent = AgentProcess(kubeconfig=seed.kubeconfig, data_dir=tmp_path_factory.mktemp("nodeagent")).start()
    yield agent
    try:
        if agent.proc is None or agent.proc.poll() is not None:
            agent.start()  # a test left it stopped: only a running agent cleans up
        agent.stop()
        log = agent.log_tail(400)
        assert "Traceback" not in log, log
        assert agent.proc is not None and agent.proc.returncode == 0, log
        assert processes_under(agent.data_dir) == [], "containers outlived the agent"
        assert [pid for pid in agent.pids if alive(pid)] == [], "containers outlived the agent"
    finally:
        agent.stop_companions()
        if agent.proc is not None and agent.proc.poll() is None:
            agent.proc.kill()
        for pid in processes_under(agent.data_dir):
            os.kill(pid, signal.SIGKILL)


def apply(kc: Path, *docs: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", kubeconfig=kc, input=yaml.safe_dump_all(docs))


def get(kc: Path, kind: str, ns: str, name: str = "", selector: str = "") -> Any:
    args = ["get", kind, "-n", ns, "-o", "json"] + ([name] if name else []) + (["-l", selector] if selector else [])
    result = kubectl(*args, kubeconfig=kc, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def pid_of(pod: dict[str, Any], container: int = 0) -> int:
    return int(pod["status"]["containerStatuses"][container]["containerID"].removeprefix("local://"))


def http_get(url: str) -> str:
    """GET a body over plain HTTP; the connection is closed whatever happens (warnings are errors)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=3)
    try:
        conn.request("GET", parts.path or "/")
        resp = conn.getresponse()
        body = resp.read().decode()
        assert resp.status == 200, f"GET {url}: HTTP {resp.status}"
        return body
    finally:
        conn.close()


def deployment(ns: str, name: str, pod_spec: dict[str, Any], *, replicas: int = 1) -> dict[str, Any]:
    """A Deployment of `pod_spec` whose pods carry the label app=<name>."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def web_deployment(ns: str, name: str, replicas: int) -> dict[str, Any]:
    container = {
        "name": "web",
        "image": "python:3.11",
        "command": ["python3", "-c", WEB, "$(POD_IP)"],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
    }
    return deployment(ns, name, {"containers": [container]}, replicas=replicas)


def service(ns: str, name: str, *, kind: str = "ClusterIP", port: int = 80) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "type": kind,
            "selector": {"app": name},
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
        },
    }


def ready_pods(kc: Path, ns: str, app: str, count: int) -> list[dict[str, Any]]:
    pods = get(kc, "pods", ns, selector=f"app={app}")["items"]
    assert len(pods) == count and all(ready(p) for p in pods), [p["status"] for p in pods]
    return list(pods)


def test_deployment_runs_ready_pods_behind_a_service(seed: ServerProcess, agent: AgentProcess) -> None:
    kc, ns = seed.kubeconfig, "agent-deploy"
    create_namespace(ns, kubeconfig=kc)
    apply(kc, web_deployment(ns, "web", 2), service(ns, "web"))
    pods = eventually(lambda: ready_pods(kc, ns, "web", 2), timeout=TIMEOUT, what="2 ready pods")
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 2 and all(ip.startswith(POD_NET) for ip in ips)
    for pod in pods:
        assert pod["metadata"]["name"].startswith("web-")
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert pod["status"]["phase"] == "Running" and pod["status"]["hostIP"] == "127.0.0.1"
        pid = pid_of(pod)
        agent.pids.add(pid)
        assert pod["status"]["podIP"] in Path(f"/proc/{pid}/cmdline").read_text(), "$(POD_IP) was expanded"

    def available() -> dict[str, Any]:
        deploy = get(kc, "deployment", ns, "web")
        status = deploy["status"]
        assert status.get("observedGeneration") == deploy["metadata"]["generation"]
        assert (status.get("replicas"), status.get("readyReplicas"), status.get("availableReplicas")) == (2, 2, 2)
        assert status.get("updatedReplicas") == 2
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["Available"]["status"] == "True"
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
        return dict(status)

    eventually(available, timeout=TIMEOUT, what="deployment available")
    kubectl("rollout", "status", "deployment/web", "-n", ns, "--timeout=30s", kubeconfig=kc)

    svc = get(kc, "service", ns, "web")
    cluster_ip = svc["spec"]["clusterIP"]
    assert cluster_ip.startswith(SVC_NET)
    endpoints = eventually(lambda: get(kc, "endpoints", ns, "web"), what="endpoints")
    assert {a["ip"] for a in endpoints["subsets"][0]["addresses"]} == ips
    names = {p["metadata"]["name"] for p in pods}
    seen: set[str] = set()

    def both_pods_answer() -> bool:
        seen.add(http_get(f"http://{cluster_ip}:80/"))
        return seen == names

    eventually(both_pods_answer, timeout=TIMEOUT, what="the service proxy reaches both pods")
    assert "nodeagent_service_proxies" in agent.metrics()


def test_killed_container_is_restarted(seed: ServerProcess, agent: AgentProcess) -> None:
    kc, ns = seed.kubeconfig, "agent-restart"
    create_namespace(ns, kubeconfig=kc)
    apply(kc, web_deployment(ns, "crashy", 1))
    pod = eventually(lambda: ready_pods(kc, ns, "crashy", 1), timeout=TIMEOUT, what="ready pod")[0]
    old = pid_of(pod)
    agent.pids.add(old)
    os.kill(old, signal.SIGKILL)

    def restarted() -> dict[str, Any]:
        current = get(kc, "pod", ns, pod["metadata"]["name"])
        status = current["status"]["containerStatuses"][0]
        assert status["restartCount"] == 1 and ready(current), status
        assert status["lastState"]["terminated"]["exitCode"] == 137
        return dict(current)

    current = eventually(restarted, timeout=TIMEOUT, what="container restarted")
    new = pid_of(current)
    agent.pids.add(new)
    assert new != old and alive(new) and not alive(old)


def test_deleting_a_deployment_removes_pods_and_processes(seed: ServerProcess, agent: AgentProcess) -> None:
    kc, ns = seed.kubeconfig, "agent-delete"
    create_namespace(ns, kubeconfig=kc)
    apply(kc, web_deployment(ns, "gone", 2))
    pods = eventually(lambda: ready_pods(kc, ns, "gone", 2), timeout=TIMEOUT, what="ready pods")
    pids = {pid_of(p) for p in pods}
    agent.pids |= pids
    kubectl("delete", "deployment", "gone", "-n", ns, kubeconfig=kc)
    eventually(lambda: get(kc, "pods", ns)["items"] == [], timeout=TIMEOUT, what="pods deleted")
    eventually(lambda: not any(alive(pid) for pid in pids), timeout=TIMEOUT, what="processes stopped")


def test_rolling_update_replaces_pods(seed: ServerProcess, agent: AgentProcess) -> None:
    kc, ns = seed.kubeconfig, "agent-rollout"
    create_namespace(ns, kubeconfig=kc)
    apply(kc, web_deployment(ns, "roll", 2))
    old = eventually(lambda: ready_pods(kc, ns, "roll", 2), timeout=TIMEOUT, what="ready pods")
    old_pids = {pid_of(p) for p in old}
    agent.pids |= old_pids
    kubectl("set", "env", "deployment/roll", "-n", ns, "VERSION=2", kubeconfig=kc)
    kubectl("rollout", "status", "deployment/roll", "-n", ns, "--timeout=60s", kubeconfig=kc, timeout=90)
    new = eventually(lambda: ready_pods(kc, ns, "roll", 2), timeout=TIMEOUT, what="2 new ready pods")
    assert not {p["metadata"]["name"] for p in new} & {p["metadata"]["name"] for p in old}
    for pod in new:
        agent.pids.add(pid_of(pod))
        assert {"name": "VERSION", "value": "2"} in pod["spec"]["containers"][0]["env"]
        assert b"VERSION=2" in Path(f"/proc/{pid_of(pod)}/environ").read_bytes()
    eventually(lambda: not any(alive(pid) for pid in old_pids), timeout=TIMEOUT, what="old processes stopped")


def test_termination_waits_for_the_grace_period(seed: ServerProcess, agent: AgentProcess) -> None:
    kc, ns = seed.kubeconfig, "agent-grace"
    create_namespace(ns, kubeconfig=kc)
    container = {"name": "stubborn", "image": "busybox", "command": ["sh", "-c", "trap '' TERM; exec sleep 3600"]}
    apply(kc, deployment(ns, "stubborn", {"terminationGracePeriodSeconds": 3, "containers": [container]}))
    pod = eventually(lambda: ready_pods(kc, ns, "stubborn", 1), timeout=TIMEOUT, what="ready pod")[0]
    pid = pid_of(pod)
    agent.pids.add(pid)
    kubectl("scale", "deployment", "stubborn", "-n", ns, "--replicas=0", kubeconfig=kc)

    def terminating() -> bool:
        current = get(kc, "pod", ns, pod["metadata"]["name"])
        return bool(current and current["metadata"].get("deletionTimestamp"))

    eventually(terminating, timeout=TIMEOUT, what="pod terminating")
    assert alive(pid), "SIGTERM is ignored, so the process lives on for the grace period"
    eventually(lambda: get(kc, "pods", ns)["items"] == [], timeout=TIMEOUT, what="pod gone after the grace period")
    assert not alive(pid), "the Pod object goes only after its process"


def test_statefulset_claim_outlives_scale_to_zero(seed: ServerProcess, agent: AgentProcess) -> None:
    kc, ns = seed.kubeconfig, "agent-sts"
    create_namespace(ns, kubeconfig=kc)
    container = {
        "name": "db",
        "image": "busybox:1.36",
        "command": ["sh", "-c", "echo started-$(POD_NAME) >> /var/data/log; exec sleep 3600"],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "volumeMounts": [{"name": "data", "mountPath": "/var/data"}],
        "readinessProbe": {"exec": {"command": ["test", "-s", "/var/data/log"]}, "periodSeconds": 1},
    }
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": ns},
        "spec": {
            "serviceName": "db",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"terminationGracePeriodSeconds": 5, "containers": [container]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }
    apply(kc, sts)
    data = agent.data_dir / "pvc" / ns / "data-db-0" / "log"
    pod = eventually(lambda: ready_pods(kc, ns, "db", 1), timeout=TIMEOUT, what="ready pod")[0]
    assert pod["metadata"]["name"] == "db-0"
    pid = pid_of(pod)
    agent.pids.add(pid)
    assert data.read_text() == "started-db-0\n"
    claim = get(kc, "pvc", ns, "data-db-0")
    assert claim["status"]["phase"] == "Bound" and claim["status"]["capacity"]["storage"] == "1Gi"

    def status_ready(count: int) -> bool:
        status = get(kc, "statefulset", ns, "db")["status"]
        assert status.get("readyReplicas", 0) == count and status["replicas"] == count, status
        return True

    eventually(lambda: status_ready(1), timeout=TIMEOUT, what="statefulset ready")
    kubectl("scale", "statefulset", "db", "-n", ns, "--replicas=0", kubeconfig=kc)
    eventually(lambda: get(kc, "pods", ns)["items"] == [], timeout=TIMEOUT, what="pod gone")
    assert not alive(pid), "the pod object outlives its processes"
    eventually(lambda: status_ready(0), timeout=TIMEOUT, what="statefulset scaled to zero")
    assert data.exists()
    kubectl("scale", "statefulset", "db", "-n", ns, "--replicas=1", kubeconfig=kc)
    pod = eventually(lambda: ready_pods(kc, ns, "db", 1), timeout=TIMEOUT, what="ready again")[0]
    agent.pids.add(pid_of(pod))
    assert data.read_text() == "started-db-0\nstarted-db-0\n"


def test_load_balancer_service_gets_an_ingress_address(seed: ServerProcess, agent: AgentProcess) -> None:
    kc, ns = seed.kubeconfig, "agent-lb"
    create_namespace(ns, kubeconfig=kc)
    apply(kc, web_deployment(ns, "front", 1), service(ns, "front", kind="LoadBalancer", port=8443))
    pod = eventually(lambda: ready_pods(kc, ns, "front", 1), timeout=TIMEOUT, what="ready pod")[0]
    agent.pids.add(pid_of(pod))

    def ingress() -> str:
        ip = get(kc, "service", ns, "front")["status"]["loadBalancer"]["ingress"][0]["ip"]
        assert ip.startswith(LB_NET)
        return str(ip)

    ip = eventually(ingress, timeout=TIMEOUT, what="load balancer address")
    body = eventually(lambda: http_get(f"http://{ip}:8443/"), timeout=TIMEOUT, what="load balancer proxies")
    assert body == pod["metadata"]["name"]


def test_config_reaches_containers(seed: ServerProcess, agent: AgentProcess) -> None:
    kc, ns = seed.kubeconfig, "agent-config"
    create_namespace(ns, kubeconfig=kc)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": ns},
        "stringData": {"password": "s3cret"},
    }
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": ns},
        "data": {"greeting": "hello"},
    }
    script = (
        "echo $PASSWORD $(GREETING) $ETCD_SERVICE_HOST $KUBERNETES_SERVICE_PORT > /out/env; "
        "cat /secrets/password > /out/file; exec sleep 3600"
    )
    init: dict[str, Any] = {"name": "init", "image": "busybox", "command": ["sh", "-c", "echo initialized > /out/init"]}
    init["volumeMounts"] = [{"name": "out", "mountPath": "/out"}]
    container = {
        "name": "app",
        "image": "busybox",
        "command": ["sh", "-c", script],
        "env": [
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}}},
        ],
        "volumeMounts": [{"name": "secrets", "mountPath": "/secrets"}, {"name": "out", "mountPath": "/out"}],
        "readinessProbe": {"exec": {"command": ["test", "-s", "/out/file"]}, "periodSeconds": 1},
    }
    etcd_svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "etcd", "namespace": ns},
        "spec": {"selector": {"app": "etcd"}, "ports": [{"port": 2379}]},
    }
    volumes = [{"name": "secrets", "secret": {"secretName": "creds"}}, {"name": "out", "emptyDir": {}}]
    deploy = deployment(ns, "app", {"initContainers": [init], "containers": [container], "volumes": volumes})
    apply(kc, etcd_svc)
    cluster_ip = eventually(lambda: get(kc, "service", ns, "etcd")["spec"]["clusterIP"], what="cluster IP")
    apply(kc, secret, configmap, deploy)
    pod = eventually(lambda: ready_pods(kc, ns, "app", 1), timeout=TIMEOUT, what="ready pod")[0]
    agent.pids.add(pid_of(pod))
    pod_dir = agent.data_dir / "pods" / f"{ns}_{pod['metadata']['name']}_{pod['metadata']['uid']}"
    assert (pod_dir / "volumes" / "out" / "env").read_text() == f"s3cret hello {cluster_ip} {seed.port}\n"
    assert (pod_dir / "volumes" / "out" / "init").read_text() == "initialized\n"
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert (pod_dir / "volumes" / "out" / "file").read_text() == "s3cret"
    secret_file = (pod_dir / "volumes" / "secrets" / "password").resolve()
    assert secret_file.stat().st_mode & 0o777 == 0o600


def test_restarted_agent_adopts_running_containers(seed: ServerProcess, agent: AgentProcess) -> None:
    kc, ns = seed.kubeconfig, "agent-adopt"
    create_namespace(ns, kubeconfig=kc)
    apply(kc, web_deployment(ns, "steady", 1), service(ns, "steady"), web_deployment(ns, "orphan", 1))
    pod = eventually(lambda: ready_pods(kc, ns, "steady", 1), timeout=TIMEOUT, what="ready pod")[0]
    orphan = eventually(lambda: ready_pods(kc, ns, "orphan", 1), timeout=TIMEOUT, what="ready pod")[0]
    pid, orphan_pid = pid_of(pod), pid_of(orphan)
    agent.pids |= {pid, orphan_pid}
    agent.stop(signal.SIGKILL)
    assert alive(pid) and alive(orphan_pid), "containers outlive an agent that dies"
    kubectl("delete", "deployment", "orphan", "-n", ns, kubeconfig=kc)

    def terminating() -> bool:
        # a bound pod is deleted gracefully: it stays Terminating until its kubelet has stopped it
        items = get(kc, "pods", ns, selector="app=orphan")["items"]
        return items == [] or all(p["metadata"].get("deletionTimestamp") for p in items)

    eventually(terminating, what="orphan pod deleted")
    agent.start()
    eventually(lambda: not alive(orphan_pid), timeout=TIMEOUT, what="container of a pod deleted meanwhile stopped")
    eventually(lambda: get(kc, "pods", ns, selector="app=orphan")["items"] == [], what="orphan pod object gone")
    cluster_ip = get(kc, "service", ns, "steady")["spec"]["clusterIP"]
    body = eventually(lambda: http_get(f"http://{cluster_ip}:80/"), timeout=TIMEOUT, what="proxy back")
    assert body == pod["metadata"]["name"]
    current = get(kc, "pod", ns, pod["metadata"]["name"])
    assert pid_of(current) == pid and current["status"]["containerStatuses"][0]["restartCount"] == 0
    assert ready(current), "readiness survives the agent's restart"
