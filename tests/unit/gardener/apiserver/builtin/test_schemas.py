"""The built-in kinds' data: reproducible from the installed client, and strict decoding at any depth."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from gardener.apiserver.builtin import schemas
from tests.k8s_api_source import package_dir

ROOT = Path(__file__).resolve().parents[5]


def test_generator_reproduces_the_committed_data(tmp_path: Path) -> None:
    out = tmp_path / "k8s.json.gz"
    source = package_dir()
    subprocess.run(
        [sys.executable, str(ROOT / "hack" / "gen_k8s_schemas.py"), "--output", str(out), "--source", str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    committed = resources.files("gardener.apiserver.builtin").joinpath(schemas.DATA_FILE).read_bytes()
    assert out.read_bytes() == committed, "run hack/gen_k8s_schemas.py and commit its output"


def test_definitions_carry_upstream_names_types_and_descriptions() -> None:
    deployment = schemas.definition_for(group="apps", version="v1", kind="Deployment")
    assert deployment is schemas.definition("io.k8s.api.apps.v1.Deployment")
    assert deployment is not None
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert deployment["properties"]["metadata"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    spec = schemas.definition("io.k8s.api.apps.v1.DeploymentSpec")
    assert spec is not None
    assert spec["required"] == ["selector", "template"]
    assert spec["properties"]["template"] == {"$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"}
    assert spec["properties"]["replicas"]["format"] == "int32"
    assert spec["properties"]["replicas"]["description"].startswith("Number of desired pods.")
    requirements = schemas.definition("io.k8s.api.core.v1.ResourceRequirements")
    assert requirements is not None
    assert requirements["properties"]["limits"]["additionalProperties"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"
    }
    assert schemas.definition("io.k8s.apimachinery.pkg.util.intstr.IntOrString") == {
        "format": "int-or-string",
        "type": "string",
    }
    meta = schemas.definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    assert meta is not None
    assert meta["properties"]["generation"]["format"] == "int64"
    assert meta["properties"]["creationTimestamp"]["$ref"].endswith("meta.v1.Time")
    lease = schemas.definition("io.k8s.api.coordination.v1.LeaseSpec")
    assert lease is not None
    assert lease["properties"]["renewTime"]["$ref"].endswith("meta.v1.MicroTime")
    # nested types shared by several groups belong to core; the client's prefixed names to their group
    assert schemas.definition("io.k8s.api.core.v1.TopologySelectorTerm") is not None
    assert schemas.definition_name(group="events.k8s.io", version="v1", kind="Event") == "io.k8s.api.events.v1.Event"
    assert schemas.definition_for(group="apps", version="v1", kind="NoSuchKind") is None
    for name in schemas.referenced(["io.k8s.api.apps.v1.Deployment"]):
        assert schemas.definition(name) is not None, name


def test_served_resources_name_scope_verbs_and_subresources() -> None:
    served = {(r.group, r.version, r.plural): r for r in schemas.served_resources()}
    deployments = served[("apps", "v1", "deployments")]
    assert (deployments.kind, deployments.namespaced) == ("Deployment", True)
    assert deployments.definition == "io.k8s.api.apps.v1.Deployment"
    assert set(deployments.verbs) == {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
    subs = {s.name: s for s in deployments.subresources}
    assert subs["scale"].definition == "io.k8s.api.autoscaling.v1.Scale"
    assert set(subs["status"].verbs) == {"get", "patch", "update"}
    pods = {s.name: s for s in served[("", "v1", "pods")].subresources}
    assert pods["eviction"].definition == "io.k8s.api.policy.v1.Eviction"
    assert pods["log"].definition == ""
    assert served[("", "v1", "namespaces")].namespaced is False
    assert served[("authorization.k8s.io", "v1", "selfsubjectaccessreviews")].verbs == ("create",)
    token = {s.name: s for s in served[("", "v1", "serviceaccounts")].subresources}["token"]
    assert token.definition == "io.k8s.api.authentication.v1.TokenRequest"
    assert served[("batch", "v1", "cronjobs")].kind == "CronJob"


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
            **spec,
        },
    }


def test_unknown_fields_are_removed_at_any_depth_and_named_like_kube() -> None:
    obj = deployment(replica=3)
    template = obj["spec"]["template"]
    template["metadata"]["labelz"] = {"a": "b"}
    template["spec"]["containers"].append(
        {
            "name": "side",
            "imagee": "busybox",
            "ports": [{"containerPort": 80}, {"containerPortZ": 81}],
            "resources": {"limits": {"cpu": "1"}},
        }
    )
    template["spec"]["nodeSelector"] = {"disk": "ssd"}
    found = schemas.unknown_fields(group="apps", version="v1", kind="Deployment", obj=obj)
    assert found == [
        "spec.template.metadata.labelz",
        "spec.template.spec.containers[1].imagee",
        "spec.template.spec.containers[1].ports[1].containerPortZ",
        "spec.replica",
    ]
    assert "replica" not in obj["spec"]
    assert "labelz" not in template["metadata"]
    side = template["spec"]["containers"][1]
    assert side == {
        "name": "side",
        "ports": [{"containerPort": 80}, {}],
        "resources": {"limits": {"cpu": "1"}},
    }
    assert template["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert schemas.unknown_fields(group="apps", version="v1", kind="Deployment", obj=obj) == []


def test_map_values_are_checked_under_their_key() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {"type": "object", "typo": True, "default": {"free": "form"}}},
                        }
                    },
                }
            ],
        },
    }
    found = schemas.unknown_fields(group="apiextensions.k8s.io", version="v1", kind="CustomResourceDefinition", obj=crd)
    assert found == ["spec.versions[0].schema.openAPIV3Schema.properties.spec.typo"]
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec_schema == {"type": "object", "default": {"free": "form"}}  # JSON values are not looked into


def test_free_form_fields_are_not_looked_into() -> None:
    revision = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": "r",
            "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}, "fieldsType": "FieldsV1"}],
        },
        "data": {"anything": {"goes": [1, 2]}},
        "revision": 1,
    }
    assert schemas.unknown_fields(group="apps", version="v1", kind="ControllerRevision", obj=revision) == []
    assert revision["data"] == {"anything": {"goes": [1, 2]}}


def test_kinds_the_data_does_not_describe() -> None:
    obj = {"apiVersion": "core.gardener.cloud/v1beta1", "kind": "Shoot", "spec": {"anything": 1}}
    assert schemas.unknown_fields(group="core.gardener.cloud", version="v1beta1", kind="Shoot", obj=obj) is None
    assert obj["spec"] == {"anything": 1}


def test_volume_sources_are_the_members_of_upstreams_volume() -> None:
    volume = schemas.definition("io.k8s.api.core.v1.Volume")
    assert volume is not None
    assert sorted(schemas.VOLUME_SOURCES) == sorted(set(volume["properties"]) - {"name"})
