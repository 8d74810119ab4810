"""Strict decoding reads an outline of the built-in definitions until something loads the whole data, and finds
exactly the unknown fields the whole data finds, also where fields are named like schema keywords."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from gardener.apiserver.builtin import schemas

CRD_SCHEMA = {
    "type": "object",
    "description": "a schema whose properties are named like keywords",
    "properties": {
        "type": {"type": "string", "description": "x", "bogus": 1},
        "description": {"type": "string"},
        "$ref": {"type": "string"},
        "items": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}},
    },
    "x-kubernetes-preserve-unknown-fields": True,
    "unknownKeyword": {"a": 1},
}

OBJECTS: list[tuple[tuple[str, str, str], dict[str, Any]]] = [
    (("", "v1", "ConfigMap"), {"metadata": {"name": "c", "labels": {"a": "b"}, "bogus": 1}, "data": {"k": "v"}}),
    (
        ("", "v1", "Pod"),
        {
            "metadata": {"name": "p", "ownerReferences": [{"name": "o", "kindd": "x"}]},
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "imagee": "x",
                        "resources": {"limits": {"cpu": "1"}, "claims": [{"name": "c", "extra": 1}]},
                        "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x", "nope": 1}}}],
                        "ports": [{"containerPort": 80, "hostPortt": 1}],
                    }
                ],
                "volumes": [{"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": "t", "x": 1}}]}}],
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In", "bad": 2}]}]
                        }
                    }
                },
                "foo": {"bar": 1},
            },
            "status": {"conditions": [{"type": "Ready", "status": "True", "weird": 1}]},
        },
    ),
    (
        ("apps", "v1", "Deployment"),
        {
            "metadata": {"name": "d"},
            "spec": {
                "replica": 3,
                "selector": {"matchLabels": {"a": "b"}, "matchExpression": []},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "x": 1}]}},
            },
        },
    ),
    (
        ("batch", "v1", "CronJob"),
        {"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {"restartPolicyy": "x"}}}}}},
    ),
    (("scheduling.k8s.io", "v1", "PriorityClass"), {"value": 1, "description": "kept", "descriptionn": "gone"}),
    (("", "v1", "Service"), {"spec": {"type": "ClusterIP", "ports": [{"port": 80, "typo": 1}], "typ": "x"}}),
    (
        ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
        {"rules": [{"verbs": ["get"], "resource": ["pods"]}], "aggregationRule": {"clusterRoleSelectors": [{"x": 1}]}},
    ),
    (
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        {
            "spec": {
                "group": "example.dev",
                "names": {"plural": "ws", "kind": "W", "plurall": "x"},
                "versions": [{"name": "v1", "schema": {"openAPIV3Schema": CRD_SCHEMA}, "extra": True}],
            }
        },
    ),
    (("", "v1", "Namespace"), {"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"], "x": 1}}),
    (("example.dev", "v1", "NoSuchKind"), {"anything": 1}),
]


@pytest.fixture
def fresh_data() -> Iterator[None]:
    """Nothing loaded yet, as in a new server; the whole data is left loaded, as other tests may expect."""
    schemas._data.cache_clear()
    schemas._outline.cache_clear()
    yield
    schemas._data()


def _decode(gvk: tuple[str, str, str], obj: dict[str, Any]) -> tuple[list[str] | None, dict[str, Any]]:
    pruned = copy.deepcopy(obj)
    group, version, kind = gvk
    return schemas.unknown_fields(group=group, version=version, kind=kind, obj=pruned), pruned


def test_the_outline_and_the_whole_data_find_the_same_unknown_fields(fresh_data: None) -> None:
    from_outline = [_decode(gvk, obj) for gvk, obj in OBJECTS]
    served = schemas.served_resources()
    fields = schemas.top_level_fields(group="apps", version="v1", kind="Deployment")
    assert fields == frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
    assert schemas._outline.cache_info().currsize == 1
    assert schemas._data.cache_info().currsize == 0  # decoding alone never loads the whole data
    schemas.definitions()  # an OpenAPI document is asked for
    assert schemas._outline.cache_info().currsize == 0  # the outline is let go
    from_data = [_decode(gvk, obj) for gvk, obj in OBJECTS]
    assert from_outline == from_data
    schemas.served_resources.cache_clear()
    assert schemas.served_resources() == served
    found = {gvk[2]: fields for gvk, (fields, _) in zip((g for g, _ in OBJECTS), from_outline, strict=True)}
    assert found["PriorityClass"] == ["descriptionn"]  # a field named `description` is a field, not a keyword
    assert found["Service"] == ["spec.ports[0].typo", "spec.typ"]
    assert found["Pod"] is not None and "spec.containers[0].imagee" in found["Pod"]
    assert found["NoSuchKind"] is None
    # a CRD's schema is typed (JSONSchemaProps): properties named like keywords are fields there, and stay
    assert found["CustomResourceDefinition"] == [
        "spec.names.plurall",
        "spec.versions[0].schema.openAPIV3Schema.properties.type.bogus",
        "spec.versions[0].schema.openAPIV3Schema.unknownKeyword",
        "spec.versions[0].extra",
    ]


def test_the_outline_keeps_only_what_strict_decoding_reads(fresh_data: None) -> None:
    outline = schemas._outline()["definitions"]
    spec = outline["io.k8s.api.apps.v1.DeploymentSpec"]
    assert set(spec) == {"properties"}
    assert spec["properties"]["replicas"] == {}  # an integer: nothing to look into
    assert spec["properties"]["template"] == {"$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"}
    deployment = outline["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
