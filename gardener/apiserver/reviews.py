"""The review APIs: questions to the server's authenticators and authorizers, answered and never stored.

authentication.k8s.io: TokenReview (is this bearer token valid, and whose is it) and SelfSubjectReview (who am
I: `kubectl auth whoami`). authorization.k8s.io: SubjectAccessReview and LocalSubjectAccessReview (may this user
do that), SelfSubjectAccessReview (may I: `kubectl auth can-i`) and SelfSubjectRulesReview (what may I do
in a namespace: `kubectl auth can-i --list`). Each POST answers 201 with the request and its status, as kube's
registries for these kinds do (pkg/registry/authentication, pkg/registry/authorization).

Imported by the resource handler, which dispatches these kinds here, and by the application's middleware, which
hands the server's authenticator and authorizer in through the request.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from gardener.apiserver import errors, httputil, meta, rbac
from gardener.apiserver.authn import Authenticator
from gardener.apiserver.errors import FieldCause
from gardener.apiserver.rbac import Decision, RBACSource, RequestAttributes, UserInfo
from gardener.apiserver.resources import ResourceInfo
from gardener.apiserver.seedauthorizer import seed_of

AUTHENTICATION = "authentication.k8s.io"
AUTHORIZATION = "authorization.k8s.io"
GROUPS = frozenset({AUTHENTICATION, AUTHORIZATION})
#: SelfSubjectRulesReview for a gardenlet: what the seed authorizer allows cannot be listed as rules
SEED_RULES_INCOMPLETE = "seed authorizer does not support user rule resolution"

Object = dict[str, Any]


class Authorizer(Protocol):
    """The server's authorizer chain (seed authorizer, then RBAC) and the RBAC objects it reads."""

    rbac_source: RBACSource

    async def authorize(self, attrs: RequestAttributes) -> Decision: ...


@dataclass(frozen=True)
class Reviewer:
    """What the reviews ask: the server's own authenticator and authorizer."""

    authenticator: Authenticator
    authorizer: Authorizer


REVIEWER = web.RequestKey("reviewer", Reviewer)


async def serve(request: web.Request, *, info: ResourceInfo, namespace: str, user: UserInfo) -> web.Response:
    """Answer a POST of one of the review kinds (the handler checked the verb is `create`)."""
    reviewer = request.get(REVIEWER)
    if reviewer is None:
        raise errors.internal("the review APIs are not wired to this server's authenticator")
    handler = _HANDLERS.get((info.group, info.kind))
    if handler is None:
        raise errors.method_not_allowed(f"create is not supported on {info.plural}")
    body = await httputil.read_body(request)
    review = _decode(body, info)
    out = await handler(reviewer, review, user, namespace)
    return httputil.json_response(out, status=201)


# ---- decoding: kube decodes the body into the Go type first; wrong JSON types answer 400 ----

_RESOURCE_ATTRIBUTES = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
_NON_RESOURCE_ATTRIBUTES = ("path", "verb")


def _decode(body: Any, info: ResourceInfo) -> Object:
    try:
        if not isinstance(body, dict):
            raise meta.DecodeError(
                f"json: cannot unmarshal {meta.json_type(body)} into Go value of type v1.{info.kind}"
            )
        meta.decode_object_meta(body, kind=info.kind)
        if info.kind == "SelfSubjectReview":  # no spec: the question is the request itself
            body.pop("status", None)
            return body | {"kind": info.kind, "apiVersion": info.api_version}
        spec = _struct(body, "spec", struct=info.kind, path="spec", go_type=f"v1.{_spec_type(info.kind)}")
        if info.kind == "TokenReview":
            _strings(spec, ("token",), struct="TokenReviewSpec", prefix="spec.")
            _string_list(spec, "audiences", struct="TokenReviewSpec", path="spec.audiences")
        elif info.kind == "SelfSubjectRulesReview":
            _strings(spec, ("namespace",), struct="SelfSubjectRulesReviewSpec", prefix="spec.")
        else:
            _decode_access_spec(spec, struct=_spec_type(info.kind), subject=not info.kind.startswith("Self"))
    except meta.DecodeError as exc:
        raise errors.bad_request(f'{info.kind} in version "v1" cannot be handled as a {info.kind}: {exc}') from None
    body["kind"], body["apiVersion"] = info.kind, info.api_version
    return body


def _spec_type(kind: str) -> str:
    return "SubjectAccessReviewSpec" if kind == "LocalSubjectAccessReview" else f"{kind}Spec"


