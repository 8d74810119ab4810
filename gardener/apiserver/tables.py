"""Server-side printing for `kubectl get`: meta.k8s.io Table responses with kube's columns and cells.

Built-in kinds get the columns kube-apiserver's printers produce (pkg/printers/internalversion), all of
them including the `-o wide` ones (priority 1), as the real server always renders wide rows and lets
kubectl hide them. Custom resources get NAME plus their additionalPrinterColumns, or NAME and AGE.
Kinds without a printer get the generic NAME / CREATED AT table (Role, ClusterRole, CRDs).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from gardener.apiserver.resources import ResourceInfo

TABLE_V1 = "meta.k8s.io/v1"
TABLE_V1BETA1 = "meta.k8s.io/v1beta1"

_NAME_DESC = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
    "for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DESC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
_CONTAINERS_DESC = "Names of each container in the template."
_IMAGES_DESC = "Images referenced by each container in the template."


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def to_table(
    info: ResourceInfo,
    objects: list[dict[str, Any]],
    *,
    include_object: str = "Metadata",
    resource_version: str = "",
    continue_token: str = "",
    remaining_item_count: int | None = None,
    api_version: str = TABLE_V1,
    headers: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Render `objects` (one GET result or a LIST page) of resource `info` as a Table.

    `include_object` is the request's includeObject: "Metadata" (default) puts a PartialObjectMetadata in
    each row, "Object" the whole object, "None" nothing. `api_version` is the Table version the client
    asked for (see `parse_table_accept`); the PartialObjectMetadata rows follow it. `headers=False`
    leaves columnDefinitions empty, as kube does for the watch events after the first.
    """
    moment = now or datetime.now(UTC)
    columns, cells_of = _printer_for(info)
    rows: list[dict[str, Any]] = []
    for obj in objects:
        row: dict[str, Any] = {"cells": cells_of(obj, moment)}
        conditions = _row_conditions(info, obj)
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": api_version,
                "metadata": obj.get("metadata") or {},
            }
        rows.append(row)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining_item_count is not None:
        metadata["remainingItemCount"] = remaining_item_count
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": [dict(c) for c in columns] if headers else [],
        "rows": rows,
    }


def parse_table_accept(accept: str) -> tuple[bool, str]:
    """Does the Accept header ask for a Table we can serve? Returns (True, Table apiVersion) or (False, "").

    Only JSON Tables of meta.k8s.io v1 or v1beta1 count. Media ranges are weighed by `q`, earlier ones
    win ties; a plain JSON range that outranks every Table range means "send the plain object".
    """
    best: tuple[float, int, str] | None = None
    for index, item in enumerate(accept.split(",")):
        parts = [p.strip() for p in item.split(";")]
        mime = parts[0].lower()
        params: dict[str, str] = {}
        for p in parts[1:]:
            key, sep, value = p.partition("=")
            if sep:
                params[key.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 1.0
        if q <= 0 or mime not in ("application/json", "application/*", "*/*"):
            continue
        as_ = params.get("as", "")
        if as_ == "Table":
            version = params.get("v", "")
            if params.get("g") != "meta.k8s.io" or version not in ("v1", "v1beta1"):
                continue
            choice = f"meta.k8s.io/{version}"
        elif as_:
            continue
        else:
            choice = ""
        if best is None or q > best[0]:
            best = (q, index, choice)
    if best is None or not best[2]:
        return False, ""
    return True, best[2]


def human_duration(delta: timedelta) -> str:
    """kube's duration.HumanDuration: about two significant figures (5s, 3m2s, 4h, 2d3h, 3y)."""
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    seconds = int(micros / 1_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def evaluate_json_path(obj: Any, path: str) -> Any:
    """First value the kubectl JSONPath `path` selects in `obj`, or None when it selects nothing.

    Supports what CRD additionalPrinterColumns use: `.a.b`, `['a.b']`, `.a\\.b`, `[0]`, `[-1]`, `[1:3]`,
    `[*]`, `.*`, `..a` and filters `[?(@.type=="Ready")]` (==, !=, <, <=, >, >=, or bare `@.x` for
    presence). The path may be wrapped in `{}` and start with `$`. Like kube's table convertor, only
    the first match counts. Raises ValueError on a malformed path.
    """
    for value in _select(obj, _parse_path(path)):
        return value
    return None


# --------------------------------------------------------------------------------------------------
# Formatting helpers shared by the printers
# --------------------------------------------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _since(value: Any, now: datetime) -> str:
    """translateTimestampSince: "<unknown>" for a missing timestamp, else the human age."""
    when = _parse_time(value)
    if when is None:
        return "<unknown>"
    return human_duration(now - when)


def _age(obj: dict[str, Any], now: datetime) -> str:
    return _since(_get(obj, "metadata", "creationTimestamp"), now)


def _name(obj: dict[str, Any]) -> str:
    return str(_get(obj, "metadata", "name") or "")


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return default


def format_labels(labels: Any) -> str:
    """labels.FormatLabels: "k=v,..." sorted by key, "<none>" when empty."""
    items = _dict(labels)
    if not items:
        return "<none>"
    return ",".join(f"{k}={items[k]}" for k in sorted(items))


def format_label_selector(selector: Any, *, empty: str = "<none>") -> str:
    """metav1.LabelSelector as a string ("a=b,c in (d,e),!f"); `empty` when it selects everything/nothing."""
    sel = _dict(selector)
    reqs: list[tuple[str, str]] = []
    for key, value in _dict(sel.get("matchLabels")).items():
        reqs.append((key, f"{key}={value}"))
    for expr in _list(sel.get("matchExpressions")):
        e = _dict(expr)
        key, op = str(e.get("key", "")), e.get("operator")
        values = ",".join(sorted(str(v) for v in _list(e.get("values"))))
        if op == "In":
            reqs.append((key, f"{key} in ({values})"))
        elif op == "NotIn":
            reqs.append((key, f"{key} notin ({values})"))
        elif op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, f"!{key}"))
        else:
            return "<error>"
    text = ",".join(r for _, r in sorted(reqs, key=lambda r: r[0]))
    return text or empty


