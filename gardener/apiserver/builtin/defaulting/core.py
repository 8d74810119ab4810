"""Defaulting of the core/v1 kinds and of the pod spec every workload embeds (kube's pkg/apis/core/v1).

Which defaulter applies where follows upstream's generated defaulters: a Pod gets SetDefaults_Pod and
SetDefaults_PodSpec, a pod *template* (in Deployments, Jobs, ...) only SetDefaults_PodSpec and the nested
container, volume and probe defaults, so templates never get enableServiceLinks or requests copied from limits.
"""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.defaulting._walk import default, default_zero, empty, ensure, struct, structs, unset
from gardener.apiserver.builtin.defaulting.quantity import canonical, canonical_list
from gardener.apiserver.builtin.schemas import VOLUME_SOURCES

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
#: 0644, the default file mode of secret, configMap, downwardAPI and projected volumes
_FILE_MODE = 420


def image_pull_policy(image: Any) -> str:
    """Always for `:latest` or an untagged image, IfNotPresent otherwise (a digest alone pins the image)."""
    if not isinstance(image, str) or not image:
        return "IfNotPresent"  # kube's parser fails, and the default falls to IfNotPresent
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else ("" if digest else "latest")
    return "Always" if tag == "latest" else "IfNotPresent"


def _http_get(action: Any) -> None:
    if isinstance(action, dict):
        default_zero(action, "path", "/")
        default_zero(action, "scheme", "HTTP")


def _probe(probe: dict[str, Any]) -> None:
    default_zero(probe, "timeoutSeconds", 1)
    default_zero(probe, "periodSeconds", 10)
    default_zero(probe, "successThreshold", 1)
    default_zero(probe, "failureThreshold", 3)
    _http_get(struct(probe, "httpGet"))
    grpc = struct(probe, "grpc")
    if grpc is not None:
        default(grpc, "service", "")


def field_selector(selector: Any) -> None:
    """SetDefaults_ObjectFieldSelector."""
    default_zero(selector, "apiVersion", "v1")


def container(c: dict[str, Any]) -> None:
    """SetDefaults_Container plus what the generated defaulter applies inside a container."""
    if empty(c, "imagePullPolicy"):
        c["imagePullPolicy"] = image_pull_policy(c.get("image"))
    default_zero(c, "terminationMessagePath", "/dev/termination-log")
    default_zero(c, "terminationMessagePolicy", "File")
    # not a defaulter: Go always encodes this value struct, so kube shows `resources: {}` on every container
    default(c, "resources", {})
    for port in structs(c, "ports"):
        default_zero(port, "protocol", "TCP")
    for env in structs(c, "env"):
        field_selector(struct(struct(env, "valueFrom"), "fieldRef"))
    resources = struct(c, "resources")
    canonical_list(resources, "limits")
    canonical_list(resources, "requests")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = struct(c, key)
        if probe is not None:
            _probe(probe)
    lifecycle = struct(c, "lifecycle")
    for hook in ("postStart", "preStop"):
        _http_get(struct(struct(lifecycle, hook), "httpGet"))


def claim_spec(spec: Any) -> None:
    """SetDefaults_PersistentVolumeClaimSpec and the resource lists inside it."""
    if not isinstance(spec, dict):
        return
    default(spec, "volumeMode", "Filesystem")
    resources = struct(spec, "resources")
    canonical_list(resources, "limits")
    canonical_list(resources, "requests")


def _azure_disk(source: dict[str, Any]) -> None:
    default(source, "cachingMode", "ReadWrite")
    default(source, "kind", "Shared")
    default(source, "fsType", "ext4")
    default(source, "readOnly", False)


def _scale_io(source: dict[str, Any]) -> None:
    default_zero(source, "storageMode", "ThinProvisioned")
    default_zero(source, "fsType", "xfs")


def _rbd(source: dict[str, Any]) -> None:
    default_zero(source, "pool", "rbd")
    default_zero(source, "user", "admin")
    default_zero(source, "keyring", "/etc/ceph/keyring")


