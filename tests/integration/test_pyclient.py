"""Drive the API server with the official `kubernetes` Python client (37), as operators and scripts do.

The module shares the session server; each test gets a namespace of its own, made with kubectl.
Only the expired-watch test starts a server of its own, because it has to restart it.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from tests.helpers import ServerProcess, eventually, kubectl

GROUP = "pyclient.test.gardener.dev"
PLURAL = "gadgets"

GADGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
                },
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["mode"],
                                "properties": {
                                    "mode": {"type": "string", "enum": ["on", "off"]},
                                    "replicas": {"type": "integer", "minimum": 0, "maximum": 5},
                                    "label": {"type": "string", "pattern": "^[a-z]+$"},
                                    "level": {"type": "integer", "default": 1},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer"},
                                    "phase": {"type": "string"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def make_client(server: ServerProcess) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


@pytest.fixture(scope="module")
def api(apiserver: ServerProcess) -> Iterator[client.ApiClient]:
    api_client = make_client(apiserver)
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture(scope="module")
def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


@pytest.fixture(scope="module")
def gadgets(api: client.ApiClient) -> str:
    """The Gadget CRD, created with ApiextensionsV1Api and waited for until Established."""
    ext = client.ApiextensionsV1Api(api)
    created = ext.create_custom_resource_definition(GADGET_CRD)
    assert created.metadata.name == f"{PLURAL}.{GROUP}"

    def established() -> bool:
        crd = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    eventually(established, what="Gadget CRD established")
    return PLURAL


@pytest.fixture
def ns(apiserver: ServerProcess, request: pytest.FixtureRequest) -> Iterator[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:40].strip("-")
    name = f"py-{slug}-{uuid.uuid4().hex[:5]}"
    manifest = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    kubectl("create", "-f", "-", kubeconfig=apiserver.kubeconfig, input=manifest)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", kubeconfig=apiserver.kubeconfig, check=False)


def status_of(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == exc.status
    return body


def cm(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


def gadget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": name}, "spec": spec}


# ---- core/v1 ----


def test_configmap_crud(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, cm("c", {"a": "1"}, {"app": "demo"}))
    assert isinstance(created, client.V1ConfigMap)
    assert created.metadata.namespace == ns and created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    rv1 = created.metadata.resource_version
    assert rv1.isdigit()

    read = core.read_namespaced_config_map("c", ns)
    assert read.data == {"a": "1"} and read.metadata.uid == created.metadata.uid
    listed = core.list_namespaced_config_map(ns)
    assert [i.metadata.name for i in listed.items] == ["c"]
    assert int(listed.metadata.resource_version) >= int(rv1)

    # a dict body is a strategic merge patch, a list body a JSON patch
    patched = core.patch_namespaced_config_map("c", ns, {"data": {"b": "2"}, "metadata": {"labels": {"x": "y"}}})
    assert patched.data == {"a": "1", "b": "2"}
    assert patched.metadata.labels == {"app": "demo", "x": "y"}
    assert int(patched.metadata.resource_version) > int(rv1)
    patched = core.patch_namespaced_config_map(
        "c", ns, [{"op": "remove", "path": "/data/a"}, {"op": "add", "path": "/data/c", "value": "3"}]
    )
    assert patched.data == {"b": "2", "c": "3"}

    replaced = core.replace_namespaced_config_map(
        "c",
        ns,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="c", resource_version=patched.metadata.resource_version),
            data={"only": "this"},
        ),
    )
    assert replaced.data == {"only": "this"} and replaced.metadata.labels is None
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("c", ns, {"metadata": {"name": "c", "resourceVersion": rv1}, "data": {}})
    assert stale.value.status == 409
    body = status_of(stale.value)
    assert body["reason"] == "Conflict"
    assert body["details"] == {"name": "c", "kind": "configmaps", "group": ""} | body["details"]
    assert "the object has been modified" in body["message"]

    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map(ns, cm("c"))
    assert exists.value.status == 409 and status_of(exists.value)["reason"] == "AlreadyExists"

    deleted = core.delete_namespaced_config_map("c", ns)
    assert deleted["kind"] == "Status" and deleted["status"] == "Success"
    assert deleted["details"]["name"] == "c" and deleted["details"]["uid"] == created.metadata.uid
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("c", ns)
    assert missing.value.status == 404
    body = status_of(missing.value)
    assert body["reason"] == "NotFound" and body["message"] == 'configmaps "c" not found'
    assert body["details"]["name"] == "c" and body["details"]["kind"] == "configmaps"
    with pytest.raises(ApiException) as again:
        core.delete_namespaced_config_map("c", ns)
    assert again.value.status == 404


def test_no_op_update_keeps_resource_version(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, cm("c", {"a": "1"}))
    same = core.patch_namespaced_config_map("c", ns, {"data": {"a": "1"}})
    assert same.metadata.resource_version == created.metadata.resource_version
    replaced = core.replace_namespaced_config_map("c", ns, same)
    assert replaced.metadata.resource_version == created.metadata.resource_version


def test_secret_string_data_becomes_data(core: client.CoreV1Api, ns: str) -> None:
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name="s"),
        string_data={"user": "admin"},
        data={"blob": base64.b64encode(b"\x00\xffbinary").decode()},
    )
    created = core.create_namespaced_secret(ns, secret)
    assert created.string_data is None
    assert created.type == "Opaque"
    assert created.data == {
        "user": base64.b64encode(b"admin").decode(),
        "blob": base64.b64encode(b"\x00\xffbinary").decode(),
    }
    read = core.read_namespaced_secret("s", ns)
    assert base64.b64decode(read.data["user"]) == b"admin" and read.string_data is None
    # stringData in a patch merges into data, and wins over data for the same key
    patched = core.patch_namespaced_secret("s", ns, {"stringData": {"user": "root", "pw": "x"}})
    assert {k: base64.b64decode(v) for k, v in patched.data.items()} == {
        "user": b"root",
        "pw": b"x",
        "blob": b"\x00\xffbinary",
    }
    with pytest.raises(ApiException) as bad:
        core.create_namespaced_secret(ns, {"metadata": {"name": "bad"}, "data": {"k": "not base64!"}})
    assert bad.value.status == 400 or bad.value.status == 422


def test_namespace_lifecycle(core: client.CoreV1Api) -> None:
    name = f"py-ns-{uuid.uuid4().hex[:6]}"
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"team": "a"})))
    assert created.status.phase == "Active"
    assert created.spec.finalizers == ["kubernetes"]
    assert created.metadata.labels == {"team": "a", "kubernetes.io/metadata.name": name}
    assert name in [n.metadata.name for n in core.list_namespace(label_selector="team=a").items]
    assert core.read_namespace(name).metadata.uid == created.metadata.uid
    core.create_namespaced_config_map(name, cm("inside"))
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as exc:
            return exc.status == 404
        return False

    eventually(gone, what="namespace deleted")
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_config_map(name, cm("late"))
    assert missing.value.status == 404
    assert status_of(missing.value)["message"] == f'namespaces "{name}" not found'


def test_generate_name(core: client.CoreV1Api, ns: str) -> None:
    made = core.create_namespaced_config_map(ns, {"metadata": {"generateName": "gen-"}})
    assert re.fullmatch(r"gen-[a-z0-9]{5}", made.metadata.name)
    assert made.metadata.generate_name == "gen-"
    assert core.read_namespaced_config_map(made.metadata.name, ns).metadata.uid == made.metadata.uid


def test_invalid_name_is_422(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_config_map(ns, cm("Not_Valid"))
    assert invalid.value.status == 422
    body = status_of(invalid.value)
    assert body["reason"] == "Invalid"
    assert body["details"]["kind"] == "ConfigMap" and body["details"]["name"] == "Not_Valid"
    assert [(c["field"], c["reason"]) for c in body["details"]["causes"]] == [("metadata.name", "FieldValueInvalid")]


def test_dry_run_all_persists_nothing(core: client.CoreV1Api, ns: str) -> None:
    made = core.create_namespaced_config_map(ns, cm("dry", {"a": "1"}), dry_run="All")
    assert made.metadata.name == "dry" and made.data == {"a": "1"}
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("dry", ns)
    assert missing.value.status == 404

    real = core.create_namespaced_config_map(ns, cm("real", {"a": "1"}))
    changed = core.patch_namespaced_config_map("real", ns, {"data": {"a": "2"}}, dry_run="All")
    assert changed.data == {"a": "2"}
    after = core.read_namespaced_config_map("real", ns)
    assert after.data == {"a": "1"} and after.metadata.resource_version == real.metadata.resource_version
    core.delete_namespaced_config_map("real", ns, dry_run="All")
    assert core.read_namespaced_config_map("real", ns).metadata.uid == real.metadata.uid
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_config_map(ns, cm("Bad_Name"), dry_run="All")
    assert invalid.value.status == 422


def test_list_label_and_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, cm("a", labels={"tier": "web", "env": "prod"}))
    core.create_namespaced_config_map(ns, cm("b", labels={"tier": "db", "env": "prod"}))
    core.create_namespaced_config_map(ns, cm("c", labels={"tier": "web", "env": "dev"}))

    def names(**kwargs: Any) -> list[str]:
        return [i.metadata.name for i in core.list_namespaced_config_map(ns, **kwargs).items]

    assert names(label_selector="tier=web") == ["a", "c"]
    assert names(label_selector="tier=web,env=prod") == ["a"]
    assert names(label_selector="env in (dev),tier!=db") == ["c"]
    assert names(label_selector="missing") == []
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b", label_selector="env=prod") == ["a"]
    everywhere = core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={ns}", label_selector="env=prod"
    )
    assert sorted(i.metadata.name for i in everywhere.items) == ["a", "b"]
    with pytest.raises(ApiException) as bad:
        core.list_namespaced_config_map(ns, field_selector="data.x=1")
    assert bad.value.status == 400 and "field label not supported" in status_of(bad.value)["message"]


def test_list_pagination(core: client.CoreV1Api, ns: str) -> None:
    for i in range(5):
        core.create_namespaced_config_map(ns, cm(f"item-{i}"))
    seen: list[str] = []
    first = core.list_namespaced_config_map(ns, limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    seen += [i.metadata.name for i in first.items]
    token = first.metadata._continue
    pages = 1
    while token:
        page = core.list_namespaced_config_map(ns, limit=2, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version, "all pages come from one snapshot"
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
        pages += 1
    assert seen == [f"item-{i}" for i in range(5)]
    assert pages == 3
    with pytest.raises(ApiException) as bad:
        core.list_namespaced_config_map(ns, limit=2, _continue="not-a-token")
    assert bad.value.status == 400


def test_list_pagination_is_a_consistent_snapshot(core: client.CoreV1Api, ns: str) -> None:
    """kube-apiserver serves every page at the first page's resourceVersion: later writes do not show up."""
    for i in range(4):
        core.create_namespaced_config_map(ns, cm(f"item-{i}", {"v": "old"}))
    first = core.list_namespaced_config_map(ns, limit=2)
    core.create_namespaced_config_map(ns, cm("item-9"))
    core.patch_namespaced_config_map("item-3", ns, {"data": {"v": "new"}})
    rest = core.list_namespaced_config_map(ns, limit=10, _continue=first.metadata._continue)
    assert [(i.metadata.name, i.data) for i in rest.items] == [("item-2", {"v": "old"}), ("item-3", {"v": "old"})]


