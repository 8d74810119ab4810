"""Upstream validation of built-in kinds: kube-apiserver 1.32's Validate* and ValidateUpdate rules per kind.

One module per API group; `fields`, `formats`, `labels` and `quantities` hold the generic checks they share.
Only the REST layer (gardener.apiserver.rest) calls `validate`, after defaulting and mutating admission and
before validating admission, with objects already defaulted. Object metadata is checked elsewhere (meta).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gardener.apiserver.builtin.validation import (
    apps,
    autoscaling,
    batch,
    coordination,
    core,
    discovery,
    events,
    networking,
    pods,
    policy,
    rbac,
    scheduling,
    services,
    storage,
)
from gardener.apiserver.errors import FieldCause

Validator = Callable[[dict[str, Any], dict[str, Any] | None], list[FieldCause]]

_RBAC = "rbac.authorization.k8s.io"
VALIDATORS: dict[tuple[str, str], Validator] = {
    ("", "Pod"): pods.validate_pod,
    ("", "Service"): services.validate_service,
    ("", "Endpoints"): services.validate_endpoints,
    ("", "ConfigMap"): core.validate_configmap,
    ("", "Event"): events.validate_core_event,
    ("events.k8s.io", "Event"): events.validate_events_v1_event,
    ("", "Secret"): core.validate_secret,
    ("", "Namespace"): core.validate_namespace,
    ("", "ServiceAccount"): core.validate_service_account,
    ("", "PersistentVolumeClaim"): core.validate_pvc,
    ("", "PersistentVolume"): core.validate_pv,
    ("", "ReplicationController"): core.validate_replicationcontroller,
    ("", "PodTemplate"): core.validate_podtemplate,
    ("", "LimitRange"): core.validate_limitrange,
    ("", "ResourceQuota"): core.validate_resourcequota,
    ("apps", "Deployment"): apps.validate_deployment,
    ("apps", "ReplicaSet"): apps.validate_replicaset,
    ("apps", "StatefulSet"): apps.validate_statefulset,
    ("apps", "DaemonSet"): apps.validate_daemonset,
    ("apps", "ControllerRevision"): apps.validate_controllerrevision,
    ("batch", "Job"): batch.validate_job,
    ("batch", "CronJob"): batch.validate_cronjob,
    ("networking.k8s.io", "Ingress"): networking.validate_ingress,
    ("networking.k8s.io", "IngressClass"): networking.validate_ingressclass,
    ("networking.k8s.io", "NetworkPolicy"): networking.validate_networkpolicy,
    ("policy", "PodDisruptionBudget"): policy.validate_pdb,
    ("scheduling.k8s.io", "PriorityClass"): scheduling.validate_priorityclass,
    ("autoscaling", "HorizontalPodAutoscaler"): autoscaling.validate_hpa,
    ("discovery.k8s.io", "EndpointSlice"): discovery.validate_endpointslice,
    ("storage.k8s.io", "StorageClass"): storage.validate_storageclass,
    ("coordination.k8s.io", "Lease"): coordination.validate_lease,
    (_RBAC, "Role"): rbac.validate_role,
    (_RBAC, "ClusterRole"): rbac.validate_clusterrole,
    (_RBAC, "RoleBinding"): rbac.validate_rolebinding,
    (_RBAC, "ClusterRoleBinding"): rbac.validate_clusterrolebinding,
}


def validate(
    *, group: str, version: str, kind: str, obj: dict[str, Any], old: dict[str, Any] | None
) -> list[FieldCause]:
    """Problems with a built-in object (`old` is None on create), as upstream's field paths and messages.

    Kinds without upstream rules here answer no causes. `version` is accepted for kinds whose rules differ
    between versions (none so far: HPA v1 and v2 share theirs).
    """
    validator = VALIDATORS.get((group, kind))
    if validator is None:
        return []
    return list(dict.fromkeys(validator(obj, old)))  # a field read twice reports its wrong type once