def _container_cells(pod_spec: Any) -> tuple[str, str]:
    containers = [_dict(c) for c in _list(_dict(pod_spec).get("containers"))]
    return ",".join(str(c.get("name", "")) for c in containers), ",".join(str(c.get("image", "")) for c in containers)


def _template_spec(obj: dict[str, Any]) -> Any:
    return _get(obj, "spec", "template", "spec")


def _go_float(value: float) -> str:
    """fmt.Sprint of a float64 (Go's %v): shortest digits, exponent form below 1e-4 and from 1e6 up."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    point = len(text) + exponent  # position of the decimal point within the digits
    exp10 = point - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:  # strconv "shortest %g" switches to %e at precision 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def _go_json(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _jsonpath_text(value: Any) -> str | None:
    """How kube's jsonpath prints one result: JSON for maps and lists, Go's %v for scalars."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return _go_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


# --------------------------------------------------------------------------------------------------
# Columns and printers
# --------------------------------------------------------------------------------------------------

Cells = Callable[[dict[str, Any], datetime], list[Any]]


def _col(name: str, desc: str, type_: str = "string", *, priority: int = 0, fmt: str = "") -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": desc, "priority": priority}


_NAME = _col("Name", _NAME_DESC, fmt="name")
_AGE = _col("Age", _AGE_DESC)


@dataclass(frozen=True)
class _Printer:
    columns: tuple[dict[str, Any], ...]
    cells: Cells


def _printer_for(info: ResourceInfo) -> tuple[tuple[dict[str, Any], ...], Cells]:
    if info.is_custom:
        return _custom_printer(info)
    printer = _BUILTIN_PRINTERS.get((info.group, info.kind))
    if printer is None:
        from gardener.apiserver import tables_builtin  # the rarer kinds, loaded once one is printed

        printer = tables_builtin.PRINTERS.get((info.group, info.kind))
    if printer is None:
        return _DEFAULT_PRINTER.columns, _DEFAULT_PRINTER.cells
    return printer.columns, printer.cells


def _row_conditions(info: ResourceInfo, obj: dict[str, Any]) -> list[dict[str, str]]:
    if info.is_custom or info.group or info.kind != "Pod":
        return []
    phase = _get(obj, "status", "phase")
    if phase == "Succeeded":
        message = "The pod has completed successfully."
    elif phase == "Failed":
        message = "The pod failed."
    else:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}]


# -- custom resources ------------------------------------------------------------------------------


def _custom_printer(info: ResourceInfo) -> tuple[tuple[dict[str, Any], ...], Cells]:
    specs: list[tuple[str, str, str]] = []  # (type, json path, name)
    columns = [_NAME]
    printer_columns = info.printer_columns
    if not printer_columns:
        columns.append(_col("Age", _AGE_DESC, "date"))
        specs.append(("date", ".metadata.creationTimestamp", "Age"))
    for pc in printer_columns:
        desc = pc.description or f"Custom resource definition column (in JSONPath format): {pc.json_path}"
        columns.append(_col(pc.name, desc, pc.type, priority=pc.priority, fmt=pc.format))
        specs.append((pc.type, pc.json_path, pc.name))
    parsed: list[tuple[str, list[_Step] | None]] = []
    for type_, json_path, _ in specs:
        try:
            parsed.append((type_, _parse_path(json_path)))
        except ValueError:
            parsed.append((type_, None))

    def cells(obj: dict[str, Any], now: datetime) -> list[Any]:
        row: list[Any] = [_name(obj)]
        for type_, steps in parsed:
            value = None if steps is None else next(iter(_select(obj, steps)), None)
            row.append(_custom_cell(type_, value, now))
        return row

    return tuple(columns), cells


