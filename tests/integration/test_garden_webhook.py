"""Garden admission as a webhook rejects the same manifests, with the same field paths, as in-process."""

from __future__ import annotations

import base64
import copy
import json
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gardener.local.garden import install_garden_api
from gardener.runtime.pki import create_ca, issue_serving_cert
from tests.helpers import ServerProcess, eventually, kubectl
from tests.integration.test_durability import _client
from tests.unit.gardener.apis.core.test_garden_admission import INVALID, RAW, Case, example

#: cases a fresh garden with the example objects can reproduce (no extra objects, no update history)
CASES = [c for c in INVALID if not c.update and not c.extra and not c.shoots]
PLURALS = {
    "Shoot": "shoots",
    "Project": "projects",
    "CloudProfile": "cloudprofiles",
    "Seed": "seeds",
    "SecretBinding": "secretbindings",
    "Quota": "quotas",
    "ControllerRegistration": "controllerregistrations",
    "ControllerInstallation": "controllerinstallations",
    "ManagedSeed": "managedseeds",
}


@dataclass
class Garden:
    server: ServerProcess
    base: str
    ctx: ssl.SSLContext

    def dry_run_create(self, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        group, version = obj["apiVersion"].split("/")
        ns = obj["metadata"].get("namespace")
        path = f"/apis/{group}/{version}/" + (f"namespaces/{ns}/" if ns else "") + PLURALS[obj["kind"]]
        req = urllib.request.Request(
            f"{self.base}{path}?dryRun=All",
            data=json.dumps(obj).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


def _prepare(server: ServerProcess) -> Garden:
    kc = server.kubeconfig
    install_garden_api(kc, timeout=60)
    kubectl("apply", "-f", "-", kubeconfig=kc, input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: garden-dev\n")
    for obj in RAW:
        if obj["kind"] != "Shoot":
            kubectl("apply", "-f", "-", kubeconfig=kc, input=json.dumps(obj))
    base, ctx = _client(server)
    return Garden(server, base, ctx)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gardens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Garden, Garden]]:
    inproc = ServerProcess(data_dir=tmp_path_factory.mktemp("inproc")).start()
    hooked = ServerProcess(
        data_dir=tmp_path_factory.mktemp("hooked"), extra_args=["--disable-garden-admission"]
    ).start()
    certs = tmp_path_factory.mktemp("webhook-certs")
    ca = create_ca(common_name="garden-admission-ca")
    serving = issue_serving_cert(
        ca, common_name="gardener-admission-controller", dns_names=[], ip_addresses=["127.0.0.1"]
    )
    (certs / "tls.crt").write_bytes(serving.cert_pem)
    (certs / "tls.key").write_bytes(serving.key_pem)
    port = _free_port()
    log = open(certs / "admission.log", "wb")  # noqa: SIM115 - handed to the child
    controller = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gardener.admissioncontroller.main",
            "--kubeconfig",
            str(hooked.kubeconfig),
            "--tls-cert-file",
            str(certs / "tls.crt"),
            "--tls-private-key-file",
            str(certs / "tls.key"),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=log,
    )
    try:
        a, b = _prepare(inproc), _prepare(hooked)
        webhook = {
            "name": "admission.core.gardener.cloud",
            "clientConfig": {
                "url": f"https://127.0.0.1:{port}/webhooks/admit",
                "caBundle": base64.b64encode(ca.cert_pem).decode(),
            },
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": "Fail",
        }
        rules = [
            {
                "apiGroups": ["core.gardener.cloud", "seedmanagement.gardener.cloud"],
                "apiVersions": ["*"],
                "resources": ["*"],
            }
        ]
        mutating = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "gardener-admission"},
            "webhooks": [{**webhook, "rules": [{**rules[0], "operations": ["CREATE", "UPDATE"]}]}],
        }
        validating = {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "gardener-admission"},
            "webhooks": [{**webhook, "rules": [{**rules[0], "operations": ["DELETE"]}]}],
        }
        for cfg in (mutating, validating):
            kubectl("apply", "-f", "-", kubeconfig=hooked.kubeconfig, input=json.dumps(cfg))
        # The webhook answers once it is up and the server has seen the configuration.
        probe = example("Shoot", "demo")
        probe["spec"]["region"] = "mars"
        eventually(lambda: b.dry_run_create(probe)[0] == 422, timeout=30, what="webhook in effect")
        yield a, b
    finally:
        controller.terminate()
        controller.wait(timeout=10)
        log.close()
        inproc.stop()
        hooked.stop()


def _fields(body: dict[str, Any]) -> set[str]:
    return {c.get("field", "") for c in (body.get("details") or {}).get("causes") or []}


def test_enough_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_rejection_in_process_and_as_webhook(gardens: tuple[Garden, Garden], case: Case) -> None:
    inproc, hooked = gardens
    obj = example(case.kind, case.name)
    case.mutate(obj)
    code_a, body_a = inproc.dry_run_create(copy.deepcopy(obj))
    code_b, body_b = hooked.dry_run_create(copy.deepcopy(obj))
    assert code_a == 422, body_a
    assert code_b == 422, body_b
    assert _fields(body_a) == case.fields, body_a
    assert _fields(body_b) == _fields(body_a), body_b
    assert "Traceback" not in json.dumps(body_b)


def test_valid_shoot_is_defaulted_by_the_webhook(gardens: tuple[Garden, Garden]) -> None:
    _, hooked = gardens
    code, created = hooked.dry_run_create(example("Shoot", "demo"))
    assert code == 201, created
    assert created["spec"]["kubernetes"]["version"] == "1.32.2"
    assert created["spec"]["maintenance"]["timeWindow"]["begin"] == "220000+0100"


def test_deletion_needs_confirmation_through_the_webhook(gardens: tuple[Garden, Garden]) -> None:
    _, hooked = gardens
    kc = hooked.server.kubeconfig
    project = {"apiVersion": "core.gardener.cloud/v1beta1", "kind": "Project", "metadata": {"name": "tmp"}, "spec": {}}
    kubectl("apply", "-f", "-", kubeconfig=kc, input=json.dumps(project))
    refused = kubectl("delete", "project", "tmp", kubeconfig=kc, check=False)
    assert refused.returncode != 0 and "confirmation.gardener.cloud/deletion" in refused.stderr
    kubectl("annotate", "project", "tmp", "confirmation.gardener.cloud/deletion=true", kubeconfig=kc)
    kubectl("delete", "project", "tmp", kubeconfig=kc)
