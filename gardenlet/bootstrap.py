"""The gardenlet's garden credentials: bootstrap with a token, then keep its own client certificate fresh.

With no usable kubeconfig yet, the gardenlet generates a key, asks the garden for a client certificate for
`gardener.cloud:system:seed:<seed>` through a CertificateSigningRequest made with the bootstrap token, waits
for the controller-manager to approve it and the API server to sign it, and writes its own kubeconfig
(0600, atomically). It then deletes the bootstrap token Secret and the bootstrap kubeconfig: a token is used
once. Later certificates are asked for the same way with the current one, once 80% of its lifetime has
passed. The private key never leaves this process except into the kubeconfig file.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gardener.apis.kubeconfig import build_kubeconfig, read_current, write_kubeconfig
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import Kube
from gardenlet.config import FIELD_MANAGER, GardenletConfig

log = logging.getLogger("gardenlet.bootstrap")

SEEDS_GROUP = "gardener.cloud:system:seeds"
SEED_USER_PREFIX = "gardener.cloud:system:seed:"
SIGNER = "kubernetes.io/kube-apiserver-client"
USAGES = ("digital signature", "client auth")
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
#: renew once this share of the certificate's lifetime is left (Gardener renews at 70-90% of it)
RENEW_WHEN_LEFT = 0.2


class BootstrapError(Exception):
    """The gardenlet cannot get garden credentials; the message says what the operator can do."""


@dataclass(frozen=True)
class Credentials:
    cert_pem: bytes
    key_pem: bytes

    def __repr__(self) -> str:  # never show the key
        return f"Credentials(cert_pem=<{len(self.cert_pem)} bytes>, key_pem=<redacted>)"


def seed_user(seed: str) -> str:
    return SEED_USER_PREFIX + seed


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def certificate_request(key: ec.EllipticCurvePrivateKey, seed: str) -> bytes:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, SEEDS_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, seed_user(seed)),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


# ---- kubeconfig files ----


def read_kubeconfig(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(cluster, user) of the current context; BootstrapError when the file is unusable."""
    try:
        return read_current(path)
    except ValueError as exc:
        raise BootstrapError(str(exc)) from None


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return b""


def client_certificate(path: Path) -> x509.Certificate | None:
    """The client certificate embedded in a kubeconfig, None when there is none or the file is unusable."""
    if not path.exists():
        return None
    try:
        _, user = read_kubeconfig(path)
        return x509.load_pem_x509_certificate(_b64(user.get("client-certificate-data")))
    except (BootstrapError, ValueError):
        return None


def renew_at(cert: x509.Certificate) -> dt.datetime:
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_after_utc - lifetime * RENEW_WHEN_LEFT


def write_credentials(path: Path, *, cluster: dict[str, Any], seed: str, credentials: Credentials) -> None:
    config = build_kubeconfig(
        server=str(cluster.get("server") or ""),
        ca_pem=_b64(cluster.get("certificate-authority-data")),
        user=seed_user(seed),
        client_cert_pem=credentials.cert_pem,
        client_key_pem=credentials.key_pem,
        context="garden",
    )
    write_kubeconfig(path, config)


def client(path: Path) -> Kube:
    """A client that writes as the gardenlet's field manager, so server-side apply keeps owning the same fields."""
    return Kube.from_kubeconfig(path, field_manager=FIELD_MANAGER)


# ---- certificate requests ----


def _failure(csr: dict[str, Any]) -> str | None:
    for condition in (csr.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Denied", "Failed") and condition.get("status", "True") == "True":
            return f"{condition['type']}: {condition.get('message') or condition.get('reason') or ''}"
    return None


def request_certificate(
    kube: Kube, seed: str, *, validity_seconds: int | None, timeout: float, poll: float = 0.5
) -> tuple[str, Credentials]:
    """Ask the garden for a client certificate; returns the CSR name and the new credentials."""
    key = new_key()
    spec: dict[str, Any] = {
        "request": base64.b64encode(certificate_request(key, seed)).decode("ascii"),
        "signerName": SIGNER,
        "usages": list(USAGES),
    }
    if validity_seconds:
        spec["expirationSeconds"] = validity_seconds
    created = kube.raw(
        "POST",
        CSR_PATH,
        {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "seed-csr-", "labels": {"gardener.cloud/seed": seed}},
            "spec": spec,
        },
    )
    name = created["metadata"]["name"]
    log.info("Requested client certificate", extra={"csr": name, "seed": seed})
    deadline = time.monotonic() + timeout
    while True:
        csr = kube.raw("GET", f"{CSR_PATH}/{name}") or {}
        certificate = (csr.get("status") or {}).get("certificate")
        if certificate:
            break
        problem = _failure(csr)
        if problem is not None:
            raise BootstrapError(f"certificate request {name} was not granted: {problem}")
        if time.monotonic() > deadline:
            raise BootstrapError(
                f"certificate request {name} was not signed within {timeout:.0f}s; is the "
                "gardener-controller-manager running?"
            )
        time.sleep(poll)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return name, Credentials(cert_pem=_b64(certificate), key_pem=key_pem)


def _drop_bootstrap_token(kube: Kube, token: str) -> None:
    token_id = token.partition(".")[0]
    try:
        kube.delete(f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}")
    except ApiError as exc:
        # The controller-manager deletes it after a grace period anyway.
        log.warning("Could not delete the bootstrap token", extra={"code": exc.status})


def bootstrap(config: GardenletConfig) -> Path:
    """Get the first client certificate with the bootstrap kubeconfig, then drop the bootstrap token.

    Returns the path of the gardenlet's new kubeconfig.
    """
    path = config.bootstrap_kubeconfig
    if path is None or not path.exists():
        raise BootstrapError(
            f"no usable kubeconfig at {config.kubeconfig} and no bootstrap kubeconfig: register the seed again "
            "(gardenctl register seed) and start the gardenlet with the new configuration"
        )
    cluster, user = read_kubeconfig(path)
    _, credentials = request_certificate(
        client(path),
        config.seed_name,
        validity_seconds=config.kubeconfig_validity_seconds,
        timeout=config.csr_timeout_seconds,
    )
    write_credentials(config.kubeconfig, cluster=cluster, seed=config.seed_name, credentials=credentials)
    log.info("Wrote gardenlet kubeconfig", extra={"path": str(config.kubeconfig)})
    if user.get("token"):
        _drop_bootstrap_token(client(config.kubeconfig), str(user["token"]))
    path.unlink(missing_ok=True)
    return config.kubeconfig


def renew(config: GardenletConfig) -> None:
    """Replace the client certificate with a new one, asked for with the current one."""
    cluster, _ = read_kubeconfig(config.kubeconfig)
    _, credentials = request_certificate(
        client(config.kubeconfig),
        config.seed_name,
        validity_seconds=config.kubeconfig_validity_seconds,
        timeout=config.csr_timeout_seconds,
    )
    write_credentials(config.kubeconfig, cluster=cluster, seed=config.seed_name, credentials=credentials)
    log.info("Renewed gardenlet client certificate", extra={"path": str(config.kubeconfig)})


def has_valid_certificate(path: Path, *, now: dt.datetime) -> bool:
    """Whether the kubeconfig at `path` holds a client certificate that has not expired yet."""
    cert = client_certificate(path)
    return cert is not None and cert.not_valid_after_utc > now
