"""Per-kind REST strategy facts of built-in resources (kube's pkg/registry/<group>/<resource>/strategy.go).

What a strategy does besides defaulting and validation: the status a new object starts with, which kinds keep
metadata.generation and what bumps it, the Pod's create-time status, the Job's generated selector, Secret
stringData, Namespace phase and finalizers, CRD rules, and the JSON shapes checked before any of it runs.
Validation proper lives in gardener.apiserver.builtin.validation.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gardener.apiserver import crdvalidation, meta, openapi
from gardener.apiserver.builtin.validation import quantities
from gardener.apiserver.errors import FieldCause
from gardener.apiserver.meta import decode_string_map, is_int, unmarshal_error

Hook = Callable[[dict[str, Any], dict[str, Any] | None], list[FieldCause]]
#: raise meta.DecodeError where kube's decoder would fail on the body's JSON types
Shape = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Strategy:
    #: mutate `obj` (old is None on create): what kube's PrepareForCreate/PrepareForUpdate do beyond defaulting;
    #: returns problems found (validation proper lives in gardener.apiserver.builtin.validation)
    prepare: Hook | None = None
    #: how names are checked: "subdomain", "label", "dns1035" or "path" (see meta.validate_name)
    name_rule: str = "subdomain"
    #: JSON types of the fields `prepare` reads, checked before it runs (see decode_shape)
    shape: Shape | None = None
    #: metadata.generation is kept: 1 on create, +1 when anything outside metadata (and status) changes
    generation: bool = False
    #: annotations count as spec for generation (Deployment: they are copied to its ReplicaSets)
    generation_annotations: bool = False


def _object(obj: dict[str, Any], key: str, *, struct: str, go_type: str, path: str = "") -> dict[str, Any] | None:
    """A struct-typed field: an object, or absent (null decodes to the zero value, so it is dropped)."""
    value = obj.get(key)
    if value is None:
        obj.pop(key, None)
        return None
    if not isinstance(value, dict):
        raise unmarshal_error(value, struct=struct, path=path or key, go_type=go_type)
    return value


def _scalar(obj: dict[str, Any], key: str, *, struct: str, path: str, go_type: str, json: str = "string") -> None:
    """A scalar field whose JSON type is `json` ("string", "bool" or "int32"); null drops it."""
    value = obj.get(key)
    if value is None:
        obj.pop(key, None)
        return
    if json == "bool":
        ok = isinstance(value, bool)
    elif json == "int32":
        ok = is_int(value, bits=32)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise unmarshal_error(value, struct=struct, path=path, go_type=go_type)


def _list_of(obj: dict[str, Any], key: str, *, struct: str, path: str, go_elem: str, objects: bool) -> list[Any] | None:
    value = obj.get(key)
    if value is None:
        obj.pop(key, None)
        return None
    if not isinstance(value, list):
        raise unmarshal_error(value, struct=struct, path=path, go_type=f"[]{go_elem}")
    for item in value:
        if item is not None and not isinstance(item, dict if objects else str):
            raise unmarshal_error(item, struct=struct, path=path, go_type=go_elem)
    return value


def _secret_shape(obj: dict[str, Any]) -> None:
    decode_string_map(obj, "data", struct="Secret", path="data", value_type="[]uint8")
    decode_string_map(obj, "stringData", struct="Secret", path="stringData")
    _scalar(obj, "type", struct="Secret", path="type", go_type="v1.SecretType")
    _scalar(obj, "immutable", struct="Secret", path="immutable", go_type="bool", json="bool")


def _configmap_shape(obj: dict[str, Any]) -> None:
    decode_string_map(obj, "data", struct="ConfigMap", path="data")
    decode_string_map(obj, "binaryData", struct="ConfigMap", path="binaryData", value_type="[]uint8")
    _scalar(obj, "immutable", struct="ConfigMap", path="immutable", go_type="bool", json="bool")


def _namespace_shape(obj: dict[str, Any]) -> None:
    spec = _object(obj, "spec", struct="Namespace", go_type="v1.NamespaceSpec")
    if spec is not None:
        _list_of(
            spec,
            "finalizers",
            struct="NamespaceSpec",
            path="spec.finalizers",
            go_elem="v1.FinalizerName",
            objects=False,
        )
    status = _object(obj, "status", struct="Namespace", go_type="v1.NamespaceStatus")
    if status is not None:
        _scalar(status, "phase", struct="NamespaceStatus", path="status.phase", go_type="v1.NamespacePhase")


def _service_shape(obj: dict[str, Any]) -> None:
    spec = _object(obj, "spec", struct="Service", go_type="v1.ServiceSpec")
    if spec is None:
        return
    _scalar(spec, "type", struct="ServiceSpec", path="spec.type", go_type="v1.ServiceType")
    _scalar(spec, "clusterIP", struct="ServiceSpec", path="spec.clusterIP", go_type="string")
    for port in (
        _list_of(spec, "ports", struct="ServiceSpec", path="spec.ports", go_elem="v1.ServicePort", objects=True) or []
    ):
        if port is not None:
            _scalar(port, "port", struct="ServicePort", path="spec.ports.port", go_type="int32", json="int32")


def _pod_shape(obj: dict[str, Any]) -> None:
    spec = _object(obj, "spec", struct="Pod", go_type="v1.PodSpec")
    if spec is not None:
        _list_of(spec, "containers", struct="PodSpec", path="spec.containers", go_elem="v1.Container", objects=True)


def _workload_shape(kind: str) -> Shape:
    def shape(obj: dict[str, Any]) -> None:
        spec = _object(obj, "spec", struct=kind, go_type=f"v1.{kind}Spec")
        if spec is not None:
            _scalar(spec, "replicas", struct=f"{kind}Spec", path="spec.replicas", go_type="int32", json="int32")
            _object(spec, "selector", struct=f"{kind}Spec", go_type="v1.LabelSelector", path="spec.selector")

    return shape


def _lists_and_structs(kind: str, *, lists: dict[str, str], structs: dict[str, str] | None = None) -> Shape:
    """Top-level lists of structs and structs of a kind the server's own controllers read (RBAC, webhooks)."""

    def shape(obj: dict[str, Any]) -> None:
        for key, go_elem in lists.items():
            _list_of(obj, key, struct=kind, path=key, go_elem=go_elem, objects=True)
        for key, go_type in (structs or {}).items():
            _object(obj, key, struct=kind, go_type=go_type)

    return shape


