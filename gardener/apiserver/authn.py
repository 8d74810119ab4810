"""Who is asking: x509 client certificates, ServiceAccount tokens, bootstrap tokens and a static token file."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from gardener.apiserver.bootstraptokens import BootstrapTokens
from gardener.apiserver.rbac import UserInfo
from gardener.apiserver.resources import Registry
from gardener.apiserver.storage.interface import Backend
from gardener.apiserver.tokens import ServiceAccountTokenSigner, StaticTokenUser
from gardener.runtime.pki import identity_from_peercert

log = logging.getLogger("gardener.apiserver.authn")

AUTHENTICATED = "system:authenticated"


class Unauthenticated(Exception):
    """Credentials were presented and are not valid."""


class Authenticator:
    def __init__(
        self,
        *,
        signer: ServiceAccountTokenSigner,
        static_tokens: dict[str, StaticTokenUser],
        backend: Backend,
        registry: Registry,
        bootstrap_tokens: BootstrapTokens | None = None,
    ) -> None:
        self._signer = signer
        self._static = static_tokens
        self._backend = backend
        self._registry = registry
        self._bootstrap_tokens = bootstrap_tokens

    async def authenticate(self, request: web.Request) -> UserInfo | None:
        """None when no credentials were presented; raises Unauthenticated for bad ones."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated()
            return await self._from_token(token.strip())
        transport = request.transport
        peercert: Any = transport.get_extra_info("peercert") if transport is not None else None
        if peercert:
            identity = identity_from_peercert(peercert)
            if identity is not None:
                name, groups = identity
                return UserInfo(name=name, groups=(*groups, AUTHENTICATED))
        return None

    async def _from_token(self, token: str) -> UserInfo:
        static = self._static.get(token)
        if static is not None:
            return UserInfo(name=static.name, uid=static.uid, groups=(*static.groups, AUTHENTICATED))
        if self._bootstrap_tokens is not None and self._bootstrap_tokens.looks_like_token(token):
            user = self._bootstrap_tokens.authenticate(token)
            if user is None:
                raise Unauthenticated()
            return user
        claims = self._signer.verify(token)
        if claims is None:
            raise Unauthenticated()
        info = self._registry.get("", "v1", "serviceaccounts")
        assert info is not None
        stored = await self._backend.get(info.key(claims.namespace, claims.name))
        if stored is None or f'"uid":"{claims.uid}"'.encode() not in stored.value:
            # The ServiceAccount is gone or was recreated: its old tokens stop working, as in kube.
            raise Unauthenticated()
        return UserInfo(
            name=f"system:serviceaccount:{claims.namespace}:{claims.name}",
            uid=claims.uid,
            groups=("system:serviceaccounts", f"system:serviceaccounts:{claims.namespace}", AUTHENTICATED),
        )