def _custom_cell(type_: str, value: Any, now: datetime) -> Any:
    """apiextensions' cellForJSONValue (and jsonpath text for string columns)."""
    if value is None:
        return None
    if type_ == "string":
        return _jsonpath_text(value)
    if type_ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value):
            return int(value)
        return None
    if type_ == "number":
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value)
        return None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        if not isinstance(value, str):
            return None
        if value in ("", "null"):
            return "<unknown>"
        when = _parse_time(value)
        if when is None or not re.fullmatch(
            r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value
        ):
            return "<invalid>"
        return human_duration(now - when)
    return None


# -- generic (rest.DefaultTableConvertor) ------------------------------------------------------------


def _default_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    created = _parse_time(_get(obj, "metadata", "creationTimestamp"))
    moment = (created or datetime(1, 1, 1, tzinfo=UTC)).astimezone(UTC).replace(microsecond=0, tzinfo=None)
    stamp = moment.isoformat() + "Z"  # Go's time.RFC3339 of the UTC time
    return [_name(obj), stamp]


_DEFAULT_PRINTER = _Printer((_NAME, _col("Created At", _AGE_DESC, "date")), _default_cells)


# -- core/v1 ---------------------------------------------------------------------------------------


def _namespace(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), str(_get(obj, "status", "phase") or ""), _age(obj, now)]


def _configmap(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), len(_dict(obj.get("data"))) + len(_dict(obj.get("binaryData"))), _age(obj, now)]


def _secret(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), str(obj.get("type") or ""), len(_dict(obj.get("data"))), _age(obj, now)]


def _service_account(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), len(_list(obj.get("secrets"))), _age(obj, now)]


def _service_external_ip(spec: dict[str, Any], status: dict[str, Any]) -> str:
    external = [str(ip) for ip in _list(spec.get("externalIPs"))]
    svc_type = spec.get("type") or "ClusterIP"
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        found: set[str] = set()
        for ingress in _list(_get(status, "loadBalancer", "ingress")):
            ing = _dict(ingress)
            if ing.get("ip"):
                found.add(str(ing["ip"]))
            elif ing.get("hostname"):
                found.add(str(ing["hostname"]))
        lb = sorted(found)
        if external:
            return ",".join(lb + external)
        return ",".join(lb) if lb else "<pending>"
    if svc_type == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    cluster_ips = _list(spec.get("clusterIPs"))
    cluster_ip = str(cluster_ips[0]) if cluster_ips else str(spec.get("clusterIP") or "") or "<none>"
    ports = []
    for port in _list(spec.get("ports")):
        p = _dict(port)
        protocol = p.get("protocol") or "TCP"
        if _int(p.get("nodePort")) > 0:
            ports.append(f"{_int(p.get('port'))}:{_int(p.get('nodePort'))}/{protocol}")
        else:
            ports.append(f"{_int(p.get('port'))}/{protocol}")
    return [
        _name(obj),
        str(spec.get("type") or "ClusterIP"),
        cluster_ip,
        _service_external_ip(spec, status),
        ",".join(ports) or "<none>",
        _age(obj, now),
        format_labels(spec.get("selector")),
    ]


def _format_endpoints(obj: dict[str, Any]) -> str:
    subsets = _list(obj.get("subsets"))
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, count, more = 3, 0, False
    for subset in subsets:
        ss = _dict(subset)
        addresses = [str(_dict(a).get("ip", "")) for a in _list(ss.get("addresses"))]
        ports = [_dict(p) for p in _list(ss.get("ports"))]
        if not ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(ip)
            continue
        for port in ports:
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    more = True
                    break
                host = f"[{ip}]" if ":" in ip else ip
                shown.append(f"{host}:{_int(port.get('port'))}")
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def _endpoints(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _format_endpoints(obj), _age(obj, now)]


def _event_view(obj: dict[str, Any], *, events_v1: bool) -> dict[str, Any]:
    """The core/v1 field names of an Event, from either core/v1 or events.k8s.io/v1."""
    if not events_v1:
        return obj
    return {
        "metadata": obj.get("metadata"),
        "involvedObject": obj.get("regarding"),
        "message": obj.get("note"),
        "reason": obj.get("reason"),
        "type": obj.get("type"),
        "firstTimestamp": obj.get("deprecatedFirstTimestamp"),
        "lastTimestamp": obj.get("deprecatedLastTimestamp"),
        "count": obj.get("deprecatedCount"),
        "source": obj.get("deprecatedSource"),
        "eventTime": obj.get("eventTime"),
        "series": obj.get("series"),
        "reportingComponent": obj.get("reportingController"),
        "reportingInstance": obj.get("reportingInstance"),
    }


