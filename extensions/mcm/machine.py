"""The Machine controller: a Machine's VM through its class's driver, and its phase from its Node's health.

Pending until the Node in the shoot is Ready, then Running; Unknown when the Node stops being Ready, Failed
after the health timeout (or when the VM vanished, or never joined within the creation timeout), so that its
MachineSet replaces it. Deleting a Machine deletes the VM, then the Node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter

from extensions.library.reconciler import now_rfc3339
from extensions.mcm.driver import Driver, DriverError, MachineRequest
from extensions.mcm.objects import MACHINE_CLASSES, MACHINES, is_terminating, parse_time, phase_of
from extensions.mcm.shoot import ShootClients
from gardener.apis.extensions import machine as api
from gardener.runtime.controller import Key, Result
from gardener.runtime.durations import parse_duration_or
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import NODES, SECRETS, Kube, Obj, finalizer_patch, secret_data

log = logging.getLogger("mcm.machine")

OPERATIONS = Counter("mcm_machine_operations_total", "Driver calls by operation and result.", ["operation", "result"])

Phase = api.MachinePhase


def node_ready(node: Obj | None) -> bool:
    for c in ((node or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


class MachineController:
    def __init__(
        self,
        kube: Kube,
        drivers: Mapping[str, Driver],
        shoots: ShootClients,
        *,
        creation_timeout: float = 1200.0,
        health_timeout: float = 600.0,
        health_interval: float = 10.0,
    ) -> None:
        self.kube = kube
        self.drivers = drivers
        self.shoots = shoots
        self.creation_timeout = creation_timeout
        self.health_timeout = health_timeout
        self.health_interval = health_interval

    # ---- helpers ----

    def _class(self, machine: Obj) -> Obj | None:
        name = ((machine.get("spec") or {}).get("class") or {}).get("name")
        if not name:
            return None
        return self.kube.get(MACHINE_CLASSES.path(machine["metadata"]["namespace"], name))

    def _secret(self, machine_class: Obj) -> dict[str, bytes]:
        """The data of the class's secretRef and credentialsSecretRef, merged (credentials win)."""
        out: dict[str, bytes] = {}
        for field in ("secretRef", "credentialsSecretRef"):
            ref = machine_class.get(field) or {}
            if ref.get("name"):
                ns = ref.get("namespace") or machine_class["metadata"]["namespace"]
                out.update(secret_data(self.kube.get(SECRETS.path(ns, ref["name"]))))
        return out

    def _set_status(self, machine: Obj, phase: str, *, op: str, state: str, description: str, **extra: Any) -> Obj:
        current = (machine.get("status") or {}).get("currentStatus") or {}
        now = now_rfc3339()
        status: dict[str, Any] = {
            "currentStatus": {
                "phase": phase,
                "timeoutActive": phase in (Phase.PENDING, Phase.UNKNOWN),
                "lastUpdateTime": current.get("lastUpdateTime") if current.get("phase") == phase else now,
            },
            "lastOperation": {"type": op, "state": state, "description": description, "lastUpdateTime": now},
            **extra,
        }
        if not status["currentStatus"]["lastUpdateTime"]:
            status["currentStatus"]["lastUpdateTime"] = now
        old_op = (machine.get("status") or {}).get("lastOperation") or {}
        unchanged = (
            current.get("phase") == phase
            and old_op.get("description") == description
            and old_op.get("state") == state
            and all((machine.get("status") or {}).get(k) == v for k, v in extra.items())
        )
        if unchanged:
            return machine
        m = machine["metadata"]
        if current.get("phase") != phase:
            log.info("Machine phase changed", extra={"machine": f"{m['namespace']}/{m['name']}", "phase": phase})
        return self.kube.patch(MACHINES.path(m["namespace"], m["name"], "status"), {"status": status})

    # ---- reconcile ----

    def __call__(self, key: Key) -> Result:
        return Result(self._reconcile(key))

    def _reconcile(self, key: Key) -> float | None:
        ns, name = key
        machine = self.kube.get(MACHINES.path(ns, name))
        if machine is None:
            return None
        machine_class = self._class(machine)
        if is_terminating(machine):
            return self._delete(machine, machine_class)
        patch = finalizer_patch(machine, api.FINALIZER, present=True)
        if patch:
            machine = self.kube.patch(MACHINES.path(ns, name), patch)
        phase = phase_of(machine)
        if phase == Phase.FAILED:
            return None
        if machine_class is None:
            self._set_status(machine, Phase.PENDING, op="Create", state="Failed", description="MachineClass not found")
            return 5.0
        provider = str(machine_class.get("provider") or "")
        driver = self.drivers.get(provider)
        if driver is None:
            self._set_status(
                machine,
                Phase.FAILED,
                op="Create",
                state="Failed",
                description=f"no driver for provider {provider!r} (have: {', '.join(sorted(self.drivers))})",
            )
            return None
        req = MachineRequest(machine, machine_class, self._secret(machine_class))
        vm = driver.get_machine_status(req)
        if vm is None:
            if (machine.get("spec") or {}).get("providerID"):
                self._set_status(
                    machine, Phase.FAILED, op="HealthCheck", state="Failed", description="The machine's VM is gone"
                )
                return None
            return self._create(machine, driver, req)
        node = self.shoots.node(ns, vm.node_name)
        ready = node_ready(node)
        # heartbeats change every few seconds; copying them would rewrite the Machine as often
        conditions = [
            {k: v for k, v in c.items() if k != "lastHeartbeatTime"}
            for c in ((node or {}).get("status") or {}).get("conditions") or []
        ]
        extra = {"conditions": conditions} if conditions else {}
        if ready:
            op = "Create" if phase == Phase.PENDING else "HealthCheck"
            self._set_status(
                machine, Phase.RUNNING, op=op, state="Successful", description="Machine is running", **extra
            )
            return self.health_interval
        now = time.time()
        since = parse_time(((machine.get("status") or {}).get("currentStatus") or {}).get("lastUpdateTime")) or now
        spec = machine.get("spec") or {}
        if phase in (Phase.PENDING, "", Phase.CRASH_LOOP_BACK_OFF):
            timeout = parse_duration_or(spec.get("creationTimeout"), self.creation_timeout)
            if now - since > timeout:
                self._set_status(
                    machine,
                    Phase.FAILED,
                    op="Create",
                    state="Failed",
                    description=f"The machine did not join within {timeout:.0f}s",
                )
                return None
            self._set_status(
                machine, Phase.PENDING, op="Create", state="Processing", description="Waiting for the node to join"
            )
            return 1.0
        timeout = parse_duration_or(spec.get("healthTimeout"), self.health_timeout)
        if phase == Phase.UNKNOWN and now - since > timeout:
            self._set_status(
                machine,
                Phase.FAILED,
                op="HealthCheck",
                state="Failed",
                description=f"The node was not ready for {timeout:.0f}s",
                **extra,
            )
            return None
        self._set_status(
            machine, Phase.UNKNOWN, op="HealthCheck", state="Processing", description="The node is not ready", **extra
        )
        return 2.0

    def _create(self, machine: Obj, driver: Driver, req: MachineRequest) -> float | None:
        ns, name = machine["metadata"]["namespace"], machine["metadata"]["name"]
        try:
            vm = driver.create_machine(req)
        except DriverError as exc:
            OPERATIONS.labels("create", "error").inc()
            phase = Phase.CRASH_LOOP_BACK_OFF if exc.retryable else Phase.FAILED
            self._set_status(machine, phase, op="Create", state="Failed", description=f"Creating the VM failed: {exc}")
            return 10.0 if exc.retryable else None
        OPERATIONS.labels("create", "success").inc()
        log.info("Created VM", extra={"machine": f"{ns}/{name}", "providerID": vm.provider_id})
        labels = {**(machine["metadata"].get("labels") or {}), api.NODE_LABEL: vm.node_name}
        machine = self.kube.patch(
            MACHINES.path(ns, name), {"metadata": {"labels": labels}, "spec": {"providerID": vm.provider_id}}
        )
        self._set_status(
            machine,
            Phase.PENDING,
            op="Create",
            state="Processing",
            description="Created the VM; waiting for the node to join",
            lastKnownState=vm.last_known_state or None,
        )
        return 0.5

    def _delete(self, machine: Obj, machine_class: Obj | None) -> float | None:
        if api.FINALIZER not in (machine["metadata"].get("finalizers") or []):
            return None
        ns, name = machine["metadata"]["namespace"], machine["metadata"]["name"]
        machine = self._set_status(
            machine, Phase.TERMINATING, op="Delete", state="Processing", description="Deleting the VM and its node"
        )
        provider = str((machine_class or {}).get("provider") or "")
        driver = self.drivers.get(provider) or (next(iter(self.drivers.values())) if len(self.drivers) == 1 else None)
        if driver is None:
            raise DriverError(f"cannot delete machine {ns}/{name}: no driver for provider {provider!r}")
        secret = self._secret(machine_class) if machine_class else {}
        driver.delete_machine(MachineRequest(machine, machine_class or {}, secret))
        OPERATIONS.labels("delete", "success").inc()
        node_name = (machine["metadata"].get("labels") or {}).get(api.NODE_LABEL)
        if node_name:
            shoot = self.shoots.get(ns)
            if shoot is None:
                log.warning("No shoot access: leaving the node", extra={"machine": f"{ns}/{name}", "node": node_name})
            else:
                try:
                    shoot.delete(NODES.path(name=node_name))
                except ApiError as exc:
                    if exc.status not in (404, 403, 401):
                        raise
        patch = finalizer_patch(machine, api.FINALIZER, present=False)
        if patch:
            self.kube.patch(MACHINES.path(ns, name), patch)
        log.info("Deleted machine", extra={"machine": f"{ns}/{name}", "node": node_name})
        return None
