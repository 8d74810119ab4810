"""Built-in endpoints whose answers are not plain storage reads and writes.

pods/eviction (delete honouring PodDisruptionBudgets), pods/binding and the core `bindings`
resource (set spec.nodeName once), pods/ephemeralcontainers (change only spec.ephemeralContainers),
componentstatuses (read-only, computed) and the admission policies this server cannot evaluate.
Only `handlers.ResourceHandler` calls `serve`; everything here goes through the ObjectStore.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from gardener.apiserver import errors, httputil, meta, patch
from gardener.apiserver.errors import FieldCause, StatusError
from gardener.apiserver.requestinfo import RequestInfo
from gardener.apiserver.resources import ResourceInfo
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.selectors import label_selector_from_object

#: PodDisruptionBudgetStatus.DisruptedPods above this size refuses evictions (kube's MaxDisruptedPodSize)
MAX_DISRUPTED_PODS = 2000
_EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")
_NO_CEL = (
    "{kind} is not supported by this API server: it does not evaluate CEL expressions, so a stored {kind} would "
    "be silently ignored; use a ValidatingWebhookConfiguration instead"
)
_PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
}


async def serve(
    store: ObjectStore, request: web.Request, *, ri: RequestInfo, info: ResourceInfo, namespace: str, ctx: Context
) -> web.StreamResponse | None:
    """The answer when this module owns the request, None to let the generic handler serve it."""
    key = (info.group, info.plural, ri.subresource)
    if key == ("", "pods", "eviction"):
        _only("POST", request)
        return await _evict(store, request, info=info, namespace=namespace, name=ri.name, ctx=ctx)
    if key in (("", "pods", "binding"), ("", "bindings", "")):
        _only("POST", request)
        return await _bind(store, request, namespace=namespace, url_name=ri.name, ctx=ctx)
    if key == ("", "pods", "ephemeralcontainers"):
        _only(("GET", "PUT", "PATCH"), request)
        return await _ephemeral_containers(store, request, info=info, namespace=namespace, name=ri.name, ctx=ctx)
    if key == ("", "componentstatuses", ""):
        return await _component_statuses(store, request, name=ri.name, verb=ri.verb)
    if _is_policy(info) and (ri.verb in ("create", "update") or (ri.verb == "patch" and not ri.subresource)):
        raise errors.method_not_allowed(_NO_CEL.format(kind=info.kind))
    return None


def _is_policy(info: ResourceInfo) -> bool:
    return info.group == "admissionregistration.k8s.io" and info.kind.startswith("ValidatingAdmissionPolicy")


def _only(methods: str | tuple[str, ...], request: web.Request) -> None:
    allowed = (methods,) if isinstance(methods, str) else methods
    if request.method not in allowed:
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")


def _check_create_options(request: web.Request) -> None:
    from gardener.apiserver import handlers

    handlers._check_options(request, "CreateOptions")


def _cannot_decode(kind: str, problem: str) -> errors.StatusError:
    """kube's 400 for a subresource body (Eviction, Binding) its JSON decoder refuses."""
    return errors.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: {problem}')


def _decode_meta(body: dict[str, Any], *, kind: str) -> None:
    try:
        meta.decode_object_meta(body, kind=kind)
    except meta.DecodeError as exc:
        raise _cannot_decode(kind, str(exc)) from None


def _struct_field(body: dict[str, Any], *, kind: str, field: str, go_type: str) -> None:
    """`field` holds a Go struct: absent, null or an object."""
    value = body.get(field)
    if value is not None and not isinstance(value, dict):
        problem = (
            f"json: cannot unmarshal {meta.json_type(value)} into Go struct field {kind}.{field} of type {go_type}"
        )
        raise _cannot_decode(kind, problem)


# ---- pods/eviction ----


