"""Thin helpers over the official `kubernetes` client: JSON requests, create-or-update, watch streams.

Controllers here are synchronous and run in threads, so the official client fits; paths are plain REST paths
built by `Resource`, which keeps custom and built-in kinds alike.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Resource:
    """One API resource and how its URLs are built."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


SECRETS = Resource("", "v1", "secrets", "Secret")
NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)


def is_status(exc: BaseException, *codes: int) -> bool:
    return isinstance(exc, ApiException) and exc.status in codes


class Kube:
    """JSON over the official client's connection pool (thread-safe); 404 on GET reads as None."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api = api_client

    @classmethod
    def from_kubeconfig(cls, path: str | Path) -> Kube:
        return cls(config.new_client_from_config(config_file=str(path)))  # type: ignore[no-untyped-call]

    @classmethod
    def from_kubeconfig_text(cls, text: str) -> Kube:
        """From kubeconfig content (e.g. a Secret's data): credentials never touch a file of ours."""
        return cls(config.new_client_from_config_dict(yaml.safe_load(text)))  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    def _call(self, method: str, path: str, body: Any, content_type: str, timeout: float | tuple[float, float]) -> Any:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        m, url, hdrs, data, post = self.api.param_serialize(
            method=method, resource_path=path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        return self.api.call_api(m, url, hdrs, data, post, _request_timeout=timeout)

    def raw(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json") -> Any:
        """One request; the decoded body, None for 404 on GET; ApiException for other errors."""
        response = self._call(method, path, body, content_type, REQUEST_TIMEOUT)
        response.read()
        payload: bytes = response.data or b""
        if response.status == 404 and method == "GET":
            return None
        if response.status >= 400:
            raise ApiException(status=response.status, reason=response.reason, body=payload.decode(errors="replace"))
        return json.loads(payload) if payload else None

    def get(self, path: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.raw("GET", path)
        return result

    def list(self, path: str, *, label_selector: str | None = None) -> list[dict[str, Any]]:
        query = f"?{urlencode({'labelSelector': label_selector})}" if label_selector else ""
        result = self.raw("GET", path + query) or {}
        return list(result.get("items") or [])

    def create(self, path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.raw("POST", path, dict(obj))
        return result

    def patch(self, path: str, patch: Any, *, content_type: str = MERGE_PATCH) -> dict[str, Any]:
        result: dict[str, Any] = self.raw("PATCH", path, patch, content_type=content_type)
        return result

    def replace(self, path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.raw("PUT", path, dict(obj))
        return result

    def apply(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create the object in collection `path`, or merge-patch it to match if it exists."""
        name = obj["metadata"]["name"]
        if self.get(f"{path}/{name}") is None:
            try:
                return self.create(path, obj)
            except ApiException as exc:
                if exc.status != 409:
                    raise
        return self.patch(f"{path}/{name}", obj)

    def ensure(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create the object in collection `path`, or make its labels, annotations and top-level fields (spec,
        data ...) exactly those of `obj`; writes nothing when it already matches."""
        name = obj["metadata"]["name"]
        current = self.get(f"{path}/{name}")
        if current is None:
            try:
                return self.create(path, obj)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                current = self.get(f"{path}/{name}") or {}
        ops = ensure_ops(current, obj)
        return self.patch(f"{path}/{name}", ops, content_type=JSON_PATCH) if ops else current

    def delete(self, path: str, *, propagation: str = "Background") -> bool:
        """Delete; False if it was already gone."""
        try:
            self.raw("DELETE", path, {"propagationPolicy": propagation})
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def watch(self, path: str, *, resource_version: str, timeout: int = 300) -> Iterator[dict[str, Any]]:
        """Watch events of collection `path` from `resource_version` on, until the server ends the stream."""
        query = urlencode(
            {
                "watch": "true",
                "resourceVersion": resource_version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": str(timeout),
            }
        )
        response = self._call("GET", f"{path}?{query}", None, "application/json", (REQUEST_TIMEOUT, timeout + 30))
        try:
            if response.status >= 400:
                response.read()
                raise ApiException(status=response.status, reason=response.reason, body=response.data)
            buffer = b""
            for chunk in response.response.stream(amt=None, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            response.response.release_conn()


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def ensure_ops(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[dict[str, Any]]:
    """JSON patch ops that make `current`'s labels, annotations and top-level fields those of `desired`."""
    ops: list[dict[str, Any]] = []
    meta = current.get("metadata") or {}
    for part in ("labels", "annotations"):
        wanted = (desired.get("metadata") or {}).get(part)
        if wanted is None:
            continue
        have = meta.get(part)
        if have is None:
            ops.append({"op": "add", "path": _pointer("metadata", part), "value": wanted})
            continue
        for k, v in wanted.items():
            if have.get(k) != v:
                ops.append({"op": "add", "path": _pointer("metadata", part, k), "value": v})
    for field, value in desired.items():
        if field in ("apiVersion", "kind", "metadata", "status"):
            continue
        if current.get(field) != value:
            ops.append({"op": "add", "path": _pointer(field), "value": value})
    return ops


def owner_reference(obj: Mapping[str, Any], *, controller: bool = True) -> dict[str, Any]:
    m = obj["metadata"]
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": m["name"],
        "uid": m["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    uid = owner["metadata"]["uid"]
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def secret_data(secret: Mapping[str, Any] | None) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in ((secret or {}).get("data") or {}).items()}


def finalizer_patch(obj: Mapping[str, Any], finalizer: str, *, present: bool) -> dict[str, Any] | None:
    """A merge patch that adds or removes `finalizer`, guarded by the resourceVersion; None if nothing to do."""
    current = list(obj["metadata"].get("finalizers") or [])
    if (finalizer in current) == present:
        return None
    wanted = [*current, finalizer] if present else [f for f in current if f != finalizer]
    return {"metadata": {"finalizers": wanted or None, "resourceVersion": obj["metadata"]["resourceVersion"]}}
