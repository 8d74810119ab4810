"""The Machine controller: a Machine's VM through its class's driver, and its phase from its Node's health.

Pending until the Node in the shoot is Ready, then Running; Unknown when the Node stops being Ready, Failed
after the health timeout (or when the VM vanished, or never joined within the creation timeout), so that its
MachineSet replaces it.

Deleting a Machine (a scale-down, a replaced machine of a rolling update, a failed one) follows MCM's deletion
flow, whose next step is the tail of `status.lastOperation.description`, so that a restarted MCM resumes where
it stopped: phase Terminating, look for the VM, drain the node (`drain.py`: cordon, evict, wait; forced after
the drain timeout), delete the VM, delete the Node, drop the finalizer. Each reconcile takes one step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter

from extensions.library.reconciler import now_rfc3339
from extensions.mcm.drain import (
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_MAX_EVICT_RETRIES,
    Drainer,
    DrainResult,
    aggregate,
    mark_terminating,
    skip_reason,
)
from extensions.mcm.driver import Driver, DriverError, MachineRequest
from extensions.mcm.objects import MACHINE_CLASSES, MACHINES, is_terminating, parse_time, phase_of
from extensions.mcm.shoot import ShootClients
from gardener.apis.extensions import machine as api
from gardener.apis.extensions.machine import SHOOT_ACCESS_SECRET
from gardener.runtime.controller import Key, Result
from gardener.runtime.durations import parse_duration_or
from gardener.runtime.errors import ApiError, Forbidden, Unauthorized
from gardener.runtime.kube import NODES, SECRETS, Kube, Obj, finalizer_patch, secret_data

log = logging.getLogger("mcm.machine")

OPERATIONS = Counter("mcm_machine_operations_total", "Driver calls by operation and result.", ["operation", "result"])

Phase = api.MachinePhase

# The steps of a deletion, as MCM words them (machineutils): each description ends with the step to take next.
GET_VM_STATUS = "Set machine status to termination. Now, getting VM Status"
INITIATE_DRAIN = "Initiate node drain"
INITIATE_VM_DELETION = "Initiate VM deletion"
INITIATE_NODE_DELETION = "Initiate node object deletion"
INITIATE_FINALIZER_REMOVAL = "Initiate machine object finalizer removal"
#: a Machine label that skips the patience of a drain (Gardener sets it on every machine of a deleted Worker)
FORCE_DELETION_LABEL = api.FORCE_DELETION_LABEL
#: MCM's ShortRetry and LongRetry
STEP_RETRY = 5.0
LONG_RETRY = 600.0


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
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        max_evict_retries: int = DEFAULT_MAX_EVICT_RETRIES,
        drainer: Drainer | None = None,
    ) -> None:
        self.kube = kube
        self.drivers = drivers
        self.shoots = shoots
        self.creation_timeout = creation_timeout
        self.health_timeout = health_timeout
        self.health_interval = health_interval
        #: defaults for machines whose spec has no drainTimeout or maxEvictRetries (MCM's flags)
        self.drain_timeout = drain_timeout
        self.max_evict_retries = max_evict_retries
        self.drainer = drainer or Drainer()

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
            self.drainer.forget(key)
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

    # ---- deletion: MCM's triggerDeletionFlow, one step per reconcile, named by lastOperation.description ----

    def _delete(self, machine: Obj, machine_class: Obj | None) -> float | None:
        key = (machine["metadata"]["namespace"], machine["metadata"]["name"])
        if api.FINALIZER not in (machine["metadata"].get("finalizers") or []):
            self.drainer.forget(key)
            return None
        step = str(((machine.get("status") or {}).get("lastOperation") or {}).get("description") or "")
        if phase_of(machine) != Phase.TERMINATING:
            return self._step(machine, GET_VM_STATUS)
        if GET_VM_STATUS in step:
            return self._delete_get_vm(machine, machine_class)
        if INITIATE_DRAIN in step:
            return self._delete_drain(machine)
        if INITIATE_VM_DELETION in step:
            return self._delete_vm(machine, machine_class)
        if INITIATE_NODE_DELETION in step:
            return self._delete_node(machine)
        if INITIATE_FINALIZER_REMOVAL in step:
            patch = finalizer_patch(machine, api.FINALIZER, present=False)
            if patch:
                self.kube.patch(MACHINES.path(*key), patch)
            self.drainer.forget(key)
            log.info("Deleted machine", extra={"machine": "/".join(key)})
            return None
        log.warning("Unknown deletion step: starting over", extra={"machine": "/".join(key), "step": step})
        return self._step(machine, GET_VM_STATUS)

    def _step(self, machine: Obj, description: str, *, failed: bool = False, retry: float = STEP_RETRY) -> float:
        """Record the next step of the deletion; its status write brings the machine back at once."""
        state = api.MachineState.FAILED if failed else api.MachineState.PROCESSING
        self._set_status(machine, Phase.TERMINATING, op="Delete", state=state, description=description)
        return retry

    def _deleting_driver(self, machine: Obj, machine_class: Obj | None) -> tuple[Driver, MachineRequest] | None:
        provider = str((machine_class or {}).get("provider") or "")
        # a class deleted before its machines leaves no provider: a single driver is still the right one
        driver = self.drivers.get(provider) or (next(iter(self.drivers.values())) if len(self.drivers) == 1 else None)
        if driver is None:
            return None
        secret = self._secret(machine_class) if machine_class else {}
        return driver, MachineRequest(machine, machine_class or {}, secret)

    def _delete_get_vm(self, machine: Obj, machine_class: Obj | None) -> float:
        found = self._deleting_driver(machine, machine_class)
        if found is None:
            provider = (machine_class or {}).get("provider")
            return self._step(
                machine, f"No driver for provider {provider!r}. {GET_VM_STATUS}", failed=True, retry=LONG_RETRY
            )
        driver, req = found
        try:
            vm = driver.get_machine_status(req)
        except DriverError as exc:
            OPERATIONS.labels("status", "error").inc()
            if exc.retryable:
                text = "Error occurred with decoding machine error status while getting VM status, aborting with retry."
                return self._step(machine, f"{text} {GET_VM_STATUS}", failed=True)
            text = "Error occurred with decoding machine error status while getting VM status, aborting without retry."
            return self._step(machine, f"{text} machine code: {exc} {GET_VM_STATUS}", failed=True, retry=LONG_RETRY)
        if vm is None:
            return self._step(machine, f"VM was not found at provider. {INITIATE_NODE_DELETION}")
        return self._step(machine, INITIATE_DRAIN)

    def _delete_drain(self, machine: Obj) -> float:
        ns, name = machine["metadata"]["namespace"], machine["metadata"]["name"]
        node_name = str((machine["metadata"].get("labels") or {}).get(api.NODE_LABEL) or "")
        shoot = self.shoots.get(ns) if node_name else None
        try:
            node = shoot.get(NODES.path(name=node_name)) if shoot is not None else None
        except ApiError:
            node = None  # the drain pass meets the same error and reports it
        # the node's own conditions are the freshest; the machine's copy stands in for a node that is gone
        conditions = ((node or machine).get("status") or {}).get("conditions") or []
        now = time.time()
        skip = skip_reason(node_name, conditions, now=now)
        if skip:
            log.info("Not draining", extra={"machine": f"{ns}/{name}", "node": node_name, "reason": skip})
            return self._step(machine, f"{skip} {INITIATE_VM_DELETION}")
        spec = machine.get("spec") or {}
        timeout = parse_duration_or(spec.get("drainTimeout"), self.drain_timeout)
        deadline = (parse_time(machine["metadata"].get("deletionTimestamp")) or now) + timeout
        forced = (machine["metadata"].get("labels") or {}).get(FORCE_DELETION_LABEL) == "True" or now > deadline
        # MCM's drain blocks until the timeout; here a pass waits no longer than to its next attempt or the timeout
        until_forced = max(deadline - now, 0.0) + 0.1
        if shoot is None:
            error = f"no access to the shoot: secret {SHOOT_ACCESS_SECRET} has no kubeconfig"
            result = DrainResult(done=forced, errors=(error,), retry_after=STEP_RETRY)
        else:
            try:
                mark_terminating(shoot, node_name)
            except ApiError as exc:
                if not forced:
                    text = f"Drain failed due to failure in update of node conditions - {exc}. Will retry in next sync."
                    retry = min(STEP_RETRY, until_forced)
                    return self._step(machine, f"{text} {INITIATE_DRAIN}", failed=True, retry=retry)
                log.warning("Could not mark the node terminating", extra={"node": node_name, "error": str(exc)})
            if forced:
                log.info("Forcing the drain", extra={"machine": f"{ns}/{name}", "node": node_name, "timeout": timeout})
            retries = int(spec.get("maxEvictRetries") or self.max_evict_retries)
            result = self.drainer.run_pass(shoot, node_name, key=(ns, name), force=forced, max_evict_retries=retries)
        if result.done:
            self.drainer.forget((ns, name))
            if not result.errors:
                log.info("Drain successful", extra={"machine": f"{ns}/{name}", "node": node_name})
                return self._step(machine, f"Drain successful. {INITIATE_VM_DELETION}")
            text = f"Drain failed due to - {aggregate(result.errors)}. However, since it's a force deletion shall"
            return self._step(machine, f"{text} continue deletion of VM. {INITIATE_VM_DELETION}")
        retry = min(result.retry_after, until_forced)
        if result.errors:
            text = f"Drain failed due to - {aggregate(result.errors)}. Will retry in next sync."
            return self._step(machine, f"{text} {INITIATE_DRAIN}", failed=True, retry=retry)
        return retry

    def _delete_vm(self, machine: Obj, machine_class: Obj | None) -> float:
        found = self._deleting_driver(machine, machine_class)
        if found is None:
            provider = (machine_class or {}).get("provider")
            return self._step(
                machine, f"No driver for provider {provider!r}. {INITIATE_VM_DELETION}", failed=True, retry=LONG_RETRY
            )
        driver, req = found
        try:
            driver.delete_machine(req)
        except DriverError as exc:
            OPERATIONS.labels("delete", "error").inc()
            if exc.retryable:
                text = f"VM deletion failed due to - {exc}. However, will re-try in the next resync."
                return self._step(machine, f"{text} {INITIATE_VM_DELETION}", failed=True)
            text = f"VM deletion failed due to - {exc}. Aborting operation."
            return self._step(machine, f"{text} {INITIATE_VM_DELETION}", failed=True, retry=LONG_RETRY)
        OPERATIONS.labels("delete", "success").inc()
        log.info("Deleted VM", extra={"machine": f"{machine['metadata']['namespace']}/{machine['metadata']['name']}"})
        return self._step(machine, f"VM deletion was successful. {INITIATE_NODE_DELETION}")

    def _delete_node(self, machine: Obj) -> float:
        ns, name = machine["metadata"]["namespace"], machine["metadata"]["name"]
        node_name = (machine["metadata"].get("labels") or {}).get(api.NODE_LABEL)
        if not node_name:
            return self._step(
                machine, f"No node object found for machine, continuing deletion flow. {INITIATE_FINALIZER_REMOVAL}"
            )
        shoot = self.shoots.get(ns)
        try:
            if shoot is None:
                raise Forbidden(403, "no shoot access secret")
            deleted = shoot.delete(NODES.path(name=node_name))
        except (Forbidden, Unauthorized):
            log.warning("No shoot access: leaving the node", extra={"machine": f"{ns}/{name}", "node": node_name})
            text = f'No access to the shoot to delete node "{node_name}", continuing deletion flow.'
            return self._step(machine, f"{text} {INITIATE_FINALIZER_REMOVAL}")
        except ApiError as exc:
            text = f'Deletion of Node Object "{node_name}" failed due to error: {exc}.'
            return self._step(machine, f"{text} {INITIATE_NODE_DELETION}", failed=True)
        if not deleted:
            text = f'No node object found for "{node_name}", continuing deletion flow.'
            return self._step(machine, f"{text} {INITIATE_FINALIZER_REMOVAL}")
        text = f'Deletion of Node Object "{node_name}" is successful.'
        return self._step(machine, f"{text} {INITIATE_FINALIZER_REMOVAL}")
