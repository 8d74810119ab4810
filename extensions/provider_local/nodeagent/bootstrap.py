"""The kubelet's client certificate by TLS bootstrapping, as upstream's kubelet does with `--bootstrap-kubeconfig`.

While `kubeconfig` holds this node's client certificate with more than 20% of its validity left it is used as it
is. Otherwise the node asks for one: a P-256 key (kept in `<pki-dir>/kubelet-client.key.tmp`, mode 0600, until the
certificate arrives, so a restart finds its own request again under the same name) signs a CertificateSigningRequest
named `node-csr-<digest of key, subject and usages>` for signer `kubernetes.io/kube-apiserver-client-kubelet`,
subject `system:node:<node>` in `system:nodes`, usages `digital signature`, `key encipherment`, `client auth`
(upstream's exact request), created with the bootstrap kubeconfig's credentials. kube-controller-manager's
csrapproving controller approves it when the requester may `create certificatesigningrequests/nodeclient`, a
signer issues it; the certificate and key go to `<pki-dir>/kubelet-client-current.pem` (0600) and `kubeconfig`
(0600) is written, as upstream's, with the bootstrap kubeconfig's server and CA and the PEM file as client
certificate and key. Every file is replaced atomically.

Renewal is the same call with the current kubeconfig as bootstrap kubeconfig: the node then asks as itself
(`certificatesigningrequests/selfnodeclient`). A denied or failed request, refused credentials or a timeout raise
`BootstrapError`, whose message is one line for the caller to print.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from gardener.apis.kubeconfig import read_current, write_atomically, write_kubeconfig
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import (
    AlreadyExists,
    ApiError,
    Forbidden,
    ServerError,
    TooManyRequests,
    Unauthorized,
    Unreachable,
)
from gardener.runtime.pki import KeyPair, new_key_pem, pair_readable

__all__ = [
    "PEM_FILE",
    "PENDING_KEY_FILE",
    "SIGNER",
    "BootstrapError",
    "RequestRefused",
    "client_certificate_usable",
    "ensure_client_certificate",
    "request_name",
]

log = logging.getLogger("provider_local.nodeagent.bootstrap")

SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
#: upstream's kubelet asks for these whatever its key type
USAGES = ("digital signature", "key encipherment", "client auth")
NODES_GROUP = "system:nodes"
#: upstream's file names in the kubelet's certificate directory
PEM_FILE = "kubelet-client-current.pem"
PENDING_KEY_FILE = "kubelet-client.key.tmp"
#: a certificate is replaced once this share of its validity has passed
RENEW_AFTER = 0.8
POLL_SECONDS = 0.5
#: failures that may pass while the API server comes up or is busy: tried again until the timeout
_TRANSIENT = (Unreachable, ServerError, TooManyRequests)

_PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.DOTALL)


class BootstrapError(Exception):
    """No client certificate could be had; the message says why in one line."""


class RequestRefused(BootstrapError):
    """The request was denied, or its signer failed it."""


def _blocks(data: bytes, *, private_key: bool) -> bytes:
    """The PEM blocks of `data` that hold certificates (or, with `private_key`, private keys)."""
    out = b""
    for match in _PEM_BLOCK.finditer(data):
        label, block = match.group(1), match.group(0)
        wanted = label.endswith(b"PRIVATE KEY") if private_key else label == b"CERTIFICATE"
        if wanted:
            out += block if block.endswith(b"\n") else block + b"\n"
    return out


def _credential(user: Mapping[str, Any], field: str, base_dir: Path) -> bytes:
    if user.get(f"{field}-data"):
        return base64.b64decode(str(user[f"{field}-data"]), validate=True)
    if user.get(field):
        return (base_dir / str(user[field])).read_bytes()
    return b""


def _subject(node_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node_name}"),
        ]
    )


def client_certificate_usable(kubeconfig: Path, *, node_name: str, now: dt.datetime | None = None) -> bool:
    """Whether `kubeconfig` holds this node's client certificate and its key, with more than 20% of its life left."""
    try:
        _, user = read_current(kubeconfig)
        cert_pem = _blocks(_credential(user, "client-certificate", kubeconfig.parent), private_key=False)
        key_pem = _blocks(_credential(user, "client-key", kubeconfig.parent), private_key=True)
    except (ValueError, OSError, binascii.Error):
        return False
    if not cert_pem or not key_pem or not pair_readable(KeyPair(cert_pem=cert_pem, key_pem=key_pem)):
        return False
    cert = x509.load_pem_x509_certificate(cert_pem)
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [f"system:node:{node_name}"]:
        return False
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return (now or dt.datetime.now(dt.UTC)) < start + (end - start) * RENEW_AFTER


