"""OpenAPI v3 documents: what kubectl's field-validation probe, `explain` and `apply` look for."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gardener.apiserver.openapi import (
    OBJECT_META,
    PATCH_MEDIA_TYPES,
    document_hash,
    group_version_path,
    parse_group_version_path,
    schema_name,
    v2_document,
    v3_group_version,
    v3_index,
)
from gardener.apiserver.resources import ALL_VERBS, BUILTIN, Registry, ResourceInfo, ScaleSpec

SHOOT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Shoot represents a Shoot cluster created and managed by Gardener.",
    "properties": {
        "spec": {
            "type": "object",
            "description": "Specification of the Shoot cluster.",
            "required": ["region"],
            "properties": {
                "region": {"type": "string", "description": "Region is a name of a region."},
                "replicas": {"type": "integer"},
            },
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}},
    },
}


def shoot(version: str = "v1beta1", schema: dict[str, Any] | None = SHOOT_SCHEMA, **extra: Any) -> ResourceInfo:
    return ResourceInfo(
        group="core.gardener.cloud",
        version=version,
        kind="Shoot",
        plural="shoots",
        singular="shoot",
        namespaced=True,
        schema=schema,
        crd_name="shoots.core.gardener.cloud",
        scale=ScaleSpec(".spec.replicas", ".status.replicas"),
        **extra,
    )


def seed() -> ResourceInfo:
    return ResourceInfo(
        group="core.gardener.cloud",
        version="v1beta1",
        kind="Seed",
        plural="seeds",
        singular="seed",
        namespaced=False,
        schema=None,
        crd_name="seeds.core.gardener.cloud",
    )


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.set_crd("shoots.core.gardener.cloud", [shoot()])
    reg.set_crd("seeds.core.gardener.cloud", [seed()])
    return reg


def all_documents(registry: Registry) -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for group, versions in registry.groups().items():
        for version in versions:
            doc = v3_group_version(registry, group, version)
            assert doc is not None
            docs[group_version_path(group, version)] = doc
    return docs


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


def supports_field_validation(doc: dict[str, Any], gvk: dict[str, str]) -> bool:
    """kubectl's supportsQueryParamV3: the first PATCH operation of the GVK must list fieldValidation."""
    for _, method, op in operations(doc):
        if method == "patch" and op.get("x-kubernetes-group-version-kind") == gvk:
            return any(p["name"] == "fieldValidation" for p in op.get("parameters", []))
    return False


def explain_gvk(doc: dict[str, Any], info: ResourceInfo) -> dict[str, str] | None:
    """kubectl explain's plaintext template: the GVK of the first operation on one of four resource paths."""
    prefix = "/api" if not info.group else f"/apis/{info.group}"
    candidates = [
        f"{prefix}/{info.version}/{info.plural}",
        f"{prefix}/{info.version}/{info.plural}/{{name}}",
        f"{prefix}/{info.version}/namespaces/{{namespace}}/{info.plural}",
        f"{prefix}/{info.version}/namespaces/{{namespace}}/{info.plural}/{{name}}",
    ]
    for candidate in candidates:
        item = doc["paths"].get(candidate)
        for method in ("get", "post", "put", "patch", "delete"):
            if item and method in item and item[method].get("x-kubernetes-group-version-kind"):
                gvk: dict[str, str] = item[method]["x-kubernetes-group-version-kind"]
                return gvk
    return None


