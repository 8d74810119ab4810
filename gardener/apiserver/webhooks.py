"""Dynamic admission: calls the webhooks of ValidatingWebhookConfigurations and MutatingWebhookConfigurations.

kube-apiserver's `MutatingAdmissionWebhook` and `ValidatingAdmissionWebhook` plugins in one component. It follows
the configuration objects through a `LocalInformer` and offers two admission hooks for `ObjectStore`:

- `mutate` calls matching mutating webhooks one after another (configurations sorted by name, webhooks in their
  order) and applies each returned JSON Patch to the object before the next webhook sees it;
- `validate` calls matching validating webhooks concurrently; the first rejection (in configuration order) wins.

A webhook is called when one of its `rules` matches (operations, apiGroups, apiVersions, resources with `*`,
`*/*`, `res/sub` and `res/*`, and scope), its `namespaceSelector` matches the labels of the object's namespace
(never checked for cluster-scoped objects other than Namespaces, whose own labels count), and its `objectSelector`
matches the labels of the new or of the old object. `matchPolicy: Equivalent` (the default) also lets a rule for
another served version of the same resource match; the object is then sent in that version (versions differ in
`apiVersion` only here, since conversion is always `None`). Webhook configuration objects themselves never go
through webhooks, as in kube.

The wire format is `admission.k8s.io/v1` `AdmissionReview` (`v1beta1` if a webhook accepts only that), POSTed over
HTTPS to `clientConfig.url` or to a Service reference `{namespace, name, path, port}`. Without cluster DNS a Service
resolves to its `spec.clusterIP`, else `status.loadBalancer.ingress[0].ip`/`hostname`, else `spec.externalName`,
while the TLS server name stays `<name>.<namespace>.svc` as kube's. `caBundle` is the only trust used when given,
else the system roots.

Failures follow kube: a webhook that cannot be called or answers nonsense is skipped under `failurePolicy: Ignore`
and fails the request with `500 InternalError` ("failed calling webhook ...") under `Fail` (the default); a denial
is `admission webhook "<name>" denied the request: <message>` with the webhook's `status.code` (at least 400),
`reason` and `details`. `timeoutSeconds` defaults to 10 and is capped at 30. On a dry run, webhooks whose
`sideEffects` is not `None`/`NoneOnDryRun` reject the request with 400 "does not support dry run".

Not implemented: `reinvocationPolicy: IfNeeded` (mutating webhooks run once), `matchConditions` (CEL; webhooks
are called as if every condition held), response `warnings` and `auditAnnotations` (logged, not returned to the
client: `AdmissionRequest` carries no warning sink), and webhook authentication to the webhook (no client cert).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from gardener.apiserver import patch
from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.errors import StatusError, go_quote
from gardener.apiserver.rbac import UserInfo
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import AdmissionRequest, ObjectStore
from gardener.apiserver.selectors import label_selector_from_object

log = logging.getLogger("gardener.apiserver.webhooks")

PREFIX = "/registry/admissionregistration.k8s.io/"
VALIDATING = "validatingwebhookconfigurations"
MUTATING = "mutatingwebhookconfigurations"
ADMISSION_GROUP = "admissionregistration.k8s.io"
#: kinds kube never sends to webhooks, so a broken webhook cannot lock out its own repair
EXEMPT_KINDS = frozenset(
    {
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    }
)
DEFAULT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 30
REVIEW_VERSIONS = ("v1", "v1beta1")
_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_OPTIONS_KINDS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class WebhookCallError(Exception):
    """The webhook could not be called or answered something unusable: subject to its failurePolicy."""


# ---- what a request looks like to matching ----


@dataclass(frozen=True)
class Attributes:
    """The admission attributes webhooks match on, with kube's conventions."""

    operation: str
    group: str
    version: str
    resource: str
    subresource: str
    kind: str
    #: for Namespace objects the namespace's own name (except on CREATE), as kube's request info sets it
    namespace: str
    name: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    user: UserInfo
    dry_run: bool

    @property
    def is_namespace(self) -> bool:
        return self.group == "" and self.resource == "namespaces"

    @classmethod
    def from_request(cls, req: AdmissionRequest) -> Attributes:
        info = req.info
        namespace = req.namespace if info.namespaced else ""
        if info.group == "" and info.plural == "namespaces" and req.operation != "CREATE":
            namespace = req.name
        return cls(
            operation=req.operation,
            group=info.group,
            version=info.version,
            resource=info.plural,
            subresource=req.subresource,
            kind=info.kind,
            namespace=namespace,
            name=req.name,
            obj=req.obj,
            old=req.old,
            user=req.user,
            dry_run=req.dry_run,
        )


