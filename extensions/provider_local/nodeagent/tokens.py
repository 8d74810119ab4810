"""Projected service-account tokens: what a pod's `serviceAccountToken` volume sources hold, as upstream's kubelet.

For every such source the kubelet asks the API for a token (TokenRequest on `serviceaccounts/<name>/token`, bound
to the pod, with the source's audience and `expirationSeconds`, default 1 h) and refreshes it once 80% of its
life has passed or it is older than 24 h. `ensure` runs in the kubelet's (async) reconcile of the pod, before
its volumes are written; `get` reads the cache from the (sync) volume writer. Tokens are never logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import ApiError

log = logging.getLogger("provider_local.nodeagent.tokens")

Obj = dict[str, Any]
DEFAULT_EXPIRATION = 3600
#: upstream's kubelet refreshes at 80% of a token's life, and at least daily
REFRESH_FRACTION = 0.8
MAX_AGE = dt.timedelta(hours=24)


@dataclass(frozen=True)
class TokenKey:
    namespace: str
    service_account: str
    audience: str
    expiration: int
    pod_uid: str


@dataclass(frozen=True)
class _Token:
    value: str
    fetched: dt.datetime
    expires: dt.datetime

    def due(self, now: dt.datetime) -> bool:
        life = self.expires - self.fetched
        return now >= self.fetched + min(life * REFRESH_FRACTION, MAX_AGE)


def token_sources(pod: Mapping[str, Any]) -> Iterator[tuple[str, int]]:
    """(audience, expirationSeconds) of every projected serviceAccountToken source of the pod."""
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for src in ((volume.get("projected") or {}).get("sources")) or []:
            token = src.get("serviceAccountToken")
            if isinstance(token, dict):
                yield str(token.get("audience") or ""), int(token.get("expirationSeconds") or DEFAULT_EXPIRATION)


def key_for(pod: Mapping[str, Any], audience: str, expiration: int) -> TokenKey:
    m = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    return TokenKey(
        namespace=str(m.get("namespace") or ""),
        service_account=str(spec.get("serviceAccountName") or "default"),
        audience=audience,
        expiration=expiration,
        pod_uid=str(m.get("uid") or ""),
    )


class TokenCache:
    def __init__(self, client: AsyncKube) -> None:
        self.client = client
        self._tokens: dict[TokenKey, _Token] = {}

    def get(self, key: TokenKey) -> str | None:
        token = self._tokens.get(key)
        return token.value if token is not None else None

    def forget(self, pod_uid: str) -> None:
        for key in [k for k in self._tokens if k.pod_uid == pod_uid]:
            del self._tokens[key]

    async def ensure(self, pod: Mapping[str, Any]) -> None:
        """Fetch or refresh the pod's tokens; a failure leaves the cache as it was (the volume waits for it)."""
        now = dt.datetime.now(dt.UTC)
        for audience, expiration in token_sources(pod):
            key = key_for(pod, audience, expiration)
            current = self._tokens.get(key)
            if current is not None and not current.due(now):
                continue
            try:
                self._tokens[key] = await self._request(pod, key, now)
            except ApiError as exc:
                log.warning(
                    "Cannot get a service account token",
                    extra={"pod": f"{key.namespace}/{(pod.get('metadata') or {}).get('name')}", "error": str(exc)},
                )

    async def _request(self, pod: Mapping[str, Any], key: TokenKey, now: dt.datetime) -> _Token:
        spec: Obj = {
            "audiences": [key.audience] if key.audience else [],
            "expirationSeconds": key.expiration,
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": str((pod.get("metadata") or {}).get("name") or ""),
                "uid": key.pod_uid,
            },
        }
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        path = f"/api/v1/namespaces/{key.namespace}/serviceaccounts/{key.service_account}/token"
        answer = await self.client.request("POST", path, body=body)
        status = (answer or {}).get("status") or {}
        stamp = str(status.get("expirationTimestamp") or "")
        try:
            expires = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            expires = now + dt.timedelta(seconds=key.expiration)
        return _Token(value=str(status.get("token") or ""), fetched=now, expires=expires)
