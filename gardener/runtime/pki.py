"""X.509 material for every component: CAs, serving and client certificates, CSR signing, TLS contexts, and the
API server's own PKI on disk. The gardenlet issues a shoot's certificates from the same code (`CertSpec`).

Certificates are built to pass Go's strict crypto/x509 (kubectl, client-go): the CA carries a critical
BasicConstraints CA=true and keyCertSign, leaves carry SANs, KeyUsage/ExtKeyUsage and key identifiers.
Keys are ECDSA P-256 unless a caller brings an RSA key in a CSR. Private keys never appear in logs or
exception messages.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gardener.apis.kubeconfig import write_atomically

__all__ = [
    "CertSpec",
    "KeyPair",
    "ServerPKI",
    "ca_usable",
    "cert_usable",
    "create_ca",
    "csr_identity",
    "identity_from_peercert",
    "issue_cert",
    "issue_client_cert",
    "issue_serving_cert",
    "load_or_create_server_pki",
    "new_key_pem",
    "pair_readable",
    "server_pki_from_files",
    "sign_csr",
    "ssl_server_context",
]

# Certificates start this far in the past so that peers with a slightly slow clock accept them (kube uses 5m).
_BACKDATE = dt.timedelta(minutes=5)
# The serving certificate is re-issued on start when it expires sooner than this.
_RENEW_BEFORE = dt.timedelta(days=30)
# Always in the serving certificate, in addition to the hosts a caller asks for.
_DEFAULT_SERVING_HOSTS = ("localhost", "127.0.0.1", "::1")

_CA_CERT = "ca.crt"
_CA_KEY = "ca.key"
_SERVING_CERT = "apiserver.crt"
_SERVING_KEY = "apiserver.key"
_SA_KEY = "sa.key"
_SA_PUB = "sa.pub"

# certificates.k8s.io/v1 KeyUsage strings, as mapped by kube's certificate signer.
_KEY_USAGES: dict[str, str] = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}
_EXT_KEY_USAGES: dict[str, x509.ObjectIdentifier] = {
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "ipsec end system": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5"),
    "ipsec tunnel": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6"),
    "ipsec user": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7"),
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "microsoft sgc": x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3"),
    "netscape sgc": x509.ObjectIdentifier("2.16.840.1.113730.4.1"),
}

_SigningKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM (PKCS#8, unencrypted) private key."""

    cert_pem: bytes
    key_pem: bytes

    def __repr__(self) -> str:  # never show the key
        return f"KeyPair(cert_pem=<{len(self.cert_pem)} bytes>, key_pem=<redacted>)"


@dataclass(frozen=True)
class ServerPKI:
    """Everything the API server needs for TLS and service-account tokens, as stored under `dir`."""

    ca: KeyPair
    serving: KeyPair
    service_account_key_pem: bytes
    dir: Path

    def __repr__(self) -> str:  # never show the keys
        return f"ServerPKI(dir={str(self.dir)!r})"


# --------------------------------------------------------------------------------------------------------------------
# Building blocks


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_to_pem(key: _SigningKey) -> bytes:
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def _load_private_key(pem: bytes, *, what: str) -> _SigningKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The original message is dropped on purpose: nothing derived from key bytes may reach an error.
        raise ValueError(f"{what} is not a readable unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{what} must be an ECDSA or RSA key")
    return key


