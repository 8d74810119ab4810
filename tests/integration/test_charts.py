"""The garden chart renders to manifests a Kubernetes API server accepts."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.helpers import ServerProcess, kubectl

#: request handling, validation, admission and auth sit above storage: one backend says it all
ONE_BACKEND = True


def test_garden_chart_applies(apiserver: ServerProcess) -> None:
    rendered = subprocess.run(
        [sys.executable, "-m", "gardener.charts", "garden", "--generate-certs", "--set", "image=example/gardener:1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    docs = list(yaml.safe_load_all(rendered))
    kinds = [d["kind"] for d in docs]
    assert kinds.count("CustomResourceDefinition") >= 9
    assert "MutatingWebhookConfiguration" in kinds and "ValidatingWebhookConfiguration" in kinds
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "example/gardener:1"
    # The namespace for real (a server dry run does not create it), everything else as a server dry run,
    # so the webhooks of this chart do not start guarding the shared test server.
    namespace = next(d for d in docs if d["kind"] == "Namespace")
    kubectl("apply", "-f", "-", input=yaml.safe_dump(namespace), kubeconfig=apiserver.kubeconfig)
    out = kubectl("apply", "--dry-run=server", "-f", "-", input=rendered, kubeconfig=apiserver.kubeconfig).stdout
    assert "deployment.apps/gardener-admission-controller created (server dry run)" in out


def test_unknown_value_is_one_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gardener.charts", "garden", "--set", "oops"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert result.stderr.strip().startswith("gardener.charts:") and "Traceback" not in result.stderr
