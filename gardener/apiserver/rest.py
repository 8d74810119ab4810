"""Object semantics on top of a storage backend: what create, update, patch and delete mean.

This is kube-apiserver's generic registry in one place: metadata stamping, generation, the
status/main split, finalizers and graceful deletion, no-op detection, CRD schema defaulting,
pruning and validation, and admission. HTTP handlers and in-process controllers both call it.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from gardener.apiserver import conversion, errors, fieldmanager, graceful, meta, patch, schema, strategies
from gardener.apiserver.builtin import defaulting
from gardener.apiserver.builtin import schemas as builtin_schemas
from gardener.apiserver.builtin import validation as builtin_validation
from gardener.apiserver.errors import FieldCause, StatusError
from gardener.apiserver.rbac import UserInfo
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.selectors import FieldSelector, LabelSelector
from gardener.apiserver.storage.events import TooOld
from gardener.apiserver.storage.interface import (
    Backend,
    KeyExists,
    KeyNotFound,
    RevisionMismatch,
    Stored,
)
from gardener.apiserver.strategies import strategy_for

log = logging.getLogger("gardener.apiserver.rest")

SYSTEM_USER = UserInfo(name="system:apiserver", groups=("system:masters",))
_UPDATE_RETRIES = 16
#: namespaces kube's NamespaceLifecycle admission never lets anyone delete (the system namespaces controller
#: recreates kube-node-lease instead, which may be deleted)
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


@dataclass
class Context:
    """Per-request options and what the request learned along the way (warnings)."""

    user: UserInfo = SYSTEM_USER
    dry_run: bool = False
    field_validation: str = "Warn"
    field_manager: str = ""
    #: who owns what a write without fieldManager changes: the User-Agent prefix, like kube; in-process: us
    default_field_manager: str = "kube-apiserver"
    #: server-side apply: take ownership of conflicting fields instead of failing
    force: bool = False
    warnings: list[str] = field(default_factory=list)
    #: set when a server-side apply created the object (the response is then 201)
    created: bool = False
    #: set by the JSON, merge and strategic patch path: the value kube quotes when the patched object has unknown
    #: fields under Strict, which then is a 422 on the field `patch` rather than a request body's 400
    patched: str | None = None
    #: what admission steps asked to run once the write they admitted is settled, with whether it was stored
    #: (e.g. an allocated cluster IP is released when the create fails, kube's allocation transactions)
    after_write: list[AfterWrite] = field(default_factory=list)

    @property
    def manager(self) -> str:
        return self.field_manager or self.default_field_manager or "unknown"


@dataclass(frozen=True)
class AdmissionRequest:
    operation: str  # CREATE, UPDATE, DELETE
    info: ResourceInfo
    namespace: str
    name: str
    subresource: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None
    user: UserInfo
    dry_run: bool
    #: the request's `Context.after_write`: a step appends a callback to commit or roll back its side effects
    after_write: list[AfterWrite] = field(default_factory=list)
    #: the request's `Context.warnings`: what a step appends reaches the client as a Warning header
    warnings: list[str] = field(default_factory=list)


#: An admission step mutates `obj` in place and/or raises StatusError to reject.
AdmissionHook = Callable[[AdmissionRequest], Awaitable[None]]
#: Called once the write is settled: True when it was stored, False when it failed or was a dry run or a no-op.
AfterWrite = Callable[[bool], Awaitable[None]]


async def settle(ctx: Context, *, stored: bool) -> None:
    """Run (and forget) what admission steps registered for this write attempt. A callback that fails is
    logged: the write's outcome is what the client must hear (a leaked claim is a repair loop's job)."""
    callbacks, ctx.after_write[:] = list(ctx.after_write), []
    for callback in callbacks:
        try:
            await callback(stored)
        except Exception:
            log.exception("Admission follow-up failed", extra={"stored": stored})


class ObjectStore:
    def __init__(self, *, backend: Backend, registry: Registry) -> None:
        self.backend = backend
        self.registry = registry
        self.mutating: list[AdmissionHook] = []
        #: namespace name -> being terminated, kept by the namespace controller from the event window, so
        #: a create needs no storage read for its namespace (a miss still reads storage, as kube does)
        self.namespaces: dict[str, bool] = {}
        self.validating: list[AdmissionHook] = []

    # ---- conversions ----

    @staticmethod
    def decode(stored: Stored) -> dict[str, Any]:
        obj: dict[str, Any] = orjson.loads(stored.value)
        return obj

    def present(self, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
        """Serve a stored object as `info`'s group and version (conversion strategy None rewrites apiVersion)."""
        obj = conversion.convert(obj, group=info.group, kind=info.kind, to_version=info.version)
        obj["apiVersion"] = info.api_version
        obj.setdefault("kind", info.kind)
        if info.schema is not None:
            schema.apply_defaults(obj, info.schema)
        return obj

    def _storage_info(self, info: ResourceInfo) -> ResourceInfo:
        """The resource and version objects of `info` are stored as (another group's for a second view)."""
        if info.is_storage_version:
            return info
        return self.registry.get(info.storage_group, info.storage_version, info.storage_plural) or info

    def _to_storage(self, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
        storage = self._storage_info(info)
        obj = conversion.convert(obj, group=storage.group, kind=storage.kind, to_version=storage.version)
        obj["apiVersion"] = storage.api_version
        return obj

    # ---- reads ----

    async def get_stored(self, info: ResourceInfo, namespace: str, name: str) -> Stored:
        stored = await self.backend.get(info.key(namespace, name))
        if stored is None:
            raise errors.not_found(resource=info.plural, group=info.group, name=name)
        return stored

    async def get(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any]:
        return self.present(info, self.decode(await self.get_stored(info, namespace, name)))

    async def list_objects(
        self,
        info: ResourceInfo,
        namespace: str,
        *,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
        limit: int = 0,
        after_key: str = "",
        at_revision: int = 0,
    ) -> tuple[int, list[dict[str, Any]], str]:
        prefix = info.list_prefix(namespace)
        name = fields.value_for("metadata.name") if fields is not None else None
        if name is not None and (namespace or not info.namespaced):
            stored = await self.backend.get(info.key(namespace, name))
            revision = self.backend.current_revision()
            items = [stored] if stored is not None else []
            next_key = ""
        else:
            filtering = (labels is not None and not labels.empty) or fields is not None
            try:
                result = await self.backend.list_range(
                    prefix, after_key=after_key, limit=0 if filtering else limit, at_revision=at_revision
                )
            except TooOld:
                raise errors.gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start "
                    "a new list without the continue parameter."
                ) from None
            revision, items = result.revision, result.items
            next_key = "" if filtering else result.next_key
        out: list[dict[str, Any]] = []
        last_key = ""
        for stored in items:
            obj = self.decode(stored)
            if labels is not None and not labels.matches((obj.get("metadata") or {}).get("labels")):
                continue
            if fields is not None and not fields.matches(obj):
                continue
            if limit and len(out) == limit:
                next_key = last_key
                break
            out.append(self.present(info, obj))
            last_key = stored.key
        return revision, out, next_key

    def can_serve_raw(self, info: ResourceInfo) -> bool:
        """Stored bytes are exactly what a client gets: no conversion and no read-time defaulting."""
        return info.schema is None and info.is_storage_version

    async def list_raw(
        self, info: ResourceInfo, namespace: str, *, limit: int = 0, after_key: str = "", at_revision: int = 0
    ) -> tuple[int, list[bytes], str]:
        """Unfiltered LIST as stored bytes, for kinds where `can_serve_raw` holds (the hot path of big lists)."""
        try:
            result = await self.backend.list_range(
                info.list_prefix(namespace), after_key=after_key, limit=limit, at_revision=at_revision
            )
        except TooOld:
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent list result. You can start "
                "a new list without the continue parameter."
            ) from None
        return result.revision, [s.value for s in result.items], result.next_key

    # ---- create ----

    async def create(
        self,
        info: ResourceInfo,
        namespace: str,
        obj: Any,
        *,
        ctx: Context,
        subresource: str = "",
        track_fields: bool = True,
    ) -> dict[str, Any]:
        obj = self._check_body(info, obj, namespace=namespace)
        m = obj["metadata"]
        if not m.get("name") and m.get("generateName"):
            m["name"] = meta.generate_name(str(m["generateName"]))
        for volatile in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            m.pop(volatile, None)
        m["uid"] = meta.new_uid()
        m["creationTimestamp"] = meta.now_rfc3339()
        m.pop("generation", None)
        generation = strategies.next_generation(
            group=info.group, kind=info.kind, custom=_custom(info), has_status=info.has_status, obj=obj, old=None
        )
        if generation is not None:
            m["generation"] = generation
        if info.namespaced:
            m["namespace"] = namespace
            await self._check_namespace_open(namespace)
        else:
            m.pop("namespace", None)
        if info.has_status and not (info.group == "" and info.kind == "Namespace"):
            sent = obj.pop("status", None)
            initial = None if _custom(info) else strategies.initial_status(group=info.group, kind=info.kind, sent=sent)
            if initial is not None:
                obj["status"] = initial
        storage_info = self._storage_info(info)
        if not conversion.converts(kind=info.kind, source=info.api_version, target=storage_info.api_version):
            obj["apiVersion"] = storage_info.api_version  # versions that differ in name only
        written = False
        try:
            await self._prepare(info, obj, None, ctx=ctx, operation="CREATE", subresource=subresource)
            if track_fields:
                fieldmanager.track_update(None, obj, manager=ctx.manager, info=info, now=m["creationTimestamp"])
            if ctx.dry_run:
                return self.present(info, obj)
            obj = self._to_storage(info, obj)
            try:
                stored = await self.backend.create(info.key(namespace, m["name"]), obj)
            except KeyExists:
                raise errors.already_exists(resource=info.plural, group=info.group, name=m["name"]) from None
            written = True
        finally:
            await settle(ctx, stored=written)
        return self.present(info, self.decode(stored))

    def _check_body(
        self, info: ResourceInfo, obj: Any, *, namespace: str, name: str | None = None, patch_result: bool = False
    ) -> dict[str, Any]:
        """kube's decode step and name/namespace checks: what a body must be before anything reads it.

        `patch_result`: `obj` is what a patch produced, so a decode failure is kube's 422 on the field `patch`
        rather than the 400 a request body gets.
        """
        if not isinstance(obj, dict):
            if patch_result:
                problem = (
                    f"json: cannot unmarshal {meta.json_type(obj)} into Go value of type {info.version}.{info.kind}"
                )
                raise errors.invalid_patch_result(orjson.dumps(obj).decode(), problem)
            raise errors.bad_request("the body of the request must be a JSON object")
        kind = obj.get("kind")
        if kind and kind != info.kind:
            raise errors.bad_request(
                f"the kind of the provided object ({kind}) does not match the expected kind {info.kind}"
            )
        api_version = obj.get("apiVersion")
        if api_version and api_version != info.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({info.api_version})"
            )
        obj["kind"] = info.kind
        obj["apiVersion"] = info.api_version
        try:
            m = meta.decode_object_meta(obj, kind=info.kind)
            if info.schema is None and not info.is_custom:
                strategies.decode_shape(group=info.group, version=info.version, kind=info.kind, obj=obj)
        except meta.DecodeError as exc:
            if patch_result:
                raise errors.invalid_patch_result(orjson.dumps(obj).decode(), str(exc)) from None
            raise errors.bad_request(
                f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: {exc}'
            ) from None
        if info.namespaced and m.get("namespace") and namespace and m["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        if name is not None and m.get("name") and m["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({m['name']}) does not match the name on the URL ({name})"
            )
        return obj

    async def _check_namespace_open(self, namespace: str) -> None:
        terminating = self.namespaces.get(namespace)
        if terminating is None:
            ns_info = self.registry.get("", "v1", "namespaces")
            assert ns_info is not None
            stored = await self.backend.get(ns_info.key("", namespace))
            if stored is None:
                raise errors.not_found(resource="namespaces", group="", name=namespace)
            terminating = bool(self.decode(stored)["metadata"].get("deletionTimestamp"))
        if terminating:
            raise StatusError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being terminated",
                {"name": namespace, "kind": "namespaces"},
                causes=(
                    FieldCause(
                        "NamespaceTerminating",
                        f"namespace {namespace} is being terminated",
                        "metadata.namespace",
                    ),
                ),
            )

    async def _prepare(
        self,
        info: ResourceInfo,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        ctx: Context,
        operation: str,
        subresource: str,
    ) -> None:
        """Defaulting, pruning, validation and admission for a create or update, in kube's order."""
        causes: list[FieldCause] = []
        strategy = strategy_for(info.group, info.kind)
        removed = meta.prune_unknown_metadata(obj)
        if info.schema is not None:
            removed += schema.prune(obj, info.schema)
        elif not info.is_custom:
            removed += (
                builtin_schemas.unknown_fields(group=info.group, version=info.version, kind=info.kind, obj=obj) or []
            )
        if removed:
            self._unknown_fields(info, removed, ctx=ctx)
        if info.schema is not None:
            schema.apply_defaults(obj, info.schema)
        elif not info.is_custom:
            defaulting.apply_defaults(group=info.group, version=info.version, kind=info.kind, obj=obj)
        if strategy.prepare is not None:
            causes += strategy.prepare(obj, old)
        await self._admit(self.mutating, info, obj, old, ctx=ctx, operation=operation, subresource=subresource)
        causes += meta.validate_object_meta(obj["metadata"], name_rule=strategy.name_rule)
        if not _custom(info) and subresource in ("", "scale"):
            causes += builtin_validation.validate(
                group=info.group, version=info.version, kind=info.kind, obj=obj, old=old
            )
        if info.schema is not None:
            causes += schema.validate(obj, info.schema)
        if old is not None:
            causes += self._immutability(obj, old)
        if causes:
            raise errors.invalid(
                kind=info.kind, group=info.group, name=str(obj["metadata"].get("name") or ""), causes=causes
            )
        await self._admit(self.validating, info, obj, old, ctx=ctx, operation=operation, subresource=subresource)

    def _unknown_fields(self, info: ResourceInfo, removed: list[str], *, ctx: Context) -> None:
        """kube's strict decoding: Strict refuses the body naming every unknown field, Warn warns once per field."""
        if ctx.field_validation == "Strict":
            problem = "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in removed)
            if ctx.patched is not None:
                raise errors.invalid_patch_result(ctx.patched, problem)
            raise errors.bad_request(
                f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: {problem}'
            )
        if ctx.field_validation == "Warn":
            ctx.warnings += [f'unknown field "{path}"' for path in removed]

    @staticmethod
    def _immutability(obj: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
        causes = []
        new_meta, old_meta = obj["metadata"], old["metadata"]
        for key in meta.IMMUTABLE_META:
            if new_meta.get(key) != old_meta.get(key):
                causes.append(FieldCause("FieldValueInvalid", "Invalid value: field is immutable", f"metadata.{key}"))
        if old_meta.get("deletionTimestamp"):
            added = set(new_meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                causes.append(
                    FieldCause(
                        "FieldValueForbidden",
                        "Forbidden: no new finalizers can be added if the object is being deleted, "
                        "found new finalizers " + ", ".join(sorted(added)),
                        "metadata.finalizers",
                    )
                )
        return causes

    async def _admit(
        self,
        hooks: list[AdmissionHook],
        info: ResourceInfo,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        *,
        ctx: Context,
        operation: str,
        subresource: str,
    ) -> None:
        if not hooks:
            return
        source = obj if obj is not None else old
        m = (source or {}).get("metadata") or {}
        request = AdmissionRequest(
            operation=operation,
            info=info,
            namespace=str(m.get("namespace") or ""),
            name=str(m.get("name") or ""),
            subresource=subresource,
            obj=obj,
            old=old,
            user=ctx.user,
            dry_run=ctx.dry_run,
            after_write=ctx.after_write,
            warnings=ctx.warnings,
        )
        for hook in hooks:
            await hook(request)

    # ---- update / patch ----

    async def update(
        self, info: ResourceInfo, namespace: str, name: str, obj: Any, *, ctx: Context, subresource: str = ""
    ) -> dict[str, Any]:
        body = self._check_body(info, obj, namespace=namespace, name=name)
        wanted_rv = _parse_rv(body["metadata"].get("resourceVersion"))

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            if wanted_rv and _parse_rv(current["metadata"].get("resourceVersion")) != wanted_rv:
                raise errors.conflict(resource=info.plural, group=info.group, name=name)
            return copy.deepcopy(body)

        return await self.guaranteed_update(info, namespace, name, mutate, ctx=ctx, subresource=subresource)

    async def patch(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        *,
        patch_type: str,
        body: Any,
        ctx: Context,
        subresource: str = "",
    ) -> dict[str, Any]:
        if patch_type == "apply":
            return await self._apply(info, namespace, name, body, ctx=ctx, subresource=subresource)

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            try:
                if patch_type == "json":
                    result = patch.apply_json_patch(current, body)
                elif patch_type == "merge":
                    result = patch.apply_merge_patch(current, body)
                elif patch_type == "strategic":
                    if not patch.strategic_merge_supported(info.kind) or info.is_custom:
                        raise errors.unsupported_media_type(
                            "application/strategic-merge-patch+json",
                            [
                                "application/json-patch+json",
                                "application/merge-patch+json",
                                "application/apply-patch+yaml",
                            ],
                        )
                    if not isinstance(body, dict):
                        raise errors.bad_request("a strategic merge patch must be a JSON object")
                    result = patch.apply_strategic_merge_patch(current, body, kind=info.kind)
                    # kube's strategic patcher quotes the patch itself, the JSON patchers the patched object
                    ctx.patched = patch.go_text(body)
                else:
                    raise errors.unsupported_media_type(patch_type, ["application/json-patch+json"])
            except patch.PatchTestFailed as exc:
                raise StatusError(
                    422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
                ) from None
            except patch.PatchError as exc:
                code = getattr(exc, "code", 422)
                raise StatusError(code, "BadRequest" if code == 400 else "Invalid", str(exc)) from None
            if patch_type != "strategic":
                ctx.patched = orjson.dumps(result).decode()
            result = self._check_body(info, result, namespace=namespace, name=name, patch_result=True)
            new_rv = result["metadata"].get("resourceVersion")
            if new_rv and new_rv != current["metadata"].get("resourceVersion"):
                raise errors.conflict(resource=info.plural, group=info.group, name=name)
            return result

        return await self.guaranteed_update(info, namespace, name, mutate, ctx=ctx, subresource=subresource)

    async def _apply(
        self, info: ResourceInfo, namespace: str, name: str, body: Any, *, ctx: Context, subresource: str
    ) -> dict[str, Any]:
        """Server-side apply: merge the configuration, track ownership, create the object if it is missing."""
        manager = ctx.manager
        if isinstance(body, dict) and "metadata" in body and body["metadata"] is None:
            del body["metadata"]  # null decodes to ObjectMeta's zero value, as an absent one does

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            result = fieldmanager.apply(
                current,
                body,
                manager=manager,
                force=ctx.force,
                info=info,
                now=meta.now_rfc3339(),
                subresource=subresource,
            )
            result = self._check_body(info, result, namespace=namespace, name=name)
            new_rv = result["metadata"].get("resourceVersion")
            if new_rv and new_rv != current["metadata"].get("resourceVersion"):
                raise errors.conflict(resource=info.plural, group=info.group, name=name)
            return result

        for _ in range(_UPDATE_RETRIES):
            if subresource or await self.backend.get(info.key(namespace, name)) is not None:
                return await self.guaranteed_update(
                    info, namespace, name, mutate, ctx=ctx, subresource=subresource, track_fields=False
                )
            obj = fieldmanager.apply(
                None, body, manager=manager, force=ctx.force, info=info, now=meta.now_rfc3339(), subresource=subresource
            )
            obj = self._check_body(info, obj, namespace=namespace, name=name)
            obj["metadata"]["name"] = name
            try:
                created = await self.create(info, namespace, obj, ctx=ctx, track_fields=False)
            except StatusError as exc:
                if exc.reason == "AlreadyExists":
                    continue  # created meanwhile: apply to it
                raise
            ctx.created = True
            return created
        raise errors.conflict(resource=info.plural, group=info.group, name=name, why="too many concurrent writes")

    async def guaranteed_update(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        ctx: Context,
        subresource: str = "",
        track_fields: bool = True,
    ) -> dict[str, Any]:
        """Read, change, compare-and-swap; retry on a concurrent write (like etcd's GuaranteedUpdate).

        `track_fields=False`: `mutate` maintains metadata.managedFields itself (server-side apply).
        """
        for _ in range(_UPDATE_RETRIES):
            stored = await self.get_stored(info, namespace, name)
            current = self.present(info, self.decode(stored))
            new = mutate(copy.deepcopy(current))
            result: dict[str, Any] | None = None
            try:
                result = await self._write_update(
                    info,
                    namespace,
                    name,
                    stored,
                    current,
                    new,
                    ctx=ctx,
                    subresource=subresource,
                    track_fields=track_fields,
                )
            finally:
                await settle(ctx, stored=result is not None and result is not current and not ctx.dry_run)
            if result is not None:
                return result
        raise errors.conflict(resource=info.plural, group=info.group, name=name, why="too many concurrent writes")

    async def _write_update(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        stored: Stored,
        old: dict[str, Any],
        new: dict[str, Any],
        *,
        ctx: Context,
        subresource: str,
        track_fields: bool = True,
    ) -> dict[str, Any] | None:
        applied_fields = (new.get("metadata") or {}).get("managedFields")
        new = self._merge_for_subresource(info, old, new, subresource=subresource)
        nm, om = new["metadata"], old["metadata"]
        # Fields only the server writes: a client can neither change nor drop them (kube's BeforeUpdate).
        nm.setdefault("uid", om.get("uid"))
        for key in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if key in om:
                nm[key] = om[key]
            else:
                nm.pop(key, None)
        if info.namespaced:
            nm.setdefault("namespace", namespace)
        nm["name"] = nm.get("name") or name
        await self._prepare(info, new, old, ctx=ctx, operation="UPDATE", subresource=subresource)
        if track_fields:
            fieldmanager.track_update(
                old, new, manager=ctx.manager, info=info, now=meta.now_rfc3339(), subresource=subresource
            )
        elif applied_fields:
            nm["managedFields"] = applied_fields
        else:
            nm.pop("managedFields", None)
        generation = strategies.next_generation(
            group=info.group, kind=info.kind, custom=_custom(info), has_status=info.has_status, obj=new, old=old
        )
        if generation is None:
            nm.pop("generation", None)
        else:
            nm["generation"] = generation
        nm["resourceVersion"] = om.get("resourceVersion")
        if meta.without_volatile(new) == meta.without_volatile(old) and nm.get("managedFields") == om.get(
            "managedFields"
        ):
            return old
        if ctx.dry_run:
            return new
        new = self._to_storage(info, new)
        key = info.key(namespace, name)
        try:
            if nm.get("deletionTimestamp") and not nm.get("finalizers") and not _spec_finalizers(info, new):
                last = await self.backend.delete(key, expected_rv=stored.rv, last=new)
                return self.present(info, self.decode(last))
            written = await self.backend.update(key, new, expected_rv=stored.rv)
        except RevisionMismatch:
            return None
        except KeyNotFound:
            raise errors.not_found(resource=info.plural, group=info.group, name=name) from None
        return self.present(info, self.decode(written))

    @staticmethod
    def _merge_for_subresource(
        info: ResourceInfo, old: dict[str, Any], new: dict[str, Any], *, subresource: str
    ) -> dict[str, Any]:
        if subresource == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            if not info.is_custom and "annotations" in (new.get("metadata") or {}):
                # kube's built-in status strategies reset the spec (and some the labels) but keep the request's
                # annotations: the deployment controller records a rollout's revision through /status
                merged.setdefault("metadata", {})["annotations"] = new["metadata"]["annotations"]
            return merged
        if subresource == "approval":
            # certificates.k8s.io: /approval changes status.conditions and nothing else (kube's approval strategy)
            merged = copy.deepcopy(old)
            merged.setdefault("status", {})["conditions"] = (new.get("status") or {}).get("conditions") or []
            return merged
        if subresource == "binding":
            # pods/binding sets spec.nodeName and the PodScheduled condition together, in one write
            return new
        if subresource == "finalize":
            merged = copy.deepcopy(old)
            merged.setdefault("spec", {})["finalizers"] = (new.get("spec") or {}).get("finalizers") or []
            return merged
        if info.has_status and not (info.group == "" and info.kind == "Namespace" and subresource == ""):
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        elif info.group == "" and info.kind == "Namespace":
            new["status"] = old.get("status", {})
            new.setdefault("spec", {})["finalizers"] = (old.get("spec") or {}).get("finalizers", [])
        return new

    # ---- delete ----

    async def delete(
        self,
        info: ResourceInfo,
        namespace: str,
        name: str,
        *,
        ctx: Context,
        options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Returns (object, gone): gone is False while finalizers keep the object."""
        options = options or {}
        policy = options.get("propagationPolicy")
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        elif options.get("orphanDependents") is False and policy is None:
            policy = "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid(
                kind="DeleteOptions",
                group="",
                name="",
                causes=[
                    FieldCause(
                        "FieldValueNotSupported",
                        f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"',
                        "propagationPolicy",
                    )
                ],
            )
        preconditions = options.get("preconditions") or {}
        for _ in range(_UPDATE_RETRIES):
            stored = await self.get_stored(info, namespace, name)
            obj = self.decode(stored)
            m = obj["metadata"]
            if preconditions.get("uid") and preconditions["uid"] != m.get("uid"):
                raise errors.conflict(
                    resource=info.plural,
                    group=info.group,
                    name=name,
                    why=(
                        f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                        f"UID in object meta: {m.get('uid')}"
                    ),
                )
            if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != m.get("resourceVersion"):
                raise errors.conflict(
                    resource=info.plural,
                    group=info.group,
                    name=name,
                    why=(
                        f"Precondition failed: ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                        f"ResourceVersion in object meta: {m.get('resourceVersion')}"
                    ),
                )
            if info.group == "" and info.kind == "Namespace" and name in IMMORTAL_NAMESPACES:
                raise errors.forbidden_object(
                    resource="namespaces", group="", name=name, why="this namespace may not be deleted"
                )
            plan = None
            if info.group == "" and info.kind == "Pod" and not _custom(info):
                plan = graceful.pod_grace(obj, options, now=dt.datetime.now(dt.UTC))
                if plan is not None and plan.pending:
                    return self.present(info, obj), False  # kube changes nothing, finalizers included
            gone = False
            try:
                await self._admit(self.validating, info, None, obj, ctx=ctx, operation="DELETE", subresource="")
                finalizers = list(m.get("finalizers") or [])
                if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                    finalizers.append("foregroundDeletion")
                    finalizers = [f for f in finalizers if f != "orphan"]
                elif policy == "Orphan" and "orphan" not in finalizers:
                    finalizers.append("orphan")
                    finalizers = [f for f in finalizers if f != "foregroundDeletion"]
                elif policy == "Background":
                    finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
                if info.group == "apiextensions.k8s.io" and not m.get("deletionTimestamp"):
                    # kube's CRD registry: the CRD stays until its custom resources are gone.
                    finalizers.append("customresourcecleanup.apiextensions.k8s.io")
                key = info.key(namespace, name)
                lingers = bool(finalizers) or _spec_finalizers(info, obj) or (plan is not None and plan.grace > 0)
                if lingers:
                    changed = copy.deepcopy(obj)
                    cm = changed["metadata"]
                    if plan is not None:
                        plan.mark(cm)
                    elif not cm.get("deletionTimestamp"):
                        cm["deletionTimestamp"] = meta.now_rfc3339()
                        cm["deletionGracePeriodSeconds"] = 0
                    cm["finalizers"] = finalizers
                    if info.group == "" and info.kind == "Namespace":
                        changed.setdefault("status", {})["phase"] = "Terminating"
                    if ctx.dry_run or changed == obj:
                        return self.present(info, changed), False
                    try:
                        written = await self.backend.update(key, changed, expected_rv=stored.rv)
                    except RevisionMismatch:
                        continue
                    except KeyNotFound:
                        raise errors.not_found(resource=info.plural, group=info.group, name=name) from None
                    return self.present(info, self.decode(written)), False
                if plan is not None:
                    # kube first writes the zero grace period, then deletes: the last state carries it
                    obj = copy.deepcopy(obj)
                    plan.mark(obj["metadata"])
                if ctx.dry_run:
                    return self.present(info, obj), True
                try:
                    last = await self.backend.delete(key, expected_rv=stored.rv, last=obj)
                except RevisionMismatch:
                    continue
                except KeyNotFound:
                    raise errors.not_found(resource=info.plural, group=info.group, name=name) from None
                gone = True
                return self.present(info, self.decode(last)), True
            finally:
                await settle(ctx, stored=gone)
        raise errors.conflict(resource=info.plural, group=info.group, name=name, why="too many concurrent writes")

    async def delete_collection(
        self,
        info: ResourceInfo,
        namespace: str,
        *,
        ctx: Context,
        labels: LabelSelector | None,
        fields: FieldSelector | None,
        options: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        _, items, _ = await self.list_objects(info, namespace, labels=labels, fields=fields)
        deleted = []
        for obj in items:
            m = obj["metadata"]
            try:
                result, _ = await self.delete(info, m.get("namespace", ""), m["name"], ctx=ctx, options=options)
            except StatusError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(result)
        return deleted


def _custom(info: ResourceInfo) -> bool:
    """Served from a CRD (or with a CRD schema): upstream's built-in strategies do not apply."""
    return info.is_custom or info.schema is not None


def _spec_finalizers(info: ResourceInfo, obj: dict[str, Any]) -> bool:
    """Namespaces carry their own finalizer list in spec; they stay until it is empty."""
    return info.group == "" and info.kind == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))


def _parse_rv(value: Any) -> int:
    """metadata.resourceVersion of a body (a string by now: the decode step checked its type)."""
    try:
        return meta.parse_resource_version(str(value or ""), field="metadata.resourceVersion")
    except ValueError as exc:
        raise errors.bad_request(f"invalid resource version: {exc}") from None
