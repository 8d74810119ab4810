"""What the server serves: one `ResourceInfo` per group/version/resource, built-in or from a CRD.

Discovery, routing, storage keys, Table columns and OpenAPI are all derived from this table, so
a resource exists in every one of them or in none.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ScaleSpec:
    spec_replicas_path: str
    status_replicas_path: str
    label_selector_path: str | None = None


@dataclass(frozen=True)
class GroupResource:
    group: str
    resource: str


@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    has_status: bool = True
    scale: ScaleSpec | None = None
    #: the version objects are kept in (of `storage_resource` when set); for most built-ins the served version
    storage_version: str = ""
    #: the resource whose objects these are, when this one is another group's view of them: events.k8s.io
    #: Events are core Events, kept under core's key prefix as kube-apiserver does. None: its own.
    storage_resource: GroupResource | None = None
    #: CRD openAPIV3Schema of this version (None for built-ins: no schema enforcement)
    schema: dict[str, Any] | None = None
    printer_columns: tuple[PrinterColumn, ...] = ()
    crd_name: str = ""
    #: fields outside spec that count as "spec" for generation (e.g. ConfigMap data never bumps it)
    generation_ignores_status: bool = True
    extra_subresources: tuple[str, ...] = ()
    field_labels: frozenset[str] = field(default_factory=frozenset)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def is_custom(self) -> bool:
        return bool(self.crd_name)

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_group(self) -> str:
        return self.storage_resource.group if self.storage_resource is not None else self.group

    @property
    def storage_plural(self) -> str:
        return self.storage_resource.resource if self.storage_resource is not None else self.plural

    @property
    def is_storage_version(self) -> bool:
        """Objects are stored in exactly this resource's group and version, so stored bytes are served as they are."""
        return self.storage_resource is None and self.version == self.storage_version

    def storage_prefix(self) -> str:
        """Objects of all versions of one group/resource, and of every view of it, share one key space, like kube's
        /registry."""
        return f"/registry/{self.storage_group or 'core'}/{self.storage_plural}/"

    def key(self, namespace: str, name: str) -> str:
        return f"{self.storage_prefix()}{namespace}/{name}" if self.namespaced else f"{self.storage_prefix()}{name}"

    def list_prefix(self, namespace: str) -> str:
        if self.namespaced and namespace:
            return f"{self.storage_prefix()}{namespace}/"
        return self.storage_prefix()


def _b(
    group: str,
    version: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    status: bool = True,
    scale: bool = False,
    categories: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    storage_version: str = "",
    stored_as: GroupResource | None = None,
) -> ResourceInfo:
    return ResourceInfo(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        has_status=status,
        scale=ScaleSpec(".spec.replicas", ".status.replicas", ".status.selector") if scale else None,
        storage_version=storage_version or version,
        storage_resource=stored_as,
        extra_subresources=extra,
        verbs=verbs,
    )


_ALL = ("all",)
_EXT = ("api-extensions",)
_CREATE = ("create",)
_NO_COLLECTION = tuple(v for v in ALL_VERBS if v != "deletecollection")
_ADMISSION = "admissionregistration.k8s.io"
_RBAC = "rbac.authorization.k8s.io"
_STORAGE = "storage.k8s.io"
_FLOW = "flowcontrol.apiserver.k8s.io"
_AUTHZ = "authorization.k8s.io"
_AUTHN = "authentication.k8s.io"

