"""The MachineClass driver contract: how the MCM asks a provider for a VM, whatever the provider is.

Like MCM's driver interface, every call gets the Machine, its MachineClass and the data of the class's
secrets (secretRef and credentialsSecretRef merged); a driver keeps no state the MCM depends on, and every
call is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class MachineRequest:
    machine: Mapping[str, Any]
    machine_class: Mapping[str, Any]
    secret: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return str(self.machine["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.machine["metadata"].get("namespace") or "")


@dataclass(frozen=True)
class VM:
    """What a provider knows about a machine's VM."""

    provider_id: str
    node_name: str
    last_known_state: str = ""


class DriverError(Exception):
    """The provider refused or failed; `retryable` says whether asking again may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Driver(Protocol):
    def create_machine(self, req: MachineRequest) -> VM:
        """Create the VM (or return the one that exists for this machine)."""

    def delete_machine(self, req: MachineRequest) -> None:
        """Delete the VM; nothing to do when it is gone."""

    def get_machine_status(self, req: MachineRequest) -> VM | None:
        """The VM of this machine, or None when it does not exist (any more)."""
