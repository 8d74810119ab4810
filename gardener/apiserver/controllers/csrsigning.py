"""CSR signing for `kubernetes.io/kube-apiserver-client`, `kube-apiserver-client-kubelet` and `kubelet-serving`,
as kube-controller-manager's csrsigning controller.

An approved request (Approved, neither Denied nor Failed, no certificate yet) gets `status.certificate`,
signed by the server's CA for `spec.expirationSeconds` (capped at `max_duration` and at the CA's own expiry).
A request this signer must refuse (kube's checks per signer: a client certificate's usages; a kubelet's serving
certificate's subject, subjectAltNames and usages) gets a `Failed` condition instead, like kube's.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from gardener.apiserver import certificates, meta
from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.storage.events import DELETED
from gardener.runtime.pki import KeyPair, csr_identity, sign_csr

log = logging.getLogger("gardener.apiserver.csrsigning")

PREFIX = f"/registry/{certificates.GROUP}/{certificates.PLURAL}/"
#: kube-controller-manager's --cluster-signing-duration default
DEFAULT_MAX_DURATION = dt.timedelta(days=365)
#: what a kube-apiserver-client certificate may be used for (kube's signer refuses anything else)
CLIENT_USAGES = frozenset({"digital signature", "key encipherment", "client auth"})
KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving"
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
#: the usages of a kubelet's serving certificate, with and without RSA key encipherment (kube's exact sets)
_SERVING_USAGES = (
    frozenset({"digital signature", "key encipherment", "server auth"}),
    frozenset({"digital signature", "server auth"}),
)
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
#: the usages of a kubelet's client certificate, with and without RSA key encipherment (kube's exact sets)
_KUBELET_CLIENT_USAGES = (
    frozenset({"digital signature", "key encipherment", "client auth"}),
    frozenset({"digital signature", "client auth"}),
)
SIGNERS = frozenset({certificates.KUBE_APISERVER_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, KUBELET_CLIENT_SIGNER})


@dataclass(frozen=True)
class Requested:
    """What a certificate request asks for: its subject and subjectAltNames."""

    common_name: str
    organizations: tuple[str, ...]
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
    emails: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()


def requested(csr: dict[str, Any]) -> Requested:
    """The subject and subjectAltNames of a CSR object's request; ValueError when it does not parse."""
    pem = certificates.request_pem(csr)
    common_name, organizations = csr_identity(pem)
    try:
        names = x509.load_pem_x509_csr(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Requested(common_name, organizations)
    return Requested(
        common_name,
        organizations,
        dns_names=tuple(names.get_values_for_type(x509.DNSName)),
        ip_addresses=tuple(
            ip
            for ip in names.get_values_for_type(x509.IPAddress)
            if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
        ),
        emails=tuple(names.get_values_for_type(x509.RFC822Name)),
        uris=tuple(names.get_values_for_type(x509.UniformResourceIdentifier)),
    )


def kubelet_serving_problem(request: Requested, usages: list[str]) -> str | None:
    """kube's ValidateKubeletServingCSR, with its messages and in its order."""
    if request.organizations != (NODES_GROUP,):
        return "subject organization is not system:nodes"
    if not request.dns_names and not request.ip_addresses:
        return "DNS or IP subjectAltName is required"
    if request.emails:
        return "Email subjectAltNames are not allowed"
    if request.uris:
        return "URI subjectAltNames are not allowed"
    if frozenset(usages) not in _SERVING_USAGES:
        return f"usages did not match [{' '.join(sorted(_SERVING_USAGES[0]))}]"
    if not request.common_name.startswith(NODE_USER_PREFIX):
        return "subject common name does not begin with system:node:"
    return None


def kubelet_client_problem(request: Requested, usages: list[str]) -> str | None:
    """kube's ValidateKubeletClientCSR, with its messages and in its order."""
    if request.organizations != (NODES_GROUP,):
        return "subject organization is not system:nodes"
    for present, kind in (
        (request.dns_names, "DNS"),
        (request.emails, "Email"),
        (request.ip_addresses, "IP"),
        (request.uris, "URI"),
    ):
        if present:
            return f"{kind} subjectAltNames are not allowed"
    if not request.common_name.startswith(NODE_USER_PREFIX):
        return "subject common name does not begin with system:node:"
    if frozenset(usages) not in _KUBELET_CLIENT_USAGES:
        return f"usages did not match [{' '.join(sorted(_KUBELET_CLIENT_USAGES[0]))}]"
    return None


def needs_signing(csr: dict[str, Any]) -> bool:
    return (
        (csr.get("spec") or {}).get("signerName") in SIGNERS
        and certificates.has_condition(csr, certificates.APPROVED)
        and not certificates.has_condition(csr, certificates.DENIED)
        and not certificates.has_condition(csr, certificates.FAILED)
        and not (csr.get("status") or {}).get("certificate")
    )


def validity_seconds(csr: dict[str, Any], max_duration: dt.timedelta) -> int:
    limit = int(max_duration.total_seconds())
    wanted = (csr.get("spec") or {}).get("expirationSeconds")
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        return max(certificates.MIN_EXPIRATION_SECONDS, min(wanted, limit))
    return limit


def client_usage_problem(usages: list[str]) -> str | None:
    if "client auth" not in usages:
        return 'usages must include "client auth"'
    invalid = sorted(set(usages) - CLIENT_USAGES)
    if invalid:
        return f"invalid usage for client certificate: {', '.join(invalid)}"
    return None


class CSRSigner:
    def __init__(
        self,
        *,
        store: ObjectStore,
        registry: Registry,
        ca: KeyPair,
        max_duration: dt.timedelta = DEFAULT_MAX_DURATION,
    ) -> None:
        self._store = store
        self._registry = registry
        self._ca = ca
        self._max_duration = max_duration
        self._informer = LocalInformer(backend=store.backend, prefix=PREFIX, handler=self._on_event, name="csrsigning")

    @property
    def _info(self) -> ResourceInfo:
        info = self._registry.get(certificates.GROUP, "v1", certificates.PLURAL)
        assert info is not None
        return info

    async def start(self) -> None:
        await self._informer.start()

    async def stop(self) -> None:
        await self._informer.stop()

    async def _on_event(self, kind: str, key: str, csr: dict[str, Any]) -> None:
        if kind == DELETED or not needs_signing(csr):
            return
        name = csr["metadata"]["name"]
        spec = csr.get("spec") or {}
        usages = [str(u) for u in spec.get("usages") or []]
        try:
            if spec.get("signerName") == KUBELET_SERVING_SIGNER:
                problem = kubelet_serving_problem(requested(csr), usages)
            elif spec.get("signerName") == KUBELET_CLIENT_SIGNER:
                problem = kubelet_client_problem(requested(csr), usages)
            else:
                problem = client_usage_problem(usages)
        except ValueError as exc:
            problem = str(exc)
        certificate = b""
        if problem is None:
            try:
                certificate = sign_csr(
                    self._ca,
                    certificates.request_pem(csr),
                    usages=usages,
                    valid_seconds=validity_seconds(csr, self._max_duration),
                )
            except ValueError as exc:
                problem = str(exc)

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            if not needs_signing(current):
                return current
            status = current.setdefault("status", {})
            if problem is None:
                status["certificate"] = base64.b64encode(certificate).decode("ascii")
            else:
                now = meta.now_rfc3339()
                status["conditions"] = [
                    *certificates.conditions(current),
                    {
                        "type": certificates.FAILED,
                        "status": "True",
                        "reason": "SignerValidationFailure",
                        "message": problem,
                        "lastUpdateTime": now,
                        "lastTransitionTime": now,
                    },
                ]
            return current

        try:
            await self._store.guaranteed_update(self._info, "", name, mutate, ctx=Context(), subresource="status")
        except StatusError as exc:
            if exc.code != 404:
                log.warning("Could not sign certificate request", extra={"csr": name, "error": exc.message})
            return
        if problem is None:
            log.info("Signed certificate request", extra={"csr": name, "user": spec.get("username", "")})
        else:
            log.info("Refused certificate request", extra={"csr": name, "reason": problem})
