"""Unit tests for gardener.apiserver.fieldmanager: field sets, fieldsV1, apply, conflicts and update tracking.

Expected field sets and messages follow structured-merge-diff and k8s.io/apiserver's field manager.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gardener.apiserver import fieldmanager as fm
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import BUILTIN, ResourceInfo

T0, T1, T2 = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"


def builtin(group: str, kind: str) -> ResourceInfo:
    return next(i for i in BUILTIN if i.group == group and i.kind == kind)


CM = builtin("", "ConfigMap")
DEPLOY = builtin("apps", "Deployment")

GADGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name", "protocol"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "protocol": {"type": "string", "default": "TCP"},
                            "port": {"type": "integer"},
                        },
                    },
                },
                "args": {"type": "array", "items": {"type": "string"}},
                "limits": {"type": "object", "additionalProperties": {"type": "string"}},
                "selector": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "additionalProperties": {"type": "string"},
                },
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}
GADGET = ResourceInfo(
    group="example.dev",
    version="v1",
    kind="Gadget",
    plural="gadgets",
    singular="gadget",
    namespaced=True,
    storage_version="v1",
    schema=GADGET_SCHEMA,
    crd_name="gadgets.example.dev",
)


def cm(data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", **meta}}
    if data is not None:
        doc["data"] = data
    return doc


def gadget(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "example.dev/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": spec, **extra}


def deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            **spec,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": containers}},
        },
    }


def managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields") or []}


def fields(obj: dict[str, Any], manager: str, operation: str = "Apply") -> dict[str, Any]:
    entry: dict[str, Any] = managers(obj)[(manager, operation)]["fieldsV1"]
    return entry


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What the store adds on create: the object as the next request sees it."""
    out = copy.deepcopy(obj)
    out["metadata"].update(uid="u-1", resourceVersion="1", namespace="default", creationTimestamp=T0)
    return out


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    *,
    info: ResourceInfo = CM,
    force: bool = False,
    now: str = T1,
) -> dict[str, Any]:
    """Apply as the store does: a created object comes back with what the store stamps on it."""
    result = fm.apply(live, config, manager=manager, force=force, info=info, now=now)
    return stored(result) if live is None else result


# --- field sets and fieldsV1 -------------------------------------------------------------------


def test_fields_v1_round_trip_and_shape() -> None:
    paths = {
        ("f:spec", "f:replicas"),
        ("f:spec", "f:containers", 'k:{"name":"a"}'),
        ("f:spec", "f:containers", 'k:{"name":"a"}', "f:image"),
        ("f:metadata", "f:finalizers", 'v:"x"'),
    }
    doc = fm.to_fields_v1(paths)
    assert doc == {
        "f:metadata": {"f:finalizers": {'v:"x"': {}}},
        "f:spec": {
            "f:containers": {'k:{"name":"a"}': {".": {}, "f:image": {}}},
            "f:replicas": {},
        },
    }
    assert list(doc["f:spec"]) == ["f:containers", "f:replicas"]
    assert fm.from_fields_v1(doc) == frozenset(paths)
    # keys are normalized, so a differently spelled key is the same path element
    assert fm.from_fields_v1({'k:{ "name" : "a" }': {}}) == frozenset({('k:{"name":"a"}',)})
    with pytest.raises(ValueError):
        fm.from_fields_v1({"x:y": {}})


