"""networking.k8s.io/v1: Ingress, IngressClass and NetworkPolicy (pkg/apis/networking/validation)."""

from __future__ import annotations

import ipaddress
from typing import Any

from gardener.apiserver.builtin.validation import formats, labels
from gardener.apiserver.builtin.validation.fields import (
    Reader,
    forbidden,
    immutable,
    invalid,
    not_supported,
    required,
    sub,
    too_long,
)
from gardener.apiserver.builtin.validation.pods import PROTOCOLS
from gardener.apiserver.errors import FieldCause

_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_POLICY_TYPES = ("Egress", "Ingress")


def _host(r: Reader, host: str, path: str) -> None:
    """A DNS name, optionally with a leading `*.`; never an IP address."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        r.add([invalid(path, host, "must be a DNS name, not an IP address")])
        return
    if host.startswith("*."):
        rest = host[2:]
        if formats.dns1123_subdomain(rest):
            r.add(
                [
                    invalid(
                        path,
                        host,
                        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which "
                        "must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric "
                        "character (e.g. '*.example.com', regex used for validation is "
                        "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                    )
                ]
            )
        return
    r.add(formats.check(path, host, formats.dns1123_subdomain(host)))


def _backend(r: Reader, backend: dict[str, Any], path: str) -> None:
    service = r.obj(backend, "service", f"{path}.service")
    resource = r.obj(backend, "resource", f"{path}.resource")
    if service is not None and resource is not None:
        r.add([invalid(path, "", "cannot set both resource and service backends")])
    elif resource is not None:
        for key in ("kind", "name"):
            if not r.text(resource, key, f"{path}.resource.{key}"):
                r.add([required(f"{path}.resource.{key}")])
    elif service is not None:
        name = r.text(service, "name", f"{path}.service.name")
        if not name:
            r.add([required(f"{path}.service.name")])
        else:
            r.add(formats.check(f"{path}.service.name", name, formats.dns1035_label(name)))
        port = r.obj(service, "port", f"{path}.service.port") or {}
        port_name = r.text(port, "name", f"{path}.service.port.name")
        number = r.integer(port, "number", f"{path}.service.port.number")
        if port_name and number:
            r.add([invalid(path, "", "cannot set both port name & port number")])
        elif port_name:
            r.add(formats.check(f"{path}.service.port.name", port_name, formats.port_name(port_name)))
        elif number:
            r.add(formats.check(f"{path}.service.port.number", number, formats.port_number(number)))
        else:
            r.add([required(path, "port name or number is required")])
    else:
        r.add([invalid(path, "", "resource or service backend is required")])


def validate_ingress(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    rules = r.objects(spec, "rules", "spec.rules")
    default = r.obj(spec, "defaultBackend", "spec.defaultBackend")
    if not rules and default is None:
        r.add(
            [
                invalid(
                    "spec",
                    None,
                    "either `defaultBackend` or `rules` must be specified",
                    shown="[]networking.IngressRule(nil)",
                )
            ]
        )
    if default is not None:
        _backend(r, default, "spec.defaultBackend")
    for i, rule in rules:
        at = f"spec.rules[{i}]"
        host = r.text(rule, "host", f"{at}.host")
        if host:
            _host(r, host, f"{at}.host")
        http = r.obj(rule, "http", f"{at}.http")
        if http is None:
            continue
        paths = r.objects(http, "paths", f"{at}.http.paths")
        if not paths:
            r.add([required(f"{at}.http.paths")])
        for j, item in paths:
            pat = f"{at}.http.paths[{j}]"
            kind = r.text(item, "pathType", f"{pat}.pathType")
            value = r.text(item, "path", f"{pat}.path") or ""
            if not kind:
                r.add([required(f"{pat}.pathType", "pathType must be specified")])
            elif kind not in _PATH_TYPES:
                r.add([not_supported(f"{pat}.pathType", kind, _PATH_TYPES)])
            elif kind in ("Exact", "Prefix") and not value.startswith("/"):
                r.add([invalid(f"{pat}.path", value, "must be an absolute path")])
            backend = r.obj(item, "backend", f"{pat}.backend")
            _backend(r, backend or {}, f"{pat}.backend")
    for i, tls in r.objects(spec, "tls", "spec.tls"):
        for j, host in r.texts(tls, "hosts", f"spec.tls[{i}].hosts"):
            _host(r, host, f"spec.tls[{i}].hosts[{j}]")
    class_name = r.text(spec, "ingressClassName", "spec.ingressClassName")
    if class_name:
        r.add(formats.check("spec.ingressClassName", class_name, formats.dns1123_subdomain(class_name)))
    return r.causes


def validate_ingressclass(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    controller = r.text(spec, "controller", "spec.controller")
    if not controller:
        r.add([required("spec.controller")])
    elif len(controller) > 250:
        r.add([too_long("spec.controller", 250)])
    elif "/" not in controller:
        r.add([invalid("spec.controller", controller, 'must be a domain-prefixed path (such as "acme.io/foo")')])
    if old is not None:
        old_spec = sub(old, "spec")
        if controller != old_spec.get("controller"):
            r.add([immutable("spec.controller", controller)])
    return r.causes


def _peer(r: Reader, peer: dict[str, Any], path: str) -> None:
    pod = r.obj(peer, "podSelector", f"{path}.podSelector")
    namespace = r.obj(peer, "namespaceSelector", f"{path}.namespaceSelector")
    block = r.obj(peer, "ipBlock", f"{path}.ipBlock")
    if pod is None and namespace is None and block is None:
        r.add([required(path, "must specify a peer")])
    elif block is not None and (pod is not None or namespace is not None):
        r.add([forbidden(path, "may not specify both ipBlock and another peer")])
    for selector, name in ((pod, "podSelector"), (namespace, "namespaceSelector")):
        if selector is not None:
            labels.validate_selector(r, selector, f"{path}.{name}")
    if block is not None:
        cidr = r.text(block, "cidr", f"{path}.ipBlock.cidr")
        if not cidr:
            r.add([required(f"{path}.ipBlock.cidr")])
            return
        causes = formats.cidr(f"{path}.ipBlock.cidr", cidr)
        r.add(causes)
        if causes:
            return
        network = ipaddress.ip_network(cidr, strict=False)
        for k, value in r.texts(block, "except", f"{path}.ipBlock.except"):
            at = f"{path}.ipBlock.except[{k}]"
            bad = formats.cidr(at, value)
            r.add(bad)
            if bad:
                continue
            inner = ipaddress.ip_network(value, strict=False)
            if inner.version != network.version or not inner.subnet_of(network) or inner == network:  # type: ignore[arg-type]
                r.add([invalid(at, value, "must be a strict subset of `cidr`")])


def _policy_ports(r: Reader, rule: dict[str, Any], path: str) -> None:
    for i, port in r.objects(rule, "ports", f"{path}.ports"):
        at = f"{path}.ports[{i}]"
        protocol = r.text(port, "protocol", f"{at}.protocol")
        if protocol and protocol not in PROTOCOLS:
            r.add([not_supported(f"{at}.protocol", protocol, PROTOCOLS)])
        value = port.get("port")
        if isinstance(value, int | str) and not isinstance(value, bool):
            r.add(formats.port_number_or_name(f"{at}.port", value))
        end = r.integer(port, "endPort", f"{at}.endPort")
        if end is not None:
            if not isinstance(value, int):
                r.add([required(f"{at}.port", "must specify port when endPort is specified")])
            elif end < value:
                r.add([invalid(f"{at}.endPort", end, "must be greater than or equal to `port`")])


def validate_networkpolicy(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    labels.validate_selector(r, r.obj(spec, "podSelector", "spec.podSelector") or {}, "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in r.objects(spec, direction, f"spec.{direction}"):
            at = f"spec.{direction}[{i}]"
            _policy_ports(r, rule, at)
            for j, peer in r.objects(rule, peers, f"{at}.{peers}"):
                _peer(r, peer, f"{at}.{peers}[{j}]")
    types = r.texts(spec, "policyTypes", "spec.policyTypes")
    for i, kind in types:
        if kind not in _POLICY_TYPES:
            r.add([not_supported(f"spec.policyTypes[{i}]", kind, _POLICY_TYPES)])
    if len(types) > 2:
        r.add([invalid("spec.policyTypes", [t for _, t in types], "may not specify more than two policyTypes")])
    return r.causes
