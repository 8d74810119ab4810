"""The Kubernetes client every component uses: REST paths, JSON requests, typed errors, watches, apply.

One core builds requests and maps answers (`Resource`, `decode`, `WatchDecoder`, the object helpers); `Kube` sends
them over the official client's thread-safe connection pool, which also brings every kubeconfig authentication
(certificates, tokens, exec plugins). Blocking methods have `a`-prefixed twins that run in a thread for asyncio
callers with a handful of requests; a process holding many long watches in one event loop uses `AsyncKube`
(`gardener.runtime.aiokube`) over the same core.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client
from kubernetes import config as kube_config

from gardener.runtime.errors import ApiError, NotFound, Unreachable, api_error

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "KINDS",
    "MERGE_PATCH",
    "Kube",
    "Obj",
    "Resource",
    "WatchDecoder",
    "decode",
    "ensure_ops",
    "finalizer_patch",
    "key_of",
    "object_path",
    "owned_by",
    "owner_reference",
    "resource_path",
    "secret_data",
    "watch_params",
]

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
#: (connect, read) seconds of every request but watches
REQUEST_TIMEOUT = (10.0, 60.0)


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


NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
PODS = Resource("", "v1", "pods", "Pod")
SERVICES = Resource("", "v1", "services", "Service")
ENDPOINTS = Resource("", "v1", "endpoints", "Endpoints")
SECRETS = Resource("", "v1", "secrets", "Secret")
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap")
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount")
PVCS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
EVENTS = Resource("", "v1", "events", "Event")
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
STATEFULSETS = Resource("apps", "v1", "statefulsets", "StatefulSet")
REPLICASETS = Resource("apps", "v1", "replicasets", "ReplicaSet")
DAEMONSETS = Resource("apps", "v1", "daemonsets", "DaemonSet")
CONTROLLERREVISIONS = Resource("apps", "v1", "controllerrevisions", "ControllerRevision")
JOBS = Resource("batch", "v1", "jobs", "Job")
CRONJOBS = Resource("batch", "v1", "cronjobs", "CronJob")
ENDPOINTSLICES = Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
PODDISRUPTIONBUDGETS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")
HORIZONTALPODAUTOSCALERS = Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
RESOURCEQUOTAS = Resource("", "v1", "resourcequotas", "ResourceQuota")
_EXTENSIONS = "extensions.gardener.cloud"
INFRASTRUCTURES = Resource(_EXTENSIONS, "v1alpha1", "infrastructures", "Infrastructure")
CONTROLPLANES = Resource(_EXTENSIONS, "v1alpha1", "controlplanes", "ControlPlane")
WORKERS = Resource(_EXTENSIONS, "v1alpha1", "workers", "Worker")
CLUSTERS = Resource(_EXTENSIONS, "v1alpha1", "clusters", "Cluster", namespaced=False)
OPERATINGSYSTEMCONFIGS = Resource(_EXTENSIONS, "v1alpha1", "operatingsystemconfigs", "OperatingSystemConfig")
NETWORKS = Resource(_EXTENSIONS, "v1alpha1", "networks", "Network")
DNSRECORDS = Resource(_EXTENSIONS, "v1alpha1", "dnsrecords", "DNSRecord")

#: (apiVersion, kind) -> resource, for the kinds components write by manifest
KINDS: dict[tuple[str, str], Resource] = {
    (r.api_version, r.kind): r
    for r in (
        NAMESPACES,
        NODES,
        PODS,
        SERVICES,
        ENDPOINTS,
        SECRETS,
        CONFIGMAPS,
        SERVICEACCOUNTS,
        PVCS,
        EVENTS,
        LEASES,
        DEPLOYMENTS,
        STATEFULSETS,
        INFRASTRUCTURES,
        CONTROLPLANES,
        WORKERS,
        CLUSTERS,
        OPERATINGSYSTEMCONFIGS,
        NETWORKS,
        DNSRECORDS,
    )
}


def resource_path(api_version: str, kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """The REST path of a collection (no name) or an object of a kind in `KINDS`."""
    try:
        resource = KINDS[(api_version, kind)]
    except KeyError:
        raise ValueError(f"unknown kind {api_version}/{kind}") from None
    if resource.namespaced and not namespace:
        raise ValueError(f"{kind} is namespaced: a namespace is needed")
    return resource.path(namespace, name)


def object_path(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return resource_path(str(obj["apiVersion"]), str(obj["kind"]), meta.get("namespace"), meta.get("name"))


def key_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    """(namespace, name) of an object; namespace is "" for cluster-scoped ones."""
    m = obj.get("metadata") or {}
    return (str(m.get("namespace") or ""), str(m.get("name") or ""))


# ---- the core: requests and answers ----


def decode(status: int, payload: bytes) -> Any:
    """The decoded JSON of an answer, or the typed `ApiError` it stands for."""
    if status >= 400:
        raise api_error(status, payload)
    return json.loads(payload) if payload else None


def watch_params(resource_version: str, timeout: int) -> dict[str, str]:
    return {
        "watch": "true",
        "resourceVersion": resource_version,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": str(timeout),
    }


class WatchDecoder:
    """Turns the chunks of a watch stream into events (one JSON document per line)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> Iterator[Obj]:
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.strip():
                event: Obj = json.loads(line)
                yield event


