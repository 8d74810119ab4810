"""The gardenlet's Kubernetes access: JSON requests, server-side apply and watches over the official client.

The gardenlet talks to two or three clusters (garden, seed, shoots) and must not import the controller-manager,
so it keeps its own copy of that small pattern. Every blocking call has an `a`-prefixed twin that runs it in a
thread, because the shoot flows are asyncio code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

__all__ = ["ApiException", "Kube", "resource_path"]

FIELD_MANAGER = "gardenlet"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
#: (connect, read) seconds of every request but watches
REQUEST_TIMEOUT = (10.0, 60.0)

Obj = dict[str, Any]

#: (apiVersion, kind) -> (plural, namespaced) of the kinds the gardenlet writes
_KINDS: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Service"): ("services", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "Event"): ("events", True),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Node"): ("nodes", False),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("extensions.gardener.cloud/v1alpha1", "Infrastructure"): ("infrastructures", True),
    ("extensions.gardener.cloud/v1alpha1", "ControlPlane"): ("controlplanes", True),
    ("extensions.gardener.cloud/v1alpha1", "Worker"): ("workers", True),
    ("extensions.gardener.cloud/v1alpha1", "Cluster"): ("clusters", False),
}


def resource_path(api_version: str, kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """The REST path of a collection (no name) or an object of a kind the gardenlet knows."""
    try:
        plural, namespaced = _KINDS[(api_version, kind)]
    except KeyError:
        raise ValueError(f"unknown kind {api_version}/{kind}") from None
    base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    if namespaced:
        if not namespace:
            raise ValueError(f"{kind} is namespaced: a namespace is needed")
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return f"{base}/{name}" if name else base


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime if path is not None else None
    except OSError:
        return None


def object_path(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return resource_path(str(obj["apiVersion"]), str(obj["kind"]), meta.get("namespace"), meta.get("name"))


class Kube:
    """One cluster, reached through a kubeconfig."""

    def __init__(self, api_client: client.ApiClient, *, kubeconfig: Path | None = None) -> None:
        self.api = api_client
        self.kubeconfig = kubeconfig
        self._loaded = _mtime(kubeconfig)

    @classmethod
    def from_kubeconfig(cls, path: Path | str) -> Kube:
        api = kube_config.new_client_from_config(config_file=str(path))  # type: ignore[no-untyped-call]
        return cls(api, kubeconfig=Path(path))

    def refresh(self) -> bool:
        """Load the kubeconfig again if its file changed (a renewed client certificate); True if it did."""
        if self.kubeconfig is None or _mtime(self.kubeconfig) == self._loaded:
            return False
        self._loaded = _mtime(self.kubeconfig)
        self.api = kube_config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]
        return True

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    # ---- blocking ----

    def raw(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """A JSON request; the decoded answer, None for a 404 on GET, ApiException for other errors."""
        response = self._call(method, path, body, content_type=content_type, params=params, timeout=REQUEST_TIMEOUT)
        response.read()
        payload: bytes = response.data or b""
        if response.status == 404 and method == "GET":
            return None
        if response.status >= 400:
            raise ApiException(status=response.status, reason=response.reason, body=payload.decode(errors="replace"))
        return json.loads(payload) if payload else None

    def _call(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        content_type: str,
        params: Mapping[str, str] | None,
        timeout: tuple[float, float] | None,
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        m, url, hdrs, data, post = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((params or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(m, url, hdrs, data, post, _request_timeout=timeout)

    def get(self, path: str) -> Obj | None:
        result: Obj | None = self.raw("GET", path)
        return result

    def apply(self, obj: Mapping[str, Any]) -> Obj:
        """Server-side apply as the gardenlet, taking over fields others set (force), like Gardener's charts."""
        params = {"fieldManager": FIELD_MANAGER, "force": "true"}
        result: Obj = self.raw("PATCH", object_path(obj), dict(obj), content_type=APPLY_PATCH, params=params)
        return result

    def merge_patch(self, path: str, patch: Mapping[str, Any]) -> Obj | None:
        """A merge patch; None when the object is gone."""
        try:
            result: Obj = self.raw("PATCH", path, dict(patch), content_type=MERGE_PATCH)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return result

    def delete(self, path: str, *, propagation: str = "Background") -> bool:
        """Delete; False if it was already gone."""
        try:
            self.raw("DELETE", path, {"propagationPolicy": propagation})
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def watch(self, path: str, *, resource_version: str, timeout: int = 300) -> Iterator[Obj]:
        """Watch events of a collection from `resource_version` until the server ends the stream."""
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout),
        }
        response = self._call(
            "GET", path, None, content_type="application/json", params=params, timeout=(10.0, timeout + 30.0)
        )
        raw = response.response
        try:
            if response.status >= 400:
                payload = raw.read()
                raise ApiException(
                    status=response.status, reason=response.reason, body=payload.decode("utf-8", "replace")
                )
            buffer = b""
            for chunk in raw.stream(64 * 1024, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            raw.release_conn()

    # ---- asyncio ----

    async def aget(self, path: str) -> Obj | None:
        return await asyncio.to_thread(self.get, path)

    async def araw(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
    ) -> Any:
        return await asyncio.to_thread(self.raw, method, path, body, content_type=content_type, params=params)

    async def aapply(self, obj: Mapping[str, Any]) -> Obj:
        return await asyncio.to_thread(self.apply, obj)

    async def amerge_patch(self, path: str, patch: Mapping[str, Any]) -> Obj | None:
        return await asyncio.to_thread(self.merge_patch, path, patch)

    async def adelete(self, path: str, *, propagation: str = "Background") -> bool:
        return await asyncio.to_thread(self.delete, path, propagation=propagation)
