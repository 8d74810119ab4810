"""Who is asking: x509 client certificates, ServiceAccount tokens, bootstrap tokens and a static token file.

Tokens are checked against audiences as kube-apiserver does: a request to the API must carry a token meant for
the API's audiences (`--api-audiences`, by default the service-account issuer); a TokenReview may name others.
Static and bootstrap tokens carry no audience and count as meant for the API only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from gardener.apiserver.bootstraptokens import BootstrapTokens
from gardener.apiserver.rbac import UserInfo, service_account_user
from gardener.apiserver.resources import Registry
from gardener.apiserver.storage.interface import Backend
from gardener.apiserver.tokens import ServiceAccountClaims, ServiceAccountTokenSigner, StaticTokenUser
from gardener.runtime.pki import identity_from_peercert

log = logging.getLogger("gardener.apiserver.authn")

AUTHENTICATED = "system:authenticated"
#: kube's answer for a token no authenticator accepts
INVALID_TOKEN = "invalid bearer token"
#: kube's answer for a service-account token whose ServiceAccount (or bound pod) is gone or was recreated
INVALIDATED_TOKEN = "service account token has been invalidated"
#: the user extras kube gives service-account tokens (k8s.io/apiserver/pkg/authentication/serviceaccount)
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"
POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
NODE_UID_KEY = "authentication.kubernetes.io/node-uid"


class Unauthenticated(Exception):
    """Credentials were presented and are not valid."""


@dataclass(frozen=True)
class TokenResult:
    """What the token authenticators say about one bearer token (TokenReview's status)."""

    user: UserInfo | None
    #: the audiences both the token and the request accept
    audiences: tuple[str, ...] = ()
    error: str = ""


def _go_quoted_list(values: Sequence[str]) -> str:
    """Go's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "]"


def service_account_extra(claims: ServiceAccountClaims) -> dict[str, list[str]]:
    """kube 1.32's ServiceAccountInfo.UserInfo extras: the bound pod and its node, and the credential id."""
    extra: dict[str, list[str]] = {}
    if claims.pod is not None and claims.pod.name and claims.pod.uid:
        extra[POD_NAME_KEY] = [claims.pod.name]
        extra[POD_UID_KEY] = [claims.pod.uid]
    if claims.jti:
        extra[CREDENTIAL_ID_KEY] = [f"JTI={claims.jti}"]
    if claims.node is not None and claims.node.name:
        extra[NODE_NAME_KEY] = [claims.node.name]
        if claims.node.uid:  # kube sets the node uid only along with the name
            extra[NODE_UID_KEY] = [claims.node.uid]
    return extra


class Authenticator:
    def __init__(
        self,
        *,
        signer: ServiceAccountTokenSigner,
        static_tokens: dict[str, StaticTokenUser],
        backend: Backend,
        registry: Registry,
        bootstrap_tokens: BootstrapTokens | None = None,
        api_audiences: tuple[str, ...] = (),
    ) -> None:
        self._signer = signer
        self._static = static_tokens
        self._backend = backend
        self._registry = registry
        self._bootstrap_tokens = bootstrap_tokens
        self.api_audiences = api_audiences or (signer.issuer,)

    async def authenticate(self, request: web.Request) -> UserInfo | None:
        """None when no credentials were presented; raises Unauthenticated for bad ones."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated()
            result = await self.authenticate_token(token.strip(), audiences=self.api_audiences)
            if result.user is None:
                raise Unauthenticated()
            return result.user
        transport = request.transport
        peercert: Any = transport.get_extra_info("peercert") if transport is not None else None
        if peercert:
            identity = identity_from_peercert(peercert)
            if identity is not None:
                name, groups = identity
                return UserInfo(name=name, groups=(*groups, AUTHENTICATED))
        return None

    async def authenticate_token(self, token: str, *, audiences: Sequence[str]) -> TokenResult:
        """Run the token authenticators for a token meant for any of `audiences`; never raises for a bad token."""
        static = self._static.get(token)
        if static is not None:
            return self._audience_agnostic(
                UserInfo(name=static.name, uid=static.uid, groups=(*static.groups, AUTHENTICATED)), audiences
            )
        if self._bootstrap_tokens is not None and self._bootstrap_tokens.looks_like_token(token):
            user = self._bootstrap_tokens.authenticate(token)
            return TokenResult(None, error=INVALID_TOKEN) if user is None else self._audience_agnostic(user, audiences)
        claims = self._signer.verify(token)
        if claims is None:
            return TokenResult(None, error=INVALID_TOKEN)
        matching = tuple(a for a in claims.audiences if a in audiences)
        if not matching:
            return TokenResult(
                None,
                error=f"token audiences {_go_quoted_list(claims.audiences)} is invalid for the target audiences "
                f"{_go_quoted_list(audiences)}",
            )
        info = self._registry.get("", "v1", "serviceaccounts")
        assert info is not None
        stored = await self._backend.get(info.key(claims.namespace, claims.name))
        if stored is None or f'"uid":"{claims.uid}"'.encode() not in stored.value:
            # The ServiceAccount is gone or was recreated: its old tokens stop working, as in kube.
            return TokenResult(None, error=INVALIDATED_TOKEN)
        if claims.pod is not None:
            # a token bound to a pod dies with it, as kube's validator checks
            pods = self._registry.get("", "v1", "pods")
            assert pods is not None
            pod = await self._backend.get(pods.key(claims.namespace, claims.pod.name))
            if pod is None or orjson.loads(pod.value).get("metadata", {}).get("uid") != claims.pod.uid:
                return TokenResult(None, error=INVALIDATED_TOKEN)
        user = service_account_user(claims.namespace, claims.name, uid=claims.uid, extra=service_account_extra(claims))
        return TokenResult(user, audiences=matching)

    def _audience_agnostic(self, user: UserInfo, audiences: Sequence[str]) -> TokenResult:
        """kube's WrapAudienceAgnosticToken: a token without audiences is good for the API's audiences only."""
        matching = tuple(a for a in self.api_audiences if a in audiences)
        if not matching:
            return TokenResult(None, error=INVALID_TOKEN)
        return TokenResult(user, audiences=matching)
