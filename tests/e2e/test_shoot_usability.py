"""Newcomer friction, against real servers and processes.

- A Shoot outside a project namespace is refused with Gardener's message, whatever else is wrong with it.
- An unscheduled Shoot's node network can be fixed (Gardener made `spec.networking.nodes` mutable).
- A Service whose endpoints are gone refuses connections at once, as kube-proxy's REJECT rule makes it; the
  address answers again when endpoints come back (the real provider-local node agent).
- Against a hibernated shoot, `kubectl get ns` fails on its first attempt with "connection refused" (a local
  garden brought up by `gardener local up`; needs root and etcd like tests/e2e/test_local_garden_e2e.py).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.local.garden import install_garden_api
from gardener.runtime.kube import Kube
from tests.e2e.test_local_garden_e2e import Garden, _alive, _cmdlines, _gardener, ready, succeeded, wait_deleted
from tests.helpers import ServerProcess, create_namespace, eventually, kubectl
from tests.integration.test_node_agent import (
    TIMEOUT,
    AgentProcess,
    alive,
    apply,
    get,
    http_get,
    pid_of,
    processes_under,
    ready_pods,
    seed_server,
    service,
    web_deployment,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "hack" / "examples"
CORE = "/apis/core.gardener.cloud/v1beta1"
NO_PROJECT = (
    'The Shoot "demo" is invalid: metadata.namespace: Forbidden: could not find referenced project: '
    'Project.core.gardener.cloud "<unknown>" not found\n'
)
Obj = dict[str, Any]

#: the skip markers of tests/e2e/test_local_garden_e2e.py
NEEDS_ETCD = pytest.mark.skipif(
    not Path("/usr/bin/etcd").exists(), reason="etcd is not installed (Debian package etcd-server)"
)
NEEDS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="load balancers listen on port 443 of loopback addresses")


def _examples(*names: str) -> list[Obj]:
    return [o for name in names for o in yaml.safe_load_all((EXAMPLES / name).read_text()) if o]


# ---- admission: project namespaces, networking.nodes before scheduling ----


@pytest.fixture(scope="module")
def garden_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir=tmp_path_factory.mktemp("garden")).start()
    try:
        install_garden_api(server.kubeconfig, timeout=60)
        create_namespace("garden-dev", kubeconfig=server.kubeconfig)
        for obj in _examples("00-project.yaml", "10-cloudprofile-local.yaml", "30-secretbinding-local.yaml"):
            kubectl("apply", "-f", "-", kubeconfig=server.kubeconfig, input=json.dumps(obj))
        yield server
    finally:
        server.stop()


def test_shoot_outside_a_project_namespace_is_refused_with_gardeners_message(garden_api: ServerProcess) -> None:
    kc = garden_api.kubeconfig
    # Even with a SecretBinding in `default` (the way newcomers got a Shoot accepted there), the namespace is wrong.
    for obj in _examples("30-secretbinding-local.yaml"):
        obj["metadata"]["namespace"] = "default"
        if obj["kind"] == "SecretBinding":
            obj["secretRef"]["namespace"] = "default"
        kubectl("apply", "-f", "-", kubeconfig=kc, input=json.dumps(obj))
    (shoot,) = _examples("40-shoot-workerless.yaml")
    shoot["metadata"]["namespace"] = "default"
    result = kubectl("create", "-f", "-", kubeconfig=kc, input=json.dumps(shoot), check=False)
    assert (result.returncode, result.stderr) == (1, NO_PROJECT)
    shoot["metadata"]["namespace"] = "garden-dev"
    kubectl("create", "-f", "-", kubeconfig=kc, input=json.dumps(shoot))


def test_unscheduled_shoot_gets_a_new_node_network(garden_api: ServerProcess) -> None:
    kc = garden_api.kubeconfig
    (shoot,) = _examples("50-shoot-workers.yaml")
    kubectl("create", "-f", "-", kubeconfig=kc, input=json.dumps(shoot))
    patch = json.dumps({"spec": {"networking": {"nodes": "10.251.0.0/16"}}})
    kubectl("patch", "shoot", "apps", "-n", "garden-dev", "--type=merge", "-p", patch, kubeconfig=kc)
    nodes = kubectl(
        "get", "shoot", "apps", "-n", "garden-dev", "-o", "jsonpath={.spec.networking.nodes}", kubeconfig=kc
    )
    assert nodes.stdout == "10.251.0.0/16"
    # pods stay immutable once set, as in Gardener
    patch = json.dumps({"spec": {"networking": {"pods": "100.96.0.0/11"}}})
    kubectl("patch", "shoot", "apps", "-n", "garden-dev", "--type=merge", "-p", patch, kubeconfig=kc)
    patch = json.dumps({"spec": {"networking": {"pods": "100.100.0.0/16"}}})
    result = kubectl(
        "patch", "shoot", "apps", "-n", "garden-dev", "--type=merge", "-p", patch, kubeconfig=kc, check=False
    )
    assert result.stderr == (
        'The Shoot "apps" is invalid: spec.networking.pods: Invalid value: "100.100.0.0/16": field is immutable\n'
    )


# ---- the service proxy of the node agent ----


@pytest.fixture
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, AgentProcess]]:
    seed = seed_server(tmp_path_factory.mktemp("seed"))
    agent = AgentProcess(kubeconfig=seed.kubeconfig, data_dir=tmp_path_factory.mktemp("nodeagent"))
    try:
        agent.start()
        yield seed, agent
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
        seed.stop()


def refused(host: str, port: int) -> bool:
    """True when a TCP connect is refused (not accepted, not timed out)."""
    try:
        with socket.create_connection((host, port), timeout=3):
            raise AssertionError(f"{host}:{port} accepted the connection")
    except ConnectionRefusedError:
        return True


def test_service_without_endpoints_refuses_connections(agent: tuple[ServerProcess, AgentProcess]) -> None:
    seed, node_agent = agent
    kc, ns = seed.kubeconfig, "agent-reject"
    create_namespace(ns, kubeconfig=kc)
    apply(kc, web_deployment(ns, "web", 1), service(ns, "web"), service(ns, "lb", kind="LoadBalancer", port=8443))
    # the LoadBalancer Service selects the same pods
    kubectl("patch", "service", "lb", "-n", ns, "-p", '{"spec":{"selector":{"app":"web"}}}', kubeconfig=kc)
    pod = eventually(lambda: ready_pods(kc, ns, "web", 1), timeout=TIMEOUT, what="ready pod")[0]
    node_agent.pids.add(pid_of(pod))
    cluster_ip = get(kc, "service", ns, "web")["spec"]["clusterIP"]
    lb_ip = eventually(
        lambda: get(kc, "service", ns, "lb")["status"]["loadBalancer"]["ingress"][0]["ip"], what="ingress"
    )
    addresses = [(cluster_ip, 80), (lb_ip, 8443)]
    for host, port in addresses:
        eventually(lambda h=host, p=port: http_get(f"http://{h}:{p}/"), timeout=TIMEOUT, what="proxied")  # type: ignore[misc]

    kubectl("scale", "deployment", "web", "-n", ns, "--replicas=0", kubeconfig=kc)
    for host, port in addresses:
        eventually(lambda h=host, p=port: refused(h, p), timeout=TIMEOUT, what=f"{host}:{port} refuses")  # type: ignore[misc]

    kubectl("scale", "deployment", "web", "-n", ns, "--replicas=1", kubeconfig=kc)
    pod = eventually(lambda: ready_pods(kc, ns, "web", 1), timeout=TIMEOUT, what="ready again")[0]
    node_agent.pids.add(pid_of(pod))
    for host, port in addresses:
        body = eventually(lambda h=host, p=port: http_get(f"http://{h}:{p}/"), timeout=TIMEOUT, what="served again")  # type: ignore[misc]
        assert body == pod["metadata"]["name"]


# ---- a hibernated shoot in a local garden ----


@pytest.fixture
def local_garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Garden]:
    data = tmp_path_factory.mktemp("usability") / "garden"
    kube: Kube | None = None
    try:
        _gardener("local", "up", "--data-dir", str(data))
        kube = Kube.from_kubeconfig(data / "garden.kubeconfig")
        g = Garden(data=data, kube=kube)

        def seed_ready() -> bool:
            seed = kube.get(f"{CORE}/seeds/local") if kube else None
            conditions = ((seed or {}).get("status") or {}).get("conditions") or []
            return any(c.get("type") == "GardenletReady" and c.get("status") == "True" for c in conditions)

        eventually(seed_ready, timeout=120, interval=0.2, what="seed local ready")
        kc = g.kubeconfig
        kubectl(
            "apply",
            "-f",
            str(EXAMPLES / "00-project.yaml"),
            "-f",
            str(EXAMPLES / "10-cloudprofile-local.yaml"),
            kubeconfig=kc,
        )
        kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "project/dev", "--timeout=60s", kubeconfig=kc)
        kubectl("apply", "-f", str(EXAMPLES / "30-secretbinding-local.yaml"), kubeconfig=kc)
        yield g
    finally:
        if kube is not None:
            kube.close()
        _gardener("local", "down", "--data-dir", str(data))
        needle = str(data).encode()
        left = [(pid, cmd) for pid, cmd in _cmdlines() if needle in cmd and _alive(pid)]
        assert not left, f"processes left after `gardener local down`: {left}"


def _hibernate(garden: Garden, name: str, *, enabled: bool) -> None:
    garden.kube.merge_patch(f"{garden_shoots()}/{name}", {"spec": {"hibernation": {"enabled": enabled}}})

    def done() -> bool:
        shoot = succeeded(garden, name)
        assert bool((shoot.get("status") or {}).get("hibernated")) is enabled, shoot.get("status")
        return True

    try:
        eventually(done, timeout=180, interval=0.5, what=f"hibernation {enabled}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ngardenlet log:\n{garden.log_tail('gardenlet')}") from None


def garden_shoots() -> str:
    return f"{CORE}/namespaces/garden-dev/shoots"


@NEEDS_ETCD
@NEEDS_ROOT
def test_hibernated_shoot_refuses_kubectl_at_once(local_garden: Garden, tmp_path: Path) -> None:
    garden, name = local_garden, "sleepy"
    garden.create(name)
    try:
        eventually(lambda: ready(garden, name), timeout=180, interval=0.5, what="shoot Ready")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ngardenlet log:\n{garden.log_tail('gardenlet')}") from None
    secret = garden.kube.get(f"/api/v1/namespaces/garden-dev/secrets/{name}.kubeconfig")
    assert secret is not None
    shoot_kc = tmp_path / "shoot.kubeconfig"
    shoot_kc.write_bytes(base64.b64decode(secret["data"]["kubeconfig"]))
    eventually(lambda: kubectl("get", "ns", kubeconfig=shoot_kc), timeout=60, interval=0.5, what="kubectl get ns")

    _hibernate(garden, name, enabled=True)
    # One attempt, no retries of ours: a hang would end in a timeout, an accepted-and-reset connection in
    # "connection reset by peer"; kube-proxy's REJECT (and our closed listener) make kubectl say this at once.
    server = yaml.safe_load(shoot_kc.read_text())["clusters"][0]["cluster"]["server"]
    address = urllib.parse.urlsplit(server)
    # the node agent sees the endpoints go a moment after the flow saw the pods go
    eventually(lambda: refused(address.hostname or "", address.port or 443), timeout=30, what="API address refuses")
    result = kubectl("get", "ns", "--request-timeout=30s", kubeconfig=shoot_kc, check=False)
    assert (result.returncode, result.stderr) == (
        1,
        f"The connection to the server {address.netloc} was refused - did you specify the right host or port?\n",
    )

    _hibernate(garden, name, enabled=False)
    eventually(
        lambda: kubectl("get", "ns", kubeconfig=shoot_kc), timeout=60, interval=0.5, what="kubectl after wake-up"
    )
    garden.delete(name)
    wait_deleted(garden, [name])
