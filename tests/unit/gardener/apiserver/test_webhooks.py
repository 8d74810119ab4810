"""Admission webhooks: rule and selector matching tables, kube's error formats, the AdmissionReview, and the
two admission hooks driven in-process against a small HTTPS webhook server."""

from __future__ import annotations

import asyncio
import base64
import copy
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from gardener.apiserver.errors import StatusError
from gardener.apiserver.rbac import UserInfo, extra_from_map
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import AdmissionRequest, ObjectStore
from gardener.apiserver.storage.sqlite import SQLiteBackend
from gardener.apiserver.webhooks import (
    Attributes,
    WebhookAdmission,
    WebhookCallError,
    apply_patch,
    build_review,
    decode_patch,
    denied,
    is_exempt,
    namespace_labels_from_object,
    namespace_selector_applies,
    namespace_selector_matches,
    object_selector_matches,
    rule_matches,
    rules_match,
    timeout_seconds,
    verify_response,
)
from gardener.runtime.pki import create_ca, issue_serving_cert

USER = UserInfo(name="alice", groups=("dev", "system:authenticated"), uid="u-1")


def attrs(
    *,
    operation: str = "CREATE",
    group: str = "",
    version: str = "v1",
    resource: str = "configmaps",
    subresource: str = "",
    kind: str = "ConfigMap",
    namespace: str = "ns",
    name: str = "x",
    obj: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> Attributes:
    return Attributes(
        operation=operation,
        group=group,
        version=version,
        resource=resource,
        subresource=subresource,
        kind=kind,
        namespace=namespace,
        name=name,
        obj=obj,
        old=old,
        user=USER,
        dry_run=dry_run,
    )


def rule(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*"]}
    base.update(overrides)
    return base


CM = attrs()
CM_STATUS = attrs(subresource="status", operation="UPDATE")
DEPLOY_SCALE = attrs(group="apps", resource="deployments", subresource="scale", kind="Deployment", operation="UPDATE")
NODE = attrs(resource="nodes", kind="Node", namespace="")
NS_CREATE = attrs(resource="namespaces", kind="Namespace", namespace="")
NS_UPDATE = attrs(resource="namespaces", kind="Namespace", namespace="x", operation="UPDATE")


@pytest.mark.parametrize(
    ("rule_", "a", "expected"),
    [
        # operations
        (rule(), CM, True),
        (rule(operations=["*"]), replace(CM, operation="DELETE"), True),
        (rule(operations=["UPDATE", "DELETE"]), CM, False),
        (rule(operations=["CONNECT"]), CM, False),
        (rule(operations=[]), CM, False),
        # groups and versions
        (rule(apiGroups=["*"]), DEPLOY_SCALE, False),  # UPDATE vs CREATE-only rule
        (rule(apiGroups=["apps"], operations=["*"], resources=["*/*"]), DEPLOY_SCALE, True),
        (rule(apiGroups=["apps"], operations=["*"], resources=["*/*"]), CM, False),
        (rule(apiVersions=["v1beta1"]), CM, False),
        (rule(apiVersions=["*"]), replace(CM, version="v2"), True),
        # resources and subresources
        (rule(resources=["configmaps"]), CM, True),
        (rule(resources=["secrets"]), CM, False),
        (rule(resources=["*"]), CM, True),
        (rule(operations=["*"], resources=["*"]), CM_STATUS, False),  # "*" is main resources only
        (rule(operations=["*"], resources=["configmaps"]), CM_STATUS, False),
        (rule(operations=["*"], resources=["configmaps/status"]), CM_STATUS, True),
        (rule(operations=["*"], resources=["configmaps/*"]), CM_STATUS, True),
        (rule(operations=["*"], resources=["configmaps/*"]), CM, True),  # "res/*": res and all its subresources
        (rule(operations=["*"], resources=["*/status"]), CM_STATUS, True),
        (rule(operations=["*"], resources=["*/*"]), CM_STATUS, True),
        (rule(operations=["*"], resources=["*/*"]), CM, True),
        (rule(operations=["*"], resources=["*/scale"]), CM_STATUS, False),
        (rule(resources=[]), CM, False),
        # scope
        (rule(scope="*"), CM, True),
        (rule(scope="Namespaced"), CM, True),
        (rule(scope="Cluster"), CM, False),
        (rule(scope="Namespaced"), NODE, False),
        (rule(scope="Cluster"), NODE, True),
        (rule(scope="Namespaced"), NS_CREATE, False),
        (rule(scope="Cluster"), NS_CREATE, True),
        (rule(scope="Namespaced", operations=["*"]), NS_UPDATE, False),  # a Namespace is cluster-scoped
        (rule(scope="Cluster", operations=["*"]), NS_UPDATE, True),
        (rule(scope="Bogus"), CM, False),
    ],
)
def test_rule_matches(rule_: dict[str, Any], a: Attributes, expected: bool) -> None:
    assert rule_matches(rule_, a) is expected


def test_rules_match_any_rule_and_other_version() -> None:
    webhook = {"rules": [rule(resources=["secrets"]), rule(apiVersions=["v1beta1"], resources=["configmaps"])]}
    assert not rules_match(webhook, CM)
    assert rules_match(webhook, CM, version="v1beta1")
    assert not rules_match({}, CM)
    assert not rules_match({"rules": "nope"}, CM)


LABELLED = {"metadata": {"labels": {"team": "a", "tier": "web"}}}
UNLABELLED: dict[str, Any] = {"metadata": {}}


@pytest.mark.parametrize(
    ("selector", "obj", "old", "expected"),
    [
        (None, None, None, True),  # defaulted to {}: everything
        ({}, UNLABELLED, None, True),
        ({"matchLabels": {"team": "a"}}, LABELLED, None, True),
        ({"matchLabels": {"team": "b"}}, LABELLED, None, False),
        ({"matchLabels": {"team": "a"}}, UNLABELLED, None, False),
        ({"matchLabels": {"team": "a"}}, UNLABELLED, LABELLED, True),  # the old object counts (label removed)
        ({"matchLabels": {"team": "a"}}, None, LABELLED, True),  # DELETE
        ({"matchLabels": {"team": "a"}}, None, None, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "db"]}]}, LABELLED, None, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, LABELLED, None, False),
        ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, LABELLED, None, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, UNLABELLED, None, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, LABELLED, UNLABELLED, True),
    ],
)
def test_object_selector(
    selector: dict[str, Any] | None, obj: dict[str, Any] | None, old: dict[str, Any] | None, expected: bool
) -> None:
    webhook = {"name": "w", "objectSelector": selector} if selector is not None else {"name": "w"}
    assert object_selector_matches(webhook, obj, old) is expected


