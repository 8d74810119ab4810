"""Connect subresources: pods/log, exec, attach, portforward and proxy; services/proxy; nodes/proxy.

kube-apiserver answers these by reaching a kubelet (or the pod network) on the client's behalf, and so does
this module, after the checks kube makes before it dials (the object exists, the pod has a node, the container
name is valid, the options parse): it finds the kubelet from the Node (`kubeletclient`), translates the request
into the kubelet's API as kube's pod registry does (`/containerLogs`, `/exec`, `/attach`, `/portForward`, the
node proxy's path) and relays the answer (`streamproxy`); pods/proxy and services/proxy go to the pod's
address or a service endpoint's, over plain HTTP unless asked for https. Only `handlers.ResourceHandler` imports
this module.
"""

from __future__ import annotations

import datetime
import ipaddress
import random
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gardener.apiserver import errors
from gardener.apiserver.errors import FieldCause, StatusError, go_quote
from gardener.apiserver.kubeletclient import KUBELET_CLIENT, Endpoint, KubeletClient, Unreachable, request_target
from gardener.apiserver.requestinfo import is_true
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import ObjectStore
from gardener.apiserver.streamproxy import (
    generic_server_response,
    is_upgrade,
    is_websocket,
    proxy_http,
    relay_upgrade,
    relay_websocket,
    stream_response,
)

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
#: how much of a kubelet's error answer kube reads (GenericHttpResponseChecker)
_MAX_ERROR_BODY = 50000
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


def unavailable(message: str) -> StatusError:
    """kube's NewServiceUnavailable: 503 without details."""
    return StatusError(503, "ServiceUnavailable", message)


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
    """Answer a connect request the way kube-apiserver does: check it, find the backend, relay."""
    if request.method not in METHODS[(info.plural, subresource)]:
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    kubelet = request.app[KUBELET_CLIENT]
    if subresource == "proxy":
        return await _proxy(
            request, store=store, registry=registry, kubelet=kubelet, info=info, namespace=namespace, name=name
        )
    query = "" if subresource == "log" else _stream_query(request, subresource)
    pod = await store.get(info, namespace, name)
    if subresource == "log":
        return await _log(request, store=store, registry=registry, kubelet=kubelet, pod=pod, name=name)
    if subresource == "portforward":
        path = f"/portForward/{namespace}/{name}"
    else:
        path = f"/{subresource}/{namespace}/{name}/{_container(pod, request.query.get('container', ''))}"
    node = _node_name(pod)
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    endpoint = kubelet.endpoint(await _node(store=store, registry=registry, name=node))
    if not is_upgrade(request):
        raise errors.bad_request("Upgrade request required")
    if is_websocket(request):
        return await relay_websocket(request, kubelet=kubelet, endpoint=endpoint, url=endpoint.url(path, query))
    return await relay_upgrade(request, kubelet=kubelet, endpoint=endpoint, target=request_target(path, query))


async def _log(
    request: web.Request,
    *,
    store: ObjectStore,
    registry: Registry,
    kubelet: KubeletClient,
    pod: dict[str, Any],
    name: str,
) -> web.StreamResponse:
    """kube's LogLocation and LocationStreamer: the kubelet's /containerLogs, streamed as it comes."""
    _check_log_options(request, name=name)
    container = _container(pod, request.query.get("container", ""))
    node = _node_name(pod)
    if not node:
        # kube has no location to stream from for a pod no node runs, and answers 204 No Content
        return web.Response(status=204)
    endpoint = kubelet.endpoint(await _node(store=store, registry=registry, name=node))
    namespace = pod["metadata"].get("namespace", "")
    url = endpoint.url(f"/containerLogs/{namespace}/{name}/{container}", _log_query(request))
    verify = not is_true(request.query.get("insecureSkipTLSVerifyBackend", "false"))
    try:
        backend = await kubelet.request("GET", endpoint, url, tls=kubelet.tls(verify=verify))
    except Unreachable as exc:
        raise StatusError(500, "", f"Get {go_quote(url)}: {exc}") from None  # Go's url.Error, as kube passes it on
    if not 200 <= backend.status <= 206:
        body = b""
        try:
            while len(body) < _MAX_ERROR_BODY and (chunk := await backend.content.read(_MAX_ERROR_BODY - len(body))):
                body += chunk
        finally:
            backend.release()
        raise _log_refused(backend.status, body.decode("utf-8", "replace"), name=name)
    return await stream_response(request, backend, content_type="text/plain")


def _log_query(request: web.Request) -> str:
    """PodLogOptions as kube's LogLocation hands them to the kubelet (sorted, as Go's url.Values encodes)."""
    query = request.query
    params = [(flag, "true") for flag in ("follow", "previous", "timestamps") if is_true(query.get(flag, "false"))]
    for param in _LOG_INTS:
        if param in query:
            params.append((param, str(_parse_int64(query[param]))))
    if "sinceTime" in query:
        since = _since_time(query["sinceTime"]).astimezone(datetime.UTC)
        params.append(("sinceTime", since.strftime("%Y-%m-%dT%H:%M:%SZ")))
    return urlencode(sorted(params))


