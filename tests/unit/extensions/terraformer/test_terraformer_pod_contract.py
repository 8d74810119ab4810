"""The Terraformer pod's contract without a cluster: tfvars written and read back, the result line, the pod spec,
the configuration ConfigMap's data and outputs read from a state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from extensions.provider_local.nodeagent.images import ImageTable, base_variables
from extensions.terraformer import tfvars
from extensions.terraformer.podspec import (
    Names,
    RunResult,
    command_of,
    configuration,
    pod_manifest,
    rbac_manifests,
    state_outputs,
)
from extensions.terraformer.terraformer import Config
from gardener.runtime.errors import PermanentError

VALUES: dict[str, Any] = {
    "name": 'shoot--dev--"apps"\n\ttab \\ back',
    "template_like": "${var.x} and %{ if } stay text; $${ too",
    "unicode": "zoné \u0001 end",
    "replicas": 3,
    "ratio": 0.25,
    "big": 1e21,
    "enabled": True,
    "nothing": None,
    "zones": ["local-a", "local-b"],
    "nested": {"a b": [1, {"c": False}], "empty": {}, "list": []},
}


def test_tfvars_round_trip() -> None:
    text = tfvars.render(VALUES)
    assert tfvars.parse(text) == VALUES
    assert text.splitlines()[0].startswith("big = ")  # sorted, one per line
    assert '"$${var.x} and %%{ if } stay text; $$${ too"' in text


def test_tfvars_reads_what_people_write() -> None:
    text = """
# Gardener's style
vpc_cidr = "10.0.0.0/16" // trailing comment
zones = [
  "a",
  "b", # the last one
]
/* a block
   comment */
tags = {
  team  = "apps"
  "cost-center": 42
}
flag=false
"""
    assert tfvars.parse(text) == {
        "vpc_cidr": "10.0.0.0/16",
        "zones": ["a", "b"],
        "tags": {"team": "apps", "cost-center": 42},
        "flag": False,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('x = "${var.y}"\n', "templates are not supported"),
        ("x = var.y\n", "only literal values"),
        ("x = <<EOT\nhi\nEOT\n", "heredoc"),
        ('x = "a"\nx = "b"\n', "set twice"),
        ('x = "a" y = 1\n', "end of the line"),
        ('x = "open\n', "unterminated string"),
    ],
)
def test_tfvars_refuses_more_than_literals(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tfvars.parse(text)


def test_tfvars_refuses_what_has_no_literal() -> None:
    with pytest.raises(ValueError, match="variable name"):
        tfvars.render({"not valid": 1})
    with pytest.raises(ValueError, match="no Terraform literal"):
        tfvars.render({"x": float("nan")})


def test_the_result_is_the_last_json_line_of_a_log() -> None:
    failed = RunResult("apply", success=False, error="terraform apply failed: x", codes=("ERR_X",), retryable=False)
    log = f"level=info msg=start\n{{not json\n{failed.line()}\nTraceback? no\n"
    assert RunResult.find(log) == failed
    ok = RunResult("apply", success=True, outputs={"vpc_id": "v"})
    assert RunResult.find(ok.line()) == ok
    assert RunResult.find("only noise\n") is None
    assert len(failed.line().splitlines()) == 1


def test_the_pod_runs_terraformer_with_credentials_by_reference_only() -> None:
    names = Names.of(Config(name="apps.infra", namespace="shoot--dev--apps", module=Path(".")))
    assert (names.name, names.purpose, names.state) == ("apps", "infra", "apps.infra.tf-state")
    pod = pod_manifest(
        names=names,
        pod_name="apps.infra.tf-apply-x2b4c",
        command="apply",
        image="terraformer:v2",
        token_secret="apps.infra.tf-apply-x2b4c-token",
        credentials=("credentials_token",),
        checksum="0123456789abcdef",
        grace=3600,
        log_level="info",
    )
    assert command_of(pod) == "apply"
    [container] = pod["spec"]["containers"]
    assert container["command"] == [
        "/terraformer",
        "apply",
        "--zap-log-level=info",
        "--configuration-configmap-name=apps.infra.tf-config",
        "--state-configmap-name=apps.infra.tf-state",
        "--variables-secret-name=apps.infra.tf-vars",
    ]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    env = {e["name"]: e for e in container["env"]}
    assert env["TF_VAR_credentials_token"]["valueFrom"]["secretKeyRef"]["name"] == "apps.infra.tf-vars"
    assert env["TERRAFORMER_SERVICE_ACCOUNT_DIR"]["value"] == container["volumeMounts"][0]["mountPath"]
    assert pod["metadata"]["labels"]["networking.gardener.cloud/to-runtime-apiserver"] == "allowed"
    assert pod["metadata"]["annotations"]["terraformer.gardener.cloud/configuration-checksum"] == "0123456789abcdef"
    [account, role, binding] = rbac_manifests("ns")
    assert account[1]["automountServiceAccountToken"] is False
    assert role[1]["rules"][0]["verbs"] == ["create", "get", "list", "watch", "patch", "update"]
    assert binding[1]["subjects"] == [{"kind": "ServiceAccount", "name": "terraformer", "namespace": "ns"}]


def test_the_configuration_holds_the_module_in_gardeners_two_keys(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "terraform_data" "a" {}\n')
    (tmp_path / "outputs.tf").write_text('output "a" {\n  value = 1\n}\n')
    (tmp_path / "variables.tf").write_text('variable "x" {}\n')
    data = configuration(tmp_path)
    assert set(data) == {"main.tf", "variables.tf"}
    assert 'resource "terraform_data"' in data["main.tf"] and 'output "a"' in data["main.tf"]
    assert data["variables.tf"] == 'variable "x" {}\n'
    (tmp_path / "extra.tf.json").write_text("{}")
    with pytest.raises(PermanentError, match=r"\.tf\.json"):
        configuration(tmp_path)


def test_outputs_come_from_the_state() -> None:
    v4 = {"version": 4, "outputs": {"vpc_id": {"value": "vpc-1", "type": "string"}}}
    v3 = {"version": 3, "modules": [{"outputs": {"vpc_id": {"value": "vpc-0", "type": "string"}}}]}
    assert state_outputs(json.dumps(v4)) == {"vpc_id": "vpc-1"}
    assert state_outputs(json.dumps(v3)) == {"vpc_id": "vpc-0"}
    assert state_outputs("") == {}
    with pytest.raises(PermanentError, match="format version 9"):
        state_outputs(json.dumps({"version": 9}))


@pytest.mark.parametrize(
    "image",
    [
        "europe-docker.pkg.dev/gardener-project/releases/gardener/terraformer-aws:v2.6.0",
        "eu.gcr.io/gardener-project/gardener/terraformer:v2.1.0",
        "terraformer",
        "registry.local/terraformer@sha256:0123",
    ],
)
def test_a_local_node_runs_the_terraformer_image_as_this_program(image: str) -> None:
    variables = {**base_variables(data_dir=Path("/data"), node_name="n"), "pod_dir": "/data/pods/p", "pod_ip": "x"}
    command = ["/terraformer", "apply", "--state-configmap-name=a.tf-state"]
    host = ImageTable.load(None).launch(image, command=command, args=[], variables=variables)
    assert host.rule == "terraformer"
    assert host.argv[1:] == ("-m", "extensions.terraformer.main", "apply", "--state-configmap-name=a.tf-state")
    assert host.env["TMPDIR"] == "/data/pods/p"
