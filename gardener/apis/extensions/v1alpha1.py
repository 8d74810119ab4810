"""extensions.gardener.cloud/v1alpha1 types, with Gardener's field names and meanings.

The gardenlet writes these resources into a shoot's namespace of the seed; the extension registered for a
resource's `spec.type` reconciles it and reports back in `status` (lastOperation, lastError, observedGeneration,
providerStatus). Provider-specific parts stay opaque RawExtensions, as in Gardener.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gardener.apis.core.errorcodes import ErrorCode as ErrorCode
from gardener.apis.core.v1beta1 import Condition, LastError, LastOperation, SecretReference, Taint, Volume
from gardener.apis.fields import opt, req
from gardener.apis.openapi import IntOrString, Quantity, RawExtension, Time

GROUP = "extensions.gardener.cloud"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: the key of the Secret an OperatingSystemConfig's status.cloudConfig names that holds the user data
OSC_SECRET_DATA_KEY = "cloud_config"

#: annotation that asks an extension for an operation besides the normal reconcile
OPERATION_ANNOTATION = "gardener.cloud/operation"


class Operation(enum.StrEnum):
    """Values of the `gardener.cloud/operation` annotation an extension acts on."""

    RECONCILE = "reconcile"
    RESTORE = "restore"
    MIGRATE = "migrate"


class LastOperationType(enum.StrEnum):
    CREATE = "Create"
    RECONCILE = "Reconcile"
    DELETE = "Delete"
    MIGRATE = "Migrate"
    RESTORE = "Restore"


class LastOperationState(enum.StrEnum):
    PROCESSING = "Processing"
    SUCCEEDED = "Succeeded"
    ERROR = "Error"
    FAILED = "Failed"


#: codes after which retrying cannot help until someone changes something (Gardener's non-retryable codes)
NON_RETRYABLE_CODES = frozenset(
    {
        ErrorCode.INFRA_UNAUTHENTICATED,
        ErrorCode.INFRA_UNAUTHORIZED,
        ErrorCode.INFRA_QUOTA_EXCEEDED,
        ErrorCode.INFRA_DEPENDENCIES,
        ErrorCode.CONFIGURATION_PROBLEM,
        ErrorCode.PROBLEMATIC_WEBHOOK,
    }
)


# ---- shared ----


@dataclass(frozen=True, kw_only=True)
class DefaultSpec:
    """Fields every extension resource's spec has."""

    type: str = req("Type of the resource: which extension reconciles it (e.g. local, aws).")
    class_: str | None = opt("Extension class: shoot (default), seed or garden.", json_name="class")
    providerConfig: RawExtension | None = opt("Provider-specific configuration.")


@dataclass(frozen=True, kw_only=True)
class ResourceRef:
    kind: str = req("Kind of the referent.")
    name: str = req("Name of the referent.")
    apiVersion: str | None = opt("API version of the referent.")


@dataclass(frozen=True, kw_only=True)
class NamedResourceReference:
    name: str = req("Name of the resource reference.")
    resourceRef: ResourceRef = req("The referenced object.")


@dataclass(frozen=True, kw_only=True)
class DefaultStatus:
    """Fields every extension resource's status has."""

    providerStatus: RawExtension | None = opt("Provider-specific status.")
    conditions: list[Condition] | None = opt("Latest observations of the resource's state.")
    lastError: LastError | None = opt("The last error of an operation, with codes.")
    lastOperation: LastOperation | None = opt("The last operation on the resource.")
    observedGeneration: int | None = opt("Generation last handled by the extension.", format="int64")
    state: RawExtension | None = opt("State the extension needs to restore the resource elsewhere.")
    resources: list[NamedResourceReference] | None = opt("Named resources the state refers to.")


@dataclass(frozen=True, kw_only=True)
class SecretKeySelector:
    name: str = req("Name of the Secret.")
    key: str = req("Key in the Secret's data.")
    optional: bool | None = opt("Whether the Secret or key may be missing.")


# ---- Infrastructure ----


@dataclass(frozen=True, kw_only=True)
class InfrastructureSpec(DefaultSpec):
    region: str = req("Region of the infrastructure.")
    secretRef: SecretReference = req("Secret with the provider credentials.")
    sshPublicKey: str | None = opt("Public SSH key for the machines (base64).", format="byte")


@dataclass(frozen=True, kw_only=True)
class InfrastructureNetworking:
    pods: list[str] | None = opt("CIDRs of the pod network.")
    services: list[str] | None = opt("CIDRs of the service network.")
    nodes: list[str] | None = opt("CIDRs of the node network.")


