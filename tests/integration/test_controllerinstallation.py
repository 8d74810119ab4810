"""ControllerRegistration -> ControllerInstallation -> an extension running on the seed, and back.

Real servers and processes: a garden API server, a seed API server with its controller manager, scheduler
and kubelet, which run the installed extension's Deployment as a host process. The controller-manager's
decision loop and the gardenlet's installation controller run in the test process against them, one sync at
a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.controllermanager.controllerregistration import ControllerRegistrationSeed
from gardener.local.garden import install_garden_api
from gardener.runtime.kube import Kube
from gardenlet.controllerinstallation import SEED_KUBECONFIG, ControllerInstallations, namespace_of
from tests.helpers import ServerProcess, eventually
from tests.kubecomponents import seed_node

EXAMPLES = Path(__file__).resolve().parents[2] / "hack" / "examples"
CORE = "/apis/core.gardener.cloud/v1beta1"
_BASE = 150 + (os.getpid() % 30) * 3
#: an "extension" that proves it can use the seed credentials it was given, then keeps running
EXTENSION = (
    "import sys, time\n"
    "from gardener.runtime.kube import Kube\n"
    "cm = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'up', 'namespace': sys.argv[2]}}\n"
    "Kube.from_kubeconfig(sys.argv[1]).ensure(f'/api/v1/namespaces/{sys.argv[2]}/configmaps', cm)\n"
    "time.sleep(3600)\n"
)


@dataclass
class Env:
    garden: Kube
    seed: Kube
    registrations: ControllerRegistrationSeed
    installations: ControllerInstallations

    def sync(self) -> None:
        self.registrations.sync()
        self.installations.sync()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("controllerinstallation")
    garden_server = ServerProcess(data_dir=root / "garden").start()
    seed_server = ServerProcess(
        data_dir=root / "seed", extra_args=["--service-cluster-ip-range", f"127.{_BASE + 1}.0.0/16"]
    ).start()
    parts = seed_node(
        seed_server.kubeconfig,
        root,
        pod_network=f"127.{_BASE}.0.0/16",
        service_network=f"127.{_BASE + 1}.0.0/16",
        load_balancer_network=f"127.{_BASE + 2}.0.0/16",
    )
    garden = Kube.from_kubeconfig(garden_server.kubeconfig)
    seed = Kube.from_kubeconfig(seed_server.kubeconfig)
    try:
        install_garden_api(garden_server.kubeconfig, timeout=60)
        seed_obj = yaml.safe_load((EXAMPLES / "20-seed-local.yaml").read_text())
        garden.create(f"{CORE}/seeds", seed_obj)
        yield Env(
            garden=garden,
            seed=seed,
            registrations=ControllerRegistrationSeed(garden),
            installations=ControllerInstallations(
                garden=garden, seed=seed, seed_name="local", seed_kubeconfig=seed_server.kubeconfig.read_bytes()
            ),
        )
    finally:
        for part in reversed(parts):
            part.stop()
        garden.close()
        seed.close()
        seed_server.stop()
        garden_server.stop()


def _registration(policy: str, container: dict[str, Any] | None) -> dict[str, Any]:
    deployment: dict[str, Any] = {"policy": policy}
    if container is not None:
        deployment["providerConfig"] = {"image": "python:3", "containers": [container]}
    return {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "ControllerRegistration",
        "metadata": {"name": "test-ext"},
        "spec": {"resources": [{"kind": "Extension", "type": "test-ext"}], "deployment": deployment},
    }


def _conditions(env: Env) -> dict[str, tuple[str, str]]:
    obj = env.garden.get(f"{CORE}/controllerinstallations/test-ext-local") or {}
    return {c["type"]: (c["status"], c["message"]) for c in (obj.get("status") or {}).get("conditions") or []}


def test_registration_is_installed_reported_and_uninstalled(env: Env) -> None:
    container = {
        "name": "test-ext",
        "command": ["python", "-c", EXTENSION, SEED_KUBECONFIG, namespace_of("test-ext")],
    }
    # Without deployment data the installation is not Valid, and says why.
    env.garden.create(f"{CORE}/controllerregistrations", _registration("Always", None))

    def invalid() -> bool:
        env.sync()
        status, message = _conditions(env)["Valid"]
        return status == "False" and "providerConfig is missing" in message

    eventually(invalid, timeout=30, interval=0.5, what="an invalid installation")

    env.garden.merge_patch(
        f"{CORE}/controllerregistrations/test-ext",
        {"spec": {"deployment": {"providerConfig": {"image": "python:3", "containers": [container]}}}},
    )

    def healthy() -> dict[str, tuple[str, str]]:
        env.sync()
        conditions = _conditions(env)
        assert conditions.get("Installed", ("",))[0] == "True", conditions
        assert conditions.get("Healthy", ("",))[0] == "True", conditions
        assert conditions.get("Progressing", ("",))[0] == "False", conditions
        return conditions

    eventually(healthy, timeout=90, interval=1.0, what="the extension installed and healthy")
    ns = namespace_of("test-ext")
    assert env.seed.get(f"/apis/apps/v1/namespaces/{ns}/deployments/test-ext") is not None
    # The extension reached the seed with the credentials mounted for it.
    eventually(lambda: env.seed.get(f"/api/v1/namespaces/{ns}/configmaps/up"), timeout=30, what="the extension's mark")
    installation = env.garden.get(f"{CORE}/controllerinstallations/test-ext-local") or {}
    assert "core.gardener.cloud/controllerinstallation" in installation["metadata"]["finalizers"]

    # Nothing needs it any more (OnDemand, no shoot uses kind Extension test-ext): uninstalled, then gone.
    env.garden.merge_patch(f"{CORE}/controllerregistrations/test-ext", {"spec": {"deployment": {"policy": "OnDemand"}}})

    def gone() -> bool:
        env.sync()
        return (
            env.garden.get(f"{CORE}/controllerinstallations/test-ext-local") is None
            and env.seed.get(f"/api/v1/namespaces/{ns}") is None
        )

    eventually(gone, timeout=90, interval=1.0, what="the installation uninstalled and deleted")
