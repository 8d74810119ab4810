"""Decode Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into JSON-shaped dicts.

client-go (and so kubectl) encodes built-in kinds as protobuf for typed calls: `kubectl create namespace|configmap|
secret|serviceaccount|role|rolebinding|clusterrole|clusterrolebinding|deployment|job|cronjob|service|quota|
priorityclass|poddisruptionbudget|ingress`, `kubectl create token`, `kubectl auth can-i|whoami`, `kubectl autoscale`
and `kubectl certificate approve|deny` all send protobuf and never fall back to JSON. This module turns such a body
into exactly the dict the JSON encoding of the same Go object would have produced, so the rest of the server only
ever sees JSON.

The body is the kube envelope: the magic bytes ``k8s\\x00`` then a `runtime.Unknown` message
``{1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}`` whose `raw` is the typed
message (without TypeMeta). The typed message is read with a small generic proto2 wire-format reader driven by a
declarative schema (`_SCHEMA`) transcribed from the `generated.proto` / `types.go` files of k8s.io/api and
k8s.io/apimachinery: field number -> JSON name and type.

JSON fidelity rules (what Go's encoding/json does with the same object):

* gogo-protobuf writes every non-pointer field, even when empty, and pointer fields only when set. Scalar fields
  that are `omitempty` in Go are therefore dropped here when zero; fields that are pointers or not `omitempty`
  are marked ``*`` in the schema and keep their zero value (``replicas: 0``, ``immutable: false``).
* Nested structs present on the wire are emitted even when empty (``"spec": {}``), as Go does; a zero
  `metav1.Time` (Go marshals it as ``null``) is omitted.
* Structs embedded with ``json:",inline"`` (``VolumeSource`` in ``Volume``, ``LocalObjectReference`` in key
  selectors, ``ProbeHandler`` in ``Probe`` ...) are merged into their parent, schema name ``-``.
* ``bytes`` become base64 strings, ``Quantity`` a string, ``IntOrString`` an int or a string, ``Time`` RFC 3339.

Unknown field numbers are skipped (forward compatible: a newer client may send fields this table lacks); an
unknown (apiVersion, kind) raises `ProtobufError` with code 415, malformed input with code 400.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

MAGIC: Final = b"k8s\x00"
PROTOBUF_MEDIA_TYPE: Final = "application/vnd.kubernetes.protobuf"

_MAX_DEPTH: Final = 64
_U64: Final = (1 << 64) - 1
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_GO_ZERO_TIME_SECONDS: Final = -62135596800  # time.Time{}.Unix(): 0001-01-01T00:00:00Z

# wire types
_VARINT: Final = 0
_FIXED64: Final = 1
_LEN: Final = 2
_FIXED32: Final = 5


class ProtobufError(Exception):
    """A protobuf body this server cannot turn into JSON; `code` is the HTTP status to answer with.

    400 for malformed input (bad magic, truncated or inconsistent wire data), 415 for a well-formed envelope
    carrying a kind (or content encoding) this decoder has no schema for: the client should send JSON instead.
    """

    code: int

    def __init__(self, message: str, *, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


# --- wire format -------------------------------------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise ProtobufError("truncated protobuf: varint runs past the end of the message")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _U64, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("malformed protobuf: varint longer than 10 bytes")


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value): an int for varints, raw bytes for everything else."""
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("malformed protobuf: field number 0")
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == _LEN:
            length, pos = _varint(buf, pos)
            if length > end - pos:
                raise ProtobufError(f"truncated protobuf: field {number} claims {length} bytes, {end - pos} remain")
            yield number, wire, buf[pos : pos + length]
            pos += length
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if size > end - pos:
                raise ProtobufError(f"truncated protobuf: fixed-width field {number} runs past the end")
            yield number, wire, buf[pos : pos + size]
            pos += size
        else:
            raise ProtobufError(f"malformed protobuf: unsupported wire type {wire} for field {number}")


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _packed_varints(buf: bytes) -> Iterator[int]:
    pos = 0
    while pos < len(buf):
        value, pos = _varint(buf, pos)
        yield value


# --- schema ------------------------------------------------------------------------------------

_VARINT_KINDS: Final = frozenset({"int32", "int64", "bool"})
_SCALAR_KINDS: Final = _VARINT_KINDS | {"string", "bytes"}
# Kinds encoded as small messages but rendered as JSON scalars or lists.
_WRAPPER_KINDS: Final = frozenset({"quantity", "intstr", "time", "raw", "extra"})


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # JSON name; "" for an inlined (embedded) struct
    kind: str  # scalar kind, wrapper kind or message type name
    repeated: bool = False
    mapped: bool = False  # map<string, kind>
    keep_zero: bool = False  # Go pointer or non-omitempty field: a zero value is still emitted

    @property
    def inline(self) -> bool:
        return not self.name


def _parse_field(number: int, spec: str) -> _Field:
    name, _, kind = spec.partition(" ")
    keep = kind.startswith("*")
    kind = kind.removeprefix("*")
    repeated = kind.startswith("[]")
    mapped = kind.startswith("{}")
    kind = kind[2:] if repeated or mapped else kind
    if not kind or (name == "-" and (repeated or mapped or kind in _SCALAR_KINDS | _WRAPPER_KINDS)):
        raise ValueError(f"bad protobuf schema entry {number}: {spec!r}")
    return _Field("" if name == "-" else name, kind, repeated, mapped, keep)


