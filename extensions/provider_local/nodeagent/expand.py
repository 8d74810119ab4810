"""Container environments the Kubernetes way: env and envFrom, service variables, `$(VAR)` expansion.

Pure functions: the caller passes look-ups for Secrets and ConfigMaps, so the rules here are the
kubelet's rules and are tested without a server.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Lookup = Callable[[str], Obj | None]

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ConfigError(Exception):
    """The container cannot be configured yet (a missing Secret or key): kubelet's CreateContainerConfigError."""


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Kubernetes `$(VAR)` expansion: unknown references stay as written, `$$` escapes a `$`."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2 : close]
            value = lookup(name)
            out.append(value if value is not None else f"$({name})")
            i = close + 1
        else:
            out.append("$" + nxt)
            i += 2
    return "".join(out)


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(services: Iterable[Obj], *, address: Callable[[str], str] = str) -> dict[str, str]:
    """`<SVC>_SERVICE_HOST`/`_PORT` and the Docker-link variables for every Service with a cluster IP; `address`
    maps a cluster IP to where this node serves it."""
    env: dict[str, str] = {}
    for svc in sorted(services, key=lambda s: str(s["metadata"]["name"])):
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict) and isinstance(p.get("port"), int)]
        if not ip or ip == "None" or spec.get("type") == "ExternalName" or not ports:
            continue
        name = _env_name(str(svc["metadata"]["name"]))
        ip = address(str(ip))
        env[f"{name}_SERVICE_HOST"] = ip
        env[f"{name}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                env[f"{name}_SERVICE_PORT_{_env_name(str(port['name']))}"] = str(port["port"])
        first = ports[0]
        env[f"{name}_PORT"] = f"{str(first.get('protocol', 'TCP')).lower()}://{ip}:{first['port']}"
        for port in ports:
            proto = str(port.get("protocol", "TCP"))
            prefix = f"{name}_PORT_{port['port']}_{proto.upper()}"
            env[prefix] = f"{proto.lower()}://{ip}:{port['port']}"
            env[f"{prefix}_PROTO"] = proto.lower()
            env[f"{prefix}_PORT"] = str(port["port"])
            env[f"{prefix}_ADDR"] = ip
    return env


@dataclass(frozen=True)
class PodFields:
    """What the downward API may expose of a pod."""

    name: str
    namespace: str
    uid: str = ""
    pod_ip: str = ""
    host_ip: str = "127.0.0.1"
    node_name: str = ""
    service_account: str = "default"
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, pod: Obj, *, pod_ip: str, host_ip: str) -> PodFields:
        m, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        return cls(
            name=str(m.get("name", "")),
            namespace=str(m.get("namespace", "")),
            uid=str(m.get("uid", "")),
            pod_ip=pod_ip,
            host_ip=host_ip,
            node_name=str(spec.get("nodeName", "")),
            service_account=str(spec.get("serviceAccountName") or "default"),
            labels=dict(m.get("labels") or {}),
            annotations=dict(m.get("annotations") or {}),
        )


_MAP_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def field_value(path: str, pod: PodFields) -> str:
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "spec.nodeName": pod.node_name,
        "spec.serviceAccountName": pod.service_account,
        "status.podIP": pod.pod_ip,
        "status.podIPs": pod.pod_ip,
        "status.hostIP": pod.host_ip,
        "status.hostIPs": pod.host_ip,
    }
    if path in simple:
        return simple[path]
    if path in ("metadata.labels", "metadata.annotations"):
        values = pod.labels if path == "metadata.labels" else pod.annotations
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    match = _MAP_FIELD.match(path)
    if match:
        values = pod.labels if match.group(1) == "labels" else pod.annotations
        return values.get(match.group(2), "")
    raise ConfigError(f"unsupported fieldRef {path!r}")


def resource_value(ref: Mapping[str, Any], container: Mapping[str, Any]) -> str:
    """resourceFieldRef: the container's own limit or request, else this machine's capacity."""
    resource = str(ref.get("resource", ""))
    kind, _, name = resource.partition(".")
    declared = ((container.get("resources") or {}).get(kind) or {}).get(name)
    if declared is not None:
        return str(declared)
    if name == "cpu":
        return str(os.cpu_count() or 1)
    if name == "memory":
        return str(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return "0"


def decoded(obj: Obj, key: str, *, secret: bool) -> str | None:
    """A key of a ConfigMap (data/binaryData) or Secret (base64 data) as text."""
    if secret:
        raw = (obj.get("data") or {}).get(key)
        return None if raw is None else base64.b64decode(raw).decode("utf-8", errors="replace")
    if key in (obj.get("data") or {}):
        return str(obj["data"][key])
    raw = (obj.get("binaryData") or {}).get(key)
    return None if raw is None else base64.b64decode(raw).decode("utf-8", errors="replace")


def _key_ref(ref: Mapping[str, Any], lookup: Lookup, what: str) -> str | None:
    obj = lookup(str(ref.get("name", "")))
    value = decoded(obj, str(ref.get("key", "")), secret=what == "secret") if obj is not None else None
    if value is None and not ref.get("optional"):
        missing = (
            f"{what} {ref.get('name')!r}" if obj is None else f"key {ref.get('key')!r} in {what} {ref.get('name')!r}"
        )
        raise ConfigError(f"{missing} not found")
    return value


def container_env(
    container: Mapping[str, Any],
    *,
    pod: PodFields,
    secret: Lookup,
    configmap: Lookup,
    services: Mapping[str, str],
) -> dict[str, str]:
    """The container's environment in kubelet order: service variables, envFrom, then env with expansion."""
    env: dict[str, str] = dict(services)
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for ref_field, lookup, what in (("configMapRef", configmap, "configmap"), ("secretRef", secret, "secret")):
            ref = source.get(ref_field)
            if not ref:
                continue
            obj = lookup(str(ref.get("name", "")))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f"{what} {ref.get('name')!r} not found")
            for key in (obj.get("data") or {}) | (obj.get("binaryData") or {}):
                text = decoded(obj, key, secret=what == "secret")
                if text is not None and _ENV_NAME.match(prefix + key):
                    env[prefix + key] = text
    for var in container.get("env") or []:
        name = str(var.get("name", ""))
        value: str | None
        if "valueFrom" in var:
            source = var["valueFrom"] or {}
            if "secretKeyRef" in source:
                value = _key_ref(source["secretKeyRef"], secret, "secret")
            elif "configMapKeyRef" in source:
                value = _key_ref(source["configMapKeyRef"], configmap, "configmap")
            elif "fieldRef" in source:
                value = field_value(str(source["fieldRef"].get("fieldPath", "")), pod)
            elif "resourceFieldRef" in source:
                value = resource_value(source["resourceFieldRef"], container)
            else:
                raise ConfigError(f"env {name!r}: unsupported valueFrom")
            if value is None:
                continue
        else:
            value = expand(str(var.get("value") or ""), env.get)
        env[name] = value
    return env


def expand_all(items: Iterable[str], env: Mapping[str, str]) -> list[str]:
    return [expand(str(item), env.get) for item in items]