def _decode_eviction(body: Any, *, name: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request(f"json: cannot unmarshal {meta.json_type(body)} into Go value of type v1.Eviction")
    version = body.get("apiVersion") or "policy/v1"
    if version not in _EVICTION_VERSIONS or body.get("kind") not in (None, "", "Eviction"):
        raise errors.bad_request(f"{body.get('kind')} in version {version!r} cannot be handled as a Eviction")
    _decode_meta(body, kind="Eviction")
    if body["metadata"].get("name") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    _struct_field(body, kind="Eviction", field="deleteOptions", go_type="v1.DeleteOptions")
    return body


def _delete_options(eviction: dict[str, Any], query_dry_run: list[str]) -> dict[str, Any]:
    """kube's propagateDryRun: the query's dryRun fills the eviction's DeleteOptions; two different ones clash."""
    options = dict(eviction.get("deleteOptions") or {})
    if not options.get("dryRun"):
        if query_dry_run:
            options["dryRun"] = list(query_dry_run)
    elif query_dry_run and list(query_dry_run) != list(options["dryRun"]):
        raise errors.internal(
            f"Non-matching dry-run options in request and content: [{' '.join(query_dry_run)}] and "
            f"[{' '.join(options['dryRun'])}]"
        )
    return options


def _pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions if isinstance(c, dict))


def _phase(pod: dict[str, Any]) -> str:
    # kube stores every pod with a phase (Pending on create); one without has not started either
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _too_many_requests(cause: str, *, retry_after: int) -> StatusError:
    details: dict[str, Any] = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    error = StatusError(
        429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.", details
    )
    if retry_after:
        error.retry_after_seconds = retry_after
    return error


async def _evict(
    store: ObjectStore, request: web.Request, *, info: ResourceInfo, namespace: str, name: str, ctx: Context
) -> web.StreamResponse:
    _check_create_options(request)
    eviction = _decode_eviction(await httputil.read_body(request), name=name)
    options = _delete_options(eviction, request.query.getall("dryRun", []))
    ctx.dry_run = bool(options.get("dryRun"))
    pod = await store.get(info, namespace, name)
    phase = _phase(pod)
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    if phase in ("Succeeded", "Failed", "Pending") or terminating:
        # the pod disrupts nothing (any more): delete it without asking a budget
        if phase == "Pending" and not terminating and not (options.get("preconditions") or {}).get("resourceVersion"):
            options["preconditions"] = {**(options.get("preconditions") or {}), **_rv(pod)}
        await store.delete(info, namespace, name, ctx=ctx, options=options)
        return _success()
    budgets = await _budgets_for(store, pod, namespace=namespace)
    if len(budgets) > 1:
        # kube answers this configuration mistake with a 500 Status (the eviction API cannot pick one budget)
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
            "support.",
            "code": 500,
        }
        return httputil.json_response(status, status=500)
    pin_version = False
    if budgets:
        budget = budgets[0]
        budget_status = budget.get("status") or {}
        policy = (budget.get("spec") or {}).get("unhealthyPodEvictionPolicy")
        desired = int(budget_status.get("desiredHealthy") or 0)
        healthy = int(budget_status.get("currentHealthy") or 0)
        if not _pod_ready(pod) and (policy == "AlwaysAllow" or (healthy >= desired and desired > 0)):
            pin_version = True  # an unready pod counts for nothing: no budget to spend
        else:
            await _spend_budget(store, budget, pod_name=name, ctx=ctx)
    # an unready pod's delete is pinned to the version looked at, so it cannot have become ready meanwhile
    pinned = pin_version and not (options.get("preconditions") or {}).get("resourceVersion")
    if pinned:
        options["preconditions"] = {**(options.get("preconditions") or {}), **_rv(pod)}
    try:
        await store.delete(info, namespace, name, ctx=ctx, options=options)
    except StatusError as exc:
        if pinned and exc.reason == "Conflict":
            raise _too_many_requests(
                f"The disruption budget {budgets[0]['metadata']['name']} is still being processed by the server.",
                retry_after=10,
            ) from None
        raise
    return _success()


def _rv(pod: dict[str, Any]) -> dict[str, Any]:
    return {"resourceVersion": pod["metadata"].get("resourceVersion")}


async def _budgets_for(store: ObjectStore, pod: dict[str, Any], *, namespace: str) -> list[dict[str, Any]]:
    pdb_info = store.registry.get("policy", "v1", "poddisruptionbudgets")
    if pdb_info is None:
        return []
    _, items, _ = await store.list_objects(pdb_info, namespace)
    labels = pod["metadata"].get("labels") or {}
    out = []
    for budget in items:
        raw = (budget.get("spec") or {}).get("selector")
        try:
            selector = label_selector_from_object(raw)
        except StatusError:
            continue  # an invalid selector matches no pod
        # a nil or empty selector matches nothing here, unlike everywhere else
        if selector.nothing or not selector.requirements or not selector.matches(labels):
            continue
        out.append(budget)
    return out


