"""core/v1 Service and Endpoints (ValidateService, ValidateServiceUpdate, ValidateEndpoints).

Cluster IP and node port allocation, and their range checks, belong to the allocators, not here.
"""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.validation import formats, labels
from gardener.apiserver.builtin.validation.fields import (
    Reader,
    duplicate,
    forbidden,
    go_string_slice,
    invalid,
    one_of,
    required,
    sub,
)
from gardener.apiserver.builtin.validation.pods import PROTOCOLS
from gardener.apiserver.errors import FieldCause, go_quote

_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_LB_ONLY = "may only be used when `type` is 'LoadBalancer'"


def _go_service_port(port: dict[str, Any]) -> str:
    """%#v of a core.ServicePort, as kube prints it in a Duplicate error about (protocol, port)."""
    name = str(port.get("name") or "")
    app = port.get("appProtocol")
    app_shown = f"(*string)({go_quote(app)})" if isinstance(app, str) else "(*string)(nil)"
    target = port.get("targetPort")
    if isinstance(target, str):
        target_shown = f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(target)}}}"
    else:
        target_shown = f'intstr.IntOrString{{Type:0, IntVal:{target if isinstance(target, int) else 0}, StrVal:""}}'
    return (
        f"core.ServicePort{{Name:{go_quote(name)}, Protocol:{go_quote(str(port.get('protocol') or ''))}, "
        f"AppProtocol:{app_shown}, Port:{port.get('port') or 0}, TargetPort:{target_shown}, "
        f"NodePort:{port.get('nodePort') or 0}}}"
    )


def _port(r: Reader, port: dict[str, Any], at: str, *, need_name: bool, names: set[str]) -> None:
    name = r.text(port, "name", f"{at}.name")
    if need_name and not name:
        r.add([required(f"{at}.name")])
    elif name:
        r.add(formats.unique_name(f"{at}.name", name, names, formats.dns1123_label(name)))
    number = r.integer(port, "port", f"{at}.port")
    r.add(formats.check(f"{at}.port", number or 0, formats.port_number(number or 0)))
    one_of(r, port, "protocol", f"{at}.protocol", PROTOCOLS, need=True)
    target = port.get("targetPort")
    if isinstance(target, bool) or (target is not None and not isinstance(target, int | str)):
        r.add([invalid(f"{at}.targetPort", target, "must be an integer or a port name")])
    elif target is not None:
        r.add(formats.port_number_or_name(f"{at}.targetPort", target))
    app = r.text(port, "appProtocol", f"{at}.appProtocol")
    if app is not None:
        r.add(formats.check(f"{at}.appProtocol", app, formats.qualified_name(app)))


def _cluster_ips(spec: dict[str, Any]) -> list[str]:
    ips = spec.get("clusterIPs")
    if isinstance(ips, list):
        return [ip for ip in ips if isinstance(ip, str)]
    ip = spec.get("clusterIP")
    return [ip] if isinstance(ip, str) and ip else []


def _ports(r: Reader, spec: dict[str, Any], kind: str | None) -> None:
    items = r.objects(spec, "ports", "spec.ports")
    names: set[str] = set()
    node_ports: set[tuple[Any, int]] = set()
    seen: set[tuple[Any, Any]] = set()
    for i, port in items:
        at = f"spec.ports[{i}]"
        _port(r, port, at, need_name=len(items) > 1, names=names)
        node_port = r.integer(port, "nodePort", f"{at}.nodePort")
        if node_port:
            if kind == "ClusterIP":
                r.add([forbidden(f"{at}.nodePort", "may not be used when `type` is 'ClusterIP'")])
            key = (port.get("protocol"), node_port)
            if key in node_ports:
                r.add([duplicate(f"{at}.nodePort", node_port)])
            node_ports.add(key)
        pair = (port.get("protocol"), port.get("port"))
        if pair in seen:
            r.add([duplicate(at, port, shown=_go_service_port(port))])
        seen.add(pair)