# ---- apps/v1 ----


def test_deployment_and_scale(apps: client.AppsV1Api, ns: str) -> None:
    body = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "web"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "web"}),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(name="app", image="nginx:1.25"),
                        client.V1Container(name="sidecar", image="busybox:1.36"),
                    ]
                ),
            ),
        ),
    )
    created = apps.create_namespaced_deployment(ns, body)
    assert created.metadata.generation == 1 and created.spec.replicas == 1
    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert isinstance(scale, client.V1Scale)
    assert scale.spec.replicas == 1 and scale.status.selector == "app=web"
    scaled = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}})
    assert scaled.spec.replicas == 3
    dep = apps.read_namespaced_deployment("web", ns)
    assert dep.spec.replicas == 3 and dep.metadata.generation == 2
    scale = apps.read_namespaced_deployment_scale("web", ns)
    scale.spec.replicas = 4
    assert apps.replace_namespaced_deployment_scale("web", ns, scale).spec.replicas == 4
    scale.spec.replicas = 5  # still carries the old resourceVersion
    with pytest.raises(ApiException) as stale:
        apps.replace_namespaced_deployment_scale("web", ns, scale)
    assert stale.value.status == 409
    with pytest.raises(ApiException) as negative:
        apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": -1}})
    assert negative.value.status == 422

    # a dict patch on a Deployment is a strategic merge: containers merge by name
    patched = apps.patch_namespaced_deployment(
        "web", ns, {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}}}}
    )
    assert [(c.name, c.image) for c in patched.spec.template.spec.containers] == [
        ("app", "nginx:1.25"),
        ("sidecar", "busybox:1.37"),
    ]
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 4
    listed = apps.list_namespaced_deployment(ns)
    assert [d.metadata.name for d in listed.items] == ["web"]
    apps.delete_namespaced_deployment("web", ns)
    assert apps.list_namespaced_deployment(ns).items == []