async def _spend_budget(store: ObjectStore, budget: dict[str, Any], *, pod_name: str, ctx: Context) -> None:
    """kube's checkAndDecrement: take one allowed disruption from the budget, recording the pod as disrupted."""
    pdb_info = store.registry.get("policy", "v1", "poddisruptionbudgets")
    assert pdb_info is not None
    name = budget["metadata"]["name"]
    namespace = budget["metadata"]["namespace"]

    def mutate(current: dict[str, Any]) -> dict[str, Any]:
        status = current.setdefault("status", {})
        generation = int(current["metadata"].get("generation") or 0)
        if int(status.get("observedGeneration") or 0) < generation:
            raise _too_many_requests(
                f"The disruption budget {name} is still being processed by the server.", retry_after=10
            )
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed < 0:
            raise errors.forbidden_object(
                resource="poddisruptionbudget", group="policy", name=name, why="pdb disruptions allowed is negative"
            )
        if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
            raise errors.forbidden_object(
                resource="poddisruptionbudget",
                group="policy",
                name=name,
                why="DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            )
        if allowed == 0:
            raise _too_many_requests(
                f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} healthy pods and has "
                f"{int(status.get('currentHealthy') or 0)} currently",
                retry_after=0,
            )
        status["disruptionsAllowed"] = allowed - 1
        if allowed == 1:
            _set_disruption_allowed_false(status, generation)
        status.setdefault("disruptedPods", {})[pod_name] = meta.now_rfc3339()
        return current

    budget_ctx = Context(dry_run=ctx.dry_run)
    await store.guaranteed_update(pdb_info, namespace, name, mutate, ctx=budget_ctx, subresource="status")


def _set_disruption_allowed_false(status: dict[str, Any], generation: int) -> None:
    """The DisruptionAllowed condition once no disruption is left (kube's UpdateDisruptionAllowedCondition)."""
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    previous = next((c for c in conditions if c.get("type") == "DisruptionAllowed"), None)
    condition = {
        "type": "DisruptionAllowed",
        "status": "False",
        "reason": "InsufficientPods",
        "message": "",
        "observedGeneration": generation,
        "lastTransitionTime": meta.now_rfc3339(),
    }
    if previous is not None and previous.get("status") == "False":
        condition["lastTransitionTime"] = previous.get("lastTransitionTime") or condition["lastTransitionTime"]
    status["conditions"] = [c for c in conditions if c.get("type") != "DisruptionAllowed"] + [condition]


def _success() -> web.Response:
    # a create that answers a Status gets the create's code in it, as kube's create handler fills it in
    return httputil.json_response(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, status=201
    )


# ---- bindings and pods/binding ----