def is_exempt(group: str, kind: str) -> bool:
    return group == ADMISSION_GROUP and kind in EXEMPT_KINDS


def _exact_or_wildcard(items: Any, wanted: str) -> bool:
    return isinstance(items, list) and any(item == "*" or item == wanted for item in items)


def rule_matches(rule: Mapping[str, Any], attrs: Attributes, *, version: str | None = None) -> bool:
    """One RuleWithOperations against the request, optionally as if the request were for another `version`."""
    scope = rule.get("scope") or "*"
    if scope == "Namespaced":
        if attrs.is_namespace or not attrs.namespace:
            return False
    elif scope == "Cluster":
        if not (attrs.is_namespace or not attrs.namespace):
            return False
    elif scope != "*":
        return False
    if not _exact_or_wildcard(rule.get("operations"), attrs.operation):
        return False
    if not _exact_or_wildcard(rule.get("apiGroups"), attrs.group):
        return False
    if not _exact_or_wildcard(rule.get("apiVersions"), version if version is not None else attrs.version):
        return False
    resources = rule.get("resources")
    if not isinstance(resources, list):
        return False
    for entry in resources:
        if not isinstance(entry, str):
            continue
        res, _, sub = entry.partition("/")
        if (res == "*" or res == attrs.resource) and (sub == "*" or sub == attrs.subresource):
            return True
    return False


def rules_match(webhook: Mapping[str, Any], attrs: Attributes, *, version: str | None = None) -> bool:
    rules = webhook.get("rules")
    return isinstance(rules, list) and any(
        isinstance(r, Mapping) and rule_matches(r, attrs, version=version) for r in rules
    )


def _labels(obj: Mapping[str, Any] | None) -> dict[str, str] | None:
    if obj is None:
        return None
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _selector(webhook: Mapping[str, Any], field: str) -> Any:
    """A webhook's label selector; a missing one is kube's default `{}`, which selects everything."""
    raw = webhook.get(field)
    try:
        return label_selector_from_object(raw if raw is not None else {})
    except StatusError as exc:
        raise internal_error(f"{field} of webhook {webhook.get('name', '')!r}: {exc.message}") from None


def object_selector_matches(
    webhook: Mapping[str, Any], obj: Mapping[str, Any] | None, old: Mapping[str, Any] | None
) -> bool:
    """kube: an empty selector matches; else the labels of the new or of the old object must match."""
    selector = _selector(webhook, "objectSelector")
    if selector.empty:
        return True
    return any(labels is not None and selector.matches(labels) for labels in (_labels(obj), _labels(old)))


def namespace_selector_applies(webhook: Mapping[str, Any], attrs: Attributes) -> bool:
    """Whether the namespaceSelector has a say: never for cluster-scoped objects other than Namespaces."""
    if not attrs.namespace and not attrs.is_namespace:
        return False
    return not _selector(webhook, "namespaceSelector").empty


def namespace_labels_from_object(attrs: Attributes) -> dict[str, str] | None:
    """For CREATE/UPDATE of a Namespace itself the labels come from the object (None: look the namespace up)."""
    if attrs.is_namespace and not attrs.subresource and attrs.operation in ("CREATE", "UPDATE"):
        return _labels(attrs.obj) or {}
    return None


def namespace_selector_matches(webhook: Mapping[str, Any], namespace_labels: Mapping[str, str]) -> bool:
    return bool(_selector(webhook, "namespaceSelector").matches(namespace_labels))


def timeout_seconds(webhook: Mapping[str, Any]) -> int:
    value = webhook.get("timeoutSeconds")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return DEFAULT_TIMEOUT_SECONDS
    return min(value, MAX_TIMEOUT_SECONDS)


# ---- errors as kube formats them ----


def internal_error(message: str) -> StatusError:
    """apierrors.NewInternalError."""
    return StatusError(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})


def call_failed(name: str, why: str) -> StatusError:
    """A failing-closed call error, as kube's ErrCallingWebhook wrapped in an internal error."""
    return internal_error(f"failed calling webhook {go_quote(name)}: {why}")