def _load_cert(pem: bytes, *, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as e:
        raise ValueError(f"{what} is not a readable PEM certificate: {e}") from None


def _same_public_key(cert: x509.Certificate, key: _SigningKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(cert.public_key().public_bytes(der, fmt) == key.public_key().public_bytes(der, fmt))


def _load_ca(ca: KeyPair) -> tuple[x509.Certificate, _SigningKey]:
    cert = _load_cert(ca.cert_pem, what="CA certificate")
    key = _load_private_key(ca.key_pem, what="CA private key")
    if not _same_public_key(cert, key):
        raise ValueError("CA private key does not belong to the CA certificate")
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise ValueError("CA certificate has no BasicConstraints extension") from None
    if not constraints.ca:
        raise ValueError("CA certificate is not a CA (BasicConstraints CA=false)")
    if cert.not_valid_after_utc <= _now():
        raise ValueError(f"CA certificate expired at {cert.not_valid_after_utc.isoformat()}")
    return cert, key


def _signature_hash(key: _SigningKey) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _authority_key_id(ca_cert: x509.Certificate, ca_key: _SigningKey) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_encipherment: bool = False,
    data_encipherment: bool = False,
    key_agreement: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
    encipher_only: bool = False,
    decipher_only: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=key_encipherment,
        data_encipherment=data_encipherment,
        key_agreement=key_agreement,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=encipher_only,
        decipher_only=decipher_only,
    )


def _leaf_key_usage(public_key: CertificatePublicKeyTypes) -> x509.KeyUsage:
    # RSA key exchange (TLS 1.2 non-ECDHE suites) encrypts to the key, which Go checks against keyEncipherment.
    return _key_usage(digital_signature=True, key_encipherment=isinstance(public_key, rsa.RSAPublicKey))


def _issue(
    *,
    ca_cert: x509.Certificate,
    ca_key: _SigningKey,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    lifetime: dt.timedelta,
    key_usage: x509.KeyUsage | None,
    ext_key_usages: Sequence[x509.ObjectIdentifier],
    san: x509.SubjectAlternativeName | None,
) -> x509.Certificate:
    if lifetime <= dt.timedelta(0):
        raise ValueError("certificate lifetime must be positive")
    now = _now()
    not_after = min(now + lifetime, ca_cert.not_valid_after_utc)  # never outlive the CA, like kube's signer
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_id(ca_cert, ca_key), critical=False)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if ext_key_usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ext_key_usages)), critical=False)
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca_key, _signature_hash(ca_key))


def _parse_ip(value: str) -> _IPAddress:
    try:
        return ipaddress.ip_address(value.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        raise ValueError(f"not an IP address: {value!r}") from None


def _is_ip(value: str) -> bool:
    try:
        _parse_ip(value)
    except ValueError:
        return False
    return True


def _dns_name(value: str) -> str:
    name = value.strip().lower().rstrip(".")
    if not name or any(c.isspace() or c in "/:@" for c in name):
        raise ValueError(f"not a DNS name: {value!r}")
    return name


def _split_hosts(hosts: Iterable[str]) -> tuple[list[str], list[_IPAddress]]:
    """Sort host strings into DNS names and IP addresses, dropping duplicates but keeping order."""
    dns: list[str] = []
    ips: list[_IPAddress] = []
    for host in hosts:
        if _is_ip(host):
            ip = _parse_ip(host)
            if ip not in ips:
                ips.append(ip)
        else:
            name = _dns_name(host)
            if name not in dns:
                dns.append(name)
    return dns, ips


def _san(dns_names: Sequence[str], ips: Sequence[_IPAddress]) -> x509.SubjectAlternativeName:
    general: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    general.extend(x509.IPAddress(ip) for ip in ips)
    return x509.SubjectAlternativeName(general)


def _str_sequence(value: Sequence[str], *, what: str) -> list[str]:
    if isinstance(value, str):  # a lone str is a Sequence[str] too; that is always a caller bug here
        raise TypeError(f"{what} must be a sequence of strings, not a single string")
    return list(value)


def _pair(cert: x509.Certificate, key: _SigningKey) -> KeyPair:
    return KeyPair(cert_pem=cert.public_bytes(serialization.Encoding.PEM), key_pem=_key_to_pem(key))


def _attribute_values(name: x509.Name, oid: x509.ObjectIdentifier) -> tuple[str, ...]:
    return tuple(
        a.value if isinstance(a.value, str) else a.value.decode("utf-8", "replace")
        for a in name.get_attributes_for_oid(oid)
    )


# --------------------------------------------------------------------------------------------------------------------
# Issuing


def create_ca(*, common_name: str, valid_days: int = 3650) -> KeyPair:
    """Create a self-signed ECDSA P-256 CA, valid for `valid_days` from now."""
    if valid_days <= 0:
        raise ValueError("valid_days must be positive")
    if not common_name:
        raise ValueError("common_name must not be empty")
    key = _new_key()
    now = _now()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _pair(cert, key)


@dataclass(frozen=True, kw_only=True)
class CertSpec:
    """What a leaf certificate says: its subject, the hosts it serves and what it may be used for."""

    common_name: str
    organizations: tuple[str, ...] = ()
    #: DNS names and IP addresses, in the subjectAltName
    hosts: tuple[str, ...] = ()
    server: bool = False
    client: bool = False

    def subject(self) -> x509.Name:
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in self.organizations]
        return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)])