def test_builtin_field_set_uses_strategic_merge_keys() -> None:
    obj = deployment(
        [{"name": "a", "image": "i", "ports": [{"containerPort": 80}], "args": ["x"]}],
        replicas=2,
    )
    obj["metadata"]["finalizers"] = ["f1"]
    obj["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "u1"}]
    got = fm.to_fields_v1(fm.field_set(obj, DEPLOY))
    container = got["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"a"}']
    assert container == {
        ".": {},
        "f:args": {},
        "f:image": {},
        "f:name": {},
        "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
    }
    assert got["f:spec"]["f:selector"] == {}  # a LabelSelector is atomic
    assert got["f:metadata"]["f:finalizers"] == {'v:"f1"': {}}
    assert set(got["f:metadata"]["f:ownerReferences"]['k:{"uid":"u1"}']) == {
        ".",
        "f:apiVersion",
        "f:kind",
        "f:name",
        "f:uid",
    }


def test_crd_field_set_uses_list_types_from_the_schema() -> None:
    obj = gadget(
        {
            "tags": ["a", "b"],
            "ports": [{"name": "http", "port": 80}],
            "args": ["x"],
            "limits": {"cpu": "1"},
            "selector": {"app": "x"},
            "config": {"nested": {"deep": 1}},
            "empty": {},
        }
    )
    spec = fm.to_fields_v1(fm.field_set(obj, GADGET))["f:spec"]
    assert spec["f:tags"] == {'v:"a"': {}, 'v:"b"': {}}
    assert spec["f:ports"] == {'k:{"name":"http","protocol":"TCP"}': {".": {}, "f:name": {}, "f:port": {}}}
    assert spec["f:args"] == {}
    assert spec["f:limits"] == {"f:cpu": {}}
    assert spec["f:selector"] == {}
    assert spec["f:config"] == {"f:nested": {".": {}, "f:deep": {}}}
    assert spec["f:empty"] == {}


def test_path_strings_like_kube() -> None:
    assert fm.path_string(("f:data", "f:key")) == ".data.key"
    assert fm.path_string(("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")) == (
        '.spec.containers[name="a"].image'
    )
    assert fm.path_string(("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}')) == (
        '.ports[containerPort=80,protocol="TCP"]'
    )
    assert fm.path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


# --- apply --------------------------------------------------------------------------------------


def test_apply_creates_with_an_apply_entry() -> None:
    obj = fm.apply(None, cm({"a": "1"}, labels={"l": "v"}), manager="kubectl", force=False, info=CM, now=T0)
    assert obj["data"] == {"a": "1"}
    assert obj["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:l": {}}}},
        }
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cm"}}, "invalid object type: /v1, Kind=Secret"),
        ({"kind": "ConfigMap", "metadata": {"name": "cm"}}, "invalid object type: /, Kind=ConfigMap"),
        (cm({}, managedFields=[]), "metadata.managedFields must be nil"),
        ([], "error decoding YAML: the applied configuration must be an object"),
    ],
)
def test_apply_rejects_bad_configurations(config: Any, message: str) -> None:
    with pytest.raises(StatusError) as exc:
        fm.apply(None, config, manager="m", force=False, info=CM, now=T0)
    assert exc.value.code == 400 and exc.value.message == message


def test_apply_rejects_list_items_without_their_key() -> None:
    with pytest.raises(StatusError) as exc:
        fm.apply(None, deployment([{"image": "x"}]), manager="m", force=False, info=DEPLOY, now=T0)
    assert (exc.value.code, exc.value.reason) == (400, "BadRequest")  # kube: 500 (kubernetes#122480)
    assert exc.value.message.endswith(
        ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key "
        'field "name" (and doesn\'t have default value)'
    )


def test_conflict_single_and_multiple() -> None:
    live = apply(None, cm({"a": "1", "b": "1"}), "first")
    with pytest.raises(StatusError) as exc:
        apply(live, cm({"a": "2"}), "second")
    err = exc.value
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.message == 'Apply failed with 1 conflict: conflict with "first": .data.a'
    assert err.to_status()["details"] == {
        "causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "first"', "field": ".data.a"}]
    }

    updated = copy.deepcopy(live)
    updated["data"]["c"] = "1"
    fm.track_update(live, updated, manager="editor", info=CM, now=T1)
    with pytest.raises(StatusError) as exc:
        apply(updated, cm({"a": "2", "b": "2", "c": "2"}), "second")
    assert exc.value.message == (
        "Apply failed with 3 conflicts: "
        'conflicts with "editor" using v1:\n- .data.c\n'
        'conflicts with "first":\n- .data.a\n- .data.b'
    )
    assert [c.field for c in exc.value.causes] == [".data.c", ".data.a", ".data.b"]


def test_same_value_is_shared_and_force_takes_over() -> None:
    live = apply(None, cm({"a": "1", "b": "1"}), "first")
    shared = apply(live, cm({"a": "1"}), "second", now=T2)
    assert shared["data"] == live["data"]
    assert fields(shared, "second") == {"f:data": {"f:a": {}}}
    assert fields(shared, "first") == {"f:data": {"f:a": {}, "f:b": {}}}
    # the second applier's entry has a time even though the object did not change
    assert managers(shared)[("second", "Apply")]["time"] == T2

    forced = apply(shared, cm({"b": "2"}), "second", force=True)
    assert forced["data"] == {"a": "1", "b": "2"}
    assert fields(forced, "second") == {"f:data": {"f:b": {}}}
    assert fields(forced, "first") == {"f:data": {"f:a": {}}}


