"""The kubelet's serving certificate, obtained as upstream's kubelet does with `serverTLSBootstrap: true`.

A new ECDSA P-256 key signs a CertificateSigningRequest (generateName `csr-`, signer
`kubernetes.io/kubelet-serving`, subject `system:node:<node>` in `system:nodes`, the node's addresses and host
names as subjectAltNames, usages `digital signature` and `server auth`: upstream adds `key encipherment` for RSA
keys only). The kubelet waits for the signed certificate and keeps it with its key in
`<data-dir>/pki/kubelet-server-current.pem` (mode 0600; upstream's file name). A stored certificate is reused
while it fits (same subject, every wanted name, the key it was issued for) and more than 20% of its validity is
left; then a new one is requested while the old one goes on serving, and the TLS context switches to it for new
connections. Who approves and signs the request is the cluster's business.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gardener.apis.kubeconfig import write_atomically
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError

log = logging.getLogger("provider_local.nodeagent.servingcert")

SIGNER = "kubernetes.io/kubelet-serving"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
USAGES = ("digital signature", "server auth")
FILE = "kubelet-server-current.pem"
#: a certificate is renewed once this share of its validity has passed
RENEW_AFTER = 0.8
#: client-go's certificateWaitTimeout
WAIT_TIMEOUT = 15 * 60.0
RETRY_SECONDS = 10.0


class CertificateRequestError(Exception):
    """The request was denied, failed, or was not signed in time."""


def _split(hosts: Sequence[str]) -> tuple[list[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    dns: list[str] = []
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for host in hosts:
        try:
            ips.append(ipaddress.ip_address(host))
        except ValueError:
            dns.append(host)
    return sorted(set(dns)), sorted(set(ips), key=str)


def subject(node_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node_name}"),
        ]
    )


def request_pem(key: ec.EllipticCurvePrivateKey, *, node_name: str, hosts: Sequence[str]) -> bytes:
    dns, ips = _split(hosts)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ip) for ip in ips]
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject(node_name))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def renew_at(cert: x509.Certificate) -> dt.datetime:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return start + (end - start) * RENEW_AFTER


def _load(pem: bytes) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey | None] | None:
    try:
        cert = x509.load_pem_x509_certificate(pem)
        key = serialization.load_pem_private_key(pem[pem.index(b"-----BEGIN", pem.index(b"-----END")) :], None)
    except (ValueError, TypeError):
        return None
    return cert, key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def fits(pem: bytes, *, node_name: str, hosts: Sequence[str], now: dt.datetime) -> bool:
    """Whether a stored certificate+key may go on serving this node."""
    loaded = _load(pem)
    if loaded is None:
        return False
    cert, key = loaded
    if key is None:
        return False
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    same_key = cert.public_key().public_bytes(serialization.Encoding.DER, public) == key.public_key().public_bytes(
        serialization.Encoding.DER, public
    )
    if not same_key or cert.subject != subject(node_name) or now >= renew_at(cert):
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return not hosts
    dns, ips = _split(hosts)
    return set(dns) <= set(san.get_values_for_type(x509.DNSName)) and set(ips) <= set(
        san.get_values_for_type(x509.IPAddress)
    )


def server_context(pem_path: Path, *, client_ca_pem: bytes) -> ssl.SSLContext:
    """TLS >= 1.2 serving the stored pair; client certificates are asked for and must chain to the client CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_verify_locations(cadata=client_ca_pem.decode("ascii"))
    ctx.set_alpn_protocols(["http/1.1"])
    ctx.load_cert_chain(certfile=pem_path)
    return ctx