def request_name(public_key_der: bytes, *, common_name: str, organizations: tuple[str, ...]) -> str:
    """Upstream's digestedName: `node-csr-` and a SHA-512/256 over key, subject and usages, so that the same key
    asks under the same name again (and finds its earlier request) while any other input gets a new one."""
    digest = hashes.Hash(hashes.SHA512_256())
    for part in (
        public_key_der,
        common_name.encode(),
        *(o.encode() for o in organizations),
        *(u.encode() for u in USAGES),
    ):
        digest.update(base64.urlsafe_b64encode(part).rstrip(b"="))
        digest.update(b"|")
    return "node-csr-" + base64.urlsafe_b64encode(digest.finalize()).rstrip(b"=").decode("ascii")


def _pending_key(pki_dir: Path) -> tuple[_PrivateKey, bytes]:
    """The key of the request under way: the one kept from an earlier attempt, else a new P-256 key (0600)."""
    path = pki_dir / PENDING_KEY_FILE
    if path.exists():
        pem = path.read_bytes()
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            key = None
        if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            return key, pem
    pem, _ = new_key_pem()
    write_atomically(path, pem, mode=0o600)
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)  # new_key_pem makes P-256 keys
    return loaded, pem


def _public_der(key: _PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _request_object(key: _PrivateKey, node_name: str) -> dict[str, Any]:
    request = x509.CertificateSigningRequestBuilder().subject_name(_subject(node_name)).sign(key, hashes.SHA256())
    pem = request.public_bytes(serialization.Encoding.PEM)
    name = request_name(_public_der(key), common_name=f"system:node:{node_name}", organizations=(NODES_GROUP,))
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": base64.b64encode(pem).decode("ascii"), "signerName": SIGNER, "usages": list(USAGES)},
    }


def _same_key(csr: Mapping[str, Any], key: _PrivateKey) -> bool:
    try:
        pem = base64.b64decode(str((csr.get("spec") or {}).get("request") or ""), validate=True)
        public = x509.load_pem_x509_csr(pem).public_key()
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        return False
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der == _public_der(key) and (csr.get("spec") or {}).get("signerName") == SIGNER


def _approved(csr: Mapping[str, Any]) -> bool:
    """Whether the request is approved; raises for a denied or failed one (client-go's messages)."""
    approved = False
    for condition in (csr.get("status") or {}).get("conditions") or []:
        kind = condition.get("type")
        if kind in ("Denied", "Failed"):
            verb = "is denied" if kind == "Denied" else "failed"
            raise RequestRefused(
                f"certificate signing request {csr['metadata']['name']} {verb}, reason: {condition.get('reason', '')}, "
                f"message: {condition.get('message', '')}"
            )
        if kind == "Approved":
            approved = True
    return approved