@dataclass(frozen=True, kw_only=True)
class InfrastructureStatus(DefaultStatus):
    nodesCIDR: str | None = opt("CIDR of the node network the infrastructure created or uses.")
    egressCIDRs: list[str] | None = opt("CIDRs traffic from the shoot leaves through.")
    networking: InfrastructureNetworking | None = opt("Networks of the infrastructure.")


# ---- ControlPlane ----


@dataclass(frozen=True, kw_only=True)
class ControlPlaneSpec(DefaultSpec):
    purpose: str | None = opt("normal (default) or exposure.", enum=["normal", "exposure"])
    infrastructureProviderStatus: RawExtension | None = opt("providerStatus of the shoot's Infrastructure.")
    region: str = req("Region of the control plane.")
    secretRef: SecretReference = req("Secret with the provider credentials.")


@dataclass(frozen=True, kw_only=True)
class ControlPlaneStatus(DefaultStatus):
    pass


# ---- Worker ----


@dataclass(frozen=True, kw_only=True)
class MachineImage:
    name: str = req("Logical name of the machine image.")
    version: str = req("Version of the machine image.")


@dataclass(frozen=True, kw_only=True)
class NodeTemplate:
    capacity: dict[str, Quantity] = req("Expected capacity of a node of the pool.")


@dataclass(frozen=True, kw_only=True)
class MachineControllerManagerSettings:
    machineDrainTimeout: str | None = opt("How long a node may take to drain, e.g. 2h.")
    machineHealthTimeout: str | None = opt("How long a node may be unhealthy before its machine is replaced.")
    machineCreationTimeout: str | None = opt("How long a new machine may take to join.")
    maxEvictRetries: int | None = opt("How often an eviction is tried while draining.")
    nodeConditions: list[str] | None = opt("Node conditions that mark a node unhealthy.")


@dataclass(frozen=True, kw_only=True)
class CRIConfig:
    name: str = req("Container runtime: containerd or docker.")


@dataclass(frozen=True, kw_only=True)
class WorkerPool:
    name: str = req("Name of the worker pool.")
    machineType: str = req("Machine type of the pool.")
    machineImage: MachineImage | None = opt("Machine image of the pool.")
    minimum: int = req("Minimal size of the pool.", minimum=0)
    maximum: int = req("Maximal size of the pool.", minimum=0)
    maxSurge: IntOrString = req("Machines created above the desired number during an update.")
    maxUnavailable: IntOrString = req("Machines that may be unavailable during an update.")
    annotations: dict[str, str] | None = opt("Annotations of the pool's nodes.")
    labels: dict[str, str] | None = opt("Labels of the pool's nodes.")
    taints: list[Taint] | None = opt("Taints of the pool's nodes.")
    nodeAgentSecretName: str | None = opt("Names the OperatingSystemConfig; a change rolls the pool.")
    providerConfig: RawExtension | None = opt("Provider-specific configuration of the pool.")
    userDataSecretRef: SecretKeySelector | None = opt("Secret key holding the user data of new machines.")
    volume: Volume | None = opt("Root disk of the machines.")
    dataVolumes: list[Volume] | None = opt("Further disks of the machines.")
    zones: list[str] | None = opt("Zones the pool spreads over.")
    machineControllerManager: MachineControllerManagerSettings | None = opt("Machine controller settings.")
    kubernetesVersion: str | None = opt("Kubernetes version of the pool.")
    nodeTemplate: NodeTemplate | None = opt("Capacity the cluster-autoscaler assumes for new nodes.")
    architecture: str | None = opt("CPU architecture of the pool's machines.")
    cri: CRIConfig | None = opt("Container runtime of the pool's nodes.")


@dataclass(frozen=True, kw_only=True)
class WorkerSpec(DefaultSpec):
    infrastructureProviderStatus: RawExtension | None = opt("providerStatus of the shoot's Infrastructure.")
    region: str = req("Region of the workers.")
    secretRef: SecretReference = req("Secret with the provider credentials.")
    sshPublicKey: str | None = opt("Public SSH key for the machines (base64).", format="byte")
    pools: list[WorkerPool] = req("The worker pools.")


@dataclass(frozen=True, kw_only=True)
class MachineDeploymentRef:
    name: str = req("Name of the MachineDeployment.")
    minimum: int = req("Minimal replicas of the MachineDeployment.")
    maximum: int = req("Maximal replicas of the MachineDeployment.")


@dataclass(frozen=True, kw_only=True)
class WorkerStatus(DefaultStatus):
    machineDeployments: list[MachineDeploymentRef] | None = opt("The MachineDeployments of the pools.")
    machineDeploymentsLastUpdateTime: Time | None = opt("When machineDeployments last changed.")


# ---- OperatingSystemConfig ----


@dataclass(frozen=True, kw_only=True)
class DropIn:
    name: str = req("Name of the drop-in.")
    content: str = req("Content of the drop-in.")


