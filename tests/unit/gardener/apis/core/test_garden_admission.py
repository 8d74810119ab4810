"""Garden admission as pure functions: defaulting and validation of the core.gardener.cloud kinds.

The shared example manifests (with an in-memory `Lookup` built from them) must pass and read back
defaulted; every invalid manifest must be rejected with exactly the expected set of field paths.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.apis.core.defaulting import default_project, default_shoot
from gardener.apis.core.errors import FieldError
from gardener.apis.core.formats import (
    go_duration,
    in_maintenance_window,
    maintenance_window_duration,
    parse_cron,
    parse_quantity,
    parse_version,
)
from gardener.apis.core.lookup import MemoryLookup
from gardener.apis.core.validation import (
    MAX_WORKERS,
    shoot_resources,
    validate_cloud_profile,
    validate_controller_installation,
    validate_controller_registration,
    validate_deletion,
    validate_managed_seed,
    validate_object,
    validate_project,
    validate_project_deletion,
    validate_quota,
    validate_secret_binding,
    validate_seed,
    validate_shoot,
    validate_shoot_deletion,
)

EXAMPLES = Path(__file__).resolve().parents[5] / "hack" / "examples"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
Obj = dict[str, Any]


def _load_examples() -> list[Obj]:
    objects: list[Obj] = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        objects.extend(o for o in yaml.safe_load_all(path.read_text()) if o)
    return objects


RAW = _load_examples()

# Objects of the kinds without an example, valid as they are.
QUOTA: Obj = {
    "apiVersion": "core.gardener.cloud/v1beta1",
    "kind": "Quota",
    "metadata": {"name": "trial", "namespace": "garden-dev"},
    "spec": {
        "scope": {"apiVersion": "core.gardener.cloud/v1beta1", "kind": "Project"},
        "clusterLifetimeDays": 14,
        "metrics": {"cpu": "10", "memory": "100Gi"},
    },
}
CONTROLLER_REGISTRATION: Obj = {
    "apiVersion": "core.gardener.cloud/v1beta1",
    "kind": "ControllerRegistration",
    "metadata": {"name": "provider-local"},
    "spec": {
        "resources": [
            {"kind": "Infrastructure", "type": "local"},
            {"kind": "Worker", "type": "local"},
            {"kind": "Extension", "type": "shoot-dns-service", "globallyEnabled": True},
        ],
        "deployment": {"policy": "OnDemand", "deploymentRefs": [{"name": "provider-local"}]},
    },
}
CONTROLLER_INSTALLATION: Obj = {
    "apiVersion": "core.gardener.cloud/v1beta1",
    "kind": "ControllerInstallation",
    "metadata": {"name": "provider-local-abcde"},
    "spec": {"registrationRef": {"name": "provider-local"}, "seedRef": {"name": "local"}},
}
MANAGED_SEED: Obj = {
    "apiVersion": "seedmanagement.gardener.cloud/v1alpha1",
    "kind": "ManagedSeed",
    "metadata": {"name": "apps", "namespace": "garden"},
    "spec": {"shoot": {"name": "apps"}, "gardenlet": {"bootstrap": "BootstrapToken"}},
}
EXTRA = [QUOTA, CONTROLLER_REGISTRATION, CONTROLLER_INSTALLATION, MANAGED_SEED]


def example(kind: str, name: str) -> Obj:
    for obj in [*RAW, *EXTRA]:
        if obj.get("kind") == kind and obj["metadata"]["name"] == name:
            return copy.deepcopy(obj)
    raise KeyError(f"{kind}/{name}")


def make_lookup(*extra: Obj, shoots: bool = False) -> MemoryLookup:
    """The examples (optionally with the defaulted example Shoots) plus replacements and additions."""
    base = [o for o in RAW if o.get("apiVersion", "").startswith("core.gardener.cloud") and o["kind"] != "Shoot"]
    lookup = MemoryLookup(copy.deepcopy(base))
    for obj in extra:
        lookup.add(copy.deepcopy(obj))
    if shoots:
        for name in ("demo", "apps"):
            lookup.add(admitted("Shoot", name))
    return lookup


def default(obj: Obj, lookup: MemoryLookup, old: Obj | None = None) -> None:
    if obj.get("kind") == "Shoot":
        default_shoot(obj, lookup=lookup, rng=random.Random(7), old=old, now=NOW)
    elif obj.get("kind") == "Project":
        default_project(obj)


def admitted(kind: str, name: str) -> Obj:
    """An example as the API server stores it: defaulted, and checked to be valid."""
    obj = example(kind, name)
    lookup = make_lookup()
    default(obj, lookup)
    assert validate_object(obj, None, lookup=lookup, now=NOW) == []
    return obj


def fields(errors: list[FieldError]) -> set[str]:
    return {e.field for e in errors}


# ---- the examples ----


@pytest.mark.parametrize("obj", RAW, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in RAW])
def test_examples_pass(obj: Obj) -> None:
    lookup = make_lookup()
    obj = copy.deepcopy(obj)
    default(obj, lookup)
    assert validate_object(obj, None, lookup=lookup, now=NOW) == []
    # stored and re-submitted unchanged, it passes as an update too
    again = copy.deepcopy(obj)
    default(again, lookup, old=obj)
    assert again == obj
    assert validate_object(again, obj, lookup=lookup, now=NOW) == []


def test_workerless_shoot_reads_back_defaulted() -> None:
    shoot = admitted("Shoot", "demo")
    spec = shoot["spec"]
    assert spec["kubernetes"]["version"] == "1.32.2"  # newest non-preview, non-expired 1.32.x
    assert spec["purpose"] == "development"
    assert spec["maintenance"]["timeWindow"] == {"begin": "220000+0100", "end": "230000+0100"}
    assert spec["networking"] == {"ipFamilies": ["IPv4"]}  # no type for workerless Shoots, no seed yet
    assert "enableStaticTokenKubeconfig" not in spec["kubernetes"]
    assert "hibernation" not in spec
    assert shoot["status"]["technicalID"] == "shoot--dev--demo"


def test_shoot_with_workers_reads_back_defaulted() -> None:
    shoot = admitted("Shoot", "apps")
    spec = shoot["spec"]
    assert spec["kubernetes"]["version"] == "1.31.6"
    assert spec["purpose"] == "evaluation"
    assert spec["networking"]["type"] == "calico"
    assert spec["networking"]["nodes"] == "10.250.0.0/16"
    assert "pods" not in spec["networking"] and "services" not in spec["networking"]  # no seed known yet
    assert spec["maintenance"]["autoUpdate"] == {"kubernetesVersion": True, "machineImageVersion": True}
    pool_a, pool_b = spec["provider"]["workers"]
    assert (pool_a["maxSurge"], pool_a["maxUnavailable"]) == (1, 0)
    assert pool_b["maxSurge"] == 1 and pool_b["maxUnavailable"] == 0
    assert pool_b["machine"] == {
        "type": "local-large",
        "architecture": "amd64",
        "image": {"name": "local", "version": "1.0.0"},
    }
    assert pool_b["cri"] == {"name": "containerd"}
    assert spec["schedulerName"] == "default-scheduler"
    assert shoot["status"]["technicalID"] == "shoot--dev--apps"


def test_project_reads_back_defaulted() -> None:
    project = admitted("Project", "dev")
    members = project["spec"]["members"]
    assert members[-1] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "User",
        "name": "alice@example.com",
        "role": "admin",
        "roles": ["owner"],
    }
    assert project["spec"]["namespace"] == "garden-dev"


# ---- invalid manifests: exactly these fields ----


def _profile(mutate: Callable[[Obj], Any]) -> Obj:
    profile = example("CloudProfile", "local")
    mutate(profile)
    return profile


def _set(obj: Obj, path: str, value: Any) -> None:
    """Set a dotted path (`spec.provider.workers.0.name`), creating dicts on the way."""
    keys = path.split(".")
    target: Any = obj
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
    if isinstance(target, list):
        target[int(keys[-1])] = value
    else:
        target[keys[-1]] = value


def _del(obj: Obj, path: str) -> None:
    keys = path.split(".")
    target: Any = obj
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    del target[keys[-1]]


def sets(*pairs: tuple[str, Any]) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        for path, value in pairs:
            _set(obj, path, value)

    return mutate


def drops(*paths: str) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        for path in paths:
            _del(obj, path)

    return mutate


@dataclass
class Case:
    id: str
    kind: str
    name: str
    mutate: Callable[[Obj], Any]
    fields: set[str]
    update: bool = False
    old_mutate: Callable[[Obj], Any] | None = None
    extra: tuple[Obj, ...] = ()
    shoots: bool = False
    reasons: set[str] = field(default_factory=set)


W0 = "spec.provider.workers[0]"
W1 = "spec.provider.workers[1]"
EXPIRED = "2025-01-01T00:00:00Z"

PROFILE_SMALL_UNUSABLE = _profile(sets(("spec.machineTypes.0.usable", False)))
PROFILE_IMAGE_EXPIRED = _profile(
    sets(
        (
            "spec.machineImages.0.versions",
            [{"version": "1.0.0", "expirationDate": EXPIRED}, {"version": "1.1.0"}],
        )
    )
)
PROFILE_131_EXPIRED = _profile(sets(("spec.kubernetes.versions.3.expirationDate", EXPIRED)))
PROFILE_PREVIEW_133 = _profile(
    lambda p: p["spec"]["kubernetes"]["versions"].insert(0, {"version": "1.33.0", "classification": "preview"})
)
AWS_BINDING: Obj = {
    "apiVersion": "core.gardener.cloud/v1beta1",
    "kind": "SecretBinding",
    "metadata": {"name": "aws-creds", "namespace": "garden-dev"},
    "provider": {"type": "aws"},
    "secretRef": {"name": "aws", "namespace": "garden-dev"},
}
BINDING_WITH_QUOTA: Obj = {
    **example("SecretBinding", "local"),
    "quotas": [{"name": "trial", "namespace": "garden-dev"}],
}

INVALID: list[Case] = [
    # -- Shoot: against the CloudProfile --
    Case(
        "shoot-unknown-machine-type",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.machine.type", "huge")),
        {f"{W0}.machine.type"},
        reasons={"FieldValueNotSupported"},
    ),
    Case(
        "shoot-machine-type-unavailable-in-zone",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.1.zones", ["local-a", "local-b"])),
        {f"{W1}.machine.type"},
        reasons={"FieldValueInvalid"},
    ),
    Case(
        "shoot-machine-type-unusable",
        "Shoot",
        "apps",
        lambda o: None,
        {f"{W0}.machine.type"},
        extra=(PROFILE_SMALL_UNUSABLE,),
    ),
    Case(
        "shoot-unknown-image-version",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.machine.image.version", "9.9.9")),
        {f"{W0}.machine.image"},
    ),
    Case(
        "shoot-expired-image-version",
        "Shoot",
        "apps",
        lambda o: None,
        {f"{W0}.machine.image"},
        extra=(PROFILE_IMAGE_EXPIRED,),
    ),
    Case(
        "shoot-unknown-kubernetes-version",
        "Shoot",
        "apps",
        sets(("spec.kubernetes.version", "1.30.0")),
        {"spec.kubernetes.version"},
        reasons={"FieldValueNotSupported"},
    ),
    Case(
        "shoot-expired-kubernetes-version",
        "Shoot",
        "apps",
        sets(("spec.kubernetes.version", "1.31.1")),
        {"spec.kubernetes.version"},
        extra=(PROFILE_131_EXPIRED,),
    ),
    Case(
        "shoot-minor-without-version",
        "Shoot",
        "apps",
        sets(("spec.kubernetes.version", "1.33")),
        {"spec.kubernetes.version"},
    ),
    Case(
        "shoot-minor-only-preview",
        "Shoot",
        "demo",
        sets(("spec.kubernetes.version", "1.33")),
        {"spec.kubernetes.version"},
        extra=(PROFILE_PREVIEW_133,),
    ),
    Case(
        "shoot-kubernetes-version-garbage",
        "Shoot",
        "demo",
        sets(("spec.kubernetes.version", "latest")),
        {"spec.kubernetes.version"},
    ),
    Case(
        "shoot-unknown-region",
        "Shoot",
        "apps",
        sets(("spec.region", "mars")),
        {"spec.region"},
        reasons={"FieldValueNotSupported"},
    ),
    Case(
        "shoot-unknown-zone",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.zones", ["local-a", "local-z"])),
        {f"{W0}.zones[1]"},
    ),
    Case(
        "shoot-duplicate-zone",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.zones", ["local-a", "local-a"])),
        {f"{W0}.zones[1]"},
    ),
    Case("shoot-provider-type-mismatch", "Shoot", "apps", sets(("spec.provider.type", "aws")), {"spec.provider.type"}),
    Case(
        "shoot-unknown-cloud-profile",
        "Shoot",
        "apps",
        sets(("spec.cloudProfileName", "nope")),
        {"spec.cloudProfileName", f"{W1}.machine.image"},
        reasons={"FieldValueNotFound", "FieldValueRequired"},
    ),
    Case(
        "shoot-unknown-secret-binding",
        "Shoot",
        "apps",
        sets(("spec.secretBindingName", "nope")),
        {"spec.secretBindingName"},
        reasons={"FieldValueNotFound"},
    ),
    Case(
        "shoot-secret-binding-other-provider",
        "Shoot",
        "apps",
        sets(("spec.secretBindingName", "aws-creds")),
        {"spec.provider.type"},
        extra=(AWS_BINDING,),
    ),
    Case(
        "shoot-quota-exceeded",
        "Shoot",
        "apps",
        lambda o: None,
        {"spec.provider.workers"},
        extra=(QUOTA, BINDING_WITH_QUOTA),
        reasons={"FieldValueForbidden"},
    ),
    Case(
        "shoot-unknown-volume-type",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.volume", {"type": "ssd", "size": "20Gi"})),
        {f"{W0}.volume.type"},
    ),
    # -- Shoot: static --
    Case(
        "shoot-minimum-above-maximum",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.minimum", 5)),
        {f"{W0}.maximum"},
        reasons={"FieldValueForbidden"},
    ),
    Case(
        "shoot-maximum-below-zones",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.minimum", 1), ("spec.provider.workers.0.maximum", 1)),
        {f"{W0}.maximum"},
    ),
    Case(
        "shoot-worker-name-too-long-and-invalid",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.name", "Pool_With_A_Long_Name")),
        {f"{W0}.name"},
        reasons={"FieldValueInvalid", "FieldValueTooLong"},
    ),
    Case(
        "shoot-duplicate-worker-names",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.1.name", "pool-a")),
        {f"{W1}.name"},
        reasons={"FieldValueDuplicate"},
    ),
    Case("shoot-name-not-dns-label", "Shoot", "apps", sets(("metadata.name", "Apps_1")), {"metadata.name"}),
    Case(
        "shoot-name-too-long-with-project",
        "Shoot",
        "apps",
        sets(("metadata.name", "a-very-long-shoot-name")),
        {"metadata.name"},
    ),
    Case("shoot-name-consecutive-hyphens", "Shoot", "apps", sets(("metadata.name", "my--apps")), {"metadata.name"}),
    Case(
        "shoot-bad-cidr", "Shoot", "apps", sets(("spec.networking.nodes", "10.250.0.0/33")), {"spec.networking.nodes"}
    ),
    Case(
        "shoot-non-canonical-cidr",
        "Shoot",
        "apps",
        sets(("spec.networking.nodes", "10.250.1.0/16")),
        {"spec.networking.nodes"},
    ),
    Case(
        "shoot-overlapping-cidrs",
        "Shoot",
        "apps",
        sets(
            ("spec.networking.pods", "100.96.0.0/11"),
            ("spec.networking.services", "100.96.0.0/13"),
            ("spec.networking.nodes", "100.100.0.0/16"),
        ),
        {"spec.networking.services", "spec.networking.pods"},
    ),
    Case(
        "shoot-bad-cron-value",
        "Shoot",
        "apps",
        sets(("spec.hibernation.schedules.0.start", "61 20 * * *")),
        {"spec.hibernation.schedules[0].start"},
    ),
    Case(
        "shoot-cron-six-fields",
        "Shoot",
        "apps",
        sets(("spec.hibernation.schedules.0.end", "0 0 7 * * 1")),
        {"spec.hibernation.schedules[0].end"},
    ),
    Case(
        "shoot-bad-location",
        "Shoot",
        "apps",
        sets(("spec.hibernation.schedules.0.location", "Mars/Olympus")),
        {"spec.hibernation.schedules[0].location"},
    ),
    Case(
        "shoot-schedule-without-start-and-end",
        "Shoot",
        "apps",
        sets(("spec.hibernation.schedules", [{"location": "UTC"}])),
        {"spec.hibernation.schedules[0]"},
    ),
    Case(
        "shoot-maintenance-too-long",
        "Shoot",
        "apps",
        sets(("spec.maintenance.timeWindow", {"begin": "010000+0000", "end": "090000+0000"})),
        {"spec.maintenance.timeWindow"},
    ),
    Case(
        "shoot-maintenance-too-short",
        "Shoot",
        "demo",
        sets(("spec.maintenance.timeWindow", {"begin": "230000+0100", "end": "231500+0100"})),
        {"spec.maintenance.timeWindow"},
    ),
    Case(
        "shoot-maintenance-bad-format",
        "Shoot",
        "apps",
        sets(("spec.maintenance.timeWindow.begin", "25:00")),
        {"spec.maintenance.timeWindow.begin"},
    ),
    Case("shoot-unknown-purpose", "Shoot", "apps", sets(("spec.purpose", "fun")), {"spec.purpose"}),
    Case(
        "shoot-infrastructure-purpose-outside-garden",
        "Shoot",
        "apps",
        sets(("spec.purpose", "infrastructure")),
        {"spec.purpose"},
    ),
    Case(
        "shoot-bad-volume-size",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.volume", {"type": "default", "size": "20GB"})),
        {f"{W0}.volume.size"},
    ),
    Case(
        "shoot-seed-network-overlap",
        "Shoot",
        "apps",
        sets(("spec.seedName", "local"), ("spec.networking.nodes", "10.1.0.0/16")),
        {"spec.networking.nodes"},
    ),
    Case("shoot-unknown-seed", "Shoot", "apps", sets(("spec.seedName", "nope")), {"spec.seedName"}),
    Case("shoot-empty-networking-type", "Shoot", "apps", sets(("spec.networking.type", "")), {"spec.networking.type"}),
    Case(
        "shoot-workerless-with-networking-type",
        "Shoot",
        "demo",
        sets(("spec.networking", {"type": "calico"})),
        {"spec.networking.type"},
    ),
    Case(
        "shoot-unknown-architecture",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.machine.architecture", "s390x")),
        {f"{W0}.machine.architecture"},
    ),
    Case(
        "shoot-surge-and-unavailable-zero",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.maxSurge", 0), ("spec.provider.workers.0.maxUnavailable", 0)),
        {f"{W0}.maxUnavailable"},
    ),
    Case(
        "shoot-bad-taint",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.taints", [{"key": "a", "effect": "Sometimes"}])),
        {f"{W0}.taints[0].effect"},
    ),
    Case(
        "shoot-docker-cri",
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.cri", {"name": "docker"})),
        {f"{W0}.cri.name"},
    ),
    Case(
        "shoot-many-problems-at-once",
        "Shoot",
        "apps",
        sets(("spec.region", "mars"), ("spec.purpose", "x"), ("spec.provider.workers.0.maximum", -1)),
        {"spec.region", "spec.purpose", f"{W0}.maximum"},
    ),
    Case("shoot-wrong-json-type", "Shoot", "apps", sets(("spec.provider.workers.0.minimum", "two")), {f"{W0}.minimum"}),
    Case(
        "shoot-missing-region-and-version",
        "Shoot",
        "apps",
        drops("spec.region", "spec.kubernetes.version"),
        {"spec.region", "spec.kubernetes.version"},
        reasons={"FieldValueRequired"},
    ),
    # -- Shoot: updates --
    Case("shoot-update-region", "Shoot", "apps", sets(("spec.region", "mars")), {"spec.region"}, update=True),
    Case(
        "shoot-update-provider-type",
        "Shoot",
        "apps",
        sets(("spec.provider.type", "aws")),
        {"spec.provider.type"},
        update=True,
    ),
    Case(
        "shoot-update-pods",
        "Shoot",
        "apps",
        sets(("spec.networking.pods", "100.100.0.0/16")),
        {"spec.networking.pods"},
        update=True,
        old_mutate=sets(("spec.networking.pods", "100.96.0.0/11")),
    ),
    Case(
        "shoot-namespace-without-project",
        "Shoot",
        "demo",
        sets(("metadata.namespace", "default")),
        {"metadata.namespace"},
        reasons={"FieldValueForbidden"},
    ),
    Case(
        "shoot-update-downgrade",
        "Shoot",
        "apps",
        sets(("spec.kubernetes.version", "1.31.1")),
        {"spec.kubernetes.version"},
        update=True,
        reasons={"FieldValueForbidden"},
    ),
    Case(
        "shoot-update-skip-minor",
        "Shoot",
        "apps",
        sets(("spec.kubernetes.version", "1.32.2")),
        {"spec.kubernetes.version"},
        update=True,
        old_mutate=sets(("spec.kubernetes.version", "1.30.4")),
    ),
    Case(
        "shoot-update-seed-name",
        "Shoot",
        "apps",
        sets(("spec.seedName", "other")),
        {"spec.seedName"},
        update=True,
        old_mutate=sets(("spec.seedName", "local")),
    ),
    Case(
        "shoot-update-secret-binding",
        "Shoot",
        "apps",
        sets(("spec.secretBindingName", "aws-creds")),
        {"spec.secretBindingName", "spec.provider.type"},
        update=True,
        extra=(AWS_BINDING,),
    ),
    Case(
        "shoot-update-to-workerless",
        "Shoot",
        "apps",
        drops("spec.provider.workers"),
        {
            "spec.provider.workers",
            "spec.provider.infrastructureConfig",
            "spec.networking.type",
            "spec.networking.nodes",
        },
        update=True,
    ),
    # -- Project --
    Case("project-namespace-without-prefix", "Project", "dev", sets(("spec.namespace", "dev")), {"spec.namespace"}),
    Case(
        "project-unknown-role",
        "Project",
        "dev",
        sets(("spec.members.0.role", "boss")),
        {"spec.members[0].role"},
        reasons={"FieldValueNotSupported"},
    ),
    Case(
        "project-duplicate-member",
        "Project",
        "dev",
        lambda p: p["spec"]["members"].append(copy.deepcopy(p["spec"]["members"][0])),
        {"spec.members[1]"},
        reasons={"FieldValueDuplicate"},
    ),
    Case(
        "project-name-too-long",
        "Project",
        "dev",
        sets(("metadata.name", "averyverylongname")),
        {"metadata.name"},
        reasons={"FieldValueTooLong"},
    ),
    Case(
        "project-update-namespace",
        "Project",
        "dev",
        sets(("spec.namespace", "garden-dev2")),
        {"spec.namespace"},
        update=True,
    ),
    Case(
        "project-owner-only-viewer",
        "Project",
        "dev",
        lambda p: p["spec"]["members"].append({**p["spec"]["owner"], "role": "viewer"}),
        {"spec.owner"},
    ),
    Case(
        "project-member-wrong-api-group",
        "Project",
        "dev",
        sets(("spec.members.0.apiGroup", "example.com")),
        {"spec.members[0].apiGroup"},
    ),
    Case(
        "project-two-owners", "Project", "dev", sets(("spec.members.0.roles", ["owner"])), {"spec.members[1].roles[0]"}
    ),
    Case(
        "project-service-account-without-namespace",
        "Project",
        "dev",
        lambda p: p["spec"]["members"].append({"kind": "ServiceAccount", "name": "robot", "role": "viewer"}),
        {"spec.members[1].namespace"},
    ),
    # -- CloudProfile --
    Case(
        "cloudprofile-duplicate-machine-type",
        "CloudProfile",
        "local",
        sets(("spec.machineTypes.1.name", "local-small")),
        {"spec.machineTypes[1].name"},
        reasons={"FieldValueDuplicate"},
    ),
    Case(
        "cloudprofile-bad-kubernetes-version",
        "CloudProfile",
        "local",
        sets(("spec.kubernetes.versions.0.version", "1.32")),
        {"spec.kubernetes.versions[0].version"},
    ),
    Case(
        "cloudprofile-bad-expiration-date",
        "CloudProfile",
        "local",
        sets(("spec.kubernetes.versions.3.expirationDate", "tomorrow")),
        {"spec.kubernetes.versions[3].expirationDate"},
    ),
    Case(
        "cloudprofile-no-regions",
        "CloudProfile",
        "local",
        sets(("spec.regions", [])),
        {"spec.regions"},
        reasons={"FieldValueRequired"},
    ),
    Case(
        "cloudprofile-no-machine-types", "CloudProfile", "local", sets(("spec.machineTypes", [])), {"spec.machineTypes"}
    ),
    Case(
        "cloudprofile-two-supported-per-minor",
        "CloudProfile",
        "local",
        sets(("spec.kubernetes.versions.0.classification", "supported")),
        {"spec.kubernetes.versions[0]", "spec.kubernetes.versions[1]"},
    ),
    Case(
        "cloudprofile-latest-version-expires",
        "CloudProfile",
        "local",
        sets(("spec.kubernetes.versions.0.expirationDate", "2030-01-01T00:00:00Z")),
        {"spec.kubernetes.versions[0].expirationDate"},
    ),
    Case(
        "cloudprofile-created-with-expired-version",
        "CloudProfile",
        "local",
        sets(("spec.kubernetes.versions.3.expirationDate", EXPIRED)),
        {"spec.kubernetes.versions[3]"},
    ),
    Case(
        "cloudprofile-bad-cpu-quantity",
        "CloudProfile",
        "local",
        sets(("spec.machineTypes.0.cpu", "two")),
        {"spec.machineTypes[0].cpu"},
    ),
    Case(
        "cloudprofile-bad-image-version",
        "CloudProfile",
        "local",
        sets(("spec.machineImages.0.versions.0.version", "one")),
        {"spec.machineImages[0].versions[0].version"},
    ),
    Case(
        "cloudprofile-remove-version-in-use",
        "CloudProfile",
        "local",
        lambda p: p["spec"]["kubernetes"]["versions"].pop(2),
        {"spec.kubernetes.versions"},
        update=True,
        shoots=True,
        reasons={"FieldValueForbidden"},
    ),
    Case(
        "cloudprofile-remove-machine-type-in-use",
        "CloudProfile",
        "local",
        lambda p: p["spec"]["machineTypes"].pop(1),
        {"spec.machineTypes"},
        update=True,
        shoots=True,
    ),
    Case(
        "cloudprofile-remove-image-version-in-use",
        "CloudProfile",
        "local",
        sets(("spec.machineImages.0.versions", [{"version": "2.0.0"}])),
        {"spec.machineImages"},
        update=True,
        shoots=True,
    ),
    # -- Seed --
    Case(
        "seed-overlapping-networks",
        "Seed",
        "local",
        sets(("spec.networks.shootDefaults.pods", "10.1.0.0/16")),
        {"spec.networks.shootDefaults.pods"},
    ),
    Case(
        "seed-vpn-range-overlap",
        "Seed",
        "local",
        sets(("spec.networks.nodes", "192.168.0.0/16")),
        {"spec.networks.nodes"},
    ),
    Case(
        "seed-missing-provider",
        "Seed",
        "local",
        sets(("spec.provider", {})),
        {"spec.provider.type", "spec.provider.region"},
    ),
    Case(
        "seed-update-pods",
        "Seed",
        "local",
        sets(("spec.networks.pods", "10.3.0.0/16")),
        {"spec.networks.pods"},
        update=True,
    ),
    Case("seed-no-ingress-domain", "Seed", "local", drops("spec.ingress"), {"spec.ingress.domain"}),
    Case(
        "seed-backup-incomplete",
        "Seed",
        "local",
        sets(("spec.backup", {"provider": "aws"})),
        {"spec.backup.region", "spec.backup.secretRef"},
    ),
    # -- SecretBinding --
    Case(
        "secretbinding-missing-fields",
        "SecretBinding",
        "local",
        sets(("secretRef", {"name": ""}), ("provider", {"type": ""})),
        {"secretRef.name", "provider.type"},
    ),
    Case("secretbinding-unknown-quota", "SecretBinding", "local", sets(("quotas", [{"name": "nope"}])), {"quotas[0]"}),
    Case(
        "secretbinding-update-secret-ref",
        "SecretBinding",
        "local",
        sets(("secretRef", {"name": "other", "namespace": "garden-dev"})),
        {"secretRef"},
        update=True,
    ),
    # -- Quota --
    Case(
        "quota-bad-metrics",
        "Quota",
        "trial",
        sets(("spec.metrics", {"foo": "1", "cpu": "-1"})),
        {"spec.metrics[foo]", "spec.metrics[cpu]"},
    ),
    Case(
        "quota-bad-scope",
        "Quota",
        "trial",
        sets(("spec.scope", {"apiVersion": "v1", "kind": "ConfigMap"})),
        {"spec.scope"},
    ),
    Case("quota-zero-lifetime", "Quota", "trial", sets(("spec.clusterLifetimeDays", 0)), {"spec.clusterLifetimeDays"}),
    # -- ControllerRegistration --
    Case(
        "controllerregistration-duplicate-and-unknown-kind",
        "ControllerRegistration",
        "provider-local",
        lambda c: c["spec"]["resources"].extend([{"kind": "Worker", "type": "local"}, {"kind": "Gizmo", "type": "x"}]),
        {"spec.resources[3]", "spec.resources[4].kind"},
    ),
    Case(
        "controllerregistration-extension-field-on-worker",
        "ControllerRegistration",
        "provider-local",
        sets(("spec.resources.1.globallyEnabled", True)),
        {"spec.resources[1].globallyEnabled"},
    ),
    Case(
        "controllerregistration-bad-policy",
        "ControllerRegistration",
        "provider-local",
        sets(("spec.deployment.policy", "Sometimes")),
        {"spec.deployment.policy"},
    ),
    # -- ControllerInstallation --
    Case(
        "controllerinstallation-missing-refs",
        "ControllerInstallation",
        "provider-local-abcde",
        sets(("spec", {})),
        {"spec.registrationRef.name", "spec.seedRef.name"},
    ),
    Case(
        "controllerinstallation-update-seed",
        "ControllerInstallation",
        "provider-local-abcde",
        sets(("spec.seedRef.name", "other")),
        {"spec.seedRef.name"},
        update=True,
    ),
    # -- ManagedSeed --
    Case(
        "managedseed-no-shoot-name-wrong-namespace",
        "ManagedSeed",
        "apps",
        sets(("spec.shoot", {}), ("metadata.namespace", "garden-dev")),
        {"spec.shoot.name", "metadata.namespace"},
    ),
    Case(
        "managedseed-update-shoot",
        "ManagedSeed",
        "apps",
        sets(("spec.shoot.name", "other")),
        {"spec.shoot"},
        update=True,
    ),
]


def run(case: Case) -> list[FieldError]:
    lookup = make_lookup(*case.extra, shoots=case.shoots)
    old: Obj | None = None
    obj = example(case.kind, case.name)
    if case.update:
        old = copy.deepcopy(obj)
        default(old, make_lookup())
        if case.old_mutate is not None:
            case.old_mutate(old)
        obj = copy.deepcopy(old)
    case.mutate(obj)
    default(obj, lookup, old=old)
    return validate_object(obj, old, lookup=lookup, now=NOW)


def test_enough_invalid_cases() -> None:
    assert len(INVALID) >= 40
    assert len({c.id for c in INVALID}) == len(INVALID)


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_invalid(case: Case) -> None:
    errors = run(case)
    assert fields(errors) == case.fields, [str(e) for e in errors]
    if case.reasons:
        assert {e.reason for e in errors} == case.reasons, [str(e) for e in errors]
    for e in errors:
        assert re.match(
            r"^(Required value|Invalid value: |Unsupported value: |Forbidden|Duplicate value: |Too long: |Not found: )",
            e.message,
        ), e


# ---- valid variants ----


def _valid(kind: str, name: str, mutate: Callable[[Obj], Any], *, update: bool = False, **kw: Any) -> Case:
    return Case(f"{kind}-{name}", kind, name, mutate, set(), update=update, **kw)


VALID: list[Case] = [
    _valid("Shoot", "apps", sets(("spec.seedName", "local"))),
    _valid("Shoot", "apps", sets(("spec.seedName", "local")), update=True),  # scheduler binds an unscheduled Shoot
    _valid("Shoot", "apps", sets(("spec.kubernetes.version", "1.32.2")), update=True),
    _valid("Shoot", "apps", sets(("spec.kubernetes.version", "1.32")), update=True),
    _valid("Shoot", "apps", lambda o: None, update=True, extra=(PROFILE_IMAGE_EXPIRED,)),  # keeps its expired image
    _valid("Shoot", "demo", sets(("spec.kubernetes.version", "1.33.0")), extra=(PROFILE_PREVIEW_133,)),
    _valid(
        "Shoot",
        "apps",
        sets(("spec.hibernation.schedules", [{"start": "@daily", "end": "0 6 * * MON-FRI", "location": "UTC"}])),
    ),
    _valid("Shoot", "apps", sets(("spec.maintenance.timeWindow", {"begin": "230000+0000", "end": "010000+0000"}))),
    _valid(
        "Shoot",
        "apps",
        sets(("spec.provider.workers.0.maxSurge", "25%"), ("spec.provider.workers.0.maxUnavailable", "10%")),
    ),
    _valid("Shoot", "apps", sets(("spec.provider.workers.0.volume", {"type": "default", "size": "50Gi"}))),
    _valid("Shoot", "apps", sets(("spec.purpose", "production"))),
    _valid("Shoot", "demo", lambda o: None, extra=(QUOTA, BINDING_WITH_QUOTA)),  # within the quota
    _valid(
        "Project",
        "dev",
        lambda p: p["spec"]["members"].append({"kind": "User", "name": "carol", "role": "extension:dns"}),
    ),
    _valid("Project", "dev", sets(("spec.description", "new description")), update=True),
    _valid("CloudProfile", "local", lambda p: p["spec"]["kubernetes"]["versions"].pop(3), update=True, shoots=True),
    _valid(
        "CloudProfile",
        "local",
        lambda p: p["spec"]["kubernetes"]["versions"].insert(0, {"version": "1.33.1"}),
        update=True,
        shoots=True,
    ),
    _valid("Seed", "local", sets(("metadata.labels", {"a": "b"})), update=True),
    _valid("SecretBinding", "local", sets(("quotas", [{"name": "trial"}])), extra=(QUOTA,)),
    _valid("Quota", "trial", sets(("spec.metrics.loadbalancer", 3))),
    _valid("ControllerRegistration", "provider-local", sets(("spec.resources.0.primary", True))),
    _valid("ControllerInstallation", "provider-local-abcde", lambda o: None, update=True),
    _valid("ManagedSeed", "apps", lambda o: None, update=True),
]


@pytest.mark.parametrize("case", VALID, ids=[f"{i}-{c.id}" for i, c in enumerate(VALID)])
def test_valid(case: Case) -> None:
    assert run(case) == []


# ---- messages like kube and Gardener ----


def _messages(case_id: str) -> list[str]:
    return [e.message for e in run(next(c for c in INVALID if c.id == case_id))]


def test_messages() -> None:
    assert _messages("shoot-unknown-region") == ['Unsupported value: "mars": supported values: "local"']
    assert _messages("shoot-update-pods") == ['Invalid value: "100.100.0.0/16": field is immutable']
    assert _messages("shoot-namespace-without-project") == [
        'Forbidden: could not find referenced project: Project.core.gardener.cloud "<unknown>" not found'
    ]
    assert _messages("shoot-maintenance-too-long") == [
        "Invalid value: 8h0m0s: time window must not be greater than 6h0m0s"
    ]
    assert _messages("shoot-quota-exceeded") == ["Forbidden: Quota limits exceeded. Unable to allocate further cpu"]
    assert _messages("shoot-name-too-long-with-project") == [
        'Invalid value: "a-very-long-shoot-name": the length of the shoot name and the project name must not exceed '
        "21 characters (project: dev; shoot: a-very-long-shoot-name)"
    ]
    assert _messages("shoot-machine-type-unavailable-in-zone") == [
        'Invalid value: "local-large": machine type "local-large" is unavailable in at least one zone, '
        "supported types are [local-small]"
    ]
    assert _messages("shoot-update-downgrade") == ["Forbidden: kubernetes version downgrade is not supported"]
    assert _messages("shoot-update-seed-name")[0] == (
        "Forbidden: spec.seedName 'local' cannot be changed to 'other' by patching the shoot, please use the "
        "shoots/binding subresource"
    )
    assert _messages("cloudprofile-remove-version-in-use") == [
        'Forbidden: unable to delete Kubernetes version "1.31.6" from CloudProfile "local" - version is still in use '
        "by shoot 'garden-dev/apps'"
    ]
    assert _messages("shoot-worker-name-too-long-and-invalid")[-1] == "Too long: may not be more than 15 bytes"
    assert _messages("shoot-unknown-secret-binding") == ['Not found: "nope"']


# ---- deletion protection ----


@pytest.mark.parametrize("kind,name", [("Shoot", "apps"), ("Project", "dev")])
def test_deletion_needs_confirmation(kind: str, name: str) -> None:
    obj = admitted(kind, name)
    errors = validate_deletion(obj)
    assert [e.to_dict() for e in errors] == [
        {
            "reason": "FieldValueForbidden",
            "message": 'Forbidden: must have a "confirmation.gardener.cloud/deletion" annotation to delete',
            "field": "metadata.annotations[confirmation.gardener.cloud/deletion]",
        }
    ]
    obj["metadata"]["annotations"] = {"confirmation.gardener.cloud/deletion": "false"}
    assert validate_deletion(obj) == errors
    obj["metadata"]["annotations"] = {"confirmation.gardener.cloud/deletion": "true"}
    assert validate_shoot_deletion(obj) == [] if kind == "Shoot" else validate_project_deletion(obj) == []


def test_ignored_shoot_cannot_be_deleted() -> None:
    shoot = admitted("Shoot", "apps")
    shoot["metadata"]["annotations"] = {
        "confirmation.gardener.cloud/deletion": "true",
        "shoot.gardener.cloud/ignore": "true",
    }
    assert fields(validate_shoot_deletion(shoot)) == {"metadata.annotations[shoot.gardener.cloud/ignore]"}


def test_other_kinds_are_deleted_freely() -> None:
    assert validate_deletion(example("Seed", "local")) == []


# ---- defaulting details ----


def test_kubernetes_version_completion_skips_preview_and_expired() -> None:
    profile = _profile(
        lambda p: p["spec"]["kubernetes"]["versions"].extend(
            [{"version": "1.32.9", "classification": "preview"}, {"version": "1.32.7", "expirationDate": EXPIRED}]
        )
    )
    lookup = make_lookup(profile)
    shoot = example("Shoot", "demo")
    default_shoot(shoot, lookup=lookup, now=NOW)
    assert shoot["spec"]["kubernetes"]["version"] == "1.32.2"
    shoot = example("Shoot", "demo")
    _set(shoot, "spec.kubernetes.version", "1")
    default_shoot(shoot, lookup=lookup, now=NOW)
    assert shoot["spec"]["kubernetes"]["version"] == "1.32.2"
    shoot = example("Shoot", "demo")
    _set(shoot, "spec.kubernetes.version", "1.30")
    default_shoot(shoot, lookup=lookup, now=NOW)
    assert shoot["spec"]["kubernetes"]["version"] == "1.30"  # left for validation to report


def test_random_maintenance_window_is_one_hour_and_reproducible() -> None:
    windows = set()
    for seed in range(30):
        shoot = example("Shoot", "apps")
        del shoot["spec"]["maintenance"]
        default_shoot(shoot, lookup=make_lookup(), rng=random.Random(seed), now=NOW)
        window = shoot["spec"]["maintenance"]["timeWindow"]
        assert re.fullmatch(r"\d{2}0000\+0000", window["begin"]) and re.fullmatch(r"\d{2}0000\+0000", window["end"])
        assert maintenance_window_duration(window["begin"], window["end"]) == 3600
        assert shoot["spec"]["maintenance"]["autoUpdate"] == {"kubernetesVersion": True, "machineImageVersion": True}
        windows.add(window["begin"])
        again = example("Shoot", "apps")
        del again["spec"]["maintenance"]
        default_shoot(again, lookup=make_lookup(), rng=random.Random(seed), now=NOW)
        assert again["spec"]["maintenance"]["timeWindow"] == window
    assert len(windows) > 5


def test_auto_update_without_kubernetes_version_means_false_as_in_gardener() -> None:
    shoot = example("Shoot", "demo")
    shoot["spec"]["maintenance"]["autoUpdate"] = {}
    default_shoot(shoot, lookup=make_lookup(), now=NOW)
    assert shoot["spec"]["maintenance"]["autoUpdate"] == {"kubernetesVersion": False}


def test_networks_default_from_the_seed() -> None:
    shoot = example("Shoot", "apps")
    shoot["spec"]["seedName"] = "local"
    default_shoot(shoot, lookup=make_lookup(), now=NOW)
    assert shoot["spec"]["networking"]["pods"] == "100.96.0.0/11"
    assert shoot["spec"]["networking"]["services"] == "100.64.0.0/13"
    demo = example("Shoot", "demo")
    demo["spec"]["seedName"] = "local"
    default_shoot(demo, lookup=make_lookup(), now=NOW)
    assert demo["spec"]["networking"] == {"ipFamilies": ["IPv4"], "services": "100.64.0.0/13"}


def test_technical_id_without_project_uses_the_namespace() -> None:
    shoot = example("Shoot", "demo")
    shoot["metadata"]["namespace"] = "garden-ops"
    default_shoot(shoot, lookup=make_lookup(), now=NOW)
    assert shoot["status"]["technicalID"] == "shoot--ops--demo"


def test_update_keeps_the_machine_image_of_existing_pools() -> None:
    newer = _profile(sets(("spec.machineImages.0.versions", [{"version": "1.0.0"}, {"version": "1.2.0"}])))
    lookup = make_lookup(newer)
    old = admitted("Shoot", "apps")
    shoot = copy.deepcopy(old)
    del shoot["spec"]["provider"]["workers"][1]["machine"]["image"]
    shoot["spec"]["provider"]["workers"].append(
        {"name": "pool-c", "machine": {"type": "local-small"}, "minimum": 1, "maximum": 2}
    )
    default_shoot(shoot, lookup=lookup, old=old, now=NOW)
    images = [w["machine"]["image"] for w in shoot["spec"]["provider"]["workers"]]
    assert images == [{"name": "local", "version": "1.0.0"}] * 2 + [{"name": "local", "version": "1.2.0"}]
    assert validate_shoot(shoot, old, lookup=lookup, now=NOW) == []


def test_garden_namespace_shoots_tolerate_protected_seeds() -> None:
    shoot = example("Shoot", "demo")
    shoot["metadata"]["namespace"] = "garden"
    default_shoot(shoot, lookup=make_lookup(), now=NOW)
    assert shoot["spec"]["tolerations"] == [{"key": "seed.gardener.cloud/protected"}]


def test_shoot_resources_for_quotas() -> None:
    shoot = admitted("Shoot", "apps")
    resources = shoot_resources(shoot["spec"], example("CloudProfile", "local"))
    assert resources["cpu"] == Decimal(16)
    assert resources["memory"] == parse_quantity("48Gi")
    assert resources["loadbalancer"] == 1


# ---- never raises ----

GARBAGE: list[Any] = [
    None,
    "shoot",
    [],
    {},
    {"metadata": "x"},
    {"metadata": {"name": 5}, "spec": []},
    {"kind": "Shoot", "spec": {"provider": {"workers": "many"}}},
    {"kind": "Shoot", "spec": {"provider": {"workers": [None, 3, {"machine": "big"}]}, "networking": 1}},
    {"kind": "Shoot", "spec": {"kubernetes": {"version": 1.32}, "maintenance": {"timeWindow": "now"}}},
    {"spec": {"members": [{"role": 1}], "owner": "me", "namespace": 7}},
    {"spec": {"kubernetes": {"versions": [{"version": None}]}, "machineImages": {}, "regions": [1]}},
    {"secretRef": 1, "quotas": {}, "provider": []},
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_functions_never_raise(garbage: Any) -> None:
    lookup = make_lookup()
    checks: list[Callable[[], Any]] = [
        lambda: default_shoot(copy.deepcopy(garbage), lookup=lookup),
        lambda: default_project(copy.deepcopy(garbage)),
        lambda: validate_shoot(garbage, garbage, lookup=lookup),
        lambda: validate_shoot_deletion(garbage),
        lambda: validate_project(garbage, garbage),
        lambda: validate_project_deletion(garbage),
        lambda: validate_cloud_profile(garbage, garbage, lookup=lookup),
        lambda: validate_seed(garbage, garbage),
        lambda: validate_secret_binding(garbage, garbage, lookup=lookup),
        lambda: validate_quota(garbage, garbage),
        lambda: validate_controller_registration(garbage, garbage),
        lambda: validate_controller_installation(garbage, garbage),
        lambda: validate_managed_seed(garbage, garbage),
    ]
    for check in checks:
        result = check()
        assert result is None or isinstance(result, list)


def test_malformed_fields_are_reported_not_raised() -> None:
    shoot = admitted("Shoot", "apps")
    shoot["spec"]["provider"]["workers"] = "many"
    shoot["spec"]["networking"] = 1
    errors = validate_shoot(shoot, None, lookup=make_lookup(), now=NOW)
    assert fields(errors) == {"spec.provider.workers", "spec.networking"}
    messages = {e.field: e.message for e in errors}
    assert messages["spec.provider.workers"] == 'Invalid value: "string": must be of type array'
    assert messages["spec.networking"] == 'Invalid value: "integer": must be of type object'


# ---- formats ----


def test_cron_parsing_like_robfig() -> None:
    schedule = parse_cron("00 20 * * 1,2,3,4,5")
    assert schedule.matches(datetime(2026, 1, 5, 20, 0))  # a Monday
    assert not schedule.matches(datetime(2026, 1, 4, 20, 0))  # a Sunday
    assert schedule.next_after(datetime(2026, 1, 2, 21, 0)) == datetime(2026, 1, 5, 20, 0)
    assert parse_cron("@hourly").minutes == frozenset({0})
    assert parse_cron("*/15 9-17 * JAN-MAR mon-fri").minutes == frozenset({0, 15, 30, 45})
    for bad, message in [
        ("0 0 * *", "Expected exactly 5 fields, found 4: 0 0 * *"),
        ("0 24 * * *", "End of range (24) above maximum (23): 24"),
        ("@every 1h", "Unrecognized descriptor: @every 1h"),
        ("0 5-2 * * *", "Beginning of range (5) beyond end of range (2): 5-2"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_cron(bad)


def test_time_windows_wrap_midnight_and_respect_offsets() -> None:
    assert maintenance_window_duration("230000+0000", "010000+0000") == 7200
    assert maintenance_window_duration("220000+0100", "230000+0100") == 3600
    assert in_maintenance_window("220000+0100", "230000+0100", datetime(2026, 1, 1, 21, 30, tzinfo=UTC))
    assert not in_maintenance_window("220000+0100", "230000+0100", datetime(2026, 1, 1, 22, 30, tzinfo=UTC))
    assert go_duration(30 * 60) == "30m0s" and go_duration(6 * 3600) == "6h0m0s" and go_duration(0) == "0s"


def test_quantities_and_versions() -> None:
    assert parse_quantity("4Gi") == 4 * 1024**3
    assert parse_quantity("500m") == Decimal("0.5")
    assert parse_quantity("1e3") == 1000
    assert parse_quantity(2) == 2
    assert parse_quantity("two") is None and parse_quantity(True) is None
    assert parse_version("v1.2") == parse_version("1.2.0")
    assert parse_version("1.0.0-rc.1") < parse_version("1.0.0")  # type: ignore[operator]
    assert parse_version("1.10.0") > parse_version("1.9.9")  # type: ignore[operator]
    assert parse_version("latest") is None


# ---- bounds ----


def test_too_many_worker_pools_are_refused_for_that_alone() -> None:
    shoot = admitted("Shoot", "apps")
    pool = shoot["spec"]["provider"]["workers"][0]
    shoot["spec"]["provider"]["workers"] = [{**copy.deepcopy(pool), "name": f"p{i}"} for i in range(MAX_WORKERS)]
    assert validate_shoot(shoot, None, lookup=make_lookup(), now=NOW) == []
    shoot["spec"]["provider"]["workers"].append({"name": "p-bad name"})
    assert [e.to_dict() for e in validate_shoot(shoot, None, lookup=make_lookup(), now=NOW)] == [
        {
            "reason": "FieldValueTooMany",
            "message": f"Too many: {MAX_WORKERS + 1}: must have at most {MAX_WORKERS} items",
            "field": "spec.provider.workers",
        }
    ]


# ---- networking.nodes stays mutable (Gardener's MutableShootSpecNetworkingNodes, GA since v1.97) ----


def test_node_network_of_an_unscheduled_shoot_can_be_fixed() -> None:
    old = admitted("Shoot", "apps")
    shoot = copy.deepcopy(old)
    shoot["spec"]["networking"]["nodes"] = "10.251.0.0/16"
    lookup = make_lookup()
    default(shoot, lookup, old=old)
    assert validate_shoot(shoot, old, lookup=lookup, now=NOW) == []


def test_node_network_of_a_scheduled_shoot_can_change_too() -> None:
    lookup = make_lookup()
    old = example("Shoot", "apps")
    old["spec"]["seedName"] = "local"
    default(old, lookup)
    assert validate_shoot(old, None, lookup=lookup, now=NOW) == []
    shoot = copy.deepcopy(old)
    shoot["spec"]["networking"]["nodes"] = "10.251.0.0/16"
    default(shoot, lookup, old=old)
    assert validate_shoot(shoot, old, lookup=lookup, now=NOW) == []
