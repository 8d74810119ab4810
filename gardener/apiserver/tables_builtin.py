"""`kubectl get` columns for the built-in kinds beyond the everyday ones in `tables`.

Cells follow kube-apiserver's printers (pkg/printers/internalversion) with wide output on, as the
server always renders it: PodTemplate, ReplicationController, PersistentVolume, ResourceQuota,
ComponentStatus, ControllerRevision, HorizontalPodAutoscaler, CronJob, Ingress(Class),
NetworkPolicy, PodDisruptionBudget, PriorityClass, EndpointSlice, RuntimeClass, the storage kinds,
flow control, webhook configurations, admission policies and APIService. Only `tables` imports this.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from gardener.apiserver.tables import (
    _AGE,
    _CONTAINERS_DESC,
    _IMAGES_DESC,
    _NAME,
    _age,
    _col,
    _container_cells,
    _dict,
    _get,
    _int,
    _list,
    _name,
    _Printer,
    _replica_cells,
    _since,
    format_label_selector,
    format_labels,
)

Cells = Callable[[dict[str, Any], datetime], list[Any]]


def _text(value: Any) -> str:
    """A quantity or int-or-string as kube's String() prints the stored value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bool(value: Any, default: bool) -> bool:
    return value if isinstance(value, bool) else default


def _bool_text(value: Any) -> str:
    """printBoolPtr: True/False, <unset> for a missing pointer."""
    if not isinstance(value, bool):
        return "<unset>"
    return "True" if value else "False"


def _with_more(shown: list[str], total: int, limit: int, *, empty: str) -> str:
    text = ",".join(shown)
    if total > limit:
        return f"{text} + {total - limit} more..."
    return text or empty


# -- core/v1 ---------------------------------------------------------------------------------------


def _pod_template(obj: dict[str, Any], now: datetime) -> list[Any]:
    names, images = _container_cells(_get(obj, "template", "spec"))
    return [_name(obj), names, images, format_labels(_get(obj, "template", "metadata", "labels"))]


def _replication_controller(obj: dict[str, Any], now: datetime) -> list[Any]:
    # a ReplicationController's selector is a plain label map
    return _replica_cells(obj, now, selector=format_labels(_get(obj, "spec", "selector")))


_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))


