"""Defaulting of the smaller API groups: autoscaling, networking, scheduling, discovery, storage, rbac,
flowcontrol, admissionregistration and certificates (kube's pkg/apis/<group>/v1*/defaults.go).

Groups without defaulters in kube 1.32 (policy/v1, node/v1, coordination/v1, events/v1, apps
ControllerRevision, core ConfigMap/ServiceAccount/Event) have no entry here.
"""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.defaulting import core
from gardener.apiserver.builtin.defaulting._walk import default, default_zero, empty, ensure, struct, structs
from gardener.apiserver.builtin.defaulting.quantity import canonical

_RBAC_GROUP = "rbac.authorization.k8s.io"


def hpa_v1(obj: dict[str, Any]) -> None:
    default(ensure(obj, "spec"), "minReplicas", 1)


def _scaling_rules(rules: Any, *, defaults: dict[str, Any]) -> Any:
    """GenerateHPAScale{Up,Down}Rules: every unset field of a rule set filled from upstream's defaults.

    A value that is not an object is returned as it is, for validation to report.
    """
    if rules is not None and not isinstance(rules, dict):
        return rules
    filled = dict(defaults)
    filled.update({k: v for k, v in (rules or {}).items() if v is not None})
    return filled


def hpa_v2(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    default(spec, "minReplicas", 1)
    if empty(spec, "metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ]
    for metric in structs(spec, "metrics"):
        for source in ("resource", "containerResource", "pods", "object", "external"):
            target = struct(struct(metric, source), "target")
            for key in ("value", "averageValue"):
                if target is not None and key in target:
                    target[key] = canonical(target[key])
    behavior = struct(spec, "behavior")
    if behavior is not None:
        behavior["scaleUp"] = _scaling_rules(
            behavior.get("scaleUp"),
            defaults={
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15},
                ],
            },
        )
        # scale-down's stabilization window stays unset: the controller's flag decides it
        behavior["scaleDown"] = _scaling_rules(
            behavior.get("scaleDown"),
            defaults={"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
        )


def network_policy(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    for direction in ("ingress", "egress"):
        for rule in structs(spec, direction):
            for port in structs(rule, "ports"):
                default(port, "protocol", "TCP")
    if empty(spec, "policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if not empty(spec, "egress") else ["Ingress"]


def ingress_class(obj: dict[str, Any]) -> None:
    default(struct(struct(obj, "spec"), "parameters"), "scope", "Cluster")


def priority_class(obj: dict[str, Any]) -> None:
    default(obj, "preemptionPolicy", "PreemptLowerPriority")


def endpoint_slice(obj: dict[str, Any]) -> None:
    for port in structs(obj, "ports"):
        default(port, "name", "")
        default(port, "protocol", "TCP")


def storage_class(obj: dict[str, Any]) -> None:
    default(obj, "reclaimPolicy", "Delete")
    default(obj, "volumeBindingMode", "Immediate")


def csi_driver(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    default(spec, "attachRequired", True)
    default(spec, "podInfoOnMount", False)
    default(spec, "storageCapacity", False)
    default(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType")
    if spec is not None and empty(spec, "volumeLifecycleModes"):
        spec["volumeLifecycleModes"] = ["Persistent"]
    default(spec, "requiresRepublish", False)
    # SELinuxMountReadWriteOncePod is beta and on in 1.32
    default(spec, "seLinuxMount", False)


def volume_attachment(obj: dict[str, Any]) -> None:
    inline = struct(struct(struct(obj, "spec"), "source"), "inlineVolumeSpec")
    if inline is not None:
        core.pv_sources(inline)


def _subject(subject: dict[str, Any]) -> None:
    if empty(subject, "apiGroup") and subject.get("kind") in ("User", "Group"):
        subject["apiGroup"] = _RBAC_GROUP


def role_binding(obj: dict[str, Any]) -> None:
    default_zero(struct(obj, "roleRef"), "apiGroup", _RBAC_GROUP)
    for subject in structs(obj, "subjects"):
        _subject(subject)


def flow_schema(obj: dict[str, Any]) -> None:
    default_zero(ensure(obj, "spec"), "matchingPrecedence", 1000)


def priority_level(obj: dict[str, Any]) -> None:
    spec = struct(obj, "spec")
    exempt = struct(spec, "exempt")
    default(exempt, "nominalConcurrencyShares", 0)
    default(exempt, "lendablePercent", 0)
    limited = struct(spec, "limited")
    # v1 keeps an explicit 0 (it means "no shares"); only an absent value becomes 30
    default(limited, "nominalConcurrencyShares", 30)
    default(limited, "lendablePercent", 0)
    queuing = struct(struct(limited, "limitResponse"), "queuing")
    default_zero(queuing, "handSize", 8)
    default_zero(queuing, "queues", 64)
    default_zero(queuing, "queueLengthLimit", 50)


def _webhook(hook: dict[str, Any], *, mutating: bool) -> None:
    default(hook, "failurePolicy", "Fail")
    default(hook, "matchPolicy", "Equivalent")
    default(hook, "namespaceSelector", {})
    default(hook, "objectSelector", {})
    default(hook, "timeoutSeconds", 10)
    if mutating:
        default(hook, "reinvocationPolicy", "Never")
    for rule in structs(hook, "rules"):
        default(rule, "scope", "*")
    default(struct(struct(hook, "clientConfig"), "service"), "port", 443)


def validating_webhooks(obj: dict[str, Any]) -> None:
    for hook in structs(obj, "webhooks"):
        _webhook(hook, mutating=False)


def mutating_webhooks(obj: dict[str, Any]) -> None:
    for hook in structs(obj, "webhooks"):
        _webhook(hook, mutating=True)


def _match_resources(match: dict[str, Any] | None) -> None:
    default(match, "matchPolicy", "Equivalent")
    default(match, "namespaceSelector", {})
    default(match, "objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in structs(match, key):
            default(rule, "scope", "*")


def admission_policy(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    default(spec, "failurePolicy", "Fail")
    _match_resources(struct(spec, "matchConstraints"))


def admission_policy_binding(obj: dict[str, Any]) -> None:
    _match_resources(struct(struct(obj, "spec"), "matchResources"))


def certificate_signing_request(obj: dict[str, Any]) -> None:
    for condition in structs(struct(obj, "status"), "conditions"):
        default_zero(condition, "status", "True")
