"""kube-controller-manager and kube-scheduler of a shoot, against real API servers and without root.

A seed API server holds what the gardenlet writes; a second API server plays the shoot's, started exactly as the
shoot's kube-apiserver chart starts it: with the CA, serving certificate and service-account key the secrets
manager wrote into the seed. The kubeconfigs the secrets manager derives for the two components must then let
our controller manager and scheduler take their Leases in that shoot, as the identities kube's bootstrap RBAC
binds. No workload
controller or kubelet runs on the seed: the test writes the Deployments' status as they would.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from gardener.runtime.kube import Kube, resource_path
from gardenlet.components import secrets as names
from gardenlet.components.base import Timeouts
from gardenlet.components.kubecontrollermanager import SELECTOR as kcm_selector
from gardenlet.components.kubecontrollermanager import KubeControllerManager, KubeControllerManagerValues
from gardenlet.components.kubescheduler import SELECTOR as scheduler_selector
from gardenlet.components.kubescheduler import KubeScheduler, KubeSchedulerValues
from gardenlet.components.secrets import SecretsManager, SecretsValues
from gardenlet.flow import TemporaryError
from tests.helpers import ServerProcess, create_namespace, eventually, kubectl, module_server
from tests.kubecomponents import ComponentProcess, controller_manager, scheduler

NS = "shoot--dev--kcm"
MERGE = "application/merge-patch+json"
QUICK = Timeouts(ready=1.0, gone=20.0, interval=0.1)

seed_server = module_server("kube-control-plane-seed")


@pytest.fixture(scope="module")
def seed(seed_server: ServerProcess) -> Iterator[Kube]:
    create_namespace(NS, kubeconfig=seed_server.kubeconfig)
    kube = Kube.from_kubeconfig(seed_server.kubeconfig, field_manager="gardenlet")
    yield kube
    kube.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _secret(seed: Kube, name: str) -> dict[str, Any]:
    secret = seed.get(resource_path("v1", "Secret", NS, name))
    assert secret is not None, name
    return secret


def _file(seed: Kube, directory: Path, secret: str, key: str) -> Path:
    path = directory / f"{secret}-{key}"
    path.write_bytes(base64.b64decode(_secret(seed, secret)["data"][key]))
    return path


def _secrets_values(url: str) -> SecretsValues:
    return SecretsValues(
        namespace=NS, apiserver_hosts=("kube-apiserver", "127.0.0.1"), etcd_hosts=("etcd",), apiserver_url=url
    )


async def test_each_component_reaches_the_shoot_as_kubes_own_identity(seed: Kube, tmp_path: Path) -> None:
    port = _free_port()
    url = f"https://127.0.0.1:{port}"
    manager = SecretsManager(seed, _secrets_values(url))
    await manager.deploy()
    await manager.wait_ready()
    assert manager.result is not None
    ca_pem = base64.b64decode(_secret(seed, names.CA)["data"]["ca.crt"])
    ca = x509.load_pem_x509_certificate(ca_pem)
    kubeconfigs: dict[str, Path] = {}
    for secret, user in ((names.KCM_KUBECONFIG, names.KCM_USER), (names.SCHEDULER_KUBECONFIG, names.SCHEDULER_USER)):
        config = yaml.safe_load(base64.b64decode(_secret(seed, secret)["data"]["kubeconfig"]))
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"] == url
        assert base64.b64decode(cluster["certificate-authority-data"]) == ca_pem
        cert = x509.load_pem_x509_certificate(base64.b64decode(config["users"][0]["user"]["client-certificate-data"]))
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == user
        cert.verify_directly_issued_by(ca)
        kubeconfigs[user] = _file(seed, tmp_path, secret, "kubeconfig")

    # Nothing changes on a second run; a new API server address rewrites only the kubeconfigs.
    before = {n: _secret(seed, n)["metadata"]["resourceVersion"] for n in names.ALL}
    again = SecretsManager(seed, _secrets_values(url))
    await again.deploy()
    assert {n: _secret(seed, n)["metadata"]["resourceVersion"] for n in names.ALL} == before
    moved = SecretsManager(seed, _secrets_values("https://127.0.0.1:1"))
    await moved.deploy()
    after = {n: _secret(seed, n)["metadata"]["resourceVersion"] for n in names.ALL}
    assert {n for n in names.ALL if after[n] != before[n]} == {names.KCM_KUBECONFIG, names.SCHEDULER_KUBECONFIG}
    assert moved.result is not None
    assert moved.result.checksum(*names.KCM_SECRETS) != manager.result.checksum(*names.KCM_SECRETS)
    await again.deploy()  # back to the address the shoot API server below listens at

    # The shoot's API server, with the material its chart mounts.
    shoot = ServerProcess(
        data_dir=tmp_path / "shoot",
        port=port,
        extra_args=[
            f"--client-ca-file={_file(seed, tmp_path, names.CA, 'ca.crt')}",
            f"--cluster-signing-key-file={_file(seed, tmp_path, names.CA, 'ca.key')}",
            f"--tls-cert-file={_file(seed, tmp_path, names.KUBE_APISERVER_SERVER, 'tls.crt')}",
            f"--tls-private-key-file={_file(seed, tmp_path, names.KUBE_APISERVER_SERVER, 'tls.key')}",
            f"--service-account-signing-key-file={_file(seed, tmp_path, names.SERVICE_ACCOUNT_KEY, 'sa.key')}",
        ],
    ).start()
    processes: dict[str, ComponentProcess] = {}
    try:
        for user, kubeconfig in kubeconfigs.items():
            whoami = kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}", kubeconfig=kubeconfig)
            assert whoami.stdout == user
        scheduler_kubeconfig = kubeconfigs[names.SCHEDULER_USER]
        binding = kubectl("auth", "can-i", "create", "pods", "--subresource=binding", kubeconfig=scheduler_kubeconfig)
        assert binding.stdout == "yes\n"
        # Our controller manager and scheduler, with leader election as the charts run them: each leads.
        processes["kube-controller-manager"] = controller_manager(
            kubeconfigs[names.KCM_USER],
            tmp_path / "kcm.log",
            "--leader-elect=true",
            "--use-service-account-credentials=true",
            "--controllers=",
        )
        processes["kube-scheduler"] = scheduler(scheduler_kubeconfig, tmp_path / "scheduler.log", "--leader-elect=true")

        def leading(lease_name: str) -> str:
            process = processes[lease_name]
            assert process.alive(), process.log_tail()
            args = ("get", "lease", lease_name, "-n", "kube-system", "-o", "jsonpath={.spec.holderIdentity}")
            lease = kubectl(*args, kubeconfig=shoot.kubeconfig, check=False)
            assert lease.returncode == 0 and lease.stdout, lease.stderr
            return lease.stdout

        for lease_name in processes:
            eventually(lambda name=lease_name: leading(name), timeout=30, interval=0.2, what=f"{lease_name} leads")
    finally:
        for process in processes.values():
            process.stop()
        shoot.stop()


def _report(seed: Kube, name: str, replicas: int) -> None:
    """What the deployment controller and kubelets report once `replicas` pods run."""
    path = resource_path("apps/v1", "Deployment", NS, name)
    deployment = seed.get(path)
    assert deployment is not None
    counts = {"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas}
    status = {"observedGeneration": deployment["metadata"]["generation"], **counts, "availableReplicas": replicas}
    seed.raw("PATCH", f"{path}/status", {"status": status}, content_type=MERGE)


def _pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
    }


async def test_components_roll_out_sleep_at_zero_and_go(seed: Kube) -> None:
    kcm_values = KubeControllerManagerValues(
        namespace=NS,
        image="registry.k8s.io/kube-controller-manager:v1.32.2",
        cluster_name=NS,
        service_cidr="100.64.0.0/13",
        pods_cidr="100.96.0.0/11",
    )
    scheduler_values = KubeSchedulerValues(namespace=NS, image="registry.k8s.io/kube-scheduler:v1.32.2")
    components = [
        (KubeControllerManager, kcm_values, "kube-controller-manager", kcm_selector),
        (KubeScheduler, scheduler_values, "kube-scheduler", scheduler_selector),
    ]
    for cls, values, name, selector in components:
        component = cls(seed, values, timeouts=QUICK)  # type: ignore[arg-type]
        await component.deploy()  # the seed API server accepts the manifests (validation, defaulting)
        deployment = seed.get(resource_path("apps/v1", "Deployment", NS, name))
        assert deployment is not None and deployment["spec"]["replicas"] == 1
        assert deployment["metadata"]["labels"]["gardener.cloud/role"] == "controlplane"
        with pytest.raises(TemporaryError, match=f"{name} ready not done after 1s: deployment {name}: "):
            await component.wait_ready()
        _report(seed, name, 1)
        await component.wait_ready()

        # Hibernation: the same objects at zero replicas, ready once no pod of them is left.
        asleep = cls(seed, replace(values, replicas=0), timeouts=QUICK)  # type: ignore[call-arg, arg-type]
        await asleep.deploy()
        deployment = seed.get(resource_path("apps/v1", "Deployment", NS, name))
        assert deployment is not None and deployment["spec"]["replicas"] == 0
        _report(seed, name, 0)
        seed.create(resource_path("v1", "Pod", NS), _pod(f"{name}-old", selector))
        with pytest.raises(TemporaryError, match=f"pods {name}-old still exist"):
            await asleep.wait_ready()
        seed.delete(resource_path("v1", "Pod", NS, f"{name}-old"))
        await asleep.wait_ready()

        await asleep.destroy()
        await asleep.wait_gone()
        assert seed.get(resource_path("apps/v1", "Deployment", NS, name)) is None
    assert seed.get(resource_path("v1", "ConfigMap", NS, "kube-scheduler-config")) is None
