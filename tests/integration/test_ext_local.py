"""provider-local and the machine controller manager against real API servers: one "seed", one "shoot".

The extension CRDs go into the seed; `gardener-extension-provider-local` and `machine-controller-manager` run as
processes. An Infrastructure of type local runs real Terraform (skipped without it) with its state in a seed
Secret; a Worker becomes MachineDeployments whose Machines are local node processes that register Ready Nodes
in the shoot; scaling, a rolling update and deletion follow through to processes and Nodes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from extensions.mcm.objects import MACHINE_CLASSES, MACHINE_DEPLOYMENTS, MACHINE_SETS, MACHINES
from extensions.terraformer.terraformer import Config, Terraformer, find_terraform
from gardener.apis.extensions.crds import extensions_crds
from gardener.apis.extensions.machine import SHOOT_ACCESS_SECRET
from gardener.runtime.kube import NODES, SECRETS, Kube
from gardener.runtime.process import PidFile, start_ticks
from gardenlet.components.shootrbac import MachineControllerManagerRBAC, ShootRBACValues
from tests.helpers import ServerProcess, eventually

NS = "shoot--dev--apps"
EXT = "/apis/extensions.gardener.cloud/v1alpha1"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
TERRAFORM = find_terraform()
needs_terraform = pytest.mark.skipif(
    TERRAFORM is None, reason="terraform is not installed (/usr/local/bin/terraform or on PATH)"
)
TIMEOUT = 90.0


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    argv: list[str]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@dataclass
class Env:
    seed: Kube
    shoot: Kube
    seed_server: ServerProcess
    state_dir: Path
    procs: list[Proc]
    mcm_port: int

    def kill_and_restart(self, name: str) -> None:
        """SIGKILL a controller process and start it again, as after a crash."""
        old = next(p for p in self.procs if p.name == name)
        os.killpg(old.proc.pid, signal.SIGKILL)
        old.proc.wait(timeout=10)
        with open(old.log, "ab") as out:
            old.proc = subprocess.Popen(old.argv, stdout=out, stderr=out, start_new_session=True, cwd=old.log.parent)

    def ext(self, plural: str, name: str | None = None, sub: str | None = None) -> str:
        path = f"{EXT}/namespaces/{NS}/{plural}"
        return path + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")


def _spawn(name: str, module: str, args: list[str], workdir: Path) -> Proc:
    log = workdir / f"{name}.log"
    argv = [sys.executable, "-m", module, *args]
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out, start_new_session=True, cwd=workdir)
    return Proc(name, proc, log, argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _established(kube: Kube, name: str) -> bool:
    crd = kube.get(f"{CRDS}/{name}") or {}
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or []
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("ext-local")
    seed_server = ServerProcess(root / "seed").start()
    shoot_server = ServerProcess(root / "shoot").start()
    seed = Kube.from_kubeconfig(seed_server.kubeconfig)
    shoot = Kube.from_kubeconfig(shoot_server.kubeconfig)
    procs: list[Proc] = []
    state_dir = root / "machines"
    mcm_port = _free_port()
    try:
        for crd in extensions_crds():
            seed.create(CRDS, crd)
        for crd in extensions_crds():
            eventually(lambda n=crd["metadata"]["name"]: _established(seed, n), what=f"CRD {crd['metadata']['name']}")
        seed.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        _secret(seed, SHOOT_ACCESS_SECRET, {"kubeconfig": shoot_server.kubeconfig.read_bytes()})
        _secret(seed, "cloudprovider", {"token": b"not-a-real-token"})
        seed.create(f"{EXT}/clusters", _cluster())
        # what a shoot's control plane gives machines: the MCM's and the nodes' RBAC, and a controller manager
        # approving the kubelets' client certificates (the shoot's API server signs them itself)
        asyncio.run(MachineControllerManagerRBAC(shoot, ShootRBACValues()).deploy())
        procs.append(
            _spawn(
                "shoot-kcm",
                "gardener.kube_controller_manager.main",
                [
                    *("--kubeconfig", str(shoot_server.kubeconfig)),
                    *("--leader-elect=false", "--secure-port=0", "--controllers=csrapproving"),
                ],
                root,
            )
        )
        kubeconfig = str(seed_server.kubeconfig)
        procs.append(
            # no kubelet runs in this seed: Terraform runs in the extension's process instead of a Terraformer pod
            _spawn(
                "provider-local",
                "extensions.provider_local.controllers.main",
                ["--kubeconfig", kubeconfig, "--terraformer-mode=process"],
                root,
            )
        )
        procs.append(
            _spawn(
                "mcm",
                "extensions.mcm.main",
                [
                    *("--kubeconfig", kubeconfig, "--state-dir", str(state_dir)),
                    *("--driver-module", "extensions.mcm.local.driver", "--provider", "local"),
                    *("--node-heartbeat", "1", "--metrics-port", str(mcm_port)),
                ],
                root,
            )
        )
        yield Env(seed, shoot, seed_server, state_dir, procs, mcm_port)
        for p in procs:
            text = p.log.read_text(errors="replace")
            assert "Traceback" not in text, f"{p.name} logged a traceback:\n{text[-4000:]}"
    finally:
        for p in procs:
            p.stop()
        for pid_file in state_dir.glob("*/*/pid"):
            record = PidFile.read(pid_file)
            if record is not None:
                record.stop(1.0)
        seed.close()
        shoot.close()
        shoot_server.stop()
        seed_server.stop()


def _secret(kube: Kube, name: str, data: dict[str, bytes]) -> None:
    kube.create(
        SECRETS.path(NS),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": NS},
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
        },
    )


def _cluster() -> dict[str, Any]:
    return {
        "apiVersion": "extensions.gardener.cloud/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": NS},
        "spec": {
            "cloudProfile": {
                "metadata": {"name": "local"},
                "spec": {"machineTypes": [{"name": "local-small", "cpu": "2", "gpu": "0", "memory": "4Gi"}]},
            },
            "seed": {"metadata": {"name": "local"}},
            "shoot": {
                "metadata": {"name": "apps", "namespace": "garden-dev"},
                "spec": {
                    "networking": {"nodes": "10.250.0.0/16"},
                    "kubernetes": {"version": "1.31.6"},
                    "provider": {"type": "local", "workers": [{"name": "pool-a", "zones": ["local-a", "local-b"]}]},
                },
            },
        },
    }


def _last_op(obj: dict[str, Any] | None) -> dict[str, Any]:
    return ((obj or {}).get("status") or {}).get("lastOperation") or {}


def _succeeded(env: Env, plural: str, name: str, *, op_type: str | None = None) -> dict[str, Any] | None:
    obj = env.seed.get(env.ext(plural, name))
    last = _last_op(obj)
    if last.get("state") != "Succeeded" or (op_type and last.get("type") != op_type):
        return None
    assert obj is not None
    if obj["status"].get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    return obj


def _infrastructure(name: str, cidr: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "local", "region": "local", "secretRef": {"name": "cloudprovider", "namespace": NS}}
    if cidr:
        spec["providerConfig"] = {
            "apiVersion": "local.provider.extensions.gardener.cloud/v1alpha1",
            "kind": "InfrastructureConfig",
            "networks": {"nodes": cidr},
        }
    return {
        "apiVersion": "extensions.gardener.cloud/v1alpha1",
        "kind": "Infrastructure",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


@needs_terraform
def test_infrastructure_runs_terraform_with_state_in_the_seed(env: Env) -> None:
    env.seed.create(env.ext("infrastructures"), _infrastructure("apps"))
    infra = eventually(lambda: _succeeded(env, "infrastructures", "apps"), timeout=TIMEOUT, what="infra Succeeded")
    assert "extensions.gardener.cloud/local" in infra["metadata"]["finalizers"]
    status = infra["status"]
    assert status["nodesCIDR"] == "10.250.0.0/16"
    vpc = status["providerStatus"]["networks"]["vpc"]
    assert vpc["cidr"] == "10.250.0.0/16" and vpc["id"]
    assert [s["zone"] for s in status["providerStatus"]["networks"]["subnets"]] == ["local-a", "local-b"]
    assert status["lastOperation"]["type"] == "Create" and status["lastOperation"]["progress"] == 100
    state = env.seed.get(SECRETS.path(NS, "apps.infra.tf-state"))
    assert state is not None
    tfstate = json.loads(base64.b64decode(state["data"]["terraform.tfstate"]))
    assert {r["type"] for r in tfstate["resources"]} == {"terraform_data"}
    assert b"not-a-real-token" not in base64.b64decode(state["data"]["terraform.tfstate"])

    # A second reconcile, asked for by annotation, reuses the state: same ids, and nothing left to plan.
    env.seed.patch(
        env.ext("infrastructures", "apps"), {"metadata": {"annotations": {"gardener.cloud/operation": "reconcile"}}}
    )

    def reconciled() -> dict[str, Any] | None:
        obj = _succeeded(env, "infrastructures", "apps", op_type="Reconcile")
        if obj is None or "gardener.cloud/operation" in (obj["metadata"].get("annotations") or {}):
            return None
        return obj

    again = eventually(reconciled, timeout=TIMEOUT, what="second reconcile")
    assert again["status"]["providerStatus"]["networks"]["vpc"]["id"] == vpc["id"]
    module = Path(__file__).resolve().parents[2] / "terraform" / "local"
    cfg = Config(
        name="apps.infra",
        namespace=NS,
        module=module,
        variables={"name": NS, "nodes_cidr": "10.250.0.0/16", "zones": ["local-a", "local-b"]},
        secret_variables={"credentials_token": "not-a-real-token"},
    )
    assert Terraformer(env.seed).plan(cfg) is False, "terraform plan shows changes after a reconcile"

    env.seed.delete(env.ext("infrastructures", "apps"))
    eventually(lambda: env.seed.get(env.ext("infrastructures", "apps")) is None, timeout=TIMEOUT, what="infra gone")
    assert env.seed.get(SECRETS.path(NS, "apps.infra.tf-state")) is None


@needs_terraform
def test_infrastructure_configuration_error_is_permanent_with_a_code(env: Env) -> None:
    env.seed.create(env.ext("infrastructures"), _infrastructure("broken", cidr="not-a-cidr"))

    def errored() -> dict[str, Any] | None:
        obj = env.seed.get(env.ext("infrastructures", "broken"))
        return obj if _last_op(obj).get("state") == "Error" else None

    infra = eventually(errored, timeout=TIMEOUT, what="infra Error")
    error = infra["status"]["lastError"]
    assert error["codes"] == ["ERR_CONFIGURATION_PROBLEM"]
    assert "Invalid value for variable" in error["description"]
    assert infra["status"]["observedGeneration"] == infra["metadata"]["generation"]
    # fixing the spec (a new generation) makes the extension try again
    env.seed.patch(
        env.ext("infrastructures", "broken"), {"spec": {"providerConfig": {"networks": {"nodes": "10.99.0.0/16"}}}}
    )
    fixed = eventually(lambda: _succeeded(env, "infrastructures", "broken"), timeout=TIMEOUT, what="fixed infra")
    assert fixed["status"]["nodesCIDR"] == "10.99.0.0/16"
    assert "lastError" not in fixed["status"]
    env.seed.delete(env.ext("infrastructures", "broken"))
    eventually(lambda: env.seed.get(env.ext("infrastructures", "broken")) is None, timeout=TIMEOUT, what="gone")
    assert env.seed.get(SECRETS.path(NS, "broken.infra.tf-state")) is None


def _worker(minimum: int, maximum: int, *, version: str = "1.0.0") -> dict[str, Any]:
    return {
        "apiVersion": "extensions.gardener.cloud/v1alpha1",
        "kind": "Worker",
        "metadata": {"name": "apps", "namespace": NS},
        "spec": {
            "type": "local",
            "region": "local",
            "secretRef": {"name": "cloudprovider", "namespace": NS},
            "pools": [
                {
                    "name": "pool-a",
                    "machineType": "local-small",
                    "machineImage": {"name": "local", "version": version},
                    "minimum": minimum,
                    "maximum": maximum,
                    "maxSurge": 1,
                    "maxUnavailable": 0,
                    "zones": ["local-a", "local-b"],
                    "labels": {"team": "apps"},
                    "taints": [{"key": "dedicated", "value": "apps", "effect": "NoSchedule"}],
                }
            ],
        },
    }


def _running_machines(env: Env) -> list[dict[str, Any]]:
    return [
        m
        for m in env.seed.list(MACHINES.path(NS))
        if ((m.get("status") or {}).get("currentStatus") or {}).get("phase") == "Running"
        and not m["metadata"].get("deletionTimestamp")
    ]


def _ready_nodes(env: Env) -> list[dict[str, Any]]:
    return [
        n
        for n in env.shoot.list(NODES.path())
        if any(c["type"] == "Ready" and c["status"] == "True" for c in (n.get("status") or {}).get("conditions") or [])
    ]


def _settled(env: Env, count: int) -> bool:
    machines, nodes = env.seed.list(MACHINES.path(NS)), _ready_nodes(env)
    running = _running_machines(env)
    return (
        len(machines) == count
        and len(running) == count
        and sorted(n["metadata"]["name"] for n in nodes) == sorted(m["metadata"]["name"] for m in running)
        and _succeeded(env, "workers", "apps") is not None
    )


def _pids(machines: list[dict[str, Any]]) -> list[int]:
    return [int(json.loads(m["status"]["lastKnownState"])["pid"]) for m in machines]


def test_worker_machines_become_ready_nodes_and_scale_roll_and_go(env: Env) -> None:
    env.seed.create(env.ext("workers"), _worker(2, 4))
    eventually(lambda: _settled(env, 2), timeout=TIMEOUT, what="2 machines Running and 2 nodes Ready")
    worker = env.seed.get(env.ext("workers", "apps"))
    assert worker is not None
    assert worker["status"]["machineDeployments"] == [
        {"name": f"{NS}-pool-a-z1", "minimum": 1, "maximum": 2},
        {"name": f"{NS}-pool-a-z2", "minimum": 1, "maximum": 2},
    ]
    nodes = _ready_nodes(env)
    assert sorted(n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes) == ["local-a", "local-b"]
    for node in nodes:
        assert node["metadata"]["labels"]["team"] == "apps"
        assert node["metadata"]["labels"]["worker.gardener.cloud/pool"] == "pool-a"
        assert node["spec"]["taints"] == [{"key": "dedicated", "value": "apps", "effect": "NoSchedule"}]
        assert node["spec"]["providerID"] == f"local:///{NS}/{node['metadata']['name']}"
        assert env.shoot.get(
            f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node['metadata']['name']}"
        )

    # the MCM crashes and comes back: it adopts the running node processes instead of starting new ones
    pids = sorted(_pids(_running_machines(env)))
    env.kill_and_restart("mcm")

    def metrics() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{env.mcm_port}/healthz", timeout=2) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{env.mcm_port}/metrics", timeout=2) as r:
            text: str = r.read().decode()
        return text if 'controller_reconciles_total{controller="machines",result="success"}' in text else ""

    eventually(metrics, timeout=TIMEOUT, what="restarted MCM healthy and reconciling")
    assert _settled(env, 2) and sorted(_pids(_running_machines(env))) == pids

    # scale up: the minimum spreads as 2 + 1 over the zones
    env.seed.patch(env.ext("workers", "apps"), {"spec": _worker(3, 4)["spec"]})
    eventually(lambda: _settled(env, 3), timeout=TIMEOUT, what="3 machines Running and 3 nodes Ready")
    replicas = sorted(
        (md["metadata"]["name"], md["spec"]["replicas"]) for md in env.seed.list(MACHINE_DEPLOYMENTS.path(NS))
    )
    assert replicas == [(f"{NS}-pool-a-z1", 2), (f"{NS}-pool-a-z2", 1)]

    # a new image version makes a new class: the MCM rolls every machine, surging one at a time per zone
    before = {m["metadata"]["name"] for m in _running_machines(env)}
    old_pids = _pids(_running_machines(env))
    env.seed.patch(env.ext("workers", "apps"), {"spec": _worker(3, 4, version="1.1.0")["spec"]})

    def rolled() -> bool:
        running = {m["metadata"]["name"] for m in _running_machines(env)}
        return not (running & before) and _settled(env, 3) and len(env.seed.list(MACHINE_SETS.path(NS))) == 2

    eventually(rolled, timeout=2 * TIMEOUT, what="all machines replaced")

    def only_new_classes() -> bool:
        # the Worker controller drops classes of the old image once their machines are gone (asynchronously)
        classes = env.seed.list(MACHINE_CLASSES.path(NS))
        return len(classes) == 2 and all(c["providerSpec"]["image"] == "local:1.1.0" for c in classes)

    eventually(only_new_classes, timeout=TIMEOUT, what="only the new image's machine classes are left")
    assert not any(start_ticks(pid) is not None for pid in old_pids)

    pids = _pids(_running_machines(env))
    env.seed.delete(env.ext("workers", "apps"))
    eventually(lambda: env.seed.get(env.ext("workers", "apps")) is None, timeout=TIMEOUT, what="worker gone")
    assert env.seed.list(MACHINES.path(NS)) == []
    assert env.seed.list(MACHINE_DEPLOYMENTS.path(NS)) == []
    assert env.seed.list(MACHINE_CLASSES.path(NS)) == []
    assert env.shoot.list(NODES.path()) == []
    assert not any(start_ticks(pid) is not None for pid in pids)
    assert list(env.state_dir.glob("*/*/pid")) == []