def test_invalid_selector_is_an_internal_error() -> None:
    with pytest.raises(StatusError) as exc:
        object_selector_matches({"name": "w", "objectSelector": {"matchExpressions": [{"key": "a"}]}}, None, None)
    assert exc.value.code == 500


@pytest.mark.parametrize(
    ("a", "selector", "applies"),
    [
        (CM, {"matchLabels": {"env": "prod"}}, True),
        (CM, {}, False),  # empty selector: everything, no lookup needed
        (CM, None, False),
        (NODE, {"matchLabels": {"env": "prod"}}, False),  # cluster-scoped: never exempted
        (NS_CREATE, {"matchLabels": {"env": "prod"}}, True),  # a Namespace is matched by its own labels
        (NS_UPDATE, {"matchLabels": {"env": "prod"}}, True),
    ],
)
def test_namespace_selector_applies(a: Attributes, selector: dict[str, Any] | None, applies: bool) -> None:
    webhook: dict[str, Any] = {"name": "w"}
    if selector is not None:
        webhook["namespaceSelector"] = selector
    assert namespace_selector_applies(webhook, a) is applies


def test_namespace_labels_from_the_namespace_object_itself() -> None:
    ns = {"metadata": {"name": "x", "labels": {"env": "prod"}}}
    assert namespace_labels_from_object(replace(NS_CREATE, obj=ns)) == {"env": "prod"}
    assert namespace_labels_from_object(replace(NS_UPDATE, obj=ns)) == {"env": "prod"}
    assert namespace_labels_from_object(replace(NS_UPDATE, obj={"metadata": {}})) == {}
    # DELETE and namespaced objects look the namespace up
    assert namespace_labels_from_object(replace(NS_UPDATE, operation="DELETE", obj=None, old=ns)) is None
    assert namespace_labels_from_object(replace(NS_UPDATE, subresource="finalize", obj=ns)) is None
    assert namespace_labels_from_object(replace(CM, obj=ns)) is None