# Per message: field number -> "jsonName type". Type grammar: optional "*" (keep zero values: Go pointer or
# non-omitempty field), then "[]" (repeated) or "{}" (map<string, ...>), then a scalar kind (string, bytes,
# int32, int64, bool), a wrapper kind (quantity, intstr, time, raw = RawExtension/FieldsV1,
# extra = ExtraValue string list) or a message type name. JSON name "-" inlines the message into its parent.
_RAW_SCHEMA: Final[dict[str, dict[int, str]]] = {
    # k8s.io/apimachinery/pkg/apis/meta/v1
    "meta.ObjectMeta": {
        1: "name string",
        2: "generateName string",
        3: "namespace string",
        4: "selfLink string",
        5: "uid string",
        6: "resourceVersion string",
        7: "generation int64",
        8: "creationTimestamp time",
        9: "deletionTimestamp time",
        10: "deletionGracePeriodSeconds *int64",
        11: "labels {}string",
        12: "annotations {}string",
        13: "ownerReferences []meta.OwnerReference",
        14: "finalizers []string",
        17: "managedFields []meta.ManagedFieldsEntry",
    },
    "meta.OwnerReference": {
        5: "apiVersion *string",
        1: "kind *string",
        3: "name *string",
        4: "uid *string",
        6: "controller *bool",
        7: "blockOwnerDeletion *bool",
    },
    "meta.ManagedFieldsEntry": {
        1: "manager string",
        2: "operation string",
        3: "apiVersion string",
        4: "time time",
        6: "fieldsType string",
        7: "fieldsV1 raw",
        8: "subresource string",
    },
    "meta.LabelSelector": {1: "matchLabels {}string", 2: "matchExpressions []meta.LabelSelectorRequirement"},
    "meta.LabelSelectorRequirement": {1: "key *string", 2: "operator *string", 3: "values []string"},
    "meta.FieldSelectorRequirement": {1: "key *string", 2: "operator *string", 3: "values []string"},
    "meta.Condition": {
        1: "type *string",
        2: "status *string",
        3: "observedGeneration int64",
        4: "lastTransitionTime time",
        5: "reason *string",
        6: "message *string",
    },
    "meta.DeleteOptions": {
        1: "gracePeriodSeconds *int64",
        2: "preconditions meta.Preconditions",
        3: "orphanDependents *bool",
        4: "propagationPolicy *string",
        5: "dryRun []string",
        6: "ignoreStoreReadErrorWithClusterBreakingPotential *bool",
    },
    "meta.Preconditions": {1: "uid *string", 2: "resourceVersion *string"},
    # k8s.io/api/core/v1
    "core.Namespace": {1: "metadata meta.ObjectMeta", 2: "spec core.NamespaceSpec", 3: "status core.NamespaceStatus"},
    "core.NamespaceSpec": {1: "finalizers []string"},
    "core.NamespaceStatus": {1: "phase string", 2: "conditions []core.NamespaceCondition"},
    "core.NamespaceCondition": {
        1: "type *string",
        2: "status *string",
        4: "lastTransitionTime time",
        5: "reason string",
        6: "message string",
    },
    "core.ConfigMap": {
        1: "metadata meta.ObjectMeta",
        4: "immutable *bool",
        2: "data {}string",
        3: "binaryData {}bytes",
    },
    "core.Secret": {
        1: "metadata meta.ObjectMeta",
        5: "immutable *bool",
        2: "data {}bytes",
        4: "stringData {}string",
        3: "type string",
    },
    "core.ServiceAccount": {
        1: "metadata meta.ObjectMeta",
        2: "secrets []core.ObjectReference",
        3: "imagePullSecrets []core.LocalObjectReference",
        4: "automountServiceAccountToken *bool",
    },
    "core.ObjectReference": {
        1: "kind string",
        2: "namespace string",
        3: "name string",
        4: "uid string",
        5: "apiVersion string",
        6: "resourceVersion string",
        7: "fieldPath string",
    },
    "core.LocalObjectReference": {1: "name string"},
    "core.TypedLocalObjectReference": {1: "apiGroup *string", 2: "kind *string", 3: "name *string"},
    "core.TypedObjectReference": {1: "apiGroup *string", 2: "kind *string", 3: "name *string", 4: "namespace *string"},
    "core.Binding": {1: "metadata meta.ObjectMeta", 2: "target core.ObjectReference"},
    "core.Pod": {1: "metadata meta.ObjectMeta", 2: "spec core.PodSpec", 3: "status core.PodStatus"},
    "core.PodTemplate": {1: "metadata meta.ObjectMeta", 2: "template core.PodTemplateSpec"},
    "core.PodTemplateSpec": {1: "metadata meta.ObjectMeta", 2: "spec core.PodSpec"},
    "core.PodSpec": {
        1: "volumes []core.Volume",
        20: "initContainers []core.Container",
        2: "containers []core.Container",
        34: "ephemeralContainers []core.EphemeralContainer",
        3: "restartPolicy string",
        4: "terminationGracePeriodSeconds *int64",
        5: "activeDeadlineSeconds *int64",
        6: "dnsPolicy string",
        7: "nodeSelector {}string",
        8: "serviceAccountName string",
        9: "serviceAccount string",
        21: "automountServiceAccountToken *bool",
        10: "nodeName string",
        11: "hostNetwork bool",
        12: "hostPID bool",
        13: "hostIPC bool",
        27: "shareProcessNamespace *bool",
        14: "securityContext core.PodSecurityContext",
        15: "imagePullSecrets []core.LocalObjectReference",
        16: "hostname string",
        17: "subdomain string",
        18: "affinity core.Affinity",
        19: "schedulerName string",
        22: "tolerations []core.Toleration",
        23: "hostAliases []core.HostAlias",
        24: "priorityClassName string",
        25: "priority *int32",
        26: "dnsConfig core.PodDNSConfig",
        28: "readinessGates []core.PodReadinessGate",
        29: "runtimeClassName *string",
        30: "enableServiceLinks *bool",
        31: "preemptionPolicy *string",
        32: "overhead {}quantity",
        33: "topologySpreadConstraints []core.TopologySpreadConstraint",
        35: "setHostnameAsFQDN *bool",
        36: "os core.PodOS",
        37: "hostUsers *bool",
        38: "schedulingGates []core.PodSchedulingGate",
        39: "resourceClaims []core.PodResourceClaim",
        40: "resources core.ResourceRequirements",
        41: "hostnameOverride *string",
    },
    "core.Container": {
        1: "name *string",
        2: "image string",
        3: "command []string",
        4: "args []string",
        5: "workingDir string",
        6: "ports []core.ContainerPort",
        19: "envFrom []core.EnvFromSource",
        7: "env []core.EnvVar",
        8: "resources core.ResourceRequirements",
        23: "resizePolicy []core.ContainerResizePolicy",
        24: "restartPolicy *string",
        25: "restartPolicyRules []core.ContainerRestartRule",
        9: "volumeMounts []core.VolumeMount",
        21: "volumeDevices []core.VolumeDevice",
        10: "livenessProbe core.Probe",
        11: "readinessProbe core.Probe",
        22: "startupProbe core.Probe",
        12: "lifecycle core.Lifecycle",
        13: "terminationMessagePath string",
        20: "terminationMessagePolicy string",
        14: "imagePullPolicy string",
        15: "securityContext core.SecurityContext",
        16: "stdin bool",
        17: "stdinOnce bool",
        18: "tty bool",
    },
    "core.EphemeralContainer": {1: "- core.Container", 2: "targetContainerName string"},
    "core.ContainerPort": {
        1: "name string",
        2: "hostPort int32",
        3: "containerPort *int32",
        4: "protocol string",
        5: "hostIP string",
    },
    "core.EnvVar": {1: "name *string", 2: "value string", 3: "valueFrom core.EnvVarSource"},
    "core.EnvVarSource": {
        1: "fieldRef core.ObjectFieldSelector",
        2: "resourceFieldRef core.ResourceFieldSelector",
        3: "configMapKeyRef core.ConfigMapKeySelector",
        4: "secretKeyRef core.SecretKeySelector",
        5: "fileKeyRef core.FileKeySelector",
    },
    "core.ObjectFieldSelector": {1: "apiVersion string", 2: "fieldPath *string"},
    "core.ResourceFieldSelector": {1: "containerName string", 2: "resource *string", 3: "divisor quantity"},
    "core.ConfigMapKeySelector": {1: "- core.LocalObjectReference", 2: "key *string", 3: "optional *bool"},
    "core.SecretKeySelector": {1: "- core.LocalObjectReference", 2: "key *string", 3: "optional *bool"},
    "core.FileKeySelector": {1: "volumeName *string", 2: "path *string", 3: "key *string", 4: "optional *bool"},
    "core.EnvFromSource": {
        1: "prefix string",
        2: "configMapRef core.ConfigMapEnvSource",
        3: "secretRef core.SecretEnvSource",
    },
    "core.ConfigMapEnvSource": {1: "- core.LocalObjectReference", 2: "optional *bool"},
    "core.SecretEnvSource": {1: "- core.LocalObjectReference", 2: "optional *bool"},
    "core.ResourceRequirements": {1: "limits {}quantity", 2: "requests {}quantity", 3: "claims []core.ResourceClaim"},
    "core.VolumeResourceRequirements": {1: "limits {}quantity", 2: "requests {}quantity"},
    "core.ResourceClaim": {1: "name *string", 2: "request string"},
    "core.ContainerResizePolicy": {1: "resourceName *string", 2: "restartPolicy *string"},
    "core.ContainerRestartRule": {1: "action string", 2: "exitCodes core.ContainerRestartRuleOnExitCodes"},
    "core.ContainerRestartRuleOnExitCodes": {1: "operator string", 2: "values []int32"},
    "core.VolumeMount": {
        1: "name *string",
        2: "readOnly bool",
        7: "recursiveReadOnly *string",
        3: "mountPath *string",
        4: "subPath string",
        5: "mountPropagation *string",
        6: "subPathExpr string",
    },
    "core.VolumeDevice": {1: "name *string", 2: "devicePath *string"},
    "core.Probe": {
        1: "- core.ProbeHandler",
        2: "initialDelaySeconds int32",
        3: "timeoutSeconds int32",
        4: "periodSeconds int32",
        5: "successThreshold int32",
        6: "failureThreshold int32",
        7: "terminationGracePeriodSeconds *int64",
    },
    "core.ProbeHandler": {
        1: "exec core.ExecAction",
        2: "httpGet core.HTTPGetAction",
        3: "tcpSocket core.TCPSocketAction",
        4: "grpc core.GRPCAction",
    },
    "core.ExecAction": {1: "command []string"},
    "core.HTTPGetAction": {
        1: "path string",
        2: "port intstr",
        3: "host string",
        4: "scheme string",
        5: "httpHeaders []core.HTTPHeader",
    },
    "core.HTTPHeader": {1: "name *string", 2: "value *string"},
    "core.TCPSocketAction": {1: "port intstr", 2: "host string"},
    "core.GRPCAction": {1: "port *int32", 2: "service *string"},
    "core.Lifecycle": {
        1: "postStart core.LifecycleHandler",
        2: "preStop core.LifecycleHandler",
        3: "stopSignal *string",
    },
    "core.LifecycleHandler": {
        1: "exec core.ExecAction",
        2: "httpGet core.HTTPGetAction",
        3: "tcpSocket core.TCPSocketAction",
        4: "sleep core.SleepAction",
    },
    "core.SleepAction": {1: "seconds *int64"},
    "core.SecurityContext": {
        1: "capabilities core.Capabilities",
        2: "privileged *bool",
        3: "seLinuxOptions core.SELinuxOptions",
        10: "windowsOptions core.WindowsSecurityContextOptions",
        4: "runAsUser *int64",
        8: "runAsGroup *int64",
        5: "runAsNonRoot *bool",
        6: "readOnlyRootFilesystem *bool",
        7: "allowPrivilegeEscalation *bool",
        9: "procMount *string",
        11: "seccompProfile core.SeccompProfile",
        12: "appArmorProfile core.AppArmorProfile",
    },
    "core.Capabilities": {1: "add []string", 2: "drop []string"},
    "core.SELinuxOptions": {1: "user string", 2: "role string", 3: "type string", 4: "level string"},
    "core.WindowsSecurityContextOptions": {
        1: "gmsaCredentialSpecName *string",
        2: "gmsaCredentialSpec *string",
        3: "runAsUserName *string",
        4: "hostProcess *bool",
    },
    "core.SeccompProfile": {1: "type *string", 2: "localhostProfile *string"},
    "core.AppArmorProfile": {1: "type *string", 2: "localhostProfile *string"},
    "core.PodSecurityContext": {
        1: "seLinuxOptions core.SELinuxOptions",
        8: "windowsOptions core.WindowsSecurityContextOptions",
        2: "runAsUser *int64",
        6: "runAsGroup *int64",
        3: "runAsNonRoot *bool",
        4: "supplementalGroups []int64",
        12: "supplementalGroupsPolicy *string",
        5: "fsGroup *int64",
        7: "sysctls []core.Sysctl",
        9: "fsGroupChangePolicy *string",
        10: "seccompProfile core.SeccompProfile",
        11: "appArmorProfile core.AppArmorProfile",
        13: "seLinuxChangePolicy *string",
    },
    "core.Sysctl": {1: "name *string", 2: "value *string"},
    "core.Toleration": {
        1: "key string",
        2: "operator string",
        3: "value string",
        4: "effect string",
        5: "tolerationSeconds *int64",
    },
    "core.HostAlias": {1: "ip *string", 2: "hostnames []string"},
    "core.PodDNSConfig": {1: "nameservers []string", 2: "searches []string", 3: "options []core.PodDNSConfigOption"},
    "core.PodDNSConfigOption": {1: "name string", 2: "value *string"},
    "core.PodReadinessGate": {1: "conditionType *string"},
    "core.PodOS": {1: "name *string"},
    "core.PodSchedulingGate": {1: "name *string"},
    "core.PodResourceClaim": {
        1: "name *string",
        3: "resourceClaimName *string",
        4: "resourceClaimTemplateName *string",
    },
    "core.TopologySpreadConstraint": {
        1: "maxSkew *int32",
        2: "topologyKey *string",
        3: "whenUnsatisfiable *string",
        4: "labelSelector meta.LabelSelector",
        5: "minDomains *int32",
        6: "nodeAffinityPolicy *string",
        7: "nodeTaintsPolicy *string",
        8: "matchLabelKeys []string",
    },
    "core.Affinity": {
        1: "nodeAffinity core.NodeAffinity",
        2: "podAffinity core.PodAffinity",
        3: "podAntiAffinity core.PodAffinity",
    },
    "core.NodeAffinity": {
        1: "requiredDuringSchedulingIgnoredDuringExecution core.NodeSelector",
        2: "preferredDuringSchedulingIgnoredDuringExecution []core.PreferredSchedulingTerm",
    },
    "core.NodeSelector": {1: "nodeSelectorTerms []core.NodeSelectorTerm"},
    "core.NodeSelectorTerm": {
        1: "matchExpressions []core.NodeSelectorRequirement",
        2: "matchFields []core.NodeSelectorRequirement",
    },
    "core.NodeSelectorRequirement": {1: "key *string", 2: "operator *string", 3: "values []string"},
    "core.PreferredSchedulingTerm": {1: "weight *int32", 2: "preference core.NodeSelectorTerm"},
    # PodAffinity and PodAntiAffinity share one wire layout.
    "core.PodAffinity": {
        1: "requiredDuringSchedulingIgnoredDuringExecution []core.PodAffinityTerm",
        2: "preferredDuringSchedulingIgnoredDuringExecution []core.WeightedPodAffinityTerm",
    },
    "core.PodAffinityTerm": {
        1: "labelSelector meta.LabelSelector",
        2: "namespaces []string",
        3: "topologyKey *string",
        4: "namespaceSelector meta.LabelSelector",
        5: "matchLabelKeys []string",
        6: "mismatchLabelKeys []string",
    },
    "core.WeightedPodAffinityTerm": {1: "weight *int32", 2: "podAffinityTerm core.PodAffinityTerm"},
    "core.Volume": {1: "name *string", 2: "- core.VolumeSource"},
    # Cloud-provider and deprecated in-tree volume plugins are left out (skipped like unknown fields).
    "core.VolumeSource": {
        1: "hostPath core.HostPathVolumeSource",
        2: "emptyDir core.EmptyDirVolumeSource",
        5: "gitRepo core.GitRepoVolumeSource",
        6: "secret core.SecretVolumeSource",
        7: "nfs core.NFSVolumeSource",
        10: "persistentVolumeClaim core.PersistentVolumeClaimVolumeSource",
        16: "downwardAPI core.DownwardAPIVolumeSource",
        19: "configMap core.ConfigMapVolumeSource",
        26: "projected core.ProjectedVolumeSource",
        28: "csi core.CSIVolumeSource",
        29: "ephemeral core.EphemeralVolumeSource",
        30: "image core.ImageVolumeSource",
    },
    "core.HostPathVolumeSource": {1: "path *string", 2: "type *string"},
    "core.EmptyDirVolumeSource": {1: "medium string", 2: "sizeLimit quantity"},
    "core.GitRepoVolumeSource": {1: "repository *string", 2: "revision string", 3: "directory string"},
    "core.SecretVolumeSource": {
        1: "secretName string",
        2: "items []core.KeyToPath",
        3: "defaultMode *int32",
        4: "optional *bool",
    },
    "core.KeyToPath": {1: "key *string", 2: "path *string", 3: "mode *int32"},
    "core.NFSVolumeSource": {1: "server *string", 2: "path *string", 3: "readOnly bool"},
    "core.PersistentVolumeClaimVolumeSource": {1: "claimName *string", 2: "readOnly bool"},
    "core.DownwardAPIVolumeSource": {1: "items []core.DownwardAPIVolumeFile", 2: "defaultMode *int32"},
    "core.DownwardAPIVolumeFile": {
        1: "path *string",
        2: "fieldRef core.ObjectFieldSelector",
        3: "resourceFieldRef core.ResourceFieldSelector",
        4: "mode *int32",
    },
    "core.ConfigMapVolumeSource": {
        1: "- core.LocalObjectReference",
        2: "items []core.KeyToPath",
        3: "defaultMode *int32",
        4: "optional *bool",
    },
    "core.ProjectedVolumeSource": {1: "sources []core.VolumeProjection", 2: "defaultMode *int32"},
    "core.VolumeProjection": {
        1: "secret core.SecretProjection",
        2: "downwardAPI core.DownwardAPIProjection",
        3: "configMap core.ConfigMapProjection",
        4: "serviceAccountToken core.ServiceAccountTokenProjection",
    },
    "core.SecretProjection": {1: "- core.LocalObjectReference", 2: "items []core.KeyToPath", 4: "optional *bool"},
    "core.ConfigMapProjection": {1: "- core.LocalObjectReference", 2: "items []core.KeyToPath", 4: "optional *bool"},
    "core.DownwardAPIProjection": {1: "items []core.DownwardAPIVolumeFile"},
    "core.ServiceAccountTokenProjection": {1: "audience string", 2: "expirationSeconds *int64", 3: "path *string"},
    "core.CSIVolumeSource": {
        1: "driver *string",
        2: "readOnly *bool",
        3: "fsType *string",
        4: "volumeAttributes {}string",
        5: "nodePublishSecretRef core.LocalObjectReference",
    },
    "core.EphemeralVolumeSource": {1: "volumeClaimTemplate core.PersistentVolumeClaimTemplate"},
    "core.ImageVolumeSource": {1: "reference string", 2: "pullPolicy string"},
    "core.PersistentVolumeClaim": {
        1: "metadata meta.ObjectMeta",
        2: "spec core.PersistentVolumeClaimSpec",
        3: "status core.PersistentVolumeClaimStatus",
    },
    "core.PersistentVolumeClaimTemplate": {1: "metadata meta.ObjectMeta", 2: "spec core.PersistentVolumeClaimSpec"},
    "core.PersistentVolumeClaimSpec": {
        1: "accessModes []string",
        4: "selector meta.LabelSelector",
        2: "resources core.VolumeResourceRequirements",
        3: "volumeName string",
        5: "storageClassName *string",
        6: "volumeMode *string",
        7: "dataSource core.TypedLocalObjectReference",
        8: "dataSourceRef core.TypedObjectReference",
        9: "volumeAttributesClassName *string",
    },
    "core.PersistentVolumeClaimStatus": {1: "phase string", 2: "accessModes []string", 3: "capacity {}quantity"},
    "core.PodStatus": {
        1: "phase string",
        2: "conditions []core.PodCondition",
        3: "message string",
        4: "reason string",
        11: "nominatedNodeName string",
        5: "hostIP string",
        6: "podIP string",
        12: "podIPs []core.PodIP",
        7: "startTime time",
        10: "initContainerStatuses []core.ContainerStatus",
        8: "containerStatuses []core.ContainerStatus",
        9: "qosClass string",
        13: "ephemeralContainerStatuses []core.ContainerStatus",
    },
    "core.PodCondition": {
        1: "type *string",
        2: "status *string",
        7: "observedGeneration int64",
        3: "lastProbeTime time",
        4: "lastTransitionTime time",
        5: "reason string",
        6: "message string",
    },
    "core.PodIP": {1: "ip *string"},
    "core.ContainerStatus": {
        1: "name *string",
        2: "state core.ContainerState",
        3: "lastState core.ContainerState",
        4: "ready *bool",
        5: "restartCount *int32",
        6: "image *string",
        7: "imageID *string",
        8: "containerID string",
        9: "started *bool",
    },
    "core.ContainerState": {
        1: "waiting core.ContainerStateWaiting",
        2: "running core.ContainerStateRunning",
        3: "terminated core.ContainerStateTerminated",
    },
    "core.ContainerStateWaiting": {1: "reason string", 2: "message string"},
    "core.ContainerStateRunning": {1: "startedAt time"},
    "core.ContainerStateTerminated": {
        1: "exitCode *int32",
        2: "signal int32",
        3: "reason string",
        4: "message string",
        5: "startedAt time",
        6: "finishedAt time",
        7: "containerID string",
    },
    "core.Service": {1: "metadata meta.ObjectMeta", 2: "spec core.ServiceSpec", 3: "status core.ServiceStatus"},
    "core.ServiceSpec": {
        1: "ports []core.ServicePort",
        2: "selector {}string",
        3: "clusterIP string",
        18: "clusterIPs []string",
        4: "type string",
        5: "externalIPs []string",
        7: "sessionAffinity string",
        8: "loadBalancerIP string",
        9: "loadBalancerSourceRanges []string",
        10: "externalName string",
        11: "externalTrafficPolicy string",
        12: "healthCheckNodePort int32",
        13: "publishNotReadyAddresses bool",
        14: "sessionAffinityConfig core.SessionAffinityConfig",
        19: "ipFamilies []string",
        17: "ipFamilyPolicy *string",
        20: "allocateLoadBalancerNodePorts *bool",
        21: "loadBalancerClass *string",
        22: "internalTrafficPolicy *string",
    },
    "core.ServicePort": {
        1: "name string",
        2: "protocol string",
        6: "appProtocol *string",
        3: "port *int32",
        4: "targetPort intstr",
        5: "nodePort int32",
    },
    "core.SessionAffinityConfig": {1: "clientIP core.ClientIPConfig"},
    "core.ClientIPConfig": {1: "timeoutSeconds *int32"},
    "core.ServiceStatus": {1: "loadBalancer core.LoadBalancerStatus", 2: "conditions []meta.Condition"},
    "core.LoadBalancerStatus": {1: "ingress []core.LoadBalancerIngress"},
    "core.LoadBalancerIngress": {
        1: "ip string",
        2: "hostname string",
        3: "ipMode *string",
        4: "ports []core.PortStatus",
    },
    "core.PortStatus": {1: "port *int32", 2: "protocol *string", 3: "error *string"},
    "core.ResourceQuota": {
        1: "metadata meta.ObjectMeta",
        2: "spec core.ResourceQuotaSpec",
        3: "status core.ResourceQuotaStatus",
    },
    "core.ResourceQuotaSpec": {1: "hard {}quantity", 2: "scopes []string", 3: "scopeSelector core.ScopeSelector"},
    "core.ScopeSelector": {1: "matchExpressions []core.ScopedResourceSelectorRequirement"},
    "core.ScopedResourceSelectorRequirement": {1: "scopeName *string", 2: "operator *string", 3: "values []string"},
    "core.ResourceQuotaStatus": {1: "hard {}quantity", 2: "used {}quantity"},
    # k8s.io/api/apps/v1
    "apps.Deployment": {
        1: "metadata meta.ObjectMeta",
        2: "spec apps.DeploymentSpec",
        3: "status apps.DeploymentStatus",
    },
    "apps.DeploymentSpec": {
        1: "replicas *int32",
        2: "selector meta.LabelSelector",
        3: "template core.PodTemplateSpec",
        4: "strategy apps.DeploymentStrategy",
        5: "minReadySeconds int32",
        6: "revisionHistoryLimit *int32",
        7: "paused bool",
        9: "progressDeadlineSeconds *int32",
    },
    "apps.DeploymentStrategy": {1: "type string", 2: "rollingUpdate apps.RollingUpdateDeployment"},
    "apps.RollingUpdateDeployment": {1: "maxUnavailable intstr", 2: "maxSurge intstr"},
    "apps.DeploymentStatus": {
        1: "observedGeneration int64",
        2: "replicas int32",
        3: "updatedReplicas int32",
        7: "readyReplicas int32",
        4: "availableReplicas int32",
        5: "unavailableReplicas int32",
        9: "terminatingReplicas *int32",
        6: "conditions []apps.DeploymentCondition",
        8: "collisionCount *int32",
    },
    "apps.DeploymentCondition": {
        1: "type *string",
        2: "status *string",
        6: "lastUpdateTime time",
        7: "lastTransitionTime time",
        4: "reason string",
        5: "message string",
    },
    "apps.ReplicaSet": {
        1: "metadata meta.ObjectMeta",
        2: "spec apps.ReplicaSetSpec",
        3: "status apps.ReplicaSetStatus",
    },
    "apps.ReplicaSetSpec": {
        1: "replicas *int32",
        4: "minReadySeconds int32",
        2: "selector meta.LabelSelector",
        3: "template core.PodTemplateSpec",
    },
    "apps.ReplicaSetStatus": {
        1: "replicas *int32",
        2: "fullyLabeledReplicas int32",
        4: "readyReplicas int32",
        5: "availableReplicas int32",
        7: "terminatingReplicas *int32",
        3: "observedGeneration int64",
        6: "conditions []apps.WorkloadCondition",
    },
    # ReplicaSetCondition, DaemonSetCondition and StatefulSetCondition share one wire layout.
    "apps.WorkloadCondition": {
        1: "type *string",
        2: "status *string",
        3: "lastTransitionTime time",
        4: "reason string",
        5: "message string",
    },
    "apps.DaemonSet": {1: "metadata meta.ObjectMeta", 2: "spec apps.DaemonSetSpec", 3: "status apps.DaemonSetStatus"},
    "apps.DaemonSetSpec": {
        1: "selector meta.LabelSelector",
        2: "template core.PodTemplateSpec",
        3: "updateStrategy apps.DaemonSetUpdateStrategy",
        4: "minReadySeconds int32",
        6: "revisionHistoryLimit *int32",
    },
    "apps.DaemonSetUpdateStrategy": {1: "type string", 2: "rollingUpdate apps.RollingUpdateDaemonSet"},
    "apps.RollingUpdateDaemonSet": {1: "maxUnavailable intstr", 2: "maxSurge intstr"},
    "apps.DaemonSetStatus": {
        1: "currentNumberScheduled *int32",
        2: "numberMisscheduled *int32",
        3: "desiredNumberScheduled *int32",
        4: "numberReady *int32",
        5: "observedGeneration int64",
        6: "updatedNumberScheduled int32",
        7: "numberAvailable int32",
        8: "numberUnavailable int32",
        9: "collisionCount *int32",
        10: "conditions []apps.WorkloadCondition",
    },
    "apps.StatefulSet": {
        1: "metadata meta.ObjectMeta",
        2: "spec apps.StatefulSetSpec",
        3: "status apps.StatefulSetStatus",
    },
    "apps.StatefulSetSpec": {
        1: "replicas *int32",
        2: "selector meta.LabelSelector",
        3: "template core.PodTemplateSpec",
        4: "volumeClaimTemplates []core.PersistentVolumeClaim",
        5: "serviceName string",
        6: "podManagementPolicy string",
        7: "updateStrategy apps.StatefulSetUpdateStrategy",
        8: "revisionHistoryLimit *int32",
        9: "minReadySeconds int32",
        10: "persistentVolumeClaimRetentionPolicy apps.StatefulSetPersistentVolumeClaimRetentionPolicy",
        11: "ordinals apps.StatefulSetOrdinals",
    },
    "apps.StatefulSetUpdateStrategy": {1: "type string", 2: "rollingUpdate apps.RollingUpdateStatefulSetStrategy"},
    "apps.RollingUpdateStatefulSetStrategy": {1: "partition *int32", 2: "maxUnavailable intstr"},
    "apps.StatefulSetPersistentVolumeClaimRetentionPolicy": {1: "whenDeleted string", 2: "whenScaled string"},
    "apps.StatefulSetOrdinals": {1: "start int32"},
    "apps.StatefulSetStatus": {
        1: "observedGeneration int64",
        2: "replicas *int32",
        3: "readyReplicas int32",
        4: "currentReplicas int32",
        5: "updatedReplicas int32",
        6: "currentRevision string",
        7: "updateRevision string",
        9: "collisionCount *int32",
        10: "conditions []apps.WorkloadCondition",
        11: "availableReplicas *int32",
    },
    # k8s.io/api/batch/v1
    "batch.Job": {1: "metadata meta.ObjectMeta", 2: "spec batch.JobSpec", 3: "status batch.JobStatus"},
    "batch.JobSpec": {
        1: "parallelism *int32",
        2: "completions *int32",
        3: "activeDeadlineSeconds *int64",
        11: "podFailurePolicy batch.PodFailurePolicy",
        16: "successPolicy batch.SuccessPolicy",
        7: "backoffLimit *int32",
        12: "backoffLimitPerIndex *int32",
        13: "maxFailedIndexes *int32",
        4: "selector meta.LabelSelector",
        5: "manualSelector *bool",
        6: "template core.PodTemplateSpec",
        8: "ttlSecondsAfterFinished *int32",
        9: "completionMode *string",
        10: "suspend *bool",
        14: "podReplacementPolicy *string",
        15: "managedBy *string",
    },
    "batch.PodFailurePolicy": {1: "rules []batch.PodFailurePolicyRule"},
    "batch.PodFailurePolicyRule": {
        1: "action *string",
        2: "onExitCodes batch.PodFailurePolicyOnExitCodesRequirement",
        3: "onPodConditions []batch.PodFailurePolicyOnPodConditionsPattern",
    },
    "batch.PodFailurePolicyOnExitCodesRequirement": {
        1: "containerName *string",
        2: "operator *string",
        3: "values []int32",
    },
    "batch.PodFailurePolicyOnPodConditionsPattern": {1: "type *string", 2: "status *string"},
    "batch.SuccessPolicy": {1: "rules []batch.SuccessPolicyRule"},
    "batch.SuccessPolicyRule": {1: "succeededIndexes *string", 2: "succeededCount *int32"},
    "batch.JobStatus": {
        1: "conditions []batch.JobCondition",
        2: "startTime time",
        3: "completionTime time",
        4: "active int32",
        5: "succeeded int32",
        6: "failed int32",
        11: "terminating *int32",
        7: "completedIndexes string",
        10: "failedIndexes *string",
        8: "uncountedTerminatedPods batch.UncountedTerminatedPods",
        9: "ready *int32",
    },
    "batch.JobCondition": {
        1: "type *string",
        2: "status *string",
        3: "lastProbeTime time",
        4: "lastTransitionTime time",
        5: "reason string",
        6: "message string",
    },
    "batch.UncountedTerminatedPods": {1: "succeeded []string", 2: "failed []string"},
    "batch.CronJob": {1: "metadata meta.ObjectMeta", 2: "spec batch.CronJobSpec", 3: "status batch.CronJobStatus"},
    "batch.CronJobSpec": {
        1: "schedule *string",
        8: "timeZone *string",
        2: "startingDeadlineSeconds *int64",
        3: "concurrencyPolicy string",
        4: "suspend *bool",
        5: "jobTemplate batch.JobTemplateSpec",
        6: "successfulJobsHistoryLimit *int32",
        7: "failedJobsHistoryLimit *int32",
    },
    "batch.JobTemplateSpec": {1: "metadata meta.ObjectMeta", 2: "spec batch.JobSpec"},
    "batch.CronJobStatus": {
        1: "active []core.ObjectReference",
        4: "lastScheduleTime time",
        5: "lastSuccessfulTime time",
    },
    # k8s.io/api/rbac/v1
    "rbac.Role": {1: "metadata meta.ObjectMeta", 2: "rules []rbac.PolicyRule"},
    "rbac.ClusterRole": {
        1: "metadata meta.ObjectMeta",
        2: "rules []rbac.PolicyRule",
        3: "aggregationRule rbac.AggregationRule",
    },
    "rbac.AggregationRule": {1: "clusterRoleSelectors []meta.LabelSelector"},
    "rbac.PolicyRule": {
        1: "verbs []string",
        2: "apiGroups []string",
        3: "resources []string",
        4: "resourceNames []string",
        5: "nonResourceURLs []string",
    },
    # RoleBinding and ClusterRoleBinding share one wire layout.
    "rbac.RoleBinding": {1: "metadata meta.ObjectMeta", 2: "subjects []rbac.Subject", 3: "roleRef rbac.RoleRef"},
    "rbac.RoleRef": {1: "apiGroup *string", 2: "kind *string", 3: "name *string"},
    "rbac.Subject": {1: "kind *string", 2: "apiGroup string", 3: "name *string", 4: "namespace string"},
    # k8s.io/api/authentication/v1
    "authn.TokenRequest": {
        1: "metadata meta.ObjectMeta",
        2: "spec authn.TokenRequestSpec",
        3: "status authn.TokenRequestStatus",
    },
    "authn.TokenRequestSpec": {
        1: "audiences []string",
        4: "expirationSeconds *int64",
        3: "boundObjectRef authn.BoundObjectReference",
    },
    "authn.BoundObjectReference": {1: "kind string", 2: "apiVersion string", 3: "name string", 4: "uid string"},
    "authn.TokenRequestStatus": {1: "token *string", 2: "expirationTimestamp time"},
    "authn.TokenReview": {
        1: "metadata meta.ObjectMeta",
        2: "spec authn.TokenReviewSpec",
        3: "status authn.TokenReviewStatus",
    },
    "authn.TokenReviewSpec": {1: "token string", 2: "audiences []string"},
    "authn.TokenReviewStatus": {
        1: "authenticated bool",
        2: "user authn.UserInfo",
        4: "audiences []string",
        3: "error string",
    },
    "authn.UserInfo": {1: "username string", 2: "uid string", 3: "groups []string", 4: "extra {}extra"},
    "authn.SelfSubjectReview": {1: "metadata meta.ObjectMeta", 2: "status authn.SelfSubjectReviewStatus"},
    "authn.SelfSubjectReviewStatus": {1: "userInfo authn.UserInfo"},
    # k8s.io/api/authorization/v1
    "authz.SelfSubjectAccessReview": {
        1: "metadata meta.ObjectMeta",
        2: "spec authz.SelfSubjectAccessReviewSpec",
        3: "status authz.SubjectAccessReviewStatus",
    },
    "authz.SelfSubjectAccessReviewSpec": {
        1: "resourceAttributes authz.ResourceAttributes",
        2: "nonResourceAttributes authz.NonResourceAttributes",
    },
    # SubjectAccessReview and LocalSubjectAccessReview share one wire layout.
    "authz.SubjectAccessReview": {
        1: "metadata meta.ObjectMeta",
        2: "spec authz.SubjectAccessReviewSpec",
        3: "status authz.SubjectAccessReviewStatus",
    },
    "authz.SubjectAccessReviewSpec": {
        1: "resourceAttributes authz.ResourceAttributes",
        2: "nonResourceAttributes authz.NonResourceAttributes",
        3: "user string",
        4: "groups []string",
        5: "extra {}extra",
        6: "uid string",
    },
    "authz.ResourceAttributes": {
        1: "namespace string",
        2: "verb string",
        3: "group string",
        4: "version string",
        5: "resource string",
        6: "subresource string",
        7: "name string",
        8: "fieldSelector authz.FieldSelectorAttributes",
        9: "labelSelector authz.LabelSelectorAttributes",
    },
    "authz.FieldSelectorAttributes": {1: "rawSelector string", 2: "requirements []meta.FieldSelectorRequirement"},
    "authz.LabelSelectorAttributes": {1: "rawSelector string", 2: "requirements []meta.LabelSelectorRequirement"},
    "authz.NonResourceAttributes": {1: "path string", 2: "verb string"},
    "authz.SubjectAccessReviewStatus": {
        1: "allowed *bool",
        4: "denied bool",
        2: "reason string",
        3: "evaluationError string",
    },
    "authz.SelfSubjectRulesReview": {
        1: "metadata meta.ObjectMeta",
        2: "spec authz.SelfSubjectRulesReviewSpec",
        3: "status authz.SubjectRulesReviewStatus",
    },
    "authz.SelfSubjectRulesReviewSpec": {1: "namespace string"},
    "authz.SubjectRulesReviewStatus": {
        1: "resourceRules []authz.ResourceRule",
        2: "nonResourceRules []authz.NonResourceRule",
        3: "incomplete *bool",
        4: "evaluationError string",
    },
    "authz.ResourceRule": {
        1: "verbs []string",
        2: "apiGroups []string",
        3: "resources []string",
        4: "resourceNames []string",
    },
    "authz.NonResourceRule": {1: "verbs []string", 2: "nonResourceURLs []string"},
    # k8s.io/api/policy/v1
    "policy.PodDisruptionBudget": {
        1: "metadata meta.ObjectMeta",
        2: "spec policy.PodDisruptionBudgetSpec",
        3: "status policy.PodDisruptionBudgetStatus",
    },
    "policy.PodDisruptionBudgetSpec": {
        1: "minAvailable intstr",
        2: "selector meta.LabelSelector",
        3: "maxUnavailable intstr",
        4: "unhealthyPodEvictionPolicy *string",
    },
    "policy.PodDisruptionBudgetStatus": {
        1: "observedGeneration int64",
        2: "disruptedPods {}time",
        3: "disruptionsAllowed *int32",
        4: "currentHealthy *int32",
        5: "desiredHealthy *int32",
        6: "expectedPods *int32",
        7: "conditions []meta.Condition",
    },
    "policy.Eviction": {1: "metadata meta.ObjectMeta", 2: "deleteOptions meta.DeleteOptions"},
    # k8s.io/api/networking/v1
    "net.Ingress": {1: "metadata meta.ObjectMeta", 2: "spec net.IngressSpec", 3: "status net.IngressStatus"},
    "net.IngressSpec": {
        4: "ingressClassName *string",
        1: "defaultBackend net.IngressBackend",
        2: "tls []net.IngressTLS",
        3: "rules []net.IngressRule",
    },
    "net.IngressBackend": {4: "service net.IngressServiceBackend", 3: "resource core.TypedLocalObjectReference"},
    "net.IngressServiceBackend": {1: "name *string", 2: "port net.ServiceBackendPort"},
    "net.ServiceBackendPort": {1: "name string", 2: "number int32"},
    "net.IngressTLS": {1: "hosts []string", 2: "secretName string"},
    "net.IngressRule": {1: "host string", 2: "- net.IngressRuleValue"},
    "net.IngressRuleValue": {1: "http net.HTTPIngressRuleValue"},
    "net.HTTPIngressRuleValue": {1: "paths []net.HTTPIngressPath"},
    "net.HTTPIngressPath": {1: "path string", 3: "pathType *string", 2: "backend net.IngressBackend"},
    "net.IngressStatus": {1: "loadBalancer net.IngressLoadBalancerStatus"},
    "net.IngressLoadBalancerStatus": {1: "ingress []net.IngressLoadBalancerIngress"},
    "net.IngressLoadBalancerIngress": {1: "ip string", 2: "hostname string", 4: "ports []net.IngressPortStatus"},
    "net.IngressPortStatus": {1: "port *int32", 2: "protocol *string", 3: "error *string"},
    # k8s.io/api/scheduling/v1
    "scheduling.PriorityClass": {
        1: "metadata meta.ObjectMeta",
        2: "value *int32",
        3: "globalDefault bool",
        4: "description string",
        5: "preemptionPolicy *string",
    },
    # k8s.io/api/certificates/v1
    "certs.CertificateSigningRequest": {
        1: "metadata meta.ObjectMeta",
        2: "spec certs.CertificateSigningRequestSpec",
        3: "status certs.CertificateSigningRequestStatus",
    },
    "certs.CertificateSigningRequestSpec": {
        1: "request *bytes",
        7: "signerName *string",
        8: "expirationSeconds *int32",
        5: "usages []string",
        2: "username string",
        3: "uid string",
        4: "groups []string",
        6: "extra {}extra",
    },
    "certs.CertificateSigningRequestStatus": {
        1: "conditions []certs.CertificateSigningRequestCondition",
        2: "certificate bytes",
    },
    "certs.CertificateSigningRequestCondition": {
        1: "type *string",
        6: "status *string",
        2: "reason string",
        3: "message string",
        4: "lastUpdateTime time",
        5: "lastTransitionTime time",
    },
    # k8s.io/api/autoscaling/v1 and v2
    "autoscaling.CrossVersionObjectReference": {1: "kind *string", 2: "name *string", 3: "apiVersion string"},
    "autoscaling.Scale": {
        1: "metadata meta.ObjectMeta",
        2: "spec autoscaling.ScaleSpec",
        3: "status autoscaling.ScaleStatus",
    },
    "autoscaling.ScaleSpec": {1: "replicas int32"},
    "autoscaling.ScaleStatus": {1: "replicas *int32", 2: "selector string"},
    "autoscaling.HPAv1": {
        1: "metadata meta.ObjectMeta",
        2: "spec autoscaling.HPAv1Spec",
        3: "status autoscaling.HPAv1Status",
    },
    "autoscaling.HPAv1Spec": {
        1: "scaleTargetRef autoscaling.CrossVersionObjectReference",
        2: "minReplicas *int32",
        3: "maxReplicas *int32",
        4: "targetCPUUtilizationPercentage *int32",
    },
    "autoscaling.HPAv1Status": {
        1: "observedGeneration *int64",
        2: "lastScaleTime time",
        3: "currentReplicas *int32",
        4: "desiredReplicas *int32",
        5: "currentCPUUtilizationPercentage *int32",
    },
    "autoscaling.HPAv2": {
        1: "metadata meta.ObjectMeta",
        2: "spec autoscaling.HPAv2Spec",
        3: "status autoscaling.HPAv2Status",
    },
    "autoscaling.HPAv2Spec": {
        1: "scaleTargetRef autoscaling.CrossVersionObjectReference",
        2: "minReplicas *int32",
        3: "maxReplicas *int32",
        4: "metrics []autoscaling.MetricSpec",
        5: "behavior autoscaling.HorizontalPodAutoscalerBehavior",
    },
    "autoscaling.MetricSpec": {
        1: "type *string",
        2: "object autoscaling.ObjectMetricSource",
        3: "pods autoscaling.PodsMetricSource",
        4: "resource autoscaling.ResourceMetricSource",
        7: "containerResource autoscaling.ContainerResourceMetricSource",
        5: "external autoscaling.ExternalMetricSource",
    },
    "autoscaling.ObjectMetricSource": {
        1: "describedObject autoscaling.CrossVersionObjectReference",
        2: "target autoscaling.MetricTarget",
        3: "metric autoscaling.MetricIdentifier",
    },
    "autoscaling.PodsMetricSource": {1: "metric autoscaling.MetricIdentifier", 2: "target autoscaling.MetricTarget"},
    "autoscaling.ResourceMetricSource": {1: "name *string", 2: "target autoscaling.MetricTarget"},
    "autoscaling.ContainerResourceMetricSource": {
        1: "name *string",
        2: "target autoscaling.MetricTarget",
        3: "container *string",
    },
    "autoscaling.ExternalMetricSource": {
        1: "metric autoscaling.MetricIdentifier",
        2: "target autoscaling.MetricTarget",
    },
    "autoscaling.MetricIdentifier": {1: "name *string", 2: "selector meta.LabelSelector"},
    "autoscaling.MetricTarget": {
        1: "type *string",
        2: "value quantity",
        3: "averageValue quantity",
        4: "averageUtilization *int32",
    },
    "autoscaling.HorizontalPodAutoscalerBehavior": {
        1: "scaleUp autoscaling.HPAScalingRules",
        2: "scaleDown autoscaling.HPAScalingRules",
    },
    "autoscaling.HPAScalingRules": {
        3: "stabilizationWindowSeconds *int32",
        1: "selectPolicy *string",
        2: "policies []autoscaling.HPAScalingPolicy",
    },
    "autoscaling.HPAScalingPolicy": {1: "type *string", 2: "value *int32", 3: "periodSeconds *int32"},
    "autoscaling.HPAv2Status": {
        1: "observedGeneration *int64",
        2: "lastScaleTime time",
        3: "currentReplicas int32",
        4: "desiredReplicas *int32",
        5: "currentMetrics []autoscaling.MetricStatus",
        6: "conditions []autoscaling.HorizontalPodAutoscalerCondition",
    },
    "autoscaling.MetricStatus": {
        1: "type *string",
        2: "object autoscaling.ObjectMetricStatus",
        3: "pods autoscaling.PodsMetricStatus",
        4: "resource autoscaling.ResourceMetricStatus",
        7: "containerResource autoscaling.ContainerResourceMetricStatus",
        5: "external autoscaling.ExternalMetricStatus",
    },
    "autoscaling.ObjectMetricStatus": {
        1: "metric autoscaling.MetricIdentifier",
        2: "current autoscaling.MetricValueStatus",
        3: "describedObject autoscaling.CrossVersionObjectReference",
    },
    "autoscaling.PodsMetricStatus": {
        1: "metric autoscaling.MetricIdentifier",
        2: "current autoscaling.MetricValueStatus",
    },
    "autoscaling.ResourceMetricStatus": {1: "name *string", 2: "current autoscaling.MetricValueStatus"},
    "autoscaling.ContainerResourceMetricStatus": {
        1: "name *string",
        2: "current autoscaling.MetricValueStatus",
        3: "container *string",
    },
    "autoscaling.ExternalMetricStatus": {
        1: "metric autoscaling.MetricIdentifier",
        2: "current autoscaling.MetricValueStatus",
    },
    "autoscaling.MetricValueStatus": {
        1: "value quantity",
        2: "averageValue quantity",
        3: "averageUtilization *int32",
    },
    "autoscaling.HorizontalPodAutoscalerCondition": {
        1: "type *string",
        2: "status *string",
        3: "lastTransitionTime time",
        4: "reason string",
        5: "message string",
    },
}

