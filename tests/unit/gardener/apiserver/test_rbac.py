"""RBAC decisions, forbidden messages, aggregation and bootstrap policy, checked against kube's semantics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from gardener.apiserver import errors
from gardener.apiserver.bootstrappolicy import bootstrap_policy
from gardener.apiserver.rbac import (
    Decision,
    RBACSource,
    RequestAttributes,
    UserInfo,
    aggregated_rules,
    authorize,
    forbidden_error,
    forbidden_message,
    resolve_aggregation,
    rule_allows,
    service_account_user,
)


class MemorySource:
    """An RBACSource over plain lists of objects."""

    def __init__(self, objects: Iterable[Mapping[str, Any]]) -> None:
        self.objects = list(objects)

    def _of(self, kind: str) -> list[Mapping[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def cluster_role(self, name: str) -> Mapping[str, Any] | None:
        return next((o for o in self._of("ClusterRole") if o["metadata"]["name"] == name), None)

    def role(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return next(
            (
                o
                for o in self._of("Role")
                if o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
            ),
            None,
        )

    def cluster_role_bindings(self) -> Iterable[Mapping[str, Any]]:
        return self._of("ClusterRoleBinding")

    def role_bindings(self, namespace: str) -> Iterable[Mapping[str, Any]]:
        return [o for o in self._of("RoleBinding") if o["metadata"].get("namespace") == namespace]


def _role(kind: str, name: str, rules: list[dict[str, Any]], *, namespace: str = "", **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update(extra.pop("metadata", {}))
    return {"kind": kind, "metadata": meta, "rules": rules, **extra}


def _binding(
    kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, Any]], *, namespace: str = ""
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def _res(
    user: UserInfo,
    verb: str,
    resource: str,
    *,
    group: str = "",
    namespace: str = "",
    name: str = "",
    subresource: str = "",
) -> RequestAttributes:
    return RequestAttributes(
        user=user,
        verb=verb,
        is_resource_request=True,
        api_group=group,
        api_version="v1",
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
    )


def _url(user: UserInfo, path: str, verb: str = "get") -> RequestAttributes:
    return RequestAttributes(user=user, verb=verb, is_resource_request=False, path=path)


ALICE = UserInfo("alice", ("devs", "system:authenticated"))
BOB = UserInfo("bob", ("system:authenticated",))
ROOT = UserInfo("root", ("system:masters",))
ANON = UserInfo("system:anonymous", ("system:unauthenticated",))
SA = service_account_user("ci", "deployer")
SCHEDULER = UserInfo("system:kube-scheduler", ("system:authenticated",))
KCM = UserInfo("system:kube-controller-manager", ("system:authenticated",))
PROXY = UserInfo("system:kube-proxy", ("system:authenticated",))
KUBELET = UserInfo("system:node:n1", ("system:nodes", "system:authenticated"))

OBJECTS: list[dict[str, Any]] = [
    _role(
        "ClusterRole",
        "cm-reader",
        [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}],
    ),
    _role(
        "ClusterRole",
        "shoot-status",
        [{"apiGroups": ["core.gardener.cloud"], "resources": ["shoots/status"], "verbs": ["patch"]}],
    ),
    _role("ClusterRole", "any-scale", [{"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]}]),
    _role(
        "ClusterRole",
        "one-secret",
        [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["token"], "verbs": ["get"]}],
    ),
    _role("ClusterRole", "healthz", [{"nonResourceURLs": ["/healthz", "/metrics/*"], "verbs": ["get"]}]),
    _role("Role", "deployer", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}], namespace="ci"),
    _binding("ClusterRoleBinding", "devs-read-cm", "ClusterRole", "cm-reader", [{"kind": "Group", "name": "devs"}]),
    _binding("ClusterRoleBinding", "bob-health", "ClusterRole", "healthz", [{"kind": "User", "name": "bob"}]),
    _binding(
        "ClusterRoleBinding",
        "sa-scale",
        "ClusterRole",
        "any-scale",
        [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}],
    ),
    _binding(
        "RoleBinding", "bob-secret", "ClusterRole", "one-secret", [{"kind": "User", "name": "bob"}], namespace="team"
    ),
    _binding(
        "RoleBinding", "bob-status", "ClusterRole", "shoot-status", [{"kind": "User", "name": "bob"}], namespace="team"
    ),
    _binding(
        "RoleBinding", "sa-deploy", "Role", "deployer", [{"kind": "ServiceAccount", "name": "deployer"}], namespace="ci"
    ),
    _binding(
        "RoleBinding",
        "all-sa-cm",
        "ClusterRole",
        "cm-reader",
        [{"kind": "Group", "name": "system:serviceaccounts:ci"}],
        namespace="ci",
    ),
]
SOURCE = MemorySource(OBJECTS)


def test_memory_source_is_an_rbac_source() -> None:
    source: RBACSource = SOURCE
    assert source.cluster_role("cm-reader") is not None


@pytest.mark.parametrize(
    ("attrs", "allowed"),
    [
        # system:masters may do anything, even with no bindings at all
        (_res(ROOT, "delete", "nodes", name="n1"), True),
        (_url(ROOT, "/anything"), True),
        # group subject through a ClusterRoleBinding: every namespace and cluster-wide
        (_res(ALICE, "list", "configmaps", namespace="default"), True),
        (_res(ALICE, "list", "configmaps"), True),
        (_res(ALICE, "get", "configmaps", namespace="x", name="c"), True),
        (_res(ALICE, "create", "configmaps", namespace="default"), False),
        (_res(ALICE, "list", "configmaps", group="apps", namespace="default"), False),
        (_res(ALICE, "get", "configmaps", namespace="default", name="c", subresource="status"), False),
        (_res(BOB, "list", "configmaps", namespace="default"), False),
        # RoleBinding to a ClusterRole applies only in the binding's namespace
        (_res(BOB, "get", "secrets", namespace="team", name="token"), True),
        (_res(BOB, "get", "secrets", namespace="other", name="token"), False),
        (_res(BOB, "get", "secrets", name="token"), False),
        # resourceNames restrict; list carries no name so it is not covered
        (_res(BOB, "get", "secrets", namespace="team", name="other"), False),
        (_res(BOB, "list", "secrets", namespace="team"), False),
        # "res/sub" matches only that subresource
        (
            _res(BOB, "patch", "shoots", group="core.gardener.cloud", namespace="team", name="s", subresource="status"),
            True,
        ),
        (_res(BOB, "patch", "shoots", group="core.gardener.cloud", namespace="team", name="s"), False),
        # "*/scale" matches any resource's scale subresource, not the resource itself
        (_res(SA, "update", "deployments", group="apps", namespace="x", name="d", subresource="scale"), True),
        (_res(SA, "update", "shoots", group="core.gardener.cloud", namespace="x", name="s", subresource="scale"), True),
        (
            _res(SA, "update", "shoots", group="core.gardener.cloud", namespace="x", name="s", subresource="status"),
            False,
        ),
        (_res(SA, "update", "shoots", group="core.gardener.cloud", namespace="x", name="s"), False),
        # ServiceAccount subject without namespace defaults to the RoleBinding's namespace
        (_res(SA, "create", "deployments", group="apps", namespace="ci"), True),
        (_res(SA, "create", "deployments", group="apps", namespace="prod"), False),
        # group system:serviceaccounts:<ns>
        (_res(SA, "watch", "configmaps", namespace="ci"), True),
        (_res(service_account_user("other", "x"), "watch", "configmaps", namespace="ci"), False),
        # non-resource URLs, exact and prefix*
        (_url(BOB, "/healthz"), True),
        (_url(BOB, "/healthz/etcd"), False),
        (_url(BOB, "/metrics/slis"), True),
        (_url(BOB, "/metrics"), False),
        (_url(BOB, "/healthz", "post"), False),
        (_url(ALICE, "/healthz"), False),
        (_url(ANON, "/healthz"), False),
    ],
)
def test_authorize(attrs: RequestAttributes, allowed: bool) -> None:
    assert authorize(attrs, SOURCE).allowed is allowed


def test_authorize_reasons() -> None:
    assert authorize(_res(ALICE, "list", "configmaps", namespace="d"), SOURCE) == Decision(
        True, 'RBAC: allowed by ClusterRoleBinding "devs-read-cm" of ClusterRole "cm-reader" to Group "devs"'
    )
    assert authorize(_res(BOB, "get", "secrets", namespace="team", name="token"), SOURCE) == Decision(
        True, 'RBAC: allowed by RoleBinding "bob-secret/team" of ClusterRole "one-secret" to User "bob"'
    )
    decision = authorize(_res(SA, "get", "deployments", group="apps", namespace="ci"), SOURCE)
    assert decision.reason == (
        'RBAC: allowed by RoleBinding "sa-deploy/ci" of Role "deployer" to ServiceAccount "deployer/ci"'
    )
    assert authorize(_res(BOB, "list", "pods", namespace="x"), SOURCE) == Decision(False, "")


def test_authorize_missing_roles_are_reported() -> None:
    source = MemorySource(
        [
            _binding("ClusterRoleBinding", "gone", "ClusterRole", "missing", [{"kind": "User", "name": "bob"}]),
            _binding("RoleBinding", "gone", "Role", "missing", [{"kind": "User", "name": "bob"}], namespace="ns"),
            _binding("RoleBinding", "odd", "Thing", "x", [{"kind": "User", "name": "bob"}], namespace="ns"),
            _binding("ClusterRoleBinding", "other", "ClusterRole", "missing2", [{"kind": "User", "name": "eve"}]),
        ]
    )
    assert authorize(_res(BOB, "get", "pods"), source) == Decision(
        False, 'RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found'
    )
    assert authorize(_res(BOB, "get", "pods", namespace="ns"), source) == Decision(
        False,
        'RBAC: [clusterrole.rbac.authorization.k8s.io "missing" not found, '
        'role.rbac.authorization.k8s.io "missing" not found, unsupported role reference kind: "Thing"]',
    )


def test_authorize_tolerates_malformed_objects() -> None:
    source = MemorySource(
        [
            {"kind": "ClusterRoleBinding", "metadata": {"name": "x"}, "roleRef": None, "subjects": None},
            {"kind": "ClusterRoleBinding", "metadata": {"name": "y"}, "subjects": [None, {"kind": "User"}]},
            _role("ClusterRole", "weird", [None, {"verbs": "get"}]),  # type: ignore[list-item]
            _binding("ClusterRoleBinding", "z", "ClusterRole", "weird", [{"kind": "User", "name": "bob"}]),
        ]
    )
    assert not authorize(_res(BOB, "get", "pods"), source).allowed


@pytest.mark.parametrize(
    ("rule", "attrs", "allowed"),
    [
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, _res(BOB, "escalate", "roles", group="rbac"), True),
        ({"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}, _res(BOB, "get", "pods"), True),
        ({"apiGroups": [""], "resources": ["pods"]}, _res(BOB, "get", "pods"), False),
        (
            {"apiGroups": [""], "resources": ["pods/*"], "verbs": ["get"]},
            _res(BOB, "get", "pods", subresource="log"),
            False,
        ),
        ({"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}, _res(BOB, "get", "pods", subresource="log"), True),
        (
            {"apiGroups": [""], "resources": ["*/log"], "verbs": ["get"]},
            _res(BOB, "get", "pods", subresource="log"),
            True,
        ),
        (
            {"apiGroups": [""], "resources": ["*/lo"], "verbs": ["get"]},
            _res(BOB, "get", "pods", subresource="log"),
            False,
        ),
        ({"nonResourceURLs": ["*"], "verbs": ["get"]}, _url(BOB, "/x"), True),
        ({"nonResourceURLs": ["/apis/*"], "verbs": ["get"]}, _url(BOB, "/apis/"), True),
        ({"nonResourceURLs": ["/apis/*"], "verbs": ["get"]}, _url(BOB, "/apis"), False),
        ({"nonResourceURLs": ["*"], "verbs": ["get"]}, _res(BOB, "get", "pods"), False),
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}, _url(BOB, "/x"), False),
    ],
)
def test_rule_allows(rule: dict[str, Any], attrs: RequestAttributes, allowed: bool) -> None:
    assert rule_allows(attrs, rule) is allowed


@pytest.mark.parametrize(
    ("attrs", "reason", "message"),
    [
        (
            _res(BOB, "list", "configmaps", namespace="default"),
            "",
            'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" '
            'in the namespace "default"',
        ),
        (
            _res(BOB, "list", "namespaces"),
            "",
            'namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group "" '
            "at the cluster scope",
        ),
        (
            _res(BOB, "get", "shoots", group="core.gardener.cloud", namespace="garden-dev", name="s1"),
            "",
            'shoots.core.gardener.cloud "s1" is forbidden: User "bob" cannot get resource "shoots" in API group '
            '"core.gardener.cloud" in the namespace "garden-dev"',
        ),
        (
            _res(BOB, "patch", "shoots", group="core.gardener.cloud", namespace="g", name="s1", subresource="status"),
            "",
            'shoots.core.gardener.cloud "s1" is forbidden: User "bob" cannot patch resource "shoots/status" in API '
            'group "core.gardener.cloud" in the namespace "g"',
        ),
        (
            _res(SA, "delete", "nodes", name="n1"),
            'RBAC: clusterrole.rbac.authorization.k8s.io "x" not found',
            'nodes "n1" is forbidden: User "system:serviceaccount:ci:deployer" cannot delete resource "nodes" in API '
            'group "" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "x" not found',
        ),
        (
            _url(ANON, "/metrics"),
            "",
            'forbidden: User "system:anonymous" cannot get path "/metrics"',
        ),
    ],
)
def test_forbidden_message(attrs: RequestAttributes, reason: str, message: str) -> None:
    assert forbidden_message(attrs, reason=reason) == message


def test_forbidden_error() -> None:
    attrs = _res(BOB, "get", "shoots", group="core.gardener.cloud", namespace="g", name="s1")
    err = forbidden_error(attrs)
    assert isinstance(err, errors.StatusError)
    status = err.to_status()
    assert status["code"] == 403
    assert status["reason"] == "Forbidden"
    assert status["details"] == {"group": "core.gardener.cloud", "kind": "shoots", "name": "s1"}
    assert status["message"] == forbidden_message(attrs)
    assert forbidden_error(_res(BOB, "list", "pods")).to_status()["details"] == {"kind": "pods"}
    assert forbidden_error(_url(ANON, "/x")).to_status()["details"] == {}


def test_service_account_user() -> None:
    expected = UserInfo(
        "system:serviceaccount:ci:deployer",
        ("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"),
    )
    assert service_account_user("ci", "deployer") == expected


# --------------------------------------------------------------------------------------------------------------------
# Aggregation and bootstrap policy


def _labelled(name: str, labels: dict[str, str], rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels}, "rules": rules, **extra}


R1 = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
R2 = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}


def test_aggregated_rules() -> None:
    agg = _labelled("agg", {}, [], aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"to-agg": "true"}}]})
    roles = [
        agg,
        _labelled("b", {"to-agg": "true"}, [R2, R1]),
        _labelled("a", {"to-agg": "true"}, [R1]),
        _labelled("c", {"to-agg": "false"}, [{"verbs": ["*"]}]),
    ]
    assert aggregated_rules(agg, roles) == [R1, R2]
    assert aggregated_rules(roles[1], roles) is None


def test_aggregated_rules_expressions_and_self_exclusion() -> None:
    agg = _labelled(
        "agg",
        {"tier": "x"},
        [R2],
        aggregationRule={"clusterRoleSelectors": [{"matchExpressions": [{"key": "tier", "operator": "Exists"}]}]},
    )
    roles = [agg, _labelled("a", {"tier": "y"}, [R1])]
    assert aggregated_rules(agg, roles) == [R1]


def test_resolve_aggregation_is_transitive() -> None:
    top = _labelled("top", {}, [], aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"to-top": "true"}}]})
    mid = _labelled(
        "mid", {"to-top": "true"}, [], aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"to-mid": "true"}}]}
    )
    leaf = _labelled("leaf", {"to-mid": "true"}, [R1])
    resolved = {r["metadata"]["name"]: r for r in resolve_aggregation([top, mid, leaf])}
    assert resolved["top"]["rules"] == [R1]
    assert resolved["mid"]["rules"] == [R1]
    assert top["rules"] == []  # inputs are not modified


def _policy() -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in bootstrap_policy()}


def test_bootstrap_policy_objects() -> None:
    policy = _policy()
    for name in (
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:aggregate-to-admin",
        "system:aggregate-to-edit",
        "system:aggregate-to-view",
    ):
        role = policy["ClusterRole", name]
        assert role["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert role["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert role["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    for name in ("cluster-admin", "system:discovery", "system:basic-user", "system:public-info-viewer"):
        binding = policy["ClusterRoleBinding", name]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
        assert binding["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    assert policy["ClusterRoleBinding", "cluster-admin"]["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
    ]
    groups = [s["name"] for s in policy["ClusterRoleBinding", "system:public-info-viewer"]["subjects"]]
    assert groups == ["system:authenticated", "system:unauthenticated"]
    assert [s["name"] for s in policy["ClusterRoleBinding", "system:discovery"]["subjects"]] == ["system:authenticated"]
    assert policy["ClusterRole", "edit"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert policy["ClusterRole", "view"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert "subjects" not in policy["ClusterRoleBinding", "system:node"]
    assert policy["ClusterRoleBinding", "system:kube-dns"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "kube-dns", "namespace": "kube-system"}
    ]
    approver = policy["ClusterRole", "system:certificates.k8s.io:kubelet-serving-approver"]
    assert approver["rules"] == [
        {
            "apiGroups": ["certificates.k8s.io"],
            "resources": ["signers"],
            "verbs": ["approve"],
            "resourceNames": ["kubernetes.io/kubelet-serving"],
        }
    ]
    assert policy["ClusterRole", "admin"]["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}]
    }


def test_bootstrap_aggregation_is_filled_in() -> None:
    policy = _policy()
    admin, edit, view = (policy["ClusterRole", n]["rules"] for n in ("admin", "edit", "view"))
    assert view == policy["ClusterRole", "system:aggregate-to-view"]["rules"]
    assert all(rule in edit for rule in view)
    assert all(rule in admin for rule in edit)
    assert all(rule in admin for rule in policy["ClusterRole", "system:aggregate-to-admin"]["rules"])


def _bind(user: UserInfo, role: str, namespace: str) -> MemorySource:
    objects: list[Mapping[str, Any]] = list(bootstrap_policy())
    objects.append(
        _binding("RoleBinding", "b", "ClusterRole", role, [{"kind": "User", "name": user.name}], namespace=namespace)
    )
    return MemorySource(objects)


@pytest.mark.parametrize(
    ("role", "attrs", "allowed"),
    [
        ("view", _res(BOB, "list", "configmaps", namespace="ns"), True),
        ("view", _res(BOB, "get", "namespaces", namespace="ns", name="ns"), True),
        ("view", _res(BOB, "get", "secrets", namespace="ns", name="s"), False),
        ("view", _res(BOB, "create", "configmaps", namespace="ns"), False),
        ("view", _res(BOB, "list", "configmaps", namespace="other"), False),
        ("edit", _res(BOB, "get", "secrets", namespace="ns", name="s"), True),
        ("edit", _res(BOB, "delete", "configmaps", namespace="ns", name="c"), True),
        ("edit", _res(BOB, "create", "roles", group="rbac.authorization.k8s.io", namespace="ns"), False),
        ("admin", _res(BOB, "create", "roles", group="rbac.authorization.k8s.io", namespace="ns"), True),
        ("admin", _res(BOB, "deletecollection", "configmaps", namespace="ns"), True),
        ("admin", _res(BOB, "create", "namespaces"), False),
        ("cluster-admin", _res(BOB, "create", "shoots", group="core.gardener.cloud", namespace="ns"), True),
        # every kind a user runs in a namespace, as kube 1.32's aggregate-to-edit/-view grant them
        ("edit", _res(BOB, "create", "cronjobs", group="batch", namespace="ns"), True),
        ("edit", _res(BOB, "create", "ingresses", group="networking.k8s.io", namespace="ns"), True),
        ("edit", _res(BOB, "create", "networkpolicies", group="networking.k8s.io", namespace="ns"), True),
        ("edit", _res(BOB, "create", "poddisruptionbudgets", group="policy", namespace="ns"), True),
        ("edit", _res(BOB, "patch", "horizontalpodautoscalers", group="autoscaling", namespace="ns"), True),
        ("edit", _res(BOB, "create", "replicationcontrollers", namespace="ns"), True),
        ("edit", _res(BOB, "create", "events", namespace="ns"), True),
        ("edit", _res(BOB, "create", "pods", namespace="ns", name="p", subresource="eviction"), True),
        ("edit", _res(BOB, "create", "pods", namespace="ns", name="p", subresource="exec"), True),
        ("edit", _res(BOB, "get", "pods", namespace="ns", name="p", subresource="portforward"), True),
        ("edit", _res(BOB, "create", "serviceaccounts", namespace="ns", name="sa", subresource="token"), True),
        ("edit", _res(BOB, "get", "services", namespace="ns", name="s", subresource="proxy"), True),
        ("edit", _res(BOB, "create", "endpoints", namespace="ns"), False),
        ("edit", _res(BOB, "create", "limitranges", namespace="ns"), False),
        ("edit", _res(BOB, "update", "resourcequotas", namespace="ns", name="q"), False),
        ("edit", _res(BOB, "create", "rolebindings", group="rbac.authorization.k8s.io", namespace="ns"), False),
        ("view", _res(BOB, "list", "cronjobs", group="batch", namespace="ns"), True),
        ("view", _res(BOB, "list", "ingresses", group="networking.k8s.io", namespace="ns"), True),
        ("view", _res(BOB, "list", "poddisruptionbudgets", group="policy", namespace="ns"), True),
        ("view", _res(BOB, "list", "endpointslices", group="discovery.k8s.io", namespace="ns"), True),
        ("view", _res(BOB, "list", "controllerrevisions", group="apps", namespace="ns"), True),
        ("view", _res(BOB, "list", "limitranges", namespace="ns"), True),
        ("view", _res(BOB, "get", "resourcequotas", namespace="ns", name="q"), True),
        ("view", _res(BOB, "get", "pods", namespace="ns", name="p", subresource="log"), True),
        ("view", _res(BOB, "create", "pods", namespace="ns", name="p", subresource="exec"), False),
        ("view", _res(BOB, "list", "secrets", namespace="ns"), False),
        ("view", _res(BOB, "create", "pods", namespace="ns", name="p", subresource="eviction"), False),
        ("admin", _res(BOB, "create", "localsubjectaccessreviews", group="authorization.k8s.io", namespace="ns"), True),
        ("admin", _res(BOB, "create", "cronjobs", group="batch", namespace="ns"), True),
    ],
)
def test_bootstrap_roles_grant_like_kube(role: str, attrs: RequestAttributes, allowed: bool) -> None:
    assert authorize(attrs, _bind(BOB, role, "ns")).allowed is allowed


@pytest.mark.parametrize(
    ("user", "attrs", "allowed"),
    [
        (BOB, _url(BOB, "/apis/core.gardener.cloud/v1beta1"), True),
        (BOB, _url(BOB, "/openapi/v3"), True),
        (BOB, _url(BOB, "/version"), True),
        (ANON, _url(ANON, "/version"), True),
        (ANON, _url(ANON, "/healthz"), True),
        (ANON, _url(ANON, "/apis"), False),
        (BOB, _res(BOB, "create", "selfsubjectaccessreviews", group="authorization.k8s.io"), True),
        (ANON, _res(ANON, "create", "selfsubjectaccessreviews", group="authorization.k8s.io"), False),
        (BOB, _res(BOB, "list", "pods", namespace="x"), False),
        (BOB, _url(BOB, "/metrics"), False),
        (BOB, _res(BOB, "create", "selfsubjectreviews", group="authentication.k8s.io"), True),
        (SA, _url(SA, "/openid/v1/jwks"), True),
        (BOB, _url(BOB, "/openid/v1/jwks"), False),
        (SCHEDULER, _res(SCHEDULER, "create", "pods", namespace="x", name="p", subresource="binding"), True),
        (SCHEDULER, _res(SCHEDULER, "update", "leases", group="coordination.k8s.io", name="kube-scheduler"), True),
        (SCHEDULER, _res(SCHEDULER, "update", "leases", group="coordination.k8s.io", name="other"), False),
        (SCHEDULER, _res(SCHEDULER, "update", "persistentvolumeclaims", namespace="x", name="c"), True),
        (KCM, _res(KCM, "list", "cronjobs", group="batch"), True),
        (KCM, _res(KCM, "create", "cronjobs", group="batch", namespace="x"), False),
        (PROXY, _res(PROXY, "watch", "endpointslices", group="discovery.k8s.io"), True),
        # kube binds system:node to no one: kubelets get rights from the Node authorizer
        (KUBELET, _res(KUBELET, "list", "pods"), False),
    ],
)
def test_bootstrap_default_bindings(user: UserInfo, attrs: RequestAttributes, allowed: bool) -> None:
    assert authorize(attrs, MemorySource(bootstrap_policy())).allowed is allowed


# --------------------------------------------------------------------------------------------------------------------
# The controller manager's per-controller roles (kube's controller_policy.go)

CONTROLLER_ACCOUNTS = (
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemon-set-controller",
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "endpoint-controller",
    "endpointslice-controller",
    "service-account-controller",
    "node-controller",
    "pod-garbage-collector",
    "resourcequota-controller",
    "disruption-controller",
    "horizontal-pod-autoscaler",
    "generic-garbage-collector",
    "namespace-controller",
)
EVENTS_RULE = {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]}


def _controller(account: str) -> UserInfo:
    return service_account_user("kube-system", account)


def test_controller_roles_are_bound_to_their_service_accounts() -> None:
    policy = _policy()
    for account in CONTROLLER_ACCOUNTS:
        name = f"system:controller:{account}"
        role = policy["ClusterRole", name]
        assert role["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert role["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
        binding = policy["ClusterRoleBinding", name]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}]
    # every controller that writes events may, in both event APIs; the pod GC and namespace controller write none
    for account in set(CONTROLLER_ACCOUNTS) - {"pod-garbage-collector", "namespace-controller"}:
        assert EVENTS_RULE in policy["ClusterRole", f"system:controller:{account}"]["rules"], account
    # kube's controller roles at 1.32's default feature gates: none for alpha or off-by-default features
    names = {name for kind, name in policy if kind == "ClusterRole" and name.startswith("system:controller:")}
    assert "system:controller:resource-claim-controller" not in names
    assert "system:controller:service-cidrs-controller" not in names


def test_disruption_controller_role_matches_kube() -> None:
    assert _policy()["ClusterRole", "system:controller:disruption-controller"]["rules"] == [
        {"apiGroups": ["apps", "extensions"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps", "extensions"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["replicationcontrollers"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets/status"], "verbs": ["update"]},
        {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch", "update"]},
        {"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["get"]},
        EVENTS_RULE,
    ]


@pytest.mark.parametrize(
    ("account", "attrs", "allowed"),
    [
        ("replicaset-controller", dict(verb="create", resource="pods", namespace="x"), True),
        (
            "replicaset-controller",
            dict(verb="update", resource="replicasets", group="apps", subresource="status"),
            True,
        ),
        ("replicaset-controller", dict(verb="create", resource="deployments", group="apps", namespace="x"), False),
        ("deployment-controller", dict(verb="create", resource="replicasets", group="apps", namespace="x"), True),
        ("deployment-controller", dict(verb="create", resource="pods", namespace="x"), False),
        ("statefulset-controller", dict(verb="create", resource="persistentvolumeclaims", namespace="x"), True),
        ("statefulset-controller", dict(verb="update", resource="pods", subresource="finalizers", name="p"), True),
        ("daemon-set-controller", dict(verb="create", resource="pods", subresource="binding", name="p"), True),
        ("daemon-set-controller", dict(verb="create", resource="controllerrevisions", group="apps"), True),
        ("job-controller", dict(verb="update", resource="jobs", group="batch", subresource="finalizers"), True),
        ("cronjob-controller", dict(verb="create", resource="jobs", group="batch", namespace="x"), True),
        ("ttl-after-finished-controller", dict(verb="delete", resource="jobs", group="batch", name="j"), True),
        ("ttl-after-finished-controller", dict(verb="delete", resource="pods", name="p"), False),
        ("endpoint-controller", dict(verb="create", resource="endpoints", subresource="restricted", name="e"), True),
        (
            "endpointslice-controller",
            dict(verb="update", resource="services", subresource="finalizers", name="s"),
            True,
        ),
        ("endpointslice-controller", dict(verb="create", resource="endpointslices", group="discovery.k8s.io"), True),
        ("service-account-controller", dict(verb="create", resource="serviceaccounts", namespace="x"), True),
        ("service-account-controller", dict(verb="delete", resource="serviceaccounts", name="s"), False),
        ("node-controller", dict(verb="patch", resource="nodes", subresource="status", name="n"), True),
        ("node-controller", dict(verb="delete", resource="pods", name="p"), True),
        ("pod-garbage-collector", dict(verb="patch", resource="pods", subresource="status", name="p"), True),
        ("pod-garbage-collector", dict(verb="update", resource="pods", subresource="status", name="p"), False),
        ("resourcequota-controller", dict(verb="list", resource="deployments", group="apps"), True),
        (
            "resourcequota-controller",
            dict(verb="update", resource="resourcequotas", subresource="status", name="q"),
            True,
        ),
        (
            "resourcequota-controller",
            dict(verb="patch", resource="resourcequotas", subresource="status", name="q"),
            False,
        ),
        (
            "disruption-controller",
            dict(verb="update", resource="poddisruptionbudgets", group="policy", subresource="status"),
            True,
        ),
        (
            "disruption-controller",
            dict(verb="get", resource="foos", group="example.com", subresource="scale", name="f"),
            True,
        ),
        (
            "disruption-controller",
            dict(verb="update", resource="deployments", group="apps", subresource="scale"),
            False,
        ),
        (
            "horizontal-pod-autoscaler",
            dict(verb="update", resource="deployments", group="apps", subresource="scale"),
            True,
        ),
        ("horizontal-pod-autoscaler", dict(verb="list", resource="pods", group="metrics.k8s.io", namespace="x"), True),
        ("horizontal-pod-autoscaler", dict(verb="get", resource="x", group="custom.metrics.k8s.io"), True),
        ("horizontal-pod-autoscaler", dict(verb="update", resource="deployments", group="apps", name="d"), False),
        ("generic-garbage-collector", dict(verb="delete", resource="widgets", group="example.com", name="w"), True),
        ("generic-garbage-collector", dict(verb="create", resource="pods", namespace="x"), False),
        ("namespace-controller", dict(verb="deletecollection", resource="pods", namespace="x"), True),
        ("namespace-controller", dict(verb="update", resource="namespaces", subresource="finalize", name="n"), True),
    ],
)
def test_controller_roles_grant_like_kube(account: str, attrs: dict[str, Any], allowed: bool) -> None:
    user = _controller(account)
    attrs = dict(attrs)
    verb, resource = attrs.pop("verb"), attrs.pop("resource")
    assert authorize(_res(user, verb, resource, **attrs), MemorySource(bootstrap_policy())).allowed is allowed


@pytest.mark.parametrize(
    ("attrs", "allowed"),
    [
        # what --use-service-account-credentials needs: the controllers' accounts and their tokens
        (dict(verb="create", resource="serviceaccounts", namespace="kube-system"), True),
        (dict(verb="create", resource="serviceaccounts", namespace="kube-system", subresource="token", name="x"), True),
        (dict(verb="get", resource="serviceaccounts", namespace="kube-system", name="x"), True),
        (dict(verb="watch", resource="poddisruptionbudgets", group="policy"), True),
        (dict(verb="create", resource="leases", group="coordination.k8s.io", namespace="kube-system"), True),
        (dict(verb="update", resource="leases", group="coordination.k8s.io", name="kube-controller-manager"), True),
        (dict(verb="create", resource="events", group="events.k8s.io", namespace="x"), True),
        # writes belong to the controllers' own accounts
        (dict(verb="create", resource="pods", namespace="x"), False),
        (dict(verb="update", resource="poddisruptionbudgets", group="policy", subresource="status", name="p"), False),
    ],
)
def test_kube_controller_manager_role_matches_kube(attrs: dict[str, Any], allowed: bool) -> None:
    attrs = dict(attrs)
    verb, resource = attrs.pop("verb"), attrs.pop("resource")
    assert authorize(_res(KCM, verb, resource, **attrs), MemorySource(bootstrap_policy())).allowed is allowed
