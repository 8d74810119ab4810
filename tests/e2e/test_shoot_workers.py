"""A shoot with workers, end to end, as a user meets it: `gardener local up`, the two-pool example shoot, and the
real kubectl against the shoot. Its machines are kubelets (bootstrapped node identities) that run the pods bound
to them; logs, exec and the Service reach them through the shoot's API server; hibernation stops every pod and
waking brings them back with their claims' data.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.runtime.kube import Kube
from tests.e2e.test_local_garden_e2e import (
    EXAMPLES,
    NAMESPACE,
    SHOOTS,
    Garden,
    _cmdlines,
    _gardener,
    conditions,
    last_operation,
)
from tests.helpers import KUBECTL, eventually, kubectl

pytestmark = [
    pytest.mark.skipif(not Path("/usr/bin/etcd").exists(), reason="etcd is not installed (Debian package etcd-server)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="load balancers listen on port 443 of loopback addresses"),
]

NAME = "apps"
TECHNICAL_ID = f"shoot--dev--{NAME}"


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Garden]:
    data = tmp_path_factory.mktemp("workers-e2e") / "garden"
    kube: Kube | None = None
    try:
        # two seed nodes: the control plane's pods spread over two kubelets sharing the claims' directory
        _gardener("local", "up", "--data-dir", str(data), "--seed-nodes", "2")
        kube = Kube.from_kubeconfig(data / "garden.kubeconfig")
        for example in ("00-project.yaml", "30-secretbinding-local.yaml"):
            kubectl("apply", "-f", str(EXAMPLES / example), kubeconfig=data / "garden.kubeconfig")
        yield Garden(data, kube)
    finally:
        if kube is not None:
            kube.close()
        _gardener("local", "down", "--data-dir", str(data))
        left = [pid for pid, _ in _cmdlines() if _cwd_under(pid, data)]
        assert not left, f"processes outlived `gardener local down`: {left}"


def _cwd_under(pid: int, directory: Path) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/cwd").startswith(f"{directory}/")
    except OSError:
        return False


def _ready(garden: Garden) -> dict[str, Any]:
    shoot = garden.shoot(NAME)
    last = last_operation(shoot)
    assert last.get("state") == "Succeeded" and last.get("progress") == 100, (
        last,
        ((shoot or {}).get("status") or {}).get("lastErrors"),
    )
    found = conditions(shoot)
    assert found.get("EveryNodeReady") == "True" and found.get("APIServerAvailable") == "True", found
    return shoot or {}


def _wait(garden: Garden, check: Any, *, timeout: float, what: str) -> Any:
    try:
        return eventually(check, timeout=timeout, interval=1.0, what=what)
    except AssertionError as exc:
        tails = "\n".join(f"--- {c}\n{garden.log_tail(c, 25)}" for c in ("gardenlet", "machine-controller-manager"))
        raise AssertionError(f"{exc}\n{tails}") from None


def _shoot_kubeconfig(garden: Garden) -> Path:
    secret = json.loads(
        kubectl(
            "get", "secret", f"{NAME}.kubeconfig", "-n", NAMESPACE, "-o", "json", kubeconfig=garden.kubeconfig
        ).stdout
    )
    path = garden.data / f"{NAME}.kubeconfig"
    path.write_bytes(base64.b64decode(secret["data"]["kubeconfig"]))
    return path


def _get(kc: Path, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json", kubeconfig=kc).stdout)


def _running(kc: Path, selector: str) -> list[dict[str, Any]]:
    pods = _get(kc, "pods", "-l", selector)["items"]
    return [
        p
        for p in pods
        if (p.get("status") or {}).get("phase") == "Running"
        and not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
    ]


def _machine_pod_processes(garden: Garden) -> list[tuple[int, str]]:
    """Processes of pods the shoot's machines run (their pod directories are on their command lines or cwd)."""
    machines = str(garden.data / "seed" / "machines" / TECHNICAL_ID).encode()
    found = []
    for pid, cmdline in _cmdlines():
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd").encode()
        except OSError:
            continue
        if (b"/pods/" in cwd and cwd.startswith(machines)) or (machines + b"/" in cmdline and b"/pods/" in cmdline):
            found.append((pid, cmdline.replace(b"\0", b" ").decode(errors="replace")[:300]))
    return found


TICKER = (
    "import os, time\n"
    "n = int(open('count').read()) if os.path.exists('count') else 0\n"
    "open('count', 'w').write(str(n + 1))\n"
    "for i in range(4):\n"
    "    print(f'run {n} line {i}', flush=True); time.sleep(0.5)\n"
    "raise SystemExit(1)\n"
)


