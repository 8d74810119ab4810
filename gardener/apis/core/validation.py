"""Validation of garden objects, following Gardener's API validation and admission plugins.

Pure functions over JSON dicts returning every problem found as `FieldError`s with precise field
paths (`spec.provider.workers[0].machine.type`); they never raise on bad input. `old` is the stored
object on updates and None on creation. Checks against other objects (the Shoot's CloudProfile,
SecretBinding, Seed, Project and Quotas; the Shoots using a CloudProfile) go through a `Lookup`.

Sources of the rules: `pkg/apis/core/validation` (static checks), `plugin/pkg/shoot/validator`
(CloudProfile constraints, only for what changed, as Gardener does), `plugin/pkg/shoot/quotavalidator`,
`plugin/pkg/global/resourcereferencemanager` (versions still in use) and
`plugin/pkg/global/deletionconfirmation`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Union

from cryptography import x509

from gardener.apis.core import v1beta1 as core
from gardener.apis.core.defaulting import (
    DEFAULT_ARCHITECTURE,
    GARDEN_NAMESPACE,
    PROJECT_NAMESPACE_PREFIX,
    image_version_architectures,
    image_version_cris,
    is_expired,
    is_usable,
    machine_type_architecture,
    member_roles,
    project_name_for_namespace,
    same_subject,
)
from gardener.apis.core.errors import (
    FieldError,
    Raw,
    dedupe,
    duplicate,
    forbidden,
    immutable,
    invalid,
    not_found,
    not_supported,
    required,
    too_long,
    too_many,
)
from gardener.apis.core.formats import (
    KUBERNETES_VERSION_PATTERN,
    QUANTITY_PATTERN,
    IPNetwork,
    Version,
    dns_label_errors,
    dns_subdomain_errors,
    go_duration,
    is_canonical_cidr,
    is_kubernetes_version,
    label_value_errors,
    maintenance_window_duration,
    parse_cidr,
    parse_cron,
    parse_maintenance_time,
    parse_quantity,
    parse_time,
    parse_version,
    qualified_name_errors,
)
from gardener.apis.core.lookup import Lookup, Object, shoot_cloud_profile_name
from gardener.apis.fields import opt
from gardener.apis.openapi import IntOrString, Quantity, RawExtension, Time, wire_name
from gardener.apis.seedmanagement import v1alpha1 as seedmanagement

CONFIRMATION_DELETION = "confirmation.gardener.cloud/deletion"
SHOOT_IGNORE = "shoot.gardener.cloud/ignore"
WORKERLESS = "this field should not be set for workerless Shoot clusters"
SHOOT_PURPOSES = ["development", "evaluation", "production", "testing"]
ARCHITECTURES = ["amd64", "arm64"]
CRI_NAMES = ["containerd", "docker"]
IP_FAMILIES = ["IPv4", "IPv6"]
PROXY_MODES = ["IPTables", "IPVS"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
VERSION_CLASSIFICATIONS = ["deprecated", "preview", "supported"]
DEFAULT_VPN_RANGE = "192.168.123.0/24"
MAX_WORKER_NAME_LENGTH = 15
#: Worker pools per Shoot. Gardener sets no limit, but every pool becomes a MachineClass and a MachineDeployment
#: (with its MachineSets) per zone in the seed and an entry in the Worker and Cluster objects there, so the pool
#: count multiplies what one Shoot costs its seed; 100 is far beyond the few pools real clusters use and keeps
#: those objects well below the API's request size limit.
MAX_WORKERS = 100
MAX_VOLUME_NAME_LENGTH = 15
SHOOT_PROJECT_NAME_LIMIT = 21
GENERATE_NAME_RANDOM_LENGTH = 5
MAX_PROJECT_NAME_LENGTH = 10
MAINTENANCE_MIN = 30 * 60
MAINTENANCE_MAX = 6 * 3600
QUOTA_METRICS = ["cpu", "gpu", "memory", "storage.standard", "storage.premium", "loadbalancer"]
PROJECT_ROLES = ["admin", "owner", "serviceaccountmanager", "uam", "viewer"]
EXTENSION_ROLE_PREFIX = "extension:"
RESERVED_PROJECT_NAMESPACES = ["gardener-system-seed-lease", "gardener-system-shoot-issuer", "gardener-system-public"]
EXTENSION_KINDS = [
    "BackupBucket",
    "BackupEntry",
    "Bastion",
    "ContainerRuntime",
    "ControlPlane",
    "DNSRecord",
    "Extension",
    "Infrastructure",
    "Network",
    "OperatingSystemConfig",
    "Worker",
]
CONTROLLER_POLICIES = ["Always", "AlwaysExceptNoShoots", "OnDemand"]
EXTENSION_STRATEGIES = ["AfterKubeAPIServer", "BeforeKubeAPIServer"]
EXTENSION_RECONCILE_STRATEGIES = ["AfterKubeAPIServer", "AfterWorker", "BeforeKubeAPIServer"]
INGRESS_KINDS = ["nginx"]
RBAC_GROUP = "rbac.authorization.k8s.io"
QUOTA_SCOPES = {
    ("core.gardener.cloud/v1beta1", "Project"): "project",
    ("v1", "Secret"): "secret",
    ("security.gardener.cloud/v1alpha1", "WorkloadIdentity"): "workloadidentity",
}
_V123 = Version(1, 23, 0)
_V127 = Version(1, 27, 0)
_GI = re.compile(r"^(\d)+Gi$")
_WORKERLESS_KUBERNETES = ["kubeScheduler", "kubeProxy", "kubelet", "clusterAutoscaler", "verticalPodAutoscaler"]


# ---- small readers (tolerant of anything) ----


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _go_list(values: Iterable[str]) -> str:
    """A []string as Go's %+v prints it: `[a b]`."""
    return "[" + " ".join(values) + "]"


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


# ---- structure: JSON types against the dataclasses of gardener.apis ----


@dataclasses.dataclass(frozen=True, kw_only=True)
class _ObjectMeta:
    name: str | None = opt("Name.")
    generateName: str | None = opt("Name prefix.")
    namespace: str | None = opt("Namespace.")
    labels: dict[str, str] | None = opt("Labels.")
    annotations: dict[str, str] | None = opt("Annotations.")
    finalizers: list[str] | None = opt("Finalizers.")
    deletionTimestamp: Time | None = opt("Deletion timestamp.")


_JSON_TYPES: list[tuple[type, str]] = [
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
]


def _json_type(value: Any) -> str:
    for tp, name in _JSON_TYPES:
        if isinstance(value, tp):
            return name
    return "null" if value is None else type(value).__name__


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _type_errors(tp: Any, value: Any, path: str, errs: list[FieldError]) -> None:
    """Collect values whose JSON type does not fit the declared type; missing values are left to the checks."""
    if value is None:
        return
    tp = _unwrap_optional(tp)

    def wrong(expected: str) -> None:
        errs.append(invalid(path, _json_type(value), f"must be of type {expected}"))

    if tp is Quantity:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            wrong("integer or string")
    elif tp is IntOrString:
        if isinstance(value, bool) or not isinstance(value, int | str):
            wrong("integer or string")
    elif tp is RawExtension:
        if not isinstance(value, dict):
            wrong("object")
    elif tp is str or tp is Time:
        if not isinstance(value, str):
            wrong("string")
    elif tp is bool:
        if not isinstance(value, bool):
            wrong("boolean")
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            wrong("integer")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            wrong("number")
    elif typing.get_origin(tp) is list:
        if not isinstance(value, list):
            wrong("array")
            return
        (item,) = typing.get_args(tp)
        for i, v in enumerate(value):
            _type_errors(item, v, f"{path}[{i}]", errs)
    elif typing.get_origin(tp) is dict:
        if not isinstance(value, dict):
            wrong("object")
            return
        _, item = typing.get_args(tp)
        for k, v in value.items():
            _type_errors(item, v, f"{path}[{k}]", errs)
    elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            wrong("object")
            return
        hints = _hints(tp)
        for f in dataclasses.fields(tp):
            name = wire_name(f)
            _type_errors(hints[f.name], value.get(name), f"{path}.{name}" if path else name, errs)


def _structure(obj: Any, schema: dict[str, Any]) -> list[FieldError]:
    if not isinstance(obj, dict):
        return [invalid("", _json_type(obj), "must be of type object")]
    errs: list[FieldError] = []
    _type_errors(_ObjectMeta, obj.get("metadata"), "metadata", errs)
    for key, tp in schema.items():
        _type_errors(tp, obj.get(key), key, errs)
    return errs