def test_namespace_selector_matches() -> None:
    webhook = {"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}}
    assert namespace_selector_matches(webhook, {"env": "prod"})
    assert namespace_selector_matches(webhook, {})
    assert not namespace_selector_matches(webhook, {"env": "dev"})


def test_attributes_from_request() -> None:
    registry = Registry()
    ns_info = registry.get("", "v1", "namespaces")
    cm_info = registry.get("", "v1", "configmaps")
    assert ns_info is not None and cm_info is not None

    def request(info: ResourceInfo, operation: str, namespace: str, name: str) -> AdmissionRequest:
        return AdmissionRequest(
            operation=operation,
            info=info,
            namespace=namespace,
            name=name,
            subresource="",
            obj={},
            old=None,
            user=USER,
            dry_run=False,
        )

    # kube's request info gives a Namespace's own requests its name as namespace, except on create
    assert Attributes.from_request(request(ns_info, "CREATE", "", "team")).namespace == ""
    assert Attributes.from_request(request(ns_info, "UPDATE", "", "team")).namespace == "team"
    assert Attributes.from_request(request(ns_info, "DELETE", "", "team")).namespace == "team"
    cm = Attributes.from_request(request(cm_info, "CREATE", "ns", "c"))
    assert (cm.group, cm.version, cm.resource, cm.kind, cm.namespace) == ("", "v1", "configmaps", "ConfigMap", "ns")


@pytest.mark.parametrize(
    ("group", "kind", "exempt"),
    [
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", True),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration", True),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", True),
        ("admissionregistration.k8s.io", "Other", False),
        ("", "ConfigMap", False),
        ("example.com", "ValidatingWebhookConfiguration", False),
    ],
)
def test_exempt(group: str, kind: str, exempt: bool) -> None:
    assert is_exempt(group, kind) is exempt


@pytest.mark.parametrize(
    ("status", "code", "reason", "message"),
    [
        (
            {"message": "no bad things", "code": 403},
            403,
            "",
            'admission webhook "w.example.com" denied the request: no bad things',
        ),
        (
            {"message": "m", "code": 422, "reason": "Invalid"},
            422,
            "Invalid",
            'admission webhook "w.example.com" denied the request: m',
        ),
        ({"reason": "Forbidden"}, 400, "Forbidden", 'admission webhook "w.example.com" denied the request: Forbidden'),
        ({"message": "m", "code": 200}, 400, "", 'admission webhook "w.example.com" denied the request: m'),
        (None, 400, "", 'admission webhook "w.example.com" denied the request without explanation'),
        ({}, 400, "", 'admission webhook "w.example.com" denied the request without explanation'),
    ],
)
def test_denied_formats_like_kube(status: Any, code: int, reason: str, message: str) -> None:
    err = denied("w.example.com", status)
    assert (err.code, err.reason, err.message) == (code, reason, message)
    assert err.to_status()["status"] == "Failure"


def test_denied_keeps_details() -> None:
    err = denied("w", {"message": "m", "code": 422, "details": {"causes": [{"field": "spec.x", "message": "bad"}]}})
    assert err.to_status()["details"] == {"causes": [{"field": "spec.x", "message": "bad"}]}
    # a Status without details is passed on without them, as kube's ToStatusErr does
    assert "details" not in denied("w", {"message": "m", "code": 403}).to_status()
    assert denied("w", {"message": "m", "details": {}}).to_status()["details"] == {}


@pytest.mark.parametrize(("value", "expected"), [(None, 10), (5, 5), (30, 30), (31, 30), (0, 10), (-1, 10), ("7", 10)])
def test_timeout_seconds(value: Any, expected: int) -> None:
    assert timeout_seconds({"timeoutSeconds": value} if value is not None else {}) == expected