# ---- object helpers ----


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


# ---- the blocking client ----


def _mtime(path: Path | None) -> float | None:
    try:
        return path.stat().st_mtime if path is not None else None
    except OSError:
        return None


def _api_client(path: Path | str, *, connections: int | None) -> client.ApiClient:
    configuration = client.Configuration()
    kube_config.load_kube_config(config_file=str(path), client_configuration=configuration)  # type: ignore[no-untyped-call]
    if connections is not None:
        configuration.connection_pool_maxsize = connections
    return client.ApiClient(configuration)


class Kube:
    """One cluster over the official client's connection pool (thread-safe).

    `raw` and `get` read a 404 on GET as None; everything else that fails raises a typed `ApiError`
    (`Unreachable` when the server could not be reached).
    """

    def __init__(
        self, api_client: client.ApiClient, *, kubeconfig: Path | None = None, field_manager: str = "gardener"
    ) -> None:
        self.api = api_client
        self.kubeconfig = kubeconfig
        self.field_manager = field_manager
        self._loaded = _mtime(kubeconfig)

    @classmethod
    def from_kubeconfig(
        cls, path: Path | str, *, field_manager: str = "gardener", connections: int | None = None
    ) -> Kube:
        """A client of the kubeconfig's current context; `connections` sizes the pool for that many threads."""
        return cls(_api_client(path, connections=connections), kubeconfig=Path(path), field_manager=field_manager)

    @classmethod
    def from_kubeconfig_text(cls, text: str, *, field_manager: str = "gardener") -> Kube:
        """From kubeconfig content (e.g. a Secret's data): credentials never touch a file of ours."""
        api = kube_config.new_client_from_config_dict(yaml.safe_load(text))  # type: ignore[no-untyped-call]
        return cls(api, field_manager=field_manager)

    def refresh(self) -> bool:
        """Load the kubeconfig again if its file changed (a renewed client certificate); True if it did."""
        if self.kubeconfig is None or _mtime(self.kubeconfig) == self._loaded:
            return False
        self._loaded = _mtime(self.kubeconfig)
        pool = self.api.configuration.connection_pool_maxsize
        self.api = _api_client(self.kubeconfig, connections=pool)
        return True

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        content_type: str,
        params: Mapping[str, str] | None,
        timeout: tuple[float, float] | None,
        accept: str = "application/json",
    ) -> Any:
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        m, url, hdrs, data, post = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((params or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            return self.api.call_api(m, url, hdrs, data, post, _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(0, f"{method} {path}: {exc!r}") from exc

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
        accept: str = "application/json",
    ) -> Any:
        """One JSON request; the decoded answer, or a typed `ApiError`. `accept` may ask for a server-side Table."""
        response = self._send(
            method, path, body, content_type=content_type, params=params, timeout=REQUEST_TIMEOUT, accept=accept
        )
        try:
            response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(0, f"{method} {path}: {exc!r}") from exc
        return decode(response.status, response.data or b"")

    def raw(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """`request`, but a 404 on GET is None."""
        try:
            return self.request(method, path, body, content_type=content_type, params=params)
        except NotFound:
            if method == "GET":
                return None
            raise

    def get(self, path: str) -> Obj | None:
        result: Obj | None = self.raw("GET", path)
        return result

    def list_page(self, path: str, *, label_selector: str = "", limit: int = 0, cont: str = "") -> Obj:
        """One page of a list (the whole list without `limit`)."""
        params = {"labelSelector": label_selector} if label_selector else {}
        if limit:
            params["limit"] = str(limit)
        if cont:
            params["continue"] = cont
        result: Obj = self.request("GET", path, params=params) or {}
        return result

    def list_with_version(self, path: str, *, label_selector: str = "", page_size: int = 500) -> tuple[list[Obj], str]:
        """Every item of a collection, page by page, and the resourceVersion to watch from."""
        items: list[Obj] = []
        cont = ""
        while True:
            page = self.list_page(path, label_selector=label_selector, limit=page_size, cont=cont)
            items.extend(page.get("items") or ())
            meta = page.get("metadata") or {}
            cont = str(meta.get("continue") or "")
            if not cont:
                return items, str(meta.get("resourceVersion") or "")

    def list(self, path: str, *, label_selector: str | None = None) -> list[Obj]:
        return self.list_with_version(path, label_selector=label_selector or "")[0]

    def create(self, path: str, obj: Mapping[str, Any]) -> Obj:
        result: Obj = self.request("POST", path, dict(obj))
        return result

    def replace(self, path: str, obj: Mapping[str, Any]) -> Obj:
        result: Obj = self.request("PUT", path, dict(obj))
        return result

    def patch(self, path: str, patch: Any, *, content_type: str = MERGE_PATCH) -> Obj:
        result: Obj = self.request("PATCH", path, patch, content_type=content_type)
        return result

    def merge_patch(self, path: str, patch: Mapping[str, Any]) -> Obj | None:
        """A merge patch; None when the object is gone."""
        try:
            return self.patch(path, dict(patch))
        except NotFound:
            return None

    def server_side_apply(self, obj: Mapping[str, Any], *, force: bool = True) -> Obj:
        """Server-side apply as `field_manager`, taking over fields others set when `force`, like Gardener's charts."""
        params = {"fieldManager": self.field_manager, "force": "true" if force else "false"}
        result: Obj = self.request("PATCH", object_path(obj), dict(obj), content_type=APPLY_PATCH, params=params)
        return result

    def apply(self, path: str, obj: Mapping[str, Any]) -> Obj:
        """Create the object in collection `path`, or merge-patch it to match if it exists."""
        name = obj["metadata"]["name"]
        if self.get(f"{path}/{name}") is None:
            try:
                return self.create(path, obj)
            except ApiError as exc:
                if exc.status != 409:
                    raise
        return self.patch(f"{path}/{name}", dict(obj))

    def ensure(self, path: str, obj: Mapping[str, Any]) -> Obj:
        """Create the object in collection `path`, or make its labels, annotations and top-level fields (spec,
        data ...) exactly those of `obj`; writes nothing when it already matches."""
        name = obj["metadata"]["name"]
        current = self.get(f"{path}/{name}")
        if current is None:
            try:
                return self.create(path, obj)
            except ApiError as exc:
                if exc.status != 409:
                    raise
                current = self.get(f"{path}/{name}") or {}
        ops = ensure_ops(current, obj)
        return self.patch(f"{path}/{name}", ops, content_type=JSON_PATCH) if ops else current

    def delete(self, path: str, *, propagation: str = "Background") -> bool:
        """Delete; False if it was already gone."""
        try:
            self.request("DELETE", path, {"propagationPolicy": propagation})
        except NotFound:
            return False
        return True

    def watch(self, path: str, *, resource_version: str, timeout: int = 300, label_selector: str = "") -> Iterator[Obj]:
        """Events of a collection from `resource_version` on, until the server ends the stream.

        Closing the iterator closes the connection: a half-read stream never goes back to the pool.
        """
        params = watch_params(resource_version, timeout)
        if label_selector:
            params["labelSelector"] = label_selector
        response = self._send(
            "GET", path, None, content_type="application/json", params=params, timeout=(10.0, timeout + 30.0)
        )
        stream = response.response
        try:
            if response.status >= 400:
                raise api_error(response.status, stream.read())
            decoder = WatchDecoder()
            for chunk in stream.stream(64 * 1024, decode_content=True):
                yield from decoder.feed(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(0, f"watch {path}: {exc!r}") from exc
        finally:
            stream.close()
            stream.release_conn()

    # ---- the same in a thread, for asyncio callers ----

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

    async def aserver_side_apply(self, obj: Mapping[str, Any]) -> Obj:
        return await asyncio.to_thread(self.server_side_apply, obj)

    async def amerge_patch(self, path: str, patch: Mapping[str, Any]) -> Obj | None:
        return await asyncio.to_thread(self.merge_patch, path, patch)

    async def adelete(self, path: str, *, propagation: str = "Background") -> bool:
        return await asyncio.to_thread(self.delete, path, propagation=propagation)
