"""Resource requests: turn an authorized HTTP request into an ObjectStore call and a response."""

from __future__ import annotations

import base64
import copy
import time
from typing import Any

import orjson
from aiohttp import web

from gardener.apiserver import errors, fieldmanager, httputil
from gardener.apiserver.errors import FieldCause, StatusError
from gardener.apiserver.rbac import UserInfo
from gardener.apiserver.requestinfo import RequestInfo
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.selectors import (
    FieldSelector,
    LabelSelector,
    default_field_labels,
    label_selector_from_object,
    label_selector_to_string,
    parse_field_selector,
    parse_label_selector,
)
from gardener.apiserver.tokens import ServiceAccountTokenSigner
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


class ResourceHandler:
    def __init__(self, *, store: ObjectStore, registry: Registry, signer: ServiceAccountTokenSigner) -> None:
        self.store = store
        self.registry = registry
        self.signer = signer

    def resolve(self, ri: RequestInfo) -> ResourceInfo:
        info = self.registry.get(ri.api_group, ri.api_version, ri.resource)
        if info is None:
            raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
        named_verb = ri.verb not in ("list", "watch", "create", "deletecollection")
        if info.namespaced and named_verb and ri.name and not ri.namespace and ri.resource != "namespaces":
            raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
        return info

    async def handle(self, request: web.Request, ri: RequestInfo, user: UserInfo) -> web.StreamResponse:
        info = self.resolve(ri)
        ns = ri.namespace if info.namespaced else ""
        if ri.resource == "namespaces":
            ns = ""
        ctx = self._context(request, user)
        verb = ri.verb
        sub = ri.subresource
        if sub and not self._subresource_allowed(info, sub):
            raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
        if sub == "scale":
            return await self._scale(request, info, ns, ri.name, ctx)
        if sub == "token":
            return await self._token(request, info, ns, ri.name)
        if verb == "get":
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
        dry_run = request.query.getall("dryRun", [])
        for value in dry_run:
            if value != "All":
                raise errors.bad_request(f'unsupported dryRun value "{value}": only "All" is supported')
        validation = request.query.get("fieldValidation", "Warn") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{validation}"'
            )
        return Context(
            user=user,
            dry_run=bool(dry_run),
            field_validation=validation,
            field_manager=request.query.get("fieldManager", ""),
            default_field_manager=fieldmanager.manager_from_user_agent(request.headers.get("User-Agent", "")),
            force=httputil.query_bool(request, "force"),
        )

    def _selectors(self, request: web.Request, info: ResourceInfo) -> tuple[LabelSelector | None, FieldSelector | None]:
        labels = parse_label_selector(request.query["labelSelector"]) if request.query.get("labelSelector") else None
        fields = None
        if request.query.get("fieldSelector"):
            allowed = default_field_labels(group=info.group, kind=info.kind)
            fields = parse_field_selector(request.query["fieldSelector"], allowed=allowed)
        return labels, fields

    async def _list(self, request: web.Request, info: ResourceInfo, ns: str) -> web.StreamResponse:
        labels, fields = self._selectors(request, info)
        limit = httputil.query_int(request, "limit")
        after_key, at_revision = "", 0
        token = request.query.get("continue", "")
        if token:
            at_revision, after_key = _decode_continue(token, info.list_prefix(ns))
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
        labels, fields = self._selectors(request, info)
        if ri.name:
            pinned = parse_field_selector(f"metadata.name={ri.name}", allowed=frozenset({"metadata.name"}))
            fields = pinned if fields is None else fields
        timeout = httputil.query_int(request, "timeoutSeconds", default=MAX_TIMEOUT)
        return WatchRequest(
            info=info,
            namespace=ns,
            resource_version=request.query.get("resourceVersion", ""),
            labels=labels,
            fields=fields,
            bookmarks=httputil.query_bool(request, "allowWatchBookmarks"),
            timeout=float(min(max(timeout, 1), MAX_TIMEOUT)),
            send_initial_events=httputil.query_bool(request, "sendInitialEvents"),
            table_version=_table_version(request),
            include_object=_include(request),
        )

    @staticmethod
    async def _delete_options(request: web.Request) -> dict[str, Any]:
        options = await httputil.read_body(request, allow_empty=True) or {}
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        for name in ("propagationPolicy", "gracePeriodSeconds", "orphanDependents"):
            if name in request.query and name not in options:
                value: Any = request.query[name]
                if name == "orphanDependents":
                    value = value.lower() == "true"
                options[name] = value
        return options

    # ---- subresources with their own kinds ----

    async def _scale(
        self, request: web.Request, info: ResourceInfo, ns: str, name: str, ctx: Context
    ) -> web.StreamResponse:
        assert info.scale is not None
        spec = info.scale
        if request.method == "GET":
            return httputil.json_response(_to_scale(info, await self.store.get(info, ns, name)))
        media = httputil.media_type(request)
        body = await httputil.read_body(request)
        if request.method == "PATCH" and media not in PATCH_TYPES:
            raise errors.unsupported_media_type(media, SUPPORTED_PATCH)

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
            else:
                scale = body
                wanted = (scale.get("metadata") or {}).get("resourceVersion")
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
        sa = await self.store.get(info, ns, name)
        body = await httputil.read_body(request)
        spec = (body or {}).get("spec") or {}
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
        now = time.time()
        token = self.signer.issue(
            namespace=ns,
            name=name,
            uid=sa["metadata"]["uid"],
            audiences=audiences,
            expiration_seconds=expiration,
            now=now,
        )
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + expiration))
        out = copy.deepcopy(body)
        out.update({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1"})
        out.setdefault("metadata", {}).update({"name": name, "namespace": ns})
        out["spec"] = {
            "audiences": audiences,
            "expirationSeconds": expiration,
            "boundObjectRef": spec.get("boundObjectRef"),
        }
        out["status"] = {"token": token, "expirationTimestamp": expires}
        return httputil.json_response(out, status=201)


def _check_options(request: web.Request, kind: str, *, patch_type: str = "") -> None:
    """kube's Validate{Create,Update,Patch}Options: fieldManager (required to apply) and force (only to apply)."""
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
    if causes:
        raise errors.invalid(kind=kind, group="meta.k8s.io", name="", causes=causes)


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
