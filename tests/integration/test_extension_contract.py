"""The extension contract, proven with a provider the gardenlet has never heard of.

`tests/integration/contract_provider.py` (type `contract`) brings its own Infrastructure, ControlPlane, Worker,
OperatingSystemConfig, Network and DNSRecord actuators and its own machine driver. It is announced by a
ControllerRegistration only: the controller-manager's loop decides the seed needs it, the gardenlet installs it
(a Deployment the node agent runs, with the machine controller manager loading the driver from the registry),
and the gardenlet's unchanged shoot flow brings a shoot with workers of that provider to Ready. The labels and
taints the Shoot gives its pool are on the provider's Nodes.

Real processes throughout: garden and seed API servers, provider-local's node agent (shoot control plane and the
installed extension as host processes), one process running the gardenlet's controllers (shoots and
ControllerInstallations, with a seed's identity) and the controller-manager's registration loop.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.apis.extensions.crds import extensions_crds
from gardener.apis.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.local.garden import install_crds, install_garden_api
from gardener.runtime.kube import NODES, Kube
from gardener.runtime.pki import KeyPair, issue_client_cert
from gardenlet.controllerinstallation import SEED_KUBECONFIG
from tests.helpers import ServerProcess, create_namespace, eventually, kubectl
from tests.kubecomponents import ComponentProcess, seed_node

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "hack" / "examples"
NODE_AGENT = "extensions.provider_local.nodeagent.main"
CORE = "/apis/core.gardener.cloud/v1beta1"
_BASE = 20 + (os.getpid() % 25) * 3
POD_NETWORK, SERVICE_NETWORK, LB_NETWORK = (f"127.{_BASE + i}.0.0/16" for i in range(3))

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec(NODE_AGENT) is None, reason="provider-local's node agent is missing"),
    pytest.mark.skipif(not Path("/usr/bin/etcd").exists(), reason="etcd is not installed (Debian package etcd-server)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="load balancers listen on port 443 of loopback addresses"),
]

CONTROLLERS = """
import asyncio, sys
from gardener.controllermanager.controllerregistration import ControllerRegistrationSeed
from gardener.runtime.kube import Kube
from gardener.runtime.logs import setup_logging
from gardenlet.care.controller import CareSettings
from gardenlet.controllerinstallation import run_controller_installations
from gardenlet.flow import RetryPolicy
from gardenlet.shoot.controller import ShootControllerSettings, run_shoot_controller
setup_logging()
garden_admin, gardenlet, seed = sys.argv[1:4]
settings = ShootControllerSettings(backoff=(1.0, 5.0), care=CareSettings(period=2.0))
async def main():
    # The shoot controller picks its profile by what runs the seed (the node agent's Node), not by the Seed's
    # provider type `contract`: wait for that Node, as `gardener local up` starts the node agent first.
    seed_kube = Kube.from_kubeconfig(seed)
    while not ((await seed_kube.araw("GET", "/api/v1/nodes")) or {}).get("items"):
        await asyncio.sleep(0.2)
    await asyncio.gather(
        ControllerRegistrationSeed(Kube.from_kubeconfig(garden_admin), sync_period=1.0).run(),
        run_controller_installations(garden_kubeconfig=gardenlet, seed_kubeconfig=seed, seed_name="local", period=1.0),
        run_shoot_controller(garden_kubeconfig=gardenlet, seed_kubeconfig=seed, seed_name="local", settings=settings),
    )
