"""core.gardener.cloud/v1beta1 types, with Gardener's field names and meanings.

Provider-specific parts (providerConfig, infrastructureConfig ...) stay opaque RawExtensions,
as in Gardener, so manifests written for Gardener keep their meaning here.
"""

from __future__ import annotations

from dataclasses import dataclass

from gardener.apis.fields import opt, req
from gardener.apis.openapi import IntOrString, Quantity, RawExtension, Time

GROUP = "core.gardener.cloud"
VERSION = "v1beta1"


# ---- shared ----


@dataclass(frozen=True, kw_only=True)
class Condition:
    """A condition of a Gardener object (Shoot, Seed, ControllerInstallation ...)."""

    type: str = req("Type of the condition.")
    status: str = req("Status of the condition: True, False, Unknown or Progressing.")
    lastTransitionTime: Time | None = opt("Last time the status changed.")
    lastUpdateTime: Time | None = opt("Last time the condition was updated.")
    reason: str | None = opt("Machine-readable reason of the last transition.")
    message: str | None = opt("Human-readable explanation of the last transition.")
    codes: list[str] | None = opt("Well-defined error codes of the condition.")


@dataclass(frozen=True, kw_only=True)
class LastOperation:
    """The last operation executed on an object."""

    type: str = req("Type of the operation: Create, Reconcile, Delete, Migrate, Restore.")
    state: str = req("State of the operation: Processing, Succeeded, Error, Failed, Pending, Aborted.")
    progress: int = req("Progress of the operation in percent.", minimum=0, maximum=100)
    description: str = req("What the operation is doing.")
    lastUpdateTime: Time = req("Last time the operation state changed.")


@dataclass(frozen=True, kw_only=True)
class LastError:
    """An error of the last operation, naming the task that failed."""

    description: str = req("Human-readable message of the error.")
    taskID: str | None = opt("ID of the task that caused the error.")
    codes: list[str] | None = opt("Well-defined error codes such as ERR_INFRA_QUOTA_EXCEEDED.")
    lastUpdateTime: Time | None = opt("Last time the error was reported.")


@dataclass(frozen=True, kw_only=True)
class SecretReference:
    name: str = req("Name of the Secret.")
    namespace: str | None = opt("Namespace of the Secret.")


@dataclass(frozen=True, kw_only=True)
class ObjectReference:
    name: str = req("Name of the referent.")
    namespace: str | None = opt("Namespace of the referent.")
    kind: str | None = opt("Kind of the referent.")
    apiVersion: str | None = opt("API version of the referent.")


@dataclass(frozen=True, kw_only=True)
class LabelSelectorRequirement:
    key: str = req("The label key.")
    operator: str = req("In, NotIn, Exists or DoesNotExist.", enum=["In", "NotIn", "Exists", "DoesNotExist"])
    values: list[str] | None = opt("Values for In and NotIn.")


@dataclass(frozen=True, kw_only=True)
class LabelSelector:
    matchLabels: dict[str, str] | None = opt("Labels that must all match.")
    matchExpressions: list[LabelSelectorRequirement] | None = opt("Requirements that must all match.")


@dataclass(frozen=True, kw_only=True)
class SeedSelector:
    matchLabels: dict[str, str] | None = opt("Labels the seed must carry.")
    matchExpressions: list[LabelSelectorRequirement] | None = opt("Requirements on the seed's labels.")
    providerTypes: list[str] | None = opt("Provider types of seeds allowed ('*' for all).")


@dataclass(frozen=True, kw_only=True)
class Toleration:
    key: str = req("Key of the taint to tolerate.")
    value: str | None = opt("Value of the taint to tolerate.")


# ---- Project ----


@dataclass(frozen=True, kw_only=True)
class Subject:
    kind: str = req("User, Group or ServiceAccount.", enum=["User", "Group", "ServiceAccount"])
    name: str = req("Name of the subject.")
    apiGroup: str | None = opt("API group of the subject (rbac.authorization.k8s.io for users and groups).")
    namespace: str | None = opt("Namespace of a ServiceAccount subject.")