def issue_cert(ca: KeyPair, spec: CertSpec, *, valid_days: int = 365) -> KeyPair:
    """Issue a leaf certificate with a new P-256 key; it never outlives the CA."""
    if valid_days <= 0:
        raise ValueError("valid_days must be positive")
    if not spec.common_name:
        raise ValueError("common_name must not be empty")
    dns, ips = _split_hosts(_str_sequence(spec.hosts, what="hosts"))
    usages = [
        u
        for u, on in ((ExtendedKeyUsageOID.SERVER_AUTH, spec.server), (ExtendedKeyUsageOID.CLIENT_AUTH, spec.client))
        if on
    ]
    ca_cert, ca_key = _load_ca(ca)
    key = _new_key()
    cert = _issue(
        ca_cert=ca_cert,
        ca_key=ca_key,
        subject=spec.subject(),
        public_key=key.public_key(),
        lifetime=dt.timedelta(days=valid_days),
        key_usage=_leaf_key_usage(key.public_key()),
        ext_key_usages=usages,
        san=_san(dns, ips) if dns or ips else None,
    )
    return _pair(cert, key)


def issue_serving_cert(
    ca: KeyPair, *, common_name: str, dns_names: Sequence[str], ip_addresses: Sequence[str], valid_days: int = 365
) -> KeyPair:
    """Issue a TLS server certificate (new P-256 key) for the given DNS names and IP addresses."""
    hosts = (*_str_sequence(dns_names, what="dns_names"), *_str_sequence(ip_addresses, what="ip_addresses"))
    for address in _str_sequence(ip_addresses, what="ip_addresses"):
        _parse_ip(address)
    if not hosts:
        raise ValueError("a serving certificate needs at least one DNS name or IP address")
    return issue_cert(ca, CertSpec(common_name=common_name, hosts=hosts, server=True), valid_days=valid_days)


def issue_client_cert(ca: KeyPair, *, user: str, groups: Sequence[str], valid_days: int = 365) -> KeyPair:
    """Issue a TLS client certificate (new P-256 key): CN is the user name, one O attribute per group."""
    if not user:
        raise ValueError("user must not be empty")
    spec = CertSpec(common_name=user, organizations=tuple(_str_sequence(groups, what="groups")), client=True)
    return issue_cert(ca, spec, valid_days=valid_days)