# ---- custom resources ----


def test_custom_objects(custom: client.CustomObjectsApi, ns: str, gadgets: str) -> None:
    created = custom.create_namespaced_custom_object(GROUP, "v1", ns, PLURAL, gadget("g", mode="on", replicas=1))
    assert created["kind"] == "Gadget" and created["apiVersion"] == f"{GROUP}/v1"
    assert created["spec"] == {"mode": "on", "replicas": 1, "level": 1}, "schema defaults are applied"
    assert created["metadata"]["generation"] == 1

    got = custom.get_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "g")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    listed = custom.list_namespaced_custom_object(GROUP, "v1", ns, PLURAL)
    assert listed["kind"] == "GadgetList" and [i["metadata"]["name"] for i in listed["items"]] == ["g"]

    # CustomObjectsApi.patch_* sends a JSON merge patch
    patched = custom.patch_namespaced_custom_object(
        GROUP, "v1", ns, PLURAL, "g", {"spec": {"mode": "off", "replicas": None}}
    )
    assert patched["spec"] == {"mode": "off", "level": 1}
    assert patched["metadata"]["generation"] == 2

    # the main resource ignores status; /status ignores everything but status
    ignored = custom.patch_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "g", {"status": {"phase": "Ignored"}})
    assert "status" not in ignored and ignored["metadata"]["generation"] == 2
    with_status = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", ns, PLURAL, "g", {"status": {"phase": "Running", "replicas": 2}, "spec": {"mode": "on"}}
    )
    assert with_status["status"] == {"phase": "Running", "replicas": 2}
    assert with_status["spec"]["mode"] == "off", "spec changes through /status are ignored"
    assert with_status["metadata"]["generation"] == 2, "status changes do not bump generation"
    assert custom.get_namespaced_custom_object_status(GROUP, "v1", ns, PLURAL, "g")["status"]["phase"] == "Running"

    scale = custom.get_namespaced_custom_object_scale(GROUP, "v1", ns, PLURAL, "g")
    assert scale["kind"] == "Scale" and scale["status"]["replicas"] == 2
    custom.patch_namespaced_custom_object_scale(GROUP, "v1", ns, PLURAL, "g", {"spec": {"replicas": 3}})
    assert custom.get_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "g")["spec"]["replicas"] == 3

    custom.delete_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "g")
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "g")
    assert missing.value.status == 404
    assert status_of(missing.value)["details"] == {"name": "g", "group": GROUP, "kind": PLURAL}