def _streams(garden: Garden, kc: Path, pod: str) -> None:
    """exec -i, cp both ways, port-forward, logs -f and --previous through the shoot's API server."""
    env = {**os.environ, "KUBECONFIG": str(kc), "HOME": str(kc.parent)}
    upper = "import sys; print(sys.stdin.read().upper())"
    assert kubectl("exec", "-i", pod, "--", "python3", "-c", upper, input="hi", kubeconfig=kc).stdout == "HI\n"
    upload = garden.data / "up.txt"
    upload.write_text("uploaded\n")
    kubectl("cp", str(upload), f"default/{pod}:up.txt", kubeconfig=kc)
    kubectl("cp", f"default/{pod}:up.txt", str(garden.data / "down.txt"), kubeconfig=kc)
    assert (garden.data / "down.txt").read_text() == "uploaded\n"
    with subprocess.Popen(
        [KUBECTL, "port-forward", "svc/web", "18080:80"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as forward:
        try:
            body = eventually(lambda: urllib.request.urlopen("http://127.0.0.1:18080/", timeout=5).read(), timeout=30)
            assert b"Directory listing" in body
        finally:
            forward.terminate()
    kubectl("run", "ticker", "--image=python:3.12", "--", "python3", "-c", TICKER, kubeconfig=kc)
    with subprocess.Popen(
        [KUBECTL, "logs", "-f", "ticker", "--pod-running-timeout=60s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as follow:
        try:
            assert follow.stdout is not None
            lines = [follow.stdout.readline() for _ in range(3)]
            assert [line.rsplit(" ", 1)[-1] for line in lines] == ["0\n", "1\n", "2\n"], lines
        finally:
            follow.kill()

    def restarted() -> bool:
        statuses = (_get(kc, "pod", "ticker").get("status") or {}).get("containerStatuses") or [{}]
        return int(statuses[0].get("restartCount") or 0) >= 1

    eventually(restarted, timeout=60)
    previous = kubectl("logs", "ticker", "--previous", kubeconfig=kc).stdout
    assert "run 0 line 3" in previous and "run 1" not in previous, previous
    kubectl("delete", "pod", "ticker", "--wait=false", kubeconfig=kc)


CLAIMED = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: notes}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: writer}
spec:
  replicas: 1
  selector: {matchLabels: {app: writer}}
  template:
    metadata: {labels: {app: writer}}
    spec:
      containers:
      - name: main
        image: python:3.12
        command: [python3, -c, "import time; time.sleep(100000)"]
        volumeMounts: [{name: notes, mountPath: /data}]
      volumes: [{name: notes, persistentVolumeClaim: {claimName: notes}}]
"""


def test_a_two_pool_shoot_runs_workloads_and_keeps_claims_across_hibernation(garden: Garden) -> None:
    manifest = yaml.safe_load((EXAMPLES / "50-shoot-workers.yaml").read_text())
    manifest["spec"].pop("hibernation", None)  # its schedule would hibernate the shoot at night
    garden.kube.raw("POST", SHOOTS, manifest)
    _wait(garden, lambda: _ready(garden), timeout=420, what="shoot with workers Ready")
    kc = _shoot_kubeconfig(garden)

    # on the seed the control plane is Pods its scheduler bound to its node and its kubelet runs
    seed_pods = _get(garden.seed_kubeconfig, "pods", "-n", TECHNICAL_ID)["items"]
    running = {
        p["metadata"]["name"]: p["spec"].get("nodeName")
        for p in seed_pods
        if (p.get("status") or {}).get("phase") == "Running"
    }
    for prefix in ("etcd-main-0", "kube-apiserver-", "kube-controller-manager-", "kube-scheduler-"):
        assert any(name.startswith(prefix) and node for name, node in running.items()), (prefix, running)
    assert len(_get(garden.seed_kubeconfig, "nodes")["items"]) == 2
    # the Terraformer ran as a Pod there and left its state in the state ConfigMap
    state = _get(garden.seed_kubeconfig, "configmap", f"{NAME}.infra.tf-state", "-n", TECHNICAL_ID)
    assert '"resources"' in state["data"]["terraform.tfstate"]

    nodes = _get(kc, "nodes")["items"]
    assert len(nodes) == 3, [n["metadata"]["name"] for n in nodes]
    zones = {n["metadata"]["labels"].get("topology.kubernetes.io/zone") for n in nodes}
    assert zones <= {"local-a", "local-b"} and len(zones) == 2, zones

    kubectl(
        *("create", "deployment", "web", "--image=python:3.12", "--replicas=3"),
        *("--", "python3", "-m", "http.server", "8080"),
        kubeconfig=kc,
    )
    _wait(garden, lambda: len(_running(kc, "app=web")) == 3, timeout=120, what="three web pods Running")
    assert len({p["spec"]["nodeName"] for p in _running(kc, "app=web")}) >= 2
    kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080", kubeconfig=kc)
    fetch = (
        "import os, urllib.request; print(urllib.request.urlopen('http://' + os.environ['WEB_SERVICE_HOST']).status)"
    )
    kubectl("run", "client", "--image=python:3.12", "--restart=Never", "--", "python3", "-c", fetch, kubeconfig=kc)
    _wait(
        garden,
        lambda: _get(kc, "pod", "client")["status"].get("phase") == "Succeeded",
        timeout=120,
        what="client pod Succeeded",
    )
    assert kubectl("logs", "client", kubeconfig=kc).stdout == "200\n"
    pod = _running(kc, "app=web")[0]["metadata"]["name"]
    assert kubectl("exec", pod, "--", "python3", "-c", "print(6*7)", kubeconfig=kc).stdout == "42\n"
    _streams(garden, kc, pod)

    kubectl("apply", "-f", "-", input=CLAIMED, kubeconfig=kc)
    _wait(garden, lambda: len(_running(kc, "app=writer")) == 1, timeout=120, what="writer Running")
    writer = _running(kc, "app=writer")[0]["metadata"]["name"]
    kubectl("exec", writer, "--", "python3", "-c", "open('/data/note', 'w').write('kept')", kubeconfig=kc)

    # hibernation: the machines go, and with them every pod process
    patch = json.dumps({"spec": {"hibernation": {"enabled": True}}})
    kubectl("patch", "shoot", NAME, "-n", NAMESPACE, "--type=merge", "-p", patch, kubeconfig=garden.kubeconfig)

    def hibernated() -> bool:
        shoot = garden.shoot(NAME) or {}
        assert (shoot.get("status") or {}).get("hibernated") is True, last_operation(shoot)
        assert last_operation(shoot).get("state") == "Succeeded", last_operation(shoot)
        return True

    _wait(garden, hibernated, timeout=300, what="shoot hibernated")

    def no_pod_process() -> bool:
        left = _machine_pod_processes(garden)
        assert left == [], left
        return True

    _wait(garden, no_pod_process, timeout=60, what="no pod process left")

    patch = json.dumps({"spec": {"hibernation": {"enabled": False}}})
    kubectl("patch", "shoot", NAME, "-n", NAMESPACE, "--type=merge", "-p", patch, kubeconfig=garden.kubeconfig)
    _wait(garden, lambda: _ready(garden), timeout=420, what="shoot woken up")
    _wait(garden, lambda: len(_running(kc, "app=web")) == 3, timeout=180, what="web pods Running again")
    _wait(garden, lambda: len(_running(kc, "app=writer")) == 1, timeout=180, what="writer Running again")
    writer = _running(kc, "app=writer")[0]["metadata"]["name"]
    read = kubectl("exec", writer, "--", "python3", "-c", "print(open('/data/note').read())", kubeconfig=kc)
    assert read.stdout == "kept\n"


def test_a_machine_whose_kubelet_dies_is_replaced_and_its_pods_run_elsewhere(garden: Garden) -> None:
    kc = garden.data / f"{NAME}.kubeconfig"
    before = {n["metadata"]["name"] for n in _get(kc, "nodes")["items"]}
    victim = _running(kc, "app=web")[0]["spec"]["nodeName"]
    pid_file = garden.data / "seed" / "machines" / TECHNICAL_ID / victim / "pid"
    os.kill(int(json.loads(pid_file.read_text())["pid"]), signal.SIGKILL)

    def replaced() -> bool:
        nodes = {n["metadata"]["name"]: n for n in _get(kc, "nodes")["items"]}
        assert victim not in nodes, sorted(nodes)
        ready = [
            name
            for name, node in nodes.items()
            if any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions") or [])
        ]
        assert len(ready) == 3 and set(ready) != before, ready
        return True

    _wait(garden, replaced, timeout=240, what="the machine replaced")

    def moved() -> bool:
        # the pod garbage collector removes pods of the deleted Node, their ReplicaSet replaces them elsewhere
        pods = _running(kc, "app=web")
        return len(pods) == 3 and victim not in {p["spec"]["nodeName"] for p in pods}

    _wait(garden, moved, timeout=180, what="web pods Running elsewhere")
