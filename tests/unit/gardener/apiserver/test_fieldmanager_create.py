"""The create fast path of `fieldmanager.track_update` gives exactly what the general comparison gives.

A create's managedFields are built in one walk of the new object; the general path compares the object with
nothing, strips the server's fields, leaves out reset fields and builds the trie. Both must agree to the
byte (key order included), for built-in kinds, kinds with status and reset spec fields, and CRD schemas.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gardener.apiserver import fieldmanager as fm
from gardener.apiserver.resources import BUILTIN, ResourceInfo

NOW = "2024-01-01T00:00:00Z"


def builtin(group: str, kind: str) -> ResourceInfo:
    return next(i for i in BUILTIN if i.group == group and i.kind == kind)


WIDGET = ResourceInfo(
    group="example.dev",
    version="v1",
    kind="Widget",
    plural="widgets",
    singular="widget",
    namespaced=True,
    storage_version="v1",
    crd_name="widgets.example.dev",
    schema={
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
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
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic"},
                    "limits": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
        },
    },
)

META = {
    "name": "x",
    "namespace": "ns",
    "uid": "u",
    "creationTimestamp": NOW,
    "generation": 1,
    "labels": {"app": "a", "tier": "b"},
    "annotations": {"note": "<&>"},
    "finalizers": ["example.dev/keep", "example.dev/keep", "other"],
    "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "1", "controller": True}],
}

CASES: list[tuple[ResourceInfo, dict[str, Any]]] = [
    (builtin("", "ConfigMap"), {"metadata": {"name": "cm", "namespace": "ns"}}),
    (builtin("", "ConfigMap"), {"metadata": META, "data": {"a": "1", "b": ""}, "binaryData": {}}),
    (
        builtin("", "Pod"),
        {
            "metadata": META,
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "nginx",
                        "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"}, {"name": "x"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}, {"name": "B"}],
                        "resources": {"requests": {"cpu": "1"}, "limits": {}},
                        "args": ["a", "b"],
                    },
                    {"name": "side", "image": "busybox", "volumeMounts": [{"name": "v", "mountPath": "/v"}]},
                ],
                "volumes": [{"name": "v", "emptyDir": {}}],
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "nodeSelector": {"a": "b"},
                "priority": 0,
                "hostNetwork": None,
            },
            "status": {"phase": "Pending"},
        },
    ),
    (
        builtin("apps", "Deployment"),
        {
            "metadata": META,
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 8080}]}]},
                },
            },
        },
    ),
    (
        builtin("", "Service"),
        {
            "metadata": META,
            "spec": {
                "selector": {"app": "a"},
                "ports": [{"port": 80, "targetPort": 8080}, {"port": 53, "protocol": "UDP"}],
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        },
    ),
    (builtin("", "Namespace"), {"metadata": {"name": "ns"}, "spec": {"finalizers": ["kubernetes"]}}),
    (builtin("", "Namespace"), {"metadata": {"name": "ns", "labels": {"a": "b"}}, "spec": {}, "status": {}}),
    (
        builtin("rbac.authorization.k8s.io", "ClusterRole"),
        {"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    ),
    (
        WIDGET,
        {
            "metadata": META,
            "spec": {
                "tags": ["b", "a", "a", 3, None],
                "ports": [{"name": "http", "port": 80}, {"name": "dns", "protocol": "UDP"}, {"port": 1}],
                "selector": {"a": {"b": 1}},
                "limits": {"cpu": "1"},
                "free": {"deep": {"er": [1, 2]}},
            },
            "status": {"phase": "Ready"},
        },
    ),
    (WIDGET, {"metadata": {"name": "only"}, "status": {"phase": "Ready"}}),
]


def _general(info: ResourceInfo, obj: dict[str, Any]) -> Any:
    """The general path's answer for a create: compare with nothing, leave reset fields out, strip, encode."""
    t = fm._root_type(info)
    c = fm._compare_for({}, obj, t, fm._ignore_rule(info, ""))
    mine = fm._strip(c.added | c.modified)
    if not mine:
        return None
    mid = fm.ManagerId("creator", "Update", info.api_version)
    return fm.encode_managed_fields({mid: fm._Entry(mine, info.api_version, NOW)})


@pytest.mark.parametrize(("info", "body"), CASES, ids=[f"{i.kind}-{n}" for n, (i, _) in enumerate(CASES)])
def test_create_fields_match_the_general_comparison(info: ResourceInfo, body: dict[str, Any]) -> None:
    obj = {"apiVersion": info.api_version, "kind": info.kind, **copy.deepcopy(body)}
    expected = _general(info, obj)
    fm.track_update(None, obj, manager="creator", info=info, now=NOW)
    got = obj["metadata"].get("managedFields")
    # byte for byte: the order of fieldsV1's keys is what clients see
    assert json.dumps(got) == json.dumps(expected)
    assert got is None or got[0]["fieldsV1"]  # a create always owns something here


def test_a_create_sending_its_own_managed_fields_still_takes_the_general_path() -> None:
    info = builtin("", "ConfigMap")
    sent = [
        {
            "manager": "other",
            "operation": "Update",
            "apiVersion": "v1",
            "time": NOW,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}},
        }
    ]
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "managedFields": sent},
        "data": {"a": "1"},
    }
    fm.track_update(None, obj, manager="creator", info=info, now=NOW)
    # the sent entry lost the field the creator set, and is gone for owning nothing else
    assert [e["manager"] for e in obj["metadata"]["managedFields"]] == ["creator"]


def test_reset_fields_and_server_metadata_are_never_owned_on_create() -> None:
    ns: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "n", "uid": "u", "labels": {"a": "b"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    fm.track_update(None, ns, manager="creator", info=builtin("", "Namespace"), now=NOW)
    assert ns["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
        "f:spec": {},
    }
