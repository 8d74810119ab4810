"""Admission webhooks end to end: the server calls real HTTPS webhooks for requests made with kubectl.

- a validating webhook (a small aiohttp server in this process) rejects ConfigMaps labelled `bad=true`, and
  kubectl shows kube's `admission webhook "<name>" denied the request: <message>`;
- `failurePolicy: Ignore` lets requests through while a webhook is down, `Fail` rejects them;
- a mutating webhook reached through a Service reference adds a label;
- a kopf operator manages its own ValidatingWebhookConfiguration and its `@kopf.on.validate` handler rejects a
  custom resource, with the handler's message shown by kubectl.

Every webhook here is limited to the test's own namespace (namespaceSelector) or custom resource, so the shared
session server keeps working for other tests; the configurations are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gardener.runtime.pki import KeyPair, create_ca, issue_serving_cert
from tests.helpers import ServerProcess, eventually, kubectl

#: request handling, validation, admission and auth sit above storage: one backend says it all
ONE_BACKEND = True

OPERATOR = Path(__file__).with_name("kopf_webhook_operator.py")
Handler = Callable[[dict[str, Any]], dict[str, Any]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def allow(review: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": True, **extra},
    }


def deny(review: dict[str, Any], message: str, code: int) -> dict[str, Any]:
    out = allow(review)
    out["response"].update(allowed=False, status={"message": message, "code": code})
    return out


@dataclass
class WebhookServer:
    """An HTTPS admission webhook on 127.0.0.1 served by aiohttp on a thread of its own."""

    handlers: dict[str, Handler]
    ca: KeyPair
    cert: KeyPair
    workdir: Path
    port: int = 0
    reviews: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def ca_bundle(self) -> str:
        return b64(self.ca.cert_pem)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def seen(self, path: str) -> list[dict[str, Any]]:
        return [review for p, review in list(self.reviews) if p == path]

    async def _handle(self, request: web.Request) -> web.Response:
        review = await request.json()
        self.reviews.append((request.path, review))
        # No keep-alive: the server's pooled connections would outlive this server's event loop.
        return web.json_response(self.handlers[request.path](review), headers={"Connection": "close"})

    @staticmethod
    async def _stop(runner: web.AppRunner) -> None:
        await runner.cleanup()
        await asyncio.sleep(0.1)  # let closing TLS connections finish before the loop goes

    @contextmanager
    def running(self) -> Iterator[WebhookServer]:
        (self.workdir / "tls.crt").write_bytes(self.cert.cert_pem)
        (self.workdir / "tls.key").write_bytes(self.cert.key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.workdir / "tls.crt", self.workdir / "tls.key")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="webhook-server", daemon=True)
        thread.start()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)

        async def start() -> None:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
            await site.start()
            assert site._server is not None
            self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

        try:
            asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self._stop(runner), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()


@pytest.fixture
def ca() -> KeyPair:
    return create_ca(common_name="webhook-test-ca")


def apply(
    server: ServerProcess, obj: dict[str, Any], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return kubectl("apply", *args, "-f", "-", kubeconfig=server.kubeconfig, input=json.dumps(obj), check=check)


@pytest.fixture
def ns(apiserver: ServerProcess) -> Iterator[str]:
    name = f"wh-{uuid.uuid4().hex[:8]}"
    apply(
        apiserver,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"webhook-test": name}}},
    )
    yield name
    kubectl("delete", "namespace", name, "--wait=false", kubeconfig=apiserver.kubeconfig, check=False)


@contextmanager
def configuration(server: ServerProcess, kind: str, name: str, webhooks: list[dict[str, Any]]) -> Iterator[None]:
    apply(
        server,
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": kind,
            "metadata": {"name": name},
            "webhooks": webhooks,
        },
    )
    try:
        yield
    finally:
        kubectl("delete", kind.lower(), name, "--ignore-not-found", kubeconfig=server.kubeconfig)


def configmap(ns: str, name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels}}


def in_namespace(ns: str) -> dict[str, Any]:
    return {"matchLabels": {"webhook-test": ns}}


CONFIGMAP_RULES = [
    {"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}
]
DENY_MESSAGE = "ConfigMaps labelled bad=true are not welcome here"


def deny_bad(review: dict[str, Any]) -> dict[str, Any]:
    labels = review["request"]["object"]["metadata"].get("labels") or {}
    return deny(review, DENY_MESSAGE, 403) if labels.get("bad") == "true" else allow(review)


def test_validating_webhook_denies_with_its_message(
    apiserver: ServerProcess, ns: str, ca: KeyPair, tmp_path: Path
) -> None:
    cert = issue_serving_cert(ca, common_name="webhook", dns_names=[], ip_addresses=["127.0.0.1"])
    with WebhookServer({"/validate": deny_bad}, ca, cert, tmp_path).running() as hook:
        webhook = {
            "name": "deny-bad.webhooks.test",
            "clientConfig": {"url": hook.url("/validate"), "caBundle": hook.ca_bundle},
            "rules": CONFIGMAP_RULES,
            "namespaceSelector": in_namespace(ns),
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 5,
        }
        with configuration(apiserver, "ValidatingWebhookConfiguration", ns, [webhook]):
            # Configurations take effect shortly after they are written (as in kube): probe with dry runs.
            eventually(
                lambda: apply(apiserver, configmap(ns, "probe"), "--dry-run=server") and hook.seen("/validate"),
                what="the webhook is called",
            )
            probe = hook.seen("/validate")[0]["request"]
            assert probe["dryRun"] is True
            assert probe["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"]}

            out = apply(apiserver, configmap(ns, "bad-one", bad="true"), check=False)
            assert out.returncode != 0
            expected = f'admission webhook "deny-bad.webhooks.test" denied the request: {DENY_MESSAGE}'
            assert expected in out.stderr, out.stderr
            gone = kubectl("get", "cm", "bad-one", "-n", ns, kubeconfig=apiserver.kubeconfig, check=False)
            assert "NotFound" in gone.stderr

            apply(apiserver, configmap(ns, "good-one", bad="false"))
            request = hook.seen("/validate")[-1]["request"]
            assert request["operation"] == "CREATE"
            assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
            assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
            assert request["requestKind"] == request["kind"] and request["requestResource"] == request["resource"]
            assert (request["namespace"], request["name"]) == (ns, "good-one")
            assert request["userInfo"]["username"] == "system:admin"
            assert "system:masters" in request["userInfo"]["groups"]
            assert request["object"]["metadata"]["labels"] == {"bad": "false"}
            assert request["oldObject"] is None and request["dryRun"] is False

            # an update that makes it bad is denied too, and the webhook sees the old object
            out = kubectl(
                "label",
                "cm",
                "good-one",
                "bad=true",
                "--overwrite",
                "-n",
                ns,
                kubeconfig=apiserver.kubeconfig,
                check=False,
            )
            assert out.returncode != 0 and expected in out.stderr, out.stderr
            request = hook.seen("/validate")[-1]["request"]
            assert request["operation"] == "UPDATE"
            assert request["oldObject"]["metadata"]["labels"] == {"bad": "false"}
            assert request["options"]["kind"] == "UpdateOptions"

            # outside the selected namespace nothing is called
            calls = len(hook.reviews)
            apply(apiserver, configmap("default", f"bad-{ns}", bad="true"))
            assert len(hook.reviews) == calls
            kubectl("delete", "cm", f"bad-{ns}", "-n", "default", kubeconfig=apiserver.kubeconfig)


def test_failure_policy_when_the_webhook_is_down(apiserver: ServerProcess, ns: str, ca: KeyPair) -> None:
    port = free_port()
    down = f"https://127.0.0.1:{port}/validate"

    def webhook(name: str, policy: str) -> dict[str, Any]:
        return {
            "name": name,
            "clientConfig": {"url": down, "caBundle": b64(ca.cert_pem)},
            "rules": CONFIGMAP_RULES,
            "namespaceSelector": in_namespace(ns),
            "objectSelector": {"matchLabels": {"policy": policy.lower()}},
            "failurePolicy": policy,
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }

    hooks = [webhook("fail.webhooks.test", "Fail"), webhook("ignore.webhooks.test", "Ignore")]
    with configuration(apiserver, "ValidatingWebhookConfiguration", ns, hooks):

        def rejected() -> str:
            out = apply(apiserver, configmap(ns, "closed", policy="fail"), check=False)
            assert out.returncode != 0, "not rejected yet"
            return out.stderr

        stderr = eventually(rejected, what="failurePolicy Fail rejects")
        assert (
            f'Internal error occurred: failed calling webhook "fail.webhooks.test": failed to call webhook: '
            f'Post "{down}?timeout=10s": dial tcp 127.0.0.1:{port}: connect: '
            "connection refused"
        ) in stderr, stderr
        apply(apiserver, configmap(ns, "open", policy="ignore"))
        kubectl("get", "cm", "open", "-n", ns, kubeconfig=apiserver.kubeconfig)


def test_mutating_webhook_through_a_service_reference(
    apiserver: ServerProcess, ns: str, ca: KeyPair, tmp_path: Path
) -> None:
    def add_label(review: dict[str, Any]) -> dict[str, Any]:
        labels = review["request"]["object"]["metadata"].get("labels")
        ops: list[dict[str, Any]] = [] if labels else [{"op": "add", "path": "/metadata/labels", "value": {}}]
        ops.append({"op": "add", "path": "/metadata/labels/mutated-by", "value": "webhook"})
        return allow(review, patchType="JSONPatch", patch=b64(json.dumps(ops).encode()))

    # The certificate names the Service's DNS name only: the server must verify against that name.
    cert = issue_serving_cert(ca, common_name="webhook", dns_names=[f"webhook.{ns}.svc"], ip_addresses=[])
    with WebhookServer({"/mutate": add_label}, ca, cert, tmp_path).running() as hook:
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "webhook", "namespace": ns},
            # nothing proxies cluster IPs on this host: the Service names the webhook's address itself
            "spec": {"type": "ExternalName", "externalName": "127.0.0.1", "ports": [{"port": hook.port}]},
        }
        apply(apiserver, service)
        webhook = {
            "name": "add-label.webhooks.test",
            "clientConfig": {
                "service": {"namespace": ns, "name": "webhook", "path": "/mutate", "port": hook.port},
                "caBundle": hook.ca_bundle,
            },
            "rules": CONFIGMAP_RULES,
            "namespaceSelector": in_namespace(ns),
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "reinvocationPolicy": "Never",
        }
        with configuration(apiserver, "MutatingWebhookConfiguration", ns, [webhook]):

            def mutated() -> dict[str, Any]:
                out = apply(apiserver, configmap(ns, f"cm-{uuid.uuid4().hex[:6]}", keep="me"), "-o", "json")
                obj: dict[str, Any] = json.loads(out.stdout)
                assert obj["metadata"]["labels"].get("mutated-by") == "webhook", obj["metadata"]
                return obj

            obj = eventually(mutated, what="the mutating webhook adds its label")
            assert obj["metadata"]["labels"]["keep"] == "me"
            stored = kubectl(
                "get", "cm", obj["metadata"]["name"], "-n", ns, "-o", "json", kubeconfig=apiserver.kubeconfig
            )
            assert json.loads(stored.stdout)["metadata"]["labels"] == {"keep": "me", "mutated-by": "webhook"}
            # a ConfigMap without labels gets the label map created
            bare = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bare", "namespace": ns}}
            out = apply(apiserver, bare, "-o", "json")
            assert json.loads(out.stdout)["metadata"]["labels"] == {"mutated-by": "webhook"}


# ---- kopf ----

KOPF_GROUP = "webhooks.gardener.test"
GIZMO_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gizmos.{KOPF_GROUP}"},
    "spec": {
        "group": KOPF_GROUP,
        "scope": "Namespaced",
        "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
                    }
                },
            }
        ],
    },
}
KOPF_CONFIG = "validating.example.com"


def gizmo(ns: str, name: str, size: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{KOPF_GROUP}/v1",
        "kind": "Gizmo",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"size": size},
    }


@contextmanager
def kopf_operator(server: ServerProcess, ca: KeyPair, workdir: Path, port: int) -> Iterator[Callable[[], str]]:
    cert = issue_serving_cert(ca, common_name="127.0.0.1", dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    files = {"KOPF_WEBHOOK_CERT": cert.cert_pem, "KOPF_WEBHOOK_KEY": cert.key_pem, "KOPF_WEBHOOK_CA": ca.cert_pem}
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    for var, data in files.items():
        path = workdir / var.lower()
        path.write_bytes(data)
        env[var] = str(path)
    env.update(KUBECONFIG=str(server.kubeconfig), KOPF_WEBHOOK_PORT=str(port), PYTHONUNBUFFERED="1")
    log_path = workdir / "kopf.log"
    args = [sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces", "--verbose", str(OPERATOR)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)

    def log_tail() -> str:
        if proc.poll() is not None:
            raise AssertionError(f"kopf exited with {proc.returncode}")
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])

    try:
        yield log_tail
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def test_kopf_validating_handler_rejects_a_custom_resource(
    apiserver: ServerProcess, ns: str, ca: KeyPair, tmp_path: Path
) -> None:
    apply(apiserver, GIZMO_CRD)
    kubectl(
        "wait",
        "--for=condition=Established",
        f"crd/gizmos.{KOPF_GROUP}",
        "--timeout=30s",
        kubeconfig=apiserver.kubeconfig,
    )
    port = free_port()
    try:
        with kopf_operator(apiserver, ca, tmp_path, port) as kopf_log:

            def managed() -> dict[str, Any]:
                out = kubectl(
                    "get", "validatingwebhookconfiguration", KOPF_CONFIG, "-o", "json", kubeconfig=apiserver.kubeconfig
                )
                config: dict[str, Any] = json.loads(out.stdout)
                assert config.get("webhooks"), "no webhooks yet"
                return config

            try:
                config = eventually(managed, timeout=60, interval=0.2, what="kopf manages its webhook configuration")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{kopf_log()}") from None
            [webhook] = config["webhooks"]
            assert webhook["name"] == f"check-size.{KOPF_CONFIG}"
            assert webhook["clientConfig"]["url"] == f"https://127.0.0.1:{port}/check_size"
            assert base64.b64decode(webhook["clientConfig"]["caBundle"]) == ca.cert_pem

            expected = (
                f'admission webhook "check-size.{KOPF_CONFIG}" denied the request: '
                "size 50 is too big: at most 10 please"
            )

            def rejected_on_dry_run() -> str:
                out = apply(apiserver, gizmo(ns, "huge", 50), "--dry-run=server", check=False)
                assert out.returncode != 0, "not rejected yet"
                return out.stderr

            try:
                stderr = eventually(rejected_on_dry_run, timeout=30, interval=0.2, what="kopf's handler rejects")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{kopf_log()}") from None
            assert expected in stderr, stderr

            out = apply(apiserver, gizmo(ns, "huge", 50), check=False)
            assert out.returncode != 0 and expected in out.stderr, out.stderr
            apply(apiserver, gizmo(ns, "small", 3))
            out = kubectl(
                "patch",
                "gizmo",
                "small",
                "-n",
                ns,
                "--type=merge",
                "-p",
                '{"spec":{"size":11}}',
                kubeconfig=apiserver.kubeconfig,
                check=False,
            )
            assert out.returncode != 0 and "size 11 is too big" in out.stderr, out.stderr
            kopf_log()  # still running
    finally:
        for kind in ("validatingwebhookconfiguration", "mutatingwebhookconfiguration"):
            kubectl("delete", kind, KOPF_CONFIG, "--ignore-not-found", kubeconfig=apiserver.kubeconfig)
        kubectl("delete", "crd", f"gizmos.{KOPF_GROUP}", "--wait=false", kubeconfig=apiserver.kubeconfig)
