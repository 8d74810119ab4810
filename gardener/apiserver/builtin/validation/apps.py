"""apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet and ControllerRevision (pkg/apis/apps/validation)."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.validation import labels, pods
from gardener.apiserver.builtin.validation.fields import (
    Reader,
    forbidden,
    go_label_selector,
    immutable,
    int_or_percent,
    invalid,
    nonnegative,
    one_of,
    required,
    sub,
)
from gardener.apiserver.errors import FieldCause

_STATEFULSET_UPDATABLE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
    "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
#: fields of a StatefulSet's spec an update may change
_STATEFULSET_MUTABLE = frozenset(
    {
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    }
)


def selector_and_template(r: Reader, spec: dict[str, Any], *, empty_message: str, pod_spec: bool = True) -> None:
    """The selector is valid and not empty, and it selects the template's labels; the template is a valid pod.

    `pod_spec=False` (StatefulSet): kube checks only the template's labels, since volume claim templates add
    volumes the pod spec alone does not declare.
    """
    selector = r.obj(spec, "selector", "spec.selector")
    template = r.obj(spec, "template", "spec.template") or {}
    selector_ok = False
    if selector is None:
        r.add([required("spec.selector")])
    else:
        before = len(r.causes)
        labels.validate_selector(r, selector, "spec.selector")
        selector_ok = len(r.causes) == before
        if labels.is_empty(selector):
            r.add([invalid("spec.selector", selector, empty_message, shown=go_label_selector(selector))])
            selector_ok = False
    if selector_ok and selector is not None and not labels.matches(selector, labels.template_labels(template)):
        r.add([labels.mismatch("spec.template.metadata.labels", template)])
    if pod_spec:
        pods.validate_template(r, template, "spec.template")
    else:
        template_meta = r.obj(template, "metadata", "spec.template.metadata") or {}
        r.add(
            labels.validate_labels(
                r.string_map(template_meta, "labels", "spec.template.labels"), "spec.template.labels"
            )
        )


def _deployment_strategy(r: Reader, spec: dict[str, Any]) -> None:
    strategy = r.obj(spec, "strategy", "spec.strategy") or {}
    kind = one_of(r, strategy, "type", "spec.strategy.type", ("Recreate", "RollingUpdate"), need=True)
    rolling = r.obj(strategy, "rollingUpdate", "spec.strategy.rollingUpdate")
    if kind == "Recreate" and rolling is not None:
        r.add([forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")])
    if kind == "RollingUpdate" and rolling is not None:
        path = "spec.strategy.rollingUpdate"
        unavailable = int_or_percent(r, rolling.get("maxUnavailable"), f"{path}.maxUnavailable")
        surge = int_or_percent(r, rolling.get("maxSurge"), f"{path}.maxSurge")
        if isinstance(rolling.get("maxUnavailable"), str) and unavailable is not None and unavailable > 100:
            r.add([invalid(f"{path}.maxUnavailable", rolling["maxUnavailable"], "must not be greater than 100%")])
        if unavailable == 0 and surge == 0:
            r.add(
                [invalid(f"{path}.maxUnavailable", rolling.get("maxUnavailable"), "may not be 0 when `maxSurge` is 0")]
            )


def _selector_immutable(r: Reader, spec: dict[str, Any], old: dict[str, Any] | None) -> None:
    if old is None:
        return
    old_spec = sub(old, "spec")
    if spec.get("selector") != old_spec.get("selector"):
        new = spec.get("selector")
        r.add([immutable("spec.selector", new, shown=go_label_selector(new if isinstance(new, dict) else None))])


def validate_deployment(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    nonnegative(r, spec, "replicas", "spec.replicas")
    selector_and_template(r, spec, empty_message="empty selector is invalid for deployment")
    pods.replica_template(r, sub(spec, "template"), kind="ReplicaSet")
    _deployment_strategy(r, spec)
    nonnegative(r, spec, "minReadySeconds", "spec.minReadySeconds")
    nonnegative(r, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    nonnegative(r, spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds")
    deadline = spec.get("progressDeadlineSeconds")
    ready = spec.get("minReadySeconds") or 0
    if isinstance(deadline, int) and isinstance(ready, int) and 0 <= deadline <= ready:
        r.add([invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")])
    _selector_immutable(r, spec, old)
    return r.causes


def validate_replicaset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    nonnegative(r, spec, "replicas", "spec.replicas")
    nonnegative(r, spec, "minReadySeconds", "spec.minReadySeconds")
    selector_and_template(r, spec, empty_message="empty selector is invalid for deployment")
    pods.replica_template(r, sub(spec, "template"), kind="ReplicaSet")
    _selector_immutable(r, spec, old)
    return r.causes


def validate_statefulset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    policy = r.text(spec, "podManagementPolicy", "spec.podManagementPolicy")
    if policy == "":
        r.add([required("spec.podManagementPolicy")])
    elif policy is not None and policy not in ("OrderedReady", "Parallel"):
        r.add([invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")])
    strategy = r.obj(spec, "updateStrategy", "spec.updateStrategy") or {}
    kind = r.text(strategy, "type", "spec.updateStrategy.type")
    rolling = r.obj(strategy, "rollingUpdate", "spec.updateStrategy.rollingUpdate")
    if kind == "OnDelete" and rolling is not None:
        r.add(
            [
                invalid(
                    "spec.updateStrategy.rollingUpdate",
                    rolling,
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            ]
        )
    elif kind == "RollingUpdate" and rolling is not None:
        nonnegative(r, rolling, "partition", "spec.updateStrategy.rollingUpdate.partition")
    elif kind not in (None, "OnDelete", "RollingUpdate"):
        r.add([invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'")])
    nonnegative(r, spec, "replicas", "spec.replicas")
    nonnegative(r, spec, "minReadySeconds", "spec.minReadySeconds")
    selector_and_template(r, spec, empty_message="empty selector is not valid for statefulset.", pod_spec=False)
    pod = pods.restart_always(r, sub(spec, "template"))
    if pod.get("activeDeadlineSeconds") is not None:
        r.add(
            [invalid("spec.template.spec.activeDeadlineSeconds", pod["activeDeadlineSeconds"], "must not be specified")]
        )
    if old is not None:
        old_spec = sub(old, "spec")
        frozen_new = {k: v for k, v in spec.items() if k not in _STATEFULSET_MUTABLE}
        frozen_old = {k: v for k, v in old_spec.items() if k not in _STATEFULSET_MUTABLE}
        if frozen_new != frozen_old:
            r.add([forbidden("spec", _STATEFULSET_UPDATABLE)])
    return r.causes


def validate_daemonset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    selector_and_template(r, spec, empty_message="empty selector is not valid for daemonset.")
    pod = pods.restart_always(r, sub(spec, "template"))
    if pod.get("activeDeadlineSeconds") is not None:
        r.add(
            [
                invalid(
                    "spec.template.spec.activeDeadlineSeconds",
                    pod["activeDeadlineSeconds"],
                    "activeDeadlineSeconds in DaemonSet is not Supported",
                )
            ]
        )
    strategy = r.obj(spec, "updateStrategy", "spec.updateStrategy") or {}
    one_of(r, strategy, "type", "spec.updateStrategy.type", ("OnDelete", "RollingUpdate"), need=True)
    nonnegative(r, spec, "minReadySeconds", "spec.minReadySeconds")
    nonnegative(r, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    _selector_immutable(r, spec, old)
    return r.causes


def validate_controllerrevision(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    if obj.get("data") is None:
        r.add([required("data", "data is mandatory")])
    nonnegative(r, obj, "revision", "revision")
    if old is not None and obj.get("data") != old.get("data"):
        r.add([immutable("data", obj.get("data"))])
    return r.causes
