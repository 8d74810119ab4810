"""Kubelet TLS bootstrapping end to end: the node agent's `ensure_client_certificate` asks a real API server for a
client certificate with bootstrap credentials, our kube-controller-manager (only `csrapproving`, with its own
`certificate-controller` ServiceAccount) approves it after a SubjectAccessReview, a signer issues it, and the
resulting kubeconfig authenticates as the node. Requests whose requester lacks the rights, or whose shape is not a
node client certificate's, are left pending.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from extensions.provider_local.nodeagent.bootstrap import (
    PEM_FILE,
    PENDING_KEY_FILE,
    SIGNER,
    BootstrapError,
    RequestRefused,
    ensure_client_certificate,
)
from gardener.apis.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.apiserver.controllers import csrsigning
from gardener.runtime.kube import Kube
from gardener.runtime.pki import KeyPair
from tests.helpers import ServerProcess, aeventually, eventually, kubectl, module_server
from tests.kubecomponents import ComponentProcess, controller_manager, user_kubeconfig

server = module_server("kubelet-bootstrap")
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
NEW_NODE = "Auto approving kubelet client certificate after SubjectAccessReview."
SELF_NODE = "Auto approving self kubelet client certificate after SubjectAccessReview."


def _ca(server: ServerProcess) -> KeyPair:
    pki_dir = server.data_dir / "pki"
    return KeyPair(cert_pem=(pki_dir / "ca.crt").read_bytes(), key_pem=(pki_dir / "ca.key").read_bytes())


def _conditions(csr: dict[str, Any]) -> list[dict[str, Any]]:
    return list((csr.get("status") or {}).get("conditions") or [])


@pytest.fixture(scope="module")
def kube(server: ServerProcess) -> Iterator[Kube]:
    client = Kube.from_kubeconfig(server.kubeconfig)
    yield client
    client.close()


@pytest.fixture(scope="module")
def kcm(server: ServerProcess, kube: Kube) -> Iterator[ComponentProcess]:
    admin = server.kubeconfig
    # the bootstrap identity may create CSRs and have them approved for new nodes; the stranger only the former
    for user, role in (
        ("bootstrapper", "system:node-bootstrapper"),
        ("bootstrapper", "system:certificates.k8s.io:certificatesigningrequests:nodeclient"),
        ("stranger", "system:node-bootstrapper"),
    ):
        binding = f"{user}-{role.rsplit(':', 1)[-1]}"
        kubectl("create", "clusterrolebinding", binding, f"--clusterrole={role}", f"--user={user}", kubeconfig=admin)
    assert SIGNER in csrsigning.SIGNERS, "the API server signs kubelet client certificates itself"
    process = controller_manager(
        user_kubeconfig(server, "system:kube-controller-manager"),
        server.data_dir / "kcm.log",
        "--use-service-account-credentials=true",
        "--controllers=csrapproving",
    )
    yield process
    process.stop()


def _whoami(kubeconfig: Path) -> dict[str, Any]:
    return dict(json.loads(kubectl("auth", "whoami", "-o", "json", kubeconfig=kubeconfig).stdout)["status"]["userInfo"])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _expiring_kubeconfig(server: ServerProcess, path: Path, node: str) -> None:
    """A kubeconfig whose node certificate has used up 90% of its life: still valid, but due for renewal."""
    ca = _ca(server)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node}"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=9))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    config = build_kubeconfig(
        server=server.url,
        ca_pem=ca.cert_pem,
        user=f"system:node:{node}",
        client_cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        client_key_pem=key_pem,
    )
    write_kubeconfig(path, config)


async def test_bootstrap_reuse_and_renewal(
    server: ServerProcess, kube: Kube, kcm: ComponentProcess, tmp_path: Path
) -> None:
    bootstrap = user_kubeconfig(server, "bootstrapper")
    kubeconfig, pki_dir = tmp_path / "kubelet.kubeconfig", tmp_path / "pki"

    await ensure_client_certificate(
        bootstrap_kubeconfig=bootstrap, kubeconfig=kubeconfig, node_name="node-a", pki_dir=pki_dir, timeout=30
    )
    assert _mode(kubeconfig) == 0o600 and _mode(pki_dir / PEM_FILE) == 0o600
    assert not (pki_dir / PENDING_KEY_FILE).exists()
    who = _whoami(kubeconfig)
    assert who["username"] == "system:node:node-a"
    assert "system:nodes" in who["groups"] and "system:authenticated" in who["groups"]

    (csr,) = [c for c in kube.list(CSRS) if c["spec"]["username"] == "bootstrapper"]
    assert csr["metadata"]["name"].startswith("node-csr-")
    assert csr["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
    assert sorted(csr["spec"]["usages"]) == ["client auth", "digital signature", "key encipherment"]
    (approved,) = _conditions(csr)
    assert (approved["type"], approved["status"], approved["reason"]) == ("Approved", "True", "AutoApproved")
    assert approved["message"] == NEW_NODE and approved["lastUpdateTime"]

    # a valid kubeconfig is kept as it is: no new request
    before = (kubeconfig.read_bytes(), (pki_dir / PEM_FILE).read_bytes(), len(kube.list(CSRS)))
    await ensure_client_certificate(
        bootstrap_kubeconfig=bootstrap, kubeconfig=kubeconfig, node_name="node-a", pki_dir=pki_dir, timeout=30
    )
    assert (kubeconfig.read_bytes(), (pki_dir / PEM_FILE).read_bytes(), len(kube.list(CSRS))) == before

    # renewal: a node whose certificate is due asks as itself, allowed by `selfnodeclient`
    for role in ("system:node-bootstrapper", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"):
        binding = f"nodes-{role.rsplit(':', 1)[-1]}"
        kubectl(
            "create",
            "clusterrolebinding",
            binding,
            f"--clusterrole={role}",
            "--group=system:nodes",
            kubeconfig=server.kubeconfig,
        )
    renewing = tmp_path / "renewing.kubeconfig"
    _expiring_kubeconfig(server, renewing, "node-b")
    old = renewing.read_bytes()
    await ensure_client_certificate(
        bootstrap_kubeconfig=renewing, kubeconfig=renewing, node_name="node-b", pki_dir=tmp_path / "pki-b", timeout=30
    )
    assert renewing.read_bytes() != old and _whoami(renewing)["username"] == "system:node:node-b"
    (renewal,) = [c for c in kube.list(CSRS) if c["spec"]["username"] == "system:node:node-b"]
    assert [c["message"] for c in _conditions(renewal)] == [SELF_NODE]


def _node_shaped_request(common_name: str, *, dns: str = "") -> dict[str, Any]:
    """A kubelet client request in `system:nodes`, as `common_name`, with a DNS subjectAltName when given."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
    )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
    pem = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "by-hand-"},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": SIGNER,
            "usages": ["digital signature", "key encipherment", "client auth"],
        },
    }