@dataclass(frozen=True, kw_only=True)
class ProjectMember(Subject):
    role: str = req("Main role of the member: admin, viewer, uam, serviceaccountmanager or extension:*.")
    roles: list[str] | None = opt("Further roles of the member.")


@dataclass(frozen=True, kw_only=True)
class ProjectTolerations:
    defaults: list[Toleration] | None = opt("Tolerations added to every Shoot of the project.")
    whitelist: list[Toleration] | None = opt("Tolerations Shoots of the project may use.")


@dataclass(frozen=True, kw_only=True)
class ProjectSpec:
    createdBy: Subject | None = opt("Who created the project.")
    description: str | None = opt("Human-readable description of the project.")
    owner: Subject | None = opt("Owner of the project; always an admin member.")
    purpose: str | None = opt("What the project is used for.")
    members: list[ProjectMember] | None = opt("Members of the project and their roles.")
    namespace: str | None = opt("Namespace of the project; defaults to garden-<name>. Immutable once set.")
    tolerations: ProjectTolerations | None = opt("Tolerations for the project's Shoots.")


@dataclass(frozen=True, kw_only=True)
class ProjectStatus:
    observedGeneration: int | None = opt("Generation last handled by the project controller.", format="int64")
    phase: str | None = opt("Pending, Ready, Failed or Terminating.")
    staleSinceTimestamp: Time | None = opt("Since when the project is unused.")


# ---- CloudProfile ----


@dataclass(frozen=True, kw_only=True)
class ExpirableVersion:
    version: str = req("The version (semantic version).")
    classification: str | None = opt("preview, supported or deprecated.", enum=["preview", "supported", "deprecated"])
    expirationDate: Time | None = opt("After this date the version may no longer be used for new clusters.")


@dataclass(frozen=True, kw_only=True)
class KubernetesSettings:
    versions: list[ExpirableVersion] | None = opt("Kubernetes versions offered.")


@dataclass(frozen=True, kw_only=True)
class CRI:
    name: str = req("Name of the container runtime, e.g. containerd.")


@dataclass(frozen=True, kw_only=True)
class MachineImageVersion(ExpirableVersion):
    cri: list[CRI] | None = opt("Container runtimes the image supports.")
    architectures: list[str] | None = opt("CPU architectures of the image.")
    kubeletVersionConstraint: str | None = opt("Kubelet versions the image supports.")


@dataclass(frozen=True, kw_only=True)
class MachineImage:
    name: str = req("Name of the image.")
    versions: list[MachineImageVersion] = req("Versions of the image.")
    updateStrategy: str | None = opt("patch, minor or major.")


@dataclass(frozen=True, kw_only=True)
class MachineTypeStorage:
    type: str = req("Type of the storage.")
    size: Quantity | None = opt("Size of the storage.")
    minSize: Quantity | None = opt("Minimal size of the storage.")


@dataclass(frozen=True, kw_only=True)
class MachineType:
    name: str = req("Name of the machine type.")
    cpu: Quantity = req("Number of CPUs.")
    gpu: Quantity = req("Number of GPUs.")
    memory: Quantity = req("Amount of memory.")
    storage: MachineTypeStorage | None = opt("Storage of the machine type.")
    usable: bool | None = opt("Whether new Shoots may use the machine type.")
    architecture: str | None = opt("CPU architecture (amd64 or arm64).")


@dataclass(frozen=True, kw_only=True)
class VolumeType:
    name: str = req("Name of the volume type.")
    class_: str | None = opt("Class of the volume type.", json_name="class")
    usable: bool | None = opt("Whether new Shoots may use the volume type.")
    minSize: Quantity | None = opt("Minimal size of volumes of this type.")


@dataclass(frozen=True, kw_only=True)
class AvailabilityZone:
    name: str = req("Name of the zone.")
    unavailableMachineTypes: list[str] | None = opt("Machine types not offered in the zone.")
    unavailableVolumeTypes: list[str] | None = opt("Volume types not offered in the zone.")


