"""Bootstrap tokens, as kube-apiserver's bootstrap token authenticator serves them.

A token `<id>.<secret>` is valid while the Secret `kube-system/bootstrap-token-<id>` of type
`bootstrap.kubernetes.io/token` exists, is not being deleted, has not expired, carries the same id and
secret and allows `usage-bootstrap-authentication`. Its user is `system:bootstrap:<id>` in the group
`system:bootstrappers` plus the Secret's `auth-extra-groups`. The Secrets are followed in memory, so a
request costs no storage read. Also the RBAC a fresh server grants bootstrappers: creating and reading
CertificateSigningRequests, as kube's `system:node-bootstrapper` role does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gardener.apiserver import rbac
from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.rbac import UserInfo
from gardener.apiserver.storage.events import DELETED
from gardener.apiserver.storage.interface import Backend

log = logging.getLogger("gardener.apiserver.bootstraptokens")

SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"
NAMESPACE = "kube-system"
USER_PREFIX = "system:bootstrap:"
GROUP = "system:bootstrappers"
KEY_PREFIX = f"/registry/core/secrets/{NAMESPACE}/"

_TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_EXTRA_GROUP = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")


@dataclass(frozen=True)
class _Token:
    secret: bytes
    groups: tuple[str, ...]
    expires: dt.datetime | None

    def __repr__(self) -> str:  # never show the secret
        return f"_Token(groups={self.groups!r}, expires={self.expires!r})"


def _data(secret: dict[str, Any], key: str) -> str:
    value = (secret.get("data") or {}).get(key)
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""


def _parse_expiration(value: str) -> dt.datetime | None:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def token_from_secret(secret: dict[str, Any]) -> tuple[str, _Token] | None:
    """(token id, usable token) of a bootstrap token Secret, or None if it cannot authenticate anyone."""
    meta = secret.get("metadata") or {}
    name = str(meta.get("name") or "")
    if secret.get("type") != SECRET_TYPE or not name.startswith(SECRET_PREFIX) or meta.get("deletionTimestamp"):
        return None
    token_id = _data(secret, "token-id")
    if name != SECRET_PREFIX + token_id or _data(secret, "usage-bootstrap-authentication") != "true":
        return None
    token_secret = _data(secret, "token-secret")
    if not _TOKEN.match(f"{token_id}.{token_secret}"):
        return None
    expires: dt.datetime | None = None
    if raw := _data(secret, "expiration"):
        try:
            expires = _parse_expiration(raw)
        except ValueError:
            log.warning("Ignoring bootstrap token with an unreadable expiration", extra={"secret": name})
            return None
    extra = [g.strip() for g in _data(secret, "auth-extra-groups").split(",") if g.strip()]
    if any(not _EXTRA_GROUP.match(g) for g in extra):
        log.warning("Ignoring bootstrap token with invalid auth-extra-groups", extra={"secret": name})
        return None
    groups = tuple(dict.fromkeys([GROUP, *extra]))
    return token_id, _Token(secret=token_secret.encode(), groups=groups, expires=expires)


class BootstrapTokens:
    """The usable bootstrap tokens, kept current from the Secrets in kube-system."""

    def __init__(self, backend: Backend, *, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self._tokens: dict[str, _Token] = {}
        self._clock = clock
        self._informer = LocalInformer(
            backend=backend, prefix=KEY_PREFIX, handler=self._on_event, name="bootstrap-tokens"
        )

    async def start(self) -> None:
        await self._informer.start()

    async def stop(self) -> None:
        await self._informer.stop()

    async def _on_event(self, kind: str, key: str, secret: dict[str, Any]) -> None:
        name = str((secret.get("metadata") or {}).get("name") or "")
        if not name.startswith(SECRET_PREFIX):
            return
        token_id = name[len(SECRET_PREFIX) :]
        parsed = None if kind == DELETED else token_from_secret(secret)
        if parsed is None:
            self._tokens.pop(token_id, None)
        else:
            self._tokens[parsed[0]] = parsed[1]

    @staticmethod
    def looks_like_token(token: str) -> bool:
        return _TOKEN.match(token) is not None

    def authenticate(self, token: str) -> UserInfo | None:
        """The user of a valid bootstrap token; None for any token that is not (or no longer) valid."""
        match = _TOKEN.match(token)
        if match is None:
            return None
        token_id, secret = match.group(1), match.group(2)
        entry = self._tokens.get(token_id)
        if entry is None or not hmac.compare_digest(entry.secret, secret.encode()):
            return None
        if entry.expires is not None and entry.expires <= self._clock():
            return None
        return UserInfo(name=USER_PREFIX + token_id, groups=(*entry.groups, rbac.ALL_AUTHENTICATED))


# ---- default RBAC for bootstrappers ----

NODE_BOOTSTRAPPER = "system:node-bootstrapper"
SEED_BOOTSTRAPPER_BINDING = "gardener.cloud:system:seed-bootstrapper"


def bootstrap_policy() -> list[dict[str, Any]]:
    """kube's `system:node-bootstrapper` role, bound to every bootstrap token user."""
    meta = {
        "labels": {rbac.BOOTSTRAP_LABEL: "rbac-defaults"},
        "annotations": {rbac.AUTOUPDATE_ANNOTATION: "true"},
    }
    return [
        {
            "apiVersion": rbac.RBAC_API_VERSION,
            "kind": "ClusterRole",
            "metadata": {"name": NODE_BOOTSTRAPPER, **meta},
            "rules": [
                {
                    "apiGroups": ["certificates.k8s.io"],
                    "resources": ["certificatesigningrequests"],
                    "verbs": ["create", "get", "list", "watch"],
                }
            ],
        },
        {
            "apiVersion": rbac.RBAC_API_VERSION,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": SEED_BOOTSTRAPPER_BINDING, **meta},
            "roleRef": {"apiGroup": rbac.RBAC_GROUP, "kind": "ClusterRole", "name": NODE_BOOTSTRAPPER},
            "subjects": [{"apiGroup": rbac.RBAC_GROUP, "kind": "Group", "name": GROUP}],
        },
    ]
