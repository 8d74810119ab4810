"""A small asyncio Kubernetes API client over aiohttp, configured from a kubeconfig.

The agent needs long-lived watches on many resources from one event loop; the official client is
synchronous, so this speaks the REST protocol directly: JSON requests, merge patches, and watch
streams read line by line. Credentials are a client certificate and/or a bearer token. URLs come
from the extension library's `Resource`.
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

from extensions.library.kube import Resource

__all__ = ["ApiError", "KubeClient", "Resource"]

REQUEST_TIMEOUT = 30.0
MERGE_PATCH = "application/merge-patch+json"


class ApiError(Exception):
    """An API request failed; `status` is the HTTP code (0 when the server was not reached)."""

    def __init__(self, status: int, message: str, *, reason: str = "") -> None:
        super().__init__(f"{status} {reason}: {message}" if reason else f"{status}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


PODS = Resource("", "v1", "pods", "Pod")
SERVICES = Resource("", "v1", "services", "Service")
ENDPOINTS = Resource("", "v1", "endpoints", "Endpoints")
SECRETS = Resource("", "v1", "secrets", "Secret")
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
PVCS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")


def _ssl_context(cluster: Mapping[str, Any], user: Mapping[str, Any], base_dir: Path) -> ssl.SSLContext | bool:
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
        with tempfile.TemporaryDirectory(prefix="nodeagent-") as tmp:
            cert_path, key_path = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            for path, data in ((cert_path, cert), (key_path, key)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            ctx.load_cert_chain(cert_path, key_path)
    return ctx


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


class KubeClient:
    """JSON over HTTPS to one API server; create it inside the event loop that uses it."""

    def __init__(self, *, server: str, ssl_context: ssl.SSLContext | bool, token: str | None = None) -> None:
        self.server = server.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl_context, limit=64), headers=self._headers
        )

    @classmethod
    def from_kubeconfig(cls, path: Path, *, context: str | None = None) -> KubeClient:
        config = yaml.safe_load(Path(path).read_text())
        ctx = _named(config.get("contexts") or [], context or config.get("current-context", ""), "context")
        cluster = _named(config.get("clusters") or [], ctx.get("cluster", ""), "cluster")
        user = _named(config.get("users") or [], ctx.get("user", ""), "user")
        return cls(
            server=cluster["server"],
            ssl_context=_ssl_context(cluster, user, Path(path).parent),
            token=user.get("token"),
        )

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """One request; the decoded JSON answer, or ApiError for any HTTP error or lost connection."""
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
                if resp.status >= 400:
                    raise _error(resp.status, payload)
                return json.loads(payload) if payload else None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ApiError(0, f"{method} {path}: {exc!r}") from exc

    async def get(self, path: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await self.request("GET", path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return result

    async def create(self, path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", path, body=obj)
        return result

    async def replace(self, path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("PUT", path, body=obj)
        return result

    async def patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("PATCH", path, body=patch, content_type=MERGE_PATCH)
        return result

    async def delete(self, path: str, *, propagation: str = "Background") -> bool:
        """Delete; False when it was already gone."""
        try:
            await self.request("DELETE", path, body={"propagationPolicy": propagation})
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def watch(self, path: str, *, resource_version: str, timeout: int = 300) -> AsyncIterator[dict[str, Any]]:
        """Watch events from `resource_version` on; ends when the server closes the stream."""
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout),
        }
        try:
            async with self._session.get(
                self.server + path,
                params=params,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=REQUEST_TIMEOUT, sock_read=timeout + 30),
            ) as resp:
                if resp.status >= 400:
                    raise _error(resp.status, await resp.read())
                buffer = b""
                async for chunk in resp.content.iter_any():
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if line.strip():
                            yield json.loads(line)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise ApiError(0, f"watch {path}: {exc!r}") from exc


def _error(status: int, payload: bytes) -> ApiError:
    try:
        doc = json.loads(payload)
        return ApiError(status, str(doc.get("message", "")), reason=str(doc.get("reason", "")))
    except (ValueError, AttributeError):
        return ApiError(status, payload.decode(errors="replace")[:500])