@dataclass(frozen=True, kw_only=True)
class Region:
    name: str = req("Name of the region.")
    zones: list[AvailabilityZone] | None = opt("Availability zones of the region.")
    labels: dict[str, str] | None = opt("Labels of the region, used for seed selection.")


@dataclass(frozen=True, kw_only=True)
class CloudProfileSpec:
    type: str = req("Provider type, e.g. local, aws, gcp.")
    kubernetes: KubernetesSettings = req("Kubernetes versions offered.")
    machineImages: list[MachineImage] = req("Machine images offered.")
    machineTypes: list[MachineType] = req("Machine types offered.")
    volumeTypes: list[VolumeType] | None = opt("Volume types offered.")
    regions: list[Region] = req("Regions offered.")
    seedSelector: SeedSelector | None = opt("Which seeds may host Shoots of this profile.")
    providerConfig: RawExtension | None = opt("Provider-specific configuration.")
    caBundle: str | None = opt("PEM certificates trusted by machines of this profile.")


# ---- Seed ----


@dataclass(frozen=True, kw_only=True)
class ShootNetworks:
    pods: str | None = opt("Default pod CIDR of Shoots on this seed.")
    services: str | None = opt("Default service CIDR of Shoots on this seed.")


@dataclass(frozen=True, kw_only=True)
class SeedNetworks:
    nodes: str | None = opt("CIDR of the seed's nodes.")
    pods: str = req("CIDR of the seed's pods.")
    services: str = req("CIDR of the seed's services.")
    shootDefaults: ShootNetworks | None = opt("Default networks of Shoots on this seed.")
    blockCIDRs: list[str] | None = opt("CIDRs Shoot workloads must not reach.")
    ipFamilies: list[str] | None = opt("IPv4 and/or IPv6.")


@dataclass(frozen=True, kw_only=True)
class SeedProvider:
    type: str = req("Provider type of the seed.")
    region: str = req("Region of the seed.")
    zones: list[str] | None = opt("Zones the seed spans.")
    providerConfig: RawExtension | None = opt("Provider-specific configuration.")


@dataclass(frozen=True, kw_only=True)
class SeedDNSProvider:
    type: str = req("DNS provider type.")
    secretRef: SecretReference | None = opt("Credentials of the DNS provider.")


@dataclass(frozen=True, kw_only=True)
class SeedDNS:
    provider: SeedDNSProvider | None = opt("DNS provider of the seed.")
    ingressDomain: str | None = opt("Deprecated: use spec.ingress.domain.")


@dataclass(frozen=True, kw_only=True)
class IngressController:
    kind: str = req("Kind of the ingress controller, e.g. nginx.")
    providerConfig: RawExtension | None = opt("Configuration of the ingress controller.")


@dataclass(frozen=True, kw_only=True)
class Ingress:
    domain: str = req("Ingress domain of the seed.")
    controller: IngressController | None = opt("Ingress controller of the seed.")


@dataclass(frozen=True, kw_only=True)
class SeedTaint:
    key: str = req("Key of the taint.")
    value: str | None = opt("Value of the taint.")


@dataclass(frozen=True, kw_only=True)
class SeedBackup:
    provider: str = req("Provider of the backup bucket.")
    region: str | None = opt("Region of the backup bucket.")
    secretRef: SecretReference | None = opt("Credentials for the backup bucket.")
    providerConfig: RawExtension | None = opt("Provider-specific configuration.")


@dataclass(frozen=True, kw_only=True)
class SeedSpec:
    backup: SeedBackup | None = opt("Backup of the seed's etcds.")
    dns: SeedDNS | None = opt("DNS settings of the seed.")
    networks: SeedNetworks = req("Networks of the seed.")
    provider: SeedProvider = req("Provider of the seed.")
    settings: RawExtension | None = opt("Settings of the seed (scheduling, excessCapacityReservation ...).")
    taints: list[SeedTaint] | None = opt("Taints Shoots must tolerate to be scheduled here.")
    ingress: Ingress | None = opt("Ingress settings of the seed.")
    accessRestrictions: list[RawExtension] | None = opt("Access restrictions of the seed.")