def test_custom_object_finalizer_keeps_it_until_removed(custom: client.CustomObjectsApi, ns: str, gadgets: str) -> None:
    body = gadget("held", mode="on")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    custom.create_namespaced_custom_object(GROUP, "v1", ns, PLURAL, body)
    custom.delete_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "held")
    held = custom.get_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "held")
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"] == ["example.com/hold"]
    rv = held["metadata"]["resourceVersion"]
    # kopf's way: a JSON patch guarded by a test of the resourceVersion
    guarded = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]
    with pytest.raises(ApiException) as failed:
        custom.patch_namespaced_custom_object(
            GROUP, "v1", ns, PLURAL, "held", guarded, _content_type="application/json-patch+json"
        )
    assert failed.value.status == 422
    guarded[0]["value"] = rv
    custom.patch_namespaced_custom_object(
        GROUP, "v1", ns, PLURAL, "held", guarded, _content_type="application/json-patch+json"
    )
    with pytest.raises(ApiException) as gone:
        custom.get_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "held")
    assert gone.value.status == 404


def test_custom_object_schema_violation_is_422_with_every_field(
    custom: client.CustomObjectsApi, ns: str, gadgets: str
) -> None:
    with pytest.raises(ApiException) as invalid:
        custom.create_namespaced_custom_object(
            GROUP, "v1", ns, PLURAL, gadget("bad", mode="maybe", replicas=9, label="UPPER")
        )
    assert invalid.value.status == 422
    body = status_of(invalid.value)
    assert body["reason"] == "Invalid" and body["details"]["kind"] == "Gadget" and body["details"]["name"] == "bad"
    fields = {c["field"]: c["reason"] for c in body["details"]["causes"]}
    assert fields == {
        "spec.mode": "FieldValueNotSupported",
        "spec.replicas": "FieldValueInvalid",
        "spec.label": "FieldValueInvalid",
    }
    with pytest.raises(ApiException) as required:
        custom.create_namespaced_custom_object(GROUP, "v1", ns, PLURAL, gadget("bad"))
    assert required.value.status == 422
    assert [(c["field"], c["reason"]) for c in status_of(required.value)["details"]["causes"]] == [
        ("spec.mode", "FieldValueRequired")
    ]