@dataclass(frozen=True, kw_only=True)
class FileContentSecretRef:
    name: str = req("Name of the Secret.")
    dataKey: str = req("Key in the Secret's data.")


@dataclass(frozen=True, kw_only=True)
class FileContentInline:
    encoding: str = req("Encoding of the data: '' or b64.")
    data: str = req("The data.")


@dataclass(frozen=True, kw_only=True)
class FileContent:
    secretRef: FileContentSecretRef | None = opt("Content from a Secret in the same namespace.")
    inline: FileContentInline | None = opt("Inline content.")
    transmitUnencoded: bool | None = opt("Send the content to the node as it is.")


@dataclass(frozen=True, kw_only=True)
class File:
    path: str = req("Path of the file on the host.")
    permissions: int | None = opt("Permissions of the file (default 0644).")
    content: FileContent = req("Content of the file.")


@dataclass(frozen=True, kw_only=True)
class Unit:
    name: str = req("Name of the unit.")
    command: str | None = opt("start, restart or stop.", enum=["start", "restart", "stop"])
    enable: bool | None = opt("Whether the unit is enabled.")
    content: str | None = opt("Content of the unit.")
    dropIns: list[DropIn] | None = opt("Drop-ins of the unit.")
    files: list[File] | None = opt("Files the unit depends on.")


@dataclass(frozen=True, kw_only=True)
class OperatingSystemConfigSpec(DefaultSpec):
    criConfig: CRIConfig | None = opt("Container runtime of the nodes.")
    purpose: str = req("provision (bootstrap a VM) or reconcile (on a running VM).", enum=["provision", "reconcile"])
    reloadConfigFilePath: str | None = opt("Path of the generated configuration on the host.")
    units: list[Unit] | None = opt("Units of the configuration.")
    files: list[File] | None = opt("Files of the configuration.")


@dataclass(frozen=True, kw_only=True)
class CloudConfig:
    secretRef: SecretReference = req("Secret holding the generated configuration.")


@dataclass(frozen=True, kw_only=True)
class OperatingSystemConfigStatus(DefaultStatus):
    extensionUnits: list[Unit] | None = opt("Units the extension adds.")
    extensionFiles: list[File] | None = opt("Files the extension adds.")
    cloudConfig: CloudConfig | None = opt("The generated configuration.")
    command: str | None = opt("Command that reloads the configuration on a running VM.")
    units: list[str] | None = opt("Units to restart when the configuration changes.")
    files: list[str] | None = opt("Files the configuration writes.")


# ---- Network ----


@dataclass(frozen=True, kw_only=True)
class NetworkSpec(DefaultSpec):
    podCIDR: str = req("CIDR of the pod network.")
    serviceCIDR: str = req("CIDR of the service network.")
    ipFamilies: list[str] | None = opt("IP families: IPv4 and/or IPv6.")


@dataclass(frozen=True, kw_only=True)
class NetworkStatus(DefaultStatus):
    ipFamilies: list[str] | None = opt("IP families the network uses.")


# ---- DNSRecord ----


@dataclass(frozen=True, kw_only=True)
class DNSRecordSpec(DefaultSpec):
    secretRef: SecretReference = req("Secret with the DNS provider credentials.")
    region: str | None = opt("Region of the DNS provider.")
    zone: str | None = opt("Hosted zone of the record; determined from the name when unset.")
    name: str = req("Fully qualified domain name of the record.")
    recordType: str = req("A, AAAA, CNAME or TXT.", enum=["A", "AAAA", "CNAME", "TXT"])
    values: list[str] = req("Values of the record.")
    ttl: int | None = opt("Time to live in seconds.", format="int64")


@dataclass(frozen=True, kw_only=True)
class DNSRecordStatus(DefaultStatus):
    zone: str | None = opt("Hosted zone of the record.")


# ---- BackupBucket ----


@dataclass(frozen=True, kw_only=True)
class BackupBucketSpec(DefaultSpec):
    region: str = req("Region of the bucket.")
    secretRef: SecretReference = req("Secret with the provider credentials.")


@dataclass(frozen=True, kw_only=True)
class BackupBucketStatus(DefaultStatus):
    generatedSecretRef: SecretReference | None = opt("Secret the extension generated for access to the bucket.")


# ---- Extension ----


@dataclass(frozen=True, kw_only=True)
class ExtensionSpec(DefaultSpec):
    pass


@dataclass(frozen=True, kw_only=True)
class ExtensionStatus(DefaultStatus):
    pass


# ---- Cluster ----


@dataclass(frozen=True, kw_only=True)
class ClusterSpec:
    cloudProfile: RawExtension = req("The shoot's CloudProfile.")
    seed: RawExtension = req("The Seed hosting the shoot's control plane.")
    shoot: RawExtension = req("The Shoot.")