def _decode_binding(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.bad_request(f"json: cannot unmarshal {meta.json_type(body)} into Go value of type v1.Binding")
    if body.get("kind") not in (None, "", "Binding") or body.get("apiVersion") not in (None, "", "v1"):
        raise errors.bad_request(
            f"{body.get('kind')} in version {body.get('apiVersion')!r} cannot be handled as a Binding"
        )
    _decode_meta(body, kind="Binding")
    _struct_field(body, kind="Binding", field="target", go_type="v1.ObjectReference")
    return body


def _validate_binding(binding: dict[str, Any]) -> list[FieldCause]:
    """kube's ValidatePodBinding (which kube returns as a 500; the client's mistake is a 422 here)."""
    target = binding.get("target") or {}
    causes = []
    kind = target.get("kind") or ""
    if kind and kind != "Node":
        causes.append(
            FieldCause(
                "FieldValueNotSupported",
                f'Unsupported value: {meta.json_string(kind)}: supported values: "Node", "<empty>"',
                "target.kind",
            )
        )
    if not target.get("name"):
        causes.append(FieldCause("FieldValueRequired", "Required value", "target.name"))
    return causes


async def _bind(
    store: ObjectStore, request: web.Request, *, namespace: str, url_name: str, ctx: Context
) -> web.StreamResponse:
    _check_create_options(request)
    binding = _decode_binding(await httputil.read_body(request))
    m = binding["metadata"]
    name = str(m.get("name") or "")
    if url_name and name != url_name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    body_ns = m.get("namespace")
    if body_ns and body_ns != namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    causes = _validate_binding(binding)
    if causes:
        raise errors.invalid(kind="Binding", group="", name=name, causes=causes)
    pods = store.registry.get("", "v1", "pods")
    assert pods is not None
    node = str(binding["target"]["name"])
    wanted_uid, wanted_rv = m.get("uid"), m.get("resourceVersion")

    def refuse(why: str) -> StatusError:
        return errors.conflict(resource="pods/binding", group="", name=name, why=why)

    def mutate(pod: dict[str, Any]) -> dict[str, Any]:
        pm = pod["metadata"]
        if wanted_uid and wanted_uid != pm.get("uid"):
            raise errors.conflict(
                resource="pods",
                group="",
                name=name,
                why=f"Precondition failed: UID in precondition: {wanted_uid}, UID in object meta: {pm.get('uid')}",
            )
        if wanted_rv and wanted_rv != pm.get("resourceVersion"):
            raise errors.conflict(
                resource="pods",
                group="",
                name=name,
                why=(
                    f"Precondition failed: ResourceVersion in precondition: {wanted_rv}, "
                    f"ResourceVersion in object meta: {pm.get('resourceVersion')}"
                ),
            )
        if pm.get("deletionTimestamp"):
            raise refuse(f"pod {name} is being deleted, cannot be assigned to a host")
        spec = pod.setdefault("spec", {})
        if spec.get("nodeName"):
            raise refuse(f"pod {name} is already assigned to node {meta.json_string(spec['nodeName'])}")
        if spec.get("schedulingGates"):
            raise refuse(f"pod {name} has non-empty .spec.schedulingGates")
        spec["nodeName"] = node
        if m.get("annotations"):
            pm["annotations"] = {**(pm.get("annotations") or {}), **m["annotations"]}
        # the PodScheduled condition goes in the same update, as kube's BindingREST writes it
        _set_pod_scheduled(pod.setdefault("status", {}))
        return pod

    await store.guaranteed_update(pods, namespace, name, mutate, ctx=ctx, subresource="binding")
    return _success()


def _set_pod_scheduled(status: dict[str, Any]) -> None:
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    previous = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
    if previous is not None:
        if previous.get("status") != "True":
            previous["lastTransitionTime"] = meta.now_rfc3339()
        previous["status"] = "True"
        previous.pop("reason", None)
        previous.pop("message", None)
    else:
        conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": meta.now_rfc3339()})
    status["conditions"] = conditions


# ---- pods/ephemeralcontainers ----


async def _ephemeral_containers(
    store: ObjectStore, request: web.Request, *, info: ResourceInfo, namespace: str, name: str, ctx: Context
) -> web.StreamResponse:
    if request.method == "GET":
        return httputil.json_response(await store.get(info, namespace, name))
    from gardener.apiserver import handlers

    if request.method == "PATCH":
        media = httputil.media_type(request)
        kind = _PATCH_TYPES.get(media)
        if kind is None:
            raise errors.unsupported_media_type(media, list(_PATCH_TYPES))
        handlers._check_options(request, "PatchOptions", patch_type=kind)
    else:
        kind = ""
        handlers._check_options(request, "UpdateOptions")
    body = await httputil.read_body(request)

    def mutate(current: dict[str, Any]) -> dict[str, Any]:
        try:
            if kind == "json":
                wanted = patch.apply_json_patch(current, body)
            elif kind == "merge":
                wanted = patch.apply_merge_patch(current, body)
            elif kind == "strategic":
                wanted = patch.apply_strategic_merge_patch(current, body, kind="Pod")
            else:
                wanted = body
        except patch.PatchError as exc:
            raise StatusError(422, "Invalid", str(exc)) from None
        if not isinstance(wanted, dict):
            raise errors.bad_request(f"json: cannot unmarshal {meta.json_type(wanted)} into Go value of type v1.Pod")
        wanted_meta = wanted.get("metadata") or {}
        rv = wanted_meta.get("resourceVersion")
        if rv and rv != current["metadata"].get("resourceVersion"):
            raise errors.conflict(resource="pods", group="", name=name)
        old_list = (current.get("spec") or {}).get("ephemeralContainers") or []
        new_list = (wanted.get("spec") or {}).get("ephemeralContainers") or []
        causes = _ephemeral_update_causes(old_list, new_list)
        if causes:
            raise errors.invalid(kind="Pod", group="", name=name, causes=causes)
        out = copy.deepcopy(current)
        if new_list:
            out.setdefault("spec", {})["ephemeralContainers"] = new_list
        else:
            out.get("spec", {}).pop("ephemeralContainers", None)
        return out

    updated = await store.guaranteed_update(info, namespace, name, mutate, ctx=ctx, subresource="ephemeralcontainers")
    return httputil.json_response(updated, warnings=ctx.warnings)


def _ephemeral_update_causes(old: list[Any], new: list[Any]) -> list[FieldCause]:
    """kube's ValidatePodEphemeralContainersUpdate: containers may be added, never removed or changed."""
    causes = []
    path = "spec.ephemeralContainers"
    if not isinstance(new, list) or not all(isinstance(c, dict) for c in new):
        return [FieldCause("FieldValueInvalid", "Invalid value: must be a list of containers", path)]
    by_name = {c.get("name"): c for c in new}
    for container in (c for c in old if isinstance(c, dict)):
        cname = container.get("name")
        now = by_name.get(cname)
        if now is None:
            causes.append(
                FieldCause(
                    "FieldValueForbidden",
                    f"Forbidden: existing ephemeral containers {meta.json_string(str(cname))} may not be removed",
                    path,
                )
            )
        elif now != container:
            causes.append(
                FieldCause(
                    "FieldValueForbidden",
                    f"Forbidden: existing ephemeral containers {meta.json_string(str(cname))} may not be changed",
                    path,
                )
            )
    for i, container in enumerate(new):
        if not container.get("name"):
            causes.append(FieldCause("FieldValueRequired", "Required value", f"{path}[{i}].name"))
        if not container.get("image"):
            causes.append(FieldCause("FieldValueRequired", "Required value", f"{path}[{i}].image"))
    return causes


# ---- componentstatuses ----

_COMPONENTS = ("controller-manager", "etcd-0", "scheduler")
#: the warning kube-apiserver sends with every ComponentStatus answer
_COMPONENT_STATUS_DEPRECATED = "v1 ComponentStatus is deprecated in v1.19+"


async def _component_statuses(store: ObjectStore, request: web.Request, *, name: str, verb: str) -> web.StreamResponse:
    """kube's deprecated ComponentStatus: a computed answer, never stored.

    The storage is probed with a read; this server runs no kube-scheduler and no kube-controller-manager
    it could ask, so those say Unknown instead of pretending to be healthy.
    """
    info = store.registry.get("", "v1", "componentstatuses")
    assert info is not None
    items = [await _component(store, n) for n in _COMPONENTS]
    if verb == "get":
        found = next((i for i in items if i["metadata"]["name"] == name), None)
        if found is None:
            raise errors.not_found(resource="componentstatuses", group="", name=name)
        items = [found]
    elif verb != "list":
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    from gardener.apiserver import handlers, tables

    warnings = [_COMPONENT_STATUS_DEPRECATED]
    table_version = handlers._table_version(request)
    if table_version:
        table = tables.to_table(info, items, include_object=handlers._include(request), api_version=table_version)
        return httputil.json_response(table, warnings=warnings)
    if verb == "get":
        return httputil.json_response(items[0], warnings=warnings)
    rv = str(store.backend.current_revision())
    listed = {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items}
    return httputil.json_response(listed, warnings=warnings)


async def _component(store: ObjectStore, name: str) -> dict[str, Any]:
    if name == "etcd-0":
        try:
            await store.backend.get("/registry/core/namespaces/default")
        except Exception as exc:  # any storage failure is what this status exists to report
            condition = {"type": "Healthy", "status": "False", "error": f"storage read failed: {exc}"}
        else:
            condition = {"type": "Healthy", "status": "True", "message": "ok"}
    else:
        condition = {
            "type": "Healthy",
            "status": "Unknown",
            "message": "",
            "error": f"this API server cannot probe the kube-{name}: no such component is registered with it",
        }
    return {"kind": "ComponentStatus", "apiVersion": "v1", "metadata": {"name": name}, "conditions": [condition]}