def test_build_review() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"}}
    old = copy.deepcopy(obj)
    a = attrs(
        group="example.com",
        version="v1",
        resource="widgets",
        subresource="status",
        kind="Widget",
        operation="UPDATE",
        name="w",
        obj=obj,
        old=old,
        dry_run=True,
    )
    review = build_review(a, uid="abc", version="v1beta1", review_version="v1")
    assert review["apiVersion"] == "admission.k8s.io/v1" and review["kind"] == "AdmissionReview"
    req = review["request"]
    assert req["uid"] == "abc"
    assert req["kind"] == {"group": "example.com", "version": "v1beta1", "kind": "Widget"}
    assert req["resource"] == {"group": "example.com", "version": "v1beta1", "resource": "widgets"}
    assert req["requestKind"] == {"group": "example.com", "version": "v1", "kind": "Widget"}
    assert req["requestResource"] == {"group": "example.com", "version": "v1", "resource": "widgets"}
    assert req["subResource"] == "status" and req["requestSubResource"] == "status"
    assert (req["name"], req["namespace"], req["operation"]) == ("w", "ns", "UPDATE")
    assert req["userInfo"] == {"username": "alice", "uid": "u-1", "groups": ["dev", "system:authenticated"]}
    assert req["object"]["apiVersion"] == "example.com/v1beta1"  # sent in the version the webhook asked for
    assert req["oldObject"]["apiVersion"] == "example.com/v1beta1"
    assert obj["apiVersion"] == "example.com/v1"  # not modified
    assert req["dryRun"] is True
    assert req["options"] == {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "dryRun": ["All"]}

    extra = {"authentication.kubernetes.io/credential-id": ["JTI=abc"], "scopes": ["a", "b"]}
    a = replace(attrs(), user=replace(USER, extra=extra_from_map(extra)))
    assert build_review(a, uid="u", version="v1", review_version="v1")["request"]["userInfo"]["extra"] == extra

    create = build_review(attrs(obj={"metadata": {}}, namespace=""), uid="u", version="v1", review_version="v1beta1")
    assert create["apiVersion"] == "admission.k8s.io/v1beta1"
    assert create["request"]["oldObject"] is None
    assert "namespace" not in create["request"] and "subResource" not in create["request"]
    assert create["request"]["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}


def _review(response: dict[str, Any], *, version: str = "admission.k8s.io/v1") -> dict[str, Any]:
    return {"apiVersion": version, "kind": "AdmissionReview", "response": response}


@pytest.mark.parametrize(
    ("body", "mutating", "problem"),
    [
        ("nope", False, "not a JSON object"),
        (
            _review({"uid": "u", "allowed": True}, version="admission.k8s.io/v1beta1"),
            False,
            "expected webhook response",
        ),
        ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, False, "response was absent"),
        (_review({"uid": "other", "allowed": True}), False, "expected response.uid"),
        (_review({"uid": "u", "allowed": True, "patch": "W10=", "patchType": "JSONPatch"}), False, "patch"),
        (_review({"uid": "u", "allowed": True, "patch": "W10="}), True, "incomplete"),
        (_review({"uid": "u", "allowed": True, "patch": "W10=", "patchType": "MergePatch"}), True, "patchType"),
    ],
)
def test_verify_response_rejects(body: Any, mutating: bool, problem: str) -> None:
    with pytest.raises(WebhookCallError, match=problem):
        verify_response(body, uid="u", review_version="v1", mutating=mutating)


def test_verify_response_accepts() -> None:
    response = {"uid": "u", "allowed": True, "patch": "W10=", "patchType": "JSONPatch"}
    assert verify_response(_review(response), uid="u", review_version="v1", mutating=True) == response


def _b64(value: Any) -> str:
    return base64.b64encode(orjson.dumps(value)).decode()