#: What kube-apiserver 1.32 serves with its default flags and feature gates (GA and default-on beta),
#: as its legacy discovery lists it. Subresources other than status and scale are named in `extra` and
#: described in `SUBRESOURCES`.
BUILTIN: tuple[ResourceInfo, ...] = (
    # ---- core/v1 ----
    _b("", "v1", "Binding", "bindings", status=False, verbs=_CREATE),
    _b(
        "",
        "v1",
        "ComponentStatus",
        "componentstatuses",
        namespaced=False,
        short=("cs",),
        status=False,
        verbs=("get", "list"),
    ),
    _b("", "v1", "ConfigMap", "configmaps", short=("cm",), status=False),
    _b("", "v1", "Endpoints", "endpoints", short=("ep",), status=False),
    _b("", "v1", "Event", "events", short=("ev",), status=False),
    _b("", "v1", "LimitRange", "limitranges", short=("limits",), status=False),
    # kube serves no deletecollection on namespaces (`kubectl delete ns --all` deletes them one by one)
    _b("", "v1", "Namespace", "namespaces", namespaced=False, short=("ns",), extra=("finalize",), verbs=_NO_COLLECTION),
    _b("", "v1", "Node", "nodes", namespaced=False, short=("no",), extra=("proxy",)),
    _b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",)),
    _b("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short=("pv",)),
    _b(
        "",
        "v1",
        "Pod",
        "pods",
        short=("po",),
        categories=_ALL,
        extra=("attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward", "proxy"),
    ),
    _b("", "v1", "PodTemplate", "podtemplates", status=False),
    _b("", "v1", "ReplicationController", "replicationcontrollers", short=("rc",), scale=True, categories=_ALL),
    _b("", "v1", "ResourceQuota", "resourcequotas", short=("quota",)),
    _b("", "v1", "Secret", "secrets", status=False),
    _b("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",), status=False, extra=("token",)),
    _b("", "v1", "Service", "services", short=("svc",), categories=_ALL, extra=("proxy",)),
    # ---- apiregistration.k8s.io ----
    _b("apiregistration.k8s.io", "v1", "APIService", "apiservices", namespaced=False, categories=_EXT),
    # ---- apps ----
    _b("apps", "v1", "ControllerRevision", "controllerrevisions", status=False),
    _b("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), categories=_ALL),
    _b("apps", "v1", "Deployment", "deployments", short=("deploy",), scale=True, categories=_ALL),
    _b("apps", "v1", "ReplicaSet", "replicasets", short=("rs",), scale=True, categories=_ALL),
    _b("apps", "v1", "StatefulSet", "statefulsets", short=("sts",), scale=True, categories=_ALL),
    # ---- events.k8s.io: a second view of core Events, stored (and listed, watched) with them ----
    _b("events.k8s.io", "v1", "Event", "events", short=("ev",), status=False, stored_as=GroupResource("", "events")),
    # ---- authentication.k8s.io / authorization.k8s.io: reviews are answered, never stored ----
    _b(_AUTHN, "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False, status=False, verbs=_CREATE),
    _b(_AUTHN, "v1", "TokenReview", "tokenreviews", namespaced=False, status=False, verbs=_CREATE),
    _b(_AUTHZ, "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", status=False, verbs=_CREATE),
    _b(
        _AUTHZ,
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
        status=False,
        verbs=_CREATE,
    ),
    _b(
        _AUTHZ, "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", namespaced=False, status=False, verbs=_CREATE
    ),
    _b(_AUTHZ, "v1", "SubjectAccessReview", "subjectaccessreviews", namespaced=False, status=False, verbs=_CREATE),
    # ---- autoscaling: v2 is preferred and the storage version; both versions share one key space ----
    _b("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",), categories=_ALL),
    _b(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        categories=_ALL,
        storage_version="v2",
    ),
    # ---- batch ----
    _b("batch", "v1", "CronJob", "cronjobs", short=("cj",), categories=_ALL),
    _b("batch", "v1", "Job", "jobs", categories=_ALL),
    # ---- certificates.k8s.io ----
    _b(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        namespaced=False,
        short=("csr",),
        extra=("approval",),
    ),
    # ---- coordination.k8s.io ----
    _b("coordination.k8s.io", "v1", "Lease", "leases", status=False),
    # ---- discovery.k8s.io ----
    _b("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", status=False),
    # ---- flowcontrol.apiserver.k8s.io ----
    _b(_FLOW, "v1", "FlowSchema", "flowschemas", namespaced=False),
    _b(_FLOW, "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", namespaced=False),
    # ---- networking.k8s.io ----
    _b("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False, status=False),
    _b("networking.k8s.io", "v1", "Ingress", "ingresses", short=("ing",)),
    _b("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",), status=False),
    # ---- node.k8s.io ----
    _b("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", namespaced=False, status=False),
    # ---- policy ----
    _b("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",)),
    # ---- rbac.authorization.k8s.io ----
    _b(_RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False, status=False),
    _b(_RBAC, "v1", "ClusterRole", "clusterroles", namespaced=False, status=False),
    _b(_RBAC, "v1", "RoleBinding", "rolebindings", status=False),
    _b(_RBAC, "v1", "Role", "roles", status=False),
    # ---- scheduling.k8s.io ----
    _b("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False, short=("pc",), status=False),
    # ---- storage.k8s.io ----
    _b(_STORAGE, "v1", "CSIDriver", "csidrivers", namespaced=False, status=False),
    _b(_STORAGE, "v1", "CSINode", "csinodes", namespaced=False, status=False),
    _b(_STORAGE, "v1", "CSIStorageCapacity", "csistoragecapacities", status=False),
    _b(_STORAGE, "v1", "StorageClass", "storageclasses", namespaced=False, short=("sc",), status=False),
    _b(_STORAGE, "v1", "VolumeAttachment", "volumeattachments", namespaced=False),
    # ---- admissionregistration.k8s.io ----
    _b(
        _ADMISSION,
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        namespaced=False,
        status=False,
        categories=_EXT,
    ),
    _b(_ADMISSION, "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", namespaced=False, categories=_EXT),
    _b(
        _ADMISSION,
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        namespaced=False,
        status=False,
        categories=_EXT,
    ),
    _b(
        _ADMISSION,
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        namespaced=False,
        status=False,
        categories=_EXT,
    ),
    # ---- apiextensions.k8s.io ----
    _b(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short=("crd", "crds"),
        categories=_EXT,
    ),
)


@dataclass(frozen=True)
class Subresource:
    """A subresource as discovery lists it: its kind (and that kind's group/version when it lives elsewhere)."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None
    version: str | None = None


#: connect-style subresources: the verbs discovery derives from the HTTP methods kube's proxy routes accept
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")
_READ_WRITE = ("get", "patch", "update")

#: (group, plural, name) -> the subresource; "" as plural is the default for every resource
_SUBRESOURCES: dict[tuple[str, str, str], Subresource] = {
    ("", "", "status"): Subresource("status", "", _READ_WRITE),
    ("", "", "scale"): Subresource("scale", "Scale", _READ_WRITE, "autoscaling", "v1"),
    ("", "namespaces", "finalize"): Subresource("finalize", "Namespace", ("update",)),
    ("", "nodes", "proxy"): Subresource("proxy", "NodeProxyOptions", _PROXY_VERBS),
    ("", "pods", "attach"): Subresource("attach", "PodAttachOptions", ("create", "get")),
    ("", "pods", "binding"): Subresource("binding", "Binding", _CREATE),
    ("", "pods", "ephemeralcontainers"): Subresource("ephemeralcontainers", "Pod", _READ_WRITE),
    ("", "pods", "eviction"): Subresource("eviction", "Eviction", _CREATE, "policy", "v1"),
    ("", "pods", "exec"): Subresource("exec", "PodExecOptions", ("create", "get")),
    ("", "pods", "log"): Subresource("log", "Pod", ("get",)),
    ("", "pods", "portforward"): Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
    ("", "pods", "proxy"): Subresource("proxy", "PodProxyOptions", _PROXY_VERBS),
    ("", "serviceaccounts", "token"): Subresource("token", "TokenRequest", _CREATE, _AUTHN, "v1"),
    ("", "services", "proxy"): Subresource("proxy", "ServiceProxyOptions", _PROXY_VERBS),
    ("certificates.k8s.io", "certificatesigningrequests", "approval"): Subresource(
        "approval", "CertificateSigningRequest", _READ_WRITE
    ),
}


def subresources_of(info: ResourceInfo) -> list[Subresource]:
    """Every subresource `info` serves, in discovery's order (by name), with the kind filled in."""
    names = list(info.extra_subresources)
    if info.has_status:
        names.append("status")
    if info.scale is not None:
        names.append("scale")
    out = []
    for name in sorted(names):
        sub = _SUBRESOURCES.get((info.group, info.plural, name)) or _SUBRESOURCES.get(("", "", name))
        if sub is None:  # a subresource nobody described serves read and write like status
            sub = Subresource(name, "", _READ_WRITE)
        out.append(sub if sub.kind else Subresource(name, info.kind, sub.verbs, sub.group, sub.version))
    return out


def subresource(info: ResourceInfo, name: str) -> Subresource | None:
    """The subresource `name` of `info`, or None when `info` does not serve it."""
    return next((s for s in subresources_of(info) if s.name == name), None)


@dataclass(frozen=True)
class GroupVersion:
    group: str
    version: str


class Registry:
    """Thread-safe table of served resources; CRDs add and remove entries at run time."""

    def __init__(self, builtins: Iterable[ResourceInfo] = BUILTIN) -> None:
        self._lock = threading.Lock()
        self._by_gvr: dict[tuple[str, str, str], ResourceInfo] = {}
        self._crd_entries: dict[str, tuple[ResourceInfo, ...]] = {}
        #: group -> preferred version order (first is preferred)
        self._group_versions: dict[str, list[str]] = {}
        self._generation = 0
        for info in builtins:
            self._add(info)

    @property
    def generation(self) -> int:
        """Bumped on every change so caches of discovery documents know when to rebuild."""
        return self._generation

    def _add(self, info: ResourceInfo) -> None:
        self._by_gvr[(info.group, info.version, info.plural)] = info
        versions = self._group_versions.setdefault(info.group, [])
        if info.version not in versions:
            versions.append(info.version)
            versions.sort(key=version_priority_key)

    def _rebuild_versions(self) -> None:
        self._group_versions = {}
        for group, version, _ in self._by_gvr:
            versions = self._group_versions.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        for versions in self._group_versions.values():
            versions.sort(key=version_priority_key)

    def set_crd(self, crd_name: str, infos: Iterable[ResourceInfo]) -> None:
        with self._lock:
            for old in self._crd_entries.pop(crd_name, ()):
                self._by_gvr.pop((old.group, old.version, old.plural), None)
            entries = tuple(infos)
            self._crd_entries[crd_name] = entries
            for info in entries:
                self._add(info)
            self._rebuild_versions()
            self._generation += 1

    def remove_crd(self, crd_name: str) -> None:
        self.set_crd(crd_name, ())
        with self._lock:
            self._crd_entries.pop(crd_name, None)

    def get(self, group: str, version: str, plural: str) -> ResourceInfo | None:
        return self._by_gvr.get((group, version, plural))

    def all(self) -> list[ResourceInfo]:
        return list(self._by_gvr.values())

    def groups(self) -> dict[str, list[str]]:
        return {g: list(v) for g, v in self._group_versions.items()}

    def resources_in(self, group: str, version: str) -> list[ResourceInfo]:
        return [i for (g, v, _), i in list(self._by_gvr.items()) if g == group and v == version]

    def by_kind(self, group: str, kind: str) -> ResourceInfo | None:
        for (g, _, _), info in list(self._by_gvr.items()):
            if g == group and info.kind == kind and info.version == self.preferred_version(g):
                return info
        for (g, _, _), info in list(self._by_gvr.items()):
            if g == group and info.kind == kind:
                return info
        return None

    def for_key(self, key: str) -> tuple[ResourceInfo, str, str] | None:
        """(info in its storage version, namespace, name) of a storage key, or None if no longer served."""
        parts = key.split("/")
        if len(parts) < 5:
            return None
        group = "" if parts[2] == "core" else parts[2]
        candidates = [
            i for i in list(self._by_gvr.values()) if i.storage_group == group and i.storage_plural == parts[3]
        ]
        if not candidates:
            return None
        info = next((i for i in candidates if i.is_storage_version), candidates[0])
        if info.namespaced:
            return (info, parts[4], parts[5]) if len(parts) >= 6 else None
        return info, "", parts[4]

    def preferred_version(self, group: str) -> str:
        versions = self._group_versions.get(group) or [""]
        return versions[0]


def version_priority_key(version: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA > beta > alpha, higher major first, then higher minor."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    major = int(m.group(1))
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor)