def decode_shape(*, group: str, version: str, kind: str, obj: dict[str, Any]) -> None:
    """The JSON types of a built-in kind's fields, as kube's decoder enforces them before any other check.

    spec and status are structs in every built-in kind that has them; kinds with a strategy also check the
    fields their strategy reads, so `prepare` never meets a string where it expects a map.
    Raises meta.DecodeError.
    """
    known = openapi.builtin_fields(group, kind)
    for key in ("spec", "status"):
        if known is None or key in known:
            _object(obj, key, struct=kind, go_type=f"{version}.{kind}{key.capitalize()}")
    strategy = STRATEGIES.get((group, kind))
    if strategy is not None and strategy.shape is not None:
        strategy.shape(obj)


def _secret(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    """stringData is write-only: merged into data (base64) and dropped, as kube's conversion does."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        current = obj.get("data")
        data: dict[str, Any] = current if isinstance(current, dict) else {}
        obj["data"] = data
        for k, v in string_data.items():
            if isinstance(v, str):
                data[k] = base64.b64encode(v.encode()).decode()
    return []


def _namespace(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    if old is None:
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        name = obj["metadata"].get("name")
        if name:  # without one, validation answers "name or generateName is required"
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    return []


def _workload(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("replicas", 1)
    return []


#: apps/v1's view of the internal DaemonSet's spec.templateGeneration, which the DaemonSet controller labels pods with
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _daemonset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    """templateGeneration starts at 1 and counts changes of the pod template (kube's DaemonSet strategy)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return []
    generation = 1
    if old is not None:
        previous = str(((old.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION) or "1")
        generation = int(previous) if previous.isdigit() else 1
        if (obj.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            generation += 1
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        annotations = metadata["annotations"] = {}
    annotations[TEMPLATE_GENERATION] = str(generation)
    return []


def _service(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    """An update that leaves out the cluster IP keeps the allocated one (kube's patchAllocatedValues)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    spec.setdefault("type", "ClusterIP")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    old_spec = (old or {}).get("spec")
    if isinstance(old_spec, dict) and old_spec.get("clusterIP") and spec.get("type") != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
            spec["clusterIPs"] = old_spec["clusterIPs"]
    return []


def _resources(container: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    resources = container.get("resources") if isinstance(container, dict) else None
    resources = resources if isinstance(resources, dict) else {}
    requests, limits = resources.get("requests"), resources.get("limits")
    return (requests if isinstance(requests, dict) else {}), (limits if isinstance(limits, dict) else {})


def qos_class(spec: dict[str, Any]) -> str:
    """kube's GetPodQOS from cpu and memory of containers and init containers (zero amounts do not count)."""
    containers = [c for key in ("containers", "initContainers") for c in (spec.get(key) or [])]
    any_set = False
    guaranteed = True
    for container in containers:
        requests, limits = _resources(container)
        for part in (requests, limits):
            for name in ("cpu", "memory"):
                amount = quantities.parse(part.get(name))
                if amount:
                    any_set = True
        for name in ("cpu", "memory"):
            limit = quantities.parse(limits.get(name))
            request = quantities.parse(requests.get(name, limits.get(name)))
            if not limit or request != limit:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    """A new pod is Pending with its QoS class; the status a client sent is dropped (kube's PrepareForCreate)."""
    spec = obj.get("spec")
    if old is None:
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec if isinstance(spec, dict) else {})}
    return []


def _job(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    """Without manualSelector a new Job selects its pods by its uid, and its template carries the labels."""
    spec = obj.get("spec")
    if old is not None or not isinstance(spec, dict) or spec.get("manualSelector") is True:
        return []
    uid = str(obj["metadata"].get("uid") or "")
    name = str(obj["metadata"].get("name") or "")
    template = spec.setdefault("template", {})
    if not isinstance(template, dict):
        return []
    metadata = template.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        return []
    labels = metadata.get("labels")
    labels = labels if isinstance(labels, dict) else {}
    metadata["labels"] = labels
    labels.setdefault("batch.kubernetes.io/controller-uid", uid)
    labels.setdefault("controller-uid", uid)
    labels.setdefault("batch.kubernetes.io/job-name", name)
    labels.setdefault("job-name", name)
    if not obj["metadata"].get("labels"):
        # kube defaults a Job's labels from its template's again when reading it back
        obj["metadata"]["labels"] = dict(labels)
    selector = spec.get("selector")
    if selector is None:
        selector = spec["selector"] = {}
    if isinstance(selector, dict):
        match = selector.get("matchLabels")
        if not isinstance(match, dict):
            match = selector["matchLabels"] = {}
        match.setdefault("batch.kubernetes.io/controller-uid", uid)
    return []


def _crd(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    crdvalidation.default_crd(obj)
    causes = crdvalidation.validate_crd(obj)
    if old is not None:
        for field in ("group", "scope"):
            if (old.get("spec") or {}).get(field) != (obj.get("spec") or {}).get(field):
                causes.append(FieldCause("FieldValueInvalid", "Invalid value: field is immutable", f"spec.{field}"))
    return causes


_RBAC = "rbac.authorization.k8s.io"
_ADMISSION = "admissionregistration.k8s.io"
_FLOWCONTROL = "flowcontrol.apiserver.k8s.io"
_KEEPS_GENERATION = Strategy(generation=True)

STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "Secret"): Strategy(prepare=_secret, shape=_secret_shape),
    ("", "ConfigMap"): Strategy(shape=_configmap_shape),
    ("", "Namespace"): Strategy(prepare=_namespace, name_rule="label", shape=_namespace_shape),
    ("", "Service"): Strategy(prepare=_service, name_rule="dns1035", shape=_service_shape),
    # kube validates no CSR name beyond the path rule: kubelets name theirs node-csr-<base64url hash>
    ("certificates.k8s.io", "CertificateSigningRequest"): Strategy(name_rule="path"),
    ("", "Pod"): Strategy(prepare=_pod, shape=_pod_shape),
    ("", "ReplicationController"): _KEEPS_GENERATION,
    ("", "PodTemplate"): _KEEPS_GENERATION,
    ("apps", "Deployment"): Strategy(
        prepare=_workload, shape=_workload_shape("Deployment"), generation=True, generation_annotations=True
    ),
    ("apps", "StatefulSet"): Strategy(prepare=_workload, shape=_workload_shape("StatefulSet"), generation=True),
    ("apps", "ReplicaSet"): Strategy(prepare=_workload, shape=_workload_shape("ReplicaSet"), generation=True),
    ("apps", "DaemonSet"): Strategy(prepare=_daemonset, generation=True),
    ("batch", "Job"): Strategy(prepare=_job, generation=True),
    ("batch", "CronJob"): _KEEPS_GENERATION,
    ("networking.k8s.io", "Ingress"): _KEEPS_GENERATION,
    ("networking.k8s.io", "IngressClass"): _KEEPS_GENERATION,
    ("networking.k8s.io", "NetworkPolicy"): _KEEPS_GENERATION,
    ("policy", "PodDisruptionBudget"): _KEEPS_GENERATION,
    ("discovery.k8s.io", "EndpointSlice"): _KEEPS_GENERATION,
    (_FLOWCONTROL, "FlowSchema"): _KEEPS_GENERATION,
    (_FLOWCONTROL, "PriorityLevelConfiguration"): _KEEPS_GENERATION,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): Strategy(prepare=_crd, generation=True),
    (_RBAC, "Role"): Strategy(name_rule="path", shape=_lists_and_structs("Role", lists={"rules": "v1.PolicyRule"})),
    (_RBAC, "ClusterRole"): Strategy(
        name_rule="path",
        shape=_lists_and_structs(
            "ClusterRole", lists={"rules": "v1.PolicyRule"}, structs={"aggregationRule": "v1.AggregationRule"}
        ),
    ),
    (_RBAC, "RoleBinding"): Strategy(
        name_rule="path",
        shape=_lists_and_structs("RoleBinding", lists={"subjects": "v1.Subject"}, structs={"roleRef": "v1.RoleRef"}),
    ),
    (_RBAC, "ClusterRoleBinding"): Strategy(
        name_rule="path",
        shape=_lists_and_structs(
            "ClusterRoleBinding", lists={"subjects": "v1.Subject"}, structs={"roleRef": "v1.RoleRef"}
        ),
    ),
    (_ADMISSION, "ValidatingWebhookConfiguration"): Strategy(
        shape=_lists_and_structs("ValidatingWebhookConfiguration", lists={"webhooks": "v1.ValidatingWebhook"}),
        generation=True,
    ),
    (_ADMISSION, "MutatingWebhookConfiguration"): Strategy(
        shape=_lists_and_structs("MutatingWebhookConfiguration", lists={"webhooks": "v1.MutatingWebhook"}),
        generation=True,
    ),
    (_ADMISSION, "ValidatingAdmissionPolicy"): _KEEPS_GENERATION,
    (_ADMISSION, "ValidatingAdmissionPolicyBinding"): _KEEPS_GENERATION,
    ("", "ServiceAccount"): Strategy(
        shape=_lists_and_structs(
            "ServiceAccount", lists={"secrets": "v1.ObjectReference", "imagePullSecrets": "v1.LocalObjectReference"}
        )
    ),
    ("", "Endpoints"): Strategy(shape=_lists_and_structs("Endpoints", lists={"subsets": "v1.EndpointSubset"})),
}

DEFAULT = Strategy()
#: a new object's status where kube's zero value serializes to more than `{}` (fields without omitempty), or
#: where read-time defaulting fills it (claims and volumes are Pending)
_INITIAL_STATUS: dict[tuple[str, str], dict[str, Any]] = {
    ("", "Service"): {"loadBalancer": {}},
    ("", "ReplicationController"): {"replicas": 0},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "PersistentVolume"): {"phase": "Pending"},
    ("apps", "ReplicaSet"): {"replicas": 0},
    ("apps", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "DaemonSet"): {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
    ("autoscaling", "HorizontalPodAutoscaler"): {"currentReplicas": 0, "desiredReplicas": 0},
    ("policy", "PodDisruptionBudget"): {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    },
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
}
#: groups whose kinds kube-apiserver serves itself; kinds of any other group (Gardener's among them) are served
#: as custom resources are, and those always keep metadata.generation
_KUBE_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy"})


def strategy_for(group: str, kind: str) -> Strategy:
    return STRATEGIES.get((group, kind), DEFAULT)


def initial_status(*, group: str, kind: str, sent: Any = None) -> dict[str, Any] | None:
    """The status a built-in object is created with: kube's PrepareForCreate resets it to the zero value, except
    for Nodes, which a kubelet registers with their status (`sent`).

    None: the status is left out (CRDs: their controller writes it).
    """
    if (group, kind) == ("", "Node"):
        return sent if isinstance(sent, dict) else None
    if (group, kind) == ("apiextensions.k8s.io", "CustomResourceDefinition"):
        return None
    return copy.deepcopy(_INITIAL_STATUS.get((group, kind), {}))


def keeps_generation(*, group: str, kind: str, custom: bool) -> bool:
    """Whether objects of a kind carry metadata.generation (upstream's strategies decide per built-in kind)."""
    if custom or not (group in _KUBE_GROUPS or group.endswith(".k8s.io")):
        return True
    return strategy_for(group, kind).generation


def next_generation(
    *, group: str, kind: str, custom: bool, has_status: bool, obj: dict[str, Any], old: dict[str, Any] | None
) -> int | None:
    """metadata.generation to store: None for kinds without one, 1 on create, +1 when the spec part changed.

    The spec part is everything but metadata (and status for kinds with a status subresource); Deployments
    count their annotations too.
    """
    if not keeps_generation(group=group, kind=kind, custom=custom):
        return None
    if old is None:
        return 1
    previous = (old.get("metadata") or {}).get("generation")
    previous = previous if isinstance(previous, int) and not isinstance(previous, bool) else 0
    changed = meta.spec_part(obj, has_status=has_status) != meta.spec_part(old, has_status=has_status)
    if strategy_for(group, kind).generation_annotations:
        changed = changed or (obj.get("metadata") or {}).get("annotations") != (old.get("metadata") or {}).get(
            "annotations"
        )
    return previous + 1 if changed else (previous or None)
