"""Resource requests: turn an authorized HTTP request into an ObjectStore call and a response."""

from __future__ import annotations

import base64
import copy
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from gardener.apiserver import errors, fieldmanager, httputil, meta, podproxy
from gardener.apiserver.errors import FieldCause, StatusError
from gardener.apiserver.rbac import UserInfo
from gardener.apiserver.requestinfo import RequestInfo, is_true
from gardener.apiserver.resources import ALL_VERBS, Registry, ResourceInfo
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.selectors import (
    FieldSelector,
    LabelSelector,
    field_selector_for,
    label_selector_from_object,
    label_selector_to_string,
    parse_field_selector,
    parse_label_selector,
)
from gardener.apiserver.tokens import BoundObject, ServiceAccountTokenSigner
from gardener.apiserver.watch import MAX_TIMEOUT, WatchRequest, serve_watch

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}
SUPPORTED_PATCH = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]
#: built-in kinds whose DELETE answers with the object rather than a success Status, as in kube
_RETURNS_DELETED_OBJECT = {("", "Namespace"), ("", "Pod")}
#: verbs that name one object, whose name becomes a storage key (kube's NamespaceKeyFunc checks it)
_NAMED_VERBS = frozenset({"get", "update", "patch", "delete"})
_DRY_RUN_VALUES = ("All",)
_FIELD_VALIDATION_VALUES = ("", "Ignore", "Strict", "Warn")
_PROPAGATION_POLICIES = ("Foreground", "Background", "Orphan")