def _struct(parent: Object, key: str, *, struct: str, path: str, go_type: str) -> Object:
    value = parent.get(key)
    if value is None:
        parent.pop(key, None)
        return {}
    if not isinstance(value, dict):
        raise meta.unmarshal_error(value, struct=struct, path=path, go_type=go_type)
    return value


def _strings(obj: Object, keys: tuple[str, ...], *, struct: str, prefix: str) -> None:
    for key in keys:
        value = obj.get(key)
        if value is None:
            obj.pop(key, None)
        elif not isinstance(value, str):
            raise meta.unmarshal_error(value, struct=struct, path=prefix + key, go_type="string")


def _string_list(obj: Object, key: str, *, struct: str, path: str) -> None:
    value = obj.get(key)
    if value is None:
        obj.pop(key, None)
        return
    if not isinstance(value, list):
        raise meta.unmarshal_error(value, struct=struct, path=path, go_type="[]string")
    for item in value:
        if not isinstance(item, str):
            raise meta.unmarshal_error(item, struct=struct, path=path, go_type="string")


def _decode_access_spec(spec: Object, *, struct: str, subject: bool) -> None:
    resource = spec.get("resourceAttributes")
    if resource is not None:
        resource = _struct(
            spec, "resourceAttributes", struct=struct, path="spec.resourceAttributes", go_type="v1.ResourceAttributes"
        )
        _strings(resource, _RESOURCE_ATTRIBUTES, struct="ResourceAttributes", prefix="spec.resourceAttributes.")
        for selector in ("fieldSelector", "labelSelector"):
            if resource.get(selector) is not None:
                path = f"spec.resourceAttributes.{selector}"
                go = f"{selector[0].upper()}{selector[1:]}Attributes"
                value = _struct(resource, selector, struct="ResourceAttributes", path=path, go_type=f"v1.{go}")
                _strings(value, ("rawSelector",), struct=go, prefix=f"{path}.")
    if spec.get("nonResourceAttributes") is not None:
        non_resource = _struct(
            spec,
            "nonResourceAttributes",
            struct=struct,
            path="spec.nonResourceAttributes",
            go_type="v1.NonResourceAttributes",
        )
        _strings(
            non_resource, _NON_RESOURCE_ATTRIBUTES, struct="NonResourceAttributes", prefix="spec.nonResourceAttributes."
        )
    if subject:
        _strings(spec, ("user", "uid"), struct=struct, prefix="spec.")
        _string_list(spec, "groups", struct=struct, path="spec.groups")
        extra = spec.get("extra")
        if extra is None:
            spec.pop("extra", None)
        elif not isinstance(extra, dict):
            raise meta.unmarshal_error(extra, struct=struct, path="spec.extra", go_type="map[string]v1.ExtraValue")
        else:
            for key in extra:
                if extra[key] is None:
                    extra[key] = []
                _string_list(extra, key, struct=struct, path="spec.extra")


# ---- validation (pkg/apis/authorization/validation) ----


def _go_struct(type_name: str, fields: Mapping[str, str]) -> str:
    """Go's %#v of a struct of strings, which kube's field errors print for a struct value."""
    return type_name + "{" + ", ".join(f"{k}:{meta.json_string(v)}" for k, v in fields.items()) + "}"


def _meta_go_string(m: Object) -> str:
    """Go's %#v of the ObjectMeta a review must not carry (the scalar and string-map fields; lists shown empty)."""

    def string_map(key: str) -> str:
        value = m.get(key)
        if not value:
            return "map[string]string(nil)"
        return (
            "map[string]string{"
            + ", ".join(f"{meta.json_string(k)}:{meta.json_string(v)}" for k, v in sorted(value.items()))
            + "}"
        )

    parts = [f"{field}:{meta.json_string(str(m.get(key, '')))}" for field, key in _META_STRING_FIELDS]
    parts.insert(6, f"Generation:{int(m.get('generation') or 0)}")
    parts += [
        "CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)",
        "DeletionTimestamp:<nil>",
        "DeletionGracePeriodSeconds:(*int64)(nil)",
        f"Labels:{string_map('labels')}",
        f"Annotations:{string_map('annotations')}",
        "OwnerReferences:[]v1.OwnerReference(nil)",
        "Finalizers:[]string(nil)",
        "ManagedFields:[]v1.ManagedFieldsEntry(nil)",
    ]
    return "v1.ObjectMeta{" + ", ".join(parts) + "}"


_META_STRING_FIELDS = (
    ("Name", "name"),
    ("GenerateName", "generateName"),
    ("Namespace", "namespace"),
    ("SelfLink", "selfLink"),
    ("UID", "uid"),
    ("ResourceVersion", "resourceVersion"),
)