@dataclass(frozen=True, kw_only=True)
class SeedStatus:
    conditions: list[Condition] | None = opt(
        "Conditions of the seed (GardenletReady, SeedSystemComponentsHealthy ...)."
    )
    kubernetesVersion: str | None = opt("Kubernetes version of the seed cluster.")
    observedGeneration: int | None = opt("Generation last handled by the gardenlet.", format="int64")
    clusterIdentity: str | None = opt("Identity of the seed cluster.")
    capacity: dict[str, Quantity] | None = opt("Capacity of the seed, e.g. shoots: 250.")
    allocatable: dict[str, Quantity] | None = opt("Allocatable capacity of the seed.")
    lastOperation: LastOperation | None = opt("Last operation on the seed.")
    gardener: RawExtension | None = opt("Information about the gardenlet serving the seed.")


# ---- Shoot ----


@dataclass(frozen=True, kw_only=True)
class HibernationSchedule:
    start: str | None = opt("Cron expression when to hibernate.")
    end: str | None = opt("Cron expression when to wake up.")
    location: str | None = opt("Time zone of the cron expressions, e.g. Europe/Berlin.")


@dataclass(frozen=True, kw_only=True)
class Hibernation:
    enabled: bool | None = opt("Whether the Shoot is (to be) hibernated.")
    schedules: list[HibernationSchedule] | None = opt("When to hibernate and wake up.")


@dataclass(frozen=True, kw_only=True)
class Kubernetes:
    version: str | None = opt("Kubernetes version; a minor version such as 1.31 is completed from the CloudProfile.")
    kubeAPIServer: RawExtension | None = opt("Settings of the kube-apiserver.")
    kubeControllerManager: RawExtension | None = opt("Settings of the kube-controller-manager.")
    kubeScheduler: RawExtension | None = opt("Settings of the kube-scheduler.")
    kubeProxy: RawExtension | None = opt("Settings of kube-proxy.")
    kubelet: RawExtension | None = opt("Settings of the kubelet.")
    enableStaticTokenKubeconfig: bool | None = opt("Deprecated static token kubeconfig.")


@dataclass(frozen=True, kw_only=True)
class Networking:
    type: str | None = opt("Network plugin, e.g. calico or cilium.")
    providerConfig: RawExtension | None = opt("Configuration of the network plugin.")
    pods: str | None = opt("CIDR of the pod network.")
    nodes: str | None = opt("CIDR of the node network.")
    services: str | None = opt("CIDR of the service network.")
    ipFamilies: list[str] | None = opt("IPv4 and/or IPv6.")


@dataclass(frozen=True, kw_only=True)
class MaintenanceAutoUpdate:
    kubernetesVersion: bool | None = opt("Update patch versions of Kubernetes automatically.")
    machineImageVersion: bool | None = opt("Update machine image versions automatically.")


@dataclass(frozen=True, kw_only=True)
class MaintenanceTimeWindow:
    begin: str = req("Begin of the window, HHMMSS+ZZZZ.", pattern=r"^([0-1]\d|2[0-3])[0-5]\d[0-5]\d[+-]\d{4}$")
    end: str = req("End of the window, HHMMSS+ZZZZ.", pattern=r"^([0-1]\d|2[0-3])[0-5]\d[0-5]\d[+-]\d{4}$")


@dataclass(frozen=True, kw_only=True)
class Maintenance:
    autoUpdate: MaintenanceAutoUpdate | None = opt("What is updated automatically in the window.")
    timeWindow: MaintenanceTimeWindow | None = opt("When maintenance may happen.")
    confineSpecUpdateRollout: bool | None = opt("Roll out spec changes only in the window.")


