"""discovery.k8s.io/v1 EndpointSlice (ValidateEndpointSlice, ValidateEndpointSliceUpdate)."""

from __future__ import annotations

import ipaddress
from typing import Any

from gardener.apiserver.builtin.validation import formats
from gardener.apiserver.builtin.validation.fields import (
    Reader,
    immutable,
    invalid,
    not_supported,
    one_of,
    required,
    too_many,
)
from gardener.apiserver.builtin.validation.pods import PROTOCOLS
from gardener.apiserver.errors import FieldCause

_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
_MAX_ADDRESSES = 100
_MAX_ENDPOINTS = 1000
_MAX_PORTS = 100


def _address(r: Reader, kind: str | None, value: str, path: str) -> None:
    if kind == "FQDN":
        r.add(formats.check(path, value, formats.dns1123_subdomain(value)))
        return
    version = 4 if kind == "IPv4" else 6
    try:
        ok = ipaddress.ip_address(value).version == version
    except ValueError:
        ok = False
    if not ok:
        r.add([invalid(path, value, f"must be a valid IPv{version} address")])


def validate_endpointslice(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    kind = one_of(r, obj, "addressType", "addressType", _ADDRESS_TYPES, need=True)
    if "addressType" not in obj:
        r.add([required("addressType")])
    endpoints = r.objects(obj, "endpoints", "endpoints")
    if len(endpoints) > _MAX_ENDPOINTS:
        r.add([too_many("endpoints", len(endpoints), _MAX_ENDPOINTS)])
    for i, endpoint in endpoints:
        at = f"endpoints[{i}].addresses"
        addresses = r.texts(endpoint, "addresses", at)
        if not addresses:
            r.add([required(at, "must contain at least 1 address")])
        elif len(addresses) > _MAX_ADDRESSES:
            r.add([too_many(at, len(addresses), _MAX_ADDRESSES)])
        for j, address in addresses:
            if kind in _ADDRESS_TYPES:
                _address(r, kind, address, f"{at}[{j}]")
    ports = r.objects(obj, "ports", "ports")
    if len(ports) > _MAX_PORTS:
        r.add([too_many("ports", len(ports), _MAX_PORTS)])
    names: set[str] = set()
    for i, port in ports:
        at = f"ports[{i}]"
        name = r.text(port, "name", f"{at}.name") or ""
        # an empty name is allowed once
        r.add(formats.unique_name(f"{at}.name", name, names, formats.dns1123_label(name) if name else []))
        protocol = r.text(port, "protocol", f"{at}.protocol")
        if protocol is not None and protocol not in PROTOCOLS:
            r.add([not_supported(f"{at}.protocol", protocol, PROTOCOLS)])
        number = r.integer(port, "port", f"{at}.port")
        if number is not None and number != 0:
            r.add(formats.check(f"{at}.port", number, formats.port_number(number)))
    if old is not None and obj.get("addressType") != old.get("addressType"):
        r.add([immutable("addressType", obj.get("addressType"))])
    return r.causes