def _meta_is_empty(m: Object, *, ignore: tuple[str, ...] = ()) -> bool:
    return not any(v for k, v in m.items() if k not in ("managedFields", *ignore))


def _invalid(field: str, shown: str, detail: str) -> FieldCause:
    return FieldCause("FieldValueInvalid", f"Invalid value: {shown}: {detail}", field)


def _selector_causes(resource: Object) -> list[FieldCause]:
    causes: list[FieldCause] = []
    for name in ("fieldSelector", "labelSelector"):
        selector = resource.get(name)
        if not isinstance(selector, dict):
            continue
        path = f"spec.resourceAttributes.{name}"
        raw, requirements = selector.get("rawSelector") or "", selector.get("requirements") or []
        if raw and requirements:
            causes.append(
                _invalid(
                    f"{path}.rawSelector", meta.json_string(raw), "may not specified at the same time as requirements"
                )
            )
        if not raw and not requirements:
            causes.append(
                FieldCause(
                    "FieldValueRequired",
                    f"Required value: when {path} is specified, requirements or rawSelector is required",
                    f"{path}.requirements",
                )
            )
    return causes


def _access_spec_causes(spec: Object, *, subject: bool) -> list[FieldCause]:
    """ValidateSubjectAccessReviewSpec / ValidateSelfSubjectAccessReviewSpec."""
    causes: list[FieldCause] = []
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        shown = _go_struct(
            "authorization.NonResourceAttributes",
            {"Path": non_resource.get("path", ""), "Verb": non_resource.get("verb", "")},
        )
        causes.append(
            _invalid("spec.nonResourceAttributes", shown, "cannot be specified in combination with resourceAttributes")
        )
    if resource is None and non_resource is None:
        causes.append(
            _invalid(
                "spec.resourceAttributes",
                '"null"',
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if subject and not spec.get("user") and not spec.get("groups"):
        causes.append(
            _invalid(
                "spec.user", meta.json_string(spec.get("user", "")), "at least one of user or group must be specified"
            )
        )
    if resource is not None:
        causes += _selector_causes(resource)
    return causes


def _check(kind: str, causes: list[FieldCause]) -> None:
    if causes:
        raise errors.invalid(kind=kind, group=AUTHORIZATION, name="", causes=causes)


# ---- answering ----


def _response(review: Object, status: Object) -> Object:
    out = copy.deepcopy(review)
    out["metadata"].setdefault("creationTimestamp", None)
    out.setdefault("spec", {})
    out["status"] = status
    return out


def _attributes(user: UserInfo, spec: Object) -> RequestAttributes:
    """kube's AuthorizationAttributesFrom: resource attributes (an empty version matches all) or a URL."""
    resource = spec.get("resourceAttributes")
    if resource is not None:
        return RequestAttributes(
            user=user,
            verb=resource.get("verb", ""),
            is_resource_request=True,
            api_group=resource.get("group", ""),
            api_version=resource.get("version") or "*",
            resource=resource.get("resource", ""),
            subresource=resource.get("subresource", ""),
            namespace=resource.get("namespace", ""),
            name=resource.get("name", ""),
        )
    non_resource = spec.get("nonResourceAttributes") or {}
    return RequestAttributes(
        user=user, verb=non_resource.get("verb", ""), is_resource_request=False, path=non_resource.get("path", "")
    )


async def _access_status(reviewer: Reviewer, attrs: RequestAttributes) -> Object:
    decision = await reviewer.authorizer.authorize(attrs)
    status: Object = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def _spec_user(spec: Object) -> UserInfo:
    extra = spec.get("extra") or {}
    return UserInfo(
        name=spec.get("user", ""),
        groups=tuple(spec.get("groups") or ()),
        uid=spec.get("uid", ""),
        extra=rbac.extra_from_map(extra),
    )


async def _cluster_access_review(reviewer: Reviewer, review: Object, *, kind: str, user: UserInfo | None) -> Object:
    """A (Self)SubjectAccessReview: about the user its spec names (`user` None) or about the caller."""
    spec = review.get("spec") or {}
    causes = _access_spec_causes(spec, subject=user is None)
    if not _meta_is_empty(review["metadata"]):
        causes.append(_invalid("metadata", _meta_go_string(review["metadata"]), "must be empty"))
    _check(kind, causes)
    subject = _spec_user(spec) if user is None else user
    return _response(review, await _access_status(reviewer, _attributes(subject, spec)))


async def _subject_access_review(reviewer: Reviewer, review: Object, user: UserInfo, namespace: str) -> Object:
    return await _cluster_access_review(reviewer, review, kind="SubjectAccessReview", user=None)


async def _local_subject_access_review(reviewer: Reviewer, review: Object, user: UserInfo, namespace: str) -> Object:
    if not namespace:
        raise errors.bad_request("namespace is required on this type: ")
    m = review["metadata"]
    if m.get("namespace") and m["namespace"] != namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    m["namespace"] = namespace
    spec = review.get("spec") or {}
    causes = _access_spec_causes(spec, subject=True)
    if not _meta_is_empty(m, ignore=("namespace",)):
        causes.append(_invalid("metadata", _meta_go_string(m), "must be empty except for namespace"))
    resource = spec.get("resourceAttributes")
    if resource is not None and resource.get("namespace", "") != namespace:
        causes.append(
            _invalid(
                "spec.resourceAttributes.namespace",
                meta.json_string(resource.get("namespace", "")),
                "must match metadata.namespace",
            )
        )
    non_resource = spec.get("nonResourceAttributes")
    if non_resource is not None:
        shown = _go_struct(
            "authorization.NonResourceAttributes",
            {"Path": non_resource.get("path", ""), "Verb": non_resource.get("verb", "")},
        )
        causes.append(_invalid("spec.nonResourceAttributes", shown, "disallowed on this kind of request"))
    _check("LocalSubjectAccessReview", causes)
    return _response(review, await _access_status(reviewer, _attributes(_spec_user(spec), spec)))


async def _self_subject_access_review(reviewer: Reviewer, review: Object, user: UserInfo, namespace: str) -> Object:
    return await _cluster_access_review(reviewer, review, kind="SelfSubjectAccessReview", user=user)


async def _self_subject_rules_review(reviewer: Reviewer, review: Object, user: UserInfo, namespace: str) -> Object:
    rules_namespace = (review.get("spec") or {}).get("namespace", "")
    if not rules_namespace:
        raise errors.bad_request("no namespace on request")
    rules = rbac.rules_for(user, rules_namespace, reviewer.authorizer.rbac_source)
    problems = [rules.evaluation_error] if rules.evaluation_error else []
    incomplete = seed_of(user) is not None
    if incomplete:
        problems.append(SEED_RULES_INCOMPLETE)
    status: Object = {
        "resourceRules": list(rules.resource_rules),
        "nonResourceRules": list(rules.non_resource_rules),
        "incomplete": incomplete,
    }
    if problems:
        status["evaluationError"] = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
    # kube answers a new object: the request's metadata and spec are not echoed
    return {
        "kind": "SelfSubjectRulesReview",
        "apiVersion": f"{AUTHORIZATION}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {},
        "status": status,
    }


def _user_info(user: UserInfo) -> Object:
    """authentication/v1 UserInfo: empty fields are left out, as its JSON tags say."""
    out: Object = {"username": user.name}
    if user.uid:
        out["uid"] = user.uid
    if user.groups:
        out["groups"] = list(user.groups)
    if user.extra:
        out["extra"] = user.extra_map()
    return out


async def _self_subject_review(reviewer: Reviewer, review: Object, user: UserInfo, namespace: str) -> Object:
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": f"{AUTHENTICATION}/v1",
        "metadata": {"creationTimestamp": meta.now_rfc3339()},
        "status": {"userInfo": _user_info(user)},
    }


async def _token_review(reviewer: Reviewer, review: Object, user: UserInfo, namespace: str) -> Object:
    spec = review.get("spec") or {}
    token = spec.get("token", "")
    if not token:
        raise errors.bad_request("token is required for TokenReview in authentication")
    audiences = spec.get("audiences") or list(reviewer.authenticator.api_audiences)
    result = await reviewer.authenticator.authenticate_token(token, audiences=audiences)
    status: Object = {"user": {}}
    if result.user is not None:
        status = {"authenticated": True, "user": _user_info(result.user), "audiences": list(result.audiences)}
    if result.error:
        status["error"] = result.error
    return _response(review, status)


_Handler = Callable[[Reviewer, Object, UserInfo, str], Awaitable[Object]]
_HANDLERS: dict[tuple[str, str], _Handler] = {
    (AUTHENTICATION, "TokenReview"): _token_review,
    (AUTHENTICATION, "SelfSubjectReview"): _self_subject_review,
    (AUTHORIZATION, "SubjectAccessReview"): _subject_access_review,
    (AUTHORIZATION, "LocalSubjectAccessReview"): _local_subject_access_review,
    (AUTHORIZATION, "SelfSubjectAccessReview"): _self_subject_access_review,
    (AUTHORIZATION, "SelfSubjectRulesReview"): _self_subject_rules_review,
}
