"""Request bodies in the OpenAPI v3 documents: kube's shape, enough for an OpenAPI-driven fuzzer, and kubectl safe."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.apiserver.openapi import (
    DELETE_OPTIONS,
    JSON_PATCH,
    PATCH_MEDIA_TYPES,
    group_version_path,
    schema_name,
    v3_group_version,
)
from gardener.apiserver.resources import Registry, ResourceInfo, ScaleSpec
from tests.unit.gardener.apiserver.test_openapi import all_documents, operations

REF = "#/components/schemas/"
WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {"size": {"type": "integer", "minimum": 0}, "replicas": {"type": "integer"}},
        },
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
    },
}


def widget() -> ResourceInfo:
    return ResourceInfo(
        group="fuzz.example.com",
        version="v1",
        kind="Widget",
        plural="widgets",
        singular="widget",
        namespaced=True,
        schema=WIDGET_SCHEMA,
        crd_name="widgets.fuzz.example.com",
        scale=ScaleSpec(".spec.replicas", ".status.replicas"),
    )


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.set_crd("widgets.fuzz.example.com", [widget()])
    return reg


def body_schema(doc: dict[str, Any], path: str, method: str, media: str = "*/*") -> str:
    ref: str = doc["paths"][path][method]["requestBody"]["content"][media]["schema"]["$ref"]
    assert ref.startswith(REF)
    return ref.removeprefix(REF)


def test_writes_carry_the_kinds_schema_as_kube_does(registry: Registry) -> None:
    for doc in all_documents(registry).values():
        schemas = doc["components"]["schemas"]
        for path, method, op in operations(doc):
            body = op.get("requestBody")
            if method == "get":
                assert body is None, path
            elif method in ("post", "put"):
                assert body["required"] is True, path
                assert set(body["content"]) == {"*/*"}, path
                name = body_schema(doc, path, method)
                # the kind the operation answers with is the kind it takes
                assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == REF + name, path
                assert schemas[name]["x-kubernetes-group-version-kind"], path
            elif method == "delete":
                assert "required" not in body, path  # a DELETE without options is fine
                assert body_schema(doc, path, method) == DELETE_OPTIONS, path
            else:
                assert body["required"] is True, path
                assert tuple(body["content"]) == PATCH_MEDIA_TYPES, path
                for media in PATCH_MEDIA_TYPES:
                    assert body_schema(doc, path, method, media) in schemas, path


def test_patch_bodies_by_patch_type() -> None:
    doc = v3_group_version(Registry(), "apps", "v1")
    assert doc is not None
    path = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    for media in ("application/apply-patch+yaml", "application/merge-patch+json"):
        assert body_schema(doc, path, "patch", media) == "io.k8s.api.apps.v1.Deployment"
    assert body_schema(doc, path, "patch", "application/json-patch+json") == JSON_PATCH
    json_patch = doc["components"]["schemas"][JSON_PATCH]
    assert json_patch["type"] == "array"
    assert json_patch["items"]["required"] == ["op", "path"]
    assert set(json_patch["items"]["properties"]["op"]["enum"]) == {"add", "remove", "replace", "move", "copy", "test"}
    scale = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"
    assert body_schema(doc, scale, "put") == "io.k8s.api.autoscaling.v1.Scale"
    assert body_schema(doc, scale, "patch", "application/merge-patch+json") == "io.k8s.api.autoscaling.v1.Scale"
    status = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"
    assert body_schema(doc, status, "put") == "io.k8s.api.apps.v1.Deployment"


def test_subresource_bodies_of_the_core_group() -> None:
    doc = v3_group_version(Registry(), "", "v1")
    assert doc is not None
    token = "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
    assert body_schema(doc, token, "post") == "io.k8s.api.authentication.v1.TokenRequest"
    assert body_schema(doc, "/api/v1/namespaces/{name}/finalize", "put") == "io.k8s.api.core.v1.Namespace"
    collection = "/api/v1/namespaces/{namespace}/configmaps"
    assert body_schema(doc, collection, "post") == "io.k8s.api.core.v1.ConfigMap"
    assert body_schema(doc, collection, "delete") == DELETE_OPTIONS
    options = doc["components"]["schemas"][DELETE_OPTIONS]["properties"]
    assert {"dryRun", "gracePeriodSeconds", "preconditions", "propagationPolicy", "orphanDependents"} <= set(options)


def test_builtin_bodies_are_upstreams_full_schemas() -> None:
    doc = v3_group_version(Registry(), "apps", "v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    name = body_schema(doc, "/apis/apps/v1/namespaces/{namespace}/deployments", "post")
    spec_ref = schemas[name]["properties"]["spec"]["$ref"]
    spec = schemas[spec_ref.removeprefix(REF)]
    assert spec["required"] == ["selector", "template"]
    assert "x-kubernetes-preserve-unknown-fields" not in spec


def test_subresource_bodies_follow_upstreams_paths() -> None:
    pods = ResourceInfo(
        group="",
        version="v1",
        kind="Pod",
        plural="pods",
        singular="pod",
        namespaced=True,
        extra_subresources=("eviction", "binding", "ephemeralcontainers", "log", "exec"),
    )
    doc = v3_group_version(Registry([pods]), "", "v1")
    assert doc is not None
    base = "/api/v1/namespaces/{namespace}/pods/{name}"
    assert body_schema(doc, f"{base}/eviction", "post") == "io.k8s.api.policy.v1.Eviction"
    eviction = doc["paths"][f"{base}/eviction"]
    assert set(eviction) == {"post", "parameters"}
    assert eviction["post"]["x-kubernetes-group-version-kind"] == {
        "group": "policy",
        "version": "v1",
        "kind": "Eviction",
    }
    assert eviction["post"]["operationId"] == "createCoreV1NamespacedPodEviction"
    assert body_schema(doc, f"{base}/binding", "post") == "io.k8s.api.core.v1.Binding"
    assert set(doc["paths"][f"{base}/ephemeralcontainers"]) == {"get", "put", "patch", "parameters"}
    # streams have no schema to describe
    assert f"{base}/log" not in doc["paths"] and f"{base}/exec" not in doc["paths"]


def test_custom_resource_bodies_are_the_crd_schema(registry: Registry) -> None:
    info = widget()
    doc = all_documents(registry)[group_version_path(info.group, info.version)]
    item = "/apis/fuzz.example.com/v1/namespaces/{namespace}/widgets/{name}"
    name = schema_name(info)
    assert body_schema(doc, item, "put") == name
    assert body_schema(doc, item, "patch", "application/merge-patch+json") == name
    assert doc["components"]["schemas"][name]["properties"]["spec"]["required"] == ["size"]


def test_kubectl_keeps_building_strategic_merge_patches_from_its_own_types(registry: Registry) -> None:
    """kubectl apply (gvkSupportsPatchOpenAPIV3) uses these schemas for its patch only when a PATCH operation of the
    kind lists application/strategic-merge-patch+json; the built-ins' schemas lack the nested merge keys."""
    for doc in all_documents(registry).values():
        for path, method, op in operations(doc):
            if method == "patch":
                assert "application/strategic-merge-patch+json" not in op["requestBody"]["content"], path


def test_an_openapi_fuzzer_loads_every_operation(registry: Registry) -> None:
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    for key, doc in all_documents(registry).items():
        schema = schemathesis.openapi.from_dict(doc, config=SchemathesisConfig())
        results = list(schema.get_all_operations())
        assert len(results) == len(operations(doc)), key
        for result in results:
            operation = result.ok()  # raises for an operation schemathesis cannot generate requests for
            if operation.method.upper() in ("POST", "PUT", "PATCH"):
                assert [b.media_type for b in operation.body], operation.label
