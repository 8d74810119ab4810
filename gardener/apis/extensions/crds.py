"""CustomResourceDefinitions of the extension contract and of the machine controller manager.

`extensions_crds()` is what a seed needs before the gardenlet can write extension resources and provider
extensions can reconcile them (`python -m gardener.apis.extensions.crds > crds.yaml` for a real cluster).
"""

from __future__ import annotations

import sys
from typing import Any, cast

import yaml

from gardener.apis.crds import AGE, Column, Kind, crd
from gardener.apis.extensions import machine as mcm
from gardener.apis.extensions import v1alpha1 as ext

_TYPE = Column("Type", ".spec.type", description="Type of the resource: which extension reconciles it.")
_REGION = Column("Region", ".spec.region", description="Region of the resource.")
_STATUS = Column("Status", ".status.lastOperation.state", description="State of the last operation.")


def _extension(
    kind: str,
    plural: str,
    spec: type,
    status: type,
    *,
    description: str,
    namespaced: bool = True,
    columns: tuple[Column, ...] = (_TYPE, _STATUS, AGE),
    short_names: tuple[str, ...] = (),
) -> Kind:
    return Kind(
        ext.GROUP,
        ext.VERSION,
        kind,
        plural,
        namespaced,
        {"spec": spec, "status": status},
        columns,
        short_names=short_names,
        required=("spec",),
        description=description,
    )


EXTENSION_KINDS: tuple[Kind, ...] = (
    _extension(
        "Infrastructure",
        "infrastructures",
        ext.InfrastructureSpec,
        ext.InfrastructureStatus,
        columns=(_TYPE, _REGION, _STATUS, AGE),
        short_names=("infra",),
        description="The network, subnets and security groups a shoot's machines need, created by an extension.",
    ),
    _extension(
        "ControlPlane",
        "controlplanes",
        ext.ControlPlaneSpec,
        ext.ControlPlaneStatus,
        columns=(_TYPE, Column("Purpose", ".spec.purpose", description="normal or exposure."), _STATUS, AGE),
        short_names=("cp",),
        description="Provider-specific control plane parts of a shoot (cloud-controller-manager, CSI ...).",
    ),
    _extension(
        "Worker",
        "workers",
        ext.WorkerSpec,
        ext.WorkerStatus,
        columns=(_TYPE, _REGION, _STATUS, AGE),
        description="The worker pools of a shoot, turned into MachineDeployments by an extension.",
    ),
    _extension(
        "OperatingSystemConfig",
        "operatingsystemconfigs",
        ext.OperatingSystemConfigSpec,
        ext.OperatingSystemConfigStatus,
        columns=(_TYPE, Column("Purpose", ".spec.purpose", description="provision or reconcile."), _STATUS, AGE),
        short_names=("osc",),
        description="Units and files of a shoot's nodes, rendered into user data by an OS extension.",
    ),
    _extension(
        "Network",
        "networks",
        ext.NetworkSpec,
        ext.NetworkStatus,
        columns=(
            _TYPE,
            Column("Pod CIDR", ".spec.podCIDR", description="CIDR of the pod network."),
            Column("Service CIDR", ".spec.serviceCIDR", description="CIDR of the service network."),
            _STATUS,
            AGE,
        ),
        description="The pod network of a shoot (calico, cilium ...).",
    ),
    _extension(
        "DNSRecord",
        "dnsrecords",
        ext.DNSRecordSpec,
        ext.DNSRecordStatus,
        columns=(
            _TYPE,
            Column("Domain Name", ".spec.name", description="Fully qualified domain name of the record."),
            Column("Record Type", ".spec.recordType", description="A, AAAA, CNAME or TXT."),
            _STATUS,
            AGE,
        ),
        short_names=("dns",),
        description="A DNS record of a shoot, kept by a DNS provider extension.",
    ),
    _extension(
        "BackupBucket",
        "backupbuckets",
        ext.BackupBucketSpec,
        ext.BackupBucketStatus,
        namespaced=False,
        columns=(_TYPE, _REGION, _STATUS, AGE),
        short_names=("bb",),
        description="A bucket for etcd backups of a seed's shoots.",
    ),
    _extension(
        "Extension",
        "extensions",
        ext.ExtensionSpec,
        ext.ExtensionStatus,
        short_names=("ext",),
        description="A generic extension of a shoot (DNS service, certificates, ...).",
    ),
    Kind(
        ext.GROUP,
        ext.VERSION,
        "Cluster",
        "clusters",
        False,
        {"spec": ext.ClusterSpec},
        (AGE,),
        required=("spec",),
        description="A shoot's CloudProfile, Seed and Shoot, named after its seed namespace, for extensions to read.",
    ),
)