def _persistent_volume(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    claim = _dict(spec.get("claimRef"))
    claim_text = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if spec.get("claimRef") is not None else ""
    modes = {str(m) for m in _list(spec.get("accessModes"))}
    phase = "Terminating" if _get(obj, "metadata", "deletionTimestamp") else str(status.get("phase") or "")
    storage_class = spec.get("storageClassName")
    if storage_class is None:
        storage_class = _get(obj, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class")
    return [
        _name(obj),
        _text(_dict(spec.get("capacity")).get("storage")) or "0",
        ",".join(short for mode, short in _MODES if mode in modes),
        str(spec.get("persistentVolumeReclaimPolicy") or ""),
        phase,
        claim_text,
        str(storage_class or ""),
        str(spec.get("volumeAttributesClassName") or "<unset>"),
        str(status.get("reason") or ""),
        _age(obj, now),
        str(spec.get("volumeMode") or "<unset>"),
    ]


def _resource_quota(obj: dict[str, Any], now: datetime) -> list[Any]:
    status = _dict(obj.get("status"))
    hard, used = _dict(status.get("hard")), _dict(status.get("used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        pieces = resource.split(".")
        target = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        target.append(f"{resource}: {_text(used.get(resource)) or '0'}/{_text(hard[resource])}")
    return [_name(obj), ", ".join(requests), ", ".join(limits), _age(obj, now)]


def _component_status(obj: dict[str, Any], now: datetime) -> list[Any]:
    status, message, error = "Unknown", "", ""
    for condition in _list(obj.get("conditions")):
        c = _dict(condition)
        if c.get("type") == "Healthy":
            status = "Healthy" if c.get("status") == "True" else "Unhealthy"
            message, error = str(c.get("message") or ""), str(c.get("error") or "")
            break
    return [_name(obj), status, message, error]


# -- apps, autoscaling, batch ----------------------------------------------------------------------


def _controller_revision(obj: dict[str, Any], now: datetime) -> list[Any]:
    controller = "<none>"
    for ref in _list(_get(obj, "metadata", "ownerReferences")):
        r = _dict(ref)
        if r.get("controller") is True:
            group = str(r.get("apiVersion") or "").rpartition("/")[0]
            kind = str(r.get("kind") or "")
            qualified = f"{kind}.{group}" if group else kind
            controller = f"{qualified.lower()}/{r.get('name', '')}" if qualified else str(r.get("name", ""))
            break
    return [_name(obj), controller, _int(obj.get("revision")), _age(obj, now)]


def _hpa_metric(spec: dict[str, Any], status: dict[str, Any] | None) -> str:
    kind = spec.get("type")
    current_of = _dict(status) if status is not None else {}

    def current(source: str, field: str) -> str:
        value = _get(current_of, source, "current", field)
        return "<unknown>" if status is None or value is None else _text(value)

    if kind in ("External", "Object"):
        source = "external" if kind == "External" else "object"
        target = _dict(_get(spec, source, "target"))
        if target.get("averageValue") is not None:
            return f"{current(source, 'averageValue')}/{_text(target['averageValue'])} (avg)"
        return f"{current(source, 'value')}/{_text(target.get('value'))}"
    if kind == "Pods":
        return f"{current('pods', 'averageValue')}/{_text(_get(spec, 'pods', 'target', 'averageValue'))}"
    if kind in ("Resource", "ContainerResource"):
        source = "resource" if kind == "Resource" else "containerResource"
        body = _dict(spec.get(source))
        target = _dict(body.get("target"))
        name = str(body.get("name") or "")
        if target.get("averageValue") is not None:
            return f"{name}: {current(source, 'averageValue')}/{_text(target['averageValue'])}"
        utilization = _get(current_of, source, "current", "averageUtilization")
        shown = "<unknown>" if status is None or utilization is None else f"{_int(utilization)}%"
        wanted = "<auto>" if target.get("averageUtilization") is None else f"{_int(target['averageUtilization'])}%"
        return f"{name}: {shown}/{wanted}"
    return "<unknown type>"


def _hpa_metrics(obj: dict[str, Any]) -> str:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    specs = [_dict(m) for m in _list(spec.get("metrics"))]
    statuses = [_dict(m) for m in _list(status.get("currentMetrics"))]
    if not specs and spec.get("targetCPUUtilizationPercentage") is not None:  # an autoscaling/v1 object
        cpu = status.get("currentCPUUtilizationPercentage")
        shown = "<unknown>" if cpu is None else f"{_int(cpu)}%"
        return f"cpu: {shown}/{_int(spec['targetCPUUtilizationPercentage'])}%"
    if not specs:
        return "<none>"
    texts = [_hpa_metric(s, statuses[i] if i < len(statuses) else None) for i, s in enumerate(specs)]
    limit = 2
    if len(texts) > limit:
        return f"{', '.join(texts[:limit])} + {len(texts) - limit} more..."
    return ", ".join(texts)


def _hpa(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    target = _dict(spec.get("scaleTargetRef"))
    minimum = spec.get("minReplicas")
    return [
        _name(obj),
        f"{target.get('kind', '')}/{target.get('name', '')}",
        _hpa_metrics(obj),
        "<unset>" if minimum is None else str(_int(minimum)),
        _int(spec.get("maxReplicas")),
        _int(status.get("currentReplicas")),
        _age(obj, now),
    ]


def _cron_job(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec, status = _dict(obj.get("spec")), _dict(obj.get("status"))
    last = status.get("lastScheduleTime")
    job_spec = _get(spec, "jobTemplate", "spec")
    names, images = _container_cells(_get(job_spec, "template", "spec"))
    return [
        _name(obj),
        str(spec.get("schedule") or ""),
        str(spec.get("timeZone")) if spec.get("timeZone") is not None else "<none>",
        _bool_text(spec.get("suspend")),
        len(_list(status.get("active"))),
        "<none>" if last is None else _since(last, now),
        _age(obj, now),
        names,
        images,
        format_label_selector(_get(job_spec, "selector")),
    ]


# -- networking, policy, scheduling, discovery, node -----------------------------------------------


def _ingress(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _dict(obj.get("spec"))
    rules = [_dict(r) for r in _list(spec.get("rules"))]
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    hosts_text = ",".join(hosts) if hosts else "*"
    if hosts and more:
        hosts_text = f"{hosts_text} + {len(rules) - 3} more..."
    addresses = set()
    for ingress in _list(_get(obj, "status", "loadBalancer", "ingress")):
        i = _dict(ingress)
        if i.get("ip"):
            addresses.add(str(i["ip"]))
        elif i.get("hostname"):
            addresses.add(str(i["hostname"]))
    class_name = spec.get("ingressClassName")
    return [
        _name(obj),
        "<none>" if class_name is None else str(class_name),
        hosts_text,
        ",".join(sorted(addresses)),
        "80, 443" if _list(spec.get("tls")) else "80",
        _age(obj, now),
    ]


def _ingress_class(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _dict(obj.get("spec"))
    parameters = "<none>"
    if isinstance(spec.get("parameters"), dict):
        p = spec["parameters"]
        parameters = str(p.get("kind") or "")
        if p.get("apiGroup") is not None:
            parameters += f".{p['apiGroup']}"
        parameters += f"/{p.get('name', '')}"
    return [_name(obj), str(spec.get("controller") or ""), parameters, _age(obj, now)]


def _network_policy(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), format_label_selector(_get(obj, "spec", "podSelector")), _age(obj, now)]


def _pdb(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _dict(obj.get("spec"))
    minimum, maximum = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [
        _name(obj),
        "N/A" if minimum is None else _text(minimum),
        "N/A" if maximum is None else _text(maximum),
        _int(_get(obj, "status", "disruptionsAllowed")),
        _age(obj, now),
    ]


def _priority_class(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [
        _name(obj),
        _int(obj.get("value")),
        _bool(obj.get("globalDefault"), False),
        _age(obj, now),
        str(obj.get("preemptionPolicy") or ""),
    ]


def _endpoint_slice(obj: dict[str, Any], now: datetime) -> list[Any]:
    ports: list[str] = []
    all_ports = [_dict(p) for p in _list(obj.get("ports"))]
    for port in all_ports[:3]:
        if port.get("port") is not None:
            ports.append(str(_int(port["port"])))
        elif port.get("name") is not None:
            ports.append(str(port["name"]))
        else:
            ports.append("*")
    addresses = [str(a) for e in _list(obj.get("endpoints")) for a in _list(_dict(e).get("addresses"))]
    return [
        _name(obj),
        str(obj.get("addressType") or ""),
        _with_more(ports, len(all_ports), 3, empty="<unset>"),
        _with_more(addresses[:3], len(addresses), 3, empty="<unset>"),
        _age(obj, now),
    ]


def _runtime_class(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), str(obj.get("handler") or ""), _age(obj, now)]


# -- storage ---------------------------------------------------------------------------------------

_DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _storage_class(obj: dict[str, Any], now: datetime) -> list[Any]:
    annotations = _dict(_get(obj, "metadata", "annotations"))
    default = any(annotations.get(a) == "true" for a in _DEFAULT_CLASS_ANNOTATIONS)
    return [
        _name(obj) + (" (default)" if default else ""),
        str(obj.get("provisioner") or ""),
        str(obj.get("reclaimPolicy") or "Delete"),
        str(obj.get("volumeBindingMode") or "Immediate"),
        _bool(obj.get("allowVolumeExpansion"), False),
        _age(obj, now),
    ]


def _csi_driver(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _dict(obj.get("spec"))
    tokens = spec.get("tokenRequests")
    token_text = "<unset>" if tokens is None else ",".join(str(_dict(t).get("audience", "")) for t in _list(tokens))
    modes = ",".join(str(m) for m in _list(spec.get("volumeLifecycleModes")))
    return [
        _name(obj),
        _bool(spec.get("attachRequired"), True),
        _bool(spec.get("podInfoOnMount"), False),
        _bool(spec.get("storageCapacity"), False),
        token_text,
        _bool(spec.get("requiresRepublish"), False),
        modes or "<none>",
        _age(obj, now),
    ]


def _csi_node(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), len(_list(_get(obj, "spec", "drivers"))), _age(obj, now)]


def _csi_storage_capacity(obj: dict[str, Any], now: datetime) -> list[Any]:
    capacity = obj.get("capacity")
    return [_name(obj), str(obj.get("storageClassName") or ""), "<unset>" if capacity is None else _text(capacity)]


def _volume_attachment(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _dict(obj.get("spec"))
    return [
        _name(obj),
        str(spec.get("attacher") or ""),
        str(_get(spec, "source", "persistentVolumeName") or ""),
        str(spec.get("nodeName") or ""),
        _bool(_get(obj, "status", "attached"), False),
        _age(obj, now),
    ]


# -- flow control, admission, aggregation ----------------------------------------------------------


def _flow_schema(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _dict(obj.get("spec"))
    method = _dict(spec.get("distinguisherMethod"))
    dangling = "?"
    for condition in _list(_get(obj, "status", "conditions")):
        c = _dict(condition)
        if c.get("type") == "Dangling":
            dangling = str(c.get("status") or "")
            break
    return [
        _name(obj),
        str(_get(spec, "priorityLevelConfiguration", "name") or ""),
        _int(spec.get("matchingPrecedence")),
        str(method.get("type") or "") if spec.get("distinguisherMethod") is not None else "<none>",
        _age(obj, now),
        dangling,
    ]


def _priority_level(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _dict(obj.get("spec"))
    shares: Any = "<none>"
    queues: Any = "<none>"
    hand_size: Any = "<none>"
    queue_length: Any = "<none>"
    limited = spec.get("limited")
    if isinstance(limited, dict):
        shares = _int(limited.get("nominalConcurrencyShares"))
        queuing = _get(limited, "limitResponse", "queuing")
        if isinstance(queuing, dict):
            queues = _int(queuing.get("queues"))
            hand_size = _int(queuing.get("handSize"))
            queue_length = _int(queuing.get("queueLengthLimit"))
    return [_name(obj), str(spec.get("type") or ""), shares, queues, hand_size, queue_length, _age(obj, now)]


def _webhook_configuration(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), len(_list(obj.get("webhooks"))), _age(obj, now)]


def _admission_policy(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _dict(obj.get("spec"))
    param_kind = "<unset>"
    if isinstance(spec.get("paramKind"), dict):
        param_kind = f"{spec['paramKind'].get('apiVersion', '')}/{spec['paramKind'].get('kind', '')}"
    return [_name(obj), len(_list(spec.get("validations"))), param_kind, _age(obj, now)]


def _admission_policy_binding(obj: dict[str, Any], now: datetime) -> list[Any]:
    spec = _dict(obj.get("spec"))
    param = "<unset>"
    ref = spec.get("paramRef")
    if isinstance(ref, dict):
        if ref.get("name"):
            param = f"{ref.get('namespace') or '*'}/{ref['name']}"
        elif ref.get("selector") is not None:
            param = format_label_selector(ref["selector"], empty="")
    return [_name(obj), str(spec.get("policyName") or ""), param, _age(obj, now)]


def _api_service(obj: dict[str, Any], now: datetime) -> list[Any]:
    service = _get(obj, "spec", "service")
    where = "Local" if not isinstance(service, dict) else f"{service.get('namespace', '')}/{service.get('name', '')}"
    available = "Unknown"
    for condition in _list(_get(obj, "status", "conditions")):
        c = _dict(condition)
        if c.get("type") == "Available":
            available = str(c.get("status") or "")
            if available != "True":
                available = f"{available} ({c.get('reason', '')})"
            break
    return [_name(obj), where, available, _age(obj, now)]


def _template_wide(*middle: dict[str, Any], selector: str) -> tuple[dict[str, Any], ...]:
    return (
        _NAME,
        *middle,
        _col("Containers", _CONTAINERS_DESC, priority=1),
        _col("Images", _IMAGES_DESC, priority=1),
        _col("Selector", selector, priority=1),
    )


#: both kinds of webhook configuration print alike
_WEBHOOK_CONFIGURATION = _Printer(
    (
        _NAME,
        _col("Webhooks", "Webhooks indicates the number of webhooks registered in this configuration", "integer"),
        _AGE,
    ),
    _webhook_configuration,
)


PRINTERS: dict[tuple[str, str], _Printer] = {
    ("", "PodTemplate"): _Printer(
        (
            _NAME,
            _col("Containers", _CONTAINERS_DESC),
            _col("Images", _IMAGES_DESC),
            _col("Pod Labels", "The labels for the pod template."),
        ),
        _pod_template,
    ),
    ("", "ReplicationController"): _Printer(
        _template_wide(
            _col("Desired", "How many pods are wanted.", "integer"),
            _col("Current", "How many pods were last observed.", "integer"),
            _col("Ready", "How many of them are ready.", "integer"),
            _AGE,
            selector="The labels of the pods this controller counts.",
        ),
        _replication_controller,
    ),
    ("", "PersistentVolume"): _Printer(
        (
            _NAME,
            _col("Capacity", "The storage the volume offers."),
            _col("Access Modes", "How the volume can be mounted."),
            _col("Reclaim Policy", "What happens to the volume once its claim is gone."),
            _col("Status", "The phase of the volume."),
            _col("Claim", "The claim bound to the volume."),
            _col("StorageClass", "StorageClass of the pv"),
            _col("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
            _col("Reason", "Why the volume is in its phase."),
            _AGE,
            _col("VolumeMode", "Filesystem or Block.", priority=1),
        ),
        _persistent_volume,
    ),
    ("", "ResourceQuota"): _Printer(
        (
            _NAME,
            _col("Request", "Used and hard amounts of everything but limits."),
            _col("Limit", "Used and hard amounts of limits.*."),
            _AGE,
        ),
        _resource_quota,
    ),
    ("", "ComponentStatus"): _Printer(
        (
            _NAME,
            _col("Status", "Status of the component conditions"),
            _col("Message", "Message of the component conditions"),
            _col("Error", "Error of the component conditions"),
        ),
        _component_status,
    ),
    ("apps", "ControllerRevision"): _Printer(
        (
            _NAME,
            _col("Controller", "Controller of the object"),
            _col("Revision", "The revision this object holds."),
            _AGE,
        ),
        _controller_revision,
    ),
    ("autoscaling", "HorizontalPodAutoscaler"): _Printer(
        (
            _NAME,
            _col("Reference", "The scaled resource."),
            _col("Targets", "Current and target values of each metric."),
            _col("MinPods", "The lower replica limit."),
            _col("MaxPods", "The upper replica limit."),
            _col("Replicas", "The replicas last seen by the autoscaler."),
            _AGE,
        ),
        _hpa,
    ),
    ("batch", "CronJob"): _Printer(
        _template_wide(
            _col("Schedule", "The cron schedule."),
            _col("Timezone", "The time zone of the schedule."),
            _col("Suspend", "Whether new runs are held back.", "boolean"),
            _col("Active", "Jobs currently running.", "integer"),
            _col("Last Schedule", "When a job was last scheduled."),
            _AGE,
            selector="A label query over the pods of the jobs.",
        ),
        _cron_job,
    ),
    ("networking.k8s.io", "Ingress"): _Printer(
        (
            _NAME,
            _col("Class", "The name of the IngressClass resource that should be used for additional configuration"),
            _col("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
            _col("Address", "Address is a list containing ingress points for the load-balancer"),
            _col("Ports", "Ports of TLS configurations that open"),
            _AGE,
        ),
        _ingress,
    ),
    ("networking.k8s.io", "IngressClass"): _Printer(
        (
            _NAME,
            _col("Controller", "Controller that is responsible for handling this class"),
            _col("Parameters", "A reference to a resource with additional parameters"),
            _AGE,
        ),
        _ingress_class,
    ),
    ("networking.k8s.io", "NetworkPolicy"): _Printer(
        (_NAME, _col("Pod-Selector", "The pods the policy applies to."), _AGE), _network_policy
    ),
    ("policy", "PodDisruptionBudget"): _Printer(
        (
            _NAME,
            _col("Min Available", "The minimum number of pods that must be available."),
            _col("Max Unavailable", "The maximum number of pods that may be unavailable."),
            _col("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.", "integer"),
            _AGE,
        ),
        _pdb,
    ),
    ("scheduling.k8s.io", "PriorityClass"): _Printer(
        (
            _NAME,
            _col("Value", "The priority pods of this class get.", "integer"),
            _col("Global-Default", "Whether pods without a class get this one.", "boolean"),
            _AGE,
            _col("PreemptionPolicy", "Whether pods of this class preempt lower ones.", priority=1),
        ),
        _priority_class,
    ),
    ("discovery.k8s.io", "EndpointSlice"): _Printer(
        (
            _NAME,
            _col("AddressType", "The type of the addresses."),
            _col("Ports", "The ports of the endpoints."),
            _col("Endpoints", "The addresses of the endpoints."),
            _AGE,
        ),
        _endpoint_slice,
    ),
    ("node.k8s.io", "RuntimeClass"): _Printer(
        (_NAME, _col("Handler", "The CRI handler of the class."), _AGE), _runtime_class
    ),
    ("storage.k8s.io", "StorageClass"): _Printer(
        (
            _NAME,
            _col("Provisioner", "The volume plugin that provisions volumes of this class."),
            _col("ReclaimPolicy", "What happens to provisioned volumes once released."),
            _col("VolumeBindingMode", "When volumes are bound and provisioned."),
            _col("AllowVolumeExpansion", "Whether volumes may grow."),
            _AGE,
        ),
        _storage_class,
    ),
    ("storage.k8s.io", "CSIDriver"): _Printer(
        (
            _NAME,
            _col("AttachRequired", "Whether volumes must be attached first.", "boolean"),
            _col("PodInfoOnMount", "Whether mounts get pod information.", "boolean"),
            _col("StorageCapacity", "Whether capacity is tracked.", "boolean"),
            _col("TokenRequests", "The audiences of service account tokens handed to the driver."),
            _col("RequiresRepublish", "Whether volumes are republished periodically.", "boolean"),
            _col("Modes", "The volume lifecycle modes supported."),
            _AGE,
        ),
        _csi_driver,
    ),
    ("storage.k8s.io", "CSINode"): _Printer(
        (
            _NAME,
            _col("Drivers", "Drivers indicates the number of CSI drivers registered on the node", "integer"),
            _AGE,
        ),
        _csi_node,
    ),
    ("storage.k8s.io", "CSIStorageCapacity"): _Printer(
        (
            _NAME,
            _col("StorageClassName", "The storage class the capacity is for."),
            _col("Capacity", "The capacity reported."),
        ),
        _csi_storage_capacity,
    ),
    ("storage.k8s.io", "VolumeAttachment"): _Printer(
        (
            _NAME,
            _col("Attacher", "The driver that attaches the volume.", fmt="name"),
            _col("PV", "The persistent volume attached."),
            _col("Node", "The node the volume is attached to."),
            _col("Attached", "Whether the attach operation succeeded.", "boolean"),
            _AGE,
        ),
        _volume_attachment,
    ),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"): _Printer(
        (
            _NAME,
            _col("PriorityLevel", "The priority level requests of this schema go to."),
            _col("MatchingPrecedence", "Lower values match first."),
            _col("DistinguisherMethod", "How flows are told apart."),
            _AGE,
            _col("MissingPL", "references a broken or non-existent PriorityLevelConfiguration"),
        ),
        _flow_schema,
    ),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): _Printer(
        (
            _NAME,
            _col("Type", "Exempt or Limited."),
            _col("NominalConcurrencyShares", "The share of the server's concurrency."),
            _col("Queues", "The number of queues."),
            _col("HandSize", "The queues a flow is dealt."),
            _col("QueueLengthLimit", "Requests a queue may hold."),
            _AGE,
        ),
        _priority_level,
    ),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): _WEBHOOK_CONFIGURATION,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): _WEBHOOK_CONFIGURATION,
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): _Printer(
        (
            _NAME,
            _col("Validations", "The number of validation rules of the policy.", "integer"),
            _col("ParamKind", "ParamKind specifies the kind of resources used to parameterize this policy"),
            _AGE,
        ),
        _admission_policy,
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"): _Printer(
        (
            _NAME,
            _col("PolicyName", "The policy this binding binds."),
            _col("ParamRef", "The parameter resource of the binding."),
            _AGE,
        ),
        _admission_policy_binding,
    ),
    ("apiregistration.k8s.io", "APIService"): _Printer(
        (
            _NAME,
            _col("Service", "The name of the service that is hosting this API"),
            _col("Available", "Whether this service is available"),
            _AGE,
        ),
        _api_service,
    ),
}