# (apiVersion, kind) -> message type of the envelope's `raw` payload.
_KINDS: Final[dict[tuple[str, str], str]] = {
    ("v1", "Namespace"): "core.Namespace",
    ("v1", "ConfigMap"): "core.ConfigMap",
    ("v1", "Secret"): "core.Secret",
    ("v1", "ServiceAccount"): "core.ServiceAccount",
    ("v1", "Pod"): "core.Pod",
    ("v1", "PodTemplate"): "core.PodTemplate",
    ("v1", "Binding"): "core.Binding",
    ("v1", "Service"): "core.Service",
    ("v1", "ResourceQuota"): "core.ResourceQuota",
    ("v1", "PersistentVolumeClaim"): "core.PersistentVolumeClaim",
    ("v1", "DeleteOptions"): "meta.DeleteOptions",
    ("meta.k8s.io/v1", "DeleteOptions"): "meta.DeleteOptions",
    ("apps/v1", "Deployment"): "apps.Deployment",
    ("apps/v1", "ReplicaSet"): "apps.ReplicaSet",
    ("apps/v1", "DaemonSet"): "apps.DaemonSet",
    ("apps/v1", "StatefulSet"): "apps.StatefulSet",
    ("batch/v1", "Job"): "batch.Job",
    ("batch/v1", "CronJob"): "batch.CronJob",
    ("rbac.authorization.k8s.io/v1", "Role"): "rbac.Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "rbac.ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "rbac.RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "rbac.RoleBinding",
    ("authentication.k8s.io/v1", "TokenRequest"): "authn.TokenRequest",
    ("authentication.k8s.io/v1", "TokenReview"): "authn.TokenReview",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "authn.SelfSubjectReview",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "authz.SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview"): "authz.SelfSubjectRulesReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "authz.SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "authz.SubjectAccessReview",
    ("policy/v1", "PodDisruptionBudget"): "policy.PodDisruptionBudget",
    ("policy/v1", "Eviction"): "policy.Eviction",
    ("networking.k8s.io/v1", "Ingress"): "net.Ingress",
    ("scheduling.k8s.io/v1", "PriorityClass"): "scheduling.PriorityClass",
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): "certs.CertificateSigningRequest",
    ("autoscaling/v1", "HorizontalPodAutoscaler"): "autoscaling.HPAv1",
    ("autoscaling/v1", "Scale"): "autoscaling.Scale",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "autoscaling.HPAv2",
}


