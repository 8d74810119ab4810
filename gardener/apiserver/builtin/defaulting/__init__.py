"""Upstream defaulting of built-in kinds: what kube-apiserver 1.32's decoder fills in (its SetDefaults_* functions).

`apply_defaults` mutates a decoded object in place; the API server's REST layer calls it for built-in kinds
right after decoding, before the kind's strategy, admission and validation. Only that layer (and tests) import it.
Defaulting never raises: a field of the wrong JSON type is left alone for validation to report.

Not defaulting in kube, so not here: Service cluster IPs, IP families and node ports (allocators), a Pod's
service account and token volume, tolerations, priority (admission plugins), Pod status and Job selectors
(REST strategies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gardener.apiserver.builtin.defaulting import apps, batch, core, groups

Defaulter = Callable[[dict[str, Any]], None]

_ADMISSION = "admissionregistration.k8s.io"
_RBAC = "rbac.authorization.k8s.io"

#: (group, version, kind) -> defaulter; kinds kube does not default are absent
DEFAULTERS: dict[tuple[str, str, str], Defaulter] = {
    ("", "v1", "Pod"): core.pod,
    ("", "v1", "PodTemplate"): core.pod_template_kind,
    ("", "v1", "ReplicationController"): core.replication_controller,
    ("", "v1", "Service"): core.service,
    ("", "v1", "Endpoints"): core.endpoints,
    ("", "v1", "PersistentVolume"): core.persistent_volume,
    ("", "v1", "PersistentVolumeClaim"): core.claim,
    ("", "v1", "Node"): core.node,
    ("", "v1", "Namespace"): core.namespace,
    ("", "v1", "LimitRange"): core.limit_range,
    ("", "v1", "ResourceQuota"): core.resource_quota,
    ("", "v1", "Secret"): core.secret,
    ("apps", "v1", "Deployment"): apps.deployment,
    ("apps", "v1", "DaemonSet"): apps.daemon_set,
    ("apps", "v1", "StatefulSet"): apps.stateful_set,
    ("apps", "v1", "ReplicaSet"): apps.replica_set,
    ("batch", "v1", "Job"): batch.job,
    ("batch", "v1", "CronJob"): batch.cron_job,
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): groups.hpa_v1,
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): groups.hpa_v2,
    ("networking.k8s.io", "v1", "NetworkPolicy"): groups.network_policy,
    ("networking.k8s.io", "v1", "IngressClass"): groups.ingress_class,
    ("scheduling.k8s.io", "v1", "PriorityClass"): groups.priority_class,
    ("discovery.k8s.io", "v1", "EndpointSlice"): groups.endpoint_slice,
    ("storage.k8s.io", "v1", "StorageClass"): groups.storage_class,
    ("storage.k8s.io", "v1", "CSIDriver"): groups.csi_driver,
    ("storage.k8s.io", "v1", "VolumeAttachment"): groups.volume_attachment,
    (_RBAC, "v1", "RoleBinding"): groups.role_binding,
    (_RBAC, "v1", "ClusterRoleBinding"): groups.role_binding,
    ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"): groups.flow_schema,
    ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration"): groups.priority_level,
    (_ADMISSION, "v1", "ValidatingWebhookConfiguration"): groups.validating_webhooks,
    (_ADMISSION, "v1", "MutatingWebhookConfiguration"): groups.mutating_webhooks,
    (_ADMISSION, "v1", "ValidatingAdmissionPolicy"): groups.admission_policy,
    (_ADMISSION, "v1", "ValidatingAdmissionPolicyBinding"): groups.admission_policy_binding,
    ("certificates.k8s.io", "v1", "CertificateSigningRequest"): groups.certificate_signing_request,
}


def apply_defaults(*, group: str, version: str, kind: str, obj: dict[str, Any]) -> None:
    """Fill in what kube's defaulters fill in for this group/version/kind; other kinds are left as they are."""
    defaulter = DEFAULTERS.get((group, version, kind))
    if defaulter is not None and isinstance(obj, dict):
        defaulter(obj)