def _log_refused(code: int, body: str, *, name: str) -> StatusError:
    """kube's GenericHttpResponseChecker for pods/log: the kubelet's answer, worded by its code."""
    if code == 500:
        return StatusError(500, "InternalError", f"Internal error occurred: {body}", {"causes": [{"message": body}]})
    if code == 400:
        return errors.bad_request(body)
    return generic_server_response(code, body, resource="pods/log", name=name)


def _stream_query(request: web.Request, subresource: str) -> str:
    """kube's streamParams: PodExecOptions, PodAttachOptions and PodPortForwardOptions as the kubelet reads them."""
    query = request.query
    params: list[tuple[str, str]] = []
    if subresource == "portforward":
        ports = [str(_parse_int64(p)) for value in query.getall("ports", []) for p in value.split(",") if p]
        if ports:
            params.append(("port", ",".join(ports)))
        return urlencode(params)
    for option, param in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")):
        if is_true(query.get(option, "false")):
            params.append((param, "1"))
    if subresource == "exec":
        params += [("command", c) for c in query.getall("command", [])]
    return urlencode(sorted(params, key=lambda p: p[0]))


async def _proxy(
    request: web.Request,
    *,
    store: ObjectStore,
    registry: Registry,
    kubelet: KubeletClient,
    info: ResourceInfo,
    namespace: str,
    name: str,
) -> web.StreamResponse:
    target = split_target(name)
    if target is None:
        raise errors.bad_request(f"invalid {_singular(info)} request {go_quote(name)}")
    path = _proxy_path(request.path, info=info, name=name)
    if info.plural == "services":
        endpoint = await _service_endpoint(store, registry, info=info, namespace=namespace, target=target, name=name)
        return await _relay(request, kubelet=kubelet, endpoint=endpoint, path=path, scheme=target.scheme, tls=False)
    obj = await store.get(info, namespace, target.name)
    if info.plural == "nodes":
        endpoint = kubelet.endpoint(obj)
        _check_proxyable(endpoint.host)
        if not target.port or target.port == str(endpoint.port):
            # the kubelet's own port: its API, with the API server's client certificate
            return await _relay(
                request, kubelet=kubelet, endpoint=endpoint, path=path, scheme="https", tls=kubelet.tls()
            )
        endpoint = Endpoint(host=endpoint.host, port=_port(target.port))
        return await _relay(request, kubelet=kubelet, endpoint=endpoint, path=path, scheme=target.scheme, tls=False)
    address = _pod_ip(obj)
    if not _proxyable(address):
        raise errors.bad_request("address not allowed")
    port = target.port or _first_container_port(obj)
    endpoint = Endpoint(host=address, port=_port(port) if port else 0)
    return await _relay(request, kubelet=kubelet, endpoint=endpoint, path=path, scheme=target.scheme, tls=False)


async def _relay(
    request: web.Request, *, kubelet: KubeletClient, endpoint: Endpoint, path: str, scheme: str, tls: Any
) -> web.StreamResponse:
    """A proxy request to its backend: upgrades relayed as such, everything else through the proxy transport."""
    scheme = scheme or "http"
    if endpoint.port == 0:  # a pod without a named or declared port: the scheme's own
        endpoint = Endpoint(host=endpoint.host, port=443 if scheme == "https" else 80)
    if is_upgrade(request) and scheme == "https" and tls is not False:
        return await relay_upgrade(
            request, kubelet=kubelet, endpoint=endpoint, target=request_target(path, request.query_string)
        )
    url = endpoint.url(path, request.query_string, scheme=scheme)
    return await proxy_http(request, kubelet=kubelet, endpoint=endpoint, url=url, tls=tls)


async def _service_endpoint(
    store: ObjectStore, registry: Registry, *, info: ResourceInfo, namespace: str, target: Target, name: str
) -> Endpoint:
    """kube's service ResourceLocation: a ready address of the service's Endpoints that is its pod's IP."""
    port_name = target.port
    if _INT.fullmatch(port_name):
        service = await store.get(info, namespace, target.name)
        ports = [p for p in (service.get("spec") or {}).get("ports") or [] if isinstance(p, dict)]
        match = next((p for p in ports if str(p.get("port")) == str(int(port_name))), None)
        if match is None:
            raise unavailable(f"no service port {int(port_name)} found for service {go_quote(target.name)}")
        port_name = str(match.get("name") or "")
    endpoints_info, pods_info = registry.get("", "v1", "endpoints"), registry.get("", "v1", "pods")
    assert endpoints_info is not None and pods_info is not None  # the core group serves both
    endpoints = await store.get(endpoints_info, namespace, target.name)
    subsets = [s for s in endpoints.get("subsets") or [] if isinstance(s, dict)]
    if not subsets:
        raise unavailable(f"no endpoints available for service {go_quote(target.name)}")
    start = random.randrange(len(subsets))
    for subset in subsets[start:] + subsets[:start]:
        addresses = [a for a in subset.get("addresses") or [] if isinstance(a, dict)]
        for port in subset.get("ports") or []:
            if not addresses or str(port.get("name") or "") != port_name:
                continue
            first = random.randrange(len(addresses))
            for address in addresses[first:] + addresses[:first]:
                if await _is_pod_address(store, pods_info, namespace=namespace, address=address):
                    return Endpoint(host=str(address["ip"]), port=int(port.get("port", 0)))
    raise unavailable(f"no endpoints available for service {go_quote(name)}")


