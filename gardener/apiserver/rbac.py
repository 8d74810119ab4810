"""RBAC authorization as kube-apiserver does it: decide a request from (Cluster)Roles and their bindings.

Pure logic: the server hands in the request attributes and a synchronous, cache-backed view of the RBAC
objects. Also builds the forbidden message clients see and resolves ClusterRole aggregation; the roles a fresh
server creates are in `bootstrappolicy`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gardener.apiserver import errors
from gardener.apiserver.selectors import label_selector_from_object

SYSTEM_MASTERS = "system:masters"
ALL_AUTHENTICATED = "system:authenticated"
ALL_UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
MONITORING_GROUP = "system:monitoring"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin"
AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit"
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    #: user.Info's Extra as (key, values) pairs, sorted by key: hashable, and equal however it was built
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def extra_map(self) -> dict[str, list[str]]:
        """Extra as the JSON object kube's UserInfo types carry (`map[string][]string`)."""
        return {key: list(values) for key, values in self.extra}


def extra_from_map(extra: Mapping[str, Iterable[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The `UserInfo.extra` form of a Go `map[string][]string`."""
    return tuple(sorted((key, tuple(values)) for key, values in extra.items()))


def service_account_user(
    namespace: str, name: str, *, uid: str = "", extra: Mapping[str, Iterable[str]] | None = None
) -> UserInfo:
    """The identity kube's authenticators give a service account token."""
    return UserInfo(
        name=f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
        groups=(SERVICE_ACCOUNTS_GROUP, f"{SERVICE_ACCOUNTS_GROUP}:{namespace}", ALL_AUTHENTICATED),
        uid=uid,
        extra=extra_from_map(extra or {}),
    )


@dataclass(frozen=True)
class RequestAttributes:
    user: UserInfo
    verb: str
    is_resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


class RBACSource(Protocol):
    """Synchronous lookups the server serves from its in-memory cache."""

    def cluster_role(self, name: str) -> Mapping[str, Any] | None: ...

    def role(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def cluster_role_bindings(self) -> Iterable[Mapping[str, Any]]: ...

    def role_bindings(self, namespace: str) -> Iterable[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


# --------------------------------------------------------------------------------------------------------------------
# Rule matching (k8s.io/component-helpers/auth/rbac/validation and kubernetes/pkg/apis/rbac/v1 helpers)


def _strings(obj: Mapping[str, Any], key: str) -> Sequence[str]:
    value = obj.get(key)
    return value if isinstance(value, list) else ()


def _verb_matches(rule: Mapping[str, Any], verb: str) -> bool:
    verbs = _strings(rule, "verbs")
    return "*" in verbs or verb in verbs


def _group_matches(rule: Mapping[str, Any], group: str) -> bool:
    groups = _strings(rule, "apiGroups")
    return "*" in groups or group in groups


def _resource_matches(rule: Mapping[str, Any], combined: str, subresource: str) -> bool:
    for res in _strings(rule, "resources"):
        if res == "*" or res == combined:
            return True
        if subresource and len(res) == len(subresource) + 2 and res.startswith("*/") and res.endswith(subresource):
            return True
    return False


def _name_matches(rule: Mapping[str, Any], name: str) -> bool:
    names = _strings(rule, "resourceNames")
    return not names or name in names


def _url_matches(rule: Mapping[str, Any], path: str) -> bool:
    for url in _strings(rule, "nonResourceURLs"):
        if url == "*" or url == path:
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs: RequestAttributes, rule: Mapping[str, Any]) -> bool:
    """Whether one PolicyRule covers the request."""
    if not _verb_matches(rule, attrs.verb):
        return False
    if not attrs.is_resource_request:
        return _url_matches(rule, attrs.path)
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    return (
        _group_matches(rule, attrs.api_group)
        and _resource_matches(rule, combined, attrs.subresource)
        and _name_matches(rule, attrs.name)
    )


# --------------------------------------------------------------------------------------------------------------------
# Subjects and role references


def _applies_to(user: UserInfo, subject: Mapping[str, Any], namespace: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        if not sa_namespace or not isinstance(name, str):
            return False
        return user.name == f"{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{name}"
    return False


def _matching_subject(user: UserInfo, binding: Mapping[str, Any], namespace: str) -> Mapping[str, Any] | None:
    subjects = binding.get("subjects")
    if not isinstance(subjects, list):
        return None
    for subject in subjects:
        if isinstance(subject, Mapping) and _applies_to(user, subject, namespace):
            return subject
    return None


def _role_rules(
    role_ref: Any, binding_namespace: str, source: RBACSource
) -> tuple[Sequence[Mapping[str, Any]], str | None]:
    """The rules a roleRef points at, or an error message like kube's rule resolver."""
    ref: Mapping[str, Any] = role_ref if isinstance(role_ref, Mapping) else {}
    kind = ref.get("kind", "")
    name = str(ref.get("name", ""))
    role: Mapping[str, Any] | None
    if kind == "Role":
        role = source.role(binding_namespace, name)
        if role is None:
            return (), f'role.rbac.authorization.k8s.io "{name}" not found'
    elif kind == "ClusterRole":
        role = source.cluster_role(name)
        if role is None:
            return (), f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
    else:
        return (), f'unsupported role reference kind: "{kind}"'
    rules = role.get("rules")
    return (rules if isinstance(rules, list) else ()), None


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    kind = subject.get("kind", "")
    name = subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


def _describe(binding: Mapping[str, Any], subject: Mapping[str, Any], *, namespaced: bool) -> str:
    meta = binding.get("metadata") or {}
    ref = binding.get("roleRef") or {}
    role = f'{ref.get("kind", "")} "{ref.get("name", "")}"'
    if namespaced:
        ns = meta.get("namespace", "")
        return f'RoleBinding "{meta.get("name", "")}/{ns}" of {role} to {_describe_subject(subject, ns)}'
    return f'ClusterRoleBinding "{meta.get("name", "")}" of {role} to {_describe_subject(subject, "")}'


@dataclass(frozen=True)
class _Bound:
    """The rules one binding grants the user, or why they could not be read."""

    binding: Mapping[str, Any]
    subject: Mapping[str, Any]
    namespaced: bool
    rules: Sequence[Mapping[str, Any]]
    error: str | None


def _visit(user: UserInfo, namespace: str, source: RBACSource) -> Iterator[_Bound]:
    """kube's VisitRulesFor: the ClusterRoleBindings, then the RoleBindings of `namespace`, that apply to the user."""
    scopes: list[tuple[Iterable[Mapping[str, Any]], str]] = [(source.cluster_role_bindings(), "")]
    if namespace:
        scopes.append((source.role_bindings(namespace), namespace))
    for bindings, binding_namespace in scopes:
        for binding in bindings:
            subject = _matching_subject(user, binding, binding_namespace)
            if subject is None:
                continue
            rules, err = _role_rules(binding.get("roleRef"), binding_namespace, source)
            valid = [rule for rule in rules if isinstance(rule, Mapping)]
            yield _Bound(binding, subject, bool(binding_namespace), valid, err)


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate's message: one error as is, several (duplicates dropped) in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def authorize(attrs: RequestAttributes, source: RBACSource) -> Decision:
    """Allow when system:masters or any rule reachable through a binding for the user covers the request."""
    if SYSTEM_MASTERS in attrs.user.groups:
        # kube-apiserver's privileged-group authorizer, ahead of RBAC: it allows without a reason
        return Decision(True, "")
    failures: list[str] = []
    for bound in _visit(attrs.user, attrs.namespace, source):
        if bound.error is not None:
            failures.append(bound.error)
        elif any(rule_allows(attrs, rule) for rule in bound.rules):
            return Decision(
                True, "RBAC: allowed by " + _describe(bound.binding, bound.subject, namespaced=bound.namespaced)
            )
    return Decision(False, f"RBAC: {_aggregate(failures)}" if failures else "")


@dataclass(frozen=True)
class UserRules:
    """What RBAC lets a user do in a namespace (kube's RulesFor), as SelfSubjectRulesReview reports it."""

    resource_rules: tuple[dict[str, Any], ...]
    non_resource_rules: tuple[dict[str, Any], ...]
    #: the roles that could not be read, in kube's aggregated wording; "" when there were none
    evaluation_error: str


def rules_for(user: UserInfo, namespace: str, source: RBACSource) -> UserRules:
    """Every rule of every binding that applies to the user, split as kube's RBAC authorizer splits them: a rule
    naming resources becomes a resource rule, one naming URLs a non-resource rule (a rule with both, both)."""
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    failures: list[str] = []
    for bound in _visit(user, namespace, source):
        if bound.error is not None:
            failures.append(bound.error)
        for rule in bound.rules:
            verbs = list(_strings(rule, "verbs"))
            if _strings(rule, "resources"):
                resource_rule: dict[str, Any] = {"verbs": verbs}
                for key in ("apiGroups", "resources", "resourceNames"):
                    if _strings(rule, key):
                        resource_rule[key] = list(_strings(rule, key))
                resource_rules.append(resource_rule)
            if _strings(rule, "nonResourceURLs"):
                non_resource_rules.append({"verbs": verbs, "nonResourceURLs": list(_strings(rule, "nonResourceURLs"))})
    return UserRules(tuple(resource_rules), tuple(non_resource_rules), _aggregate(failures) if failures else "")


# --------------------------------------------------------------------------------------------------------------------
# The 403 clients see (k8s.io/apiserver responsewriters.Forbidden + apierrors.NewForbidden)


def forbidden_message(attrs: RequestAttributes, *, reason: str = "") -> str:
    """The Status message kube-apiserver sends when authorization denies a request."""
    user = errors.go_quote(attrs.user.name)
    if not attrs.is_resource_request:
        detail = f"User {user} cannot {attrs.verb} path {errors.go_quote(attrs.path)}"
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        where = f"in the namespace {errors.go_quote(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
        detail = (
            f"User {user} cannot {attrs.verb} resource {errors.go_quote(resource)} "
            f"in API group {errors.go_quote(attrs.api_group)} {where}"
        )
    if reason:
        detail = f"{detail}: {reason}"
    if not attrs.api_group and not attrs.resource:
        return f"forbidden: {detail}"
    qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
    if attrs.name:
        return f"{qualified} {errors.go_quote(attrs.name)} is forbidden: {detail}"
    return f"{qualified} is forbidden: {detail}"


def forbidden_error(attrs: RequestAttributes, *, reason: str = "") -> errors.StatusError:
    """The full 403 Status as kube-apiserver sends it; empty detail fields are left out, as kube's JSON omits them."""
    fields = {"name": attrs.name, "group": attrs.api_group, "kind": attrs.resource}
    details: dict[str, Any] = {k: v for k, v in fields.items() if v}
    return errors.forbidden(forbidden_message(attrs, reason=reason), details=details)


# --------------------------------------------------------------------------------------------------------------------
# ClusterRole aggregation (the clusterrole-aggregation controller's merge)


def aggregated_rules(
    role: Mapping[str, Any], cluster_roles: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]] | None:
    """The rules an aggregating ClusterRole should hold, or None if it has no aggregationRule.

    Like kube's controller: for each selector in order, the selected roles sorted by name (the role itself
    excluded) contribute their rules, exact duplicates dropped.
    """
    agg = role.get("aggregationRule")
    if not isinstance(agg, Mapping):
        return None
    selectors = agg.get("clusterRoleSelectors")
    if not isinstance(selectors, list):
        return None
    own_name = (role.get("metadata") or {}).get("name")
    candidates = sorted(
        (r for r in cluster_roles if (r.get("metadata") or {}).get("name") != own_name),
        key=lambda r: str((r.get("metadata") or {}).get("name", "")),
    )
    merged: list[dict[str, Any]] = []
    for raw in selectors:
        selector = label_selector_from_object(raw if isinstance(raw, Mapping) else None)
        for candidate in candidates:
            if not selector.matches((candidate.get("metadata") or {}).get("labels")):
                continue
            for rule in _strings(candidate, "rules"):
                if isinstance(rule, Mapping) and rule not in merged:
                    merged.append(dict(rule))
    return merged


def resolve_aggregation(cluster_roles: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the roles with every aggregating role's `rules` filled in, iterated until stable."""
    roles = [dict(r) for r in cluster_roles]
    for _ in range(len(roles) + 1):
        changed = False
        for i, role in enumerate(roles):
            rules = aggregated_rules(role, roles)
            if rules is not None and rules != role.get("rules"):
                roles[i] = {**role, "rules": rules}
                changed = True
        if not changed:
            break
    return roles
