"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding (pkg/apis/rbac/validation)."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.validation import formats
from gardener.apiserver.builtin.validation.fields import (
    Reader,
    go_string_slice,
    invalid,
    not_supported,
    required,
)
from gardener.apiserver.errors import FieldCause

GROUP = "rbac.authorization.k8s.io"


def _rules(r: Reader, obj: dict[str, Any], *, namespaced: bool) -> None:
    for i, rule in r.objects(obj, "rules", "rules"):
        at = f"rules[{i}]"
        if not r.texts(rule, "verbs", f"{at}.verbs"):
            r.add([required(f"{at}.verbs", "verbs must contain at least one value")])
        urls = [u for _, u in r.texts(rule, "nonResourceURLs", f"{at}.nonResourceURLs")]
        groups = r.texts(rule, "apiGroups", f"{at}.apiGroups")
        resources = r.texts(rule, "resources", f"{at}.resources")
        names = r.texts(rule, "resourceNames", f"{at}.resourceNames")
        if urls:
            if namespaced:
                r.add(
                    [
                        invalid(
                            f"{at}.nonResourceURLs",
                            urls,
                            "namespaced rules cannot apply to non-resource URLs",
                            shown=go_string_slice(urls),
                        )
                    ]
                )
            if groups or resources or names:
                r.add(
                    [
                        invalid(
                            f"{at}.nonResourceURLs",
                            urls,
                            "rules cannot apply to both regular resources and non-resource URLs",
                            shown=go_string_slice(urls),
                        )
                    ]
                )
            continue
        if not groups:
            r.add([required(f"{at}.apiGroups", "resource rules must supply at least one api group")])
        if not resources:
            r.add([required(f"{at}.resources", "resource rules must supply at least one resource")])


def validate_role(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    _rules(r, obj, namespaced=True)
    return r.causes


def validate_clusterrole(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    _rules(r, obj, namespaced=False)
    aggregation = r.obj(obj, "aggregationRule", "aggregationRule")
    if aggregation is not None and not r.array(
        aggregation, "clusterRoleSelectors", "aggregationRule.clusterRoleSelectors"
    ):
        r.add(
            [
                required(
                    "aggregationRule.clusterRoleSelectors",
                    "at least one clusterRoleSelector required if aggregationRule is non-nil",
                )
            ]
        )
    return r.causes


def _binding(obj: dict[str, Any], old: dict[str, Any] | None, *, namespaced: bool) -> list[FieldCause]:
    r = Reader()
    ref = r.obj(obj, "roleRef", "roleRef") or {}
    group = r.text(ref, "apiGroup", "roleRef.apiGroup")
    if group != GROUP:
        r.add([not_supported("roleRef.apiGroup", group or "", (GROUP,))])
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    kind = r.text(ref, "kind", "roleRef.kind")
    if kind not in kinds:
        r.add([not_supported("roleRef.kind", kind or "", kinds)])
    name = r.text(ref, "name", "roleRef.name")
    if not name:
        r.add([required("roleRef.name")])
    else:
        r.add(formats.check("roleRef.name", name, formats.path_segment(name)))
    for i, subject in r.objects(obj, "subjects", "subjects"):
        at = f"subjects[{i}]"
        subject_name = r.text(subject, "name", f"{at}.name")
        if not subject_name:
            r.add([required(f"{at}.name")])
        subject_kind = r.text(subject, "kind", f"{at}.kind")
        subject_group = r.text(subject, "apiGroup", f"{at}.apiGroup") or ""
        if subject_kind == "ServiceAccount":
            if subject_group:
                r.add([not_supported(f"{at}.apiGroup", subject_group, ("",))])
            if not namespaced and not subject.get("namespace"):
                r.add([required(f"{at}.namespace")])
        elif subject_kind in ("User", "Group"):
            if subject_group != GROUP:
                r.add([not_supported(f"{at}.apiGroup", subject_group, (GROUP,))])
        else:
            r.add([not_supported(f"{at}.kind", subject_kind or "", ("ServiceAccount", "User", "Group"))])
    if old is not None and obj.get("roleRef") != old.get("roleRef"):
        shown = (
            f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup") or ""}", Kind:"{ref.get("kind") or ""}", '
            f'Name:"{ref.get("name") or ""}"}}'
        )
        r.add([invalid("roleRef", ref, "cannot change roleRef", shown=shown)])
    return r.causes


def validate_rolebinding(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    return _binding(obj, old, namespaced=True)


def validate_clusterrolebinding(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    return _binding(obj, old, namespaced=False)