def _build_schema() -> dict[str, dict[int, _Field]]:
    schema = {
        name: {number: _parse_field(number, spec) for number, spec in fields.items()}
        for name, fields in _RAW_SCHEMA.items()
    }
    for name, fields in schema.items():
        for number, field in fields.items():
            if field.kind not in _SCALAR_KINDS | _WRAPPER_KINDS and field.kind not in schema:
                raise ValueError(f"protobuf schema {name}.{number} refers to unknown message {field.kind}")
    for kind, message in _KINDS.items():
        if message not in schema:
            raise ValueError(f"protobuf kind {kind} refers to unknown message {message}")
    return schema


_SCHEMA: Final = _build_schema()
_MISSING: Final = object()

SUPPORTED_KINDS: Final[frozenset[tuple[str, str]]] = frozenset(_KINDS)


# --- decoding ----------------------------------------------------------------------------------


def decode_k8s_protobuf(raw: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\x00``-prefixed protobuf body into the dict its JSON encoding would be.

    The result carries ``apiVersion`` and ``kind`` from the envelope. Raises `ProtobufError` (code 400 for
    malformed input, 415 for a kind or content encoding without a schema here).
    """
    return _decode_envelope(bytes(raw), depth=0)


def _decode_envelope(raw: bytes, *, depth: int) -> dict[str, Any]:
    if not raw.startswith(MAGIC):
        raise ProtobufError("the protobuf body does not start with the Kubernetes magic prefix 'k8s\\x00'")
    api_version = kind = content_encoding = content_type = ""
    payload = b""
    for number, wire, value in _fields(raw[len(MAGIC) :]):
        if number == 1:
            for sub_number, sub_wire, sub_value in _fields(_expect_bytes(wire, value, "typeMeta")):
                if sub_number == 1:
                    api_version = _text(_expect_bytes(sub_wire, sub_value, "typeMeta.apiVersion"))
                elif sub_number == 2:
                    kind = _text(_expect_bytes(sub_wire, sub_value, "typeMeta.kind"))
        elif number == 2:
            payload = _expect_bytes(wire, value, "raw")
        elif number == 3:
            content_encoding = _text(_expect_bytes(wire, value, "contentEncoding"))
        elif number == 4:
            content_type = _text(_expect_bytes(wire, value, "contentType"))
    if not api_version or not kind:
        raise ProtobufError("the protobuf envelope carries no apiVersion/kind")
    if content_encoding:
        raise ProtobufError(f"protobuf content encoding {content_encoding!r} is not supported", code=415)
    if content_type not in ("", PROTOBUF_MEDIA_TYPE):
        raise ProtobufError(f"protobuf envelope content type {content_type!r} is not supported", code=415)
    message = _KINDS.get((api_version, kind))
    if message is None:
        raise ProtobufError(
            f"protobuf request bodies are not supported for {api_version}, Kind={kind}; send application/json",
            code=415,
        )
    body = _decode_message(payload, message, depth + 1)
    return {"apiVersion": api_version, "kind": kind, **body}


def _expect_bytes(wire: int, value: int | bytes, what: str) -> bytes:
    if wire != _LEN or isinstance(value, int):
        raise ProtobufError(f"malformed protobuf: {what} has wire type {wire}, expected length-delimited")
    return value


def _text(value: bytes) -> str:
    # Go keeps invalid UTF-8 in strings and encoding/json replaces it with U+FFFD; do the same.
    return value.decode("utf-8", errors="replace")


def _decode_message(buf: bytes, message: str, depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise ProtobufError("malformed protobuf: messages nested too deeply")
    fields = _SCHEMA[message]
    out: dict[str, Any] = {}
    inlined: list[dict[str, Any]] = []
    for number, wire, value in _fields(buf):
        field = fields.get(number)
        if field is None:
            continue  # a field newer than this table (or an omitted legacy one): skip it
        where = f"{message}.{field.name or field.kind}"
        if field.mapped:
            key, item = _decode_map_entry(_expect_bytes(wire, value, where), field, where, depth)
            out.setdefault(field.name, {})[key] = item
        elif field.repeated:
            items = out.setdefault(field.name, [])
            if wire == _LEN and field.kind in _VARINT_KINDS:  # packed encoding
                items.extend(_varint_value(field.kind, v) for v in _packed_varints(_expect_bytes(wire, value, where)))
            else:
                items.append(_decode_value(field.kind, wire, value, where, depth))
        elif field.inline:
            inlined.append(_decode_value(field.kind, wire, value, where, depth))
        else:
            decoded = _decode_value(field.kind, wire, value, where, depth)
            previous = out.get(field.name)
            # proto2 merges a repeated occurrence of a singular message field into the first one.
            out[field.name] = _merge(previous, decoded) if isinstance(previous, dict) else decoded
    for part in inlined:
        for key, item in part.items():
            out[key] = _merge(out.get(key), item)
    for field in fields.values():
        if field.name in out and not field.repeated and not field.mapped and _is_omitted(field, out[field.name]):
            del out[field.name]
    return out


def _is_omitted(field: _Field, value: Any) -> bool:
    if value is None:  # zero Time / empty RawExtension: Go writes null, we leave the field out
        return True
    if field.keep_zero or field.kind not in _SCALAR_KINDS:
        return False
    return bool(value == "" or value == 0)  # False == 0


def _merge(previous: Any, new: Any) -> Any:
    if isinstance(previous, dict) and isinstance(new, dict):
        merged = dict(previous)
        for key, item in new.items():
            merged[key] = _merge(merged.get(key), item)
        return merged
    if isinstance(previous, list) and isinstance(new, list):
        return previous + new
    return new


def _decode_map_entry(buf: bytes, field: _Field, where: str, depth: int) -> tuple[str, Any]:
    key = ""
    item: Any = _MISSING
    for number, wire, value in _fields(buf):
        if number == 1:
            key = _text(_expect_bytes(wire, value, f"{where} map key"))
        elif number == 2:
            item = _decode_value(field.kind, wire, value, where, depth)
    if item is _MISSING:
        item = _decode_value(field.kind, _LEN, b"", where, depth) if field.kind not in _VARINT_KINDS else 0
    return key, item


def _varint_value(kind: str, value: int) -> int | bool:
    if kind == "int32":
        return _int32(value)
    if kind == "int64":
        return _int64(value)
    return value != 0


def _decode_value(kind: str, wire: int, value: int | bytes, where: str, depth: int) -> Any:
    if kind in _VARINT_KINDS:
        if wire != _VARINT or not isinstance(value, int):
            raise ProtobufError(f"malformed protobuf: {where} has wire type {wire}, expected varint")
        return _varint_value(kind, value)
    data = _expect_bytes(wire, value, where)
    if kind == "string":
        return _text(data)
    if kind == "bytes":
        return base64.b64encode(data).decode("ascii")
    if kind == "quantity":
        return _decode_quantity(data, where)
    if kind == "intstr":
        return _decode_int_or_string(data, where)
    if kind == "time":
        return _decode_time(data, where)
    if kind == "raw":
        return _decode_raw_extension(data, where, depth)
    if kind == "extra":
        return [_text(_expect_bytes(w, v, where)) for n, w, v in _fields(data) if n == 1]
    return _decode_message(data, kind, depth + 1)


def _decode_quantity(buf: bytes, where: str) -> str:
    text = "0"  # a zero Quantity marshals as "0"
    for number, wire, value in _fields(buf):
        if number == 1:
            text = _text(_expect_bytes(wire, value, where))
    return text


def _decode_int_or_string(buf: bytes, where: str) -> int | str:
    is_string = False
    int_value = 0
    str_value = ""
    for number, wire, value in _fields(buf):
        if number == 1:
            is_string = _varint_value("int64", _expect_varint(wire, value, where)) == 1
        elif number == 2:
            int_value = _int32(_expect_varint(wire, value, where))
        elif number == 3:
            str_value = _text(_expect_bytes(wire, value, where))
    return str_value if is_string else int_value


def _expect_varint(wire: int, value: int | bytes, where: str) -> int:
    if wire != _VARINT or not isinstance(value, int):
        raise ProtobufError(f"malformed protobuf: {where} has wire type {wire}, expected varint")
    return value


def _decode_time(buf: bytes, where: str) -> str | None:
    """metav1.Time: RFC 3339 in UTC with whole seconds, as Time.MarshalJSON writes it."""
    seconds = 0
    nanos = 0
    if not buf:
        return None  # the zero time.Time marshals to an empty message (and to JSON null)
    for number, wire, value in _fields(buf):
        if number == 1:
            seconds = _int64(_expect_varint(wire, value, where))
        elif number == 2:
            nanos = _int32(_expect_varint(wire, value, where))
    if seconds == _GO_ZERO_TIME_SECONDS and nanos == 0:
        return None
    if not 0 <= nanos < 1_000_000_000:
        raise ProtobufError(f"malformed protobuf: {where} has nanos {nanos} out of range")
    try:
        moment = _EPOCH + datetime.timedelta(seconds=seconds)
    except OverflowError:
        raise ProtobufError(f"malformed protobuf: {where} has an out-of-range timestamp {seconds}") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _decode_raw_extension(buf: bytes, where: str, depth: int) -> Any:
    data = b""
    for number, wire, value in _fields(buf):
        if number == 1:
            data = _expect_bytes(wire, value, where)
    if not data:
        return None
    if data.startswith(MAGIC):
        return _decode_envelope(data, depth=depth + 1)
    try:
        value = orjson.loads(data)  # like the JSON bodies: no NaN, no surrogates, at most 1024 levels
    except orjson.JSONDecodeError:
        raise ProtobufError(f"malformed protobuf: {where} holds neither JSON nor a Kubernetes protobuf") from None
    _check_json_depth(value, _MAX_DEPTH - depth, where)
    return value


def _check_json_depth(value: Any, room: int, where: str) -> None:
    """Embedded JSON counts towards the nesting bound: messages merge recursively, so it must stay shallow."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if level > room:
            raise ProtobufError(f"malformed protobuf: {where} nests too deeply")
        stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