def _event_cells(obj: dict[str, Any], now: datetime, *, events_v1: bool) -> list[Any]:
    ev = _event_view(obj, events_v1=events_v1)
    first = _since(ev.get("firstTimestamp"), now)
    if _parse_time(ev.get("firstTimestamp")) is None:
        first = _since(ev.get("eventTime"), now)
    last = first if _parse_time(ev.get("lastTimestamp")) is None else _since(ev.get("lastTimestamp"), now)
    count = _int(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, dict):
        last = _since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    involved = _dict(ev.get("involvedObject"))
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = _dict(ev.get("source"))
    component = str(source.get("component") or ev.get("reportingComponent") or "")
    host = str(source.get("host") or ev.get("reportingInstance") or "")
    return [
        last,
        str(ev.get("type") or ""),
        str(ev.get("reason") or ""),
        target,
        str(involved.get("fieldPath") or ""),
        f"{component}, {host}" if host else component,
        str(ev.get("message") or "").strip(),
        first,
        count,
        _name(obj),
    ]


def _node(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = _dict(obj.get("status"))
    states: list[str] = []
    for cond in _list(status.get("conditions")):
        c = _dict(cond)
        if c.get("type") == "Ready":
            states = ["Ready" if c.get("status") == "True" else "NotReady"]
    if not states:
        states = ["Unknown"]
    if _get(obj, "spec", "unschedulable") is True:
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for key, value in _dict(_get(obj, "metadata", "labels")).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/") :]:
            roles.add(key[len("node-role.kubernetes.io/") :])
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    info = _dict(status.get("nodeInfo"))

    def address(kind: str) -> str:
        for a in _list(status.get("addresses")):
            if _dict(a).get("type") == kind:
                return str(_dict(a).get("address", ""))
        return "<none>"

    return [
        _name(obj),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _age(obj, now),
        str(info.get("kubeletVersion") or ""),
        address("InternalIP"),
        address("ExternalIP"),
        str(info.get("osImage") or "<unknown>"),
        str(info.get("kernelVersion") or "<unknown>"),
        str(info.get("containerRuntimeVersion") or "<unknown>"),
    ]


def _restartable(container: Any) -> bool:
    return _dict(container).get("restartPolicy") == "Always"


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    when = _parse_time(candidate)
    if when is None:
        return current
    return when if current is None or current < when else current


def _pod_cells(pod: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _dict(pod.get("spec")), _dict(pod.get("status"))
    init_specs = [_dict(c) for c in _list(spec.get("initContainers"))]
    init_by_name = {c.get("name"): c for c in init_specs}
    total = len(_list(spec.get("containers"))) + sum(1 for c in init_specs if _restartable(c))
    ready = restarts = restartable_restarts = 0
    last_restart: datetime | None = None
    last_restartable_restart: datetime | None = None
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or "") or phase
    for cond in _list(status.get("conditions")):
        if _dict(cond).get("type") == "PodScheduled" and _dict(cond).get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    for i, item in enumerate(_list(status.get("initContainerStatuses"))):
        cs = _dict(item)
        restarts += _int(cs.get("restartCount"))
        finished = _get(cs, "lastState", "terminated", "finishedAt")
        last_restart = _later(last_restart, finished)
        is_restartable = _restartable(init_by_name.get(cs.get("name")))
        if is_restartable:
            restartable_restarts += _int(cs.get("restartCount"))
            last_restartable_restart = _later(last_restartable_restart, finished)
        state = _dict(cs.get("state"))
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(terminated, dict) and _int(terminated.get("exitCode")) == 0:
            continue
        if is_restartable and cs.get("started") is True:
            if cs.get("ready") is True:
                ready += 1
            continue
        if isinstance(terminated, dict):
            if not terminated.get("reason"):
                if _int(terminated.get("signal")):
                    reason = f"Init:Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
            else:
                reason = f"Init:{terminated['reason']}"
        elif isinstance(waiting, dict) and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    conditions = [_dict(c) for c in _list(status.get("conditions"))]
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts, last_restart = restartable_restarts, last_restartable_restart
        has_running = False
        for item in reversed(_list(status.get("containerStatuses"))):
            cs = _dict(item)
            restarts += _int(cs.get("restartCount"))
            last_restart = _later(last_restart, _get(cs, "lastState", "terminated", "finishedAt"))
            state = _dict(cs.get("state"))
            terminated, waiting = state.get("terminated"), state.get("waiting")
            if isinstance(waiting, dict) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(terminated, dict) and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif isinstance(terminated, dict):
                if _int(terminated.get("signal")):
                    reason = f"Signal:{_int(terminated.get('signal'))}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif cs.get("ready") is True and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"

    if _get(pod, "metadata", "deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif _get(pod, "metadata", "deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"

    pod_ips = _list(status.get("podIPs"))
    pod_ip = str(_dict(pod_ips[0]).get("ip") or "") if pod_ips else str(status.get("podIP") or "")
    gates = "<none>"
    if _list(spec.get("readinessGates")):
        true_count = 0
        for gate in _list(spec.get("readinessGates")):
            wanted = _dict(gate).get("conditionType")
            for c in conditions:
                if c.get("type") == wanted:
                    true_count += c.get("status") == "True"
                    break
        gates = f"{true_count}/{len(_list(spec.get('readinessGates')))}"
    return [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(pod, now),
        pod_ip or "<none>",
        str(spec.get("nodeName") or "") or "<none>",
        str(status.get("nominatedNodeName") or "") or "<none>",
        gates,
    ]


def _access_modes(modes: Any) -> str:
    present = {str(m) for m in _list(modes)}
    order = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))
    return ",".join(short for mode, short in order if mode in present)


