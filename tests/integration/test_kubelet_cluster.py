"""A cluster of the project's own parts: API server, kube-controller-manager, kube-scheduler and two kubelets
(provider-local's node agent in kubelet mode). Workloads created with the real kubectl run as host processes
on both nodes, reach each other through a Service, and the kubelets report what upstream's would: probes,
crash loops, images a node cannot run, graceful deletion, drains and a node that dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gardener.runtime.process import PidFile
from tests.helpers import KUBECTL, ServerProcess, eventually, kubectl, module_server
from tests.kubecomponents import ComponentProcess, controller_manager, kubelet, scheduler

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="service proxies listen on port 80 of loopback addresses")

_BASE = 160 + (os.getpid() % 40)
#: a shoot's service network is not on this host's loopback: each kubelet serves a Service at an alias of its own
SERVICE_RANGE = "10.96.0.0/24"
server = module_server("kubelet-cluster", extra_args=("--service-cluster-ip-range", SERVICE_RANGE))


class Cluster:
    def __init__(self, server: ServerProcess, root: Path) -> None:
        self.server = server
        self.root = root
        self.kubeconfig = server.kubeconfig
        self.kcm = controller_manager(
            self.kubeconfig,
            root / "kcm.log",
            "--node-monitor-grace-period=6s",
            "--node-monitor-period=1s",
        )
        self.scheduler = scheduler(self.kubeconfig, root / "scheduler.log")
        self.kubelets: dict[str, ComponentProcess] = {}
        for index, name in enumerate(("node-a", "node-b"), start=1):
            self.start_kubelet(name, index)

    def start_kubelet(self, name: str, index: int) -> None:
        self.kubelets[name] = kubelet(
            self.kubeconfig,
            self.root / f"{name}.log",
            name=name,
            data_dir=self.root / name,
            block=f"127.{_BASE}.{index}",
            args=("--node-labels", f"topology.kubernetes.io/zone=zone-{index}"),
        )

    def get(self, *args: str) -> Any:
        return json.loads(kubectl("get", *args, "-o", "json", kubeconfig=self.kubeconfig).stdout)

    def pods(self, selector: str) -> list[dict[str, Any]]:
        return list(self.get("pods", "-l", selector)["items"])

    def logs(self) -> str:
        parts = [f"--- {n}\n{k.log_tail(30)}" for n, k in self.kubelets.items()]
        return "\n".join([*parts, f"--- kcm\n{self.kcm.log_tail(20)}", f"--- scheduler\n{self.scheduler.log_tail(20)}"])

    def stop(self) -> None:
        for component in (*self.kubelets.values(), self.scheduler, self.kcm):
            component.stop()
        # a kubelet killed by a test leaves its containers behind, as a dead kubelet does on a machine
        for pid_file in self.root.glob("*/pods/*/containers/*/pid"):
            record = PidFile.read(pid_file)
            if record is not None and record.alive():
                record.stop(2.0)


@pytest.fixture(scope="module")
def cluster(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(server, tmp_path_factory.mktemp("kubelets"))
    try:
        print(f"components' logs: {c.root}")
        wait(lambda: len(c.get("nodes")["items"]) == 2, timeout=60)
        yield c
    finally:
        c.stop()


def wait(check: Callable[[], Any], *, timeout: float) -> Any:
    return eventually(check, timeout=timeout, interval=0.3)


def _running(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return status.get("phase") == "Running" and ready


def test_nodes_register_with_their_labels_and_leases(cluster: Cluster) -> None:
    nodes = {n["metadata"]["name"]: n for n in cluster.get("nodes")["items"]}
    assert nodes["node-a"]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "zone-1"
    assert {"type": "InternalIP", "address": f"127.{_BASE}.2.1"} in nodes["node-b"]["status"]["addresses"]
    ready = [c for c in nodes["node-a"]["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True" and ready[0]["reason"] == "KubeletReady"
    lease = cluster.get("lease", "-n", "kube-node-lease", "node-b")
    assert lease["spec"]["holderIdentity"] == "node-b" and lease["spec"]["renewTime"]


def test_a_deployment_runs_on_both_nodes_and_a_client_reaches_its_service(cluster: Cluster) -> None:
    kc = cluster.kubeconfig
    kubectl(
        *("create", "deployment", "web", "--image=python:3.12", "--replicas=3", "--port=8080"),
        *("--", "python3", "-m", "http.server", "8080"),
        kubeconfig=kc,
    )
    wait(lambda: len([p for p in cluster.pods("app=web") if _running(p)]) == 3, timeout=90)
    pods = cluster.pods("app=web")
    assert len({p["spec"]["nodeName"] for p in pods}) == 2, [p["spec"]["nodeName"] for p in pods]
    # every pod serves on its own address (a wildcard bind in a pod means the pod's address), none crashed
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 0 for p in pods)
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 3 and all(ip.startswith(f"127.{_BASE}.") for ip in ips)
    kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080", kubeconfig=kc)
    wait(
        lambda: len((cluster.get("endpoints", "web").get("subsets") or [{}])[0].get("addresses") or []) == 3,
        timeout=30,
    )
    fetch = (
        "import os, urllib.request; print(urllib.request.urlopen('http://' + os.environ['WEB_SERVICE_HOST']).status)"
    )
    kubectl("run", "client", "--image=python:3.12", "--restart=Never", "--", "python3", "-c", fetch, kubeconfig=kc)
    wait(
        lambda: (cluster.get("pod", "client").get("status") or {}).get("phase") in ("Succeeded", "Failed"),
        timeout=60,
    )
    client = cluster.get("pod", "client")
    assert client["status"]["phase"] == "Succeeded", client["status"]
    assert cluster.get("service", "web")["spec"]["clusterIP"].startswith("10.96.0.")
    state = client["status"]["containerStatuses"][0]["state"]["terminated"]
    assert state["exitCode"] == 0 and state["reason"] == "Completed"
    # a NodePort answers on every node's own address
    kubectl(
        "expose",
        "deployment",
        "web",
        "--name=web-np",
        "--type=NodePort",
        "--port=80",
        "--target-port=8080",
        kubeconfig=kc,
    )
    node_port = cluster.get("service", "web-np")["spec"]["ports"][0]["nodePort"]
    for index in (1, 2):
        url = f"http://127.{_BASE}.{index}.1:{node_port}/"
        assert wait(lambda u=url: urllib.request.urlopen(u, timeout=5).status, timeout=30) == 200


PROBED = """
apiVersion: v1
kind: Pod
metadata: {name: probed, labels: {app: probed}}
spec:
  containers:
  - name: main
    image: python:3.12
    command: [python3, -m, http.server, "8081"]
    readinessProbe: {exec: {command: ["false"]}, periodSeconds: 1}
    livenessProbe: {httpGet: {path: /, port: 9999}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: probed}
