"""The shoot's secrets (Gardener's secrets manager): CAs, certificates and keys, kept as Secrets in the seed.

Material is generated once and reused on every reconcile; a leaf certificate is issued again only when its CA
changed, a wanted host name or address is missing, its subject differs or it expires within `renew_before`.
CAs and the service-account key are never replaced while their Secret exists. Private keys travel only into
Secrets; nothing here logs or raises with key material.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gardenlet.components.base import DEFAULT_TIMEOUTS, Timeouts, wait_for
from gardenlet.kube import Kube, resource_path

log = logging.getLogger("gardenlet.components.secrets")

Obj = dict[str, Any]

CA = "ca"
CA_ETCD = "ca-etcd"
ETCD_SERVER = "etcd-server"
ETCD_PEER = "etcd-peer"
ETCD_CLIENT = "etcd-client"
KUBE_APISERVER_SERVER = "kube-apiserver-server"
SERVICE_ACCOUNT_KEY = "service-account-key"
ADMIN_CLIENT = "admin-client"
MCM_CLIENT = "machine-controller-manager-client"
ALL = (
    CA,
    CA_ETCD,
    ETCD_SERVER,
    ETCD_PEER,
    ETCD_CLIENT,
    KUBE_APISERVER_SERVER,
    SERVICE_ACCOUNT_KEY,
    ADMIN_CLIENT,
    MCM_CLIENT,
)
#: what etcd and the API server mount: their pods roll when one of these changes
ETCD_SECRETS = (CA_ETCD, ETCD_SERVER, ETCD_PEER)
APISERVER_SECRETS = (CA, KUBE_APISERVER_SERVER, SERVICE_ACCOUNT_KEY, CA_ETCD, ETCD_CLIENT)
LABELS = {"managed-by": "secrets-manager", "manager-identity": "gardenlet"}

#: the admin of a shoot: Gardener's `system:masters` client certificate
ADMIN_USER = "system:admin"
ADMIN_GROUP = "system:masters"
#: the machine controller manager registers and watches Nodes in the shoot; it gets admin rights for now, as the
#: shoot has no RBAC role for it yet
MCM_USER = "system:machine-controller-manager"
_BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True, kw_only=True)
class SecretsValues:
    namespace: str
    #: every name and address the shoot API server is reached at (service names, load balancer address ...)
    apiserver_hosts: tuple[str, ...]
    etcd_hosts: tuple[str, ...]
    ca_validity_days: int = 3650
    validity_days: int = 365
    renew_before_days: int = 30


@dataclass(frozen=True, kw_only=True)
class Certificate:
    cert_pem: bytes
    key_pem: bytes = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class ShootSecrets:
    """What later steps need from the secrets, after `deploy`."""

    ca_pem: bytes
    admin: Certificate
    machine_controller_manager: Certificate
    digests: dict[str, str]

    def checksum(self, *names: str) -> str:
        """Changes whenever one of the named Secrets changes; put on pod templates so they roll."""
        return hashlib.sha256("".join(self.digests[n] for n in names).encode()).hexdigest()[:16]


# ---- certificates ----


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load(pair: Certificate) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(pair.cert_pem)
        key = serialization.load_pem_private_key(pair.key_pem, password=None)
    except (ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        return None
    return cert, key


def new_ca(common_name: str, *, days: int) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )  # digital signature, cert sign, CRL sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Certificate(cert_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem=_key_pem(key))


def _hosts(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


@dataclass(frozen=True, kw_only=True)
class LeafSpec:
    common_name: str
    organizations: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    server: bool = False
    client: bool = False

    def subject(self) -> x509.Name:
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in self.organizations]
        return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)])


def issue(ca: Certificate, spec: LeafSpec, *, days: int) -> Certificate:
    loaded = _load(ca)
    if loaded is None:
        raise ValueError("the CA secret holds no usable certificate and key")
    ca_cert, ca_key = loaded
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [
        u
        for u, on in ((ExtendedKeyUsageOID.SERVER_AUTH, spec.server), (ExtendedKeyUsageOID.CLIENT_AUTH, spec.client))
        if on
    ]
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(spec.subject())
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if spec.hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(_hosts(spec.hosts)), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Certificate(cert_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem=_key_pem(key))


def leaf_usable(leaf: Certificate, ca: Certificate, spec: LeafSpec, *, renew_before: dt.timedelta) -> bool:
    """Whether a stored certificate still fits: signed by `ca`, same subject, every wanted host, not expiring."""
    loaded, ca_loaded = _load(leaf), _load(ca)
    if loaded is None or ca_loaded is None:
        return False
    cert, _ = loaded
    try:
        cert.verify_directly_issued_by(ca_loaded[0])
    except (ValueError, TypeError, InvalidSignature):
        return False
    if cert.subject != spec.subject() or cert.not_valid_after_utc - _now() < renew_before:
        return False
    if not spec.hosts:
        return True
    try:
        have = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return False
    return set(_hosts(spec.hosts)) <= have


def ca_usable(ca: Certificate, *, renew_before: dt.timedelta) -> bool:
    loaded = _load(ca)
    return loaded is not None and loaded[0].not_valid_after_utc - _now() >= renew_before


# ---- Secrets ----


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _data(secret: Obj | None, key: str) -> bytes:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value) if value else b""


def secret_manifest(namespace: str, name: str, data: dict[str, bytes], *, tls: bool = False) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(LABELS)},
        "type": "kubernetes.io/tls" if tls else "Opaque",
        "data": {k: _b64(v) for k, v in data.items()},
    }


def _pair(data: dict[str, str]) -> Certificate:
    return Certificate(cert_pem=base64.b64decode(data["tls.crt"]), key_pem=base64.b64decode(data["tls.key"]))


def _digest(data: dict[str, str]) -> str:
    return hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(data.items())).encode()).hexdigest()


class SecretsManager:
    """Creates or reuses every secret of one shoot in its seed namespace."""

    def __init__(
        self,
        kube: Kube,
        values: SecretsValues,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        new_ca_fn: Callable[[str], Certificate] | None = None,
    ) -> None:
        self.kube = kube
        self.values = values
        self.timeouts = timeouts
        self._new_ca = new_ca_fn or (lambda cn: new_ca(cn, days=values.ca_validity_days))
        self.result: ShootSecrets | None = None

    def _path(self, name: str | None = None) -> str:
        return resource_path("v1", "Secret", self.values.namespace, name)

    def leaves(self) -> dict[str, tuple[str, LeafSpec]]:
        """Secret name -> (CA secret, certificate spec)."""
        v = self.values
        return {
            KUBE_APISERVER_SERVER: (CA, LeafSpec(common_name="kube-apiserver", hosts=v.apiserver_hosts, server=True)),
            ADMIN_CLIENT: (CA, LeafSpec(common_name=ADMIN_USER, organizations=(ADMIN_GROUP,), client=True)),
            ETCD_SERVER: (CA_ETCD, LeafSpec(common_name="etcd-server", hosts=v.etcd_hosts, server=True, client=True)),
            ETCD_PEER: (CA_ETCD, LeafSpec(common_name="etcd-peer", hosts=v.etcd_hosts, server=True, client=True)),
            ETCD_CLIENT: (CA_ETCD, LeafSpec(common_name="etcd-client", client=True)),
            MCM_CLIENT: (CA, LeafSpec(common_name=MCM_USER, organizations=(ADMIN_GROUP,), client=True)),
        }

    async def deploy(self) -> None:
        renew_before = dt.timedelta(days=self.values.renew_before_days)
        stored = {name: await self.kube.aget(self._path(name)) for name in ALL}
        written: dict[str, dict[str, bytes]] = {}
        cas: dict[str, Certificate] = {}
        for name, common_name in ((CA, "kubernetes"), (CA_ETCD, "etcd")):
            ca = Certificate(cert_pem=_data(stored[name], "ca.crt"), key_pem=_data(stored[name], "ca.key"))
            if stored[name] is None or _load(ca) is None:
                log.info("Generating CA", extra={"namespace": self.values.namespace, "secret": name})
                ca = self._new_ca(common_name)
                written[name] = {"ca.crt": ca.cert_pem, "ca.key": ca.key_pem}
            elif not ca_usable(ca, renew_before=renew_before):
                log.warning("CA expires soon; rotation is not automated", extra={"secret": name})
            cas[name] = ca
        for name, (ca_name, spec) in self.leaves().items():
            leaf = Certificate(cert_pem=_data(stored[name], "tls.crt"), key_pem=_data(stored[name], "tls.key"))
            if not leaf_usable(leaf, cas[ca_name], spec, renew_before=renew_before):
                log.info("Issuing certificate", extra={"namespace": self.values.namespace, "secret": name})
                leaf = issue(cas[ca_name], spec, days=self.values.validity_days)
                written[name] = {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem, "ca.crt": cas[ca_name].cert_pem}
        if stored[SERVICE_ACCOUNT_KEY] is None or not _data(stored[SERVICE_ACCOUNT_KEY], "sa.key"):
            key = ec.generate_private_key(ec.SECP256R1())
            public = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            written[SERVICE_ACCOUNT_KEY] = {"sa.key": _key_pem(key), "sa.pub": public}
        for name, data in written.items():
            tls = "tls.crt" in data
            await self.kube.aapply(secret_manifest(self.values.namespace, name, data, tls=tls))
        current: dict[str, dict[str, str]] = {}
        for name in ALL:
            if name in written:
                current[name] = {k: _b64(v) for k, v in written[name].items()}
            else:
                current[name] = (stored[name] or {}).get("data") or {}
        self.result = ShootSecrets(
            ca_pem=cas[CA].cert_pem,
            admin=_pair(current[ADMIN_CLIENT]),
            machine_controller_manager=_pair(current[MCM_CLIENT]),
            digests={name: _digest(data) for name, data in current.items()},
        )

    async def wait_ready(self) -> None:
        """Secrets are ready once written."""

    async def destroy(self) -> None:
        for name in ALL:
            await self.kube.adelete(self._path(name))

    async def wait_gone(self) -> None:
        async def left() -> str | None:
            remaining = [n for n in ALL if await self.kube.aget(self._path(n)) is not None]
            return f"secrets {', '.join(remaining)} still exist" if remaining else None

        await wait_for(left, what="secrets gone", timeout=self.timeouts.gone, interval=self.timeouts.interval)


async def load_admin(kube: Kube, namespace: str) -> tuple[bytes, Certificate] | None:
    """(CA, admin certificate) of a shoot, read back from its seed namespace; None before they exist."""
    ca = await kube.aget(resource_path("v1", "Secret", namespace, CA))
    admin = await kube.aget(resource_path("v1", "Secret", namespace, ADMIN_CLIENT))
    if ca is None or admin is None:
        return None
    return _data(ca, "ca.crt"), Certificate(cert_pem=_data(admin, "tls.crt"), key_pem=_data(admin, "tls.key"))