MACHINE_KINDS: tuple[Kind, ...] = (
    Kind(
        mcm.GROUP,
        mcm.VERSION,
        "MachineClass",
        "machineclasses",
        True,
        cast(dict[str, type], mcm.MACHINE_CLASS_FIELDS),
        (Column("Provider", ".provider", description="Driver of the class."), AGE),
        short_names=("machcls",),
        required=("providerSpec",),
        description="Provider configuration shared by Machines: the driver, its spec and credentials.",
    ),
    Kind(
        mcm.GROUP,
        mcm.VERSION,
        "MachineDeployment",
        "machinedeployments",
        True,
        {"spec": mcm.MachineDeploymentSpec, "status": mcm.MachineDeploymentStatus},
        (
            Column("Ready", ".status.readyReplicas", "integer", description="Machines whose node is ready."),
            Column("Desired", ".spec.replicas", "integer", description="Desired machines."),
            Column("Up-to-date", ".status.updatedReplicas", "integer", description="Machines of the current template."),
            Column("Available", ".status.availableReplicas", "integer", description="Available machines."),
            AGE,
        ),
        short_names=("mcd",),
        description="Declarative updates of Machines through MachineSets.",
    ),
    Kind(
        mcm.GROUP,
        mcm.VERSION,
        "MachineSet",
        "machinesets",
        True,
        {"spec": mcm.MachineSetSpec, "status": mcm.MachineSetStatus},
        (
            Column("Desired", ".spec.replicas", "integer", description="Desired machines."),
            Column("Current", ".status.replicas", "integer", description="Existing machines."),
            Column("Ready", ".status.readyReplicas", "integer", description="Machines whose node is ready."),
            AGE,
        ),
        short_names=("mcs",),
        description="Keeps a number of Machines of one template.",
    ),
    Kind(
        mcm.GROUP,
        mcm.VERSION,
        "Machine",
        "machines",
        True,
        {"spec": mcm.MachineSpec, "status": mcm.MachineStatus},
        (
            Column("Status", ".status.currentStatus.phase", description="Phase of the machine."),
            Column("Node", ".metadata.labels.node", description="Node of the machine."),
            Column("ProviderID", ".spec.providerID", priority=1, description="The provider's ID of the machine."),
            AGE,
        ),
        short_names=("mc",),
        description="One physical or virtual machine, created by the driver of its MachineClass.",
    ),
)

_SCALABLE = ("machinedeployments", "machinesets")


def _machine_crd(kind: Kind) -> dict[str, Any]:
    out = crd(kind)
    out["spec"]["names"]["categories"] = ["gardener", "machines"]
    if kind.plural in _SCALABLE:
        for version in out["spec"]["versions"]:
            version["subresources"]["scale"] = {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
            }
    return out


def extensions_crds() -> list[dict[str, Any]]:
    """The CRDs a seed serves: extension resources, Cluster, and the machine controller manager's kinds."""
    return [crd(k) for k in EXTENSION_KINDS] + [_machine_crd(k) for k in MACHINE_KINDS]


def main() -> None:
    yaml.safe_dump_all(extensions_crds(), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
