"""Events of both groups (pkg/apis/core/validation/events.go): one internal Event, two request versions.

kube validates the internal Event, so a request through events.k8s.io/v1 is checked in its core/v1 form and
its causes name core fields (`involvedObject.namespace`, `message`, `firstTimestamp`). A core/v1 request
gets only the legacy rules, kept for old clients; events.k8s.io/v1 adds the strict ones (eventTime,
reporting controller and instance, action and the deprecated fields unset on create, most fields
immutable on update).
"""

from __future__ import annotations

from typing import Any

from gardener.apiserver import conversion
from gardener.apiserver.builtin.validation import formats
from gardener.apiserver.builtin.validation.fields import Reader, immutable, invalid, required, sub
from gardener.apiserver.errors import FieldCause

REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024
_TYPES = ("Normal", "Warning")
#: what an events.k8s.io/v1 create leaves unset (source is checked by its two fields)
_DEPRECATED = ("firstTimestamp", "lastTimestamp", "count")
#: core/v1 fields (internal names as kube's paths spell them) an events.k8s.io/v1 update may not change, in
#: kube's order
_IMMUTABLE = (
    ("involvedObject", "involvedObject"),
    ("reason", "reason"),
    ("message", "message"),
    ("source", "source"),
    ("firstTimestamp", "firstTimestamp"),
    ("lastTimestamp", "lastTimestamp"),
    ("count", "count"),
    ("type", "type"),
    ("eventTime", "eventTime"),
    ("action", "action"),
    ("related", "related"),
    ("reportingComponent", "reportingController"),
    ("reportingInstance", "reportingInstance"),
)


def validate_core_event(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    """A core/v1 request: the legacy rules only, on create and update alike."""
    r = Reader()
    causes = _legacy(r, obj)
    return r.causes + causes


def validate_events_v1_event(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    """An events.k8s.io/v1 request: the legacy rules and the strict ones, on the object's core/v1 form."""
    new = conversion.event_events_v1_to_core(obj)
    r = Reader()
    causes = _legacy(r, new)
    if old is None:
        causes += _strict_create(r, new)
        return r.causes + causes
    previous = conversion.event_events_v1_to_core(old)
    if new.get("series") != previous.get("series"):
        causes += _series(r, new)
    causes += [
        immutable(path, new.get(key)) for key, path in _IMMUTABLE if _value(new.get(key)) != _value(previous.get(key))
    ]
    return r.causes + causes


def _value(value: Any) -> Any:
    """None for Go's zero value: absent, null, "", 0 and an empty struct all decode to the same internal field."""
    return None if value in (None, "", 0, {}) else value


def _legacy(r: Reader, event: dict[str, Any]) -> list[FieldCause]:
    """legacyValidateEvent: the namespace agrees with the involved object's; new-style events name their reporter."""
    namespace = r.text(sub(event, "metadata"), "namespace", "metadata.namespace") or ""
    involved = r.obj(event, "involvedObject", "involvedObject") or {}
    involved_ns = r.text(involved, "namespace", "involvedObject.namespace") or ""
    causes: list[FieldCause] = []
    mismatch = invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if _value(event.get("eventTime")) is None:
        if not involved_ns:
            if namespace not in ("", "default"):
                causes.append(mismatch)
        elif namespace != involved_ns:
            causes.append(mismatch)
    else:
        if not involved_ns and namespace not in ("default", "kube-system"):
            causes.append(mismatch)
        controller = r.text(event, "reportingComponent", "reportingController") or ""
        if not controller:
            causes.append(required("reportingController"))
        causes += formats.check("reportingController", controller, formats.qualified_name(controller))
        causes += _bounded(r, event, "reportingInstance", REPORTING_INSTANCE_LIMIT, need=True)
        causes += _bounded(r, event, "action", ACTION_LIMIT, need=True)
        causes += _bounded(r, event, "reason", REASON_LIMIT, need=True)
        causes += _bounded(r, event, "message", NOTE_LIMIT, need=False)
    causes += formats.check("namespace", namespace, formats.dns1123_subdomain(namespace))
    return causes


def _bounded(r: Reader, event: dict[str, Any], key: str, limit: int, *, need: bool) -> list[FieldCause]:
    value = r.text(event, key, key) or ""
    causes = [required(key)] if need and not value else []
    if len(value) > limit:
        causes.append(invalid(key, "", f"can have at most {limit} characters"))
    return causes


def _series(r: Reader, event: dict[str, Any]) -> list[FieldCause]:
    """validateV1EventSeries."""
    series = r.obj(event, "series", "series")
    if series is None:
        return []
    causes = []
    if (r.integer(series, "count", "series.count") or 0) < 2:
        causes.append(invalid("series.count", "", "should be at least 2"))
    if _value(series.get("lastObservedTime")) is None:
        causes.append(required("series.lastObservedTime"))
    return causes


def _strict_create(r: Reader, event: dict[str, Any]) -> list[FieldCause]:
    """What ValidateEventCreate adds for events.k8s.io/v1 (object metadata is validated elsewhere)."""
    causes = _series(r, event)
    if _value(event.get("eventTime")) is None:
        causes.append(required("eventTime"))
    kind = event.get("type")
    if kind not in _TYPES:
        causes.append(invalid("type", "", f"has invalid value: {'' if kind is None else kind}"))
    causes += [invalid(key, "", "needs to be unset") for key in _DEPRECATED if _value(event.get(key)) is not None]
    source = sub(event, "source")
    if source.get("component") or source.get("host"):
        causes.append(invalid("source", "", "needs to be unset"))
    return causes
