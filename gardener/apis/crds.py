"""CustomResourceDefinitions of the garden API, generated from the Python types.

Installable on any Kubernetes cluster (`python -m gardener.apis.crds > crds.yaml`) and installed
by the local garden into the embedded API server.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import yaml

from gardener.apis.core import v1beta1 as core
from gardener.apis.openapi import object_schema
from gardener.apis.seedmanagement import v1alpha1 as seedmanagement


@dataclass(frozen=True)
class Column:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0
    description: str = ""


AGE = Column("Age", ".metadata.creationTimestamp", "date", description="Time since creation.")


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    #: top-level properties besides apiVersion/kind/metadata, e.g. {"spec": ShootSpec, "status": ShootStatus}
    properties: dict[str, type]
    columns: tuple[Column, ...] = ()
    short_names: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    description: str = ""

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"


def _condition(ctype: str) -> str:
    return f'.status.conditions[?(@.type=="{ctype}")].status'


KINDS: tuple[Kind, ...] = (
    Kind(
        core.GROUP,
        core.VERSION,
        "Project",
        "projects",
        False,
        {"spec": core.ProjectSpec, "status": core.ProjectStatus},
        (
            Column("Namespace", ".spec.namespace", description="Namespace of the project."),
            Column("Status", ".status.phase", description="Phase of the project."),
            Column("Owner", ".spec.owner.name", description="Owner of the project."),
            Column("Creator", ".spec.createdBy.name", priority=1, description="Creator of the project."),
            AGE,
        ),
        description="A Project groups Shoots and credentials of a team in one namespace.",
    ),
    Kind(
        core.GROUP,
        core.VERSION,
        "CloudProfile",
        "cloudprofiles",
        False,
        {"spec": core.CloudProfileSpec},
        (Column("Provider", ".spec.type", description="Provider type."), AGE),
        short_names=("cprofile", "cpfl"),
        required=("spec",),
        description="A CloudProfile lists what a provider offers: versions, images, machine types, regions.",
    ),
    Kind(
        core.GROUP,
        core.VERSION,
        "Seed",
        "seeds",
        False,
        {"spec": core.SeedSpec, "status": core.SeedStatus},
        (
            Column("Status", _condition("GardenletReady"), description="Whether the seed's gardenlet is ready."),
            Column("Provider", ".spec.provider.type", description="Provider type of the seed."),
            Column("Region", ".spec.provider.region", description="Region of the seed."),
            Column("Version", ".status.gardener.version", priority=1, description="Version of the gardenlet."),
            Column("K8S Version", ".status.kubernetesVersion", priority=1, description="Kubernetes version."),
            AGE,
        ),
        required=("spec",),
        description="A Seed is a cluster that hosts the control planes of Shoots.",
    ),
    Kind(
        core.GROUP,
        core.VERSION,
        "Shoot",
        "shoots",
        True,
        {"spec": core.ShootSpec, "status": core.ShootStatus},
        (
            Column("CloudProfile", ".spec.cloudProfileName", description="CloudProfile of the Shoot."),
            Column("Provider", ".spec.provider.type", description="Provider type of the Shoot."),
            Column("Region", ".spec.region", description="Region of the Shoot."),
            Column("K8S Version", ".spec.kubernetes.version", description="Kubernetes version."),
            Column("Hibernation", ".spec.hibernation.enabled", "boolean", description="Whether hibernation is wanted."),
            Column("Last Operation", ".status.lastOperation.type", description="Type of the last operation."),
            Column("Progress", ".status.lastOperation.progress", "integer", description="Progress in percent."),
            Column(
                "Status",
                ".metadata.labels.shoot\\.gardener\\.cloud/status",
                description="healthy, progressing, unhealthy or unknown; pending while no seed is found for the Shoot "
                "(the label, set by the gardenlet, or by the scheduler while the Shoot waits).",
            ),
            Column("Seed", ".spec.seedName", priority=1, description="Seed hosting the control plane."),
            Column("Purpose", ".spec.purpose", priority=1, description="Purpose of the Shoot."),
            Column(
                "Description",
                ".status.lastOperation.description",
                priority=1,
                description="What the last operation did or waits for, e.g. why no seed fits.",
            ),
            AGE,
        ),
        required=("spec",),
        description="A Shoot is a tenant Kubernetes cluster whose control plane runs in a Seed.",
    ),
    Kind(
        core.GROUP,
        core.VERSION,
        "SecretBinding",
        "secretbindings",
        True,
        {
            "secretRef": core.SecretReference,
            "quotas": list[core.ObjectReference],
            "provider": core.SecretBindingProvider,
        },
        (
            Column("Provider", ".provider.type", description="Provider type of the credentials."),
            Column("Secret", ".secretRef.name", description="Secret with the credentials."),
            AGE,
        ),
        required=("secretRef",),
        description="A SecretBinding makes provider credentials of a Secret usable by Shoots of a project.",
    ),
    Kind(
        core.GROUP,
        core.VERSION,
        "Quota",
        "quotas",
        True,
        {"spec": core.QuotaSpec},
        (AGE,),
        short_names=("squota",),
        required=("spec",),
        description="A Quota limits what Shoots of a project or of credentials may use.",
    ),
    Kind(
        core.GROUP,
        core.VERSION,
        "ControllerRegistration",
        "controllerregistrations",
        False,
        {"spec": core.ControllerRegistrationSpec},
        (
            Column("Resources", ".spec.resources[*].kind", priority=1, description="Extension kinds handled."),
            AGE,
        ),
        short_names=("ctrlreg",),
        description="A ControllerRegistration announces an extension controller and what it reconciles.",
    ),
    Kind(
        core.GROUP,
        core.VERSION,
        "ControllerInstallation",
        "controllerinstallations",
        False,
        {"spec": core.ControllerInstallationSpec, "status": core.ControllerInstallationStatus},
        (
            Column("Registration", ".spec.registrationRef.name", description="The ControllerRegistration."),
            Column("Seed", ".spec.seedRef.name", description="The Seed."),
            Column("Installed", _condition("Installed"), description="Whether the controller is installed."),
            Column("Healthy", _condition("Healthy"), description="Whether the controller is healthy."),
            AGE,
        ),
        short_names=("ctrlinst",),
        description="A ControllerInstallation installs an extension controller on one Seed.",
    ),
    Kind(
        seedmanagement.GROUP,
        seedmanagement.VERSION,
        "ManagedSeed",
        "managedseeds",
        True,
        {"spec": seedmanagement.ManagedSeedSpec, "status": seedmanagement.ManagedSeedStatus},
        (
            Column("Shoot", ".spec.shoot.name", description="The Shoot registered as a Seed."),
            Column("Registered", _condition("SeedRegistered"), description="Whether the Seed is registered."),
            AGE,
        ),
        short_names=("mseed",),
        description="A ManagedSeed registers a Shoot as a Seed.",
    ),
)


def _schema_of(tp: Any) -> dict[str, Any]:
    from gardener.apis.openapi import schema_for

    return object_schema(tp) if isinstance(tp, type) else schema_for(tp)


def crd(kind: Kind) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "apiVersion": {"type": "string", "description": "Versioned schema of this representation of an object."},
        "kind": {"type": "string", "description": "REST resource this object represents."},
        "metadata": {"type": "object"},
    }
    for name, tp in kind.properties.items():
        properties[name] = _schema_of(tp)
    root: dict[str, Any] = {"type": "object", "description": kind.description, "properties": properties}
    if kind.required:
        root["required"] = list(kind.required)
    version: dict[str, Any] = {
        "name": kind.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": root},
        "additionalPrinterColumns": [
            {
                "name": c.name,
                "type": c.type,
                "jsonPath": c.json_path,
                **({"priority": c.priority} if c.priority else {}),
                **({"description": c.description} if c.description else {}),
            }
            for c in kind.columns
        ],
    }
    if "status" in kind.properties:
        version["subresources"] = {"status": {}}
    names: dict[str, Any] = {
        "plural": kind.plural,
        "singular": kind.kind.lower(),
        "kind": kind.kind,
        "listKind": f"{kind.kind}List",
        "categories": ["gardener"],
    }
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.name, "labels": {"app.kubernetes.io/part-of": "gardener"}},
        "spec": {
            "group": kind.group,
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "names": names,
            "versions": [version],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    return [crd(k) for k in KINDS]


def main() -> None:
    yaml.safe_dump_all(all_crds(), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