def test_decode_and_apply_patch() -> None:
    assert decode_patch({}) is None
    assert decode_patch({"patch": _b64([])}) is None
    with pytest.raises(WebhookCallError, match="undecodable"):
        decode_patch({"patch": "%%%"})
    with pytest.raises(WebhookCallError, match="undecodable"):
        decode_patch({"patch": _b64({"op": "add"})})
    ops = decode_patch({"patch": _b64([{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}])})
    assert ops is not None

    obj: dict[str, Any] = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    a = attrs(group="example.com", resource="widgets", kind="Widget", obj=obj)
    apply_patch("w", a, "v1beta1", ops)
    # patched in place, in the caller's apiVersion again
    assert obj == {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "b"}}}

    with pytest.raises(StatusError) as exc:
        apply_patch("w", a, "v1", [{"op": "replace", "path": "/kind", "value": "Gadget"}])
    assert exc.value.code == 500
    with pytest.raises(StatusError) as exc:
        apply_patch("w", a, "v1", [{"op": "remove", "path": "/missing"}])
    assert exc.value.code == 500
    with pytest.raises(StatusError) as exc:
        apply_patch("w", replace(a, obj=None), "v1", ops)
    assert "attempted to modify the object" in exc.value.message


# ---- the hooks against a real HTTPS webhook, in-process ----


Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass
class FakeWebhook:
    port: int
    ca_bundle: str
    reviews: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    handlers: dict[str, Handler] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


def allow(review: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": review["apiVersion"],
        "kind": "AdmissionReview",
        "response": {"uid": review["request"]["uid"], "allowed": True, **extra},
    }


@pytest.fixture
async def webhook_server() -> AsyncIterator[FakeWebhook]:
    ca = create_ca(common_name="webhook-ca")
    cert = issue_serving_cert(ca, common_name="webhook", dns_names=["svc.ns.svc"], ip_addresses=["127.0.0.1"])
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "tls.crt").write_bytes(cert.cert_pem)
        (Path(tmp) / "tls.key").write_bytes(cert.key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(Path(tmp) / "tls.crt", Path(tmp) / "tls.key")
    server = FakeWebhook(port=0, ca_bundle=base64.b64encode(ca.cert_pem).decode())

    async def handle(request: web.Request) -> web.Response:
        review = await request.json()
        server.reviews.append((request.path_qs, review))
        handler = server.handlers.get(request.path)
        if handler is None:
            return web.json_response(allow(review))
        return web.json_response(await handler(review))

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    assert site._server is not None
    server.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
    yield server
    await runner.cleanup()


@pytest.fixture
async def admission(tmp_path: Path) -> AsyncIterator[tuple[WebhookAdmission, ObjectStore]]:
    backend = SQLiteBackend(tmp_path / "s.db", synchronous="NORMAL")
    await backend.start()
    registry = Registry()
    store = ObjectStore(backend=backend, registry=registry)
    w = WebhookAdmission(store=store, registry=registry)
    await w.start()
    yield w, store
    await w.stop()
    await backend.close()


async def configure(w: WebhookAdmission, plural: str, name: str, *webhooks: dict[str, Any]) -> None:
    key = f"/registry/admissionregistration.k8s.io/{plural}/{name}"
    await w._on_event("ADDED", key, {"metadata": {"name": name}, "webhooks": list(webhooks)})


def hook(name: str, url: str, ca: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": {"url": url, "caBundle": ca},
        "rules": [rule(operations=["*"], resources=["configmaps"])],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }


def cm_request(
    *, operation: str = "CREATE", labels: dict[str, str] | None = None, dry_run: bool = False
) -> AdmissionRequest:
    info = Registry().get("", "v1", "configmaps")
    assert info is not None
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default", "labels": labels or {}},
    }
    return AdmissionRequest(
        operation=operation,
        info=info,
        namespace="default",
        name="c",
        subresource="",
        obj=None if operation == "DELETE" else obj,
        old=obj if operation != "CREATE" else None,
        user=USER,
        dry_run=dry_run,
    )