def _usable_old(old: Any, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The old object if it is well-formed; a malformed stored object is treated as absent."""
    return old if isinstance(old, dict) and not _structure(old, schema) else None


SHOOT_SCHEMA: dict[str, Any] = {"spec": core.ShootSpec, "status": core.ShootStatus}
PROJECT_SCHEMA: dict[str, Any] = {"spec": core.ProjectSpec, "status": core.ProjectStatus}
CLOUD_PROFILE_SCHEMA: dict[str, Any] = {"spec": core.CloudProfileSpec}
SEED_SCHEMA: dict[str, Any] = {"spec": core.SeedSpec, "status": core.SeedStatus}
SECRET_BINDING_SCHEMA: dict[str, Any] = {
    "secretRef": core.SecretReference,
    "quotas": list[core.ObjectReference],
    "provider": core.SecretBindingProvider,
}
QUOTA_SCHEMA: dict[str, Any] = {"spec": core.QuotaSpec}
CONTROLLER_REGISTRATION_SCHEMA: dict[str, Any] = {"spec": core.ControllerRegistrationSpec}
CONTROLLER_INSTALLATION_SCHEMA: dict[str, Any] = {
    "spec": core.ControllerInstallationSpec,
    "status": core.ControllerInstallationStatus,
}
MANAGED_SEED_SCHEMA: dict[str, Any] = {
    "spec": seedmanagement.ManagedSeedSpec,
    "status": seedmanagement.ManagedSeedStatus,
}


# ---- shared checks ----


def _validate_meta(
    obj: dict[str, Any], *, namespaced: bool, name_rule: Callable[[str], list[str]] = dns_label_errors
) -> list[FieldError]:
    meta = _d(obj.get("metadata"))
    errs: list[FieldError] = []
    name = _s(meta.get("name"))
    if not name:
        if not meta.get("generateName"):
            errs.append(required("metadata.name", "name or generateName is required"))
    else:
        errs.extend(invalid("metadata.name", name, msg) for msg in name_rule(name))
    namespace = _s(meta.get("namespace"))
    if namespaced:
        if not namespace:
            errs.append(required("metadata.namespace", ""))
        else:
            errs.extend(invalid("metadata.namespace", namespace, msg) for msg in dns_label_errors(namespace))
    elif namespace:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    return errs


def _consecutive_hyphens(obj: dict[str, Any]) -> list[FieldError]:
    name = _s(_d(obj.get("metadata")).get("name"))
    if "--" in name:
        return [invalid("metadata.name", name, "name may not contain two consecutive hyphens")]
    return []


def _quantity_errors(value: Any, path: str) -> list[FieldError]:
    """kube's `ValidateResourceQuantityValue`: a valid, non-negative quantity."""
    quantity = parse_quantity(value)
    if quantity is None:
        return [invalid(path, value, f"quantities must match the regular expression '{QUANTITY_PATTERN}'")]
    if quantity < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def _labels_errors(labels: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key, value in _d(labels).items():
        errs.extend(invalid(path, key, msg) for msg in qualified_name_errors(key))
        if isinstance(value, str):
            errs.extend(invalid(f"{path}[{key}]", value, msg) for msg in label_value_errors(value))
    return errs


def _tolerations_errors(tolerations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, toleration in enumerate(_dicts(tolerations)):
        key = _s(toleration.get("key"))
        if not key:
            errs.append(required(f"{path}[{i}].key", "cannot be empty"))
        value = toleration.get("value")
        ident = f"{key}={value}" if isinstance(value, str) else key
        if ident in seen or key in seen:
            errs.append(duplicate(f"{path}[{i}]", ident))
        seen.add(ident)
    return errs


def _immutable_once_set(new: Any, old: Any, path: str) -> list[FieldError]:
    return [immutable(path, new)] if old is not None and new != old else []


def _confirmed(obj: dict[str, Any]) -> bool:
    value = _d(_d(obj.get("metadata")).get("annotations")).get(CONFIRMATION_DELETION)
    return value in ("1", "t", "T", "true", "TRUE", "True")


def _deletion_confirmation(obj: Any) -> list[FieldError]:
    if isinstance(obj, dict) and _confirmed(obj):
        return []
    return [
        forbidden(
            f"metadata.annotations[{CONFIRMATION_DELETION}]",
            f'must have a "{CONFIRMATION_DELETION}" annotation to delete',
        )
    ]


def _cidr(value: Any, path: str, errs: list[FieldError]) -> IPNetwork | None:
    try:
        return parse_cidr(value)
    except ValueError as e:
        errs.append(invalid(path, value, str(e)))
        return None


# ---- Shoot ----


def shoot_resources(spec: dict[str, Any], profile: Object | None) -> dict[str, Decimal]:
    """What a Shoot takes from its quotas: cpu, gpu and memory of its machine types and storage of its root
    volumes, each times the pool's maximum, plus one load balancer (two with the nginx-ingress addon)."""
    profile_spec = _d(_d(profile).get("spec"))
    machine_types = {_s(m.get("name")): m for m in _dicts(profile_spec.get("machineTypes"))}
    volume_types = {_s(v.get("name")): v for v in _dicts(profile_spec.get("volumeTypes"))}
    resources: dict[str, Decimal] = defaultdict(Decimal)
    for worker in _dicts(_d(spec.get("provider")).get("workers")):
        maximum = worker.get("maximum")
        count = Decimal(maximum) if isinstance(maximum, int) and not isinstance(maximum, bool) else Decimal(0)
        machine_type = machine_types.get(_s(_d(worker.get("machine")).get("type")))
        if machine_type is not None:
            for metric in ("cpu", "gpu", "memory"):
                amount = parse_quantity(machine_type.get(metric))
                if amount is not None:
                    resources[metric] += amount * count
        volume = _d(worker.get("volume"))
        volume_type = volume_types.get(_s(volume.get("type")))
        size = parse_quantity(volume.get("size"))
        if volume_type is not None and size is not None and volume_type.get("class") in ("standard", "premium"):
            resources[f"storage.{volume_type['class']}"] += size * count
    nginx = _d(_d(spec.get("addons")).get("nginxIngress"))
    resources["loadbalancer"] = Decimal(2 if nginx.get("enabled") is True else 1)
    return dict(resources)


class _Shoot:
    """The checks of one Shoot admission; collects errors in `self.errs`."""

    def __init__(self, shoot: dict[str, Any], old: dict[str, Any] | None, lookup: Lookup, now: datetime) -> None:
        self.shoot = shoot
        self.old = old
        self.lookup = lookup
        self.now = now
        self.errs: list[FieldError] = []
        self.meta = _d(shoot.get("metadata"))
        self.name = _s(self.meta.get("name"))
        self.namespace = _s(self.meta.get("namespace"))
        self.spec = _d(shoot.get("spec"))
        self.old_spec = _d(old.get("spec")) if old is not None else {}
        self.provider = _d(self.spec.get("provider"))
        self.workers = _dicts(self.provider.get("workers"))
        self.workerless = not self.workers
        self.version = _s(_d(self.spec.get("kubernetes")).get("version"))
        self.creating = old is None

    def add(self, *errors: FieldError) -> None:
        self.errs.extend(errors)

    def old_worker(self, name: Any) -> dict[str, Any] | None:
        if self.old is None:
            return None
        return next(
            (w for w in _dicts(_d(self.old_spec.get("provider")).get("workers")) if w.get("name") == name), None
        )

    def run(self) -> list[FieldError]:
        self.add(*_validate_meta(self.shoot, namespaced=True), *_consecutive_hyphens(self.shoot))
        if not isinstance(self.shoot.get("spec"), dict):
            self.add(required("spec", ""))
            return self.errs
        if self.old is not None and _d(self.old.get("metadata")).get("deletionTimestamp"):
            if self.spec != self.old_spec:
                self.add(forbidden("spec", "cannot update the spec of a Shoot that is being deleted"))
            return self.errs
        workers = self.provider.get("workers")
        if isinstance(workers, list) and len(workers) > MAX_WORKERS:
            # The per-pool checks grow with the pool count (names are compared pairwise), so a Shoot
            # over the bound is refused for that alone rather than checked at any cost.
            self.add(too_many("spec.provider.workers", len(workers), MAX_WORKERS))
            return self.errs
        self.static()
        if self.old is not None:
            self.update()
        self.references()
        return self.errs

    # -- static --

    def static(self) -> None:
        spec = self.spec
        ref = spec.get("cloudProfile")
        if isinstance(ref, dict):
            if ref.get("kind") not in (None, "CloudProfile"):
                self.add(not_supported("spec.cloudProfile.kind", ref.get("kind"), ["CloudProfile"]))
            if not ref.get("name"):
                self.add(required("spec.cloudProfile.name", "must specify a cloud profile"))
            elif spec.get("cloudProfileName") and spec["cloudProfileName"] != ref["name"]:
                self.add(invalid("spec.cloudProfile.name", ref["name"], "must match spec.cloudProfileName"))
        elif not spec.get("cloudProfileName"):
            self.add(required("spec.cloudProfileName", "must specify a cloud profile"))
        if not spec.get("region"):
            self.add(required("spec.region", "must specify a region"))
        if not isinstance(spec.get("provider"), dict):
            self.add(required("spec.provider", ""))
        elif not self.provider.get("type"):
            self.add(required("spec.provider.type", "must specify a provider type"))
        if self.workerless:
            for key in ("infrastructureConfig", "controlPlaneConfig", "workersSettings"):
                if self.provider.get(key) is not None:
                    self.add(forbidden(f"spec.provider.{key}", WORKERLESS))
            if spec.get("addons") is not None:
                self.add(forbidden("spec.addons", "addons cannot be enabled for Workerless Shoot clusters"))
            if spec.get("systemComponents") is not None:
                self.add(forbidden("spec.systemComponents", WORKERLESS))
        else:
            secret_binding, credentials_binding = spec.get("secretBindingName"), spec.get("credentialsBindingName")
            if not secret_binding and not credentials_binding:
                self.add(required("spec.secretBindingName", "must be set when credentialsBindingName is not"))
            elif secret_binding and credentials_binding:
                self.add(forbidden("spec.secretBindingName", "is incompatible with credentialsBindingName"))
        if spec.get("seedName") == "":
            self.add(invalid("spec.seedName", "", "seed name must not be empty when providing the key"))
        purpose = spec.get("purpose")
        if purpose is not None:
            allowed = SHOOT_PURPOSES + (["infrastructure"] if self.namespace == GARDEN_NAMESPACE else [])
            if purpose not in allowed:
                self.add(not_supported("spec.purpose", purpose, sorted(allowed)))
        self.add(*_tolerations_errors(spec.get("tolerations"), "spec.tolerations"))
        self.kubernetes()
        self.networking()
        self.maintenance()
        self.hibernation()
        for i, worker in enumerate(self.workers):
            self.worker(i, worker)
        self.worker_pools()

    def kubernetes(self) -> None:
        kubernetes = _d(self.spec.get("kubernetes"))
        if not self.version:
            self.add(required("spec.kubernetes.version", "kubernetes version must not be empty"))
        parsed = parse_version(self.version)
        if kubernetes.get("enableStaticTokenKubeconfig") is True and parsed is not None and parsed >= _V127:
            self.add(
                invalid(
                    "spec.kubernetes.enableStaticTokenKubeconfig",
                    True,
                    "for Kubernetes versions >= 1.27, enableStaticTokenKubeconfig field cannot not be set to true, "
                    "please see https://github.com/gardener/gardener/blob/master/docs/usage/shoot_access.md"
                    "#static-token-kubeconfig",
                )
            )
        if self.workerless:
            for key in _WORKERLESS_KUBERNETES:
                if kubernetes.get(key) is not None:
                    self.add(forbidden(f"spec.kubernetes.{key}", WORKERLESS))
            return
        mode = _d(kubernetes.get("kubeProxy")).get("mode")
        if mode is not None and mode not in PROXY_MODES:
            self.add(not_supported("spec.kubernetes.kubeProxy.mode", mode, PROXY_MODES))

    def networking(self) -> None:
        networking = self.spec.get("networking")
        path = "spec.networking"
        if self.workerless:
            if not isinstance(networking, dict):
                return
            for key in ("type", "providerConfig", "pods", "nodes"):
                if networking.get(key) is not None:
                    self.add(forbidden(f"{path}.{key}", WORKERLESS))
        else:
            if not isinstance(networking, dict):
                self.add(required(path, "networking should not be nil for a Shoot with workers"))
                return
            if not networking.get("type"):
                self.add(required(f"{path}.type", "networking type must be provided"))
        families: list[Any] = networking["ipFamilies"] if isinstance(networking.get("ipFamilies"), list) else ["IPv4"]
        family_errs: list[FieldError] = []
        for i, family in enumerate(families):
            if family not in IP_FAMILIES:
                family_errs.append(not_supported(f"{path}.ipFamilies[{i}]", family, IP_FAMILIES))
            elif family in families[:i]:
                family_errs.append(duplicate(f"{path}.ipFamilies[{i}]", family))
        if family_errs:
            self.add(*family_errs)
            return
        primary = 4 if not families or families[0] == "IPv4" else 6
        nets: dict[str, IPNetwork] = {}
        for key in ("nodes", "pods", "services"):
            value = networking.get(key)
            if value is None:
                continue
            net = _cidr(value, f"{path}.{key}", self.errs)
            if net is None:
                continue
            if net.version != primary:
                self.add(invalid(f"{path}.{key}", str(net.network_address), f"must be a valid IPv{primary} address"))
                continue
            if not is_canonical_cidr(value):
                self.add(invalid(f"{path}.{key}", value, "must be valid canonical CIDR"))
            nets[key] = net
        pods, services, nodes = nets.get("pods"), nets.get("services"), nets.get("nodes")
        if pods and services and pods.overlaps(services):
            self.add(
                invalid(
                    f"{path}.services",
                    networking["services"],
                    "shoot pod network intersects with shoot service network",
                )
            )
        if pods and nodes and pods.overlaps(nodes):
            self.add(
                invalid(f"{path}.pods", networking["pods"], "shoot pod network intersects with shoot node network")
            )
        if services and nodes and services.overlaps(nodes):
            self.add(
                invalid(
                    f"{path}.services",
                    networking["services"],
                    "shoot service network intersects with shoot node network",
                )
            )

    def maintenance(self) -> None:
        window = _d(self.spec.get("maintenance")).get("timeWindow")
        if not isinstance(window, dict):
            return
        path = "spec.maintenance.timeWindow"
        ok = True
        for key in ("begin", "end"):
            if window.get(key) is None:
                self.add(required(f"{path}.{key}", ""))
                ok = False
                continue
            try:
                parse_maintenance_time(window[key])
            except ValueError as e:
                self.add(invalid(f"{path}.{key}", window[key], str(e)))
                ok = False
        if not ok:
            return
        duration = maintenance_window_duration(window["begin"], window["end"])
        if duration > MAINTENANCE_MAX:
            self.add(
                invalid(
                    path,
                    Raw(go_duration(duration)),
                    f"time window must not be greater than {go_duration(MAINTENANCE_MAX)}",
                )
            )
        elif duration < MAINTENANCE_MIN:
            self.add(
                invalid(
                    path,
                    Raw(go_duration(duration)),
                    f"time window must not be smaller than {go_duration(MAINTENANCE_MIN)}",
                )
            )

    def hibernation(self) -> None:
        seen: set[str] = set()
        for i, schedule in enumerate(_dicts(_d(self.spec.get("hibernation")).get("schedules"))):
            path = f"spec.hibernation.schedules[{i}]"
            if schedule.get("start") is None and schedule.get("end") is None:
                self.add(required(path, "either start or end has to be provided"))
            for key in ("start", "end"):
                spec = schedule.get(key)
                if spec is None:
                    continue
                try:
                    parse_cron(spec)
                except ValueError as e:
                    self.add(invalid(f"{path}.{key}", spec, f"not a valid cron spec: {e}"))
                    continue
                if spec in seen:
                    self.add(duplicate(f"{path}.{key}", spec))
                seen.add(spec)
            location = schedule.get("location")
            if location is not None and not _valid_location(location):
                self.add(invalid(f"{path}.location", location, f"not a valid location: unknown time zone {location}"))

    def worker(self, i: int, worker: dict[str, Any]) -> None:
        path = f"spec.provider.workers[{i}]"
        name = _s(worker.get("name"))
        if not name:
            self.add(required(f"{path}.name", "label must not be empty"))
        else:
            self.add(*(invalid(f"{path}.name", name, msg) for msg in dns_label_errors(name)))
            if len(name) > MAX_WORKER_NAME_LENGTH:
                self.add(too_long(f"{path}.name", MAX_WORKER_NAME_LENGTH))
        machine = worker.get("machine")
        if not isinstance(machine, dict):
            self.add(required(f"{path}.machine", ""))
            machine = {}
        elif not machine.get("type"):
            self.add(required(f"{path}.machine.type", "must specify a machine type"))
        image = machine.get("image")
        if machine and image is None:
            self.add(required(f"{path}.machine.image", "must specify a machine image"))
        elif isinstance(image, dict):
            if not image.get("name"):
                self.add(required(f"{path}.machine.image.name", "must specify a machine image name"))
            if not image.get("version"):
                self.add(required(f"{path}.machine.image.version", "must specify a machine image version"))
        arch = machine.get("architecture")
        if arch is not None and arch not in ARCHITECTURES:
            self.add(not_supported(f"{path}.machine.architecture", arch, ARCHITECTURES))
        minimum, maximum = worker.get("minimum"), worker.get("maximum")
        for key, value in (("minimum", minimum), ("maximum", maximum)):
            if value is None:
                self.add(required(f"{path}.{key}", ""))
            elif value < 0:
                self.add(invalid(f"{path}.{key}", value, f"{key} value must not be negative"))
        if isinstance(minimum, int) and isinstance(maximum, int) and maximum < minimum:
            self.add(forbidden(f"{path}.maximum", "maximum value must not be less than minimum value"))
        surge = self.int_or_percent(worker.get("maxSurge"), f"{path}.maxSurge")
        unavailable = self.int_or_percent(worker.get("maxUnavailable"), f"{path}.maxUnavailable")
        if unavailable is not None and unavailable[1] and unavailable[0] > 100:
            self.add(invalid(f"{path}.maxUnavailable", worker["maxUnavailable"], "must not be greater than 100%"))
        if (unavailable is None or unavailable[0] == 0) and surge is not None and surge[0] == 0:
            self.add(
                invalid(f"{path}.maxUnavailable", worker.get("maxUnavailable"), "may not be 0 when `maxSurge` is 0")
            )
        self.add(*_labels_errors(worker.get("labels"), f"{path}.labels"))
        self.taints(worker.get("taints"), f"{path}.taints")
        self.volumes(worker, path)
        cri = _d(worker.get("cri")).get("name")
        if cri is not None:
            if cri not in CRI_NAMES:
                self.add(not_supported(f"{path}.cri.name", cri, CRI_NAMES))
            elif cri == "docker" and (parse_version(self.version) or _V123) >= _V123:
                self.add(forbidden(f"{path}.cri.name", "'docker' is only allowed for kubernetes versions < 1.23"))
        zones = _strs(worker.get("zones"))
        for j, zone in enumerate(zones):
            if zone in zones[:j]:
                self.add(duplicate(f"{path}.zones[{j}]", zone))
        if any(w.get("name") == name for w in self.workers[:i]) and name:
            self.add(duplicate(f"{path}.name", name))

    def int_or_percent(self, value: Any, path: str) -> tuple[int, bool] | None:
        """(number, is-percent) of an IntOrString; None when unset or bad (bad values are reported)."""
        if value is None:
            return None
        if isinstance(value, int):
            if value < 0:
                self.add(invalid(path, value, "must be greater than or equal to 0"))
                return None
            return value, False
        if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
            return int(value[:-1]), True
        self.add(invalid(path, value, "must be an integer or percentage (e.g '5%')"))
        return None

    def taints(self, taints: Any, path: str) -> None:
        seen: set[tuple[str, str]] = set()
        for i, taint in enumerate(_dicts(taints)):
            key = _s(taint.get("key"))
            self.add(*(invalid(f"{path}[{i}].key", key, msg) for msg in qualified_name_errors(key)))
            value = taint.get("value")
            if isinstance(value, str):
                self.add(*(invalid(f"{path}[{i}].value", value, msg) for msg in label_value_errors(value)))
            effect = _s(taint.get("effect"))
            if not effect:
                self.add(required(f"{path}[{i}].effect", ""))
            elif effect not in TAINT_EFFECTS:
                self.add(not_supported(f"{path}[{i}].effect", effect, TAINT_EFFECTS))
            if (key, effect) in seen:
                self.add(duplicate(f"{path}[{i}]", f"{key}:{effect}"))
            seen.add((key, effect))

    def volumes(self, worker: dict[str, Any], path: str) -> None:
        volume = worker.get("volume")
        if isinstance(volume, dict) and not _GI.match(_s(volume.get("size"))):
            self.add(invalid(f"{path}.volume.size", volume.get("size"), r"volume size must match the regex ^(\d)+Gi$"))
        data_volumes = _dicts(worker.get("dataVolumes"))
        if data_volumes and not isinstance(volume, dict):
            self.add(required(f"{path}.volume", "a worker volume must be defined if data volumes are defined"))
        names: set[str] = set()
        for j, data_volume in enumerate(data_volumes):
            vpath = f"{path}.dataVolumes[{j}]"
            name = _s(data_volume.get("name"))
            if not name:
                self.add(required(f"{vpath}.name", "must specify a name"))
            else:
                self.add(*(invalid(f"{vpath}.name", name, msg) for msg in dns_label_errors(name)))
                if len(name) > MAX_VOLUME_NAME_LENGTH:
                    self.add(too_long(f"{vpath}.name", MAX_VOLUME_NAME_LENGTH))
                if name in names:
                    self.add(duplicate(f"{vpath}.name", name))
                names.add(name)
            if not _GI.match(_s(data_volume.get("size"))):
                self.add(
                    invalid(
                        f"{vpath}.size", data_volume.get("size"), r"data volume size must match the regex ^(\d)+Gi$"
                    )
                )

    def worker_pools(self) -> None:
        """Gardener's `ValidateSystemComponentWorkers`: an active pool for system components, enough machines
        to put one in each zone of a pool."""
        if self.workerless:
            return
        active = False
        sufficient: set[tuple[str, ...]] = set()
        insufficient: dict[tuple[str, ...], int] = {}
        for i, worker in enumerate(self.workers):
            if _d(worker.get("systemComponents")).get("allow") is False:
                continue
            minimum, maximum = worker.get("minimum"), worker.get("maximum")
            if not isinstance(minimum, int) or not isinstance(maximum, int) or minimum == 0 or maximum == 0:
                continue
            active = True
            zones = _strs(worker.get("zones"))
            key = tuple(sorted(set(zones)))
            if maximum >= len(zones):
                sufficient.add(key)
                insufficient.pop(key, None)
            elif key not in sufficient:
                insufficient[key] = i
        version = parse_version(self.version)
        if version is None or version >= _V127:
            for i in sorted(insufficient.values()):
                self.add(
                    forbidden(
                        f"spec.provider.workers[{i}].maximum",
                        "maximum node count should be greater than or equal to the number of zones specified for "
                        "this pool",
                    )
                )
        if not active:
            self.add(
                forbidden(
                    "spec.provider.workers", "at least one active worker pool with allowSystemComponents=true needed"
                )
            )

    # -- update --

    def update(self) -> None:
        spec, old = self.spec, self.old_spec
        for key in ("region", "cloudProfileName", "exposureClassName"):
            if spec.get(key) != old.get(key):
                self.add(immutable(f"spec.{key}", spec.get(key)))
        if old.get("credentialsBindingName") and not spec.get("credentialsBindingName"):
            self.add(forbidden("spec.credentialsBindingName", "the field cannot be unset"))
        migration = (
            old.get("secretBindingName") and not spec.get("secretBindingName") and spec.get("credentialsBindingName")
        )
        if not migration and spec.get("secretBindingName") != old.get("secretBindingName"):
            self.add(immutable("spec.secretBindingName", spec.get("secretBindingName")))
        old_seed, new_seed = old.get("seedName"), spec.get("seedName")
        if old_seed and new_seed != old_seed:
            self.add(
                forbidden(
                    "spec.seedName",
                    f"spec.seedName '{old_seed}' cannot be changed to '{new_seed or 'nil'}' by patching the shoot, "
                    "please use the shoots/binding subresource",
                )
            )
        if spec.get("schedulerName") != old.get("schedulerName") and (
            old.get("schedulerName") is not None or spec.get("schedulerName") != "default-scheduler"
        ):
            self.add(invalid("spec.schedulerName", spec.get("schedulerName"), "field is immutable"))
        old_version = _s(_d(old.get("kubernetes")).get("version"))
        self.add(*kubernetes_version_update_errors(self.version, old_version, "spec.kubernetes.version"))
        old_provider = _d(old.get("provider"))
        old_has_workers = bool(_dicts(old_provider.get("workers")))
        if old_has_workers and self.workerless:
            self.add(
                forbidden("spec.provider.workers", "cannot switch from a Shoot with workers to a workerless Shoot")
            )
            return
        if not old_has_workers and not self.workerless:
            self.add(
                forbidden("spec.provider.workers", "cannot switch from a workerless Shoot to a Shoot with workers")
            )
            return
        if self.provider.get("type") != old_provider.get("type"):
            self.add(immutable("spec.provider.type", self.provider.get("type")))
        old_networking = old.get("networking")
        if isinstance(old_networking, dict):
            networking = spec.get("networking")
            if not isinstance(networking, dict):
                self.add(forbidden("spec.networking", "networking cannot be set to nil if it's already set"))
                return
            # `nodes` stays mutable, as in Gardener since MutableShootSpecNetworkingNodes went GA (v1.97): an
            # unschedulable Shoot's overlapping node network can be fixed, a scheduled one's extended.
            for key in ("type", "ipFamilies", "pods", "services"):
                self.add(*_immutable_once_set(networking.get(key), old_networking.get(key), f"spec.networking.{key}"))

    # -- references: CloudProfile, SecretBinding, Quotas, Seed, Project --

    def references(self) -> None:
        profile = self.cloud_profile()
        if profile is not None:
            self.against_profile(_d(profile.get("spec")), _s(_d(profile.get("metadata")).get("name")))
        binding = self.secret_binding()
        if binding is not None:
            self.quotas(binding, profile)
        self.seed()
        if self.creating:
            self.project()

    def cloud_profile(self) -> Object | None:
        name = shoot_cloud_profile_name(self.shoot)
        if not name:
            return None
        profile = self.lookup.cloud_profile(name)
        if profile is None and (self.old is None or shoot_cloud_profile_name(self.old) != name):
            path = "spec.cloudProfileName" if self.spec.get("cloudProfileName") else "spec.cloudProfile.name"
            self.add(not_found(path, name))
        return profile

    def against_profile(self, profile: dict[str, Any], profile_name: str) -> None:
        region = _s(self.spec.get("region"))
        regions = _dicts(profile.get("regions"))
        region_entry = next((r for r in regions if r.get("name") == region), None)
        region_changed = self.old is None or region != self.old_spec.get("region")
        if region and region_changed and region_entry is None:
            self.add(not_supported("spec.region", region, [_s(r.get("name")) for r in regions]))
        self.kubernetes_version(profile)
        provider_type = self.provider.get("type")
        if provider_type and provider_type != profile.get("type"):
            self.add(
                invalid(
                    "spec.provider.type",
                    provider_type,
                    "provider type in shoot must equal provider type of referenced CloudProfile: "
                    f'"{_s(profile.get("type"))}"',
                )
            )
            return
        for i, worker in enumerate(self.workers):
            self.worker_against_profile(i, worker, profile, region_entry, region_changed)

    def kubernetes_version(self, profile: dict[str, Any]) -> None:
        version, path = self.version, "spec.kubernetes.version"
        if not version:
            return
        if not is_kubernetes_version(version):
            parts = version.split(".")
            if len(parts) <= 2 and all(p.isdigit() for p in parts):
                self.add(
                    invalid(
                        path,
                        version,
                        f"couldn't find a suitable version for {version}. Suitable versions have a non-expired "
                        "expiration date and are no 'preview' versions. 'Preview'-classified versions have to be "
                        "selected explicitly",
                    )
                )
            else:
                self.add(invalid(path, version, "must be a semantic version"))
            return
        if self.old is not None and version == _s(_d(self.old_spec.get("kubernetes")).get("version")):
            return
        offered: list[str] = []
        for entry in _dicts(_d(profile.get("kubernetes")).get("versions")):
            # Expired versions cannot be used for new clusters; updates may move to them (forced maintenance).
            if self.creating and is_expired(entry, self.now):
                continue
            if entry.get("version") == version:
                return
            offered.append(
                _s(entry.get("version")) + (" (preview)" if entry.get("classification") == "preview" else "")
            )
        self.add(not_supported(path, version, offered))

    def worker_against_profile(
        self,
        i: int,
        worker: dict[str, Any],
        profile: dict[str, Any],
        region: dict[str, Any] | None,
        region_changed: bool,
    ) -> None:
        path = f"spec.provider.workers[{i}]"
        old_worker = self.old_worker(worker.get("name"))
        machine = _d(worker.get("machine"))
        old_machine = _d(old_worker.get("machine")) if old_worker is not None else {}
        arch = _s(machine.get("architecture")) or DEFAULT_ARCHITECTURE
        if arch not in ARCHITECTURES:
            return
        arch_unchanged = old_worker is not None and arch == (
            _s(old_machine.get("architecture")) or DEFAULT_ARCHITECTURE
        )
        zones = _strs(worker.get("zones"))
        region_zones = _dicts(region.get("zones")) if region is not None else []

        def unavailable_somewhere(type_name: str, key: str) -> bool:
            return any(type_name in _strs(z.get(key)) for z in region_zones if z.get("name") in zones)

        machine_type = _s(machine.get("type"))
        if machine_type and not (arch_unchanged and machine_type == old_machine.get("type")):
            types_ = _dicts(profile.get("machineTypes"))
            usable = {_s(t.get("name")) for t in types_ if is_usable(t)}
            with_arch = {_s(t.get("name")) for t in types_ if machine_type_architecture(t) == arch}
            available = {
                _s(t.get("name"))
                for t in types_
                if not unavailable_somewhere(_s(t.get("name")), "unavailableMachineTypes")
            }
            supported = sorted(usable & with_arch & available)
            if machine_type not in {_s(t.get("name")) for t in types_}:
                self.add(not_supported(f"{path}.machine.type", machine_type, supported))
            elif machine_type not in usable or machine_type not in available or machine_type not in with_arch:
                detail = f'machine type "{machine_type}" '
                if machine_type not in usable:
                    detail += "is unusable, "
                if machine_type not in available:
                    detail += "is unavailable in at least one zone, "
                if machine_type not in with_arch:
                    detail += f'does not support CPU architecture "{arch}", '
                self.add(
                    invalid(f"{path}.machine.type", machine_type, f"{detail}supported types are {_go_list(supported)}")
                )

        image = machine.get("image")
        old_image = old_machine.get("image")
        if (
            isinstance(image, dict)
            and image.get("name")
            and image.get("version")
            and not (arch_unchanged and image == old_image)
        ):
            self.machine_image(path, worker, image, old_worker, arch, profile)

        volume = _d(worker.get("volume"))
        volume_type = _s(volume.get("type"))
        old_volume_type = _d(old_worker.get("volume")).get("type") if old_worker is not None else None
        volume_types = _dicts(profile.get("volumeTypes"))
        if volume_type and volume_type != old_volume_type:
            usable = {_s(t.get("name")) for t in volume_types if is_usable(t)}
            available = {
                _s(t.get("name"))
                for t in volume_types
                if not unavailable_somewhere(_s(t.get("name")), "unavailableVolumeTypes")
            }
            supported = sorted(usable & available)
            if volume_type not in {_s(t.get("name")) for t in volume_types}:
                self.add(not_supported(f"{path}.volume.type", volume_type, supported))
            elif volume_type not in usable or volume_type not in available:
                detail = f'volume type "{volume_type}" '
                if volume_type not in usable:
                    detail += "is unusable, "
                if volume_type not in available:
                    detail += "is unavailable in at least one zone, "
                self.add(
                    invalid(f"{path}.volume.type", volume_type, f"{detail}supported types are {_go_list(supported)}")
                )
        minimum_size = _minimum_volume_size(profile, machine_type, volume_type)
        size = parse_quantity(volume.get("size"))
        if minimum_size is not None and size is not None and size < minimum_size[0]:
            self.add(invalid(f"{path}.volume.size", volume.get("size"), f"size must be >= {minimum_size[1]}"))

        zones_changed = old_worker is None or zones != _strs(old_worker.get("zones"))
        if region is not None and (region_changed or zones_changed):
            names = [_s(z.get("name")) for z in region_zones]
            for j, zone in enumerate(zones):
                if zone in names:
                    continue
                if not names:
                    self.add(
                        invalid(
                            f"{path}.zones[{j}]",
                            self.spec.get("region"),
                            "this region does not support availability zones, please do not configure them",
                        )
                    )
                else:
                    self.add(not_supported(f"{path}.zones[{j}]", zone, names))

    def machine_image(
        self,
        path: str,
        worker: dict[str, Any],
        image: dict[str, Any],
        old_worker: dict[str, Any] | None,
        arch: str,
        profile: dict[str, Any],
    ) -> None:
        old_image = _d(_d(old_worker.get("machine")).get("image")) if old_worker is not None else {}
        old_version = parse_version(old_image.get("version"))
        in_profile: set[str] = set()
        active: set[str] = set()
        with_arch: set[str] = set()
        found: dict[str, Any] | None = None
        for entry in _dicts(profile.get("machineImages")):
            for version in _dicts(entry.get("versions")):
                key = f"{_s(entry.get('name'))}:{_s(version.get('version'))}"
                in_profile.add(key)
                if not is_expired(version, self.now):
                    active.add(key)
                elif old_worker is not None:
                    # An existing pool may move to an expired version that is no downgrade (forced maintenance).
                    parsed = parse_version(version.get("version"))
                    if parsed is not None and (old_version is None or parsed >= old_version):
                        active.add(key)
                if arch in image_version_architectures(version):
                    with_arch.add(key)
                if entry.get("name") == image.get("name") and version.get("version") == image.get("version"):
                    found = version
        valid = _go_list(sorted(active & with_arch))
        key = f"{image['name']}:{image['version']}"
        if key not in in_profile:
            self.add(
                invalid(
                    f"{path}.machine.image",
                    image,
                    f"machine image version is not supported, supported machine image versions are: {valid}",
                )
            )
            return
        if key not in with_arch or key not in active:
            detail = f"machine image version '{key}' "
            if key not in with_arch:
                detail += f'does not support CPU architecture "{arch}", '
            if key not in active:
                detail += "is expired, "
            self.add(invalid(f"{path}.machine.image", image, f"{detail}supported machine image versions are: {valid}"))
            return
        cri = _d(worker.get("cri")).get("name")
        old_cri = _d(old_worker.get("cri")).get("name") if old_worker is not None else None
        if found is not None and isinstance(cri, str) and (cri != old_cri or image != old_image):
            supported = image_version_cris(found)
            if cri not in supported:
                self.add(
                    invalid(
                        f"{path}.cri.name",
                        cri,
                        f"machine image '{image['name']}@{image['version']}' does not support CRI '{cri}', "
                        f"supported values: {_go_list(supported)}",
                    )
                )

    def secret_binding(self) -> Object | None:
        name = self.spec.get("secretBindingName")
        if not isinstance(name, str) or not name or not self.namespace:
            return None
        binding = self.lookup.secret_binding(self.namespace, name)
        changed = self.old is None or self.old_spec.get("secretBindingName") != name
        if binding is None:
            if changed:
                self.add(not_found("spec.secretBindingName", name))
            return None
        provider_type = _s(self.provider.get("type"))
        if changed and provider_type:
            binding_type = _s(_d(binding.get("provider")).get("type"))
            if provider_type not in [t.strip() for t in binding_type.split(",")]:
                self.add(
                    invalid(
                        "spec.provider.type",
                        provider_type,
                        "provider type in shoot must match provider type of referenced SecretBinding: "
                        f'"{binding_type}"',
                    )
                )
        return binding

    def quotas(self, binding: Object, profile: Object | None) -> None:
        if self.old is not None and self.provider.get("workers") == _d(self.old_spec.get("provider")).get("workers"):
            return
        namespace = _s(_d(binding.get("metadata")).get("namespace"))
        refs = [{**ref, "namespace": ref.get("namespace") or namespace} for ref in _dicts(binding.get("quotas"))]
        if not refs:
            return
        resources = shoot_resources(self.spec, profile)
        for quota in self.lookup.quotas(refs):
            metrics = _d(_d(quota.get("spec")).get("metrics"))
            exceeded = []
            for metric in QUOTA_METRICS:
                limit = parse_quantity(metrics.get(metric))
                if limit is not None and resources.get(metric, Decimal(0)) > limit:
                    exceeded.append(metric)
            if exceeded:
                self.add(
                    forbidden(
                        "spec.provider.workers",
                        f"Quota limits exceeded. Unable to allocate further {' '.join(exceeded)}",
                    )
                )

    def seed(self) -> None:
        name = self.spec.get("seedName")
        if not isinstance(name, str) or not name:
            return
        assigned = self.old is None or self.old_spec.get("seedName") != name
        seed = self.lookup.seed(name)
        if seed is None:
            if assigned:
                self.add(not_found("spec.seedName", name))
            return
        networking = _d(self.spec.get("networking"))
        if not self.workerless and networking.get("pods") is None:
            self.add(required("spec.networking.pods", "shoot pod network is required"))
        if networking.get("services") is None:
            self.add(required("spec.networking.services", "shoot service network is required"))
        if not assigned:
            return
        if _d(seed.get("metadata")).get("deletionTimestamp"):
            self.add(
                forbidden(
                    "spec.seedName",
                    f"cannot schedule shoot '{self.name}' on seed '{name}' that is already marked for deletion",
                )
            )
        seed_spec = _d(seed.get("spec"))
        if not _taints_tolerated(_dicts(seed_spec.get("taints")), _dicts(self.spec.get("tolerations"))):
            self.add(forbidden("spec.seedName", "forbidden to use a seed whose taints are not tolerated by the shoot"))
        seed_networks = _d(seed_spec.get("networks"))
        for key, label in (("nodes", "node"), ("services", "service"), ("pods", "pod")):
            try:
                shoot_net = parse_cidr(networking.get(key))
            except ValueError:
                continue
            for seed_key, seed_label in (("services", "service"), ("pods", "pod"), ("nodes", "node")):
                try:
                    seed_net = parse_cidr(seed_networks.get(seed_key))
                except ValueError:
                    continue
                if shoot_net.version == seed_net.version and shoot_net.overlaps(seed_net):
                    self.add(
                        invalid(
                            f"spec.networking.{key}",
                            networking[key],
                            f"shoot {label} network intersects with seed {seed_label} network",
                        )
                    )
            vpn = parse_cidr(DEFAULT_VPN_RANGE)
            if shoot_net.version == vpn.version and shoot_net.overlaps(vpn):
                self.add(
                    invalid(
                        f"spec.networking.{key}",
                        networking[key],
                        f"shoot {label} network intersects with default vpn network ({DEFAULT_VPN_RANGE})",
                    )
                )

    def project(self) -> None:
        if not self.namespace:
            return
        project = self.lookup.project_for_namespace(self.namespace)
        project_name = project_name_for_namespace(self.namespace, self.lookup)
        generate_name = _s(self.meta.get("generateName"))
        if not self.name and generate_name:
            limit = SHOOT_PROJECT_NAME_LIMIT - GENERATE_NAME_RANDOM_LENGTH
            if len(project_name + generate_name) > limit:
                self.add(
                    invalid(
                        "metadata.generateName",
                        generate_name,
                        f"the length of the shoot generateName and the project name must not exceed {limit} "
                        f"characters (project: {project_name}; shoot with generateName: {generate_name})",
                    )
                )
        elif len(project_name + self.name) > SHOOT_PROJECT_NAME_LIMIT:
            self.add(
                invalid(
                    "metadata.name",
                    self.name,
                    f"the length of the shoot name and the project name must not exceed {SHOOT_PROJECT_NAME_LIMIT} "
                    f"characters (project: {project_name}; shoot: {self.name})",
                )
            )
        if project is not None and _d(project.get("metadata")).get("deletionTimestamp"):
            self.add(
                forbidden(
                    "metadata.namespace",
                    f"cannot create shoot '{self.name}' in project '{project_name}' that is already marked for "
                    "deletion",
                )
            )


def _valid_location(location: str) -> bool:
    """Whether Go's `time.LoadLocation` would accept the name."""
    if location in ("", "UTC", "Local"):
        return True
    try:
        zoneinfo.ZoneInfo(location)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _taints_tolerated(taints: list[dict[str, Any]], tolerations: list[dict[str, Any]]) -> bool:
    """Gardener's `TaintsAreTolerated`: each seed taint needs a toleration of its key (and value, if set)."""
    tolerated = {_s(t.get("key")): _s(t.get("value")) for t in tolerations}
    for taint in taints:
        key = _s(taint.get("key"))
        if key not in tolerated:
            return False
        if isinstance(taint.get("value"), str) and taint["value"] != tolerated[key]:
            return False
    return True


def _minimum_volume_size(profile: dict[str, Any], machine_type: str, volume_type: str) -> tuple[Decimal, str] | None:
    """The minimal root volume size: the machine type's storage constraint first, then the volume type's."""
    if not volume_type:
        return None
    for entry in _dicts(profile.get("machineTypes")):
        storage = _d(entry.get("storage"))
        if entry.get("name") == machine_type and storage.get("type") == volume_type:
            size = parse_quantity(storage.get("minSize"))
            if size is not None:
                return size, str(storage["minSize"])
    for entry in _dicts(profile.get("volumeTypes")):
        if entry.get("name") == volume_type:
            size = parse_quantity(entry.get("minSize"))
            if size is not None:
                return size, str(entry["minSize"])
    return None


def kubernetes_version_update_errors(new: str, old: str, path: str) -> list[FieldError]:
    """Gardener's `ValidateKubernetesVersionUpdate`: no downgrade, no skipped minor version."""
    new_version, old_version = parse_version(new), parse_version(old)
    if new_version is None or old_version is None:
        return []
    errs = []
    if new_version < old_version:
        errs.append(forbidden(path, "kubernetes version downgrade is not supported"))
    if new_version >= Version(old_version.major, old_version.minor + 2, 0):
        errs.append(forbidden(path, "kubernetes version upgrade cannot skip a minor version"))
    return errs


#: What Gardener answers for a Shoot in a namespace no Project claims (`ProjectForNamespaceFromLister` finds none
#: and ShootTolerationRestriction, the first of its plugins to look, reports it as
#: `could not find referenced project: ...`).
NO_PROJECT = 'could not find referenced project: Project.core.gardener.cloud "<unknown>" not found'


def validate_shoot_namespace(shoot: dict[str, Any], old: dict[str, Any] | None, *, lookup: Lookup) -> list[FieldError]:
    """A Shoot lives in a project namespace; elsewhere it is refused for that alone.

    Gardener's mutating plugins need the Project (tolerations, DNS domain) and fail before any validation, so
    a Shoot in `default` is told about the missing project, not about a SecretBinding it should not need there.
    An update only counts when the spec changes: finalizers and annotations stay writable for a Shoot whose
    Project went away.
    """
    meta = _d(_d(shoot).get("metadata"))
    namespace = _s(meta.get("namespace"))
    if not namespace or (old is not None and _d(shoot).get("spec") == _d(old).get("spec")):
        return []
    if lookup.project_for_namespace(namespace) is not None:
        return []
    return [forbidden("metadata.namespace", NO_PROJECT)]


def validate_shoot(
    shoot: dict[str, Any], old: dict[str, Any] | None, *, lookup: Lookup, now: datetime | None = None
) -> list[FieldError]:
    """All problems of a Shoot (after defaulting) on create (`old` None) or update.

    Static checks as Gardener's `ValidateShoot`/`ValidateShootUpdate`; checks against the CloudProfile
    (region, zones, machine types and images, volume types, Kubernetes version) only for what is new or
    changed, as Gardener's shoot validator; SecretBinding existence and provider type, quota limits,
    Seed networks and taints, and on create the technical ID length limit of project plus shoot name. A Shoot
    outside a project namespace is refused for that alone (`validate_shoot_namespace`).
    """
    errs = _structure(shoot, SHOOT_SCHEMA)
    if errs:
        return dedupe(errs)
    homeless = validate_shoot_namespace(shoot, old, lookup=lookup)
    if homeless:
        return homeless
    return dedupe(_Shoot(shoot, _usable_old(old, SHOOT_SCHEMA), lookup, _now(now)).run())


def validate_shoot_deletion(shoot: dict[str, Any]) -> list[FieldError]:
    """Deleting a Shoot needs the annotation `confirmation.gardener.cloud/deletion=true` (and no ignore annotation)."""
    errs = _deletion_confirmation(shoot)
    annotations = _d(_d(_d(shoot).get("metadata")).get("annotations"))
    if annotations.get(SHOOT_IGNORE) in ("1", "t", "T", "true", "TRUE", "True"):
        errs.append(
            forbidden(
                f"metadata.annotations[{SHOOT_IGNORE}]", f"cannot delete shoot if {SHOOT_IGNORE} annotation is set"
            )
        )
    return errs


# ---- Project ----


def _subject_errors(subject: dict[str, Any], path: str) -> list[FieldError]:
    """Gardener's `ValidateSubject` for owners, creators and members."""
    errs: list[FieldError] = []
    name, kind, api_group = _s(subject.get("name")), _s(subject.get("kind")), _s(subject.get("apiGroup"))
    if not name:
        errs.append(required(f"{path}.name", ""))
    if kind == "ServiceAccount":
        if name:
            errs.extend(invalid(f"{path}.name", name, msg) for msg in dns_subdomain_errors(name))
        if api_group:
            errs.append(not_supported(f"{path}.apiGroup", api_group, [""]))
        if not subject.get("namespace"):
            errs.append(required(f"{path}.namespace", ""))
    elif kind in ("User", "Group"):
        if api_group != RBAC_GROUP:
            errs.append(not_supported(f"{path}.apiGroup", api_group, [RBAC_GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _path_segment_errors(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _member_errors(members: list[dict[str, Any]]) -> list[FieldError]:
    errs: list[FieldError] = []
    ids: set[tuple[str, str, str, str]] = set()
    owner_found = False
    for i, member in enumerate(members):
        path = f"spec.members[{i}]"
        name, kind = _s(member.get("name")), _s(member.get("kind"))
        if kind == "User" and name.startswith("system:serviceaccount:"):
            parts = name.split(":")
            if len(parts) < 4:
                errs.append(invalid(f"{path}.name", name, f"unsupported service account user name: {name!r}"))
                continue
            ident = ("", "ServiceAccount", parts[2], parts[3])
        else:
            ident = (_s(member.get("apiGroup")), kind, _s(member.get("namespace")), name)
        if ident in ids:
            errs.append(duplicate(path, name))
        ids.add(ident)
        errs.extend(_subject_errors(member, path))
        roles: list[tuple[str, str]] = []
        if isinstance(member.get("role"), str) and member["role"]:
            roles.append((f"{path}.role", member["role"]))
        roles.extend((f"{path}.roles[{j}]", r) for j, r in enumerate(_strs(member.get("roles"))))
        if not roles:
            errs.append(required(f"{path}.role", "must specify a role"))
        seen: set[str] = set()
        for role_path, role in roles:
            if role in seen:
                errs.append(duplicate(role_path, role))
            seen.add(role)
            if role.startswith(EXTENSION_ROLE_PREFIX):
                extension = role.removeprefix(EXTENSION_ROLE_PREFIX)
                if len(extension) > 20:
                    errs.append(too_long(role_path, 20))
                errs.extend(invalid(role_path, role, msg) for msg in _path_segment_errors(extension))
            elif role not in PROJECT_ROLES:
                errs.append(not_supported(role_path, role, [*PROJECT_ROLES, EXTENSION_ROLE_PREFIX + "*"]))
            if role == "owner":
                if owner_found:
                    errs.append(forbidden(role_path, "cannot have more than one member having the owner role"))
                owner_found = True
    return errs


def validate_project(project: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """All problems of a Project (after `default_project`), as Gardener's `ValidateProject(Update)`.

    Besides Gardener's checks, the owner must be a member with the admin role (defaulting adds it).
    """
    errs = _structure(project, PROJECT_SCHEMA)
    if errs:
        return dedupe(errs)
    old = _usable_old(old, PROJECT_SCHEMA)
    errs = _validate_meta(project, namespaced=False)
    name = _s(_d(project.get("metadata")).get("name"))
    if len(name) > MAX_PROJECT_NAME_LENGTH:
        errs.append(too_long("metadata.name", MAX_PROJECT_NAME_LENGTH))
    errs.extend(_consecutive_hyphens(project))
    spec = _d(project.get("spec"))
    namespace = spec.get("namespace")
    if isinstance(namespace, str):
        if namespace in RESERVED_PROJECT_NAMESPACES:
            errs.append(
                invalid(
                    "spec.namespace",
                    namespace,
                    f"Project namespaces [{', '.join(RESERVED_PROJECT_NAMESPACES)}] are reserved by Gardener",
                )
            )
        else:
            if namespace != GARDEN_NAMESPACE and not namespace.startswith(PROJECT_NAMESPACE_PREFIX):
                errs.append(invalid("spec.namespace", namespace, f"must start with {PROJECT_NAMESPACE_PREFIX}"))
            errs.extend(invalid("spec.namespace", namespace, msg) for msg in dns_label_errors(namespace))
    members = _dicts(spec.get("members"))
    errs.extend(_member_errors(members))
    for key in ("createdBy", "owner"):
        if isinstance(spec.get(key), dict):
            errs.extend(_subject_errors(spec[key], f"spec.{key}"))
    for key in ("description", "purpose"):
        if spec.get(key) == "":
            errs.append(required(f"spec.{key}", f"must provide a {key} when key is present"))
    tolerations = _d(spec.get("tolerations"))
    errs.extend(_tolerations_errors(tolerations.get("defaults"), "spec.tolerations.defaults"))
    errs.extend(_tolerations_errors(tolerations.get("whitelist"), "spec.tolerations.whitelist"))
    allowed = {
        f"{_s(t.get('key'))}={t['value']}" if isinstance(t.get("value"), str) else _s(t.get("key"))
        for t in _dicts(tolerations.get("whitelist"))
    }
    for i, toleration in enumerate(_dicts(tolerations.get("defaults"))):
        key = _s(toleration.get("key"))
        ident = f"{key}={toleration['value']}" if isinstance(toleration.get("value"), str) else key
        if key not in allowed and ident not in allowed:
            errs.append(
                forbidden(
                    f"spec.tolerations.defaults[{i}]",
                    f"only the following tolerations are allowed: {_go_list(sorted(allowed))}",
                )
            )
    owner = spec.get("owner")
    if (
        isinstance(owner, dict)
        and owner.get("name")
        and not any(same_subject(m, owner) and "admin" in member_roles(m) for m in members)
    ):
        errs.append(forbidden("spec.owner", "owner must be a member of the project with role admin"))
    if old is not None:
        old_spec = _d(old.get("spec"))
        errs.extend(_immutable_once_set(spec.get("createdBy"), old_spec.get("createdBy"), "spec.createdBy"))
        errs.extend(_immutable_once_set(spec.get("namespace"), old_spec.get("namespace"), "spec.namespace"))
        if old_spec.get("owner") is not None and spec.get("owner") is None:
            errs.append(invalid("spec.owner", None, "owner cannot be reset"))
    return dedupe(errs)


def validate_project_deletion(project: dict[str, Any]) -> list[FieldError]:
    """Deleting a Project needs the annotation `confirmation.gardener.cloud/deletion=true`."""
    return _deletion_confirmation(project)


# ---- CloudProfile ----


def _expirable_version_errors(
    version: dict[str, Any], versions: list[dict[str, Any]], index: int, path: str
) -> list[FieldError]:
    errs: list[FieldError] = []
    classification = version.get("classification")
    if classification is not None and classification not in VERSION_CLASSIFICATIONS:
        errs.append(not_supported(f"{path}.classification", classification, VERSION_CLASSIFICATIONS))
    expiration = version.get("expirationDate")
    if expiration is not None and parse_time(expiration) is None:
        errs.append(
            invalid(f"{path}.expirationDate", expiration, "must be an RFC 3339 date-time, e.g. 2027-06-30T23:59:59Z")
        )
    parsed = parse_version(version.get("version"))
    if classification == "supported" and parsed is not None:
        for j, other in enumerate(versions):
            other_parsed = parse_version(other.get("version"))
            if j == index or other.get("classification") != "supported" or other_parsed is None:
                continue
            if (other_parsed.major, other_parsed.minor) == (parsed.major, parsed.minor):
                errs.append(
                    forbidden(
                        path,
                        f'unable to add version "{version.get("version")}" with classification "supported". Only one '
                        '"supported" version is allowed per minor version',
                    )
                )
                break
    return errs


def _expired_on_creation(
    versions: list[dict[str, Any]], old_versions: set[str] | None, path: str, now: datetime
) -> list[FieldError]:
    """New versions (all on creation, added ones on update) must not have expired already."""
    errs = []
    for i, version in enumerate(versions):
        if old_versions is not None and version.get("version") in old_versions:
            continue
        if is_expired(version, now):
            errs.append(
                forbidden(
                    f"{path}[{i}]",
                    f'unable to create version "{version.get("version")}". Creating a version with expiration date '
                    "in the past is not allowed",
                )
            )
    return errs


def _cloud_profile_kubernetes(spec: dict[str, Any], old_spec: dict[str, Any] | None, now: datetime) -> list[FieldError]:
    errs: list[FieldError] = []
    path = "spec.kubernetes.versions"
    versions = _dicts(_d(spec.get("kubernetes")).get("versions"))
    if not versions:
        errs.append(required(path, "must provide at least one Kubernetes version"))
    found: set[str] = set()
    latest: tuple[Version, int] | None = None
    for i, version in enumerate(versions):
        value = version.get("version")
        if not is_kubernetes_version(value):
            errs.append(
                invalid(
                    f"{path}[{i}].version",
                    value,
                    f"all Kubernetes versions must match the regex {KUBERNETES_VERSION_PATTERN}",
                )
            )
        elif value in found:
            errs.append(duplicate(f"{path}[{i}].version", value))
        else:
            found.add(str(value))
            parsed = parse_version(value)
            if parsed is not None and (latest is None or parsed > latest[0]):
                latest = (parsed, i)
        errs.extend(_expirable_version_errors(version, versions, i, f"{path}[{i}]"))
    if latest is not None and versions[latest[1]].get("expirationDate") is not None:
        errs.append(
            invalid(
                f"{path}[{latest[1]}].expirationDate",
                versions[latest[1]]["expirationDate"],
                f"expiration date of latest kubernetes version ('{latest[0]}') must not be set",
            )
        )
    old_versions = None
    if old_spec is not None:
        old_versions = {_s(v.get("version")) for v in _dicts(_d(old_spec.get("kubernetes")).get("versions"))}
    errs.extend(_expired_on_creation(versions, old_versions, path, now))
    return errs


def _cloud_profile_images(spec: dict[str, Any], old_spec: dict[str, Any] | None, now: datetime) -> list[FieldError]:
    errs: list[FieldError] = []
    path = "spec.machineImages"
    images = _dicts(spec.get("machineImages"))
    if not images:
        errs.append(required(path, "must provide at least one machine image"))
    old_images = {_s(i.get("name")): i for i in _dicts(old_spec.get("machineImages"))} if old_spec is not None else {}
    names: set[str] = set()
    for i, image in enumerate(images):
        image_path = f"{path}[{i}]"
        name = _unique_name(errs, image, f"{image_path}.name", names, missing="machine image name must not be empty")
        strategy = image.get("updateStrategy")
        if strategy is not None and strategy not in ("major", "minor", "patch"):
            errs.append(not_supported(f"{image_path}.updateStrategy", strategy, ["major", "minor", "patch"]))
        versions = _dicts(image.get("versions"))
        if not versions:
            errs.append(
                required(f"{image_path}.versions", f"must provide at least one version for the machine image '{name}'")
            )
        seen: set[str] = set()
        for j, version in enumerate(versions):
            version_path = f"{image_path}.versions[{j}]"
            value = _s(version.get("version"))
            if not value:
                errs.append(required(f"{version_path}.version", ""))
            elif value in seen:
                errs.append(duplicate(f"{version_path}.version", value))
            elif parse_version(value) is None:
                errs.append(
                    invalid(
                        f"{version_path}.version",
                        value,
                        "could not parse version. Use a semantic version. In case there is no semantic version for "
                        "this image use the extensibility provider (define mapping in the CloudProfile) to map to the "
                        "actual non semantic version",
                    )
                )
            seen.add(value)
            errs.extend(_expirable_version_errors(version, versions, j, version_path))
            cris: set[str] = set()
            for k, cri in enumerate(_dicts(version.get("cri"))):
                cri_name = _s(cri.get("name"))
                if cri_name in cris:
                    errs.append(duplicate(f"{version_path}.cri[{k}].name", cri_name))
                cris.add(cri_name)
                if cri_name not in CRI_NAMES:
                    errs.append(not_supported(f"{version_path}.cri[{k}].name", cri_name, CRI_NAMES))
            for k, arch in enumerate(_strs(version.get("architectures"))):
                if arch not in ARCHITECTURES:
                    errs.append(not_supported(f"{version_path}.architectures[{k}]", arch, ARCHITECTURES))
        old_versions = None
        if old_spec is not None and name in old_images:
            old_versions = {_s(v.get("version")) for v in _dicts(old_images[name].get("versions"))}
        errs.extend(_expired_on_creation(versions, old_versions, f"{image_path}.versions", now))
    return errs


def _unique_name(errs: list[FieldError], entry: dict[str, Any], path: str, seen: set[str], *, missing: str) -> str:
    """The entry's name, reporting it when empty or already used by an earlier entry of the list."""
    name = _s(entry.get("name"))
    if not name:
        errs.append(required(path, missing))
    elif name in seen:
        errs.append(duplicate(path, name))
    seen.add(name)
    return name


def _cloud_profile_types(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    path = "spec.machineTypes"
    machine_types = _dicts(spec.get("machineTypes"))
    if not machine_types:
        errs.append(required(path, "must provide at least one machine type"))
    names: set[str] = set()
    for i, machine_type in enumerate(machine_types):
        type_path = f"{path}[{i}]"
        _unique_name(errs, machine_type, f"{type_path}.name", names, missing="must provide a name")
        for key in ("cpu", "gpu", "memory"):
            if machine_type.get(key) is None:
                errs.append(required(f"{type_path}.{key}", ""))
            else:
                errs.extend(_quantity_errors(machine_type[key], f"{type_path}.{key}"))
        storage = machine_type.get("storage")
        if isinstance(storage, dict):
            size, minimum = storage.get("size"), storage.get("minSize")
            if size is None and minimum is None:
                errs.append(invalid(f"{type_path}.storage", storage, 'must either configure "size" or "minSize"'))
            elif size is not None and minimum is not None:
                errs.append(
                    invalid(f"{type_path}.storage", storage, 'not allowed to configure both "size" and "minSize"')
                )
            else:
                key = "size" if size is not None else "minSize"
                errs.extend(_quantity_errors(storage[key], f"{type_path}.storage.{key}"))
        arch = machine_type.get("architecture")
        if arch is not None and arch not in ARCHITECTURES:
            errs.append(not_supported(f"{type_path}.architecture", arch, ARCHITECTURES))
    path = "spec.volumeTypes"
    names = set()
    for i, volume_type in enumerate(_dicts(spec.get("volumeTypes"))):
        type_path = f"{path}[{i}]"
        _unique_name(errs, volume_type, f"{type_path}.name", names, missing="must provide a name")
        if not volume_type.get("class"):
            errs.append(required(f"{type_path}.class", "must provide a class"))
        if volume_type.get("minSize") is not None:
            errs.extend(_quantity_errors(volume_type["minSize"], f"{type_path}.minSize"))
    return errs


def _cloud_profile_regions(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    path = "spec.regions"
    regions = _dicts(spec.get("regions"))
    if not regions:
        errs.append(required(path, "must provide at least one region"))
    names: set[str] = set()
    for i, region in enumerate(regions):
        region_path = f"{path}[{i}]"
        _unique_name(errs, region, f"{region_path}.name", names, missing="must provide a region name")
        zones: set[str] = set()
        for j, zone in enumerate(_dicts(region.get("zones"))):
            zone_name = _s(zone.get("name"))
            if not zone_name:
                errs.append(required(f"{region_path}.zones[{j}].name", "zone name cannot be empty"))
            elif zone_name in zones:
                errs.append(duplicate(f"{region_path}.zones[{j}].name", zone_name))
            zones.add(zone_name)
        errs.extend(_labels_errors(region.get("labels"), f"{region_path}.labels"))
    return errs


def _versions_by_image(spec: dict[str, Any]) -> dict[str, set[str]]:
    return {
        _s(image.get("name")): {_s(v.get("version")) for v in _dicts(image.get("versions"))}
        for image in _dicts(spec.get("machineImages"))
    }


def _cloud_profile_removals(
    name: str, spec: dict[str, Any], old_spec: dict[str, Any], lookup: Lookup
) -> list[FieldError]:
    """Gardener's reference manager: versions (and here also machine types) still used by Shoots stay."""

    def versions(s: dict[str, Any]) -> set[str]:
        return {_s(v.get("version")) for v in _dicts(_d(s.get("kubernetes")).get("versions"))}

    removed_versions = versions(old_spec) - versions(spec)
    new_images = _versions_by_image(spec)
    removed_images = {image: old - new_images.get(image, set()) for image, old in _versions_by_image(old_spec).items()}
    removed_images = {image: vs for image, vs in removed_images.items() if vs}
    removed_types = {_s(t.get("name")) for t in _dicts(old_spec.get("machineTypes"))} - {
        _s(t.get("name")) for t in _dicts(spec.get("machineTypes"))
    }
    if not (removed_versions or removed_images or removed_types):
        return []
    errs: list[FieldError] = []
    for shoot in lookup.shoots_using_cloud_profile(name):
        meta = _d(shoot.get("metadata"))
        if meta.get("deletionTimestamp"):
            continue
        ref = f"{_s(meta.get('namespace'))}/{_s(meta.get('name'))}"
        shoot_spec = _d(shoot.get("spec"))
        version = _s(_d(shoot_spec.get("kubernetes")).get("version"))
        if version in removed_versions:
            errs.append(
                forbidden(
                    "spec.kubernetes.versions",
                    f'unable to delete Kubernetes version "{version}" from CloudProfile "{name}" - version is still '
                    f"in use by shoot '{ref}'",
                )
            )
        for worker in _dicts(_d(shoot_spec.get("provider")).get("workers")):
            worker_name = _s(worker.get("name"))
            worker_version = _s(_d(worker.get("kubernetes")).get("version"))
            if worker_version in removed_versions:
                errs.append(
                    forbidden(
                        "spec.kubernetes.versions",
                        f'unable to delete Kubernetes version "{worker_version}" from CloudProfile "{name}" - version '
                        f"is still in use by shoot '{ref}' by worker \"{worker_name}\"",
                    )
                )
            machine = _d(worker.get("machine"))
            image = _d(machine.get("image"))
            image_name, image_version = _s(image.get("name")), _s(image.get("version"))
            if image_version in removed_images.get(image_name, set()):
                errs.append(
                    forbidden(
                        "spec.machineImages",
                        f"unable to delete Machine image version '{image_name}/{image_version}' from CloudProfile "
                        f'"{name}" - version is still in use by shoot \'{ref}\' by worker "{worker_name}"',
                    )
                )
            machine_type = _s(machine.get("type"))
            if machine_type in removed_types:
                errs.append(
                    forbidden(
                        "spec.machineTypes",
                        f'unable to delete machine type "{machine_type}" from CloudProfile "{name}" - machine type is '
                        f"still in use by shoot '{ref}' by worker \"{worker_name}\"",
                    )
                )
    return errs


def _ca_bundle_errors(bundle: Any) -> list[FieldError]:
    if not isinstance(bundle, str):
        return []
    try:
        if x509.load_pem_x509_certificates(bundle.encode()):
            return []
    except ValueError:
        pass
    return [invalid("spec.caBundle", bundle, "caBundle is not a valid PEM-encoded certificate")]


def validate_cloud_profile(
    cp: dict[str, Any], old: dict[str, Any] | None, *, lookup: Lookup, now: datetime | None = None
) -> list[FieldError]:
    """All problems of a CloudProfile, as Gardener's `ValidateCloudProfile(Creation|Update)`; on updates
    removing a Kubernetes version, machine image version or machine type still used by a Shoot is forbidden."""
    errs = _structure(cp, CLOUD_PROFILE_SCHEMA)
    if errs:
        return dedupe(errs)
    old = _usable_old(old, CLOUD_PROFILE_SCHEMA)
    now = _now(now)
    errs = _validate_meta(cp, namespaced=False)
    if not isinstance(cp.get("spec"), dict):
        return dedupe([*errs, required("spec", "")])
    spec = cp["spec"]
    old_spec = _d(old.get("spec")) if old is not None else None
    if not spec.get("type"):
        errs.append(required("spec.type", "must provide a provider type"))
    errs.extend(_cloud_profile_kubernetes(spec, old_spec, now))
    errs.extend(_cloud_profile_images(spec, old_spec, now))
    errs.extend(_cloud_profile_types(spec))
    errs.extend(_cloud_profile_regions(spec))
    errs.extend(_ca_bundle_errors(spec.get("caBundle")))
    if old_spec is not None:
        name = _s(_d(cp.get("metadata")).get("name"))
        errs.extend(_cloud_profile_removals(name, spec, old_spec, lookup))
    return dedupe(errs)


# ---- Seed ----


def validate_seed(seed: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """All problems of a Seed, as Gardener's `ValidateSeed(Update)` (DNS provider credentials are optional here,
    as the local provider needs none)."""
    errs = _structure(seed, SEED_SCHEMA)
    if errs:
        return dedupe(errs)
    old = _usable_old(old, SEED_SCHEMA)
    errs = _validate_meta(seed, namespaced=False)
    if not isinstance(seed.get("spec"), dict):
        return dedupe([*errs, required("spec", "")])
    spec = seed["spec"]
    provider = _d(spec.get("provider"))
    if not provider.get("type"):
        errs.append(required("spec.provider.type", "must provide a provider type"))
    if not provider.get("region"):
        errs.append(required("spec.provider.region", "must provide a provider region"))
    networks = _d(spec.get("networks"))
    defaults = _d(networks.get("shootDefaults"))
    cidrs: list[tuple[str, str, IPNetwork]] = []
    for path, value, needed in (
        ("spec.networks.pods", networks.get("pods"), True),
        ("spec.networks.services", networks.get("services"), True),
        ("spec.networks.nodes", networks.get("nodes"), False),
        ("spec.networks.shootDefaults.pods", defaults.get("pods"), False),
        ("spec.networks.shootDefaults.services", defaults.get("services"), False),
    ):
        if value is None:
            if needed:
                errs.append(required(path, ""))
            continue
        net = _cidr(value, path, errs)
        if net is not None:
            cidrs.append((path, value, net))
    for j, (path, value, net) in enumerate(cidrs):
        for other_path, other_value, other in cidrs[:j]:
            if net.version == other.version and net.overlaps(other):
                errs.append(invalid(path, value, f'must not overlap with "{other_path}" ("{other_value}")'))
        vpn = parse_cidr(DEFAULT_VPN_RANGE)
        if net.version == vpn.version and net.overlaps(vpn):
            errs.append(invalid(path, value, f'must not overlap with the default VPN range "{DEFAULT_VPN_RANGE}"'))
    for i, family in enumerate(networks.get("ipFamilies") or []):
        if family not in IP_FAMILIES:
            errs.append(not_supported(f"spec.networks.ipFamilies[{i}]", family, IP_FAMILIES))
    backup = spec.get("backup")
    if isinstance(backup, dict):
        if not backup.get("provider"):
            errs.append(required("spec.backup.provider", "must provide a backup cloud provider name"))
        if backup.get("provider") != provider.get("type") and not backup.get("region"):
            errs.append(
                invalid(
                    "spec.backup.region",
                    "",
                    "region must be specified for if backup provider is different from provider used in `spec.cloud`",
                )
            )
        secret_ref = backup.get("secretRef")
        if not isinstance(secret_ref, dict):
            errs.append(required("spec.backup.secretRef", "must provide the credentials of the backup bucket"))
        else:
            if not secret_ref.get("name"):
                errs.append(required("spec.backup.secretRef.name", "must provide a name"))
            if not secret_ref.get("namespace"):
                errs.append(required("spec.backup.secretRef.namespace", "must provide a namespace"))
    seen: set[str] = set()
    for i, taint in enumerate(_dicts(spec.get("taints"))):
        key = _s(taint.get("key"))
        if not key:
            errs.append(required(f"spec.taints[{i}].key", "cannot be empty"))
        ident = f"{key}={taint['value']}" if isinstance(taint.get("value"), str) else key
        if ident in seen:
            errs.append(duplicate(f"spec.taints[{i}]", ident))
        seen.add(ident)
    dns = _d(spec.get("dns"))
    ingress = spec.get("ingress")
    ingress_domain = dns.get("ingressDomain")
    if isinstance(ingress_domain, str):
        errs.extend(invalid("spec.dns.ingressDomain", ingress_domain, m) for m in dns_subdomain_errors(ingress_domain))
    if ingress_domain is None and not _d(ingress).get("domain"):
        errs.append(required("spec.ingress.domain", "either specify spec.ingress or spec.dns.ingressDomain"))
    if isinstance(ingress, dict):
        if ingress_domain is not None:
            errs.append(
                invalid("spec.dns.ingressDomain", "", "Either specify spec.ingress.domain or spec.dns.ingressDomain")
            )
        else:
            kind = _d(ingress.get("controller")).get("kind")
            if kind is not None and kind not in INGRESS_KINDS:
                errs.append(not_supported("spec.ingress.controller.kind", kind, INGRESS_KINDS))
            dns_provider = dns.get("provider")
            if not isinstance(dns_provider, dict):
                errs.append(required("spec.dns.provider", "ingress controller requires dns.provider to be set"))
            elif not dns_provider.get("type"):
                errs.append(required("spec.dns.provider.type", "DNS provider type must be set"))
            domain = ingress.get("domain")
            if isinstance(domain, str) and domain:
                errs.extend(invalid("spec.ingress.domain", domain, m) for m in dns_subdomain_errors(domain))
    if old is not None:
        old_spec = _d(old.get("spec"))
        old_networks = _d(old_spec.get("networks"))
        for key in ("pods", "services"):
            if networks.get(key) != old_networks.get(key):
                errs.append(immutable(f"spec.networks.{key}", networks.get(key)))
        errs.extend(_immutable_once_set(networks.get("nodes"), old_networks.get("nodes"), "spec.networks.nodes"))
        old_domain = _d(old_spec.get("ingress")).get("domain") or _d(old_spec.get("dns")).get("ingressDomain")
        new_domain = _d(ingress).get("domain") or ingress_domain
        if old_domain and new_domain and new_domain != old_domain:
            path = "spec.ingress.domain" if _d(ingress).get("domain") else "spec.dns.ingressDomain"
            errs.append(immutable(path, new_domain))
        old_backup = old_spec.get("backup")
        if isinstance(old_backup, dict):
            if not isinstance(backup, dict):
                errs.append(immutable("spec.backup", None))
            else:
                for key in ("provider", "region"):
                    if backup.get(key) != old_backup.get(key):
                        errs.append(immutable(f"spec.backup.{key}", backup.get(key)))
    return dedupe(errs)


# ---- SecretBinding, Quota ----


def _quota_scope(scope: dict[str, Any]) -> str | None:
    api_version, kind = _s(scope.get("apiVersion")), _s(scope.get("kind"))
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    for (known_version, known_kind), name in QUOTA_SCOPES.items():
        known_group = known_version.rsplit("/", 1)[0] if "/" in known_version else ""
        if group == known_group and kind == known_kind:
            return name
    return None


def validate_secret_binding(sb: dict[str, Any], old: dict[str, Any] | None, *, lookup: Lookup) -> list[FieldError]:
    """All problems of a SecretBinding: secretRef and provider type required, quotas must exist (one per scope);
    secretRef, quotas and (once set) provider are immutable."""
    errs = _structure(sb, SECRET_BINDING_SCHEMA)
    if errs:
        return dedupe(errs)
    old = _usable_old(old, SECRET_BINDING_SCHEMA)
    errs = _validate_meta(sb, namespaced=True)
    secret_ref = sb.get("secretRef")
    if not isinstance(secret_ref, dict):
        errs.append(required("secretRef", ""))
    elif not secret_ref.get("name"):
        errs.append(required("secretRef.name", "must provide a name"))
    provider = sb.get("provider")
    if not isinstance(provider, dict):
        errs.append(required("provider", "must specify a provider"))
    elif not provider.get("type"):
        errs.append(required("provider.type", "must specify a provider type"))
    namespace = _s(_d(sb.get("metadata")).get("namespace"))
    quota_refs = _dicts(sb.get("quotas"))
    for i, ref in enumerate(quota_refs):
        if not ref.get("name"):
            errs.append(required(f"quotas[{i}].name", "must provide a name"))
    if old is None:
        counts: dict[str, int] = defaultdict(int)
        for i, ref in enumerate(quota_refs):
            if not ref.get("name"):
                continue
            target = {**ref, "namespace": ref.get("namespace") or namespace}
            found = lookup.quotas([target])
            if not found:
                errs.append(not_found(f"quotas[{i}]", f"{target['namespace']}/{target['name']}"))
                continue
            scope = _quota_scope(_d(_d(found[0].get("spec")).get("scope")))
            if scope is not None:
                counts[scope] += 1
        if counts.get("project", 0) > 1 or counts.get("secret", 0) > 1:
            errs.append(forbidden("quotas", "only one quota per scope (project or secret) can be assigned"))
    else:
        for key in ("secretRef", "quotas"):
            if sb.get(key) != old.get(key):
                errs.append(immutable(key, sb.get(key)))
        errs.extend(_immutable_once_set(sb.get("provider"), old.get("provider"), "provider"))
    return dedupe(errs)


def validate_quota(q: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """All problems of a Quota: scope Project or Secret (immutable), known metrics with valid quantities."""
    errs = _structure(q, QUOTA_SCHEMA)
    if errs:
        return dedupe(errs)
    old = _usable_old(old, QUOTA_SCHEMA)
    errs = _validate_meta(q, namespaced=True)
    if not isinstance(q.get("spec"), dict):
        return dedupe([*errs, required("spec", "")])
    spec = q["spec"]
    lifetime = spec.get("clusterLifetimeDays")
    if isinstance(lifetime, int) and lifetime < 1:
        errs.append(invalid("spec.clusterLifetimeDays", lifetime, "must be greater than 0"))
    scope = spec.get("scope")
    if not isinstance(scope, dict):
        errs.append(required("spec.scope", ""))
    elif _quota_scope(scope) is None:
        api_version = _s(scope.get("apiVersion"))
        group, _, version = api_version.rpartition("/")
        errs.append(
            not_supported(
                "spec.scope",
                f"{group}/{version}, Kind={_s(scope.get('kind'))}",
                [
                    "core.gardener.cloud/v1beta1, Kind=Project",
                    "/v1, Kind=Secret",
                    "security.gardener.cloud/v1alpha1, Kind=WorkloadIdentity",
                ],
            )
        )
    for key, value in _d(spec.get("metrics")).items():
        path = f"spec.metrics[{key}]"
        if key not in QUOTA_METRICS:
            errs.append(invalid(path, str(value), f"{key} is no supported quota metric"))
        errs.extend(_quantity_errors(value, path))
    if old is not None:
        old_scope = _d(old.get("spec")).get("scope")
        if scope != old_scope:
            errs.append(immutable("spec.scope", scope))
    return dedupe(errs)


# ---- ControllerRegistration, ControllerInstallation, ManagedSeed ----


def validate_controller_registration(cr: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """All problems of a ControllerRegistration: resources need a known kind and a type, unique together;
    Extension-only fields only on kind Extension; deployment policy and references; `primary` immutable."""
    errs = _structure(cr, CONTROLLER_REGISTRATION_SCHEMA)
    if errs:
        return dedupe(errs)
    old = _usable_old(old, CONTROLLER_REGISTRATION_SCHEMA)
    errs = _validate_meta(cr, namespaced=False)
    spec = _d(cr.get("spec"))
    resources = _dicts(spec.get("resources"))
    kind_types: set[tuple[str, str]] = set()
    for i, resource in enumerate(resources):
        path = f"spec.resources[{i}]"
        kind, type_ = _s(resource.get("kind")), _s(resource.get("type"))
        if not kind:
            errs.append(required(f"{path}.kind", "field is required"))
        elif kind not in EXTENSION_KINDS:
            errs.append(not_supported(f"{path}.kind", kind, EXTENSION_KINDS))
        if not type_:
            errs.append(required(f"{path}.type", "field is required"))
        if (kind, type_) in kind_types:
            errs.append(duplicate(path, f"{kind}/{type_}"))
        kind_types.add((kind, type_))
        if kind != "Extension":
            for key in ("globallyEnabled", "autoEnable", "clusterCompatibility", "reconcileTimeout", "lifecycle"):
                if resource.get(key) is not None and resource.get(key) != []:
                    errs.append(forbidden(f"{path}.{key}", "field must not be set when kind != Extension"))
            continue
        lifecycle = _d(resource.get("lifecycle"))
        for key, allowed in (
            ("reconcile", EXTENSION_RECONCILE_STRATEGIES),
            ("delete", EXTENSION_STRATEGIES),
            ("migrate", EXTENSION_STRATEGIES),
        ):
            value = lifecycle.get(key)
            if value is not None and value not in allowed:
                errs.append(not_supported(f"{path}.lifecycle.{key}", value, allowed))
    deployment = spec.get("deployment")
    if isinstance(deployment, dict):
        policy = deployment.get("policy")
        if policy is not None and policy not in CONTROLLER_POLICIES:
            errs.append(not_supported("spec.deployment.policy", policy, CONTROLLER_POLICIES))
        if deployment.get("seedSelector") is not None and any(r.get("primary") is not False for r in resources):
            errs.append(
                forbidden(
                    "spec.deployment.seedSelector",
                    "specifying a seed selector is not allowed when controlling resources primarily",
                )
            )
        refs = deployment.get("deploymentRefs")
        if isinstance(refs, list):
            if len(refs) > 1:
                errs.append(forbidden("spec.deployment.deploymentRefs", "only one deployment reference is allowed"))
            for i, ref in enumerate(refs):
                if not _d(ref).get("name"):
                    errs.append(required(f"spec.deployment.deploymentRefs[{i}].name", "must not be empty"))
    if old is not None:
        old_primary = {
            (_s(r.get("kind")), _s(r.get("type"))): r.get("primary")
            for r in _dicts(_d(old.get("spec")).get("resources"))
        }
        for i, resource in enumerate(resources):
            kind_type = (_s(resource.get("kind")), _s(resource.get("type")))
            if kind_type in old_primary and resource.get("primary") != old_primary[kind_type]:
                errs.append(immutable(f"spec.resources[{i}].primary", resource.get("primary")))
    return dedupe(errs)


def validate_controller_installation(ci: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """All problems of a ControllerInstallation: registration and seed references required and immutable."""
    errs = _structure(ci, CONTROLLER_INSTALLATION_SCHEMA)
    if errs:
        return dedupe(errs)
    old = _usable_old(old, CONTROLLER_INSTALLATION_SCHEMA)
    errs = _validate_meta(ci, namespaced=False)
    spec = _d(ci.get("spec"))
    for key in ("registrationRef", "seedRef"):
        if not _d(spec.get(key)).get("name"):
            errs.append(required(f"spec.{key}.name", "field is required"))
    if old is not None:
        old_spec = _d(old.get("spec"))
        for key in ("registrationRef", "seedRef"):
            new_name, old_name = _d(spec.get(key)).get("name"), _d(old_spec.get(key)).get("name")
            if new_name != old_name:
                errs.append(immutable(f"spec.{key}.name", new_name))
    return dedupe(errs)


def validate_managed_seed(ms: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """All problems of a ManagedSeed: in the garden namespace, naming its Shoot (immutable)."""
    errs = _structure(ms, MANAGED_SEED_SCHEMA)
    if errs:
        return dedupe(errs)
    old = _usable_old(old, MANAGED_SEED_SCHEMA)
    errs = _validate_meta(ms, namespaced=True)
    namespace = _d(ms.get("metadata")).get("namespace")
    if namespace and namespace != GARDEN_NAMESPACE:
        errs.append(invalid("metadata.namespace", namespace, "namespace must be garden"))
    spec = _d(ms.get("spec"))
    shoot = spec.get("shoot")
    if not isinstance(shoot, dict):
        errs.append(required("spec.shoot", "shoot is required"))
    elif not shoot.get("name"):
        errs.append(required("spec.shoot.name", "shoot name is required"))
    bootstrap = _d(spec.get("gardenlet")).get("bootstrap")
    if bootstrap is not None and bootstrap not in ("ServiceAccount", "BootstrapToken", "None"):
        errs.append(not_supported("spec.gardenlet.bootstrap", bootstrap, ["ServiceAccount", "BootstrapToken", "None"]))
    if old is not None:
        old_spec = _d(old.get("spec"))
        if spec.get("shoot") != old_spec.get("shoot"):
            errs.append(immutable("spec.shoot", spec.get("shoot")))
        old_bootstrap = _d(old_spec.get("gardenlet")).get("bootstrap")
        if bootstrap != old_bootstrap:
            errs.append(immutable("spec.gardenlet.bootstrap", bootstrap))
    return dedupe(errs)


# ---- by kind ----


def validate_object(
    obj: dict[str, Any], old: dict[str, Any] | None = None, *, lookup: Lookup, now: datetime | None = None
) -> list[FieldError]:
    """Validate any garden object by its `kind`; objects of other kinds have no problems here."""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind == "Shoot":
        return validate_shoot(obj, old, lookup=lookup, now=now)
    if kind == "CloudProfile":
        return validate_cloud_profile(obj, old, lookup=lookup, now=now)
    if kind == "SecretBinding":
        return validate_secret_binding(obj, old, lookup=lookup)
    simple: dict[str, Callable[[dict[str, Any], dict[str, Any] | None], list[FieldError]]] = {
        "Project": validate_project,
        "Seed": validate_seed,
        "Quota": validate_quota,
        "ControllerRegistration": validate_controller_registration,
        "ControllerInstallation": validate_controller_installation,
        "ManagedSeed": validate_managed_seed,
    }
    check = simple.get(kind) if isinstance(kind, str) else None
    return check(obj, old) if check is not None else []


def validate_deletion(obj: dict[str, Any]) -> list[FieldError]:
    """Deletion checks by `kind`: Shoots and Projects need the deletion confirmation annotation."""
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind == "Shoot":
        return validate_shoot_deletion(obj)
    if kind == "Project":
        return validate_project_deletion(obj)
    return []