def test_custom_object_unknown_fields(custom: client.CustomObjectsApi, ns: str, gadgets: str) -> None:
    pruned = custom.create_namespaced_custom_object(GROUP, "v1", ns, PLURAL, gadget("p", mode="on", extra=True))
    assert "extra" not in pruned["spec"]
    assert "extra" not in custom.get_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "p")["spec"]
    with pytest.raises(ApiException) as strict:
        custom.create_namespaced_custom_object(
            GROUP, "v1", ns, PLURAL, gadget("s", mode="on", extra=True), field_validation="Strict"
        )
    assert strict.value.status == 400
    assert status_of(strict.value)["message"].endswith('strict decoding error: unknown field "spec.extra"')
    with pytest.raises(ApiException):
        custom.get_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "s")
    with pytest.raises(ApiException) as strict_patch:
        custom.patch_namespaced_custom_object(
            GROUP, "v1", ns, PLURAL, "p", {"spec": {"extra": 1, "level": 2}}, field_validation="Strict"
        )
    # kube answers a patched object's strict decoding error as 422 Invalid on the field `patch`
    assert strict_patch.value.status == 422
    problem = status_of(strict_patch.value)
    assert problem["reason"] == "Invalid"
    assert [c["field"] for c in problem["details"]["causes"]] == ["patch"]
    assert problem["message"].endswith('strict decoding error: unknown field "spec.extra"')
    assert custom.get_namespaced_custom_object(GROUP, "v1", ns, PLURAL, "p")["spec"]["level"] == 1
    ignored = custom.patch_namespaced_custom_object(
        GROUP, "v1", ns, PLURAL, "p", {"spec": {"extra": 1, "level": 2}}, field_validation="Ignore"
    )
    assert ignored["spec"] == {"mode": "on", "level": 2}


