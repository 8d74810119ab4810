"""Connect subresources: pods/log, exec, attach, portforward and proxy; services/proxy; nodes/proxy.

kube-apiserver answers these by reaching a kubelet (or the pod network) on the client's behalf. This
server has no kubelet connection yet, so after the checks kube makes before it dials (the object exists,
the pod has a node, the container name is valid) it answers one Status that says why it cannot go on,
with a code kubectl prints once and stops on. Only `handlers.ResourceHandler` imports this module.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gardener.apiserver import errors
from gardener.apiserver.errors import FieldCause, StatusError, go_quote
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import ObjectStore

#: the HTTP methods kube routes for each connect subresource (anything else is 405)
_STREAM_METHODS = frozenset({"GET", "POST"})
_PROXY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
METHODS: dict[tuple[str, str], frozenset[str]] = {
    ("pods", "log"): frozenset({"GET"}),
    ("pods", "exec"): _STREAM_METHODS,
    ("pods", "attach"): _STREAM_METHODS,
    ("pods", "portforward"): _STREAM_METHODS,
    ("pods", "proxy"): _PROXY_METHODS,
    ("services", "proxy"): _PROXY_METHODS,
    ("nodes", "proxy"): _PROXY_METHODS,
}
#: PodLogOptions' integer query parameters and the smallest value kube's validation accepts
_LOG_INTS = {"tailLines": 0, "limitBytes": 1, "sinceSeconds": 1}
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def handles(info: ResourceInfo, subresource: str) -> bool:
    """Whether the subresource is one of the connect subresources of a core kind served here."""
    return info.group == "" and (info.plural, subresource) in METHODS


@dataclass(frozen=True)
class Target:
    """What a connect request names: `name` may carry a scheme and a port (`https:web-0:8443`) for proxies."""

    scheme: str
    name: str
    port: str


def split_target(value: str) -> Target | None:
    """kube's SplitSchemeNamePort: `name`, `name:port` or `scheme:name:port`, scheme empty, http or https."""
    parts = value.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in ("", "http", "https"):
        return None
    return Target(scheme=scheme, name=name, port=port)


def no_kubelet(node: str) -> StatusError:
    """The answer for a pod or node whose kubelet this server would have to reach.

    400, as kube answers a pod without a node, rather than kube's 5xx for an unreachable kubelet: nothing here
    is temporary (no kubelet registers with this server), so no client should retry it. `kubectl logs`, `exec`
    and `attach` print it once; `kubectl logs -f` (1.37) polls for up to --pod-running-timeout (20 s) on any
    error code, 4xx and 5xx alike, as it would against kube.
    """
    return errors.bad_request(
        f'no kubelet serves node "{node}": this API server cannot reach pod logs, exec, attach, port-forward or '
        "proxy on it"
    )


def no_service_network(name: str) -> StatusError:
    """The answer for services/proxy: kube would dial an endpoint of the service, which this server cannot reach."""
    return errors.bad_request(
        f'no endpoints available for service "{name}": this API server does not reach the cluster network'
    )


async def serve(
    request: web.Request,
    *,
    store: ObjectStore,
    registry: Registry,
    info: ResourceInfo,
    namespace: str,
    name: str,
    subresource: str,
) -> web.StreamResponse:
    """Answer a connect request the way kube-apiserver does up to the point where it would dial out."""
    if request.method not in METHODS[(info.plural, subresource)]:
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    if subresource == "proxy":
        return await _proxy(store=store, info=info, namespace=namespace, name=name)
    pod = await store.get(info, namespace, name)
    if subresource == "log":
        return await _log(request, store=store, registry=registry, pod=pod, name=name)
    container = request.query.get("container", "")
    if subresource != "portforward":
        _container(pod, container)
    node = _node_name(pod)
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    await _node(store=store, registry=registry, name=node)
    raise no_kubelet(node)


async def _log(
    request: web.Request, *, store: ObjectStore, registry: Registry, pod: dict[str, Any], name: str
) -> web.StreamResponse:
    _check_log_options(request, name=name)
    _container(pod, request.query.get("container", ""))
    node = _node_name(pod)
    if not node:
        # kube has no location to stream from for a pod no node runs, and answers 204 No Content
        return web.Response(status=204)
    await _node(store=store, registry=registry, name=node)
    raise no_kubelet(node)


async def _proxy(*, store: ObjectStore, info: ResourceInfo, namespace: str, name: str) -> web.StreamResponse:
    target = split_target(name)
    if target is None:
        raise errors.bad_request(f"invalid {_singular(info)} request {go_quote(name)}")
    obj = await store.get(info, namespace, target.name)
    if info.plural == "nodes":
        raise no_kubelet(target.name)
    if info.plural == "services":
        raise no_service_network(target.name)
    if not _global_unicast(_pod_ip(obj)):
        raise errors.bad_request("address not allowed")
    node = _node_name(obj)
    raise no_kubelet(node) if node else errors.bad_request(f"pod {target.name} does not have a host assigned")


