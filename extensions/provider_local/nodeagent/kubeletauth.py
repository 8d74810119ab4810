"""Who may call the kubelet API, decided as upstream's kubelet does with `--client-ca-file`, webhook token
authentication and webhook authorization.

Authentication: a client certificate the TLS layer verified against the cluster CA names the user (CN) and its
groups (O); else a bearer token is sent to the API server in a TokenReview; else the request is anonymous, which
this kubelet refuses (401 `Unauthorized`, as with `authentication.anonymous.enabled: false`). Authorization: a
SubjectAccessReview for the node object, `nodes/<subresource>` by path (upstream's `GetRequestAttributes`) and
the verb by HTTP method. Decisions are cached as upstream's defaults: token reviews 2 minutes, allowed 5 minutes,
denied 30 seconds. Cache keys hold a token's SHA-256, never the token.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError
from gardener.runtime.pki import identity_from_peercert

log = logging.getLogger("provider_local.nodeagent.kubeletauth")

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
SUBJECT_ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
#: upstream's kubelet defaults (KubeletConfiguration authentication.webhook.cacheTTL, authorization.webhook.*)
TOKEN_TTL = 120.0
ALLOWED_TTL = 300.0
DENIED_TTL = 30.0
_VERBS = {"POST": "create", "GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
#: path prefix -> subresource; anything else is `proxy`
_SUBRESOURCES = (
    ("/stats", "stats"),
    ("/metrics", "metrics"),
    ("/logs", "log"),
    ("/spec", "spec"),
    ("/checkpoint", "checkpoint"),
)


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Attributes:
    """What a request asks of the node object (authorizer.Attributes for resource nodes)."""

    user: UserInfo
    verb: str
    node: str
    subresource: str

    def review(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "resourceAttributes": {
                "verb": self.verb,
                "version": "v1",
                "resource": "nodes",
                "subresource": self.subresource,
                "name": self.node,
            },
            "user": self.user.name,
            "groups": list(self.user.groups),
        }
        if self.user.uid:
            spec["uid"] = self.user.uid
        if self.user.extra:
            spec["extra"] = {k: list(v) for k, v in self.user.extra.items()}
        return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def _is_subpath(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def request_attributes(user: UserInfo, *, method: str, path: str, node: str) -> Attributes:
    """Upstream's GetRequestAttributes (fine-grained authorization off, its 1.32 default)."""
    subresource = "proxy"
    for prefix, name in _SUBRESOURCES:
        if _is_subpath(path, prefix):
            subresource = name
            break
    return Attributes(user=user, verb=_VERBS.get(method, ""), node=node, subresource=subresource)


class KubeletAuth:
    """Authenticate and authorize kubelet API requests against one API server (`client`: the kubelet's own)."""

    def __init__(
        self,
        client: AsyncKube,
        *,
        node_name: str,
        token_ttl: float = TOKEN_TTL,
        allowed_ttl: float = ALLOWED_TTL,
        denied_ttl: float = DENIED_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.node_name = node_name
        self._token_ttl = token_ttl
        self._allowed_ttl, self._denied_ttl = allowed_ttl, denied_ttl
        self._clock = clock
        self._tokens: dict[str, tuple[float, UserInfo | None]] = {}
        self._decisions: dict[str, tuple[float, bool]] = {}

    async def authenticate(self, request: web.Request) -> UserInfo | None:
        """The caller, or None (anonymous, or a token the API server does not know)."""
        transport = request.transport
        peercert = transport.get_extra_info("peercert") if transport is not None else None
        identity = identity_from_peercert(peercert) if peercert else None
        if identity is not None:
            return UserInfo(name=identity[0], groups=identity[1])
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        return await self._review_token(token)

    async def _review_token(self, token: str) -> UserInfo | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        cached = self._tokens.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        review = await self._client.create(TOKEN_REVIEWS, body)
        status = review.get("status") or {}
        user: UserInfo | None = None
        if status.get("authenticated"):
            info = status.get("user") or {}
            user = UserInfo(
                name=str(info.get("username") or ""),
                groups=tuple(str(g) for g in info.get("groups") or []),
                uid=str(info.get("uid") or ""),
                extra={str(k): tuple(str(x) for x in v or []) for k, v in (info.get("extra") or {}).items()},
            )
        self._tokens = {k: v for k, v in self._tokens.items() if v[0] > now}
        self._tokens[key] = (now + self._token_ttl, user)
        return user

    async def authorize(self, attrs: Attributes) -> bool:
        """Whether the API server allows it; raises ApiError when it cannot tell."""
        review = attrs.review()
        key = repr(sorted(review["spec"].items()))
        now = self._clock()
        cached = self._decisions.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        answer = await self._client.create(SUBJECT_ACCESS_REVIEWS, review)
        allowed = bool((answer.get("status") or {}).get("allowed"))
        self._decisions = {k: v for k, v in self._decisions.items() if v[0] > now}
        self._decisions[key] = (now + (self._allowed_ttl if allowed else self._denied_ttl), allowed)
        return allowed

    def middleware(self) -> Middleware:
        """The filter upstream puts in front of every kubelet handler, with its status codes and texts."""

        @web.middleware
        async def auth(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            try:
                user = await self.authenticate(request)
            except ApiError as exc:
                log.warning("Unable to authenticate the request due to an error", extra={"error": str(exc)})
                user = None
            if user is None:
                return web.Response(status=401, text="Unauthorized")
            attrs = request_attributes(user, method=request.method, path=request.path, node=self.node_name)
            described = f"user={user.name}, verb={attrs.verb}, resource=nodes"
            try:
                allowed = await self.authorize(attrs)
            except ApiError as exc:
                log.warning("Authorization error", extra={"user": user.name, "error": str(exc)})
                return web.Response(
                    status=500, text=f"Authorization error ({described}, subresource={attrs.subresource})"
                )
            if not allowed:
                log.info("Forbidden", extra={"user": user.name, "verb": attrs.verb, "subresource": attrs.subresource})
                return web.Response(status=403, text=f"Forbidden ({described}, subresource(s)=[{attrs.subresource}])\n")
            return await handler(request)

        return auth