def test_custom_object_strategic_merge_is_415(api: client.ApiClient, ns: str, gadgets: str) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(GROUP, "v1", ns, PLURAL, gadget("g", mode="on"))
    with pytest.raises(ApiException) as unsupported:
        custom.patch_namespaced_custom_object(
            GROUP,
            "v1",
            ns,
            PLURAL,
            "g",
            {"spec": {"mode": "off"}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert unsupported.value.status == 415
    body = status_of(unsupported.value)
    assert body["reason"] == "UnsupportedMediaType"
    assert "application/merge-patch+json" in body["message"]


# ---- watch ----


def test_watch_from_resource_version(core: client.CoreV1Api, ns: str) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, cm("w", {"v": "1"}))
    modified = core.patch_namespaced_config_map("w", ns, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("w", ns)

    events: list[tuple[str, str, str]] = []
    w = watch.Watch()
    began = time.monotonic()
    for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=start, timeout_seconds=5):
        obj = ev["object"]
        assert isinstance(obj, client.V1ConfigMap)
        events.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
        if ev["type"] == "DELETED":
            w.stop()
    assert time.monotonic() - began < 4, "stop() ends the stream at once"
    assert [(t, n) for t, n, _ in events] == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    rvs = [int(rv) for _, _, rv in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3, "each event carries its own revision"
    assert rvs[1] == int(modified.metadata.resource_version)
    assert rvs[2] > rvs[1], "DELETED carries the deletion revision"


def test_watch_initial_events_and_timeout(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, cm("existing"))
    w = watch.Watch()
    began = time.monotonic()
    events = [
        (ev["type"], ev["object"].metadata.name)
        for ev in w.stream(core.list_namespaced_config_map, ns, timeout_seconds=1)
    ]
    elapsed = time.monotonic() - began
    assert events == [("ADDED", "existing")]
    assert 0.8 < elapsed < 5, f"timeoutSeconds=1 ended the watch after {elapsed:.1f}s"


def test_watch_with_label_selector_sees_transitions(core: client.CoreV1Api, ns: str) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, cm("t", labels={"watched": "no"}))
    core.patch_namespaced_config_map("t", ns, {"metadata": {"labels": {"watched": "yes"}}})
    core.patch_namespaced_config_map("t", ns, {"data": {"k": "v"}})
    core.patch_namespaced_config_map("t", ns, {"metadata": {"labels": {"watched": "no"}}})
    w = watch.Watch()
    seen: list[str] = []
    for ev in w.stream(
        core.list_namespaced_config_map, ns, label_selector="watched=yes", resource_version=start, timeout_seconds=5
    ):
        seen.append(ev["type"])
        if len(seen) == 3:
            w.stop()
    assert seen == ["ADDED", "MODIFIED", "DELETED"]


def test_expired_watch_is_410_and_relist_recovers(fresh_apiserver: ServerProcess) -> None:
    api_client = make_client(fresh_apiserver)
    try:
        core = client.CoreV1Api(api_client)
        core.create_namespace({"metadata": {"name": "expiry"}})
        old = core.create_namespaced_config_map("expiry", cm("c0")).metadata.resource_version
        for i in range(1, 6):
            core.create_namespaced_config_map("expiry", cm(f"c{i}"))
    finally:
        api_client.close()
    # the restarted server's watch window starts at its current revision
    fresh_apiserver.stop()
    fresh_apiserver.start()
    api_client = make_client(fresh_apiserver)
    try:
        core = client.CoreV1Api(api_client)
        # on the wire: 200 and an in-stream ERROR event carrying a 410 Status (kopf needs exactly this)
        raw = core.list_namespaced_config_map(
            "expiry", watch=True, resource_version=old, timeout_seconds=5, _preload_content=False
        )
        try:
            assert raw.status == 200
            first = json.loads(raw.readline() if hasattr(raw, "readline") else raw.data.splitlines()[0])
        finally:
            raw.release_conn()
        assert first["type"] == "ERROR"
        assert first["object"]["code"] == 410 and first["object"]["reason"] == "Expired"
        assert "too old resource version" in first["object"]["message"]

        with pytest.raises(ApiException) as expired:
            for _ in watch.Watch().stream(
                core.list_namespaced_config_map, "expiry", resource_version=old, timeout_seconds=5
            ):
                pass
        assert expired.value.status == 410

        # relist and watch from the list's revision
        listed = core.list_namespaced_config_map("expiry")
        assert len(listed.items) == 6
        core.create_namespaced_config_map("expiry", cm("after"))
        w = watch.Watch()
        seen = []
        for ev in w.stream(
            core.list_namespaced_config_map,
            "expiry",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=5,
        ):
            seen.append((ev["type"], ev["object"].metadata.name))
            w.stop()
        assert seen == [("ADDED", "after")]
    finally:
        api_client.close()