def schema_for(doc: dict[str, Any], gvk: dict[str, str]) -> dict[str, Any] | None:
    for schema in doc["components"]["schemas"].values():
        if gvk in schema.get("x-kubernetes-group-version-kind", []):
            found: dict[str, Any] = schema
            return found
    return None


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref") or (schema.get("allOf") or [{}])[0].get("$ref")
    if not ref:
        return schema
    resolved: dict[str, Any] = doc["components"]["schemas"][ref.removeprefix("#/components/schemas/")]
    return resolved


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []  # JSONSchemaProps has a `$ref` field
        return own + [r for v in value.values() for r in refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


# -- index ---------------------------------------------------------------------------------------------


def test_index_lists_every_group_version_with_a_hash(registry: Registry) -> None:
    index = v3_index(registry)
    assert set(index) == {"paths"}
    expected = {group_version_path(g, v) for g, vs in registry.groups().items() for v in vs}
    assert set(index["paths"]) == expected
    assert {"api/v1", "apis/apps/v1", "apis/core.gardener.cloud/v1beta1"} <= expected
    for key, entry in index["paths"].items():
        url = entry["serverRelativeURL"]
        gv = parse_group_version_path(key)
        assert gv is not None
        doc = v3_group_version(registry, *gv)
        assert doc is not None
        assert url == f"/openapi/v3/{key}?hash={document_hash(doc)}"
        assert len(document_hash(doc)) == 128


def test_hash_changes_only_with_the_document(registry: Registry) -> None:
    before = v3_index(registry)["paths"]
    assert v3_index(registry)["paths"] == before
    registry.set_crd("shoots.core.gardener.cloud", [shoot(schema={**SHOOT_SCHEMA, "description": "changed"})])
    after = v3_index(registry)["paths"]
    assert after["apis/core.gardener.cloud/v1beta1"] != before["apis/core.gardener.cloud/v1beta1"]
    assert after["api/v1"] == before["api/v1"]
    registry.remove_crd("shoots.core.gardener.cloud")
    registry.remove_crd("seeds.core.gardener.cloud")
    assert "apis/core.gardener.cloud/v1beta1" not in v3_index(registry)["paths"]


def test_group_version_paths() -> None:
    assert group_version_path("", "v1") == "api/v1"
    assert group_version_path("apps", "v1") == "apis/apps/v1"
    assert parse_group_version_path("api/v1") == ("", "v1")
    assert parse_group_version_path("/apis/core.gardener.cloud/v1beta1") == ("core.gardener.cloud", "v1beta1")
    for bad in ("", "api", "apis/apps", "apis/a/b/c", "foo/v1", "api/"):
        assert parse_group_version_path(bad) is None


def test_unknown_group_version_has_no_document(registry: Registry) -> None:
    assert v3_group_version(registry, "nope.example.com", "v1") is None
    assert v3_group_version(registry, "apps", "v2") is None


# -- documents -----------------------------------------------------------------------------------------


def test_documents_are_deterministic_json(registry: Registry) -> None:
    first = all_documents(registry)
    second = all_documents(registry)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    for doc in first.values():
        assert doc["openapi"] == "3.0.0"
        assert doc["info"]["title"]
        json.loads(json.dumps(doc))


def test_every_kind_passes_kubectls_field_validation_probe(registry: Registry) -> None:
    docs = all_documents(registry)
    for info in registry.all():
        if "patch" not in info.verbs:
            continue  # create-only kinds (reviews, bindings) have no PATCH operation, as in kube
        doc = docs[group_version_path(info.group, info.version)]
        gvk = {"group": info.group, "version": info.version, "kind": info.kind}
        assert supports_field_validation(doc, gvk), gvk


def test_every_patch_operation_carries_field_validation(registry: Registry) -> None:
    for doc in all_documents(registry).values():
        for path, method, op in operations(doc):
            assert "x-kubernetes-group-version-kind" in op, path
            assert op["x-kubernetes-action"] in ("get", "list", "post", "put", "patch", "delete", "deletecollection")
            # kubectl 1.37 builds strategic merge patches from this document when it lists the type; our
            # built-in schemas lack the nested merge keys, so it must keep using its compiled-in types.
            assert "application/strategic-merge-patch+json" not in op.get("requestBody", {}).get("content", {}), path
            if method == "patch":
                names = [p["name"] for p in op["parameters"]]
                assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= set(names), path
            for param in op.get("parameters", []):
                assert param["in"] == "query"
                assert param["name"]


def test_every_kind_is_explainable(registry: Registry) -> None:
    docs = all_documents(registry)
    for info in registry.all():
        doc = docs[group_version_path(info.group, info.version)]
        gvk = explain_gvk(doc, info)
        assert gvk == {"group": info.group, "version": info.version, "kind": info.kind}
        schema = schema_for(doc, gvk)
        assert schema is not None, gvk
        assert schema is doc["components"]["schemas"][schema_name(info)]
        props = schema["properties"]
        assert props["apiVersion"]["type"] == "string"
        assert props["kind"]["description"].startswith("Kind is a string value")
        assert resolve(doc, props["metadata"]) is doc["components"]["schemas"][OBJECT_META]
        assert schema["type"] == "object"


def test_all_references_resolve_and_operation_ids_are_unique(registry: Registry) -> None:
    for key, doc in all_documents(registry).items():
        schemas = doc["components"]["schemas"]
        for ref in refs(doc):
            assert ref.startswith("#/components/schemas/"), ref
            assert ref.removeprefix("#/components/schemas/") in schemas, (key, ref)
        ids = [op["operationId"] for _, _, op in operations(doc)]
        assert len(ids) == len(set(ids)), key


def test_paths_of_a_namespaced_builtin() -> None:
    doc = v3_group_version(Registry(), "", "v1")
    assert doc is not None
    paths = doc["paths"]
    collection = paths["/api/v1/namespaces/{namespace}/configmaps"]
    assert set(collection) == {"get", "post", "delete", "parameters"}
    assert collection["get"]["operationId"] == "listCoreV1NamespacedConfigMap"
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert collection["delete"]["x-kubernetes-action"] == "deletecollection"
    assert {p["name"] for p in collection["parameters"]} == {"namespace", "pretty"}
    item = paths["/api/v1/namespaces/{namespace}/configmaps/{name}"]
    assert set(item) == {"get", "put", "patch", "delete", "parameters"}
    assert item["patch"]["operationId"] == "patchCoreV1NamespacedConfigMap"
    assert item["patch"]["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    name_param = next(p for p in item["parameters"] if p["name"] == "name")
    assert name_param == {**name_param, "in": "path", "required": True}
    assert paths["/api/v1/configmaps"]["get"]["operationId"] == "listCoreV1ConfigMapForAllNamespaces"
    assert "/api/v1/namespaces/{namespace}/configmaps/{name}/status" not in paths
    status = paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]
    assert status["patch"]["operationId"] == "patchCoreV1NamespacedPodStatus"
    assert set(status) == {"get", "put", "patch", "parameters"}
    assert paths["/api/v1/namespaces/{name}/finalize"]["put"]["operationId"] == "replaceCoreV1NamespaceFinalize"
    token = paths["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"]["post"]
    assert token["x-kubernetes-group-version-kind"]["kind"] == "TokenRequest"
    assert "/api/v1/namespaces" in paths
    assert "/api/v1/namespaces/{name}" in paths


def test_builtin_schema_names_and_fields() -> None:
    registry = Registry()
    expected = {
        ("", "ConfigMap"): "io.k8s.api.core.v1.ConfigMap",
        ("apps", "Deployment"): "io.k8s.api.apps.v1.Deployment",
        ("rbac.authorization.k8s.io", "Role"): "io.k8s.api.rbac.v1.Role",
        ("events.k8s.io", "Event"): "io.k8s.api.events.v1.Event",
        ("coordination.k8s.io", "Lease"): "io.k8s.api.coordination.v1.Lease",
        (
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
        ): "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    }
    for info in BUILTIN:
        if (info.group, info.kind) in expected:
            assert schema_name(info) == expected[(info.group, info.kind)]
    doc = v3_group_version(registry, "", "v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    cm = schemas["io.k8s.api.core.v1.ConfigMap"]
    assert "x-kubernetes-preserve-unknown-fields" not in cm
    assert cm["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "ConfigMap"}]
    assert cm["properties"]["data"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": cm["properties"]["data"]["description"],
    }
    assert cm["properties"]["binaryData"]["additionalProperties"] == {"type": "string", "format": "byte"}
    pod = schemas["io.k8s.api.core.v1.Pod"]
    spec = pod["properties"]["spec"]
    # the client's models describe scalar fields only: a field of a struct type is a bare reference
    assert spec == {"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}
    # every level down to the leaves, as upstream's document has them
    pod_spec = resolve(doc, spec)
    assert "containers" in pod_spec["required"]
    container = resolve(doc, pod_spec["properties"]["containers"]["items"])
    assert container is schemas["io.k8s.api.core.v1.Container"]
    assert container["properties"]["image"]["description"].startswith("Container image name.")
    resources = resolve(doc, container["properties"]["resources"])
    limits = resources["properties"]["limits"]
    assert limits["description"].startswith("Limits describes the maximum amount of compute resources allowed.")
    # as kube's v3: no single type, so kubectl explain names it (`<map[string]Quantity>`)
    assert resolve(doc, limits["additionalProperties"]) == {"oneOf": [{"type": "string"}, {"type": "number"}]}
    assert limits["additionalProperties"] == {
        "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"
    }
    port = resolve(doc, container["properties"]["ports"]["items"])["properties"]["containerPort"]
    assert (port["type"], port["format"]) == ("integer", "int32")
    assert pod_spec["properties"]["terminationGracePeriodSeconds"]["format"] == "int64"
    probe = resolve(doc, resolve(doc, container["properties"]["livenessProbe"])["properties"]["httpGet"])
    assert resolve(doc, probe["properties"]["port"]) == {
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    }
    assert schemas["io.k8s.api.core.v1.PodList"]["x-kubernetes-group-version-kind"][0]["kind"] == "PodList"
    meta = schemas[OBJECT_META]["properties"]
    assert meta["name"]["type"] == "string"
    assert resolve(doc, meta["creationTimestamp"]) == {"type": "string", "format": "date-time"}
    assert meta["ownerReferences"]["items"]["$ref"].endswith("meta.v1.OwnerReference")
    assert schemas[f"{OBJECT_META[: -len('ObjectMeta')]}OwnerReference"]["required"] == [
        "apiVersion",
        "kind",
        "name",
        "uid",
    ]
    rbac = v3_group_version(registry, "rbac.authorization.k8s.io", "v1")
    assert rbac is not None
    role = rbac["components"]["schemas"]["io.k8s.api.rbac.v1.Role"]
    assert role["properties"]["rules"]["type"] == "array"
    assert rbac["components"]["schemas"]["io.k8s.api.rbac.v1.PolicyRule"]["required"] == ["verbs"]


def test_deployment_template_reaches_the_pod_schema() -> None:
    doc = v3_group_version(Registry(), "apps", "v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    spec = resolve(doc, schemas["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"])
    assert spec["required"] == ["selector", "template"]
    assert resolve(doc, spec["properties"]["selector"]) is schemas["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]
    template = resolve(doc, spec["properties"]["template"])
    assert resolve(doc, template["properties"]["metadata"]) is schemas[OBJECT_META]
    assert resolve(doc, template["properties"]["spec"]) is schemas["io.k8s.api.core.v1.PodSpec"]
    strategy = resolve(doc, spec["properties"]["strategy"])
    rolling = resolve(doc, strategy["properties"]["rollingUpdate"])
    assert rolling["properties"]["maxSurge"]["allOf"][0]["$ref"].endswith("intstr.IntOrString")


def test_scale_subresource_uses_the_autoscaling_kind() -> None:
    doc = v3_group_version(Registry(), "apps", "v1")
    assert doc is not None
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    gvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert scale["patch"]["x-kubernetes-group-version-kind"] == gvk
    assert scale["patch"]["operationId"] == "patchAppsV1NamespacedDeploymentScale"
    assert schema_for(doc, gvk) is doc["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"]


# -- custom resources ----------------------------------------------------------------------------------


def test_crd_schema_is_the_open_api_v3_schema_with_type_meta(registry: Registry) -> None:
    original = copy.deepcopy(SHOOT_SCHEMA)
    doc = v3_group_version(registry, "core.gardener.cloud", "v1beta1")
    assert doc is not None
    assert original == SHOOT_SCHEMA  # the registry's schema is not modified
    schema = doc["components"]["schemas"]["cloud.gardener.core.v1beta1.Shoot"]
    assert schema["description"] == SHOOT_SCHEMA["description"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "core.gardener.cloud", "version": "v1beta1", "kind": "Shoot"}
    ]
    assert schema["properties"]["spec"] == SHOOT_SCHEMA["properties"]["spec"]
    assert schema["properties"]["metadata"]["allOf"] == [{"$ref": f"#/components/schemas/{OBJECT_META}"}]
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert "x-kubernetes-preserve-unknown-fields" not in schema
    assert OBJECT_META in doc["components"]["schemas"]
    list_schema = doc["components"]["schemas"]["cloud.gardener.core.v1beta1.ShootList"]
    assert list_schema["properties"]["items"]["items"]["allOf"][0]["$ref"].endswith("v1beta1.Shoot")

    seed_schema = doc["components"]["schemas"]["cloud.gardener.core.v1beta1.Seed"]
    assert seed_schema["x-kubernetes-preserve-unknown-fields"] is True
    assert seed_schema["type"] == "object"
    assert doc["paths"]["/apis/core.gardener.cloud/v1beta1/seeds/{name}"]["patch"]["operationId"] == (
        "patchCoreGardenerCloudV1beta1Seed"
    )
    shoot_item = doc["paths"]["/apis/core.gardener.cloud/v1beta1/namespaces/{namespace}/shoots/{name}"]
    assert shoot_item["get"]["tags"] == ["coreGardenerCloud_v1beta1"]
    assert "/apis/core.gardener.cloud/v1beta1/namespaces/{namespace}/shoots/{name}/scale" in doc["paths"]


def test_each_crd_version_gets_its_own_document() -> None:
    registry = Registry()
    v1 = shoot("v1", schema={"type": "object", "properties": {"spec": {"type": "object", "description": "v1 spec"}}})
    registry.set_crd("shoots.core.gardener.cloud", [shoot(), v1])
    beta = v3_group_version(registry, "core.gardener.cloud", "v1beta1")
    ga = v3_group_version(registry, "core.gardener.cloud", "v1")
    assert beta is not None and ga is not None
    assert "cloud.gardener.core.v1.Shoot" in ga["components"]["schemas"]
    assert "cloud.gardener.core.v1.Shoot" not in beta["components"]["schemas"]
    assert ga["components"]["schemas"]["cloud.gardener.core.v1.Shoot"]["properties"]["spec"]["description"] == "v1 spec"
    assert "apis/core.gardener.cloud/v1" in v3_index(registry)["paths"]


def test_verbs_limit_the_operations() -> None:
    registry = Registry()
    read_only = ResourceInfo(
        group="example.com",
        version="v1",
        kind="Thing",
        plural="things",
        singular="thing",
        namespaced=False,
        verbs=("get", "list", "watch"),
        has_status=False,
        crd_name="things.example.com",
    )
    registry.set_crd("things.example.com", [read_only])
    doc = v3_group_version(registry, "example.com", "v1")
    assert doc is not None
    assert set(doc["paths"]) == {"/apis/example.com/v1/things", "/apis/example.com/v1/things/{name}"}
    assert set(doc["paths"]["/apis/example.com/v1/things/{name}"]) == {"get", "parameters"}
    assert schema_name(read_only) == "com.example.v1.Thing"
    full = ResourceInfo(
        group="example.com",
        version="v1",
        kind="Thing",
        plural="things",
        singular="thing",
        namespaced=False,
        verbs=ALL_VERBS,
        crd_name="things.example.com",
    )
    registry.set_crd("things.example.com", [full])
    doc = v3_group_version(registry, "example.com", "v1")
    assert doc is not None
    assert set(doc["paths"]["/apis/example.com/v1/things/{name}"]) == {"get", "put", "patch", "delete", "parameters"}


def test_unknown_builtin_kind_gets_a_loose_schema() -> None:
    odd = ResourceInfo(
        group="policy",
        version="v1",
        kind="PodOddity",
        plural="pododdities",
        singular="pododdity",
        namespaced=True,
    )
    doc = v3_group_version(Registry([odd]), "policy", "v1")
    assert doc is not None
    schema = doc["components"]["schemas"]["io.k8s.api.policy.v1.PodOddity"]
    assert schema["x-kubernetes-preserve-unknown-fields"] is True
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata"}


# -- /openapi/v2 ---------------------------------------------------------------------------------------


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def test_v2_is_one_swagger_document_of_every_group_version(registry: Registry) -> None:
    v2 = v2_document(registry)
    assert v2["swagger"] == "2.0"
    assert set(v2["paths"]) == {path for doc in all_documents(registry).values() for path in doc["paths"]}
    for ref in refs(v2):
        assert ref.startswith("#/definitions/"), ref
        assert ref.removeprefix("#/definitions/") in v2["definitions"], ref
    assert "requestBody" not in keys(v2["paths"])
    props = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    assert v2["definitions"][props]["properties"]["$ref"]["type"] == "string"
    assert v2["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "format": "int-or-string",
        "type": "string",
    }
    assert json.dumps(v2, sort_keys=True) == json.dumps(v2_document(registry), sort_keys=True)

    deployment = v2["definitions"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert deployment["properties"]["metadata"] == {"$ref": f"#/definitions/{OBJECT_META}"}
    shoot_schema = v2["definitions"]["cloud.gardener.core.v1beta1.Shoot"]
    metadata = shoot_schema["properties"]["metadata"]  # a described reference: side by side, as in kube's v2
    assert metadata["$ref"] == f"#/definitions/{OBJECT_META}"
    assert metadata["description"].startswith("Standard object's metadata.")
    assert shoot_schema["properties"]["spec"]["required"] == ["region"]
    assert shoot_schema["x-kubernetes-group-version-kind"][0]["kind"] == "Shoot"

    collection = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    post = collection["post"]
    assert post["parameters"][0] == {
        "in": "body",
        "name": "body",
        "required": True,
        "schema": {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"},
    }
    assert post["responses"]["201"]["schema"] == {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}
    assert post["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert {p["name"]: p["in"] for p in collection["parameters"]} == {"namespace": "path", "pretty": "query"}
    patch = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["consumes"] == list(PATCH_MEDIA_TYPES)
    assert patch["parameters"][0]["schema"] == {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}
    validation = next(p for p in patch["parameters"] if p["name"] == "fieldValidation")
    assert (validation["in"], validation["type"]) == ("query", "string")


def test_v2_drops_what_swagger_2_cannot_say() -> None:
    registry = Registry()
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "nullable": {"type": "string", "nullable": True},
                    "either": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True},
                },
            }
        },
    }
    registry.set_crd("shoots.core.gardener.cloud", [shoot(schema=schema)])
    spec = v2_document(registry)["definitions"]["cloud.gardener.core.v1beta1.Shoot"]["properties"]["spec"]
    assert spec["properties"]["nullable"] == {"type": "string"}  # a property named like a keyword stays
    assert spec["properties"]["either"] == {"x-kubernetes-int-or-string": True}


def test_a_field_named_like_a_keyword_survives() -> None:
    doc = v3_group_version(Registry(), "apiextensions.k8s.io", "v1")
    assert doc is not None
    props = doc["components"]["schemas"]["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"]
    assert props["properties"]["$ref"]["type"] == "string"
    assert refs(props["properties"]["items"])[0].endswith("JSONSchemaPropsOrArray")