def _pvc(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    phase = "Terminating" if _get(obj, "metadata", "deletionTimestamp") else str(status.get("phase") or "")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = _access_modes(status.get("accessModes"))
        capacity = str(_dict(status.get("capacity")).get("storage") or "0")
    storage_class = spec.get("storageClassName")
    if storage_class is None:
        storage_class = _get(obj, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class")
    return [
        _name(obj),
        phase,
        str(spec.get("volumeName") or ""),
        capacity,
        modes,
        str(storage_class or ""),
        str(spec.get("volumeAttributesClassName") or "<unset>"),
        _age(obj, now),
        str(spec.get("volumeMode") or "<unset>"),
    ]


# -- apps, batch -----------------------------------------------------------------------------------


def _replicas(obj: dict[str, Any]) -> int:
    """spec.replicas as the defaulted internal object has it (absent means 1)."""
    value = _get(obj, "spec", "replicas")
    return 1 if value is None else _int(value)


def _deployment(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = _dict(obj.get("status"))
    names, images = _container_cells(_template_spec(obj))
    return [
        _name(obj),
        f"{_int(status.get('readyReplicas'))}/{_replicas(obj)}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        _age(obj, now),
        names,
        images,
        format_label_selector(_get(obj, "spec", "selector"), empty=""),
    ]


def _statefulset(obj: dict[str, Any], now: datetime) -> list[Any]:
    names, images = _container_cells(_template_spec(obj))
    return [_name(obj), f"{_int(_get(obj, 'status', 'readyReplicas'))}/{_replicas(obj)}", _age(obj, now), names, images]


def _daemonset(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = _dict(obj.get("status"))
    names, images = _container_cells(_template_spec(obj))
    return [
        _name(obj),
        _int(status.get("desiredNumberScheduled")),
        _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")),
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
        format_labels(_get(obj, "spec", "template", "spec", "nodeSelector")),
        _age(obj, now),
        names,
        images,
        format_label_selector(_get(obj, "spec", "selector")),
    ]


def _replica_cells(obj: dict[str, Any], now: datetime, *, selector: str) -> list[Any]:
    """A ReplicaSet's or a ReplicationController's row; they differ only in how the selector is spelled."""
    status = _dict(obj.get("status"))
    names, images = _container_cells(_template_spec(obj))
    return [
        _name(obj),
        _replicas(obj),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        _age(obj, now),
        names,
        images,
        selector,
    ]


def _replicaset(obj: dict[str, Any], now: datetime) -> list[Any]:
    return _replica_cells(obj, now, selector=format_label_selector(_get(obj, "spec", "selector")))


def _job(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    succeeded = _int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec.get('completions'))}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {_int(spec.get('parallelism'))}"
    else:
        completions = f"{succeeded}/1"
    start, end = _parse_time(status.get("startTime")), _parse_time(status.get("completionTime"))
    duration = ""
    if start is not None:
        duration = human_duration((end or now) - start)
    conditions = {
        str(_dict(c).get("type")): _dict(c).get("status") == "True" for c in reversed(_list(status.get("conditions")))
    }
    if conditions.get("Complete"):
        state = "Complete"
    elif conditions.get("Failed"):
        state = "Failed"
    elif _get(obj, "metadata", "deletionTimestamp"):
        state = "Terminating"
    elif conditions.get("Suspended"):
        state = "Suspended"
    elif conditions.get("FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = _container_cells(_template_spec(obj))
    selector = format_label_selector(spec.get("selector"))
    return [_name(obj), state, completions, duration, _age(obj, now), names, images, selector]


# -- coordination, rbac, certificates ---------------------------------------------------------------


def _lease(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), str(_get(obj, "spec", "holderIdentity") or ""), _age(obj, now)]


def _binding(obj: dict[str, Any], now: datetime) -> list[Any]:
    ref = _dict(obj.get("roleRef"))
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in _list(obj.get("subjects")):
        s = _dict(subject)
        if s.get("kind") == "ServiceAccount":
            accounts.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif s.get("kind") == "User":
            users.append(str(s.get("name", "")))
        elif s.get("kind") == "Group":
            groups.append(str(s.get("name", "")))
    return [
        _name(obj),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _csr(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    types = {_dict(c).get("type") for c in _list(status.get("conditions"))}
    state = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        state += ",Failed"
    if status.get("certificate"):
        state += ",Issued"
    expiration = spec.get("expirationSeconds")
    requested = "<none>" if expiration is None else human_duration(timedelta(seconds=_int(expiration)))
    return [
        _name(obj),
        _age(obj, now),
        str(spec.get("signerName") or "<none>"),
        str(spec.get("username") or ""),
        requested,
        state,
    ]


def _workload_columns(*middle: dict[str, Any], selector: bool = True) -> tuple[dict[str, Any], ...]:
    wide = [_col("Containers", _CONTAINERS_DESC, priority=1), _col("Images", _IMAGES_DESC, priority=1)]
    if selector:
        wide.append(_col("Selector", "A label query over pods that should match the replica count.", priority=1))
    return (_NAME, *middle, *wide)


def _binding_columns(what: str) -> tuple[dict[str, Any], ...]:
    return (
        _NAME,
        _col("Role", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace."),
        _AGE,
        _col("Users", f"Users in the {what}", priority=1),
        _col("Groups", f"Groups in the {what}", priority=1),
        _col("ServiceAccounts", f"ServiceAccounts in the {what}", priority=1),
    )


_EVENT_COLUMNS = (
    _col("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    _col("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
    _col("Reason", "This should be a short, machine understandable string that gives the reason."),
    _col("Object", "The object that this event is about."),
    _col("Subobject", "If referring to a piece of an object instead of an entire object.", priority=1),
    _col("Source", "The component reporting this event.", priority=1),
    _col("Message", "A human-readable description of the status of this operation."),
    _col("First Seen", "The time at which the event was first recorded.", priority=1),
    _col("Count", "The number of times this event has occurred.", priority=1),
    _col("Name", _NAME_DESC, priority=1, fmt="name"),
)

_BUILTIN_PRINTERS: dict[tuple[str, str], _Printer] = {
    ("", "Namespace"): _Printer((_NAME, _col("Status", "The status of the namespace"), _AGE), _namespace),
    ("", "ConfigMap"): _Printer((_NAME, _col("Data", "Data contains the configuration data."), _AGE), _configmap),
    ("", "Secret"): _Printer(
        (
            _NAME,
            _col("Type", "Used to facilitate programmatic handling of secret data."),
            _col("Data", "Data contains the secret data."),
            _AGE,
        ),
        _secret,
    ),
    ("", "ServiceAccount"): _Printer(
        (_NAME, _col("Secrets", "Secrets is a list of the secrets in the same namespace."), _AGE), _service_account
    ),
    ("", "Service"): _Printer(
        (
            _NAME,
            _col("Type", "type determines how the Service is exposed. Defaults to ClusterIP."),
            _col("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly."),
            _col("External-IP", "externalIPs is a list of IP addresses for which nodes will also accept traffic."),
            _col("Port(s)", "The list of ports that are exposed by this service."),
            _AGE,
            _col(
                "Selector",
                "Route service traffic to pods with label keys and values matching this selector.",
                priority=1,
            ),
        ),
        _service,
    ),
    ("", "Endpoints"): _Printer(
        (_NAME, _col("Endpoints", "The set of all endpoints is the union of all subsets."), _AGE), _endpoints
    ),
    ("", "Event"): _Printer(_EVENT_COLUMNS, lambda obj, now: _event_cells(obj, now, events_v1=False)),
    ("", "Node"): _Printer(
        (
            _NAME,
            _col("Status", "The status of the node"),
            _col("Roles", "The roles of the node"),
            _AGE,
            _col("Version", "Kubelet Version reported by the node."),
            _col("Internal-IP", "List of addresses reachable to the node.", priority=1),
            _col("External-IP", "List of addresses reachable to the node.", priority=1),
            _col("OS-Image", "OS Image reported by the node from /etc/os-release.", priority=1),
            _col("Kernel-Version", "Kernel Version reported by the node from 'uname -r'.", priority=1),
            _col("Container-Runtime", "ContainerRuntime Version reported by the node.", priority=1),
        ),
        _node,
    ),
    ("", "Pod"): _Printer(
        (
            _NAME,
            _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
            _col("Status", "The aggregate status of the containers in this pod."),
            _col(
                "Restarts",
                "The number of times the containers in this pod have been restarted and when the last container "
                "in this pod has restarted.",
            ),
            _AGE,
            _col("IP", "podIP address allocated to the pod.", priority=1),
            _col("Node", "NodeName indicates in which node this pod is scheduled.", priority=1),
            _col("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods.", priority=1),
            _col(
                "Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness.", priority=1
            ),
        ),
        _pod_cells,
    ),
    ("", "PersistentVolumeClaim"): _Printer(
        (
            _NAME,
            _col("Status", "phase represents the current phase of PersistentVolumeClaim."),
            _col("Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."),
            _col("Capacity", "capacity represents the actual resources of the underlying volume."),
            _col("Access Modes", "accessModes contains the actual access modes the volume backing the PVC has."),
            _col("StorageClass", "StorageClass of the pvc"),
            _col("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
            _AGE,
            _col("VolumeMode", "volumeMode defines what type of volume is required by the claim.", priority=1),
        ),
        _pvc,
    ),
    ("apps", "Deployment"): _Printer(
        _workload_columns(
            _col("Ready", "Number of the pod with ready state"),
            _col("Up-to-date", "Total number of non-terminating pods that have the desired template spec."),
            _col("Available", "Total number of available non-terminating pods targeted by this deployment."),
            _AGE,
        ),
        _deployment,
    ),
    ("apps", "StatefulSet"): _Printer(
        _workload_columns(_col("Ready", "Number of the pod with ready state"), _AGE, selector=False), _statefulset
    ),
    ("apps", "DaemonSet"): _Printer(
        _workload_columns(
            _col("Desired", "The total number of nodes that should be running the daemon pod.", "integer"),
            _col("Current", "The number of nodes that are running at least 1 daemon pod.", "integer"),
            _col("Ready", "The number of nodes running the daemon pod with a Ready Condition.", "integer"),
            _col("Up-to-date", "The total number of nodes that are running updated daemon pod", "integer"),
            _col("Available", "The number of nodes running the daemon pod and available.", "integer"),
            _col("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node."),
            _AGE,
        ),
        _daemonset,
    ),
    ("apps", "ReplicaSet"): _Printer(
        _workload_columns(
            _col("Desired", "Replicas is the number of desired pods.", "integer"),
            _col("Current", "Replicas is the most recently observed number of non-terminating pods.", "integer"),
            _col("Ready", "The number of non-terminating pods targeted by this ReplicaSet that are ready.", "integer"),
            _AGE,
        ),
        _replicaset,
    ),
    ("batch", "Job"): _Printer(
        _workload_columns(
            _col("Status", "Status of the job."),
            _col("Completions", "The number of pods which reached phase Succeeded."),
            _col("Duration", "Time required to complete the job."),
            _AGE,
        ),
        _job,
    ),
    ("coordination.k8s.io", "Lease"): _Printer(
        (_NAME, _col("Holder", "holderIdentity contains the identity of the holder of a current lease."), _AGE), _lease
    ),
    # events.k8s.io/v1 Events print through the core/v1 printer in kube, with the same columns.
    ("events.k8s.io", "Event"): _Printer(_EVENT_COLUMNS, lambda obj, now: _event_cells(obj, now, events_v1=True)),
    ("rbac.authorization.k8s.io", "RoleBinding"): _Printer(_binding_columns("roleBinding"), _binding),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _Printer(_binding_columns("clusterRoleBinding"), _binding),
    ("certificates.k8s.io", "CertificateSigningRequest"): _Printer(
        (
            _NAME,
            _AGE,
            _col("SignerName", "signerName indicates the requested signer, and is a qualified name."),
            _col("Requestor", "The user that created the request."),
            _col("RequestedDuration", "expirationSeconds is the requested duration of validity of the certificate."),
            _col("Condition", 'Known conditions are "Approved", "Denied", and "Failed".'),
        ),
        _csr,
    ),
}


# --------------------------------------------------------------------------------------------------
# JSONPath
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    #: "field", "recurse", "wildcard", "index", "slice" or "filter"
    op: str
    name: str = ""
    index: int = 0
    slice_: tuple[int | None, int | None, int | None] = (None, None, None)
    #: filter: (left path, operator or "", right literal or path)
    left: tuple[_Step, ...] = ()
    operator: str = ""
    right: Any = None
    right_path: tuple[_Step, ...] | None = None


_FILTER_OPS = ("==", "!=", "<=", ">=", "<", ">")


def _parse_path(path: str) -> list[_Step]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    if text.startswith("@"):
        text = text[1:]
    steps: list[_Step] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == ".":
            if text.startswith("..", i):
                steps.append(_Step("recurse"))
                i += 2
                if i < len(text) and text[i] == "[":
                    continue
            else:
                i += 1
            if i < len(text) and text[i] == "*":
                steps.append(_Step("wildcard"))
                i += 1
                continue
            name, i = _read_field(text, i)
            if not name:
                if i >= len(text) and not steps:
                    break  # "." alone selects the object itself
                raise ValueError(f"invalid JSONPath {path!r}: empty field name")
            steps.append(_Step("field", name=name))
        elif ch == "[":
            end = _matching_bracket(text, i)
            steps.extend(_parse_bracket(text[i + 1 : end].strip(), path))
            i = end + 1
        elif ch.isspace():
            i += 1
        else:
            raise ValueError(f"invalid JSONPath {path!r}: unexpected {ch!r}")
    return steps


def _read_field(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch in ".[" or ch.isspace():
            break
        out.append(ch)
        i += 1
    return "".join(out), i


def _matching_bracket(text: str, start: int) -> int:
    depth, quote, i = 0, "", start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"invalid JSONPath {text!r}: unclosed '['")


def _unquote(token: str) -> str | None:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return None


def _parse_bracket(inner: str, path: str) -> list[_Step]:
    if inner == "*":
        return [_Step("wildcard")]
    if inner.startswith("?"):
        expr = inner[1:].strip()
        if not (expr.startswith("(") and expr.endswith(")")):
            raise ValueError(f"invalid JSONPath {path!r}: bad filter {inner!r}")
        return [_parse_filter(expr[1:-1].strip(), path)]
    quoted = _unquote(inner)
    if quoted is not None:
        return [_Step("field", name=quoted)]
    if ":" in inner:
        parts = [p.strip() for p in inner.split(":")]
        if len(parts) > 3:
            raise ValueError(f"invalid JSONPath {path!r}: bad slice {inner!r}")
        try:
            nums = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
        except ValueError as exc:
            raise ValueError(f"invalid JSONPath {path!r}: bad slice {inner!r}") from exc
        return [_Step("slice", slice_=(nums[0], nums[1], nums[2]))]
    try:
        return [_Step("index", index=int(inner))]
    except ValueError:
        pass
    if re.fullmatch(r"[^\s'\"\[\]()]+", inner):
        return [_Step("field", name=inner)]
    raise ValueError(f"invalid JSONPath {path!r}: bad subscript {inner!r}")


def _split_filter(expr: str) -> tuple[str, str, str]:
    quote = ""
    i = 0
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        else:
            for op in _FILTER_OPS:
                if expr.startswith(op, i):
                    return expr[:i].strip(), op, expr[i + len(op) :].strip()
        i += 1
    return expr.strip(), "", ""


def _literal(token: str, path: str) -> Any:
    quoted = _unquote(token)
    if quoted is not None:
        return quoted
    if token in ("true", "false"):
        return token == "true"
    if token == "null":
        return None
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError as exc:
        raise ValueError(f"invalid JSONPath {path!r}: bad literal {token!r}") from exc


def _parse_filter(expr: str, path: str) -> _Step:
    left, op, right = _split_filter(expr)
    if not left.startswith("@"):
        if right.startswith("@") and op:
            flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
            left, op, right = right, flipped, left
        else:
            raise ValueError(f"invalid JSONPath {path!r}: filter must test '@'")
    left_steps = tuple(_parse_path(left[1:]) if left[1:] else ())
    if not op:
        return _Step("filter", left=left_steps)
    if right.startswith("@"):
        return _Step("filter", left=left_steps, operator=op, right_path=tuple(_parse_path(right[1:])))
    return _Step("filter", left=left_steps, operator=op, right=_literal(right, path))


def _descendants(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for child in value.values():
            yield from _descendants(child)
    elif isinstance(value, list):
        for child in value:
            yield from _descendants(child)


def _compare(left: Any, op: str, right: Any) -> bool:
    numeric = (
        isinstance(left, int | float)
        and isinstance(right, int | float)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    )
    if op == "==":
        return bool(left == right) if numeric or type(left) is type(right) else False
    if op == "!=":
        return not (bool(left == right) if numeric or type(left) is type(right) else False)
    if not numeric and not (isinstance(left, str) and isinstance(right, str)):
        return False
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _filter_match(item: Any, step: _Step) -> bool:
    found = list(_select(item, list(step.left)))
    if not found:
        return False
    if not step.operator:
        return True
    right = step.right
    if step.right_path is not None:
        matches = list(_select(item, list(step.right_path)))
        if not matches:
            return False
        right = matches[0]
    return _compare(found[0], step.operator, right)


def _apply(value: Any, step: _Step) -> Iterator[Any]:
    if step.op == "field":
        if isinstance(value, dict) and step.name in value:
            yield value[step.name]
    elif step.op == "wildcard":
        if isinstance(value, dict):
            yield from value.values()
        elif isinstance(value, list):
            yield from value
    elif step.op == "index":
        if isinstance(value, list) and -len(value) <= step.index < len(value):
            yield value[step.index]
    elif step.op == "slice":
        if isinstance(value, list):
            start, stop, stride = step.slice_
            yield from value[slice(start, stop, stride or None)]
    elif step.op == "filter":
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else []
        for item in items:
            if _filter_match(item, step):
                yield item


def _select(obj: Any, steps: list[_Step]) -> Iterator[Any]:
    current: list[Any] = [obj]
    for step in steps:
        if step.op == "recurse":
            current = [d for value in current for d in _descendants(value)]
            continue
        current = [out for value in current for out in _apply(value, step)]
        if not current:
            return
    yield from current