def _readable(pair: KeyPair) -> tuple[x509.Certificate, _SigningKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(pair.cert_pem)
        key = _load_private_key(pair.key_pem, what="key")
    except (ValueError, TypeError):
        return None
    return (cert, key) if _same_public_key(cert, key) else None


def pair_readable(pair: KeyPair) -> bool:
    """Whether `pair` holds a PEM certificate and the private key that belongs to it."""
    return _readable(pair) is not None


def cert_usable(leaf: KeyPair, ca: KeyPair, spec: CertSpec, *, renew_before: dt.timedelta) -> bool:
    """Whether a stored certificate still fits: signed by `ca`, `spec`'s subject, every wanted host, not expiring."""
    loaded, ca_loaded = _readable(leaf), _readable(ca)
    if loaded is None or ca_loaded is None:
        return False
    cert = loaded[0]
    try:
        cert.verify_directly_issued_by(ca_loaded[0])
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    if cert.subject != spec.subject() or cert.not_valid_after_utc - _now() < renew_before:
        return False
    if not spec.hosts:
        return True
    try:
        have = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return False
    try:
        dns, ips = _split_hosts(spec.hosts)
    except ValueError:
        return False
    return set(_san(dns, ips)) <= have


def ca_usable(ca: KeyPair, *, renew_before: dt.timedelta) -> bool:
    """Whether `ca` is readable and valid for at least `renew_before` more."""
    loaded = _readable(ca)
    return loaded is not None and loaded[0].not_valid_after_utc - _now() >= renew_before


def new_key_pem() -> tuple[bytes, bytes]:
    """A new P-256 key: (private PEM, public PEM), e.g. to sign service-account tokens."""
    key = _new_key()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _key_to_pem(key), public


def _load_csr(csr_pem: bytes) -> x509.CertificateSigningRequest:
    if not isinstance(csr_pem, bytes | bytearray):
        raise ValueError("CSR must be PEM bytes")
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in csr_pem:
        raise ValueError("CSR is not a PEM block of type CERTIFICATE REQUEST")
    try:
        csr = x509.load_pem_x509_csr(bytes(csr_pem))
    except ValueError as e:
        raise ValueError(f"CSR could not be parsed: {e}") from None
    try:
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm) as e:
        raise ValueError(f"CSR signature could not be checked: {e}") from None
    if not valid:
        raise ValueError("CSR signature is invalid: the request was not signed by the key it contains")
    return csr


