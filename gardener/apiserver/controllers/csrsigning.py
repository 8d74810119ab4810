"""CSR signing for `kubernetes.io/kube-apiserver-client`, as kube-controller-manager's csrsigning controller.

An approved request (Approved, neither Denied nor Failed, no certificate yet) gets `status.certificate`,
signed by the server's CA for `spec.expirationSeconds` (capped at `max_duration` and at the CA's own expiry).
A request this signer must refuse gets a `Failed` condition instead, like kube's.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from typing import Any

from gardener.apiserver import certificates, meta
from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.storage.events import DELETED
from gardener.runtime.pki import KeyPair, sign_csr

log = logging.getLogger("gardener.apiserver.csrsigning")

PREFIX = f"/registry/{certificates.GROUP}/{certificates.PLURAL}/"
#: kube-controller-manager's --cluster-signing-duration default
DEFAULT_MAX_DURATION = dt.timedelta(days=365)
#: what a kube-apiserver-client certificate may be used for (kube's signer refuses anything else)
CLIENT_USAGES = frozenset({"digital signature", "key encipherment", "client auth"})


def needs_signing(csr: dict[str, Any]) -> bool:
    return (
        (csr.get("spec") or {}).get("signerName") == certificates.KUBE_APISERVER_CLIENT_SIGNER
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
        problem = client_usage_problem(usages)
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
