"""The real kubectl against the real server: `explain` at any depth, /openapi/v2, strict field validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ServerProcess, kubectl, kubectl_get, module_server

server = module_server("openapi-kubectl")


@pytest.fixture(scope="module")
def kubeconfig(server: ServerProcess) -> Path:
    return server.kubeconfig


def deployment(name: str, **spec: Any) -> str:
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
            **spec,
        },
    }
    return yaml.safe_dump(body)


def test_explain_reaches_the_leaves(kubeconfig: Path) -> None:
    out = kubectl("explain", "deployment.spec.template.spec.containers.resources.limits", kubeconfig=kubeconfig)
    assert "GROUP:      apps" in out.stdout
    assert "FIELD: limits <map[string]Quantity>" in out.stdout, out.stdout
    assert "Limits describes the maximum amount of compute resources allowed." in out.stdout
    image = kubectl("explain", "pods.spec.containers.image", kubeconfig=kubeconfig)
    assert "FIELD: image <string>" in image.stdout and "Container image name." in image.stdout
    fields = kubectl("explain", "deployment.spec", kubeconfig=kubeconfig).stdout
    for field in ("replicas\t<integer>", "selector\t<LabelSelector> -required-", "template\t<PodTemplateSpec>"):
        assert field in fields, fields
    missing = kubectl("explain", "deployment.spec.replica", kubeconfig=kubeconfig, check=False)
    assert missing.returncode == 1 and 'field "replica" does not exist' in missing.stderr


def test_unknown_fields_in_a_patch_are_422_on_the_field_patch(kubeconfig: Path) -> None:
    """kube decodes a patched object strictly and answers 422 Invalid on `patch` (not the 400 of a create),
    quoting the strategic patch in Go's %+v."""
    kubectl("apply", "-f", "-", input=deployment("patched"), kubeconfig=kubeconfig)
    typo = kubectl("apply", "-f", "-", input=deployment("patched", replica=3), kubeconfig=kubeconfig, check=False)
    assert typo.returncode == 1
    assert (
        'The request is invalid: patch: Invalid value: "map[metadata:map[annotations:map[kubectl.kubernetes.io/'
        "last-applied-configuration:"
    ) in typo.stderr, typo.stderr
    assert 'replica:3]]": strict decoding error: unknown field "spec.replica"' in typo.stderr, typo.stderr
    stored = json.loads(kubectl("get", "deployment", "patched", "-o", "json", kubeconfig=kubeconfig).stdout)
    assert "replica" not in stored["spec"]


def test_get_raw_openapi_v2_answers_swagger(kubeconfig: Path) -> None:
    out = kubectl("get", "--raw", "/openapi/v2", kubeconfig=kubeconfig)
    document = json.loads(out.stdout)
    assert document["swagger"] == "2.0"
    deployment_schema = document["definitions"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment_schema["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    post = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]
    assert post["parameters"][0]["schema"] == {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}


def test_unknown_fields_at_any_depth_follow_field_validation(kubeconfig: Path) -> None:
    strict = kubectl("apply", "-f", "-", input=deployment("typo", replica=3), kubeconfig=kubeconfig, check=False)
    assert strict.returncode == 1
    assert (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replica"'
    ) in strict.stderr, strict.stderr
    absent = kubectl("get", "deployment", "typo", "--ignore-not-found", "-o", "name", kubeconfig=kubeconfig)
    assert absent.stdout.strip() == ""

    nested = yaml.safe_load(deployment("nested"))
    nested["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    nested["spec"]["template"]["metadata"]["labelz"] = {}
    deep = kubectl("create", "-f", "-", input=yaml.safe_dump(nested), kubeconfig=kubeconfig, check=False)
    assert deep.returncode == 1
    assert (
        'strict decoding error: unknown field "spec.template.metadata.labelz", '
        'unknown field "spec.template.spec.containers[0].imagee"'
    ) in deep.stderr, deep.stderr

    warned = kubectl("apply", "--validate=warn", "-f", "-", input=deployment("typo", replica=3), kubeconfig=kubeconfig)
    assert 'Warning: unknown field "spec.replica"' in warned.stderr, warned.stderr
    stored = kubectl_get("deployment", "typo", kubeconfig=kubeconfig)
    assert "replica" not in stored["spec"]

    ignored = kubectl("create", "--validate=false", "-f", "-", input=yaml.safe_dump(nested), kubeconfig=kubeconfig)
    assert "Warning" not in ignored.stderr
    stored = kubectl_get("deployment", "nested", kubeconfig=kubeconfig)
    assert "imagee" not in stored["spec"]["template"]["spec"]["containers"][0]
    assert "labelz" not in stored["spec"]["template"]["metadata"]
