"""certificates.k8s.io CertificateSigningRequests: what kube-apiserver's CSR strategies guarantee.

The server, not the client, records who asked (`spec.username`, `groups`, `uid`, `extra`), so an approver can
trust it; the spec never changes after creation; approval conditions change only through `/approval` (the
merge lives in `ObjectStore`), and `/status` keeps them while a signer adds the certificate, once.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Awaitable, Callable
from typing import Any

from gardener.apiserver import errors
from gardener.apiserver.errors import FieldCause
from gardener.apiserver.rbac import Decision, RequestAttributes, UserInfo
from gardener.apiserver.rest import AdmissionRequest
from gardener.runtime.pki import csr_identity

GROUP = "certificates.k8s.io"
PLURAL = "certificatesigningrequests"
APPROVED = "Approved"
DENIED = "Denied"
FAILED = "Failed"
KUBE_APISERVER_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
MASTERS_GROUP = "system:masters"
#: kube refuses shorter certificates (validation of spec.expirationSeconds)
MIN_EXPIRATION_SECONDS = 600

_USAGES = frozenset(
    {
        "signing",
        "digital signature",
        "content commitment",
        "key encipherment",
        "key agreement",
        "data encipherment",
        "cert sign",
        "crl sign",
        "encipher only",
        "decipher only",
        "any",
        "server auth",
        "client auth",
        "code signing",
        "email protection",
        "s/mime",
        "ipsec end system",
        "ipsec tunnel",
        "ipsec user",
        "timestamping",
        "ocsp signing",
        "microsoft sgc",
        "netscape sgc",
    }
)


def _is_csr(req: AdmissionRequest) -> bool:
    return req.info.group == GROUP and req.info.plural == PLURAL


def conditions(csr: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (csr.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]


def has_condition(csr: dict[str, Any], ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status", "True") == "True" for c in conditions(csr))


def request_pem(csr: dict[str, Any]) -> bytes:
    """The PEM of `spec.request`; raises ValueError when it is not base64."""
    raw = (csr.get("spec") or {}).get("request")
    if not isinstance(raw, str):
        raise ValueError("must be a base64-encoded PEM certificate request")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be a base64-encoded PEM certificate request") from None


async def mutate(req: AdmissionRequest) -> None:
    """Stamp the requester on create; keep the spec and the approval conditions on every update."""
    if not _is_csr(req) or req.obj is None:
        return
    obj = req.obj
    if not isinstance(obj.get("spec"), dict):
        obj["spec"] = {}
    spec = obj["spec"]
    if req.operation == "CREATE":
        spec["username"] = req.user.name
        spec["groups"] = list(req.user.groups)
        if req.user.uid:
            spec["uid"] = req.user.uid
        else:
            spec.pop("uid", None)
        if req.user.extra:
            spec["extra"] = req.user.extra_map()
        else:
            spec.pop("extra", None)
        return
    if req.operation != "UPDATE" or req.old is None:
        return
    obj["spec"] = copy.deepcopy(req.old.get("spec") or {})
    if req.subresource == "status":
        kept = [c for c in conditions(req.old) if c.get("type") in (APPROVED, DENIED)]
        others = [c for c in conditions(obj) if c.get("type") not in (APPROVED, DENIED)]
        if kept or others:
            obj.setdefault("status", {})["conditions"] = kept + others


def _create_causes(obj: dict[str, Any]) -> list[FieldCause]:
    spec = obj.get("spec") or {}
    causes: list[FieldCause] = []
    try:
        csr_identity(request_pem(obj))
    except ValueError as exc:
        causes.append(FieldCause("FieldValueInvalid", f"Invalid value: {exc}", "spec.request"))
    if not spec.get("signerName"):
        causes.append(FieldCause("FieldValueRequired", "Required value", "spec.signerName"))
    usages = spec.get("usages")
    if not isinstance(usages, list) or not usages:
        causes.append(FieldCause("FieldValueRequired", "Required value", "spec.usages"))
    else:
        for i, usage in enumerate(usages):
            if usage not in _USAGES:
                causes.append(
                    FieldCause("FieldValueNotSupported", f"Unsupported value: {usage!r}", f"spec.usages[{i}]")
                )
    expiration = spec.get("expirationSeconds")
    if expiration is not None and (
        not isinstance(expiration, int) or isinstance(expiration, bool) or expiration < MIN_EXPIRATION_SECONDS
    ):
        causes.append(
            FieldCause(
                "FieldValueInvalid",
                f"Invalid value: {expiration!r}: may not specify a duration less than 600 seconds (10 minutes)",
                "spec.expirationSeconds",
            )
        )
    return causes


def _update_causes(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
    causes: list[FieldCause] = []
    if has_condition(obj, APPROVED) and has_condition(obj, DENIED):
        causes.append(
            FieldCause(
                "FieldValueInvalid",
                "Invalid value: Approved and Denied conditions are mutually exclusive",
                "status.conditions",
            )
        )
    for ctype in (APPROVED, DENIED):
        if has_condition(old, ctype) and not has_condition(obj, ctype):
            causes.append(
                FieldCause(
                    "FieldValueForbidden",
                    f'Forbidden: updates may not remove a condition of type "{ctype}"',
                    "status.conditions",
                )
            )
    old_cert = (old.get("status") or {}).get("certificate")
    if old_cert and (obj.get("status") or {}).get("certificate") != old_cert:
        causes.append(
            FieldCause(
                "FieldValueForbidden",
                "Forbidden: updates may not modify existing certificate content",
                "status.certificate",
            )
        )
    return causes


async def validate(req: AdmissionRequest) -> None:
    if not _is_csr(req) or req.obj is None:
        return
    if req.operation == "CREATE":
        causes = _create_causes(req.obj)
    elif req.operation == "UPDATE" and req.old is not None:
        causes = _update_causes(req.obj, req.old)
    else:
        return
    if causes:
        name = str((req.obj.get("metadata") or {}).get("name") or "")
        raise errors.invalid(kind="CertificateSigningRequest", group=GROUP, name=name, causes=causes)
    if req.operation == "CREATE":
        _restrict_subject(req.obj)


def _restrict_subject(obj: dict[str, Any]) -> None:
    """kube's CertificateSubjectRestriction: no client certificate for the API server in `system:masters`,
    which no authorizer can take anything from."""
    spec = obj.get("spec") or {}
    if spec.get("signerName") != KUBE_APISERVER_CLIENT_SIGNER:
        return
    _, organizations = csr_identity(request_pem(obj))
    if MASTERS_GROUP in organizations:
        raise errors.forbidden_object(
            resource=PLURAL,
            group=GROUP,
            name=str((obj.get("metadata") or {}).get("name") or ""),
            why=f"use of {KUBE_APISERVER_CLIENT_SIGNER} signer with {MASTERS_GROUP} group is not allowed",
        )


class SignerAuthorization:
    """kube's CertificateApproval and CertificateSigning admission: approving or denying a request through
    `/approval` needs the `approve` verb, adding its certificate through `/status` the `sign` verb, on the
    `signers` resource named by the request's signerName (or by its `<domain>/*` wildcard)."""

    def __init__(self, *, authorize: Callable[[RequestAttributes], Awaitable[Decision]]) -> None:
        self._authorize = authorize

    async def __call__(self, req: AdmissionRequest) -> None:
        if not _is_csr(req) or req.operation != "UPDATE" or req.obj is None or req.old is None:
            return
        if req.subresource == "approval":
            verb = "approve"
        elif req.subresource == "status" and (req.obj.get("status") or {}).get("certificate") != (
            req.old.get("status") or {}
        ).get("certificate"):
            verb = "sign"
        else:
            return
        signer = str((req.old.get("spec") or {}).get("signerName") or "")
        if await self._allowed(req.user, verb, signer):
            return
        raise errors.forbidden_object(
            resource=PLURAL,
            group=GROUP,
            name=str((req.obj.get("metadata") or {}).get("name") or ""),
            why=f'user not permitted to {verb} requests with signerName "{signer}"',
        )

    async def _allowed(self, user: UserInfo, verb: str, signer: str) -> bool:
        names = [signer]
        domain, slash, _ = signer.partition("/")
        if slash:
            names.append(f"{domain}/*")
        for name in names:
            attrs = RequestAttributes(
                user=user,
                verb=verb,
                is_resource_request=True,
                api_group=GROUP,
                api_version="*",
                resource="signers",
                name=name,
            )
            if (await self._authorize(attrs)).allowed:
                return True
        return False