async def test_validating_webhook_denies_and_allows(
    admission: tuple[WebhookAdmission, ObjectStore], webhook_server: FakeWebhook
) -> None:
    w, _ = admission

    async def deny_bad(review: dict[str, Any]) -> dict[str, Any]:
        labels = ((review["request"]["object"] or review["request"]["oldObject"])["metadata"]).get("labels") or {}
        if labels.get("bad") == "true":
            out = allow(review)
            out["response"] = {
                "uid": review["request"]["uid"],
                "allowed": False,
                "status": {"message": "nope", "code": 403},
            }
            return out
        return allow(review)

    webhook_server.handlers["/validate"] = deny_bad
    await configure(
        w,
        "validatingwebhookconfigurations",
        "v",
        hook("deny.example.com", webhook_server.url("/validate"), webhook_server.ca_bundle),
    )
    await w.validate(cm_request())
    with pytest.raises(StatusError) as exc:
        await w.validate(cm_request(labels={"bad": "true"}))
    assert (exc.value.code, exc.value.message) == (403, 'admission webhook "deny.example.com" denied the request: nope')
    with pytest.raises(StatusError):
        await w.validate(cm_request(operation="DELETE", labels={"bad": "true"}))
    path, review = webhook_server.reviews[0]
    assert path == "/validate?timeout=10s"
    assert review["request"]["userInfo"]["username"] == "alice"
    assert review["request"]["operation"] == "CREATE" and review["request"]["oldObject"] is None
    assert webhook_server.reviews[-1][1]["request"]["operation"] == "DELETE"
    assert webhook_server.reviews[-1][1]["request"]["object"] is None
    assert webhook_server.reviews[-1][1]["request"]["options"]["kind"] == "DeleteOptions"
    # mutating hooks are not called for validating configurations
    await w.mutate(cm_request(labels={"bad": "true"}))


async def test_mutating_webhooks_patch_in_order(
    admission: tuple[WebhookAdmission, ObjectStore], webhook_server: FakeWebhook
) -> None:
    w, _ = admission

    def adder(key: str) -> Handler:
        async def handler(review: dict[str, Any]) -> dict[str, Any]:
            labels = review["request"]["object"]["metadata"].get("labels") or {}
            value = ",".join(sorted(labels))  # what this webhook saw: earlier patches included
            ops = [{"op": "add", "path": f"/metadata/labels/{key}", "value": value or "none"}]
            return allow(review, patch=_b64(ops), patchType="JSONPatch")

        return handler

    webhook_server.handlers["/a"] = adder("a")
    webhook_server.handlers["/b"] = adder("b")
    ca = webhook_server.ca_bundle
    # configurations run in name order, webhooks in their order
    await configure(w, "mutatingwebhookconfigurations", "2-second", hook("b.example.com", webhook_server.url("/b"), ca))
    await configure(w, "mutatingwebhookconfigurations", "1-first", hook("a.example.com", webhook_server.url("/a"), ca))
    req = cm_request(labels={"x": "1"})
    await w.mutate(req)
    assert req.obj is not None
    assert req.obj["metadata"]["labels"] == {"x": "1", "a": "x", "b": "a,x"}
    assert req.obj["apiVersion"] == "v1"


async def test_failure_policy(admission: tuple[WebhookAdmission, ObjectStore], webhook_server: FakeWebhook) -> None:
    w, _ = admission
    dead = "https://127.0.0.1:1/validate"
    ca = webhook_server.ca_bundle
    await configure(
        w, "validatingwebhookconfigurations", "v", hook("ignore.example.com", dead, ca, failurePolicy="Ignore")
    )
    await w.validate(cm_request())
    await configure(w, "validatingwebhookconfigurations", "v", hook("fail.example.com", dead, ca, failurePolicy="Fail"))
    with pytest.raises(StatusError) as exc:
        await w.validate(cm_request())
    assert exc.value.code == 500 and exc.value.reason == "InternalError"
    assert exc.value.message == (
        'Internal error occurred: failed calling webhook "fail.example.com": failed to call webhook: '
        'Post "https://127.0.0.1:1/validate?timeout=10s": dial tcp 127.0.0.1:1: connect: connection refused'
    )
    # no failurePolicy: Fail
    await configure(w, "mutatingwebhookconfigurations", "m", hook("default.example.com", dead, ca))
    with pytest.raises(StatusError, match="failed calling webhook"):
        await w.mutate(cm_request())


