"""The MachineClass driver contract: how the MCM asks a provider for a VM, whatever the provider is.

Like MCM's driver interface, every call gets the Machine, its MachineClass and the data of the class's
secrets (secretRef and credentialsSecretRef merged); a driver keeps no state the MCM depends on, and every
call is idempotent.

Drivers are found in a registry by provider type (`MachineClass.provider`), never by a hard-wired import: a
driver module calls `register_driver` when it is imported, and the MCM is told which modules to import
(`--driver-module`) and which providers to serve (`--provider`), as a provider extension's deployment says.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
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


@dataclass(frozen=True, kw_only=True)
class DriverOptions:
    """What the MCM's command line offers every driver."""

    #: where a driver may keep what it needs across restarts of the MCM (pid files of local machines ...)
    state_dir: Path
    #: seconds between a machine's node heartbeats, for drivers whose machines post their own
    node_heartbeat: float = 10.0
    #: loopback range the local driver carves machines' node IPs and pod ranges from (a /24 each)
    machine_network: str = "127.4.128.0/17"


DriverFactory = Callable[[DriverOptions], Driver]
_REGISTRY: dict[str, DriverFactory] = {}


def register_driver(provider: str, factory: DriverFactory) -> None:
    """Make the driver for MachineClasses of `provider` known; a second registration of one name replaces it."""
    _REGISTRY[provider] = factory


def registered_drivers() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def load_driver_modules(modules: Iterable[str]) -> None:
    """Import driver modules: each registers its drivers on import."""
    for module in modules:
        importlib.import_module(module)


def build_drivers(providers: Iterable[str], options: DriverOptions) -> dict[str, Driver]:
    """The drivers of `providers` (every registered one when empty); ValueError naming what is registered."""
    wanted = list(providers) or list(registered_drivers())
    unknown = [p for p in wanted if p not in _REGISTRY]
    if unknown:
        have = ", ".join(registered_drivers()) or "none"
        raise ValueError(f"no machine driver registered for {', '.join(unknown)} (registered: {have})")
    if not wanted:
        raise ValueError("no machine driver is registered: name a driver module with --driver-module")
    return {p: _REGISTRY[p](options) for p in wanted}