def _iscsi(source: dict[str, Any]) -> None:
    default_zero(source, "iscsiInterface", "default")


def _host_path(source: dict[str, Any]) -> None:
    default(source, "type", "")


def _sources(holder: dict[str, Any]) -> None:
    """The defaulters of the volume sources a pod volume and a persistent volume share."""
    for key, defaulter in (
        ("hostPath", _host_path),
        ("iscsi", _iscsi),
        ("rbd", _rbd),
        ("azureDisk", _azure_disk),
        ("scaleIO", _scale_io),
    ):
        source = struct(holder, key)
        if source is not None:
            defaulter(source)


def volume(v: dict[str, Any]) -> None:
    """SetDefaults_Volume and the defaults of each volume source."""
    if all(unset(v, key) for key in VOLUME_SOURCES):
        v["emptyDir"] = {}
    _sources(v)
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        default(struct(v, key), "defaultMode", _FILE_MODE)
    for item in structs(struct(v, "downwardAPI"), "items"):
        field_selector(struct(item, "fieldRef"))
    for source in structs(struct(v, "projected"), "sources"):
        for item in structs(struct(source, "downwardAPI"), "items"):
            field_selector(struct(item, "fieldRef"))
        default(struct(source, "serviceAccountToken"), "expirationSeconds", 3600)
    empty_dir = struct(v, "emptyDir")
    if empty_dir is not None and "sizeLimit" in empty_dir:
        empty_dir["sizeLimit"] = canonical(empty_dir["sizeLimit"])
    claim_spec(struct(struct(struct(v, "ephemeral"), "volumeClaimTemplate"), "spec"))


