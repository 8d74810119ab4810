"""machine.sapcloud.io/v1alpha1 types of the machine controller manager (MCM), with MCM's field names.

A MachineDeployment rolls MachineSets of one template; a MachineSet keeps a number of Machines; a Machine is
one VM (here: one local host process) created through the driver named by its MachineClass.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gardener.apis.core.v1beta1 import LabelSelector, SecretReference, Taint
from gardener.apis.fields import opt, req
from gardener.apis.openapi import IntOrString, Quantity, RawExtension, Time

GROUP = "machine.sapcloud.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: label on a Machine naming its Node
NODE_LABEL = "node"
#: label and selector key that tells the MachineSets of one MachineDeployment apart
TEMPLATE_HASH_LABEL = "machine-template-hash"
#: finalizer the MCM keeps on the objects it manages
FINALIZER = "machine.sapcloud.io/machine-controller-manager"
#: a Machine labelled so is deleted without waiting for its drain (Gardener sets it when a Worker is deleted)
FORCE_DELETION_LABEL = "force-deletion"
#: annotation ranking which Machines a MachineSet removes first (lower first; default 3)
PRIORITY_ANNOTATION = "machinepriority.machine.sapcloud.io"


class MachinePhase(enum.StrEnum):
    PENDING = "Pending"
    AVAILABLE = "Available"
    RUNNING = "Running"
    TERMINATING = "Terminating"
    UNKNOWN = "Unknown"
    FAILED = "Failed"
    CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"


class MachineState(enum.StrEnum):
    PROCESSING = "Processing"
    FAILED = "Failed"
    SUCCESSFUL = "Successful"


class MachineOperationType(enum.StrEnum):
    CREATE = "Create"
    UPDATE = "Update"
    HEALTH_CHECK = "HealthCheck"
    DELETE = "Delete"


@dataclass(frozen=True, kw_only=True)
class ClassSpec:
    apiGroup: str | None = opt("API group of the machine class.")
    kind: str | None = opt("Kind of the machine class (MachineClass).")
    name: str | None = opt("Name of the machine class.")


@dataclass(frozen=True, kw_only=True)
class TemplateMeta:
    """Metadata of a template: what objects made from it carry."""

    name: str | None = opt("Name (usually unset in templates).")
    labels: dict[str, str] | None = opt("Labels.")
    annotations: dict[str, str] | None = opt("Annotations.")


@dataclass(frozen=True, kw_only=True)
class NodeSpec:
    podCIDR: str | None = opt("Pod CIDR of the node.")
    podCIDRs: list[str] | None = opt("Pod CIDRs of the node.")
    providerID: str | None = opt("Provider ID of the node.")
    taints: list[Taint] | None = opt("Taints of the node.")
    unschedulable: bool | None = opt("Whether new pods may not be scheduled to the node.")


@dataclass(frozen=True, kw_only=True)
class NodeTemplateSpec:
    metadata: TemplateMeta | None = opt("Labels and annotations of the node.")
    spec: NodeSpec | None = opt("Spec of the node.")


@dataclass(frozen=True, kw_only=True)
class MachineSpec:
    class_: ClassSpec | None = opt("The machine class of the machine.", json_name="class")
    providerID: str | None = opt("The provider's ID of the machine.")
    nodeTemplate: NodeTemplateSpec | None = opt("What the machine's node is created with.")
    drainTimeout: str | None = opt("How long draining the node may take, e.g. 2h.")
    healthTimeout: str | None = opt("How long the node may be unhealthy before the machine is replaced, e.g. 10m.")
    creationTimeout: str | None = opt("How long the machine may take to join, e.g. 20m.")
    maxEvictRetries: int | None = opt("How often an eviction is tried while draining.")
    nodeConditions: str | None = opt("Comma-separated node conditions that mark the node unhealthy.")


@dataclass(frozen=True, kw_only=True)
class MachineTemplateSpec:
    metadata: TemplateMeta | None = opt("Metadata of the machines.")
    spec: MachineSpec | None = opt("Spec of the machines.")


@dataclass(frozen=True, kw_only=True)
class LastOperation:
    description: str | None = opt("What the operation is doing.")
    errorCode: str | None = opt("Error code of the operation, if any.")
    lastUpdateTime: Time | None = opt("Last time the operation changed.")
    state: str | None = opt("Processing, Failed or Successful.")
    type: str | None = opt("Create, Update, HealthCheck or Delete.")


@dataclass(frozen=True, kw_only=True)
class CurrentStatus:
    phase: str | None = opt("Pending, Available, Running, Terminating, Unknown, Failed or CrashLoopBackOff.")
    timeoutActive: bool | None = opt("Whether a creation or health timeout is running.")
    lastUpdateTime: Time | None = opt("Last time the phase changed.")


@dataclass(frozen=True, kw_only=True)
class NodeCondition:
    type: str = req("Type of the condition, e.g. Ready.")
    status: str = req("True, False or Unknown.")
    lastHeartbeatTime: Time | None = opt("Last time the condition was probed.")
    lastTransitionTime: Time | None = opt("Last time the status changed.")
    reason: str | None = opt("Reason of the last transition.")
    message: str | None = opt("Details of the last transition.")


@dataclass(frozen=True, kw_only=True)
class NodeAddress:
    type: str = req("Hostname, InternalIP, ExternalIP ...")
    address: str = req("The address.")


@dataclass(frozen=True, kw_only=True)
class MachineStatus:
    addresses: list[NodeAddress] | None = opt("Addresses of the machine.")
    conditions: list[NodeCondition] | None = opt("Conditions of the machine's node.")
    lastOperation: LastOperation | None = opt("The last operation on the machine.")
    currentStatus: CurrentStatus | None = opt("Phase of the machine.")
    lastKnownState: str | None = opt("Driver-specific state of the machine.")


@dataclass(frozen=True, kw_only=True)
class MachineSummary:
    name: str | None = opt("Name of the machine.")
    providerID: str | None = opt("Provider ID of the machine.")
    lastOperation: LastOperation | None = opt("The machine's last operation.")
    ownerRef: str | None = opt("Name of the machine's owner.")


@dataclass(frozen=True, kw_only=True)
class MachineSetSpec:
    replicas: int | None = opt("Number of desired machines.", minimum=0)
    selector: LabelSelector | None = opt("Selects the machines of the set.")
    machineClass: ClassSpec | None = opt("The machine class of the machines.")
    template: MachineTemplateSpec | None = opt("Template of the machines.")
    minReadySeconds: int | None = opt("Seconds a machine must be Running to count as available.")


@dataclass(frozen=True, kw_only=True)
class MachineSetCondition:
    type: str = req("Type of the condition: ReplicaFailure or Frozen.")
    status: str = req("True, False or Unknown.")
    lastTransitionTime: Time | None = opt("Last time the status changed.")
    reason: str | None = opt("Reason of the last transition.")
    message: str | None = opt("Details of the last transition.")


@dataclass(frozen=True, kw_only=True)
class MachineSetStatus:
    replicas: int | None = opt("Number of machines.")
    fullyLabeledReplicas: int | None = opt("Machines whose labels match the template's.")
    readyReplicas: int | None = opt("Machines whose node is ready.")
    availableReplicas: int | None = opt("Machines ready for at least minReadySeconds.")
    observedGeneration: int | None = opt("Generation last handled.", format="int64")
    machineSetCondition: list[MachineSetCondition] | None = opt("Conditions of the set.")
    lastOperation: LastOperation | None = opt("The last operation of the set.")
    failedMachines: list[MachineSummary] | None = opt("Machines whose last operation failed.")


@dataclass(frozen=True, kw_only=True)
class RollingUpdateMachineDeployment:
    maxUnavailable: IntOrString | None = opt("Machines that may be unavailable during the update (default 1).")
    maxSurge: IntOrString | None = opt("Machines created above the desired number during the update (default 1).")


@dataclass(frozen=True, kw_only=True)
class MachineDeploymentStrategy:
    type: str | None = opt("RollingUpdate (default) or Recreate.", enum=["RollingUpdate", "Recreate"])
    rollingUpdate: RollingUpdateMachineDeployment | None = opt("Parameters of a rolling update.")


@dataclass(frozen=True, kw_only=True)
class MachineDeploymentSpec:
    replicas: int | None = opt("Number of desired machines.", minimum=0)
    selector: LabelSelector | None = opt("Selects the machines and MachineSets of the deployment.")
    template: MachineTemplateSpec = req("Template of the machines.")
    strategy: MachineDeploymentStrategy | None = opt("How machines are replaced by new ones.")
    minReadySeconds: int | None = opt("Seconds a machine must be Running to count as available.")
    revisionHistoryLimit: int | None = opt("Old, scaled-down MachineSets to keep.")
    paused: bool | None = opt("Whether the deployment is paused.")
    progressDeadlineSeconds: int | None = opt("Seconds without progress before the rollout counts as failed.")


@dataclass(frozen=True, kw_only=True)
class MachineDeploymentCondition:
    type: str = req("Available, Progressing, ReplicaFailure or Frozen.")
    status: str = req("True, False or Unknown.")
    lastUpdateTime: Time | None = opt("Last time the condition was updated.")
    lastTransitionTime: Time | None = opt("Last time the status changed.")
    reason: str | None = opt("Reason of the last transition.")
    message: str | None = opt("Details of the last transition.")


@dataclass(frozen=True, kw_only=True)
class MachineDeploymentStatus:
    observedGeneration: int | None = opt("Generation last handled.", format="int64")
    replicas: int | None = opt("Non-terminated machines of the deployment.")
    updatedReplicas: int | None = opt("Non-terminated machines with the current template.")
    readyReplicas: int | None = opt("Machines whose node is ready.")
    availableReplicas: int | None = opt("Machines ready for at least minReadySeconds.")
    unavailableReplicas: int | None = opt("Machines still missing for full capacity.")
    conditions: list[MachineDeploymentCondition] | None = opt("Conditions of the deployment.")
    collisionCount: int | None = opt("Hash collisions seen when naming MachineSets.")
    failedMachines: list[MachineSummary] | None = opt("Machines whose last operation failed.")


@dataclass(frozen=True, kw_only=True)
class MachineClassNodeTemplate:
    capacity: dict[str, Quantity] = req("Resources of a node of this class.")
    instanceType: str = req("Instance (machine) type.")
    region: str = req("Region of the nodes.")
    zone: str = req("Zone of the nodes.")


#: MachineClass has no spec: its fields are top-level, as in MCM
MACHINE_CLASS_FIELDS: dict[str, object] = {
    "nodeTemplate": MachineClassNodeTemplate | None,
    "credentialsSecretRef": SecretReference | None,
    "providerSpec": RawExtension,
    "provider": str | None,
    "secretRef": SecretReference | None,
}

#: Secret in a shoot's seed namespace whose key `kubeconfig` reaches the shoot: the MCM's target cluster, where
#: machines register their Nodes
SHOOT_ACCESS_SECRET = "machine-controller-manager-shoot-access"
SHOOT_ACCESS_KEY = "kubeconfig"
