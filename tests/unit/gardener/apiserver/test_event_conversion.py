"""core/v1 and events.k8s.io/v1 Events: one stored resource, two shapes, each group's field labels and validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gardener.apiserver import conversion
from gardener.apiserver.builtin.validation.events import validate_core_event, validate_events_v1_event
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry
from gardener.apiserver.selectors import field_selector_for

REF = {"kind": "Pod", "namespace": "ns", "name": "web", "uid": "u1", "apiVersion": "v1", "fieldPath": "spec"}
CORE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "web.1", "namespace": "ns"},
    "involvedObject": REF,
    "related": {"kind": "Node", "name": "n1"},
    "reason": "Scheduled",
    "message": "assigned ns/web to n1",
    "source": {"component": "kubelet", "host": "n1"},
    "firstTimestamp": "2026-01-01T00:00:00Z",
    "lastTimestamp": "2026-01-01T00:01:00Z",
    "count": 2,
    "type": "Normal",
    "eventTime": "2026-01-01T00:00:00.000001Z",
    "series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000001Z"},
    "action": "Binding",
    "reportingComponent": "default-scheduler",
    "reportingInstance": "default-scheduler-h1",
}
EVENTS_V1: dict[str, Any] = {
    "apiVersion": "events.k8s.io/v1",
    "kind": "Event",
    "metadata": {"name": "web.1", "namespace": "ns"},
    "regarding": REF,
    "related": {"kind": "Node", "name": "n1"},
    "reason": "Scheduled",
    "note": "assigned ns/web to n1",
    "deprecatedSource": {"component": "kubelet", "host": "n1"},
    "deprecatedFirstTimestamp": "2026-01-01T00:00:00Z",
    "deprecatedLastTimestamp": "2026-01-01T00:01:00Z",
    "deprecatedCount": 2,
    "type": "Normal",
    "eventTime": "2026-01-01T00:00:00.000001Z",
    "series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000001Z"},
    "action": "Binding",
    "reportingController": "default-scheduler",
    "reportingInstance": "default-scheduler-h1",
}


def test_every_field_maps_both_ways_and_round_trips() -> None:
    core = copy.deepcopy(CORE)
    as_v1 = conversion.convert(core, group="events.k8s.io", kind="Event", to_version="v1")
    assert as_v1 == EVENTS_V1
    assert core == CORE, "the stored object is not changed"
    as_v1["regarding"]["name"] = "changed"
    assert core["involvedObject"]["name"] == "web", "the view shares no nested value with the stored object"
    back = conversion.convert(copy.deepcopy(EVENTS_V1), group="", kind="Event", to_version="v1")
    assert back == CORE
    assert conversion.convert(back, group="", kind="Event", to_version="v1") is back, "same apiVersion: no copy"


def test_converters_are_keyed_by_type_pairs() -> None:
    assert conversion.converts(kind="Event", source="events.k8s.io/v1", target="v1")
    assert conversion.converts(kind="Event", source="v1", target="events.k8s.io/v1")
    assert conversion.converts(kind="HorizontalPodAutoscaler", source="autoscaling/v1", target="autoscaling/v2")
    assert not conversion.converts(kind="Event", source="v1", target="v1")
    assert not conversion.converts(kind="ConfigMap", source="v1", target="events.k8s.io/v1")
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "spec": {"maxReplicas": 2}}
    v2 = conversion.convert(hpa, group="autoscaling", kind="HorizontalPodAutoscaler", to_version="v2")
    assert v2["apiVersion"] == "autoscaling/v2" and v2["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_both_groups_share_core_events_key_space() -> None:
    registry = Registry()
    core = registry.get("", "v1", "events")
    events = registry.get("events.k8s.io", "v1", "events")
    assert core is not None and events is not None
    assert events.storage_prefix() == core.storage_prefix() == "/registry/core/events/"
    assert events.key("ns", "e") == core.key("ns", "e") and events.list_prefix("ns") == core.list_prefix("ns")
    assert core.is_storage_version and not events.is_storage_version
    assert (events.storage_group, events.storage_plural, events.storage_version) == ("", "events", "v1")
    located = registry.for_key("/registry/core/events/ns/e")
    assert located is not None and located[0] is core and located[1:] == ("ns", "e")
    hpa_v1 = registry.get("autoscaling", "v1", "horizontalpodautoscalers")
    assert hpa_v1 is not None and not hpa_v1.is_storage_version
    assert hpa_v1.storage_prefix() == "/registry/autoscaling/horizontalpodautoscalers/"


def test_events_v1_field_labels_select_on_the_stored_core_fields() -> None:
    stored = copy.deepcopy(CORE)
    selector = field_selector_for(
        "regarding.name=web,regarding.kind=Pod,reportingController=default-scheduler,type=Normal",
        group="events.k8s.io",
        kind="Event",
    )
    assert {r.field for r in selector.requirements} == {
        "involvedObject.name",
        "involvedObject.kind",
        "reportingComponent",
        "type",
    }
    assert selector.matches(stored)
    assert not field_selector_for("regarding.name=db", group="events.k8s.io", kind="Event").matches(stored)
    # source: source.component, else the reporting controller (kube's ToSelectableFields)
    del stored["source"]
    assert field_selector_for("source=default-scheduler", group="events.k8s.io", kind="Event").matches(stored)
    core = field_selector_for("involvedObject.name=web,reportingComponent=default-scheduler", group="", kind="Event")
    assert core.matches(stored)


@pytest.mark.parametrize(
    ("group", "label"),
    [
        ("events.k8s.io", "involvedObject.name"),
        ("events.k8s.io", "reportingComponent"),
        ("events.k8s.io", "note"),
        ("", "regarding.kind"),
        ("", "reportingController"),
    ],
)
def test_each_group_refuses_the_other_groups_labels(group: str, label: str) -> None:
    with pytest.raises(StatusError) as caught:
        field_selector_for(f"{label}=x", group=group, kind="Event")
    assert caught.value.code == 400 and caught.value.message == f"field label not supported: {label}"


def scheduler_event(**fields: Any) -> dict[str, Any]:
    """What kube-scheduler posts through events.k8s.io/v1."""
    obj = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "ns"},
        "eventTime": "2026-01-01T00:00:00.000001Z",
        "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-h1",
        "action": "Scheduling",
        "reason": "FailedScheduling",
        "regarding": {"kind": "Pod", "namespace": "ns", "name": "web"},
        "note": "0/1 nodes are available",
        "type": "Warning",
    }
    obj.update(fields)
    return {k: v for k, v in obj.items() if v is not None}


def causes(found: list[Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in found]


def test_events_v1_create_is_strict_and_names_core_fields() -> None:
    assert validate_events_v1_event(scheduler_event(), None) == []
    missing = scheduler_event(eventTime=None, reportingController=None, reportingInstance=None, action=None)
    found = causes(validate_events_v1_event(missing, None))
    # without eventTime only the legacy namespace rule applies, then the strict create rules
    assert found == [("eventTime", "Required value")]
    no_reporter = scheduler_event(reportingController=None, reportingInstance=None, action=None, type="Fatal")
    found = causes(validate_events_v1_event(no_reporter, None))
    assert found[0] == ("reportingController", "Required value")
    assert ("reportingInstance", "Required value") in found and ("action", "Required value") in found
    assert ("type", 'Invalid value: "": has invalid value: Fatal') in found
    deprecated = scheduler_event(
        deprecatedCount=3, deprecatedSource={"component": "x"}, deprecatedFirstTimestamp="2026-01-01T00:00:00Z"
    )
    assert causes(validate_events_v1_event(deprecated, None)) == [
        ("firstTimestamp", 'Invalid value: "": needs to be unset'),
        ("count", 'Invalid value: "": needs to be unset'),
        ("source", 'Invalid value: "": needs to be unset'),
    ]
    long_note = scheduler_event(note="x" * 1025, regarding={"kind": "Node", "name": "n1"})
    assert causes(validate_events_v1_event(long_note, None)) == [
        ("involvedObject.namespace", 'Invalid value: "": does not match event.namespace'),
        ("message", 'Invalid value: "": can have at most 1024 characters'),
    ]
    series = scheduler_event(series={"count": 1})
    assert causes(validate_events_v1_event(series, None)) == [
        ("series.count", 'Invalid value: "": should be at least 2'),
        ("series.lastObservedTime", "Required value"),
    ]


def test_events_v1_update_keeps_most_fields_and_core_updates_only_legacy_rules() -> None:
    old = scheduler_event()
    assert validate_events_v1_event(scheduler_event(series={"count": 2, "lastObservedTime": "t"}), old) == []
    found = causes(validate_events_v1_event(scheduler_event(note="other", reportingInstance="i2"), old))
    assert found == [
        ("message", 'Invalid value: "other": field is immutable'),
        ("reportingInstance", 'Invalid value: "i2": field is immutable'),
    ]
    core = conversion.event_events_v1_to_core(scheduler_event())
    assert validate_core_event({**core, "message": "other", "count": 5}, core) == []
    legacy = {"metadata": {"name": "e", "namespace": "ns"}, "involvedObject": {"kind": "Pod", "namespace": "other"}}
    assert causes(validate_core_event(legacy, None)) == [
        ("involvedObject.namespace", 'Invalid value: "other": does not match event.namespace')
    ]
