"""Label and field selector parsing, matching and errors, checked against kube-apiserver's behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.apiserver import errors
from gardener.apiserver.selectors import (
    FieldSelector,
    LabelSelector,
    default_field_labels,
    escape_field_value,
    label_selector_from_object,
    label_selector_to_string,
    parse_field_selector,
    parse_label_selector,
)

QNAME_REGEX_ERR = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_REGEX_ERR = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("", {"a": "b"}, True),
        ("", None, True),
        ("a=b", {"a": "b"}, True),
        ("a==b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a=b", None, False),
        ("a!=b", {"a": "c"}, True),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a in (x,y)", {"a": "y"}, True),
        ("a in (x,y)", {"a": "z"}, False),
        ("a in (x,y)", {}, False),
        ("a notin (x,y)", {"a": "z"}, True),
        ("a notin (x,y)", {}, True),
        ("a notin (x,y)", {"a": "x"}, False),
        ("a", {"a": ""}, True),
        ("a", {"b": "c"}, False),
        ("!a", {"b": "c"}, True),
        ("!a", {"a": "c"}, False),
        ("a in (x,y),!b,c!=d", {"a": "x", "c": "e"}, True),
        ("a in (x,y),!b,c!=d", {"a": "x", "b": "1"}, False),
        ("a in (x,y),!b,c!=d", {"a": "x", "c": "d"}, False),
        ("  a = b ,  c  ", {"a": "b", "c": "1"}, True),
        ("a=", {"a": ""}, True),
        ("a=", {"a": "x"}, False),
        ("a in ()", {"a": ""}, True),
        ("a in (,x)", {"a": ""}, True),
        ("in in (in,notin)", {"in": "notin"}, True),
        ("example.com/app=web", {"example.com/app": "web"}, True),
        ("n>5", {"n": "7"}, True),
        ("n>5", {"n": "5"}, False),
        ("n<5", {"n": "-1"}, True),
        ("n<5", {"n": "x"}, False),
        ("n<5", {}, False),
    ],
)
def test_label_selector_matches(text: str, labels: dict[str, str] | None, expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("b=1,a=2", "a=2,b=1"),
        ("a in (y,x,y)", "a in (x,y)"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("!b, a == 1, c != 2", "a==1,!b,c!=2"),
        ("n>5", "n>5"),
    ],
)
def test_label_selector_canonical_string(text: str, canonical: str) -> None:
    sel = parse_label_selector(text)
    assert label_selector_to_string(sel) == canonical
    assert str(sel) == canonical
    assert parse_label_selector(canonical) == sel


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        (",", "found ',', expected: !, identifier, or 'end of string'"),
        ("a in", "unable to parse requirement: found '' expected: '('"),
        ("a in (x y)", "unable to parse requirement: found 'y', expected: ',' or ')'"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        (
            "app:monolith",
            f'unable to parse requirement: <nil>: Invalid value: "app:monolith": name part {QNAME_REGEX_ERR}',
        ),
        (
            "a/b/c ?=? def",
            f'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name {QNAME_REGEX_ERR} '
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
        (
            "app.kubernetes_io/name=x",
            'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": prefix part a lowercase '
            "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and "
            "end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        (
            "/a=b",
            'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty',
        ),
        (
            "a" * 64,
            f'unable to parse requirement: <nil>: Invalid value: "{"a" * 64}": '
            "name part must be no more than 63 characters",
        ),
        ("a=b$", f'unable to parse requirement: values[0][a]: Invalid value: "b$": {VALUE_REGEX_ERR}'),
        (
            "a=" + "v" * 64,
            f'unable to parse requirement: values[0][a]: Invalid value: "{"v" * 64}": '
            "must be no more than 63 characters",
        ),
        (
            "a>x",
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be "
            "an integer",
        ),
    ],
)
def test_label_selector_errors(text: str, message: str) -> None:
    with pytest.raises(errors.StatusError) as exc:
        parse_label_selector(text)
    assert exc.value.code == 400
    assert exc.value.reason == "BadRequest"
    assert exc.value.message == message


def test_label_selector_empty_and_exact_match() -> None:
    assert parse_label_selector("").empty
    assert parse_label_selector("   ").empty
    sel = parse_label_selector("a=1,b in (x),c in (x,y),d!=1")
    assert not sel.empty
    assert sel.requires_exact_match("a") == "1"
    assert sel.requires_exact_match("b") == "x"
    assert sel.requires_exact_match("c") is None
    assert sel.requires_exact_match("d") is None
    assert sel.requires_exact_match("zz") is None


@pytest.mark.parametrize(
    ("obj", "labels", "expected", "canonical"),
    [
        (None, {"a": "b"}, False, ""),
        ({}, {"a": "b"}, True, ""),
        ({"matchLabels": {}, "matchExpressions": []}, {}, True, ""),
        ({"matchLabels": {"b": "2", "a": "1"}}, {"a": "1", "b": "2"}, True, "a=1,b=2"),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False, "a=1"),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]},
            {"tier": "api"},
            True,
            "tier in (api,web)",
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]},
            {"tier": "web"},
            False,
            "tier notin (web)",
        ),
        ({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, {"x": ""}, True, "x"),
        ({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, {"x": ""}, False, "!x"),
        (
            {"matchLabels": {"z": "1"}, "matchExpressions": [{"key": "a", "operator": "Exists", "values": []}]},
            {"z": "1", "a": "q"},
            True,
            "a,z=1",
        ),
    ],
)
def test_label_selector_from_object(
    obj: dict[str, Any] | None, labels: dict[str, str], expected: bool, canonical: str
) -> None:
    sel = label_selector_from_object(obj)
    assert sel.matches(labels) is expected
    assert label_selector_to_string(sel) == canonical


def test_label_selector_from_none_selects_nothing() -> None:
    sel = label_selector_from_object(None)
    assert not sel.empty
    assert not sel.matches({})
    assert label_selector_from_object({}).empty


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Foo"}]}, '"Foo" is not a valid label selector operator'),
        (
            {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x", "y"]}]},
            'values: Invalid value: []string{"x", "y"}: values set must be empty for exists and does not exist',
        ),
        ({"matchLabels": {"a b": "c"}}, f'key: Invalid value: "a b": name part {QNAME_REGEX_ERR}'),
        ({"matchLabels": {"a": "c d"}}, f'values[0][a]: Invalid value: "c d": {VALUE_REGEX_ERR}'),
        (
            {"matchLabels": {"": "c d"}},
            f'[key: Invalid value: "": name part must be non-empty; name part {QNAME_REGEX_ERR}, '
            f'values[0][]: Invalid value: "c d": {VALUE_REGEX_ERR}]',
        ),
    ],
)
def test_label_selector_from_object_errors(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.StatusError) as exc:
        label_selector_from_object(obj)
    assert exc.value.code == 400
    assert exc.value.message == message


def test_label_selector_is_hashable_value() -> None:
    assert parse_label_selector("a=1,b") == parse_label_selector("b, a=1")
    assert hash(parse_label_selector("a=1")) == hash(parse_label_selector("a = 1"))
    assert LabelSelector().empty


# --------------------------------------------------------------------------------------------------------------------
# Field selectors

POD: dict[str, Any] = {
    "metadata": {"name": "web-1", "namespace": "prod"},
    "spec": {"nodeName": "node-a", "restartPolicy": "Always"},
    "status": {"phase": "Running", "podIP": "10.0.0.1"},
}
EVENT: dict[str, Any] = {
    "metadata": {"name": "web-1.17a", "namespace": "prod"},
    "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "prod", "uid": "u-1"},
    "reason": "Started",
    "type": "Normal",
    "source": {"component": "kubelet"},
    "reportingComponent": "",
}
ALL_FIELDS = frozenset(
    {
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.hostNetwork",
        "status.phase",
        "status.replicas",
        "involvedObject.kind",
        "involvedObject.name",
        "involvedObject.uid",
        "reason",
        "type",
        "source",
        "reportingComponent",
    }
)


@pytest.mark.parametrize(
    ("text", "obj", "expected"),
    [
        ("", POD, True),
        ("metadata.name=web-1", POD, True),
        ("metadata.name==web-1", POD, True),
        ("metadata.name!=web-1", POD, False),
        ("metadata.name=web-2", POD, False),
        ("metadata.name=web-1,metadata.namespace=prod", POD, True),
        ("metadata.name=web-1,metadata.namespace=dev", POD, False),
        ("metadata.namespace!=dev,status.phase=Running", POD, True),
        ("spec.nodeName=node-a", POD, True),
        ("spec.nodeName=", POD, False),
        ("spec.nodeName=", {"metadata": {"name": "x"}, "spec": {}}, True),
        ("spec.nodeName!=", {"metadata": {"name": "x"}}, False),
        ("spec.hostNetwork=false", POD, True),
        ("spec.hostNetwork=true", {"spec": {"hostNetwork": True}}, True),
        ("status.replicas=0", {"status": {}}, True),
        ("status.replicas=3", {"status": {"replicas": 3}}, True),
        ("metadata.namespace=", {"metadata": {"name": "cluster-scoped"}}, True),
        ("involvedObject.kind=Pod,involvedObject.name=web-1,involvedObject.uid=u-1", EVENT, True),
        ("involvedObject.kind=Node", EVENT, False),
        ("reason=Started,type=Normal", EVENT, True),
        ("source=kubelet", EVENT, True),
        ("source=kopf", {"reportingComponent": "kopf", "source": {}}, True),
        ("source=kopf", {"reportingComponent": "kopf"}, True),
        ("reportingComponent=", EVENT, True),
        ("metadata.name=a\\,b", {"metadata": {"name": "a,b"}}, True),
        ("metadata.name=a\\=b\\\\", {"metadata": {"name": "a=b\\"}}, True),
        ("metadata.name=web-1,", POD, True),
    ],
)
def test_field_selector_matches(text: str, obj: dict[str, Any], expected: bool) -> None:
    assert parse_field_selector(text, allowed=ALL_FIELDS).matches(obj) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spec.foo=bar", "field label not supported: spec.foo"),
        ("metadata.name=a,spec.foo=bar", "field label not supported: spec.foo"),
        ("metadata.name = a", "field label not supported: metadata.name "),
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("metadata.name=a,bogus", "invalid selector: 'metadata.name=a,bogus'; can't understand 'bogus'"),
        ("metadata.name=a\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("metadata.name=a\\", "invalid field selector: invalid escape sequence: \\"),
        ("metadata.name=a=b", "invalid field selector: unescaped character in value: ="),
    ],
)
def test_field_selector_errors(text: str, message: str) -> None:
    with pytest.raises(errors.StatusError) as exc:
        parse_field_selector(text, allowed=ALL_FIELDS)
    assert exc.value.code == 400
    assert exc.value.reason == "BadRequest"
    assert exc.value.message == message


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("metadata.name=web-1", "metadata.name", "web-1"),
        ("metadata.name==web-1", "metadata.name", "web-1"),
        ("metadata.name!=web-1", "metadata.name", None),
        ("metadata.namespace=a,metadata.name=b", "metadata.name", "b"),
        ("metadata.namespace=a", "metadata.name", None),
        ("", "metadata.name", None),
        ("metadata.name=a\\,b", "metadata.name", "a,b"),
    ],
)
def test_field_selector_value_for(text: str, field: str, value: str | None) -> None:
    assert parse_field_selector(text, allowed=ALL_FIELDS).value_for(field) == value


def test_field_selector_any_field_and_round_trip() -> None:
    sel = parse_field_selector("spec.x.y=1,metadata.name==a\\,b", allowed=None)
    assert not sel.empty
    assert sel.matches({"metadata": {"name": "a,b"}, "spec": {"x": {"y": 1}}})
    assert str(sel) == "metadata.name=a\\,b,spec.x.y=1"
    assert parse_field_selector(str(sel), allowed=None) == sel
    assert FieldSelector().empty
    assert escape_field_value("a\\,=") == "a\\\\\\,\\="


def test_field_selector_non_scalar_and_wrong_shapes() -> None:
    sel = parse_field_selector("spec.x=", allowed=None)
    assert sel.matches({"spec": {"x": {"nested": 1}}})
    assert sel.matches({"spec": "not-a-map"})
    assert sel.matches({})


@pytest.mark.parametrize(
    ("group", "kind", "namespaced", "present", "absent"),
    [
        ("", "ConfigMap", True, {"metadata.name", "metadata.namespace"}, {"status.phase", "type"}),
        ("", "Secret", True, {"metadata.name", "metadata.namespace", "type"}, {"status.phase"}),
        (
            "",
            "Event",
            True,
            {"involvedObject.kind", "involvedObject.uid", "reason", "source", "type", "reportingComponent"},
            {"spec.nodeName"},
        ),
        (
            "events.k8s.io",
            "Event",
            True,
            {"regarding.name", "reason", "reportingController", "source"},
            {"involvedObject.name", "reportingComponent"},
        ),
        ("", "Pod", True, {"spec.nodeName", "status.phase", "status.podIP", "spec.serviceAccountName"}, {"type"}),
        ("", "Namespace", False, {"metadata.name", "status.phase"}, {"metadata.namespace"}),
        ("core.gardener.cloud", "Shoot", True, {"metadata.name", "metadata.namespace"}, {"status.phase"}),
        ("apps", "ReplicaSet", True, {"status.replicas"}, set()),
        ("batch", "Job", True, {"status.successful"}, set()),
    ],
)
def test_default_field_labels(group: str, kind: str, namespaced: bool, present: set[str], absent: set[str]) -> None:
    labels = default_field_labels(group=group, kind=kind, namespaced=namespaced)
    assert present <= labels
    assert not (absent & labels)


def test_default_field_labels_reject_unknown() -> None:
    allowed = default_field_labels(group="", kind="ConfigMap")
    with pytest.raises(errors.StatusError, match=r"field label not supported: data\.x"):
        parse_field_selector("data.x=1", allowed=allowed)