def sign_csr(ca: KeyPair, csr_pem: bytes, *, usages: Sequence[str], valid_seconds: int) -> bytes:
    """Sign a certificates.k8s.io/v1 CertificateSigningRequest and return the certificate as PEM.

    The subject and subjectAltNames are copied from the request; `usages` are kube's KeyUsage strings.
    """
    requested = _str_sequence(usages, what="usages")
    if not requested:
        raise ValueError("at least one usage is required")
    if valid_seconds <= 0:
        raise ValueError("valid_seconds must be positive")
    unknown = sorted({u for u in requested if u not in _KEY_USAGES and u not in _EXT_KEY_USAGES})
    if unknown:
        raise ValueError(f"unsupported usages: {', '.join(unknown)}")
    flags = {_KEY_USAGES[u]: True for u in requested if u in _KEY_USAGES}
    if (flags.get("encipher_only") or flags.get("decipher_only")) and not flags.get("key_agreement"):
        raise ValueError('usages "encipher only" and "decipher only" require "key agreement"')
    ext_usages: list[x509.ObjectIdentifier] = []
    for u in requested:
        if u in _EXT_KEY_USAGES and _EXT_KEY_USAGES[u] not in ext_usages:
            ext_usages.append(_EXT_KEY_USAGES[u])

    csr = _load_csr(csr_pem)
    public_key = csr.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise ValueError(f"CSR RSA key is too small ({public_key.key_size} bits, need at least 2048)")
    elif not isinstance(public_key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise ValueError("CSR key type is not supported (use ECDSA, RSA or Ed25519)")
    try:
        san: x509.SubjectAlternativeName | None = csr.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        san = None
    except ValueError as e:
        raise ValueError(f"CSR extensions could not be parsed: {e}") from None

    ca_cert, ca_key = _load_ca(ca)
    cert = _issue(
        ca_cert=ca_cert,
        ca_key=ca_key,
        subject=csr.subject,
        public_key=public_key,
        lifetime=dt.timedelta(seconds=valid_seconds),
        key_usage=_key_usage(**flags) if flags else None,
        ext_key_usages=ext_usages,
        san=san,
    )
    return cert.public_bytes(serialization.Encoding.PEM)


# --------------------------------------------------------------------------------------------------------------------
# Identities


def csr_identity(csr_pem: bytes) -> tuple[str, tuple[str, ...]]:
    """Return (common name, organizations) of a CSR's subject; raises ValueError for a bad or ambiguous CSR."""
    csr = _load_csr(csr_pem)
    common_names = _attribute_values(csr.subject, NameOID.COMMON_NAME)
    if len(common_names) > 1:
        raise ValueError("CSR subject has more than one common name")
    return (common_names[0] if common_names else "", _attribute_values(csr.subject, NameOID.ORGANIZATION_NAME))


def identity_from_peercert(peercert: Mapping[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    """(CN, O values) from `ssl.SSLSocket.getpeercert()`; None without a certificate or a single non-empty CN."""
    if not peercert:
        return None
    subject = peercert.get("subject")
    if not isinstance(subject, tuple | list):
        return None
    common_names: list[str] = []
    organizations: list[str] = []
    for rdn in subject:
        if not isinstance(rdn, tuple | list):
            return None
        for attribute in rdn:
            if not (isinstance(attribute, tuple | list) and len(attribute) == 2):
                return None
            key, value = attribute
            if not isinstance(value, str):
                continue
            if key == "commonName":
                common_names.append(value)
            elif key == "organizationName":
                organizations.append(value)
    if len(common_names) != 1 or not common_names[0]:
        return None
    return common_names[0], tuple(organizations)


# --------------------------------------------------------------------------------------------------------------------
# The server's own PKI on disk


def _serving_cert_usable(
    serving: KeyPair, *, ca_cert: x509.Certificate, dns: Sequence[str], ips: Sequence[_IPAddress]
) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(serving.cert_pem)
        key = _load_private_key(serving.key_pem, what="serving key")
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm, x509.ExtensionNotFound):
        return False
    if not _same_public_key(cert, key) or cert.not_valid_after_utc - _now() < _RENEW_BEFORE:
        return False
    have_dns = {n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName)}
    have_ips = set(san.get_values_for_type(x509.IPAddress))
    return all(n in have_dns for n in dns) and all(ip in have_ips for ip in ips)


def load_or_create_server_pki(data_dir: Path, *, hosts: Sequence[str]) -> ServerPKI:
    """Load the API server's CA, serving certificate and service-account key from `data_dir/pki`, creating them.

    The serving certificate covers localhost, 127.0.0.1, ::1 and `hosts` (DNS names or IPs); it is re-issued by the
    same CA when a host is missing or it expires within 30 days. The CA and service-account key are never replaced.
    """
    requested = [*_DEFAULT_SERVING_HOSTS, *_str_sequence(hosts, what="hosts")]
    dns, ips = _split_hosts(requested)

    pki_dir = Path(data_dir) / "pki"
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(pki_dir, 0o700)

    ca_cert_path, ca_key_path = pki_dir / _CA_CERT, pki_dir / _CA_KEY
    if ca_cert_path.exists() != ca_key_path.exists():
        present, missing = (ca_cert_path, ca_key_path) if ca_cert_path.exists() else (ca_key_path, ca_cert_path)
        raise ValueError(
            f"{present} exists but {missing} does not; restore it, or remove {present} to create a new CA"
            " (which invalidates every certificate and kubeconfig issued so far)"
        )
    if ca_cert_path.exists():
        ca = KeyPair(cert_pem=ca_cert_path.read_bytes(), key_pem=ca_key_path.read_bytes())
    else:
        ca = create_ca(common_name="gardener-apiserver-ca")
        write_atomically(ca_key_path, ca.key_pem, mode=0o600)
        write_atomically(ca_cert_path, ca.cert_pem, mode=0o644)
    ca_cert, _ = _load_ca(ca)

    serving_cert_path, serving_key_path = pki_dir / _SERVING_CERT, pki_dir / _SERVING_KEY
    serving: KeyPair | None = None
    if serving_cert_path.exists() and serving_key_path.exists():
        serving = KeyPair(cert_pem=serving_cert_path.read_bytes(), key_pem=serving_key_path.read_bytes())
        if not _serving_cert_usable(serving, ca_cert=ca_cert, dns=dns, ips=ips):
            serving = None
    if serving is None:
        serving = issue_serving_cert(
            ca, common_name="gardener-apiserver", dns_names=dns, ip_addresses=[str(ip) for ip in ips]
        )
        write_atomically(serving_key_path, serving.key_pem, mode=0o600)
        write_atomically(serving_cert_path, serving.cert_pem, mode=0o644)

    sa_key_path = pki_dir / _SA_KEY
    if sa_key_path.exists():
        sa_key_pem = sa_key_path.read_bytes()
        sa_key = _load_private_key(sa_key_pem, what=f"service-account key {sa_key_path}")
    else:
        sa_key = _new_key()
        sa_key_pem = _key_to_pem(sa_key)
        write_atomically(sa_key_path, sa_key_pem, mode=0o600)
    sa_pub_pem = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sa_pub_path = pki_dir / _SA_PUB
    if not sa_pub_path.exists() or sa_pub_path.read_bytes() != sa_pub_pem:
        write_atomically(sa_pub_path, sa_pub_pem, mode=0o644)

    return ServerPKI(ca=ca, serving=serving, service_account_key_pem=sa_key_pem, dir=pki_dir)


def server_pki_from_files(
    *, data_dir: Path, client_ca: Path, client_ca_key: Path, tls_cert: Path, tls_key: Path, service_account_key: Path
) -> ServerPKI:
    """The PKI of a server whose certificates and keys someone else manages (a gardenlet for a shoot).

    The client CA's key signs certificate requests and the admin kubeconfig, as kube-controller-manager's
    `--cluster-signing-key-file` does; the serving pair is used exactly as given.
    """
    ca = KeyPair(cert_pem=client_ca.read_bytes(), key_pem=client_ca_key.read_bytes())
    _load_ca(ca)
    serving = KeyPair(cert_pem=tls_cert.read_bytes(), key_pem=tls_key.read_bytes())
    if not _same_public_key(
        _load_cert(serving.cert_pem, what=f"serving certificate {tls_cert}"),
        _load_private_key(serving.key_pem, what=f"serving key {tls_key}"),
    ):
        raise ValueError(f"{tls_key} does not belong to {tls_cert}")
    sa_key_pem = service_account_key.read_bytes()
    _load_private_key(sa_key_pem, what=f"service-account key {service_account_key}")
    pki_dir = Path(data_dir) / "pki"
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return ServerPKI(ca=ca, serving=serving, service_account_key_pem=sa_key_pem, dir=pki_dir)


def ssl_server_context(pki: ServerPKI) -> ssl.SSLContext:
    """A TLS >= 1.2 server context serving `pki.serving`; client certificates are optional and checked against the CA.

    With a verified client certificate, `getpeercert()` on the connection feeds `identity_from_peercert`.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_verify_locations(cadata=pki.ca.cert_pem.decode("ascii"))
    ctx.set_alpn_protocols(["http/1.1"])
    # load_cert_chain only reads files: hand it the in-memory pair through a private, short-lived directory.
    parent = pki.dir if pki.dir.is_dir() else None
    with tempfile.TemporaryDirectory(prefix=".tls-", dir=parent) as tmp:
        cert_path, key_path = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        write_atomically(cert_path, pki.serving.cert_pem, mode=0o600)
        write_atomically(key_path, pki.serving.key_pem, mode=0o600)
        try:
            ctx.load_cert_chain(certfile=cert_path, keyfile=key_path)
        except ssl.SSLError as e:
            raise ValueError(f"serving certificate and key cannot be used for TLS: {e.reason or 'unknown'}") from None
    return ctx
