"""The machine controller manager's identity in a shoot: no group, exactly the rights its ClusterRole grants.

A real API server stands in for the shoot; the gardenlet's component deploys the RBAC with admin rights, and a
client certificate like the one the gardenlet issues for the MCM does what a machine needs and nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from gardener.apis.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import LEASES, NODES, SECRETS, Kube
from gardener.runtime.pki import KeyPair, issue_client_cert
from gardenlet.components.secrets import MCM_USER
from gardenlet.components.shootrbac import MachineControllerManagerRBAC, ShootRBACValues
from tests.helpers import ServerProcess, create_namespace, eventually


@pytest.fixture(scope="module")
def shoot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir=tmp_path_factory.mktemp("mcm-rbac")).start()
    try:
        yield server
    finally:
        server.stop()


def _mcm_client(server: ServerProcess, path: Path) -> Kube:
    pki = server.data_dir / "pki"
    ca = KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())
    cert = issue_client_cert(ca, user=MCM_USER, groups=[])
    write_kubeconfig(
        path,
        build_kubeconfig(
            server=server.url,
            ca_pem=ca.cert_pem,
            user=MCM_USER,
            client_cert_pem=cert.cert_pem,
            client_key_pem=cert.key_pem,
        ),
    )
    return Kube.from_kubeconfig(path)


def _forbidden(call: object) -> bool:
    try:
        assert callable(call)
        call()
    except ApiError as exc:
        return exc.status == 403
    return False


def test_machine_controller_manager_may_do_what_machines_need_and_no_more(shoot: ServerProcess) -> None:
    admin = Kube.from_kubeconfig(shoot.kubeconfig)
    mcm = _mcm_client(shoot, shoot.data_dir / "mcm.kubeconfig")
    try:
        create_namespace("kube-node-lease", kubeconfig=shoot.kubeconfig)
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "m-1"}, "spec": {}}
        assert _forbidden(lambda: mcm.create(NODES.path(), node)), "no rights before the RBAC is deployed"

        rbac = MachineControllerManagerRBAC(admin, ShootRBACValues(user=MCM_USER))
        asyncio.run(rbac.deploy())
        asyncio.run(rbac.wait_ready())

        eventually(lambda: mcm.create(NODES.path(), node), timeout=20, what="node created with the MCM's rights")
        mcm.patch(NODES.path(name="m-1", subresource="status"), {"status": {"capacity": {"cpu": "2"}}})
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "m-1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "m-1"},
        }
        mcm.create(LEASES.path("kube-node-lease"), lease)
        mcm.delete(NODES.path(name="m-1"))
        # Not a superuser: secrets and RBAC itself are out of reach.
        assert _forbidden(lambda: mcm.list(SECRETS.path("kube-system")))
        assert _forbidden(lambda: mcm.delete("/apis/rbac.authorization.k8s.io/v1/clusterroles/" + MCM_USER))

        asyncio.run(rbac.destroy())
        asyncio.run(rbac.wait_gone())
    finally:
        mcm.close()
        admin.close()