asyncio.run(main())
"""


@dataclass
class Landscape:
    garden: ServerProcess
    seed: ServerProcess
    dir: Path
    logs: list[Path]

    def diagnose(self) -> str:
        return "\n\n".join(
            f"{p.name}:\n" + "\n".join(p.read_text(errors="replace").splitlines()[-40:]) for p in self.logs
        )


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _seed_identity(garden: ServerProcess) -> Path:
    pki = garden.data_dir / "pki"
    ca = KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())
    cert = issue_client_cert(ca, user="gardener.cloud:system:seed:local", groups=["gardener.cloud:system:seeds"])
    path = garden.data_dir / "gardenlet.kubeconfig"
    write_kubeconfig(
        path,
        build_kubeconfig(
            server=garden.url,
            ca_pem=ca.cert_pem,
            user="gardenlet",
            client_cert_pem=cert.cert_pem,
            client_key_pem=cert.key_pem,
        ),
    )
    return path


def _garden_objects(state_dir: Path) -> list[dict[str, Any]]:
    profile = yaml.safe_load((EXAMPLES / "10-cloudprofile-local.yaml").read_text())
    profile["metadata"]["name"] = "contract"
    profile["spec"]["type"] = "contract"
    profile["spec"]["machineImages"] = [{"name": "contract-os", "versions": [{"version": "1.0.0"}]}]
    seed = yaml.safe_load((EXAMPLES / "20-seed-local.yaml").read_text())
    seed["spec"]["provider"]["type"] = "contract"
    credentials, binding = yaml.safe_load_all((EXAMPLES / "30-secretbinding-local.yaml").read_text())
    binding["provider"]["type"] = "contract"
    container_env = {"PYTHONPATH": str(ROOT)}
    registration = {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "ControllerRegistration",
        "metadata": {"name": "provider-contract"},
        "spec": {
            "resources": [
                {"kind": "Infrastructure", "type": "contract"},
                {"kind": "ControlPlane", "type": "contract"},
                {"kind": "Worker", "type": "contract"},
                {"kind": "OperatingSystemConfig", "type": "contract-os"},
                {"kind": "Network", "type": "contract-net"},
                {"kind": "DNSRecord", "type": "local"},
            ],
            "deployment": {
                "policy": "OnDemand",
                "providerConfig": {
                    "image": "python:3",
                    "containers": [
                        {
                            "name": "provider-contract",
                            "command": ["python", "-m", "tests.integration.contract_provider"],
                            "args": [f"--kubeconfig={SEED_KUBECONFIG}"],
                            "env": container_env,
                        },
                        {
                            "name": "machine-controller-manager",
                            "command": ["python", "-m", "extensions.mcm.main"],
                            "args": [
                                f"--kubeconfig={SEED_KUBECONFIG}",
                                "--driver-module=tests.integration.contract_provider",
                                "--provider=contract",
                                f"--state-dir={state_dir}",
                            ],
                            "env": container_env,
                        },
                    ],
                },
            },
        },
    }
    return [profile, seed, credentials, binding, registration]


def _shoot() -> dict[str, Any]:
    return {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "Shoot",
        "metadata": {"name": "contract", "namespace": "garden-dev"},
        "spec": {
            "cloudProfileName": "contract",
            "secretBindingName": "local",
            "region": "local",
            "seedName": "local",
            "provider": {
                "type": "contract",
                "workers": [
                    {
                        "name": "pool-a",
                        "machine": {"type": "local-small", "image": {"name": "contract-os", "version": "1.0.0"}},
                        "minimum": 2,
                        "maximum": 2,
                        "zones": ["local-a"],
                        "labels": {"team": "contract"},
                        "taints": [{"key": "dedicated", "value": "contract", "effect": "NoSchedule"}],
                    }
                ],
            },
            "networking": {"type": "contract-net", "nodes": "10.250.0.0/16"},
            "kubernetes": {"version": "1.31.6"},
        },
    }


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landscape]:
    root = tmp_path_factory.mktemp("contract")
    garden = ServerProcess(data_dir=root / "garden").start()
    seed = ServerProcess(data_dir=root / "seed", extra_args=["--service-cluster-ip-range", SERVICE_NETWORK]).start()
    procs: list[subprocess.Popen[bytes]] = []
    parts: list[ComponentProcess] = []
    logs = [root / "kubelet.log", root / "controllers.log"]
    try:
        install_garden_api(garden.kubeconfig, timeout=60)
        install_crds(seed.kubeconfig, crds=extensions_crds(), timeout=60)
        create_namespace("garden-dev", kubeconfig=garden.kubeconfig)
        kubectl("apply", "-f", str(EXAMPLES / "00-project.yaml"), kubeconfig=garden.kubeconfig)
        for obj in _garden_objects(root / "machines"):
            kubectl("apply", "-f", "-", input=json.dumps(obj), kubeconfig=garden.kubeconfig)
        parts = seed_node(
            seed.kubeconfig,
            root,
            pod_network=POD_NETWORK,
            service_network=SERVICE_NETWORK,
            load_balancer_network=LB_NETWORK,
        )
        procs.append(
            _spawn(
                [
                    sys.executable,
                    "-c",
                    CONTROLLERS,
                    str(garden.kubeconfig),
                    str(_seed_identity(garden)),
                    str(seed.kubeconfig),
                ],
                logs[1],
            )
        )
        yield Landscape(garden=garden, seed=seed, dir=root, logs=logs)
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for part in reversed(parts):
            part.stop()
        seed.stop()
        garden.stop()


def test_a_provider_unknown_to_the_gardenlet_brings_a_shoot_with_workers_to_ready(landscape: Landscape) -> None:
    garden = Kube.from_kubeconfig(landscape.garden.kubeconfig)
    try:
        kubectl("apply", "-f", "-", input=json.dumps(_shoot()), kubeconfig=landscape.garden.kubeconfig)

        def ready() -> dict[str, Any]:
            shoot = garden.get(f"{CORE}/namespaces/garden-dev/shoots/contract") or {}
            last = (shoot.get("status") or {}).get("lastOperation") or {}
            assert last.get("state") == "Succeeded", (last, (shoot.get("status") or {}).get("lastErrors"))
            return shoot

        try:
            eventually(ready, timeout=300, interval=1.0, what="shoot contract Ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{landscape.diagnose()}") from None

        # The controller-manager asked for the extension on the seed, and the gardenlet reports it installed.
        installation = garden.get(f"{CORE}/controllerinstallations/provider-contract-local") or {}
        conditions = {c["type"]: c["status"] for c in installation["status"]["conditions"]}
        assert conditions["Installed"] == "True" and conditions["Valid"] == "True", conditions

        secret = garden.get("/api/v1/namespaces/garden-dev/secrets/contract.kubeconfig") or {}
        shoot = Kube.from_kubeconfig_text(base64.b64decode(secret["data"]["kubeconfig"]).decode())
        try:
            nodes = shoot.list(NODES.path())
        finally:
            shoot.close()
        assert len(nodes) == 2, [n["metadata"]["name"] for n in nodes]
        for node in nodes:
            assert node["metadata"]["labels"]["team"] == "contract"
            assert node["metadata"]["labels"]["worker.gardener.cloud/pool"] == "pool-a"
            assert {"key": "dedicated", "value": "contract", "effect": "NoSchedule"} in node["spec"]["taints"]
            assert node["spec"]["providerID"].startswith("contract:///")
        # Every extension kind of the flow went to the contract provider, typed as the gardenlet wrote it.
        seed = Kube.from_kubeconfig(landscape.seed.kubeconfig)
        try:
            ns = "shoot--dev--contract"
            worker = seed.get(f"/apis/extensions.gardener.cloud/v1alpha1/namespaces/{ns}/workers/contract") or {}
            pool = worker["spec"]["pools"][0]
            assert pool["labels"] == {"team": "contract"} and pool["userDataSecretRef"]["key"] == "cloud_config"
            osc = f"/apis/extensions.gardener.cloud/v1alpha1/namespaces/{ns}/operatingsystemconfigs/cloud-config-pool-a"
            assert (seed.get(osc) or {})["status"]["lastOperation"]["state"] == "Succeeded"
            net = seed.get(f"/apis/extensions.gardener.cloud/v1alpha1/namespaces/{ns}/networks/contract") or {}
            assert net["status"]["lastOperation"]["state"] == "Succeeded"
        finally:
            seed.close()
    finally:
        garden.close()
