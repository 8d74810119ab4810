"""Upstream validation and REST-strategy rules of built-in kinds, as a kubectl user meets them.

The real kubectl talks to a real server; refusals must be 422 Invalid with kube's field paths and messages
(kubectl prints `The <Kind> "<name>" is invalid: <field>: <message>` from the Status causes).
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.helpers import ServerProcess, eventually, kubectl

#: request handling, validation, admission and auth sit above storage: one backend says it all
ONE_BACKEND = True

RFC1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


class Kube:
    def __init__(self, server: ServerProcess, namespace: str) -> None:
        self.server = server
        self.namespace = namespace

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return kubectl("-n", self.namespace, *args, kubeconfig=self.server.kubeconfig, input=input, check=check)

    def create(self, obj: dict[str, Any], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self("create", "-v=6", "-f", "-", input=yaml.safe_dump(obj), check=check)

    def get(self, kind: str, name: str) -> dict[str, Any]:
        got: dict[str, Any] = json.loads(self("get", kind, name, "-o", "json").stdout)
        return got


@pytest.fixture
def kube(apiserver: ServerProcess) -> Iterator[Kube]:
    namespace = f"val-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", namespace, kubeconfig=apiserver.kubeconfig)
    yield Kube(apiserver, namespace)
    kubectl("delete", "namespace", namespace, "--wait=false", kubeconfig=apiserver.kubeconfig, check=False)


def refused(result: subprocess.CompletedProcess[str], kind: str, name: str) -> str:
    """The error kubectl printed for a 422 Invalid answer."""
    assert result.returncode != 0, result.stdout
    assert re.search(r"\b422 Unprocessable Entity\b", result.stderr), result.stderr
    assert f'The {kind} "{name}" is invalid: ' in result.stderr, result.stderr
    return result.stderr


def deployment(
    name: str, *, selector: dict[str, str], labels: dict[str, str], container: str = "app"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": container, "image": "nginx:1.27"}]},
            },
        },
    }


def test_deployment_selector_must_match_template_labels(kube: Kube) -> None:
    result = kube.create(deployment("web", selector={"app": "a"}, labels={"app": "b"}), check=False)
    assert (
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: '
        "`selector` does not match template `labels`"
    ) in refused(result, "Deployment", "web")
    assert kube("get", "deployment", "web", check=False).returncode != 0


def test_container_name_must_be_a_dns_label(kube: Kube) -> None:
    result = kube.create(
        deployment("web", selector={"app": "a"}, labels={"app": "a"}, container="Bad_Name"), check=False
    )
    assert f'spec.template.spec.containers[0].name: Invalid value: "Bad_Name": {RFC1123_LABEL}' in refused(
        result, "Deployment", "web"
    )


def test_node_port_out_of_range_is_refused(kube: Kube) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"type": "NodePort", "selector": {"app": "a"}, "ports": [{"port": 80, "nodePort": 99999}]},
    }
    message = refused(kube.create(service, check=False), "Service", "web")
    assert re.search(r"spec\.ports\[0\]\.nodePort: Invalid value: \"?99999\"?: ", message), message


def test_deployment_selector_is_immutable(kube: Kube) -> None:
    kube.create(deployment("web", selector={"app": "a"}, labels={"app": "a"}))
    patch = json.dumps({"spec": {"selector": {"matchLabels": {"app": "b"}}}})
    result = kube("patch", "deployment", "web", "-v=6", "-p", patch, check=False)
    assert (
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"b"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    ) in refused(result, "Deployment", "web")
    assert kube.get("deployment", "web")["spec"]["selector"] == {"matchLabels": {"app": "a"}}


def test_pod_restart_policy_may_not_change(kube: Kube) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "image": "nginx:1.27"}]},
    }
    # the namespace's default ServiceAccount (which admission needs) may still be on its way
    eventually(
        lambda: kube.create(pod, check=False).returncode == 0 or kube("get", "pod", "p", check=False).returncode == 0
    )
    created = kube.get("pod", "p")
    assert created["status"]["phase"] == "Pending"
    assert created["status"]["qosClass"] == "BestEffort"
    assert "generation" not in created["metadata"]
    result = kube("patch", "pod", "p", "-v=6", "-p", json.dumps({"spec": {"restartPolicy": "Never"}}), check=False)
    message = refused(result, "Pod", "p")
    assert (
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
        "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
    ) in message
    kube("patch", "pod", "p", "-p", json.dumps({"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}))
    assert kube.get("pod", "p")["spec"]["containers"][0]["image"] == "nginx:1.28"
    kube("label", "pod", "p", "tier=web")  # metadata stays writable
    assert kube.get("pod", "p")["metadata"]["labels"] == {"tier": "web"}


def test_deployment_generation_follows_spec_not_labels(kube: Kube) -> None:
    kube.create(deployment("web", selector={"app": "a"}, labels={"app": "a"}))
    assert kube.get("deployment", "web")["metadata"]["generation"] == 1
    kube("label", "deployment", "web", "tier=frontend")
    assert kube.get("deployment", "web")["metadata"]["generation"] == 1
    kube("scale", "deployment", "web", "--replicas=3")
    assert kube.get("deployment", "web")["metadata"]["generation"] == 2
    kube("annotate", "deployment", "web", "note=x")
    assert kube.get("deployment", "web")["metadata"]["generation"] == 3
    assert kube.get("deployment", "web")["status"] == {}


def test_configmap_keeps_no_generation(kube: Kube) -> None:
    kube("create", "configmap", "cm", "--from-literal=k=v")
    assert "generation" not in kube.get("configmap", "cm")["metadata"]
    kube("patch", "configmap", "cm", "-p", json.dumps({"data": {"k": "w"}}))
    got = kube.get("configmap", "cm")
    assert got["data"] == {"k": "w"}
    assert "generation" not in got["metadata"]


def test_job_gets_a_generated_selector(kube: Kube) -> None:
    kube("create", "job", "pi", "--image=busybox:1.36", "--", "sh", "-c", "echo 3.14")
    job = kube.get("job", "pi")
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "pi"
    assert labels["controller-uid"] == uid
    assert job["metadata"]["generation"] == 1


def test_immutable_configmap_refuses_data_changes(kube: Kube) -> None:
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}, "immutable": True}
    )
    result = kube("patch", "configmap", "cm", "-v=6", "-p", json.dumps({"data": {"k": "w"}}), check=False)
    assert "data: Forbidden: field is immutable when `immutable` is set" in refused(result, "ConfigMap", "cm")