async def test_untrusted_certificate_and_timeout(
    admission: tuple[WebhookAdmission, ObjectStore], webhook_server: FakeWebhook
) -> None:
    w, _ = admission
    other_ca = base64.b64encode(create_ca(common_name="other").cert_pem).decode()
    await configure(
        w, "validatingwebhookconfigurations", "v", hook("tls.example.com", webhook_server.url("/"), other_ca)
    )
    with pytest.raises(StatusError, match="tls: failed to verify certificate"):
        await w.validate(cm_request())

    async def slow(review: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(3)
        return allow(review)

    webhook_server.handlers["/slow"] = slow
    await configure(
        w,
        "validatingwebhookconfigurations",
        "v",
        hook("slow.example.com", webhook_server.url("/slow"), webhook_server.ca_bundle, timeoutSeconds=1),
    )
    with pytest.raises(StatusError, match="context deadline exceeded"):
        await w.validate(cm_request())


async def test_bad_responses_fail_per_policy(
    admission: tuple[WebhookAdmission, ObjectStore], webhook_server: FakeWebhook
) -> None:
    w, _ = admission

    async def wrong_uid(review: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {"uid": "x", "allowed": True},
        }

    webhook_server.handlers["/wrong"] = wrong_uid
    await configure(
        w,
        "validatingwebhookconfigurations",
        "v",
        hook("w.example.com", webhook_server.url("/wrong"), webhook_server.ca_bundle),
    )
    with pytest.raises(StatusError, match=r"expected response\.uid"):
        await w.validate(cm_request())


async def test_dry_run_and_side_effects(
    admission: tuple[WebhookAdmission, ObjectStore], webhook_server: FakeWebhook
) -> None:
    w, _ = admission
    ca = webhook_server.ca_bundle
    await configure(
        w,
        "validatingwebhookconfigurations",
        "v",
        hook("none.example.com", webhook_server.url("/"), ca, sideEffects="NoneOnDryRun"),
        hook("some.example.com", webhook_server.url("/"), ca, sideEffects="Some", failurePolicy="Ignore"),
    )
    await w.validate(cm_request())  # not a dry run: both called
    assert len(webhook_server.reviews) == 2
    with pytest.raises(StatusError) as exc:
        await w.validate(cm_request(dry_run=True))
    assert (exc.value.code, exc.value.message) == (400, 'admission webhook "some.example.com" does not support dry run')
    assert webhook_server.reviews[-1][1]["request"]["dryRun"] is True


async def test_selectors_and_namespace_lookup(
    admission: tuple[WebhookAdmission, ObjectStore], webhook_server: FakeWebhook
) -> None:
    w, store = admission
    from gardener.apiserver.rest import Context

    ns_info = store.registry.get("", "v1", "namespaces")
    assert ns_info is not None
    await store.create(ns_info, "", {"metadata": {"name": "default", "labels": {"env": "prod"}}}, ctx=Context())
    ca = webhook_server.ca_bundle
    await configure(
        w,
        "validatingwebhookconfigurations",
        "v",
        hook("prod.example.com", webhook_server.url("/prod"), ca, namespaceSelector={"matchLabels": {"env": "prod"}}),
        hook("dev.example.com", webhook_server.url("/dev"), ca, namespaceSelector={"matchLabels": {"env": "dev"}}),
        hook("labelled.example.com", webhook_server.url("/labelled"), ca, objectSelector={"matchLabels": {"a": "b"}}),
    )
    await w.validate(cm_request())
    assert [path.split("?")[0] for path, _ in webhook_server.reviews] == ["/prod"]
    await w.validate(cm_request(labels={"a": "b"}))
    assert sorted(path.split("?")[0] for path, _ in webhook_server.reviews[1:]) == ["/labelled", "/prod"]

    # a namespace that does not exist: kube answers its 404
    info = store.registry.get("", "v1", "configmaps")
    assert info is not None
    missing = replace(cm_request(), namespace="missing")
    with pytest.raises(StatusError) as exc:
        await w.validate(missing)
    assert exc.value.code == 404


async def test_service_reference(admission: tuple[WebhookAdmission, ObjectStore], webhook_server: FakeWebhook) -> None:
    w, store = admission
    from gardener.apiserver.rest import Context

    ns_info = store.registry.get("", "v1", "namespaces")
    svc_info = store.registry.get("", "v1", "services")
    assert ns_info is not None and svc_info is not None
    await store.create(ns_info, "", {"metadata": {"name": "ns"}}, ctx=Context())
    await store.create(
        svc_info,
        "ns",
        {"metadata": {"name": "svc"}, "spec": {"clusterIP": "127.0.0.1", "ports": [{"port": webhook_server.port}]}},
        ctx=Context(),
    )
    service = {"namespace": "ns", "name": "svc", "path": "/via-service", "port": webhook_server.port}
    spec = hook("svc.example.com", "", webhook_server.ca_bundle)
    spec["clientConfig"] = {"service": service, "caBundle": webhook_server.ca_bundle}
    missing = hook("missing.example.com", "", webhook_server.ca_bundle, failurePolicy="Ignore")
    missing["clientConfig"] = {"service": {"namespace": "ns", "name": "nope"}, "caBundle": webhook_server.ca_bundle}
    await configure(w, "validatingwebhookconfigurations", "v", spec, missing)
    await w.validate(cm_request())  # the certificate is for svc.ns.svc: verified against the service's DNS name
    assert [path for path, _ in webhook_server.reviews] == ["/via-service?timeout=10s"]


async def test_equivalent_match_policy(tmp_path: Path, webhook_server: FakeWebhook) -> None:
    backend = SQLiteBackend(tmp_path / "s.db", synchronous="NORMAL")
    await backend.start()
    registry = Registry()
    base = ResourceInfo(
        group="example.com", version="v1", kind="Widget", plural="widgets", singular="widget", namespaced=True
    )
    registry.set_crd("widgets.example.com", [base, replace(base, version="v1beta1")])
    w = WebhookAdmission(store=ObjectStore(backend=backend, registry=registry), registry=registry)
    try:
        rules = [rule(apiGroups=["example.com"], apiVersions=["v1beta1"], resources=["widgets"])]
        ca = webhook_server.ca_bundle
        await configure(
            w,
            "validatingwebhookconfigurations",
            "v",
            hook("exact.example.com", webhook_server.url("/exact"), ca, rules=rules, matchPolicy="Exact"),
            hook("equivalent.example.com", webhook_server.url("/equivalent"), ca, rules=rules),
        )
        obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "ns"}}
        req = AdmissionRequest(
            operation="CREATE",
            info=base,
            namespace="ns",
            name="w",
            subresource="",
            obj=obj,
            old=None,
            user=USER,
            dry_run=False,
        )
        await w.validate(req)
        assert [path.split("?")[0] for path, _ in webhook_server.reviews] == ["/equivalent"]
        sent = webhook_server.reviews[0][1]["request"]
        assert sent["object"]["apiVersion"] == "example.com/v1beta1"
        assert sent["kind"]["version"] == "v1beta1" and sent["requestKind"]["version"] == "v1"
    finally:
        await w.stop()
        await backend.close()


