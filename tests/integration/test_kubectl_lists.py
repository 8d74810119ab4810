"""`kubectl apply|create -f` of a `kind: List` against the real server: kubectl validates a List with the
protobuf /openapi/v2 (client-go asks for nothing else), so the server must serve that form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hack import fuzz
from tests.helpers import ServerProcess, kubectl, kubectl_get, module_server

server = module_server("kubectl-lists")

PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"  # what client-go's OpenAPISchema sends


@pytest.fixture(scope="module")
def kubeconfig(server: ServerProcess) -> Path:
    return server.kubeconfig


def object_list(name: str, **spec: Any) -> str:
    """A v1 List of a ConfigMap and a Deployment named `name`, extra Deployment spec fields from `spec`."""
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": {"key": "value"},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
            **spec,
        },
    }
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [configmap, deployment]})


def test_openapi_v2_is_negotiated_like_kube(server: ServerProcess, tmp_path: Path) -> None:
    client = fuzz.Client.from_kubeconfig(server.kubeconfig, tmp_path)
    url = f"{client.server}/openapi/v2"
    with client.session() as session:
        protobuf = session.get(url, headers={"Accept": PROTOBUF}, timeout=30)
        assert protobuf.status_code == 200, protobuf.text[:200]
        assert protobuf.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        assert protobuf.headers["Vary"] == "Accept"
        assert protobuf.content.startswith(b"\n\x032.0\x12")  # Document.swagger = "2.0", then Document.info
        assert b"io.k8s.api.apps.v1.Deployment" in protobuf.content

        preferred = session.get(url, headers={"Accept": f"application/json;q=0.5, {PROTOBUF};q=0.9"}, timeout=30)
        assert preferred.content == protobuf.content  # one encoding per registry generation
        either = session.get(url, headers={"Accept": f"{PROTOBUF};q=0.1, application/json"}, timeout=30)
        assert either.status_code == 200 and either.headers["Content-Type"].startswith("application/json")
        assert either.json()["swagger"] == "2.0"

        refused = session.get(url, headers={"Accept": "text/html"}, timeout=30)
        assert refused.status_code == 406 and refused.json()["reason"] == "NotAcceptable"


def test_apply_and_create_a_list(kubeconfig: Path) -> None:
    applied = kubectl("apply", "-f", "-", input=object_list("listed"), kubeconfig=kubeconfig)
    assert applied.stdout.splitlines() == ["configmap/listed created", "deployment.apps/listed created"]
    again = kubectl("apply", "-f", "-", input=object_list("listed"), kubeconfig=kubeconfig)
    assert again.stdout.splitlines() == ["configmap/listed unchanged", "deployment.apps/listed unchanged"]
    assert kubectl_get("deployment", "listed", kubeconfig=kubeconfig)["spec"]["replicas"] == 2

    created = kubectl("create", "-f", "-", input=object_list("made"), kubeconfig=kubeconfig)
    assert created.stdout.splitlines() == ["configmap/made created", "deployment.apps/made created"]
    assert kubectl_get("configmap", "made", kubeconfig=kubeconfig)["data"] == {"key": "value"}


def test_a_typo_in_a_list_fails_kubectls_own_validation(kubeconfig: Path) -> None:
    """v1/List is in no OpenAPI v3 document, so kubectl cannot leave strict validation to the server: it checks
    the items itself against /openapi/v2, as against kube, and sends nothing."""
    for verb in ("apply", "create"):
        typo = kubectl(verb, "-f", "-", input=object_list("typo", replicass=3), kubeconfig=kubeconfig, check=False)
        assert typo.returncode == 1
        assert typo.stderr.strip() == (
            'error: error validating "STDIN": error validating data: ValidationError(Deployment.spec): unknown field '
            '"replicass" in io.k8s.api.apps.v1.DeploymentSpec; if you choose to ignore these errors, turn validation '
            "off with --validate=false"
        ), typo.stderr
    absent = kubectl("get", "configmap,deployment", "typo", "--ignore-not-found", "-o", "name", kubeconfig=kubeconfig)
    assert absent.stdout.strip() == ""

    # warn: kubectl skips its own check and the server's field validation warns per item
    warned = kubectl(
        "apply", "--validate=warn", "-f", "-", input=object_list("typo", replicass=3), kubeconfig=kubeconfig
    )
    assert 'Warning: unknown field "spec.replicass"' in warned.stderr, warned.stderr
    assert "replicass" not in kubectl_get("deployment", "typo", kubeconfig=kubeconfig)["spec"]