def test_fields_no_longer_applied_are_removed_unless_owned_elsewhere() -> None:
    live = apply(None, cm({"a": "1", "b": "1", "c": "1"}, labels={"x": "1"}), "first")
    live = apply(live, cm({"b": "1"}), "second")
    after = apply(live, cm({"a": "1"}), "first")
    assert after["data"] == {"a": "1", "b": "1"}  # c went, b stays with "second"
    assert "labels" not in after["metadata"]
    assert after["metadata"]["name"] == "cm" and after["metadata"]["uid"] == "u-1"
    assert fields(after, "first") == {"f:data": {"f:a": {}}}

    # fields set by an update are not the applier's to remove
    edited = copy.deepcopy(after)
    edited["data"]["d"] = "1"
    fm.track_update(after, edited, manager="editor", info=CM, now=T2)
    again = apply(edited, cm({}), "first")
    assert again["data"] == {"b": "1", "d": "1"}


def test_associative_list_merge_and_removal() -> None:
    live = apply(None, deployment([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]), "one", info=DEPLOY)
    live = apply(live, deployment([{"name": "c", "image": "c:1"}]), "two", info=DEPLOY)
    assert [c["name"] for c in live["spec"]["template"]["spec"]["containers"]] == ["a", "b", "c"]
    # shared items follow the applied order, items only the object has keep their place after their predecessor
    reordered = apply(
        live, deployment([{"name": "b", "image": "b:1"}, {"name": "a", "image": "a:2"}]), "one", info=DEPLOY
    )
    containers = reordered["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("b", "b:1"), ("c", "c:1"), ("a", "a:2")]
    dropped = apply(reordered, deployment([{"name": "a", "image": "a:2"}]), "one", info=DEPLOY)
    assert [c["name"] for c in dropped["spec"]["template"]["spec"]["containers"]] == ["c", "a"]


def test_sets_and_atomic_lists_of_custom_resources() -> None:
    live = apply(None, gadget({"tags": ["a", "b"], "args": ["x"]}), "one", info=GADGET)
    live = apply(live, gadget({"tags": ["c"]}), "two", info=GADGET)
    assert live["spec"]["tags"] == ["a", "b", "c"]
    with pytest.raises(StatusError) as exc:
        apply(live, gadget({"args": ["y"]}), "two", info=GADGET)
    assert exc.value.message.endswith('conflict with "one": .spec.args')
    live = apply(live, gadget({"tags": ["b"]}), "one", info=GADGET)
    assert live["spec"] == {"tags": ["b", "c"]}


def test_status_is_not_applied_through_the_main_resource() -> None:
    status_info = GADGET  # has_status defaults to True
    live = apply(None, gadget({"size": "S"}, status={"phase": "x"}), "one", info=status_info)
    assert fields(live, "one") == {"f:spec": {"f:size": {}}}
    on_status = fm.apply(
        live,
        gadget({}, status={"phase": "Ready"}),
        manager="ctrl",
        force=False,
        info=GADGET,
        now=T1,
        subresource="status",
    )
    entry = managers(on_status)[("ctrl", "Apply")]
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {"f:status": {"f:phase": {}}}


def test_before_first_apply_owns_what_was_there() -> None:
    live = stored(cm({"a": "1"}))
    with pytest.raises(StatusError) as exc:
        apply(live, cm({"a": "2"}), "m")
    assert exc.value.message == 'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a'
    ok = apply(live, cm({"b": "2"}), "m")
    assert fields(ok, "before-first-apply", "Update") == {"f:data": {".": {}, "f:a": {}}}


def test_kubectl_takes_over_fields_of_its_last_client_side_apply() -> None:
    config = cm({"a": "1"})
    annotated = copy.deepcopy(config)
    annotated["metadata"]["annotations"] = {fm.LAST_APPLIED: json.dumps(config)}
    live = copy.deepcopy(annotated)
    fm.track_update(None, live, manager="kubectl-client-side-apply", info=CM, now=T0)
    live = stored(live)
    with pytest.raises(StatusError):
        apply(live, cm({"a": "2"}), "someone-else")
    upgraded = apply(live, cm({"a": "2"}), "kubectl")
    assert upgraded["data"] == {"a": "2"}
    assert json.loads(upgraded["metadata"]["annotations"][fm.LAST_APPLIED]) == cm({"a": "2"})
    # once the live value no longer matches the last-applied one, it is a conflict again
    edited = copy.deepcopy(live)
    edited["data"]["a"] = "edited"
    fm.track_update(live, edited, manager="kubectl-client-side-apply", info=CM, now=T1)
    with pytest.raises(StatusError):
        apply(edited, cm({"a": "3"}), "kubectl")


# --- update tracking ----------------------------------------------------------------------------


def test_create_records_added_fields() -> None:
    obj = stored(cm({"a": "1"}, labels={"x": "y"}))
    fm.track_update(None, obj, manager="kubectl-create", info=CM, now=T0)
    assert managers(obj)[("kubectl-create", "Update")] == {
        "manager": "kubectl-create",
        "operation": "Update",
        "apiVersion": "v1",
        "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}},
    }


def test_update_moves_ownership_and_noop_keeps_managed_fields() -> None:
    live = apply(None, cm({"a": "1", "b": "1"}), "applier")
    new = copy.deepcopy(live)
    new["data"]["a"] = "2"
    del new["data"]["b"]
    fm.track_update(live, new, manager="editor", info=CM, now=T2)
    assert fields(new, "editor", "Update") == {"f:data": {"f:a": {}}}
    assert ("applier", "Apply") not in managers(new)

    same = copy.deepcopy(new)
    fm.track_update(new, same, manager="other", info=CM, now="2030-01-01T00:00:00Z")
    assert same == new

    # a request that leaves managedFields out keeps the live ones; `[]` resets them
    sent = copy.deepcopy(new)
    del sent["metadata"]["managedFields"]
    fm.track_update(new, sent, manager="other", info=CM, now=T2)
    assert sent["metadata"]["managedFields"] == new["metadata"]["managedFields"]
    reset = copy.deepcopy(new)
    reset["metadata"]["managedFields"] = []
    fm.track_update(new, reset, manager="other", info=CM, now=T2)
    assert "managedFields" not in reset["metadata"]


def test_managed_fields_as_clients_spell_them_are_no_change() -> None:
    live = apply(None, cm({"a": "1"}), "applier")
    sent = copy.deepcopy(live)
    entry = sent["metadata"]["managedFields"][0]
    entry["time"] = entry["time"].replace("Z", "+00:00")  # what the Python client sends back
    entry["fieldsV1"] = {"f:data": {"f:a": {}}}
    fm.track_update(live, sent, manager="python", info=CM, now=T2)
    assert sent["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_objects_without_managed_fields_stay_untracked_on_update() -> None:
    live = stored(cm({"a": "1"}))
    new = copy.deepcopy(live)
    new["data"]["a"] = "2"
    fm.track_update(live, new, manager="editor", info=CM, now=T1)
    assert "managedFields" not in new["metadata"]


def test_status_updates_are_tracked_per_subresource() -> None:
    live = apply(None, gadget({"size": "S"}), "one", info=GADGET)
    new = copy.deepcopy(live)
    new["status"] = {"phase": "Ready"}
    new["metadata"]["managedFields"] = []  # ignored on a subresource
    fm.track_update(live, new, manager="ctrl", info=GADGET, now=T2, subresource="status")
    entry = managers(new)[("ctrl", "Update")]
    assert entry["subresource"] == "status" and entry["fieldsV1"] == {"f:status": {".": {}, "f:phase": {}}}
    assert ("one", "Apply") in managers(new)


def test_update_managers_are_capped() -> None:
    obj = apply(None, cm({"base": "x"}), "applier")
    for i in range(12):
        new = copy.deepcopy(obj)
        new["data"][f"k{i}"] = "v"
        fm.track_update(obj, new, manager=f"m{i:02d}", info=CM, now=f"2024-02-{i + 1:02d}T00:00:00Z")
        obj = new
    names = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len([n for n in names if n != "applier"]) == 10
    assert "m00" not in names and "m01" not in names and "m02" not in names
    assert fields(obj, "ancient-changes", "Update") == {"f:data": {"f:k0": {}, "f:k1": {}, "f:k2": {}}}


def test_managed_fields_order() -> None:
    obj = apply(None, cm({"a": "1"}), "z-applier", now=T2)
    new = copy.deepcopy(obj)
    new["data"]["b"] = "1"
    fm.track_update(obj, new, manager="a-updater", info=CM, now=T0)
    assert [(e["manager"], e["operation"]) for e in new["metadata"]["managedFields"]] == [
        ("z-applier", "Apply"),
        ("a-updater", "Update"),
    ]


# --- request helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "manager"),
    [
        ("kubectl/v1.32.0 (linux/amd64) kubernetes/abc", "kubectl"),
        ("OpenAPI-Generator/37.0.2/python", "OpenAPI-Generator"),
        ("kopf/1.37", "kopf"),
        ("", ""),
        ("x" * 200, "x" * 128),
    ],
)
def test_manager_from_user_agent(agent: str, manager: str) -> None:
    assert fm.manager_from_user_agent(agent) == manager


def test_validate_field_manager() -> None:
    assert fm.validate_field_manager("ok") == []
    assert [c.reason for c in fm.validate_field_manager("x" * 129)] == ["FieldValueTooLong"]
    assert [c.reason for c in fm.validate_field_manager("a\x07")] == ["FieldValueInvalid"]
