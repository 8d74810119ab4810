"""certificatesigningrequest-approving-controller (upstream's pkg/controller/certificates/approver, "sarapprove"):
kubelets' client certificate requests are approved when their requester may have them.

Only a pending request for signer `kubernetes.io/kube-apiserver-client-kubelet` whose X.509 request has the shape
of a node's client certificate (subject organization exactly `system:nodes`, common name `system:node:<node>`, no
subjectAltNames, usages `digital signature` + `client auth`, `key encipherment` optional) is considered; anything
else is left alone for a person or another approver. A SubjectAccessReview for the requester recorded in the
CSR's spec (username, groups, uid, extra) decides: `create certificatesigningrequests/selfnodeclient` when the
node renews its own certificate (requester == common name), else `create certificatesigningrequests/nodeclient`
(a bootstrap identity asks for a new node). An allowed request gets upstream's `Approved` condition (reason
`AutoApproved`) through `/approval`; a refused one stays pending and is looked at again with a growing delay, as
upstream's rate-limited requeue does, so rights granted later still take effect. Signing is the signer's job.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.objects import meta, now_rfc3339
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.informer import DELETED, AsyncInformer, Key
from gardener.runtime.kube import Resource
from gardener.runtime.pki import csr_identity

__all__ = [
    "CERTIFICATESIGNINGREQUESTS",
    "KUBELET_CLIENT_SIGNER",
    "NodeClientRequest",
    "is_kubelet_client_csr",
    "parse_request",
    "recognized",
    "setup",
]

log = logging.getLogger("gardener.kube_controller_manager.csrapproving")

CERTIFICATESIGNINGREQUESTS = Resource(
    "certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", namespaced=False
)
SUBJECTACCESSREVIEWS = Resource(
    "authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", namespaced=False
)
ACCOUNT = "certificate-controller"
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
NODES_GROUP = "system:nodes"
NODE_PREFIX = "system:node:"
#: upstream's kubeletClientRequiredUsages and kubeletClientRequiredUsagesNoRSA
_CLIENT_USAGES = (
    frozenset({"digital signature", "key encipherment", "client auth"}),
    frozenset({"digital signature", "client auth"}),
)
#: a refused request is looked at again after 1 s, 2 s, 4 s ... at most this often (upstream's limiter: 1000 s)
_RETRY_BASE = 1.0
_RETRY_CAP = 1000.0


@dataclass(frozen=True)
class NodeClientRequest:
    """What an X.509 certificate request asks for, as far as the recognizers look."""

    common_name: str
    organizations: tuple[str, ...]
    #: whether it carries any subjectAltName (DNS, IP, e-mail or URI): a node's client certificate has none
    has_alt_names: bool


@dataclass(frozen=True)
class Recognizer:
    """One kind of request this approver knows, the permission its requester needs, and the approval message."""

    subresource: str
    message: str
    recognize: Callable[[Mapping[str, Any], NodeClientRequest], bool]


def parse_request(csr: Mapping[str, Any]) -> NodeClientRequest:
    """The subject and subjectAltNames of a CSR object's `spec.request`; ValueError when it does not parse."""
    raw = (csr.get("spec") or {}).get("request")
    if not isinstance(raw, str):
        raise ValueError("spec.request is not a base64-encoded PEM certificate request")
    try:
        pem = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("spec.request is not a base64-encoded PEM certificate request") from None
    common_name, organizations = csr_identity(pem)
    try:
        x509.load_pem_x509_csr(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        alt_names = False
    except ValueError as exc:
        raise ValueError(f"the request's extensions cannot be parsed: {exc}") from None
    else:
        alt_names = True
    return NodeClientRequest(common_name=common_name, organizations=organizations, has_alt_names=alt_names)


def _usages(csr: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(str(u) for u in (csr.get("spec") or {}).get("usages") or [])


def is_kubelet_client_csr(request: NodeClientRequest, usages: frozenset[str]) -> bool:
    """Upstream's IsKubeletClientCSR: a node's client certificate and nothing more."""
    return (
        request.organizations == (NODES_GROUP,)
        and not request.has_alt_names
        and request.common_name.startswith(NODE_PREFIX)
        and usages in _CLIENT_USAGES
    )


def _is_node_client_cert(csr: Mapping[str, Any], request: NodeClientRequest) -> bool:
    if (csr.get("spec") or {}).get("signerName") != KUBELET_CLIENT_SIGNER:
        return False
    return is_kubelet_client_csr(request, _usages(csr))


def _is_self_node_client_cert(csr: Mapping[str, Any], request: NodeClientRequest) -> bool:
    if (csr.get("spec") or {}).get("username") != request.common_name:
        return False
    return _is_node_client_cert(csr, request)


#: upstream's order: a node renewing its own certificate first, then a new node's request
RECOGNIZERS = (
    Recognizer(
        "selfnodeclient",
        "Auto approving self kubelet client certificate after SubjectAccessReview.",
        _is_self_node_client_cert,
    ),
    Recognizer(
        "nodeclient",
        "Auto approving kubelet client certificate after SubjectAccessReview.",
        _is_node_client_cert,
    ),
)


def recognized(csr: Mapping[str, Any], request: NodeClientRequest) -> tuple[Recognizer, ...]:
    """The recognizers that claim `csr`, in the order their permission is asked for."""
    return tuple(r for r in RECOGNIZERS if r.recognize(csr, request))


def _decided(csr: Mapping[str, Any]) -> bool:
    """Upstream's GetCertApprovalCondition: any Approved or Denied condition settles a request."""
    status = csr.get("status") or {}
    return any(c.get("type") in ("Approved", "Denied") for c in status.get("conditions") or [] if isinstance(c, dict))


def _review(csr: Mapping[str, Any], subresource: str) -> dict[str, Any]:
    spec = csr.get("spec") or {}
    review: dict[str, Any] = {
        "user": str(spec.get("username") or ""),
        "groups": [str(g) for g in spec.get("groups") or []],
        "resourceAttributes": {
            "group": "certificates.k8s.io",
            "resource": "certificatesigningrequests",
            "verb": "create",
            "subresource": subresource,
        },
    }
    if spec.get("uid"):
        review["uid"] = str(spec["uid"])
    if spec.get("extra"):
        review["extra"] = {str(k): [str(v) for v in values or []] for k, values in dict(spec["extra"]).items()}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": review}


class CSRApprovingController:
    def __init__(self, ctx: ControllerContext, client: AsyncKube) -> None:
        self.client = client
        self.csrs: AsyncInformer = ctx.informer(CERTIFICATESIGNINGREQUESTS)
        self.controller: AsyncController[Key] = AsyncController(
            "csrapproving", self.reconcile, workers=ctx.options.workers
        )
        #: how often each pending request was refused so far, for its next delay
        self._refusals: dict[str, int] = {}
        self.csrs.add_handler(self._on_csr)

    def _on_csr(self, kind: str, csr: dict[str, Any]) -> None:
        name = str(meta(csr).get("name") or "")
        if kind == DELETED:
            self._refusals.pop(name, None)
            return
        if not (csr.get("status") or {}).get("certificate") and not _decided(csr):
            self.controller.add(("", name))

    async def reconcile(self, key: Key) -> Result | None:
        name = key[1]
        csr = self.csrs.get("", name)
        if csr is None or (csr.get("status") or {}).get("certificate") or _decided(csr):
            self._refusals.pop(name, None)
            return None
        try:
            request = parse_request(csr)
        except ValueError as exc:
            # the spec never changes and the API server refuses such requests: nothing to wait for
            log.warning("Cannot parse certificate signing request", extra={"csr": name, "error": str(exc)})
            return None
        tried: list[str] = []
        for recognizer in recognized(csr, request):
            tried.append(recognizer.subresource)
            if await self._allowed(csr, recognizer.subresource):
                await self._approve(csr, recognizer.message)
                self._refusals.pop(name, None)
                log.info(
                    "Approved certificate signing request",
                    extra={"csr": name, "as": recognizer.subresource, "user": (csr.get("spec") or {}).get("username")},
                )
                return None
        if not tried:
            return None
        refusals = self._refusals[name] = self._refusals.get(name, 0) + 1
        level = logging.INFO if refusals == 1 else logging.DEBUG
        log.log(
            level,
            "Certificate signing request recognized but subject access review was not approved",
            extra={"csr": name, "tried": ",".join(tried), "user": (csr.get("spec") or {}).get("username")},
        )
        return Result(requeue_after=min(_RETRY_BASE * 2 ** (refusals - 1), _RETRY_CAP))

    async def _allowed(self, csr: Mapping[str, Any], subresource: str) -> bool:
        answer = await self.client.create(SUBJECTACCESSREVIEWS.path(), _review(csr, subresource))
        return bool((answer.get("status") or {}).get("allowed"))

    async def _approve(self, csr: Mapping[str, Any], message: str) -> None:
        """Append upstream's approval condition and write it through `/approval` (a conflict retries the key)."""
        now = now_rfc3339()
        status = dict(csr.get("status") or {})
        status["conditions"] = [
            *(status.get("conditions") or []),
            {
                "type": "Approved",
                "status": "True",
                "reason": "AutoApproved",
                "message": message,
                "lastUpdateTime": now,
                "lastTransitionTime": now,
            },
        ]
        body = {**csr, "status": status}
        await self.client.replace(CERTIFICATESIGNINGREQUESTS.path(None, str(meta(csr)["name"]), "approval"), body)


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    return [CSRApprovingController(ctx, client).controller]