@dataclass(frozen=True, kw_only=True)
class ShootMachineImage:
    name: str = req("Name of the machine image.")
    version: str | None = opt("Version of the machine image; defaults to the newest supported.")
    providerConfig: RawExtension | None = opt("Provider-specific image configuration.")


@dataclass(frozen=True, kw_only=True)
class Machine:
    type: str = req("Machine type from the CloudProfile.")
    image: ShootMachineImage | None = opt("Machine image; defaults from the CloudProfile.")
    architecture: str | None = opt("CPU architecture; defaults to amd64.")


@dataclass(frozen=True, kw_only=True)
class Volume:
    name: str | None = opt("Name of the volume.")
    type: str | None = opt("Volume type from the CloudProfile.")
    size: str = req("Size of the volume, e.g. 20Gi.")
    encrypted: bool | None = opt("Whether the volume is encrypted.")


@dataclass(frozen=True, kw_only=True)
class Taint:
    key: str = req("Key of the taint.")
    value: str | None = opt("Value of the taint.")
    effect: str = req("NoSchedule, PreferNoSchedule or NoExecute.")


@dataclass(frozen=True, kw_only=True)
class Worker:
    name: str = req("Name of the worker pool.")
    machine: Machine = req("Machine configuration of the pool.")
    minimum: int = req("Minimal number of machines.", minimum=0)
    maximum: int = req("Maximal number of machines.", minimum=0)
    maxSurge: IntOrString | None = opt("Machines created above the desired number during updates.")
    maxUnavailable: IntOrString | None = opt("Machines that may be unavailable during updates.")
    zones: list[str] | None = opt("Zones of the pool.")
    volume: Volume | None = opt("Root volume of the machines.")
    dataVolumes: list[Volume] | None = opt("Further volumes of the machines.")
    labels: dict[str, str] | None = opt("Labels of the pool's nodes.")
    annotations: dict[str, str] | None = opt("Annotations of the pool's nodes.")
    taints: list[Taint] | None = opt("Taints of the pool's nodes.")
    cri: CRI | None = opt("Container runtime of the pool.")
    providerConfig: RawExtension | None = opt("Provider-specific configuration of the pool.")
    kubernetes: RawExtension | None = opt("Kubernetes settings of the pool.")
    systemComponents: RawExtension | None = opt("Whether system components may run on the pool.")


@dataclass(frozen=True, kw_only=True)
class Provider:
    type: str = req("Provider type, matching the CloudProfile's.")
    controlPlaneConfig: RawExtension | None = opt("Provider-specific control plane configuration.")
    infrastructureConfig: RawExtension | None = opt("Provider-specific infrastructure configuration.")
    workers: list[Worker] | None = opt("Worker pools; none makes a workerless Shoot.")
    workersSettings: RawExtension | None = opt("Settings for all worker pools.")


@dataclass(frozen=True, kw_only=True)
class ShootSpec:
    addons: RawExtension | None = opt("Addons of the Shoot.")
    cloudProfileName: str | None = opt("Name of the CloudProfile.")
    cloudProfile: ObjectReference | None = opt("Reference to the CloudProfile (kind CloudProfile).")
    dns: RawExtension | None = opt("DNS settings of the Shoot.")
    extensions: list[RawExtension] | None = opt("Extensions to enable for the Shoot.")
    hibernation: Hibernation | None = opt("Hibernation settings.")
    kubernetes: Kubernetes = req("Kubernetes settings.")
    networking: Networking | None = opt("Network settings; not allowed for workerless Shoots except defaults.")
    maintenance: Maintenance | None = opt("Maintenance settings.")
    monitoring: RawExtension | None = opt("Monitoring settings.")
    provider: Provider = req("Provider settings.")
    purpose: str | None = opt(
        "Purpose of the Shoot.", enum=["evaluation", "testing", "development", "production", "infrastructure"]
    )
    region: str = req("Region of the Shoot, from the CloudProfile.")
    secretBindingName: str | None = opt("Name of the SecretBinding with the provider credentials.")
    credentialsBindingName: str | None = opt("Name of the CredentialsBinding with the provider credentials.")
    seedName: str | None = opt("Seed hosting the control plane; set by the scheduler unless given.")
    seedSelector: SeedSelector | None = opt("Which seeds may host the Shoot.")
    resources: list[RawExtension] | None = opt("Resources referenced by the Shoot.")
    tolerations: list[Toleration] | None = opt("Seed taints the Shoot tolerates.")
    exposureClassName: str | None = opt("ExposureClass of the API server.")
    systemComponents: RawExtension | None = opt("Settings of system components.")
    controlPlane: RawExtension | None = opt("Control plane settings, e.g. highAvailability.")
    schedulerName: str | None = opt("Scheduler responsible for the Shoot.")