async def _is_pod_address(store: ObjectStore, pods: ResourceInfo, *, namespace: str, address: dict[str, Any]) -> bool:
    """kube proxies only to endpoint addresses that are IPs of the pods they name."""
    ref = address.get("targetRef") or {}
    if ref.get("namespace") != namespace or not ref.get("name"):
        return False
    try:
        pod = await store.get(pods, namespace, str(ref["name"]))
    except StatusError:
        return False
    return any(
        isinstance(ip, dict) and ip.get("ip") == address.get("ip")
        for ip in (pod.get("status") or {}).get("podIPs") or []
    )


def _proxy_path(path: str, *, info: ResourceInfo, name: str) -> str:
    """What follows `<resource>/<name>/proxy` in the request path, its trailing slash kept."""
    marker = f"/{info.plural}/{name}/proxy"
    index = path.find(marker)
    rest = path[index + len(marker) :] if index >= 0 else ""
    return rest if rest.startswith("/") else "/" + rest


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise errors.bad_request(f"invalid port {go_quote(value)}")
    return int(value)


def _first_container_port(pod: dict[str, Any]) -> str:
    """kube's pod proxy without a port: the first port any container declares."""
    for container in (pod.get("spec") or {}).get("containers") or []:
        ports = container.get("ports") if isinstance(container, dict) else None
        if isinstance(ports, list) and ports and isinstance(ports[0], dict):
            return str(ports[0].get("containerPort", ""))
    return ""


def _check_proxyable(host: str) -> None:
    """kube's isProxyableHostname for nodes/proxy, bar loopback: here every node listens on 127.0.0.0/8."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a name: kube resolves it and checks each address; local nodes are reached by address
    if not _proxyable(host):
        raise errors.bad_request("address not allowed")


async def _node(*, store: ObjectStore, registry: Registry, name: str) -> dict[str, Any]:
    """The pod's Node; kube's connection lookup fails with the Node's NotFound when it is gone."""
    nodes = registry.get("", "v1", "nodes")
    assert nodes is not None  # the core group always serves nodes
    return await store.get(nodes, "", name)


def _node_name(pod: dict[str, Any]) -> str:
    node = (pod.get("spec") or {}).get("nodeName")
    return node if isinstance(node, str) else ""


def _names(containers: Any) -> list[str]:
    if not isinstance(containers, list):
        return []
    return [str(c.get("name", "")) for c in containers if isinstance(c, dict)]


def _container(pod: dict[str, Any], container: str) -> str:
    """kube's validateContainer: a named container must exist; an unnamed one is the pod's only container."""
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    containers = _names(spec.get("containers"))
    # kube visits init containers, then containers, then ephemeral containers
    every = [*_names(spec.get("initContainers")), *containers, *_names(spec.get("ephemeralContainers"))]
    if container:
        if container not in every:
            raise errors.bad_request(f"container {container} is not valid for pod {name}")
        return container
    if len(containers) == 1:
        return containers[0]
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
        _since_time(request.query["sinceTime"])
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


def _since_time(raw: str) -> datetime.datetime:
    """sinceTime is an RFC 3339 time (metav1.Time); kube answers 400 for one that does not parse."""
    if _RFC3339.fullmatch(raw) is not None:
        plain = re.sub(r"\.[0-9]+", "", raw.upper().replace("Z", "+00:00"))
        try:
            return datetime.datetime.fromisoformat(plain)
        except ValueError:
            pass
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


def _proxyable(address: str) -> bool:
    """Go's net.IP.IsGlobalUnicast, which kube's pod proxy requires of the pod's address (private ranges pass),
    except that loopback passes too: here every pod and node has an address in 127.0.0.0/8."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    broadcast = ip == ipaddress.IPv4Address("255.255.255.255")
    return not (ip.is_link_local or ip.is_multicast or ip.is_unspecified or broadcast)


def _singular(info: ResourceInfo) -> str:
    return {"pods": "pod", "services": "service", "nodes": "node"}.get(info.plural, info.plural)