async def test_webhook_configurations_are_exempt(
    admission: tuple[WebhookAdmission, ObjectStore], webhook_server: FakeWebhook
) -> None:
    w, store = admission
    everything = hook("all.example.com", "https://127.0.0.1:1/", webhook_server.ca_bundle)
    everything["rules"] = [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"]}]
    await configure(w, "validatingwebhookconfigurations", "v", everything)
    info = store.registry.get("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
    assert info is not None
    req = AdmissionRequest(
        operation="CREATE",
        info=info,
        namespace="",
        name="v",
        subresource="",
        obj={"metadata": {"name": "v"}},
        old=None,
        user=USER,
        dry_run=False,
    )
    await w.validate(req)  # would fail closed if called
    with pytest.raises(StatusError):
        await w.validate(cm_request())


async def test_follows_configurations_from_storage(admission: tuple[WebhookAdmission, ObjectStore]) -> None:
    w, store = admission
    from gardener.apiserver.rest import Context

    info = store.registry.get("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
    assert info is not None
    body = {"metadata": {"name": "cfg"}, "webhooks": [hook("a.example.com", "https://x/", "")]}
    await store.create(info, "", body, ctx=Context())

    async def seen(count: int) -> None:
        while len(w.webhooks("validatingwebhookconfigurations")) != count:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(seen(1), 5)
    assert w.webhooks("validatingwebhookconfigurations")[0].name == "a.example.com"
    await store.delete(info, "", "cfg", ctx=Context())
    await asyncio.wait_for(seen(0), 5)