@dataclass(frozen=True, kw_only=True)
class ShootAdvertisedAddress:
    name: str = req("Name of the address, e.g. external or internal.")
    url: str = req("URL of the address.")


@dataclass(frozen=True, kw_only=True)
class ShootStatus:
    conditions: list[Condition] | None = opt("Health conditions of the Shoot.")
    constraints: list[Condition] | None = opt("Constraints of the Shoot, e.g. HibernationPossible.")
    gardener: RawExtension | None = opt("The gardenlet that last acted on the Shoot.")
    hibernated: bool | None = opt("Whether the Shoot is hibernated.")
    lastOperation: LastOperation | None = opt("Last operation on the Shoot.")
    lastErrors: list[LastError] | None = opt("Errors of the last operation.")
    observedGeneration: int | None = opt("Generation last handled by the gardenlet.", format="int64")
    retryCycleStartTime: Time | None = opt("Start of the current retry cycle.")
    seedName: str | None = opt("Seed the Shoot was last reconciled on.")
    technicalID: str | None = opt("Name of the Shoot's namespace in the seed: shoot--<project>--<name>.")
    uid: str | None = opt("Unique ID of the Shoot.")
    clusterIdentity: str | None = opt("Identity of the Shoot cluster.")
    advertisedAddresses: list[ShootAdvertisedAddress] | None = opt("Addresses of the Shoot's API server.")


# ---- SecretBinding, Quota, ControllerRegistration, ControllerInstallation ----


@dataclass(frozen=True, kw_only=True)
class SecretBindingProvider:
    type: str = req("Provider type the credentials are for.")


@dataclass(frozen=True, kw_only=True)
class QuotaSpec:
    clusterLifetimeDays: int | None = opt("Days after which Shoots under the quota are deleted.")
    metrics: dict[str, Quantity] = req("Limits, e.g. cpu, gpu, memory.")
    scope: ObjectReference = req("Project or Secret the quota applies to.")


@dataclass(frozen=True, kw_only=True)
class ControllerResource:
    kind: str = req("Extension kind, e.g. Infrastructure or Worker.")
    type: str = req("Extension type, e.g. local.")
    primary: bool | None = opt("Whether the controller is responsible for the resource's lifecycle.")
    globallyEnabled: bool | None = opt("Enable for all Shoots (Extension kind only).")
    reconcileTimeout: str | None = opt("How long the gardenlet waits for the resource.")
    lifecycle: RawExtension | None = opt("Ordering against other extensions.")


@dataclass(frozen=True, kw_only=True)
class ControllerRegistrationSpec:
    resources: list[ControllerResource] | None = opt("Extension resources the controller reconciles.")
    deployment: RawExtension | None = opt("How the controller is deployed to seeds.")


@dataclass(frozen=True, kw_only=True)
class ControllerInstallationSpec:
    registrationRef: ObjectReference = req("The ControllerRegistration.")
    seedRef: ObjectReference = req("The Seed the controller is installed on.")
    deploymentRef: ObjectReference | None = opt("The ControllerDeployment.")


@dataclass(frozen=True, kw_only=True)
class ControllerInstallationStatus:
    conditions: list[Condition] | None = opt("Conditions: Valid, Installed, Healthy, Progressing.")
    providerStatus: RawExtension | None = opt("Status written by the controller.")