async def _node(*, store: ObjectStore, registry: Registry, name: str) -> dict[str, Any]:
    """The pod's Node; kube's connection lookup fails with the Node's NotFound when it is gone."""
    nodes = registry.get("", "v1", "nodes")
    if nodes is None:  # pragma: no cover - the core group always serves nodes
        raise no_kubelet(name)
    return await store.get(nodes, "", name)


def _node_name(pod: dict[str, Any]) -> str:
    node = (pod.get("spec") or {}).get("nodeName")
    return node if isinstance(node, str) else ""


def _names(containers: Any) -> list[str]:
    if not isinstance(containers, list):
        return []
    return [str(c.get("name", "")) for c in containers if isinstance(c, dict)]


def _container(pod: dict[str, Any], container: str) -> None:
    """kube's validateContainer: a named container must exist; an unnamed one is the pod's only container."""
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    containers = _names(spec.get("containers"))
    # kube visits init containers, then containers, then ephemeral containers
    every = [*_names(spec.get("initContainers")), *containers, *_names(spec.get("ephemeralContainers"))]
    if container:
        if container not in every:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        return
    if len(containers) == 1:
        return
    if not containers:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    raise errors.bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(every)}]")


def _check_log_options(request: web.Request, *, name: str) -> None:
    """PodLogOptions from the query: integers must parse (400), and kube's validation bounds them (422)."""
    values: dict[str, int] = {}
    for param in _LOG_INTS:
        raw = request.query.get(param)
        if raw is None:
            continue
        values[param] = _parse_int64(raw)
    if request.query.get("sinceTime") is not None:
        _check_since_time(request.query["sinceTime"])
    causes = [
        _too_small(param, values[param], minimum)
        for param, minimum in _LOG_INTS.items()
        if param in values and param != "sinceSeconds" and values[param] < minimum
    ]
    if "sinceSeconds" in values and request.query.get("sinceTime") is not None:
        message = "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
        causes.append(FieldCause("FieldValueForbidden", message, ""))
    elif values.get("sinceSeconds", 1) < 1:
        causes.append(_too_small("sinceSeconds", values["sinceSeconds"], 1))
    if causes:
        raise errors.invalid(kind="PodLogOptions", group="", name=name, causes=causes)


def _parse_int64(raw: str) -> int:
    """Go's strconv.ParseInt(raw, 10, 64), as kube decodes integer query parameters (400 when it fails)."""
    if not _INT.fullmatch(raw):
        raise errors.bad_request(f"strconv.ParseInt: parsing {go_quote(raw)}: invalid syntax")
    value = int(raw)
    if not -(2**63) <= value < 2**63:
        raise errors.bad_request(f"strconv.ParseInt: parsing {go_quote(raw)}: value out of range")
    return value


def _check_since_time(raw: str) -> None:
    """sinceTime is an RFC 3339 time (metav1.Time); kube answers 400 for one that does not parse."""
    valid = _RFC3339.fullmatch(raw) is not None
    if valid:
        plain = re.sub(r"\.[0-9]+", "", raw.upper().replace("Z", "+00:00"))
        try:
            datetime.datetime.fromisoformat(plain)
        except ValueError:
            valid = False
    if not valid:
        raise errors.bad_request(f"parsing time {go_quote(raw)} as RFC 3339: cannot parse")


def _too_small(param: str, value: int, minimum: int) -> FieldCause:
    if minimum == 0:
        message = f"Invalid value: {value}: must be greater than or equal to 0"
    else:
        message = f"Invalid value: {value}: must be greater than 0"
    return FieldCause("FieldValueInvalid", message, param)


def _pod_ip(pod: dict[str, Any]) -> str:
    """The pod's primary IP (status.podIPs[0].ip), "" when it has none."""
    ips = (pod.get("status") or {}).get("podIPs")
    first = ips[0] if isinstance(ips, list) and ips else None
    ip = first.get("ip") if isinstance(first, dict) else None
    return ip if isinstance(ip, str) else ""


def _global_unicast(address: str) -> bool:
    """Go's net.IP.IsGlobalUnicast, which kube's pod proxy requires of the pod's address (private ranges pass)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    broadcast = ip == ipaddress.IPv4Address("255.255.255.255")
    return not (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified or broadcast)


def _singular(info: ResourceInfo) -> str:
    return {"pods": "pod", "services": "service", "nodes": "node"}.get(info.plural, info.plural)