def pod_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec and the nested defaulters, for pods and pod templates alike."""
    default_zero(spec, "dnsPolicy", "ClusterFirst")
    default_zero(spec, "restartPolicy", "Always")
    default(spec, "securityContext", {})
    default(spec, "terminationGracePeriodSeconds", 30)
    default_zero(spec, "schedulerName", "default-scheduler")
    for v in structs(spec, "volumes"):
        volume(v)
    for key in _CONTAINER_LISTS:
        for c in structs(spec, key):
            container(c)
    canonical_list(spec, "overhead")


def pod_template(template: Any) -> None:
    """A PodTemplateSpec embedded in a workload (absent templates stay absent for validation to report)."""
    spec = ensure(template, "spec") if isinstance(template, dict) else None
    if spec is not None:
        pod_spec(spec)


def pod(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    # SetDefaults_Pod: requests default to limits, per container (not on templates)
    for key in ("containers", "initContainers"):
        for c in structs(spec, key):
            resources = struct(c, "resources")
            limits = struct(resources, "limits")
            if resources is None or limits is None:
                continue
            requests = ensure(resources, "requests")
            if requests is not None:
                for name, amount in limits.items():
                    requests.setdefault(name, amount)
    default(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for c in structs(spec, key):
                for port in structs(c, "ports"):
                    if empty(port, "hostPort") and isinstance(port.get("containerPort"), int):
                        port["hostPort"] = port["containerPort"]
    pod_spec(spec)
    status = struct(obj, "status")
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for st in structs(status, key):
            canonical_list(st, "allocatedResources")
            resources = struct(st, "resources")
            canonical_list(resources, "limits")
            canonical_list(resources, "requests")


def pod_template_kind(obj: dict[str, Any]) -> None:
    """The PodTemplate kind."""
    pod_template(struct(obj, "template"))


def replication_controller(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    template = struct(spec, "template")
    labels = struct(struct(template, "metadata"), "labels")
    if labels is not None:
        if empty(spec, "selector"):
            spec["selector"] = dict(labels)
        metadata = struct(obj, "metadata")
        if metadata is not None and empty(metadata, "labels"):
            metadata["labels"] = dict(labels)
    default(spec, "replicas", 1)
    pod_template(template)


def service(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    if spec is None:
        return
    default_zero(spec, "sessionAffinity", "None")
    config = spec.get("sessionAffinityConfig")
    if config is None or isinstance(config, dict):  # another JSON type is left for validation
        if spec.get("sessionAffinity") == "None":
            spec.pop("sessionAffinityConfig", None)
        elif spec.get("sessionAffinity") == "ClientIP":
            client_ip = (config or {}).get("clientIP")
            if client_ip is None or (isinstance(client_ip, dict) and unset(client_ip, "timeoutSeconds")):
                spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    default_zero(spec, "type", "ClusterIP")
    for port in structs(spec, "ports"):
        default_zero(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and isinstance(port.get("port"), int):
            port["targetPort"] = port["port"]
    kind = spec.get("type")
    externally_accessible = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and not empty(spec, "externalIPs")
    )
    if externally_accessible:
        default_zero(spec, "externalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer", "ClusterIP"):
        default(spec, "internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        default(spec, "allocateLoadBalancerNodePorts", True)
        for ingress in structs(struct(struct(obj, "status"), "loadBalancer"), "ingress"):
            if not empty(ingress, "ip"):
                default(ingress, "ipMode", "VIP")


def endpoints(obj: dict[str, Any]) -> None:
    for subset in structs(obj, "subsets"):
        for port in structs(subset, "ports"):
            default_zero(port, "protocol", "TCP")


def persistent_volume(obj: dict[str, Any]) -> None:
    spec = ensure(obj, "spec")
    status = ensure(obj, "status")
    default_zero(status, "phase", "Pending")
    if spec is None:
        return
    default_zero(spec, "persistentVolumeReclaimPolicy", "Retain")
    default(spec, "volumeMode", "Filesystem")
    pv_sources(spec)


def pv_sources(spec: dict[str, Any]) -> None:
    """The nested defaulters of a PersistentVolumeSpec (also a VolumeAttachment's inline volume spec)."""
    canonical_list(spec, "capacity")
    _sources(spec)


def claim(obj: dict[str, Any]) -> None:
    """A PersistentVolumeClaim, also as a StatefulSet's volumeClaimTemplates entry."""
    default_zero(ensure(obj, "status"), "phase", "Pending")
    claim_spec(ensure(obj, "spec"))
    status = struct(obj, "status")
    canonical_list(status, "capacity")
    canonical_list(status, "allocatedResources")


def node(obj: dict[str, Any]) -> None:
    status = struct(obj, "status")
    if status is None:
        return
    if unset(status, "allocatable") and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])
    canonical_list(status, "capacity")
    canonical_list(status, "allocatable")


def namespace(obj: dict[str, Any]) -> None:
    metadata = struct(obj, "metadata")
    name = metadata.get("name") if metadata is not None else None
    if metadata is not None and isinstance(name, str) and name:
        labels = ensure(metadata, "labels")
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = name
    default_zero(ensure(obj, "status"), "phase", "Active")


def limit_range(obj: dict[str, Any]) -> None:
    for item in structs(struct(obj, "spec"), "limits"):
        if item.get("type") == "Container":
            defaults = ensure(item, "default")
            requests = ensure(item, "defaultRequest")
            if defaults is not None and requests is not None:
                for source, target in (("max", defaults), ("default", requests), ("min", requests)):
                    for name, amount in (struct(item, source) or {}).items():
                        target.setdefault(name, amount)
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            canonical_list(item, key)
            if item.get(key) == {}:
                del item[key]  # an empty ResourceList is omitted on the wire


def resource_quota(obj: dict[str, Any]) -> None:
    canonical_list(struct(obj, "spec"), "hard")
    status = struct(obj, "status")
    canonical_list(status, "hard")
    canonical_list(status, "used")


def secret(obj: dict[str, Any]) -> None:
    default_zero(obj, "type", "Opaque")