def denied(name: str, status: Any) -> StatusError:
    """webhookerrors.ToStatusErr: the webhook's own Status with the message prefixed and a code of at least 400."""
    status = status if isinstance(status, Mapping) else {}
    denied_by = f"admission webhook {go_quote(name)} denied the request"
    message = status.get("message") if isinstance(status.get("message"), str) else ""
    reason = status.get("reason") if isinstance(status.get("reason"), str) else ""
    if message:
        text = f"{denied_by}: {message}"
    elif reason:
        text = f"{denied_by}: {reason}"
    else:
        text = f"{denied_by} without explanation"
    code = status.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or code < 400:
        code = 400
    # kube passes the webhook's Status on as it came: no details object where the webhook sent none
    details = status.get("details")
    return StatusError(code, str(reason), text, dict(details) if isinstance(details, Mapping) else None)


def dry_run_unsupported(name: str) -> StatusError:
    return StatusError(400, "BadRequest", f"admission webhook {go_quote(name)} does not support dry run")


# ---- the AdmissionReview ----


def build_review(attrs: Attributes, *, uid: str, version: str, review_version: str) -> dict[str, Any]:
    """The AdmissionReview request; `version` is the one the webhook matched (Equivalent may differ)."""
    api_version = f"{attrs.group}/{version}" if attrs.group else version
    user: dict[str, Any] = {"username": attrs.user.name}
    if attrs.user.uid:
        user["uid"] = attrs.user.uid
    if attrs.user.groups:
        user["groups"] = list(attrs.user.groups)
    if attrs.user.extra:
        user["extra"] = attrs.user.extra_map()
    options: dict[str, Any] = {
        "kind": _OPTIONS_KINDS.get(attrs.operation, "CreateOptions"),
        "apiVersion": "meta.k8s.io/v1",
    }
    if attrs.dry_run:
        options["dryRun"] = ["All"]
    request: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": attrs.group, "version": version, "kind": attrs.kind},
        "resource": {"group": attrs.group, "version": version, "resource": attrs.resource},
        "requestKind": {"group": attrs.group, "version": attrs.version, "kind": attrs.kind},
        "requestResource": {"group": attrs.group, "version": attrs.version, "resource": attrs.resource},
        "name": attrs.name,
        "namespace": attrs.namespace,
        "operation": attrs.operation,
        "userInfo": user,
        "object": _in_version(attrs.obj, api_version, attrs.kind),
        "oldObject": _in_version(attrs.old, api_version, attrs.kind),
        "dryRun": attrs.dry_run,
        "options": options,
    }
    if attrs.subresource:
        request["subResource"] = attrs.subresource
        request["requestSubResource"] = attrs.subresource
    if not attrs.namespace:
        del request["namespace"]
    return {"apiVersion": f"admission.k8s.io/{review_version}", "kind": "AdmissionReview", "request": request}


def _in_version(obj: Mapping[str, Any] | None, api_version: str, kind: str) -> dict[str, Any] | None:
    if obj is None:
        return None
    out = dict(obj)
    out["apiVersion"] = api_version
    out.setdefault("kind", kind)
    return out


def verify_response(body: Any, *, uid: str, review_version: str, mutating: bool) -> dict[str, Any]:
    """webhookrequest.VerifyAdmissionResponse: the `response` of a well-formed review, or WebhookCallError."""
    if not isinstance(body, dict):
        raise WebhookCallError("received invalid webhook response: the response is not a JSON object")
    expected = f"admission.k8s.io/{review_version}"
    if body.get("apiVersion") != expected or body.get("kind") != "AdmissionReview":
        raise WebhookCallError(
            f"received invalid webhook response: expected webhook response of {expected}, Kind=AdmissionReview, "
            f"got {body.get('apiVersion', '')}, Kind={body.get('kind', '')}"
        )
    response = body.get("response")
    if not isinstance(response, dict):
        raise WebhookCallError("received invalid webhook response: webhook response was absent")
    if response.get("uid") != uid:
        raise WebhookCallError(
            f"received invalid webhook response: expected response.uid={uid!r}, got {response.get('uid')!r}"
        )
    patch_data, patch_type = response.get("patch") or "", response.get("patchType") or ""
    if patch_data or patch_type:
        if not mutating:
            raise WebhookCallError("received invalid webhook response: webhook returned response.patch/patchType")
        if not patch_data or not patch_type:
            raise WebhookCallError("received invalid webhook response: webhook returned incomplete patch/patchType")
        if patch_type != "JSONPatch":
            raise WebhookCallError(f"received invalid webhook response: invalid response.patchType of {patch_type!r}")
    return response