class _Deadline:
    def __init__(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._end = self._loop.time() + timeout
        self.timeout = timeout

    def passed(self) -> bool:
        return self._loop.time() >= self._end


async def _submit(client: AsyncKube, csr: dict[str, Any], key: _PrivateKey, deadline: _Deadline) -> dict[str, Any]:
    """Create the request, or find the one an earlier attempt with the same key made."""
    name = csr["metadata"]["name"]
    while True:
        try:
            try:
                return await client.create(CSRS, csr)
            except AlreadyExists:
                found = await client.get(f"{CSRS}/{name}")
                if found is None:
                    continue  # deleted in between: create it again
                if not _same_key(found, key):
                    raise BootstrapError(f"certificate signing request {name} exists but is not this node's") from None
                log.info("Certificate signing request exists, reusing it", extra={"csr": name})
                return found
        except (Unauthorized, Forbidden) as exc:
            raise BootstrapError(f"the bootstrap credentials may not request a certificate: {exc}") from None
        except ApiError as exc:
            if not isinstance(exc, _TRANSIENT) or deadline.passed():
                raise BootstrapError(f"cannot create certificate signing request {name}: {exc}") from None
            log.warning("Cannot create certificate signing request, retrying", extra={"csr": name, "error": str(exc)})
            await asyncio.sleep(POLL_SECONDS * 4)


async def _wait(client: AsyncKube, created: dict[str, Any], deadline: _Deadline) -> bytes:
    """The issued certificate (PEM) of the request, polled until it is there."""
    name, uid = created["metadata"]["name"], created["metadata"].get("uid")
    current: dict[str, Any] | None = created
    approved = False
    while True:
        if current is not None:
            if current["metadata"].get("uid") != uid:
                raise BootstrapError(f"certificate signing request {name} was replaced by another one")
            approved = _approved(current)
            certificate = (current.get("status") or {}).get("certificate")
            if approved and certificate:
                return base64.b64decode(str(certificate))
        if deadline.passed():
            waiting = "to be issued after approval" if approved else "to be approved"
            raise BootstrapError(
                f"timed out after {deadline.timeout:g}s waiting for certificate signing request {name} {waiting}"
            )
        await asyncio.sleep(POLL_SECONDS)
        try:
            current = await client.get(f"{CSRS}/{name}")
        except ApiError as exc:
            log.warning("Cannot read certificate signing request", extra={"csr": name, "error": str(exc)})
            current = None
            continue
        if current is None:
            raise BootstrapError(f"certificate signing request {name} was deleted")


def _kubeconfig(cluster: Mapping[str, Any], pem_path: Path) -> dict[str, Any]:
    """Upstream's kubeconfig after bootstrapping: the bootstrap cluster, the certificate file as credentials."""
    cluster_entry = {k: v for k, v in cluster.items() if k != "certificate-authority"}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default-cluster", "cluster": cluster_entry}],
        "users": [{"name": "default-auth", "user": {"client-certificate": str(pem_path), "client-key": str(pem_path)}}],
        "contexts": [
            {
                "name": "default-context",
                "context": {"cluster": "default-cluster", "user": "default-auth", "namespace": "default"},
            }
        ],
        "current-context": "default-context",
        "preferences": {},
    }


async def ensure_client_certificate(
    *, bootstrap_kubeconfig: Path, kubeconfig: Path, node_name: str, pki_dir: Path, timeout: float
) -> None:
    """Make `kubeconfig` hold a usable client certificate of `system:node:<node_name>`; see the module docstring."""
    if client_certificate_usable(kubeconfig, node_name=node_name):
        log.info("Client certificate is valid, no bootstrap necessary", extra={"kubeconfig": str(kubeconfig)})
        return
    try:
        cluster, _ = read_current(bootstrap_kubeconfig)
        client = AsyncKube.from_kubeconfig(bootstrap_kubeconfig)
    except (ValueError, OSError, KeyError) as exc:
        raise BootstrapError(f"cannot use bootstrap kubeconfig {bootstrap_kubeconfig}: {exc}") from None
    deadline = _Deadline(timeout)
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key, key_pem = _pending_key(pki_dir)
    try:
        created = await _submit(client, _request_object(key, node_name), key, deadline)
        name = created["metadata"]["name"]
        log.info("Waiting for client certificate", extra={"node": node_name, "csr": name})
        cert_pem = await _wait(client, created, deadline)
    except RequestRefused:
        # a decided request never changes: the next attempt needs a new key, hence a new request
        (pki_dir / PENDING_KEY_FILE).unlink(missing_ok=True)
        raise
    finally:
        await client.close()
    if not pair_readable(KeyPair(cert_pem=cert_pem, key_pem=key_pem)):
        raise BootstrapError(f"the certificate issued for {name} is unreadable or not for the requested key")
    pem_path = (pki_dir / PEM_FILE).absolute()
    write_atomically(pem_path, _blocks(cert_pem, private_key=False) + key_pem, mode=0o600)
    write_kubeconfig(kubeconfig, _kubeconfig(cluster, pem_path))
    (pki_dir / PENDING_KEY_FILE).unlink(missing_ok=True)
    issued = x509.load_pem_x509_certificate(cert_pem)
    log.info(
        "Client certificate stored",
        extra={"node": node_name, "csr": name, "notAfter": issued.not_valid_after_utc.isoformat()},
    )
