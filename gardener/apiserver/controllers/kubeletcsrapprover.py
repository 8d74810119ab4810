"""Approves or denies kubelets' serving-certificate requests, as gardener-resource-manager's csr-approver does.

A kubelet asks for its serving certificate with a CSR of signer `kubernetes.io/kubelet-serving`, and kube
approves none of those itself. Gardener's resource manager decides each pending one: the requester must be a
node (`system:node:<name>`), the subject that node in `system:nodes`, the Node must exist, and the requested DNS
names and IP addresses must be exactly the Node's host names and IPs. It approves such a request and denies any
other, saying why in the condition. Gardener also wants one Machine labelled `node=<name>` in the shoot's seed
namespace; this server has no seed to ask, so that check is the one left out. `csrsigning` then signs approved
requests.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from gardener.apiserver import certificates, meta
from gardener.apiserver.controllers.csrsigning import (
    KUBELET_SERVING_SIGNER,
    NODE_USER_PREFIX,
    NODES_GROUP,
    PREFIX,
    Requested,
    requested,
)
from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.storage.events import DELETED

log = logging.getLogger("gardener.apiserver.kubeletcsrapprover")

_HOST_NAME_TYPES = ("Hostname", "InternalDNS", "ExternalDNS")
_IP_TYPES = ("InternalIP", "ExternalIP")


def pending(csr: dict[str, Any]) -> bool:
    """A kubelet-serving request nobody decided yet (Gardener leaves decided or signed ones alone)."""
    return (
        (csr.get("spec") or {}).get("signerName") == KUBELET_SERVING_SIGNER
        and not (csr.get("status") or {}).get("certificate")
        and not any(c.get("type") in (certificates.APPROVED, certificates.DENIED) for c in certificates.conditions(csr))
    )


def node_name(username: str, request: Requested) -> tuple[str, str]:
    """(node, "") when the request passes the checks that need no Node, else ("", why not)."""
    if not username.startswith(NODE_USER_PREFIX):
        return "", f'username "{username}" is not prefixed with "{NODE_USER_PREFIX}"'
    if not request.dns_names and not request.ip_addresses:
        return "", "no DNS names or IP addresses in the SANs found"
    if request.common_name != username:
        return "", "common name in CSR does not match username"
    if request.organizations != (NODES_GROUP,):
        return "", "organization in CSR does not match nodes group"
    return request.common_name.removeprefix(NODE_USER_PREFIX), ""


def addresses_problem(node: dict[str, Any], request: Requested) -> str:
    """ "" when the request names exactly the Node's host names and IP addresses, else why not."""
    host_names: set[str] = set()
    ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for address in (node.get("status") or {}).get("addresses") or []:
        kind, value = address.get("type"), str(address.get("address", ""))
        if kind in _HOST_NAME_TYPES:
            host_names.add(value)
        elif kind in _IP_TYPES:
            try:
                ips.add(ipaddress.ip_address(value))
            except ValueError as exc:
                return f'IP address "{value}" in node.Status.Addresses is invalid: {exc}'
    if host_names != set(request.dns_names):
        kinds = " or ".join(f"'{t}'" for t in _HOST_NAME_TYPES)
        return f"DNS names in CSR do not match addresses of type {kinds} in node object"
    if ips != set(request.ip_addresses):
        kinds = " or ".join(f"'{t}'" for t in _IP_TYPES)
        return f"IP addresses in CSR do not match addresses of type {kinds} in node object"
    return ""


class KubeletCSRApprover:
    def __init__(self, *, store: ObjectStore, registry: Registry) -> None:
        self._store = store
        self._registry = registry
        self._informer = LocalInformer(
            backend=store.backend, prefix=PREFIX, handler=self._on_event, name="kubelet-csr-approver"
        )

    def _info(self, group: str, plural: str) -> ResourceInfo:
        info = self._registry.get(group, "v1", plural)
        assert info is not None  # built-in kinds
        return info

    async def start(self) -> None:
        await self._informer.start()

    async def stop(self) -> None:
        await self._informer.stop()

    async def _on_event(self, kind: str, key: str, csr: dict[str, Any]) -> None:
        if kind == DELETED or not pending(csr):
            return
        name = csr["metadata"]["name"]
        try:
            request = requested(csr)
        except ValueError as exc:
            log.warning("Cannot read certificate request", extra={"csr": name, "error": str(exc)})
            return
        why = await self._refusal(str((csr.get("spec") or {}).get("username") or ""), request)
        approved = not why
        condition = {
            "type": certificates.APPROVED if approved else certificates.DENIED,
            "status": "True",
            "reason": "RequestApproved" if approved else "RequestDenied",
            "message": f"{'Approving' if approved else 'Denying'} kubelet server certificate CSR "
            f"({why or 'all checks passed'})",
        }

        def decide(current: dict[str, Any]) -> dict[str, Any]:
            if not pending(current):
                return current
            now = meta.now_rfc3339()
            stamped = {**condition, "lastUpdateTime": now, "lastTransitionTime": now}
            current.setdefault("status", {})["conditions"] = [*certificates.conditions(current), stamped]
            return current

        csrs = self._info(certificates.GROUP, certificates.PLURAL)
        try:
            await self._store.guaranteed_update(csrs, "", name, decide, ctx=Context(), subresource="approval")
        except StatusError as exc:
            if exc.code != 404:
                log.warning("Could not decide certificate request", extra={"csr": name, "error": exc.message})
            return
        if approved:
            log.info("Approved kubelet serving certificate request", extra={"csr": name})
        else:
            log.info("Denied kubelet serving certificate request", extra={"csr": name, "reason": why})

    async def _refusal(self, username: str, request: Requested) -> str:
        """Why Gardener would deny the request; "" when it approves it."""
        node, why = node_name(username, request)
        if why:
            return why
        try:
            obj = await self._store.get(self._info("", "nodes"), "", node)
        except StatusError as exc:
            if exc.code == 404:
                return f'could not find node object with name "{node}"'
            raise
        return addresses_problem(obj, request)
