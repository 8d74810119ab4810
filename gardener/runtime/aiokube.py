"""`AsyncKube`: the runtime's Kubernetes client for one asyncio event loop holding many long watches.

It speaks the same core as the blocking `Kube` (`gardener.runtime.kube`: paths, typed errors, watch decoding)
over aiohttp. Credentials come from a kubeconfig's client certificate and/or bearer token.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from gardener.runtime.errors import NotFound, Unreachable, api_error
from gardener.runtime.kube import MERGE_PATCH, Obj, WatchDecoder, decode, watch_params

__all__ = ["AsyncKube", "kubeconfig_auth"]

REQUEST_TIMEOUT = 30.0


def _pem(user: Mapping[str, Any], field: str, base_dir: Path) -> bytes | None:
    if user.get(f"{field}-data"):
        return base64.b64decode(str(user[f"{field}-data"]))
    if user.get(field):
        return (base_dir / str(user[field])).read_bytes()
    return None


def _named(items: list[dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return dict(item.get(what) or {})
    raise ValueError(f"kubeconfig has no {what} named {name!r}")


def _ssl_context(cluster: Mapping[str, Any], user: Mapping[str, Any], base_dir: Path) -> ssl.SSLContext:
    if cluster.get("insecure-skip-tls-verify"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif cluster.get("certificate-authority-data"):
        ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        ctx = ssl.create_default_context(cafile=str(base_dir / cluster["certificate-authority"]))
    else:
        ctx = ssl.create_default_context()
    cert = _pem(user, "client-certificate", base_dir)
    key = _pem(user, "client-key", base_dir)
    if cert and key:
        # load_cert_chain reads files only: hand it a private temporary directory for the moment it reads.
        with tempfile.TemporaryDirectory(prefix="kube-") as tmp:
            cert_path, key_path = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            for path, data in ((cert_path, cert), (key_path, key)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            ctx.load_cert_chain(cert_path, key_path)
    return ctx


def kubeconfig_auth(path: Path, *, context: str | None = None) -> tuple[str, ssl.SSLContext, str | None]:
    """(server URL, TLS context, bearer token) of a kubeconfig's current (or named) context."""
    config = yaml.safe_load(Path(path).read_text())
    ctx = _named(config.get("contexts") or [], context or config.get("current-context", ""), "context")
    cluster = _named(config.get("clusters") or [], ctx.get("cluster", ""), "cluster")
    user = _named(config.get("users") or [], ctx.get("user", ""), "user")
    return str(cluster["server"]), _ssl_context(cluster, user, Path(path).parent), user.get("token")


class AsyncKube:
    """JSON over HTTPS to one API server; create it inside the event loop that uses it."""

    def __init__(
        self, *, server: str, ssl_context: ssl.SSLContext | bool, token: str | None = None, user_agent: str = ""
    ) -> None:
        self.server = server.rstrip("/")
        headers = {"Accept": "application/json"}
        if user_agent:
            # the API server names a request's field manager after the agent's first word, as kube does
            headers["User-Agent"] = user_agent
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl_context, limit=64), headers=headers
        )

    @classmethod
    def from_kubeconfig(cls, path: Path, *, context: str | None = None, user_agent: str = "") -> AsyncKube:
        server, ssl_context, token = kubeconfig_auth(path, context=context)
        return cls(server=server, ssl_context=ssl_context, token=token, user_agent=user_agent)

    async def close(self) -> None:
        await self._session.close()

    def set_token(self, token: str) -> None:
        """Use a renewed bearer token from the next request on."""
        self._session.headers["Authorization"] = f"Bearer {token}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request; the decoded JSON answer, or a typed `ApiError` (`Unreachable` for a lost connection)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else {}
        try:
            async with self._session.request(
                method,
                self.server + path,
                data=data,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            ) as resp:
                payload = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Unreachable(0, f"{method} {path}: {exc!r}") from exc
        return decode(status, payload)

    async def get(self, path: str) -> Obj | None:
        try:
            result: Obj = await self.request("GET", path)
        except NotFound:
            return None
        return result

    async def create(self, path: str, obj: Mapping[str, Any]) -> Obj:
        result: Obj = await self.request("POST", path, body=obj)
        return result

    async def replace(self, path: str, obj: Mapping[str, Any]) -> Obj:
        result: Obj = await self.request("PUT", path, body=obj)
        return result

    async def patch(self, path: str, patch: Mapping[str, Any]) -> Obj:
        result: Obj = await self.request("PATCH", path, body=patch, content_type=MERGE_PATCH)
        return result

    async def delete(self, path: str, *, propagation: str = "Background") -> bool:
        """Delete; False when it was already gone."""
        try:
            await self.request("DELETE", path, body={"propagationPolicy": propagation})
        except NotFound:
            return False
        return True

    async def watch(self, path: str, *, resource_version: str, timeout: int = 300) -> AsyncIterator[Obj]:
        """Watch events from `resource_version` on; ends when the server closes the stream."""
        try:
            async with self._session.get(
                self.server + path,
                params=watch_params(resource_version, timeout),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=REQUEST_TIMEOUT, sock_read=timeout + 30),
            ) as resp:
                if resp.status >= 400:
                    raise api_error(resp.status, await resp.read())
                decoder = WatchDecoder()
                async for chunk in resp.content.iter_any():
                    for event in decoder.feed(chunk):
                        yield event
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise Unreachable(0, f"watch {path}: {exc!r}") from exc