def validate_service(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    kind = one_of(r, spec, "type", "spec.type", _TYPES, need=True)
    ips = _cluster_ips(spec)
    headless = bool(ips) and ips[0] == "None"
    if not r.array(spec, "ports", "spec.ports") and not headless and kind != "ExternalName":
        r.add([required("spec.ports")])
    if kind in ("LoadBalancer", "NodePort") and headless:
        r.add([invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services")])
    if kind == "ExternalName":
        if ips:
            r.add([forbidden("spec.clusterIPs", "may not be set for ExternalName services")])
        if spec.get("ipFamilies"):
            r.add([forbidden("spec.ipFamilies", "may not be set for ExternalName services")])
        if spec.get("ipFamilyPolicy") is not None:
            r.add([forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")])
        cname = (r.text(spec, "externalName", "spec.externalName") or "").removesuffix(".")
        if cname:
            r.add(formats.check("spec.externalName", cname, formats.dns1123_subdomain(cname)))
        else:
            r.add([required("spec.externalName")])
    _ports(r, spec, kind)
    r.add(labels.validate_labels(r.string_map(spec, "selector", "spec.selector"), "spec.selector"))
    affinity = one_of(r, spec, "sessionAffinity", "spec.sessionAffinity", ("ClientIP", "None"), need=True)
    if affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        r.add([forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None")])
    for i, ip in enumerate(ips):
        if ip != "None" or i > 0:
            r.add(formats.ip_address(f"spec.clusterIPs[{i}]", ip))
    for i, ip in r.texts(spec, "externalIPs", "spec.externalIPs"):
        r.add(formats.ip_address(f"spec.externalIPs[{i}]", ip))
    ranges = r.texts(spec, "loadBalancerSourceRanges", "spec.loadBalancerSourceRanges")
    if ranges:
        if kind != "LoadBalancer":
            r.add([forbidden("spec.LoadBalancerSourceRanges", _LB_ONLY)])
        for i, value in ranges:
            r.add(formats.cidr(f"spec.LoadBalancerSourceRanges[{i}]", value.strip()))
    if spec.get("allocateLoadBalancerNodePorts") is not None and kind != "LoadBalancer":
        r.add([forbidden("spec.allocateLoadBalancerNodePorts", _LB_ONLY)])
    external = kind in ("NodePort", "LoadBalancer") or bool(spec.get("externalIPs"))
    policy = r.text(spec, "externalTrafficPolicy", "spec.externalTrafficPolicy")
    if policy and not external:
        r.add([invalid("spec.externalTrafficPolicy", policy, "may only be set for externally-accessible services")])
    elif policy:
        one_of(r, spec, "externalTrafficPolicy", "spec.externalTrafficPolicy", ("Cluster", "Local"), need=True)
    one_of(r, spec, "internalTrafficPolicy", "spec.internalTrafficPolicy", ("Cluster", "Local"), need=False)
    if old is not None:
        r.add(_update(spec, sub(old, "spec")))
    return r.causes


def _update(spec: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
    """Cluster IPs may be added or dropped at the end, never changed (unless the type is or was ExternalName)."""
    if "ExternalName" in (spec.get("type"), old.get("type")):
        return []
    new_ips, old_ips = _cluster_ips(spec), _cluster_ips(old)
    causes = []
    for i, ip in enumerate(old_ips):
        if i < len(new_ips) and new_ips[i] != ip:
            causes.append(
                invalid(f"spec.clusterIPs[{i}]", new_ips, "may not change once set", shown=go_string_slice(new_ips))
            )
    return causes


def validate_endpoints(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    for i, subset in r.objects(obj, "subsets", "subsets"):
        at = f"subsets[{i}]"
        for key in ("addresses", "notReadyAddresses"):
            for j, address in r.objects(subset, key, f"{at}.{key}"):
                ip = r.text(address, "ip", f"{at}.{key}[{j}].ip") or ""
                r.add(formats.ip_address(f"{at}.{key}[{j}].ip", ip))
        ports = r.objects(subset, "ports", f"{at}.ports")
        names: set[str] = set()
        for j, port in ports:
            pat = f"{at}.ports[{j}]"
            name = r.text(port, "name", f"{pat}.name")
            if len(ports) > 1 and not name:
                r.add([required(f"{pat}.name")])
            elif name:
                r.add(formats.unique_name(f"{pat}.name", name, names, formats.dns1123_label(name)))
            number = r.integer(port, "port", f"{pat}.port") or 0
            r.add(formats.check(f"{pat}.port", number, formats.port_number(number)))
            one_of(r, port, "protocol", f"{pat}.protocol", PROTOCOLS, need=True)
    return r.causes