async def test_requests_without_rights_or_of_foreign_shape_stay_pending(
    server: ServerProcess, kube: Kube, kcm: ComponentProcess, tmp_path: Path
) -> None:
    # the admin may do anything, so only the shape keeps these from approval: a CN that is no node's, a SAN
    foreign = [
        kube.create(CSRS, _node_shaped_request("someone"))["metadata"]["name"],
        kube.create(CSRS, _node_shaped_request("system:node:node-x", dns="node-x.example"))["metadata"]["name"],
    ]
    control = kube.create(CSRS, _node_shaped_request("system:node:node-y"))["metadata"]["name"]

    stranger = user_kubeconfig(server, "stranger")
    kubeconfig, pki_dir = tmp_path / "kubelet.kubeconfig", tmp_path / "pki"
    with pytest.raises(BootstrapError, match=r"timed out after 3s waiting for .*node-csr-\S+ to be approved"):
        await ensure_client_certificate(
            bootstrap_kubeconfig=stranger, kubeconfig=kubeconfig, node_name="node-c", pki_dir=pki_dir, timeout=3
        )
    (pending,) = [c for c in kube.list(CSRS) if c["spec"]["username"] == "stranger"]
    name = pending["metadata"]["name"]
    await aeventually(lambda: f"{name}" in Path(kcm.log_path).read_text(), what="the approver looked at the request")
    assert "subject access review was not approved" in Path(kcm.log_path).read_text()
    eventually(lambda: _conditions(kube.get(f"{CSRS}/{control}") or {}), what="control request approved")
    for csr_name in [name, *foreign]:
        assert _conditions(kube.get(f"{CSRS}/{csr_name}") or {}) == [], csr_name
    assert not kubeconfig.exists() and (pki_dir / PENDING_KEY_FILE).exists()

    # a restart finds its own pending request again (same key, same name); a denial ends the wait with its reason
    kubectl("certificate", "deny", name, kubeconfig=server.kubeconfig)
    with pytest.raises(RequestRefused, match=rf"{name} is denied, reason: KubectlDeny, message: "):
        await ensure_client_certificate(
            bootstrap_kubeconfig=stranger, kubeconfig=kubeconfig, node_name="node-c", pki_dir=pki_dir, timeout=30
        )
    assert len([c for c in kube.list(CSRS) if c["spec"]["username"] == "stranger"]) == 1
    assert not (pki_dir / PENDING_KEY_FILE).exists() and not kubeconfig.exists()
