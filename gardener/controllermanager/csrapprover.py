"""Approves the client certificates gardenlets ask for (Gardener's certificatesigningrequest controller).

A gardenlet asks with its bootstrap token the first time and with its own certificate later on. A request
is approved when it is exactly a seed client certificate (CN `gardener.cloud:system:seed:<name>`, O
`gardener.cloud:system:seeds`, signer `kubernetes.io/kube-apiserver-client`, client usages, no SANs) and the
requester is a bootstrap token user or that very seed. Anything else a bootstrap token user or a seed asks
for is denied; other requests are left to other approvers.

Once a bootstrap request has its certificate the bootstrap token has done its job: the gardenlet deletes it
itself, and this controller deletes it after a grace period in case the gardenlet could not.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import kopf
from cryptography import x509
from cryptography.x509.oid import NameOID

from gardener.apis.core.conditions import format_time, get_condition, parse_time
from gardener.runtime.errors import ApiError, Conflict, ServerError, TooManyRequests, Unreachable
from gardener.runtime.kube import Kube

log = logging.getLogger("gardener.controllermanager.csrapprover")

CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
SIGNER = "kubernetes.io/kube-apiserver-client"
SEEDS_GROUP = "gardener.cloud:system:seeds"
SEED_USER_PREFIX = "gardener.cloud:system:seed:"
BOOTSTRAP_USER_PREFIX = "system:bootstrap:"
TOKEN_NAMESPACE = "kube-system"
TOKEN_SECRET_PREFIX = "bootstrap-token-"
CLIENT_USAGES = (
    frozenset({"digital signature", "client auth"}),
    frozenset({"digital signature", "key encipherment", "client auth"}),
)
APPROVE, DENY, IGNORE = "approve", "deny", "ignore"


@dataclass(frozen=True)
class Review:
    verdict: str  # APPROVE, DENY or IGNORE
    message: str = ""


def _subject(request_b64: Any) -> tuple[list[str], list[str], bool]:
    """(common names, organizations, has SANs) of a base64 PEM request; ValueError when unreadable."""
    try:
        csr = x509.load_pem_x509_csr(base64.b64decode(str(request_b64), validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("the request is not a readable PEM certificate request") from None

    def values(oid: x509.ObjectIdentifier) -> list[str]:
        return [str(a.value) for a in csr.subject.get_attributes_for_oid(oid)]

    try:
        csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        has_san = True
    except x509.ExtensionNotFound:
        has_san = False
    return values(NameOID.COMMON_NAME), values(NameOID.ORGANIZATION_NAME), has_san


def _settled(csr: dict[str, Any]) -> bool:
    conditions = (csr.get("status") or {}).get("conditions")
    return any(get_condition(conditions, t) is not None for t in ("Approved", "Denied", "Failed"))


def seed_client_problem(csr: dict[str, Any]) -> tuple[str, str | None]:
    """(seed user the certificate is for, problem or None) of a request for a seed client certificate."""
    spec = csr.get("spec") or {}
    try:
        common_names, organizations, has_san = _subject(spec.get("request"))
    except ValueError as exc:
        return "", str(exc)
    cn = common_names[0] if len(common_names) == 1 else ""
    if not cn.startswith(SEED_USER_PREFIX) or cn == SEED_USER_PREFIX:
        return cn, f"the common name must be {SEED_USER_PREFIX}<seed>"
    if organizations != [SEEDS_GROUP]:
        return cn, f"the organization must be exactly {SEEDS_GROUP}"
    if has_san:
        return cn, "a seed client certificate has no subject alternative names"
    if spec.get("signerName") != SIGNER:
        return cn, f"the signer must be {SIGNER}"
    if frozenset(spec.get("usages") or ()) not in CLIENT_USAGES:
        return cn, "the usages must be digital signature and client auth (key encipherment allowed)"
    return cn, None


def review(csr: dict[str, Any]) -> Review:
    """What to do with a CSR; pure, so every rule is unit-testable."""
    if _settled(csr):
        return Review(IGNORE)
    spec = csr.get("spec") or {}
    username = str(spec.get("username") or "")
    from_bootstrap = username.startswith(BOOTSTRAP_USER_PREFIX)
    from_seed = username.startswith(SEED_USER_PREFIX) and SEEDS_GROUP in (spec.get("groups") or [])
    if not (from_bootstrap or from_seed):
        return Review(IGNORE)
    cn, problem = seed_client_problem(csr)
    if problem is not None:
        return Review(DENY, f"not a gardenlet client certificate request: {problem}")
    if from_seed and cn != username:
        return Review(DENY, f"{username} may only renew its own certificate, not one for {cn}")
    return Review(APPROVE, "Auto approving gardenlet client certificate.")


def bootstrap_token_secret(csr: dict[str, Any]) -> str | None:
    """The bootstrap token Secret an issued bootstrap request no longer needs."""
    username = str((csr.get("spec") or {}).get("username") or "")
    if not username.startswith(BOOTSTRAP_USER_PREFIX) or not (csr.get("status") or {}).get("certificate"):
        return None
    if get_condition((csr.get("status") or {}).get("conditions"), "Approved") is None:
        return None
    return TOKEN_SECRET_PREFIX + username[len(BOOTSTRAP_USER_PREFIX) :]


class CSRApprover:
    def __init__(self, kube: Kube, *, token_grace: float = 60.0) -> None:
        self.kube = kube
        self.token_grace = token_grace
        self._cleanups: dict[str, asyncio.Task[None]] = {}

    def decide(self, name: str) -> None:
        """Read the CSR fresh and approve or deny it through the `approval` subresource."""
        csr = self.kube.raw("GET", f"{CSR_PATH}/{name}")
        if csr is None:
            return
        verdict = review(csr)
        if verdict.verdict == IGNORE:
            return
        now = format_time(dt.datetime.now(dt.UTC))
        ctype, reason = ("Approved", "AutoApproved") if verdict.verdict == APPROVE else ("Denied", "AutoDenied")
        status = csr.setdefault("status", {})
        status["conditions"] = [
            *(status.get("conditions") or []),
            {
                "type": ctype,
                "status": "True",
                "reason": reason,
                "message": verdict.message,
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
        ]
        self.kube.raw("PUT", f"{CSR_PATH}/{name}/approval", csr)
        log.info("Reviewed certificate request", extra={"csr": name, "verdict": ctype, "detail": verdict.message})

    def schedule_token_cleanup(self, csr: dict[str, Any]) -> None:
        secret = bootstrap_token_secret(csr)
        if secret is None or (secret in self._cleanups and not self._cleanups[secret].done()):
            return
        approved = get_condition(csr["status"]["conditions"], "Approved") or {}
        since = parse_time(approved.get("lastUpdateTime")) or dt.datetime.now(dt.UTC)
        delay = max(0.0, self.token_grace - (dt.datetime.now(dt.UTC) - since).total_seconds())
        self._cleanups[secret] = asyncio.create_task(self._delete_token(secret, delay), name=f"cleanup-{secret}")

    async def _delete_token(self, secret: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            gone = await asyncio.to_thread(self.kube.delete, f"/api/v1/namespaces/{TOKEN_NAMESPACE}/secrets/{secret}")
        except ApiError as exc:
            log.warning("Could not delete bootstrap token", extra={"secret": secret, "code": exc.status})
            return
        if gone:
            log.info("Deleted used bootstrap token", extra={"secret": secret})


def register(registry: kopf.OperatorRegistry, approver: CSRApprover) -> None:
    @kopf.on.event("certificates.k8s.io", "v1", "certificatesigningrequests", registry=registry)
    async def csr_event(body: kopf.Body, event: kopf.RawEvent, **_: Any) -> None:
        if event.get("type") == "DELETED":
            return
        csr = dict(body)
        if review(csr).verdict != IGNORE:
            for attempt in range(5):
                try:
                    await asyncio.to_thread(approver.decide, csr["metadata"]["name"])
                    break
                except ApiError as exc:
                    if not isinstance(exc, Conflict | TooManyRequests | ServerError | Unreachable):
                        log.warning("Could not review certificate request", extra={"code": exc.status})
                        break
                    await asyncio.sleep(0.2 * 2**attempt)
        approver.schedule_token_cleanup(csr)
