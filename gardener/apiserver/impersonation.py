"""Impersonation as kube-apiserver's filter does it: `Impersonate-*` headers switch the user a request runs as.

Each thing asked for (the user or service account, every group, every extra value, the UID) is authorized for
the caller as the `impersonate` verb on `users`, `serviceaccounts`, `groups` (core group) or `userextras/<key>`,
`uids` (authentication.k8s.io); the first one refused answers 403 and nothing runs. The resulting user is all
the rest of the request sees: authorization, admission, managedFields, a CSR's `spec.username`.

Imported by the application's middleware only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from multidict import CIMultiDictProxy

from gardener.apiserver import errors, meta, rbac
from gardener.apiserver.rbac import Decision, RequestAttributes, UserInfo

log = logging.getLogger("gardener.apiserver.impersonation")

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_HEADER_PREFIX = "impersonate-extra-"
AUTHENTICATION_GROUP = "authentication.k8s.io"
AUTHENTICATION_VERSION = "authentication.k8s.io/v1"
_PERCENT_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class Authorizer(Protocol):
    async def authorize(self, attrs: RequestAttributes) -> Decision: ...


@dataclass(frozen=True)
class _Target:
    """One thing to impersonate, shaped like the ObjectReference kube builds for it."""

    kind: str  # User, ServiceAccount, Group, UserExtra, UID
    name: str
    namespace: str = ""
    api_version: str = ""
    #: the extra key of a UserExtra (kube keeps it in the reference's fieldPath)
    field_path: str = ""

    def go_string(self) -> str:
        """The reference as Go's %v prints the ObjectReference struct (kube's error quotes the list so)."""
        fields = (self.kind, self.namespace, self.name, "", self.api_version, "", self.field_path)
        return "{" + " ".join(fields) + "}"

    def attributes(self, requestor: UserInfo) -> RequestAttributes:
        group = AUTHENTICATION_GROUP if self.api_version == AUTHENTICATION_VERSION else ""
        resource, subresource = {
            "ServiceAccount": ("serviceaccounts", ""),
            "User": ("users", ""),
            "Group": ("groups", ""),
            "UserExtra": ("userextras", self.field_path),
            "UID": ("uids", ""),
        }[self.kind]
        return RequestAttributes(
            user=requestor,
            verb="impersonate",
            is_resource_request=True,
            api_group=group,
            resource=resource,
            subresource=subresource,
            namespace=self.namespace,
            name=self.name,
        )


def _split_service_account(username: str) -> tuple[str, str] | None:
    """kube's serviceaccount.SplitUsername: `system:serviceaccount:<namespace>:<name>` with valid names."""
    if not username.startswith(rbac.SERVICE_ACCOUNT_PREFIX):
        return None
    parts = username[len(rbac.SERVICE_ACCOUNT_PREFIX) :].split(":")
    if len(parts) != 2 or not meta.is_dns_label(parts[0]) or not meta.is_dns_subdomain(parts[1]):
        return None
    return parts[0], parts[1]


def _extra_key(header_suffix: str) -> str:
    """Go's url.PathUnescape of the lower-cased key; a malformed escape keeps the key as sent, as kube does."""
    key = header_suffix.lower()
    if _PERCENT_ESCAPE.search(key):
        return key
    return unquote(key, errors="replace")


def _targets(headers: CIMultiDictProxy[str]) -> list[_Target]:
    """What the headers ask to impersonate, in kube's order; 400 for groups, extras or a UID without a user."""
    targets: list[_Target] = []
    user = headers.get(USER_HEADER, "")
    if user:
        service_account = _split_service_account(user)
        if service_account is not None:
            targets.append(_Target("ServiceAccount", service_account[1], namespace=service_account[0]))
        else:
            targets.append(_Target("User", user))
    targets += [_Target("Group", group) for group in headers.getall(GROUP_HEADER, [])]
    for header, value in headers.items():
        if header.lower().startswith(EXTRA_HEADER_PREFIX):
            key = _extra_key(header[len(EXTRA_HEADER_PREFIX) :])
            targets.append(_Target("UserExtra", value, api_version=AUTHENTICATION_VERSION, field_path=key))
    uid = headers.get(UID_HEADER, "")
    if uid:
        targets.append(_Target("UID", uid, api_version=AUTHENTICATION_VERSION))
    if targets and not user:
        # kube answers this with a 500 (an InternalError from its filter); it is the client's mistake, so 400
        listed = " ".join(t.go_string() for t in targets)
        raise errors.bad_request(f"requested [{listed}] without impersonating a user")
    return targets


def _with_implicit_group(name: str, groups: Sequence[str]) -> tuple[str, ...]:
    """kube adds system:authenticated (system:unauthenticated for the anonymous user) unless either is there."""
    if name == rbac.ANONYMOUS_USER:
        return tuple(groups) if rbac.ALL_UNAUTHENTICATED in groups else (*groups, rbac.ALL_UNAUTHENTICATED)
    if rbac.ALL_AUTHENTICATED in groups or rbac.ALL_UNAUTHENTICATED in groups:
        return tuple(groups)
    return (*groups, rbac.ALL_AUTHENTICATED)


async def impersonate(
    *, requestor: UserInfo, headers: CIMultiDictProxy[str], authorizer: Authorizer, context: Mapping[str, str]
) -> UserInfo:
    """The user the request runs as: `requestor` when no `Impersonate-*` header is set, else the impersonated
    user once every part of it is authorized. Raises the 403 (or 400) StatusError kube answers."""
    targets = _targets(headers)
    if not targets:
        return requestor
    groups_given = GROUP_HEADER in headers
    name, uid = "", ""
    groups: list[str] = []
    extra: dict[str, list[str]] = {}
    for target in targets:
        if target.kind == "ServiceAccount":
            name = f"{rbac.SERVICE_ACCOUNT_PREFIX}{target.namespace}:{target.name}"
            if not groups_given:
                groups = [rbac.SERVICE_ACCOUNTS_GROUP, f"{rbac.SERVICE_ACCOUNTS_GROUP}:{target.namespace}"]
        elif target.kind == "User":
            name = target.name
        elif target.kind == "Group":
            groups.append(target.name)
        elif target.kind == "UserExtra":
            extra.setdefault(target.field_path, []).append(target.name)
        else:
            uid = target.name
        attrs = target.attributes(requestor)
        decision = await authorizer.authorize(attrs)
        if not decision.allowed:
            log.info(
                "Impersonation refused",
                extra={**context, "user": requestor.name, "kind": target.kind, "as": target.name},
            )
            raise rbac.forbidden_error(attrs, reason=decision.reason)
    user = UserInfo(name=name, groups=_with_implicit_group(name, groups), uid=uid, extra=rbac.extra_from_map(extra))
    log.info(
        "Impersonating",
        extra={**context, "user": requestor.name, "as": user.name, "groups": list(user.groups), "uid": user.uid},
    )
    return user
