"""Unit tests for gardener.apiserver.patch: RFC 7386, RFC 6902 and apimachinery's strategic merge patch.

Strategic-merge expectations were cross-checked against `kubectl patch --local --type strategic`,
which runs apimachinery's own implementation.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gardener.apiserver.patch import (
    PatchError,
    PatchTestFailed,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    go_text,
    strategic_merge_supported,
)

# --- JSON merge patch --------------------------------------------------------------------------

RFC7386_EXAMPLES: list[tuple[Any, Any, Any]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC7386_EXAMPLES)
def test_merge_patch_rfc7386_examples(target: Any, patch: Any, expected: Any) -> None:
    assert apply_merge_patch(target, patch) == expected


def test_merge_patch_kopf_annotations() -> None:
    obj = {"metadata": {"annotations": {"kopf.zalando.org/h": "x", "keep": "y"}}, "status": {"a": 1}}
    patch = {"metadata": {"annotations": {"kopf.zalando.org/h": None}}, "status": {"h": {"ok": True}}}
    assert apply_merge_patch(obj, patch) == {
        "metadata": {"annotations": {"keep": "y"}},
        "status": {"a": 1, "h": {"ok": True}},
    }


def test_merge_patch_does_not_mutate_or_alias_inputs() -> None:
    target = {"a": {"b": [1]}, "c": {"d": 1}}
    patch = {"a": {"x": [2]}, "c": None}
    before = copy.deepcopy((target, patch))
    result = apply_merge_patch(target, patch)
    result["a"]["b"].append(3)
    result["a"]["x"].append(4)
    assert (target, patch) == before


# --- JSON Patch --------------------------------------------------------------------------------

RFC6902_EXAMPLES: list[tuple[str, Any, list[dict[str, Any]], Any]] = [
    ("A.1 add member", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        "A.2 add array element",
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ("A.3 remove member", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    (
        "A.4 remove element",
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
    ),
    (
        "A.5 replace",
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        "A.6 move member",
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        "A.7 move element",
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        "A.8 test success",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        "A.10 add nested object",
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        "A.11 unknown members ignored",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    (
        "A.14 escape ordering",
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}],
        {"/": 9, "~1": 10},
    ),
    (
        "A.16 add array value",
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
    ("escaped slash key", {"a/b": 1}, [{"op": "replace", "path": "/a~1b", "value": 2}], {"a/b": 2}),
    ("escaped tilde key", {}, [{"op": "add", "path": "/m~0n", "value": 1}], {"m~n": 1}),
    ("add at end index", {"a": [1]}, [{"op": "add", "path": "/a/1", "value": 2}], {"a": [1, 2]}),
    ("add replaces member", {"a": 1}, [{"op": "add", "path": "/a", "value": None}], {"a": None}),
    ("add root", {"a": 1}, [{"op": "add", "path": "", "value": [1]}], [1]),
    ("replace root", {"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2}),
    ("copy", {"a": {"b": [1]}}, [{"op": "copy", "from": "/a/b", "path": "/c"}], {"a": {"b": [1]}, "c": [1]}),
    ("move to same place", {"a": 1}, [{"op": "move", "from": "/a", "path": "/a"}], {"a": 1}),
    ("test number equality", {"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}),
    (
        "test whole object",
        {"a": {"b": [1, {"c": None}]}},
        [{"op": "test", "path": "", "value": {"a": {"b": [1, {"c": None}]}}}],
        {"a": {"b": [1, {"c": None}]}},
    ),
    ("empty patch", {"a": 1}, [], {"a": 1}),
]


@pytest.mark.parametrize(
    ("doc", "ops", "expected"), [c[1:] for c in RFC6902_EXAMPLES], ids=[c[0] for c in RFC6902_EXAMPLES]
)
def test_json_patch_applies(doc: Any, ops: list[dict[str, Any]], expected: Any) -> None:
    assert apply_json_patch(doc, ops) == expected


JSON_PATCH_FAILURES: list[tuple[str, Any, Any, int]] = [
    ("body not a list", {}, {"op": "add", "path": "/a", "value": 1}, 400),
    ("op not an object", {}, ["add"], 400),
    ("unknown op", {}, [{"op": "frobnicate", "path": "/a"}], 422),
    ("missing op", {}, [{"path": "/a"}], 422),
    ("missing path", {}, [{"op": "remove"}], 422),
    ("missing value", {}, [{"op": "add", "path": "/a"}], 422),
    ("missing from", {"a": 1}, [{"op": "copy", "path": "/b"}], 422),
    ("pointer without slash", {"a": 1}, [{"op": "remove", "path": "a"}], 422),
    ("pointer bad escape", {"a~2": 1}, [{"op": "remove", "path": "/a~2"}], 422),
    ("A.12 add to missing parent", {"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], 422),
    ("add through scalar", {"a": 1}, [{"op": "add", "path": "/a/b", "value": 1}], 422),
    ("add index past end", {"a": [1]}, [{"op": "add", "path": "/a/2", "value": 1}], 422),
    ("index with leading zero", {"a": [1, 2]}, [{"op": "remove", "path": "/a/01"}], 422),
    ("negative index", {"a": [1, 2]}, [{"op": "remove", "path": "/a/-1"}], 422),
    ("remove dash", {"a": [1]}, [{"op": "remove", "path": "/a/-"}], 422),
    ("remove missing member", {"a": 1}, [{"op": "remove", "path": "/b"}], 422),
    ("remove index out of range", {"a": [1]}, [{"op": "remove", "path": "/a/1"}], 422),
    ("remove root", {"a": 1}, [{"op": "remove", "path": ""}], 422),
    ("replace missing member", {"a": 1}, [{"op": "replace", "path": "/b", "value": 2}], 422),
    ("move missing source", {"a": 1}, [{"op": "move", "from": "/b", "path": "/c"}], 422),
    ("move into own child", {"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], 422),
    ("copy missing source", {"a": 1}, [{"op": "copy", "from": "/b", "path": "/c"}], 422),
]


@pytest.mark.parametrize(
    ("doc", "ops", "code"), [c[1:] for c in JSON_PATCH_FAILURES], ids=[c[0] for c in JSON_PATCH_FAILURES]
)
def test_json_patch_rejects(doc: Any, ops: Any, code: int) -> None:
    with pytest.raises(PatchError) as failure:
        apply_json_patch(doc, ops)
    assert failure.value.code == code
    assert not isinstance(failure.value, PatchTestFailed)


TEST_OP_FAILURES: list[tuple[str, Any, Any]] = [
    ("A.9 string differs", {"baz": "qux"}, {"op": "test", "path": "/baz", "value": "bar"}),
    ("A.15 string is not number", {"/": 9, "~1": 10}, {"op": "test", "path": "/~01", "value": "10"}),
    ("true is not 1", {"a": True}, {"op": "test", "path": "/a", "value": 1}),
    ("null is not missing", {}, {"op": "test", "path": "/a", "value": None}),
    ("array order matters", {"a": [1, 2]}, {"op": "test", "path": "/a", "value": [2, 1]}),
    ("extra member", {"a": {"b": 1, "c": 2}}, {"op": "test", "path": "/a", "value": {"b": 1}}),
]


@pytest.mark.parametrize(("doc", "op"), [c[1:] for c in TEST_OP_FAILURES], ids=[c[0] for c in TEST_OP_FAILURES])
def test_json_patch_test_op_failure(doc: Any, op: dict[str, Any]) -> None:
    with pytest.raises(PatchTestFailed) as failure:
        apply_json_patch(doc, [op])
    assert failure.value.code == 422


def _kopf_object() -> dict[str, Any]:
    return {"metadata": {"name": "s", "resourceVersion": "7", "finalizers": ["other"]}, "spec": {}}


def test_json_patch_kopf_finalizer_add_and_remove() -> None:
    added = apply_json_patch(
        _kopf_object(),
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "kopf.zalando.org/KopfFinalizerMarker"},
        ],
    )
    assert added["metadata"]["finalizers"] == ["other", "kopf.zalando.org/KopfFinalizerMarker"]
    removed = apply_json_patch(
        added,
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
            {"op": "remove", "path": "/metadata/finalizers/1"},
        ],
    )
    assert removed["metadata"]["finalizers"] == ["other"]


def test_json_patch_stale_resource_version_applies_nothing() -> None:
    obj = _kopf_object()
    before = copy.deepcopy(obj)
    ops = [
        {"op": "add", "path": "/metadata/finalizers/-", "value": "x"},
        {"op": "test", "path": "/metadata/resourceVersion", "value": "6"},
    ]
    with pytest.raises(PatchTestFailed):
        apply_json_patch(obj, ops)
    assert obj == before


def test_json_patch_does_not_mutate_or_alias_inputs() -> None:
    doc = {"a": [1], "b": {"c": 1}}
    ops = [{"op": "add", "path": "/d", "value": {"e": [1]}}, {"op": "copy", "from": "/b", "path": "/f"}]
    before = copy.deepcopy((doc, ops))
    result = apply_json_patch(doc, ops)
    result["d"]["e"].append(2)
    result["f"]["c"] = 2
    result["a"].append(2)
    assert (doc, ops) == before


# --- Strategic merge patch ---------------------------------------------------------------------


def _container(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "img", **fields}


def _pod(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **metadata}, "spec": spec}


def _owner(uid: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid}


def _deployment(pod_spec: dict[str, Any], **spec: Any) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": template, **spec},
    }


def _env(*names: str) -> list[dict[str, str]]:
    return [{"name": name, "value": name.lower()} for name in names]


STRATEGIC_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "maps merge and null deletes",
        _pod({"nodeSelector": {"a": "1", "b": "2"}}, labels={"x": "y"}),
        {"metadata": {"labels": None}, "spec": {"nodeSelector": {"a": None, "c": "3"}}},
        _pod({"nodeSelector": {"b": "2", "c": "3"}}),
    ),
    (
        "containers merge by name, patched first",
        _pod({"containers": [_container("a"), _container("b")]}),
        {"spec": {"containers": [{"name": "b", "image": "new"}, {"name": "c", "image": "c"}]}},
        _pod({"containers": [_container("a"), _container("b", image="new"), _container("c", image="c")]}),
    ),
    (
        "patched elements keep patch order; server-only ones stay in front of later stored ones",
        _pod({"containers": [_container("a"), _container("b"), _container("c"), _container("d")]}),
        {
            "spec": {
                "containers": [{"name": "d", "image": "1"}, {"name": "new", "image": "2"}, {"name": "b", "image": "3"}]
            }
        },
        _pod(
            {
                "containers": [
                    _container("a"),
                    _container("c"),
                    _container("d", image="1"),
                    _container("new", image="2"),
                    _container("b", image="3"),
                ]
            }
        ),
    ),
    (
        "nested env: delete one entry, add one",
        _pod({"containers": [_container("a", env=_env("A", "B", "D"))]}),
        {
            "spec": {
                "containers": [{"name": "a", "env": [{"$patch": "delete", "name": "A"}, {"name": "C", "value": "c"}]}]
            }
        },
        _pod({"containers": [_container("a", env=_env("C", "B", "D"))]}),
    ),
    (
        "container ports by containerPort",
        _pod({"containers": [_container("a", ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 443}])]}),
        {
            "spec": {
                "containers": [{"name": "a", "ports": [{"containerPort": 443, "name": "https"}, {"containerPort": 81}]}]
            }
        },
        _pod(
            {
                "containers": [
                    _container(
                        "a",
                        ports=[
                            {"containerPort": 80, "name": "http"},
                            {"containerPort": 443, "name": "https"},
                            {"containerPort": 81},
                        ],
                    )
                ]
            }
        ),
    ),
    (
        "volumeMounts by mountPath",
        _pod(
            {
                "containers": [
                    _container("a", volumeMounts=[{"name": "v", "mountPath": "/a"}, {"name": "w", "mountPath": "/b"}])
                ]
            }
        ),
        {
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "volumeMounts": [
                            {"mountPath": "/b", "readOnly": True},
                            {"$patch": "delete", "mountPath": "/a"},
                        ],
                    }
                ]
            }
        },
        _pod({"containers": [_container("a", volumeMounts=[{"name": "w", "mountPath": "/b", "readOnly": True}])]}),
    ),
    (
        "args, command and tolerations are replaced",
        _pod({"containers": [_container("a", args=["1", "2"], command=["x"])], "tolerations": [{"key": "a"}]}),
        {"spec": {"containers": [{"name": "a", "args": ["3"]}], "tolerations": [{"key": "b"}]}},
        _pod({"containers": [_container("a", args=["3"], command=["x"])], "tolerations": [{"key": "b"}]}),
    ),
    (
        "ownerReferences merge by uid",
        _pod({}, ownerReferences=[_owner("1", "a"), _owner("2", "b")]),
        {"metadata": {"ownerReferences": [_owner("2", "renamed"), _owner("3", "c")]}},
        _pod({}, ownerReferences=[_owner("1", "a"), _owner("2", "renamed"), _owner("3", "c")]),
    ),
    (
        "ownerReferences delete by uid",
        _pod({}, ownerReferences=[_owner("1", "a"), _owner("2", "b")]),
        {"metadata": {"ownerReferences": [{"uid": "1", "$patch": "delete"}]}},
        _pod({}, ownerReferences=[_owner("2", "b")]),
    ),
    (
        "finalizers merge as a set",
        _pod({}, finalizers=["a", "b"]),
        {"metadata": {"finalizers": ["c", "a"]}},
        _pod({}, finalizers=["c", "a", "b"]),
    ),
    (
        "finalizers keep server order where both known",
        _pod({}, finalizers=["a", "b", "c"]),
        {"metadata": {"finalizers": ["c", "x", "a"]}},
        _pod({}, finalizers=["b", "c", "x", "a"]),
    ),
    (
        "finalizers $deleteFromPrimitiveList",
        _pod({}, finalizers=["a", "b", "c"]),
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "absent"]}},
        _pod({}, finalizers=["a", "c"]),
    ),
    (
        "finalizers three-way patch from kubectl apply",
        _pod({}, finalizers=["a", "b", "c"]),
        {
            "metadata": {
                "$setElementOrder/finalizers": ["c", "d", "a"],
                "finalizers": ["d"],
                "$deleteFromPrimitiveList/finalizers": ["b"],
            }
        },
        _pod({}, finalizers=["c", "d", "a"]),
    ),
    (
        "new list is taken from the patch",
        _pod({}),
        {
            "metadata": {"finalizers": ["x", "y"]},
            "spec": {"initContainers": [_container("i"), {"name": "j", "$patch": "delete"}]},
        },
        _pod({"initContainers": [_container("i")]}, finalizers=["x", "y"]),
    ),
    (
        "$setElementOrder reorders without changes",
        _pod({"containers": [_container("a"), _container("b"), _container("c")]}),
        {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}},
        _pod({"containers": [_container("c"), _container("a"), _container("b")]}),
    ),
    (
        "$setElementOrder places an added element",
        _pod({"containers": [_container("a"), _container("c")]}),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                "containers": [_container("b")],
            }
        },
        _pod({"containers": [_container("a"), _container("b"), _container("c")]}),
    ),
    (
        "$setElementOrder keeps server-only elements",
        _pod({"containers": [_container("x"), _container("a"), _container("y"), _container("b")]}),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{"name": "a", "image": "new"}],
            }
        },
        _pod({"containers": [_container("x"), _container("y"), _container("b"), _container("a", image="new")]}),
    ),
    (
        "kubectl apply removes one env entry and reorders",
        _deployment({"containers": [_container("app", env=_env("A", "B", "C")), _container("side")]}),
        {
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
                        "containers": [
                            {
                                "name": "app",
                                "$setElementOrder/env": [{"name": "C"}, {"name": "A"}],
                                "env": [{"$patch": "delete", "name": "B"}],
                            }
                        ],
                    }
                }
            }
        },
        _deployment({"containers": [_container("app", env=_env("C", "A")), _container("side")]}),
    ),
    (
        "list $patch: replace",
        _pod({"containers": [_container("a"), _container("b")]}),
        {"spec": {"containers": [_container("z"), {"$patch": "replace"}]}},
        _pod({"containers": [_container("z")]}),
    ),
    (
        "map $patch: replace",
        _pod({}, labels={"a": "1", "b": "2"}),
        {"metadata": {"labels": {"$patch": "replace", "c": "3"}}},
        _pod({}, labels={"c": "3"}),
    ),
    (
        "map $patch: delete empties the map",
        _pod({"nodeSelector": {"a": "b"}}),
        {"spec": {"nodeSelector": {"$patch": "delete"}}},
        _pod({"nodeSelector": {}}),
    ),
    (
        "map $patch: delete of an absent map adds nothing",
        _pod({}),
        {"spec": {"nodeSelector": {"$patch": "delete"}}},
        _pod({}),
    ),
    (
        "list item $patch: merge merges like an unmarked item (apimachinery rejects it)",
        _pod({"containers": [_container("a")]}),
        {"spec": {"containers": [{"name": "a", "$patch": "merge", "image": "new"}]}},
        _pod({"containers": [_container("a", image="new")]}),
    ),
    (
        "map $patch: merge is the default (apimachinery rejects it)",
        _pod({}, labels={"a": "1"}),
        {"metadata": {"labels": {"$patch": "merge", "b": "2"}}},
        _pod({}, labels={"a": "1", "b": "2"}),
    ),
    (
        "$retainKeys switches a volume source",
        _pod({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "secret": {"secretName": "s"}}]}),
        {"spec": {"volumes": [{"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]}},
        _pod({"volumes": [{"name": "v", "configMap": {"name": "cm"}}, {"name": "w", "secret": {"secretName": "s"}}]}),
    ),
    (
        "$retainKeys on deployment strategy",
        _deployment({}, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}),
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}},
        _deployment({}, strategy={"type": "Recreate"}),
    ),
    (
        "workload conditions merge by type",
        {
            **_deployment({}),
            "status": {
                "conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}]
            },
        },
        {
            "status": {
                "conditions": [{"type": "Progressing", "status": "False"}, {"type": "ReplicaFailure", "status": "True"}]
            }
        },
        {
            **_deployment({}),
            "status": {
                "conditions": [
                    {"type": "Available", "status": "True"},
                    {"type": "Progressing", "status": "False"},
                    {"type": "ReplicaFailure", "status": "True"},
                ]
            },
        },
    ),
    (
        "pod template metadata follows ObjectMeta rules",
        _deployment({}),
        {"spec": {"template": {"metadata": {"finalizers": ["f"], "labels": {"b": "2"}}}}},
        {
            **_deployment({}),
            "spec": {"template": {"metadata": {"labels": {"app": "a", "b": "2"}, "finalizers": ["f"]}, "spec": {}}},
        },
    ),
    (
        "a value of another type replaces",
        _pod({"nodeSelector": {"a": "b"}}),
        {"spec": {"nodeSelector": "x"}},
        _pod({"nodeSelector": "x"}),
    ),
]


@pytest.mark.parametrize(
    ("original", "patch", "expected"), [c[1:] for c in STRATEGIC_CASES], ids=[c[0] for c in STRATEGIC_CASES]
)
def test_strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    before = copy.deepcopy((original, patch))
    assert apply_strategic_merge_patch(original, patch, kind=original["kind"]) == expected
    assert (original, patch) == before


KIND_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    (
        "service ports by port",
        "Service",
        {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}},
        {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 8443}]}},
        {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 8443}, {"port": 443}]}},
    ),
    (
        "node podCIDRs union, taints replaced, addresses by type",
        "Node",
        {
            "spec": {"podCIDRs": ["a"], "taints": [{"key": "a"}]},
            "status": {"addresses": [{"type": "InternalIP", "address": "1"}]},
        },
        {
            "spec": {"podCIDRs": ["b"], "taints": [{"key": "b"}]},
            "status": {"addresses": [{"type": "Hostname", "address": "h"}]},
        },
        {
            "spec": {"podCIDRs": ["b", "a"], "taints": [{"key": "b"}]},
            "status": {"addresses": [{"type": "Hostname", "address": "h"}, {"type": "InternalIP", "address": "1"}]},
        },
    ),
    (
        "service account secrets by name",
        "ServiceAccount",
        {"secrets": [{"name": "a"}], "imagePullSecrets": [{"name": "a"}]},
        {"secrets": [{"name": "b"}], "imagePullSecrets": [{"name": "b"}]},
        {"secrets": [{"name": "b"}, {"name": "a"}], "imagePullSecrets": [{"name": "b"}]},
    ),
    (
        "namespace conditions merge, spec.finalizers replaced",
        "Namespace",
        {"spec": {"finalizers": ["kubernetes"]}, "status": {"conditions": [{"type": "A"}]}},
        {"spec": {"finalizers": ["x"]}, "status": {"conditions": [{"type": "B"}]}},
        {"spec": {"finalizers": ["x"]}, "status": {"conditions": [{"type": "B"}, {"type": "A"}]}},
    ),
    (
        "configmap data merges",
        "ConfigMap",
        {"data": {"a": "1", "b": "2"}},
        {"data": {"a": None, "c": "3"}},
        {"data": {"b": "2", "c": "3"}},
    ),
    (
        "role rules replaced",
        "Role",
        {"rules": [{"verbs": ["get"]}]},
        {"rules": [{"verbs": ["list"]}]},
        {"rules": [{"verbs": ["list"]}]},
    ),
    (
        "csr conditions replaced",
        "CertificateSigningRequest",
        {"status": {"conditions": [{"type": "Approved"}]}},
        {"status": {"conditions": [{"type": "Failed"}]}},
        {"status": {"conditions": [{"type": "Failed"}]}},
    ),
    (
        "crd metadata finalizers still merge",
        "CustomResourceDefinition",
        {"metadata": {"finalizers": ["a"]}, "spec": {"versions": [{"name": "v1"}]}},
        {"metadata": {"finalizers": ["b"]}, "spec": {"versions": [{"name": "v2"}]}},
        {"metadata": {"finalizers": ["b", "a"]}, "spec": {"versions": [{"name": "v2"}]}},
    ),
    (
        "job pod template containers",
        "Job",
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "env": _env("A")}]}}}},
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "env": _env("B")}]}}}},
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "env": _env("B", "A")}]}}}},
    ),
    (
        "cronjob jobTemplate containers",
        "CronJob",
        {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}}},
        {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b"}]}}}}}},
        {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b"}, {"name": "a"}]}}}}}},
    ),
    (
        "pod status conditions and podIPs merge",
        "Pod",
        {"status": {"conditions": [{"type": "Ready"}], "podIPs": [{"ip": "1"}], "containerStatuses": [{"name": "a"}]}},
        {
            "status": {
                "conditions": [{"type": "Initialized"}],
                "podIPs": [{"ip": "2"}],
                "containerStatuses": [{"name": "b"}],
            }
        },
        {
            "status": {
                "conditions": [{"type": "Initialized"}, {"type": "Ready"}],
                "podIPs": [{"ip": "2"}, {"ip": "1"}],
                "containerStatuses": [{"name": "b"}],
            }
        },
    ),
    (
        "statefulset volumeClaimTemplates replaced",
        "StatefulSet",
        {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "a"}}]}},
        {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "b"}}]}},
        {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "b"}}]}},
    ),
]


@pytest.mark.parametrize(
    ("kind", "original", "patch", "expected"), [c[1:] for c in KIND_CASES], ids=[c[0] for c in KIND_CASES]
)
def test_strategic_merge_patch_metadata_per_kind(
    kind: str, original: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply_strategic_merge_patch(original, patch, kind=kind) == expected


STRATEGIC_FAILURES: list[tuple[str, dict[str, Any], Any, int]] = [
    ("patch is not an object", _pod({}), [{"op": "add"}], 400),
    ("unknown map directive", _pod({}), {"spec": {"$patch": "bogus"}}, 422),
    (
        "unknown list directive",
        _pod({"containers": [_container("a")]}),
        {"spec": {"containers": [{"name": "a", "$patch": "x"}]}},
        422,
    ),
    (
        "list item without merge key",
        _pod({"containers": [_container("a")]}),
        {"spec": {"containers": [{"image": "x"}]}},
        422,
    ),
    (
        "delete item without merge key",
        _pod({"containers": [_container("a")]}),
        {"spec": {"containers": [{"$patch": "delete"}]}},
        422,
    ),
    ("mixed element types", _pod({}, finalizers=["a"]), {"metadata": {"finalizers": [1]}}, 422),
    (
        "patch order contradicts $setElementOrder",
        _pod({"containers": [_container("a"), _container("b")]}),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [_container("b"), _container("a")],
            }
        },
        422,
    ),
    ("$setElementOrder not a list", _pod({}), {"spec": {"$setElementOrder/containers": {"name": "a"}}}, 400),
    (
        "$deleteFromPrimitiveList not a list",
        _pod({}, finalizers=["a"]),
        {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
        400,
    ),
    ("$retainKeys not a list", _pod({}), {"spec": {"$retainKeys": "a"}}, 400),
    (
        "$retainKeys misses a patched field",
        _pod({"volumes": [{"name": "v", "emptyDir": {}}]}),
        {"spec": {"volumes": [{"name": "v", "$retainKeys": ["name"], "configMap": {"name": "cm"}}]}},
        400,
    ),
]


@pytest.mark.parametrize(
    ("original", "patch", "code"), [c[1:] for c in STRATEGIC_FAILURES], ids=[c[0] for c in STRATEGIC_FAILURES]
)
def test_strategic_merge_patch_rejects(original: dict[str, Any], patch: Any, code: int) -> None:
    with pytest.raises(PatchError) as failure:
        apply_strategic_merge_patch(original, patch, kind="Pod")
    assert failure.value.code == code


@pytest.mark.parametrize(
    "kind",
    [
        "Namespace",
        "ConfigMap",
        "Secret",
        "Service",
        "Endpoints",
        "ServiceAccount",
        "Event",
        "Node",
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "Lease",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "CertificateSigningRequest",
        "CustomResourceDefinition",
    ],
)
def test_strategic_merge_supported_for_built_in_kinds(kind: str) -> None:
    assert strategic_merge_supported(kind)


@pytest.mark.parametrize("kind", ["Shoot", "Seed", "pod", ""])
def test_strategic_merge_unsupported_kind_is_415(kind: str) -> None:
    assert not strategic_merge_supported(kind)
    with pytest.raises(PatchError) as failure:
        apply_strategic_merge_patch({}, {}, kind=kind)
    assert failure.value.code == 415


def test_strategic_merge_patch_result_does_not_alias_inputs() -> None:
    original = _pod({"containers": [_container("a", env=_env("A"))]})
    patch = {"spec": {"containers": [{"name": "b", "env": _env("B")}]}}
    before = copy.deepcopy((original, patch))
    result = apply_strategic_merge_patch(original, patch, kind="Pod")
    for container in result["spec"]["containers"]:
        container["env"].append({"name": "Z"})
    assert (original, patch) == before


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"spec": {"replica": 3, "paused": True}}, "map[spec:map[paused:true replica:3]]"),
        ({"b": [1, "x", None], "a": 1.5}, "map[a:1.5 b:[1 x <nil>]]"),
        ({"n": 1000000}, "map[n:1e+06]"),
        ([], "[]"),
    ],
)
def test_go_text_prints_like_go_percent_plus_v(value: Any, text: str) -> None:
    assert go_text(value) == text