class ServingCertificate:
    """The node's serving certificate: `ensure()` once, then `run()` renews it for as long as the kubelet runs."""

    def __init__(
        self,
        client: AsyncKube,
        *,
        node_name: str,
        hosts: Sequence[str],
        pki_dir: Path,
        client_ca_pem: bytes,
        poll: float = 1.0,
        timeout: float = WAIT_TIMEOUT,
        retry: float = RETRY_SECONDS,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._client = client
        self.node_name = node_name
        self.hosts = tuple(hosts)
        self.path = pki_dir / FILE
        self._client_ca_pem = client_ca_pem
        self._poll, self._timeout, self._retry = poll, timeout, retry
        self._now = now
        self._context: ssl.SSLContext | None = None

    @property
    def context(self) -> ssl.SSLContext:
        if self._context is None:
            raise RuntimeError("ensure() first")
        return self._context

    def current(self) -> x509.Certificate | None:
        loaded = _load(self.path.read_bytes()) if self.path.exists() else None
        return loaded[0] if loaded else None

    async def ensure(self) -> ssl.SSLContext:
        """A serving context: from the stored certificate while it fits, else from a newly requested one."""
        stored = self.path.read_bytes() if self.path.exists() else b""
        if not fits(stored, node_name=self.node_name, hosts=self.hosts, now=self._now()):
            await self.renew()
        if self._context is None:
            self._context = server_context(self.path, client_ca_pem=self._client_ca_pem)
        return self._context

    async def renew(self) -> None:
        """Request a new certificate, store it, and serve it from the next connection on."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert_pem = await self._request(key)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(self.path, cert_pem + key_pem, mode=0o600)
        if self._context is not None:
            self._context.load_cert_chain(certfile=self.path)
        cert = x509.load_pem_x509_certificate(cert_pem)
        log.info(
            "Serving certificate stored",
            extra={"node": self.node_name, "notAfter": cert.not_valid_after_utc.isoformat()},
        )

    async def run(self) -> None:
        """Renew whenever the current certificate has used up its share; retry failures after `retry` seconds."""
        while True:
            cert = self.current()
            due = renew_at(cert) if cert is not None else self._now()
            wait = (due - self._now()).total_seconds()
            if wait > 0:
                await asyncio.sleep(min(wait, 3600.0))
                continue
            try:
                await self.renew()
            except (ApiError, CertificateRequestError) as exc:
                log.warning("Cannot renew the serving certificate", extra={"node": self.node_name, "error": str(exc)})
                await asyncio.sleep(self._retry)

    async def _request(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        csr = {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "csr-"},
            "spec": {
                "request": base64.b64encode(request_pem(key, node_name=self.node_name, hosts=self.hosts)).decode(),
                "signerName": SIGNER,
                "usages": list(USAGES),
            },
        }
        created = await self._client.create(CSRS, csr)
        name = str(created["metadata"]["name"])
        log.info("Serving certificate requested", extra={"node": self.node_name, "csr": name})
        deadline = time.monotonic() + self._timeout
        current = created
        while True:
            status = current.get("status") or {}
            for condition in status.get("conditions") or []:
                if condition.get("type") in ("Denied", "Failed") and condition.get("status", "True") == "True":
                    verb = "is denied" if condition["type"] == "Denied" else "failed"
                    raise CertificateRequestError(
                        f"certificate signing request {verb}, reason: {condition.get('reason', '')}, "
                        f"message: {condition.get('message', '')}"
                    )
            if status.get("certificate"):
                return self._checked(base64.b64decode(status["certificate"]), key)
            if time.monotonic() > deadline:
                raise CertificateRequestError(f"timed out waiting for the certificate of {name}")
            await asyncio.sleep(self._poll)
            found = await self._client.get(f"{CSRS}/{name}")
            if found is None:
                raise CertificateRequestError(f"certificate signing request {name} was deleted")
            current = found

    @staticmethod
    def _checked(cert_pem: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise CertificateRequestError(f"the signed certificate cannot be read: {exc}") from None
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if cert.public_key().public_bytes(der, public) != key.public_key().public_bytes(der, public):
            raise CertificateRequestError("the signed certificate is not for the requested key")
        return cert_pem