class ResourceHandler:
    def __init__(self, *, store: ObjectStore, registry: Registry, signer: ServiceAccountTokenSigner) -> None:
        self.store = store
        self.registry = registry
        self.signer = signer

    def resolve(self, ri: RequestInfo) -> ResourceInfo:
        info = self.registry.get(ri.api_group, ri.api_version, ri.resource)
        if info is None:
            raise errors.no_route()
        named_verb = ri.verb not in ("list", "watch", "create", "deletecollection")
        if info.namespaced and named_verb and ri.name and not ri.namespace and ri.resource != "namespaces":
            raise errors.no_route()
        return info

    async def handle(self, request: web.Request, ri: RequestInfo, user: UserInfo) -> web.StreamResponse:
        info = self.resolve(ri)
        ns = ri.namespace if info.namespaced else ""
        if ri.resource == "namespaces":
            ns = ""
        verb = ri.verb
        sub = ri.subresource
        if sub and not self._subresource_allowed(info, sub):
            raise errors.no_route()
        if not sub and verb in ALL_VERBS and verb not in info.verbs:
            # no route for this method, as go-restful answers for a verb the resource does not serve
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        if verb in _NAMED_VERBS:
            _check_path_name(ri.name)
        ctx = self._context(request, user)
        # built-in endpoints that are not plain storage (eviction, binding, componentstatuses, ...)
        from gardener.apiserver import subresources

        served = await subresources.serve(self.store, request, ri=ri, info=info, namespace=ns, ctx=ctx)
        if served is not None:
            return served
        if info.group in ("authentication.k8s.io", "authorization.k8s.io") and not sub:
            # the review kinds are answered, never stored
            from gardener.apiserver import reviews

            if ri.name:
                raise errors.method_not_allowed("POST is not supported on a named resource")
            return await reviews.serve(request, info=info, namespace=ns, user=user)
        if sub == "scale":
            return await self._scale(request, info, ns, ri.name, ctx)
        if sub == "token":
            return await self._token(request, info, ns, ri.name)
        if podproxy.handles(info, sub):
            return await podproxy.serve(
                request,
                store=self.store,
                registry=self.registry,
                info=info,
                namespace=ns,
                name=ri.name,
                subresource=sub,
            )
        if verb == "get":
            _resource_version(request)
            obj = await self.store.get(info, ns, ri.name)
            table_version = _table_version(request)
            if table_version:
                from gardener.apiserver import tables

                return httputil.json_response(
                    tables.to_table(info, [obj], include_object=_include(request), api_version=table_version)
                )
            return httputil.json_response(obj)
        if verb == "list":
            return await self._list(request, info, ns)
        if verb == "watch":
            return await serve_watch(request, self.store, self._watch_request(request, info, ns, ri))
        if verb == "create":
            if ri.name and not sub:
                raise errors.method_not_allowed("POST is not supported on a named resource")
            _check_options(request, "CreateOptions")
            body = await httputil.read_body(request)
            created = await self.store.create(info, ns, body, ctx=ctx)
            return httputil.json_response(created, status=201, warnings=ctx.warnings)
        if verb == "update":
            _check_options(request, "UpdateOptions")
            body = await httputil.read_body(request)
            updated = await self.store.update(info, ns, ri.name, body, ctx=ctx, subresource=sub)
            return httputil.json_response(updated, warnings=ctx.warnings)
        if verb == "patch":
            media = httputil.media_type(request)
            patch_type = PATCH_TYPES.get(media)
            if patch_type is None:
                raise errors.unsupported_media_type(media, SUPPORTED_PATCH)
            _check_options(request, "PatchOptions", patch_type=patch_type)
            body = await httputil.read_body(request)
            patched = await self.store.patch(
                info, ns, ri.name, patch_type=patch_type, body=body, ctx=ctx, subresource=sub
            )
            return httputil.json_response(patched, status=201 if ctx.created else 200, warnings=ctx.warnings)
        if verb == "delete":
            options = await self._delete_options(request)
            ctx.dry_run = bool(options.get("dryRun"))
            obj, gone = await self.store.delete(info, ns, ri.name, ctx=ctx, options=options)
            if gone and not info.is_custom and (info.group, info.kind) not in _RETURNS_DELETED_OBJECT:
                m = obj["metadata"]
                return httputil.json_response(
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": {"name": m["name"], "group": info.group, "kind": info.plural, "uid": m.get("uid")},
                    }
                )
            return httputil.json_response(obj)
        if verb == "deletecollection":
            options = await self._delete_options(request)
            ctx.dry_run = bool(options.get("dryRun"))
            labels, fields = self._selectors(request, info)
            deleted = await self.store.delete_collection(
                info, ns, ctx=ctx, labels=labels, fields=fields, options=options
            )
            return httputil.json_response(_list_doc(info, deleted, str(self.store.backend.current_revision()), ""))
        raise errors.method_not_allowed(f"{verb} is not supported on {info.plural}")

    @staticmethod
    def _subresource_allowed(info: ResourceInfo, sub: str) -> bool:
        if sub == "status":
            return info.has_status
        if sub == "scale":
            return info.scale is not None
        return sub in info.extra_subresources

    @staticmethod
    def _context(request: web.Request, user: UserInfo) -> Context:
        """The write options of the query; `_check_options` (or the DeleteOptions) validated them first."""
        return Context(
            user=user,
            dry_run=bool(request.query.getall("dryRun", [])),
            field_validation=request.query.get("fieldValidation", "") or "Warn",
            field_manager=request.query.get("fieldManager", ""),
            default_field_manager=fieldmanager.manager_from_user_agent(request.headers.get("User-Agent", "")),
            force=httputil.query_bool(request, "force"),
        )

    def _selectors(self, request: web.Request, info: ResourceInfo) -> tuple[LabelSelector | None, FieldSelector | None]:
        labels = parse_label_selector(request.query["labelSelector"]) if request.query.get("labelSelector") else None
        fields = None
        if request.query.get("fieldSelector"):
            fields = field_selector_for(request.query["fieldSelector"], group=info.group, kind=info.kind)
        return labels, fields

    async def _list(self, request: web.Request, info: ResourceInfo, ns: str) -> web.StreamResponse:
        options = _list_options(request, watch=False)
        labels, fields = self._selectors(request, info)
        limit = options.limit
        after_key, at_revision = "", 0
        token = options.continue_token
        if token:
            at_revision, after_key = _decode_continue(token, info.list_prefix(ns))
            if options.resource_version not in ("", "0"):
                raise errors.bad_request("specifying resource version is not allowed when using continue")
        table_version = _table_version(request)
        if labels is None and fields is None and table_version is None and self.store.can_serve_raw(info):
            revision, raw, next_key = await self.store.list_raw(
                info, ns, limit=max(limit, 0), after_key=after_key, at_revision=at_revision
            )
            cont = _encode_continue(revision, next_key) if next_key else ""
            head = _list_doc(info, [], str(revision), cont)
            del head["items"]
            body = orjson.dumps(head)[:-1] + b',"items":[' + b",".join(raw) + b"]}"
            return httputil.raw_json_response(body)
        revision, items, next_key = await self.store.list_objects(
            info, ns, labels=labels, fields=fields, limit=max(limit, 0), after_key=after_key, at_revision=at_revision
        )
        cont = _encode_continue(revision, next_key) if next_key else ""
        if table_version:
            from gardener.apiserver import tables

            return httputil.json_response(
                tables.to_table(
                    info,
                    items,
                    include_object=_include(request),
                    resource_version=str(revision),
                    continue_token=cont,
                    api_version=table_version,
                )
            )
        return httputil.json_response(_list_doc(info, items, str(revision), cont))

    def _watch_request(self, request: web.Request, info: ResourceInfo, ns: str, ri: RequestInfo) -> WatchRequest:
        options = _list_options(request, watch=True)
        labels, fields = self._selectors(request, info)
        if ri.name:
            pinned = parse_field_selector(f"metadata.name={ri.name}", allowed=frozenset({"metadata.name"}))
            fields = pinned if fields is None else fields
        # kube: no timeoutSeconds (or 0) means the server's own timeout; a negative one a timer that has fired
        timeout = options.timeout_seconds or MAX_TIMEOUT
        return WatchRequest(
            info=info,
            namespace=ns,
            resource_version=options.resource_version,
            labels=labels,
            fields=fields,
            bookmarks=_query_flag(request, "allowWatchBookmarks") is True,
            timeout=float(min(max(timeout, 0), MAX_TIMEOUT)),
            send_initial_events=options.send_initial_events is True,
            table_version=_table_version(request),
            include_object=_include(request),
        )

    @staticmethod
    async def _delete_options(request: web.Request) -> dict[str, Any]:
        """kube's DeleteOptions: decoded from the body when there is one, else from the query, never a mix.

        kubectl sends its options (dryRun, propagationPolicy, gracePeriodSeconds) in the body only, so a query
        read would miss `kubectl delete --dry-run=server` and delete for real.
        """
        body = await httputil.read_body(request, allow_empty=True)
        options = _query_delete_options(request) if body is None else _decode_delete_options(body)
        causes: list[FieldCause] = []
        policy = options.get("propagationPolicy")
        if options.get("orphanDependents") is not None and policy is not None:
            causes.append(
                FieldCause(
                    "FieldValueInvalid",
                    f"Invalid value: {meta.json_string(policy)}: orphanDependents and deletionPropagation cannot be "
                    "both set",
                    "propagationPolicy",
                )
            )
        if policy is not None and policy not in _PROPAGATION_POLICIES:
            causes.append(
                _not_supported(meta.json_string(policy), [*_PROPAGATION_POLICIES, "nil"], "propagationPolicy")
            )
        causes += _dry_run_causes(options.get("dryRun") or [])
        if causes:
            raise errors.invalid_options("DeleteOptions", causes)
        return options

    # ---- subresources with their own kinds ----

    async def _scale(
        self, request: web.Request, info: ResourceInfo, ns: str, name: str, ctx: Context
    ) -> web.StreamResponse:
        assert info.scale is not None
        spec = info.scale
        if request.method == "GET":
            _resource_version(request)
            return httputil.json_response(_to_scale(info, await self.store.get(info, ns, name)))
        media = httputil.media_type(request)
        if request.method == "PATCH" and media not in PATCH_TYPES:
            raise errors.unsupported_media_type(media, SUPPORTED_PATCH)
        if request.method == "PATCH":
            _check_options(request, "PatchOptions", patch_type=PATCH_TYPES[media])
        else:
            _check_options(request, "UpdateOptions")
        body = await httputil.read_body(request)
        if request.method == "PUT":
            try:
                _decode_scale(body, name=name)
            except meta.DecodeError as exc:
                raise errors.bad_request(f'Scale in version "v1" cannot be handled as a Scale: {exc}') from None

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            from gardener.apiserver import patch

            scale = _to_scale(info, current)
            if request.method == "PATCH":
                kind = PATCH_TYPES[media]
                try:
                    if kind == "json":
                        scale = patch.apply_json_patch(scale, body)
                    else:
                        scale = patch.apply_merge_patch(scale, body)
                except patch.PatchError as exc:
                    raise StatusError(422, "Invalid", str(exc)) from None
                try:
                    _decode_scale(scale, name=name)
                except meta.DecodeError as exc:
                    raise errors.invalid_patch_result(orjson.dumps(scale).decode(), str(exc)) from None
            else:
                scale = body
                wanted = scale["metadata"].get("resourceVersion")
                if wanted and wanted != current["metadata"].get("resourceVersion"):
                    raise errors.conflict(resource=info.plural, group=info.group, name=name)
            replicas = (scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid(
                    kind="Scale",
                    group="autoscaling",
                    name=name,
                    causes=[
                        errors.FieldCause(
                            "FieldValueInvalid",
                            f"Invalid value: {replicas!r}: must be greater than or equal to 0",
                            "spec.replicas",
                        )
                    ],
                )
            _set_path(current, spec.spec_replicas_path, replicas)
            return current

        updated = await self.store.guaranteed_update(info, ns, name, mutate, ctx=ctx, subresource="scale")
        return httputil.json_response(_to_scale(info, updated))

    async def _token(self, request: web.Request, info: ResourceInfo, ns: str, name: str) -> web.StreamResponse:
        if request.method != "POST":
            raise errors.method_not_allowed("only POST is supported on serviceaccounts/token")
        _check_options(request, "CreateOptions")
        sa = await self.store.get(info, ns, name)
        body = _decode_token_request(await httputil.read_body(request))
        spec = body.get("spec") or {}
        expiration = int(spec.get("expirationSeconds") or 3600)
        if expiration < 600:
            raise errors.invalid(
                kind="TokenRequest",
                group="authentication.k8s.io",
                name=name,
                causes=[
                    errors.FieldCause(
                        "FieldValueInvalid",
                        "Invalid value: may not specify a duration less than 10 minutes",
                        "spec.expirationSeconds",
                    )
                ],
            )
        audiences = list(spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"])
        bound_ref = spec.get("boundObjectRef")
        pod, node = await self._bound_pod(ns, name, bound_ref) if bound_ref else (None, None)
        if pod is not None:
            bound_ref = {**(bound_ref or {}), "uid": pod.uid}
        now = time.time()
        token = self.signer.issue(
            namespace=ns,
            name=name,
            uid=sa["metadata"]["uid"],
            audiences=audiences,
            expiration_seconds=expiration,
            now=now,
            pod=pod,
            node=node,
        )
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + expiration))
        out = copy.deepcopy(body)
        out.update({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1"})
        out["metadata"].update({"name": name, "namespace": ns})
        out["spec"] = {
            "audiences": audiences,
            "expirationSeconds": expiration,
            "boundObjectRef": bound_ref,
        }
        out["status"] = {"token": token, "expirationTimestamp": expires}
        return httputil.json_response(out, status=201)

    async def _bound_pod(
        self, ns: str, sa_name: str, ref: dict[str, Any]
    ) -> tuple[BoundObject | None, BoundObject | None]:
        """kube's TokenREST checks of a Pod reference: the pod exists (with that uid) and runs as the service
        account; the token then names the pod and the node it runs on. Other kinds bind nothing here."""
        if ref.get("kind") != "Pod" or ref.get("apiVersion", "v1") != "v1":
            return None, None
        pods = self.registry.get("", "v1", "pods")
        assert pods is not None
        pod = await self.store.get(pods, ns, str(ref.get("name") or ""))
        uid = pod["metadata"]["uid"]
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.conflict(
                resource="Pod",
                group="",
                name=pod["metadata"]["name"],
                why=f"the UID in the bound object reference ({ref['uid']}) does not match the UID in record. The "
                "object might have been deleted and then recreated",
            )
        if (pod.get("spec") or {}).get("serviceAccountName", "default") != sa_name:
            raise errors.bad_request(
                f"cannot bind token for serviceaccount {errors.go_quote(sa_name)} to pod running with different "
                "serviceaccount name."
            )
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        node = None
        if node_name:
            nodes = self.registry.get("", "v1", "nodes")
            assert nodes is not None
            try:
                node_uid = (await self.store.get(nodes, "", node_name))["metadata"]["uid"]
            except StatusError as exc:
                if exc.code != 404:
                    raise
                node_uid = ""  # kube binds the node by name alone when it is not (yet) known
            node = BoundObject(node_name, node_uid)
        return BoundObject(pod["metadata"]["name"], uid), node


def _check_options(request: web.Request, kind: str, *, patch_type: str = "") -> None:
    """kube's Validate{Create,Update,Patch}Options on the query: fieldManager, force, dryRun, fieldValidation."""
    manager = request.query.get("fieldManager", "")
    causes = fieldmanager.validate_field_manager(manager)
    if patch_type == "apply" and not manager:
        causes.insert(
            0, FieldCause("FieldValueRequired", "Required value: is required for apply patch", "fieldManager")
        )
    if patch_type and patch_type != "apply" and "force" in request.query:
        causes.insert(
            0, FieldCause("FieldValueForbidden", "Forbidden: may not be specified for non-apply patch", "force")
        )
    causes += _dry_run_causes(request.query.getall("dryRun", []))
    validation = request.query.get("fieldValidation", "")
    if validation not in _FIELD_VALIDATION_VALUES:
        causes.append(_not_supported(meta.json_string(validation), list(_FIELD_VALIDATION_VALUES), "fieldValidation"))
    if causes:
        raise errors.invalid_options(kind, causes)


def _not_supported(shown: str, supported: list[str], field: str) -> FieldCause:
    """field.NotSupported: `Unsupported value: <value>: supported values: "a", "b"`."""
    values = ", ".join(meta.json_string(v) for v in supported)
    return FieldCause("FieldValueNotSupported", f"Unsupported value: {shown}: supported values: {values}", field)


def _dry_run_causes(values: list[str]) -> list[FieldCause]:
    """ValidateDryRun: every value must be "All"; kube prints the whole list the Go way ([]string{...})."""
    if all(v in _DRY_RUN_VALUES for v in values):
        return []
    shown = "[]string{" + ", ".join(meta.json_string(v) for v in values) + "}"
    return [_not_supported(shown, list(_DRY_RUN_VALUES), "dryRun")]


def _check_path_name(name: str) -> None:
    """kube's NoNamespaceKeyFunc: a name from the URL becomes a storage key only if it is a valid path segment."""
    if name in (".", ".."):
        problems = [f"may not be '{name}'"]
    else:
        problems = [f"may not contain '{c}'" for c in ("/", "%") if c in name]
    if problems:
        raise errors.bad_request(f"Name parameter invalid: {meta.json_string(name)}: {';'.join(problems)}")


def _query_flag(request: web.Request, name: str) -> bool | None:
    """A bool query parameter as kube converts it (only "false" and "0" are false); None when absent."""
    if name not in request.query:
        return None
    return is_true(request.query[name])


def _query_int(request: web.Request, name: str) -> int | None:
    """An int64 query parameter as Go's strconv.ParseInt reads it; 400 with its message otherwise."""
    value = request.query.get(name)
    if value is None:
        return None
    digits = value[1:] if value[:1] in ("+", "-") else value
    if not (digits.isascii() and digits.isdigit()):
        raise errors.bad_request(f"strconv.ParseInt: parsing {meta.json_string(value)}: invalid syntax")
    number = int(value)
    if not -(1 << 63) <= number < (1 << 63):
        raise errors.bad_request(f"strconv.ParseInt: parsing {meta.json_string(value)}: value out of range")
    return number


def _resource_version(request: web.Request) -> str:
    """`resourceVersion` of a GET, LIST or WATCH: empty, "0" or a decimal uint64.

    kube-apiserver answers a malformed one with a 500 (kubernetes/kubernetes#101350, still open); its etcd3
    store already answers the same mistake with this 400, which is the answer a client can act on.
    """
    value = request.query.get("resourceVersion", "")
    try:
        meta.parse_resource_version(value)
    except ValueError as exc:
        raise errors.bad_request(f"invalid resource version: {exc}") from None
    return value


@dataclass(frozen=True)
class ListOptions:
    resource_version: str
    limit: int
    continue_token: str
    timeout_seconds: int
    send_initial_events: bool | None


def _list_options(request: web.Request, *, watch: bool) -> ListOptions:
    """kube's ListOptions from the query: decoded (400), defaulted and validated (422), then the RV parsed (400)."""
    limit = _query_int(request, "limit") or 0
    timeout = _query_int(request, "timeoutSeconds") or 0
    send_initial = _query_flag(request, "sendInitialEvents")
    match = request.query.get("resourceVersionMatch", "")
    rv = request.query.get("resourceVersion", "")
    cont = request.query.get("continue", "")
    causes: list[FieldCause] = []

    def forbidden(detail: str, field: str = "resourceVersionMatch") -> None:
        causes.append(FieldCause("FieldValueForbidden", f"Forbidden: {detail}", field))

    if watch:
        # SetListOptionsDefaults (WatchList on): a watch from "now" streams the initial events
        if send_initial is None and not match and rv in ("", "0"):
            send_initial, match = True, "NotOlderThan"
        if send_initial is not None and match != "NotOlderThan":
            forbidden("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
        if match:
            if send_initial is None:
                forbidden("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
            if match != "NotOlderThan":
                causes.append(_not_supported(meta.json_string(match), ["NotOlderThan"], "resourceVersionMatch"))
            if cont:
                forbidden("resourceVersionMatch is forbidden when continue is provided")
    else:
        if match:
            if not rv:
                forbidden("resourceVersionMatch is forbidden unless resourceVersion is provided")
            if cont:
                forbidden("resourceVersionMatch is forbidden when continue is provided")
            if match not in ("Exact", "NotOlderThan"):
                causes.append(
                    _not_supported(meta.json_string(match), ["Exact", "NotOlderThan", ""], "resourceVersionMatch")
                )
            if match == "Exact" and rv == "0":
                forbidden('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
        if send_initial is not None:
            forbidden("sendInitialEvents is forbidden for list", "sendInitialEvents")
    if causes:
        raise errors.invalid_options("ListOptions", causes)
    return ListOptions(
        resource_version=_resource_version(request),
        limit=max(limit, 0),
        continue_token=cont,
        timeout_seconds=timeout,
        send_initial_events=_query_flag(request, "sendInitialEvents"),
    )


def _query_delete_options(request: web.Request) -> dict[str, Any]:
    """DeleteOptions from the query, as kube's parameter codec converts them (400 on a malformed number)."""
    options: dict[str, Any] = {}
    if "propagationPolicy" in request.query:
        options["propagationPolicy"] = request.query["propagationPolicy"]
    grace = _query_int(request, "gracePeriodSeconds")
    if grace is not None:
        options["gracePeriodSeconds"] = grace
    orphan = _query_flag(request, "orphanDependents")
    if orphan is not None:
        options["orphanDependents"] = orphan
    dry_run = request.query.getall("dryRun", [])
    if dry_run:
        options["dryRun"] = list(dry_run)
    return options


def _decode_delete_options(body: Any) -> dict[str, Any]:
    """A DeleteOptions body with the JSON types of its Go struct (null fields dropped); 400 otherwise."""
    if not isinstance(body, dict):
        raise _bad_delete_options(
            f"json: cannot unmarshal {meta.json_type(body)} into Go value of type v1.DeleteOptions"
        )
    if body.get("kind") not in (None, "", "DeleteOptions"):
        raise errors.bad_request("decoded object cannot be converted to DeleteOptions")
    options = {k: v for k, v in body.items() if v is not None}
    checks: dict[str, tuple[str, Any]] = {
        "propagationPolicy": ("v1.DeletionPropagation", lambda v: isinstance(v, str)),
        "gracePeriodSeconds": ("int64", meta.is_int),
        "orphanDependents": ("bool", lambda v: isinstance(v, bool)),
        "dryRun": ("[]string", lambda v: isinstance(v, list)),
        "preconditions": ("v1.Preconditions", lambda v: isinstance(v, dict)),
    }
    for field, (go_type, ok) in checks.items():
        if field in options and not ok(options[field]):
            raise _bad_delete_options(
                str(meta.unmarshal_error(options[field], struct="DeleteOptions", path=field, go_type=go_type))
            )
    for value in options.get("dryRun") or []:
        if not isinstance(value, str):
            raise _bad_delete_options(
                str(meta.unmarshal_error(value, struct="DeleteOptions", path="dryRun", go_type="string"))
            )
    preconditions = options.get("preconditions") or {}
    for field, go_type in (("uid", "types.UID"), ("resourceVersion", "string")):
        value = preconditions.get(field)
        if value is not None and not isinstance(value, str):
            raise _bad_delete_options(
                str(meta.unmarshal_error(value, struct="Preconditions", path=f"preconditions.{field}", go_type=go_type))
            )
    return options


def _bad_delete_options(problem: str) -> StatusError:
    return errors.bad_request(f'DeleteOptions in version "v1" cannot be handled as a DeleteOptions: {problem}')


def _decode_scale(body: Any, *, name: str) -> None:
    """An autoscaling/v1 Scale with its Go types (what `_scale` reads); meta.DecodeError otherwise."""
    if not isinstance(body, dict):
        raise meta.DecodeError(f"json: cannot unmarshal {meta.json_type(body)} into Go value of type v1.Scale")
    meta.decode_object_meta(body, kind="Scale")
    spec = body.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise meta.unmarshal_error(spec, struct="Scale", path="spec", go_type="v1.ScaleSpec")
    replicas = (spec or {}).get("replicas")
    if replicas is not None and not meta.is_int(replicas, bits=32):
        raise meta.unmarshal_error(replicas, struct="ScaleSpec", path="spec.replicas", go_type="int32")
    body_name = body["metadata"].get("name")
    if body_name and body_name != name:
        raise errors.bad_request(f"the name of the object ({body_name}) does not match the name on the URL ({name})")


def _decode_token_request(body: Any) -> dict[str, Any]:
    """An authentication.k8s.io/v1 TokenRequest with the Go types `_token` reads; 400 as kube's decoder otherwise."""
    try:
        if not isinstance(body, dict):
            raise meta.DecodeError(
                f"json: cannot unmarshal {meta.json_type(body)} into Go value of type v1.TokenRequest"
            )
        meta.decode_object_meta(body, kind="TokenRequest")
        spec = body.get("spec")
        if spec is not None and not isinstance(spec, dict):
            raise meta.unmarshal_error(spec, struct="TokenRequest", path="spec", go_type="v1.TokenRequestSpec")
        spec = spec or {}
        audiences = spec.get("audiences")
        if audiences is not None and (
            not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences)
        ):
            raise meta.unmarshal_error(audiences, struct="TokenRequestSpec", path="spec.audiences", go_type="[]string")
        expiration = spec.get("expirationSeconds")
        if expiration is not None and not meta.is_int(expiration):
            raise meta.unmarshal_error(
                expiration, struct="TokenRequestSpec", path="spec.expirationSeconds", go_type="int64"
            )
        bound = spec.get("boundObjectRef")
        if bound is not None and not isinstance(bound, dict):
            raise meta.unmarshal_error(
                bound, struct="TokenRequestSpec", path="spec.boundObjectRef", go_type="v1.BoundObjectReference"
            )
    except meta.DecodeError as exc:
        raise errors.bad_request(f'TokenRequest in version "v1" cannot be handled as a TokenRequest: {exc}') from None
    return body


def _table_version(request: web.Request) -> str | None:
    """The Table apiVersion the client asked for, or None for plain objects."""
    accept = request.headers.get("Accept", "")
    if "Table" not in accept:  # no `as=Table`: skip importing the table printers (most clients never ask)
        return None
    from gardener.apiserver import tables

    wanted, version = tables.parse_table_accept(accept)
    return version if wanted else None


def _include(request: web.Request) -> str:
    return request.query.get("includeObject", "Metadata") or "Metadata"


def _list_doc(info: ResourceInfo, items: list[dict[str, Any]], rv: str, cont: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    return {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": meta, "items": items}


def _encode_continue(rv: int, key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": key})).decode()


def _decode_continue(token: str, prefix: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        key = str(data["start"])
        rv = int(data["rv"])
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        ) from None
    if not key.startswith(prefix):
        raise errors.bad_request("continue key is not valid: it does not belong to this list")
    return rv, key


def _get_path(obj: Any, path: str) -> Any:
    for part in path.strip(".").split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value


def _to_scale(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    assert info.scale is not None
    m = obj["metadata"]
    selector: Any = _get_path(obj, info.scale.label_selector_path) if info.scale.label_selector_path else None
    if not info.is_custom:
        selector = _get_path(obj, ".spec.selector")
        selector = label_selector_to_string(label_selector_from_object(selector)) if isinstance(selector, dict) else ""
    status: dict[str, Any] = {"replicas": _get_path(obj, info.scale.status_replicas_path) or 0}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m},
        "spec": {"replicas": _get_path(obj, info.scale.spec_replicas_path) or 0},
        "status": status,
    }
