"""Defaulting of apps/v1 kinds (kube's pkg/apis/apps/v1), with Kubernetes 1.32's feature gates.

StatefulSetAutoDeletePVC is on in 1.32, so persistentVolumeClaimRetentionPolicy is defaulted;
MaxUnavailableStatefulSet is alpha (off), so a StatefulSet's rollingUpdate gets no maxUnavailable.
"""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.defaulting import core
from gardener.apiserver.builtin.defaulting._walk import default, default_zero, ensure, struct, structs


def deployment(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    default(spec, "replicas", 1)
    strategy = ensure(spec, "strategy")
    if strategy is not None:
        default_zero(strategy, "type", "RollingUpdate")
        if strategy.get("type") == "RollingUpdate":
            rolling = ensure(strategy, "rollingUpdate")
            default(rolling, "maxUnavailable", "25%")
            default(rolling, "maxSurge", "25%")
    default(spec, "revisionHistoryLimit", 10)
    default(spec, "progressDeadlineSeconds", 600)
    core.pod_template(struct(spec, "template"))


def daemon_set(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    strategy = ensure(spec, "updateStrategy")
    if strategy is not None:
        default_zero(strategy, "type", "RollingUpdate")
        if strategy.get("type") == "RollingUpdate":
            rolling = ensure(strategy, "rollingUpdate")
            default(rolling, "maxUnavailable", 1)
            default(rolling, "maxSurge", 0)
    default(spec, "revisionHistoryLimit", 10)
    core.pod_template(struct(spec, "template"))


def stateful_set(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    default_zero(spec, "podManagementPolicy", "OrderedReady")
    strategy = ensure(spec, "updateStrategy")
    if strategy is not None:
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
            ensure(strategy, "rollingUpdate")
        rolling = struct(strategy, "rollingUpdate")
        if strategy.get("type") == "RollingUpdate" and rolling is not None:
            default(rolling, "partition", 0)
    retention = ensure(spec, "persistentVolumeClaimRetentionPolicy")
    default_zero(retention, "whenDeleted", "Retain")
    default_zero(retention, "whenScaled", "Retain")
    default(spec, "replicas", 1)
    default(spec, "revisionHistoryLimit", 10)
    core.pod_template(struct(spec, "template"))
    for claim in structs(spec, "volumeClaimTemplates"):
        core.claim(claim)


def replica_set(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    default(spec, "replicas", 1)
    core.pod_template(struct(spec, "template"))