spec: {selector: {app: probed}, ports: [{port: 81, targetPort: 8081}]}
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers: [{name: main, image: python:3.12, command: [python3, -c, "raise SystemExit(1)"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: foreign}
spec:
  containers: [{name: main, image: registry.example.com/team/windows-only:1.0}]
"""


def _container(cluster: Cluster, pod: str) -> dict[str, Any]:
    statuses = (cluster.get("pod", pod).get("status") or {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


def test_probes_crash_loops_and_foreign_images_as_upstream_reports_them(cluster: Cluster) -> None:
    kubectl("apply", "-f", "-", input=PROBED, kubeconfig=cluster.kubeconfig)
    # liveness fails: the container is restarted again and again; readiness fails: never an endpoint
    wait(lambda: int(_container(cluster, "probed").get("restartCount") or 0) >= 2, timeout=60)
    endpoints = cluster.get("endpoints", "probed").get("subsets") or []
    assert not any(s.get("addresses") for s in endpoints), endpoints
    assert any(s.get("notReadyAddresses") for s in endpoints), endpoints
    wait(
        lambda: (
            (_container(cluster, "crasher").get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
        ),
        timeout=60,
    )
    crasher = _container(cluster, "crasher")
    assert crasher["lastState"]["terminated"]["exitCode"] == 1 and crasher["restartCount"] >= 1
    wait(lambda: "waiting" in (_container(cluster, "foreign").get("state") or {}), timeout=30)
    waiting = _container(cluster, "foreign")["state"]["waiting"]
    assert waiting["reason"] and "windows-only" in waiting.get("message", ""), waiting
    # the kubelets keep serving everything else
    assert all(k.alive() for k in cluster.kubelets.values()), cluster.logs()
    kubectl("delete", "pod", "probed", "crasher", "foreign", "--wait=false", kubeconfig=cluster.kubeconfig)


def test_logs_exec_cp_and_port_forward_reach_pods_through_the_api_server(cluster: Cluster, tmp_path: Path) -> None:
    kc = cluster.kubeconfig
    pod = cluster.pods("app=web")[0]["metadata"]["name"]
    # http.server logs each request on stderr: the client's fetch may have reached any of them, so make one here
    out = kubectl("exec", pod, "--", "python3", "-c", "print(6*7)", kubeconfig=kc)
    assert out.stdout == "42\n"
    echoed = kubectl(
        "exec",
        "-i",
        pod,
        "--",
        "python3",
        "-c",
        "import sys; print(sys.stdin.read().upper())",
        input="hi",
        kubeconfig=kc,
    )
    assert echoed.stdout == "HI\n"
    failed = kubectl("exec", pod, "--", "python3", "-c", "raise SystemExit(3)", kubeconfig=kc, check=False)
    assert failed.returncode == 3
    # kubectl cp both ways (tar through exec)
    (tmp_path / "up.txt").write_text("uploaded\n")
    kubectl("cp", str(tmp_path / "up.txt"), f"default/{pod}:up.txt", kubeconfig=kc)
    assert kubectl("exec", pod, "--", "cat", "up.txt", kubeconfig=kc).stdout == "uploaded\n"
    kubectl("cp", f"default/{pod}:up.txt", str(tmp_path / "down.txt"), kubeconfig=kc)
    assert (tmp_path / "down.txt").read_text() == "uploaded\n"
    # port-forward to the Service: kubectl picks a pod behind it and tunnels through the API server
    forward = subprocess.Popen(
        [KUBECTL, "port-forward", "svc/web", "18080:80"],
        env={**os.environ, "KUBECONFIG": str(kc), "HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = wait(lambda: urllib.request.urlopen("http://127.0.0.1:18080/", timeout=5).read(), timeout=30)
        assert b"Directory listing" in body
    finally:
        forward.terminate()
        forward.communicate(timeout=10)
    # the forwarded request reached one of the pods, whose http.server logged it
    logs = {
        p["metadata"]["name"]: kubectl("logs", p["metadata"]["name"], kubeconfig=kc).stdout
        for p in cluster.pods("app=web")
    }
    served = [name for name, text in logs.items() if '"GET / HTTP/1.1" 200' in text]
    assert served, logs
    assert kubectl("logs", served[0], "--tail=1", kubeconfig=kc).stdout.count("\n") == 1


CALLS_THE_API = """
import os, ssl, urllib.error, urllib.request
d = '/var/run/secrets/kubernetes.io/serviceaccount'
token = open(d + '/token').read()
ctx = ssl.create_default_context(cafile=d + '/ca.crt')
host = os.environ['KUBERNETES_SERVICE_HOST'] + ':' + os.environ['KUBERNETES_SERVICE_PORT']
ns = open(d + '/namespace').read()
auth = {'Authorization': 'Bearer ' + token}
req = urllib.request.Request(f'https://{host}/api/v1/namespaces/{ns}/pods', headers=auth)
try:
    urllib.request.urlopen(req, context=ctx)
except urllib.error.HTTPError as exc:
    print(exc.code, token.count('.'))
"""


def test_a_pod_calls_the_api_with_its_projected_service_account_token(cluster: Cluster) -> None:
    kc = cluster.kubeconfig
    kubectl(
        "run", "caller", "--image=python:3.12", "--restart=Never", "--", "python3", "-c", CALLS_THE_API, kubeconfig=kc
    )
    wait(lambda: (cluster.get("pod", "caller").get("status") or {}).get("phase") in ("Succeeded", "Failed"), timeout=60)
    pod = cluster.get("pod", "caller")
    projected = [v for v in pod["spec"]["volumes"] if "projected" in v]
    assert projected and any("serviceAccountToken" in s for s in projected[0]["projected"]["sources"])
    # the token authenticates (a JWT: two dots) as the pod's ServiceAccount, which may not list pods: 403, not 401
    assert kubectl("logs", "caller", kubeconfig=kc).stdout == "403 2\n"
    assert pod["status"]["phase"] == "Succeeded"


def test_logs_follow_and_previous(cluster: Cluster) -> None:
    kc = cluster.kubeconfig
    ticker = (
        "import sys, time, os\n"
        "n = int(open('count').read()) if os.path.exists('count') else 0\n"
        "open('count', 'w').write(str(n + 1))\n"
        "for i in range(4):\n"
        "    print(f'run {n} line {i}', flush=True); time.sleep(0.5)\n"
        "raise SystemExit(1)\n"
    )
    kubectl("run", "ticker", "--image=python:3.12", "--", "python3", "-c", ticker, kubeconfig=kc)
    follow = subprocess.Popen(
        [KUBECTL, "logs", "-f", "ticker", "--pod-running-timeout=60s"],
        env={**os.environ, "KUBECONFIG": str(kc), "HOME": str(kc.parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert follow.stdout is not None
        seen = [follow.stdout.readline() for _ in range(3)]
        assert [line.split(" line ")[-1] for line in seen] == ["0\n", "1\n", "2\n"], seen
    finally:
        follow.kill()
        follow.communicate(timeout=10)
    wait(lambda: int(_container(cluster, "ticker").get("restartCount") or 0) >= 1, timeout=60)
    previous = kubectl("logs", "ticker", "--previous", kubeconfig=kc).stdout
    assert "run 0 line 3" in previous and "run 1" not in previous, previous
    kubectl("delete", "pod", "ticker", "--wait=false", kubeconfig=kc)


def test_drain_evicts_honours_a_budget_and_pods_move(cluster: Cluster) -> None:
    kc = cluster.kubeconfig
    kubectl("create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=2", kubeconfig=kc)
    wait(lambda: (cluster.get("pdb", "web").get("status") or {}).get("disruptionsAllowed") == 1, timeout=30)
    pods = cluster.pods("app=web")
    busiest = max(("node-a", "node-b"), key=lambda n: sum(p["spec"]["nodeName"] == n for p in pods))
    on_busiest = sum(p["spec"]["nodeName"] == busiest for p in pods)
    result = kubectl("drain", busiest, "--ignore-daemonsets", "--timeout=120s", kubeconfig=kc, timeout=150)
    assert "drained" in result.stdout, result.stdout + result.stderr
    if on_busiest >= 2:
        # kubectl evicts them at once: the budget lets one go and refuses the other until a replacement is Ready
        assert "would violate the pod's disruption budget" in result.stdout + result.stderr, result
    other = "node-b" if busiest == "node-a" else "node-a"
    assert cluster.get("node", busiest)["spec"].get("unschedulable") is True

    def moved() -> bool:
        running = [p for p in cluster.pods("app=web") if _running(p) and not p["metadata"].get("deletionTimestamp")]
        return len(running) == 3 and all(p["spec"]["nodeName"] == other for p in running)

    wait(moved, timeout=90)
    kubectl("uncordon", busiest, kubeconfig=kc)
    kubectl("delete", "pdb", "web", kubeconfig=kc)


def test_deleting_a_pod_stops_its_processes_and_the_object_goes(cluster: Cluster) -> None:
    pod = cluster.pods("app=web")[0]
    name, node = pod["metadata"]["name"], pod["spec"]["nodeName"]
    pid_files = list((cluster.root / node / "pods").glob(f"default_{name}_*/containers/*/pid"))
    assert pid_files, "the pod's container has a pid file on its node"
    pid = int(json.loads(pid_files[0].read_text())["pid"])
    kubectl("delete", "pod", name, "--timeout=60s", kubeconfig=cluster.kubeconfig)
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    # the ReplicaSet replaces it
    wait(lambda: len([p for p in cluster.pods("app=web") if _running(p)]) == 3, timeout=60)


def test_a_node_whose_kubelet_dies_gets_tainted_and_its_pods_move(cluster: Cluster) -> None:
    kc = cluster.kubeconfig
    # upstream's DefaultTolerationSeconds gives pods 300 s on a lost node; these tolerate it for 2 s only
    toleration = [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2},
    ]
    patch = {"spec": {"template": {"spec": {"tolerations": toleration}}}}
    kubectl("patch", "deployment", "web", "--type=merge", "-p", json.dumps(patch), kubeconfig=kc)

    def rolled() -> bool:
        pods = [p for p in cluster.pods("app=web") if _running(p)]
        return len(pods) == 3 and all(p["spec"].get("tolerations") for p in pods)

    wait(rolled, timeout=90)
    victim = "node-b"
    cluster.kubelets[victim].stop(signal.SIGKILL)

    def tainted() -> bool:
        taints = cluster.get("node", victim)["spec"].get("taints") or []
        return any(t["key"] == "node.kubernetes.io/unreachable" for t in taints)

    wait(tainted, timeout=60)

    def moved() -> bool:
        pods = [p for p in cluster.pods("app=web") if _running(p) and not p["metadata"].get("deletionTimestamp")]
        return len(pods) == 3 and all(p["spec"]["nodeName"] == "node-a" for p in pods)

    wait(moved, timeout=90)