def decode_patch(response: Mapping[str, Any]) -> list[Any] | None:
    """The JSON Patch of a mutating response (None when there is none)."""
    raw = response.get("patch")
    if not raw:
        return None
    try:
        ops = orjson.loads(base64.b64decode(str(raw), validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise WebhookCallError(f"received undecodable patch in webhook response: {exc}") from None
    if not isinstance(ops, list):
        raise WebhookCallError("received undecodable patch in webhook response: a JSON Patch must be an array")
    return ops or None


# ---- the component ----


@dataclass(frozen=True)
class Webhook:
    configuration: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or "")

    @property
    def fails_open(self) -> bool:
        return self.spec.get("failurePolicy") == "Ignore"


@dataclass(frozen=True)
class _Invocation:
    webhook: Webhook
    version: str


class WebhookAdmission:
    """Follows webhook configurations and calls their webhooks from the `mutate` and `validate` admission hooks."""

    def __init__(self, *, store: ObjectStore, registry: Registry) -> None:
        self._store = store
        self._registry = registry
        self._configs: dict[str, dict[str, dict[str, Any]]] = {VALIDATING: {}, MUTATING: {}}
        self._hooks: dict[str, tuple[Webhook, ...]] = {VALIDATING: (), MUTATING: ()}
        self._informer = LocalInformer(backend=store.backend, prefix=PREFIX, handler=self._on_event, name="webhooks")
        self._session: aiohttp.ClientSession | None = None
        self._ssl: dict[str, ssl.SSLContext] = {}

    async def start(self) -> None:
        await self._informer.start()

    async def stop(self) -> None:
        await self._informer.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def webhooks(self, plural: str) -> tuple[Webhook, ...]:
        return self._hooks[plural]

    async def _on_event(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        plural, _, name = key[len(PREFIX) :].partition("/")
        configs = self._configs.get(plural)
        if configs is None or not name:
            return
        if kind == "DELETED":
            configs.pop(name, None)
        else:
            configs[name] = obj
        hooks: list[Webhook] = []
        for config_name in sorted(configs):
            for spec in configs[config_name].get("webhooks") or []:
                if isinstance(spec, dict):
                    hooks.append(Webhook(configuration=config_name, spec=spec))
        self._hooks[plural] = tuple(hooks)

    # ---- admission hooks ----

    async def mutate(self, req: AdmissionRequest) -> None:
        hooks = self._hooks[MUTATING]
        if not hooks or is_exempt(req.info.group, req.info.kind):
            return
        attrs = Attributes.from_request(req)
        namespace_labels: list[Mapping[str, str]] = []
        for hook in hooks:
            invocation = await self._should_call(hook, attrs, namespace_labels)
            if invocation is None:
                continue
            try:
                response = await self._call(invocation, attrs, mutating=True)
                ops = decode_patch(response)
            except WebhookCallError as exc:
                if hook.fails_open:
                    log.warning("Failed calling webhook, failing open", extra={"webhook": hook.name, "error": str(exc)})
                    continue
                raise call_failed(hook.name, str(exc)) from None
            if ops is not None:
                apply_patch(hook.name, attrs, invocation.version, ops)

    async def validate(self, req: AdmissionRequest) -> None:
        hooks = self._hooks[VALIDATING]
        if not hooks or is_exempt(req.info.group, req.info.kind):
            return
        attrs = Attributes.from_request(req)
        namespace_labels: list[Mapping[str, str]] = []
        invocations = []
        for hook in hooks:
            invocation = await self._should_call(hook, attrs, namespace_labels)
            if invocation is not None:
                invocations.append(invocation)
        if not invocations:
            return
        results = await asyncio.gather(*(self._validate_one(inv, attrs) for inv in invocations), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _validate_one(self, invocation: _Invocation, attrs: Attributes) -> None:
        hook = invocation.webhook
        try:
            await self._call(invocation, attrs, mutating=False)
        except WebhookCallError as exc:
            if hook.fails_open:
                log.warning("Failed calling webhook, failing open", extra={"webhook": hook.name, "error": str(exc)})
                return
            raise call_failed(hook.name, str(exc)) from None

    # ---- matching ----

    async def _should_call(
        self, hook: Webhook, attrs: Attributes, namespace_labels: list[Mapping[str, str]]
    ) -> _Invocation | None:
        version = self._matching_version(hook.spec, attrs)
        if version is None:
            return None
        if namespace_selector_applies(hook.spec, attrs):
            if not namespace_labels:
                namespace_labels.append(await self._namespace_labels(attrs))
            if not namespace_selector_matches(hook.spec, namespace_labels[0]):
                return None
        if not object_selector_matches(hook.spec, attrs.obj, attrs.old):
            return None
        return _Invocation(webhook=hook, version=version)

    def _matching_version(self, spec: Mapping[str, Any], attrs: Attributes) -> str | None:
        if rules_match(spec, attrs):
            return attrs.version
        if spec.get("matchPolicy") == "Exact":
            return None
        for other in self._equivalent_versions(attrs):
            if rules_match(spec, attrs, version=other):
                return other
        return None

    def _equivalent_versions(self, attrs: Attributes) -> list[str]:
        """Other served versions of the same group/resource, in the group's priority order."""
        served = {
            info.version for info in self._registry.all() if info.group == attrs.group and info.plural == attrs.resource
        }
        order = self._registry.groups().get(attrs.group, [])
        return [v for v in order if v in served and v != attrs.version]

    async def _namespace_labels(self, attrs: Attributes) -> Mapping[str, str]:
        labels = namespace_labels_from_object(attrs)
        if labels is not None:
            return labels
        ns_info = self._registry.get("", "v1", "namespaces")
        assert ns_info is not None
        namespace = await self._store.get(ns_info, "", attrs.namespace)  # 404 like kube when it does not exist
        return _labels(namespace) or {}

    # ---- calling ----

    async def _call(self, invocation: _Invocation, attrs: Attributes, *, mutating: bool) -> dict[str, Any]:
        """POST the review and return the verified response; raise StatusError on a denial."""
        hook = invocation.webhook
        spec = hook.spec
        if attrs.dry_run:
            side_effects = spec.get("sideEffects")
            if side_effects is None:
                raise WebhookCallError("Webhook SideEffects is nil")
            if side_effects not in ("None", "NoneOnDryRun"):
                raise dry_run_unsupported(hook.name)
        accepted = spec.get("admissionReviewVersions") or ["v1"]
        review_version = next((v for v in accepted if v in REVIEW_VERSIONS), None)
        if review_version is None:
            raise WebhookCallError(
                f"webhook does not accept known AdmissionReview versions: got {accepted}, expected one of "
                f"{list(REVIEW_VERSIONS)}"
            )
        client_config = spec.get("clientConfig")
        if not isinstance(client_config, Mapping):
            raise WebhookCallError("webhook has no clientConfig")
        url, server_hostname = await self._endpoint(client_config)
        context = self._ssl_context(client_config.get("caBundle"))
        uid = str(uuid.uuid4())
        review = build_review(attrs, uid=uid, version=invocation.version, review_version=review_version)
        timeout = timeout_seconds(spec)
        shown = f'Post "{url}?timeout={timeout}s"'
        try:
            session = self._client()
            async with session.post(
                url,
                params={"timeout": f"{timeout}s"},
                data=orjson.dumps(review),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                ssl=context,
                server_hostname=server_hostname,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as resp:
                raw = await resp.content.read(_MAX_RESPONSE_BYTES)
                status = resp.status
        except TimeoutError:
            raise WebhookCallError(f"failed to call webhook: {shown}: context deadline exceeded") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise WebhookCallError(f"failed to call webhook: {shown}: {_describe(exc)}") from None
        if not 200 <= status < 300:
            text = raw.decode("utf-8", "replace").strip()
            why = (
                f'an error on the server ("{text[:256]}") has prevented the request from succeeding'
                if text
                else f"the server responded with the status code {status} but did not return more information"
            )
            raise WebhookCallError(f"failed to call webhook: {why}")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise WebhookCallError(f"received invalid webhook response: {exc}") from None
        response = verify_response(body, uid=uid, review_version=review_version, mutating=mutating)
        for warning in response.get("warnings") or []:
            log.info("Admission webhook warning", extra={"webhook": hook.name, "warning": str(warning)})
        if not response.get("allowed"):
            raise denied(hook.name, response.get("status"))
        return response

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        return self._session

    async def _endpoint(self, client_config: Mapping[str, Any]) -> tuple[str, str | None]:
        """(URL to POST to, TLS server name if it differs from the URL's host)."""
        url = client_config.get("url")
        if isinstance(url, str) and url:
            if not url.startswith("https://"):
                raise WebhookCallError(f'webhook URL must use the https scheme: "{url}"')
            return url, None
        service = client_config.get("service")
        if not isinstance(service, Mapping) or not service.get("name") or not service.get("namespace"):
            raise WebhookCallError("webhook clientConfig has neither url nor service")
        name, namespace = str(service["name"]), str(service["namespace"])
        port = service.get("port") or 443
        path = str(service.get("path") or "")
        if path and not path.startswith("/"):
            path = "/" + path
        host = await self._service_address(namespace, name)
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        return f"https://{host}:{port}{path or '/'}", f"{name}.{namespace}.svc"

    async def _service_address(self, namespace: str, name: str) -> str:
        svc_info = self._registry.get("", "v1", "services")
        assert svc_info is not None
        try:
            svc = await self._store.get(svc_info, namespace, name)
        except StatusError as exc:
            raise WebhookCallError(f"failed to resolve service: {exc.message}") from None
        spec = svc.get("spec") or {}
        cluster_ip = spec.get("clusterIP")
        if isinstance(cluster_ip, str) and cluster_ip and cluster_ip != "None":
            return cluster_ip
        for ingress in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if isinstance(ingress, Mapping):
                address = ingress.get("ip") or ingress.get("hostname")
                if isinstance(address, str) and address:
                    return address
        external = spec.get("externalName")
        if isinstance(external, str) and external:
            return external
        raise WebhookCallError(f'service "{namespace}/{name}" has no clusterIP, load balancer or externalName address')

    def _ssl_context(self, ca_bundle: Any) -> ssl.SSLContext:
        key = ca_bundle if isinstance(ca_bundle, str) else ""
        context = self._ssl.get(key)
        if context is not None:
            return context
        if not key:
            context = ssl.create_default_context()
        else:
            try:
                pem = base64.b64decode(key, validate=True).decode("ascii")
                context = ssl.create_default_context(cadata=pem)
            except (binascii.Error, ValueError, ssl.SSLError) as exc:
                raise WebhookCallError(f"invalid caBundle: {exc}") from None
        if len(self._ssl) > 256:
            self._ssl.clear()
        self._ssl[key] = context
        return context


def _describe(exc: BaseException) -> str:
    """A connection failure in words close to Go's net/http ones."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"tls: failed to verify certificate: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        why = "connection refused" if isinstance(exc.os_error, ConnectionRefusedError) else str(exc.os_error)
        return f"dial tcp {exc.host}:{exc.port}: connect: {why}"
    return str(exc) or type(exc).__name__


def apply_patch(name: str, attrs: Attributes, version: str, ops: Sequence[Any]) -> None:
    """Apply a mutating webhook's JSON Patch (made against the object in `version`) to `attrs.obj` in place."""
    obj = attrs.obj
    if obj is None:
        raise internal_error(
            f"admission webhook {go_quote(name)} attempted to modify the object, which is not supported for this "
            "operation"
        )
    api_version = f"{attrs.group}/{version}" if attrs.group else version
    sent = _in_version(obj, api_version, attrs.kind)
    assert sent is not None
    try:
        patched = patch.apply_json_patch(sent, list(ops))
    except patch.PatchError as exc:
        raise internal_error(str(exc)) from None
    if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
        raise internal_error(f"admission webhook {go_quote(name)} returned a patch that leaves no object metadata")
    if patched.get("apiVersion") != api_version or patched.get("kind") != sent.get("kind"):
        raise internal_error(f"admission webhook {go_quote(name)} attempted to change the object's apiVersion or kind")
    if "apiVersion" in obj:
        patched["apiVersion"] = obj["apiVersion"]
    else:
        patched.pop("apiVersion", None)
    obj.clear()
    obj.update(patched)
