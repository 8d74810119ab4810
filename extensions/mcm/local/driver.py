"""The `local` driver: every Machine is a kubelet process on this host (provider-local's node agent).

A machine gets a /24 of the machine network: its node IP is `.1` (the kubelet's API and NodePorts listen there)
and its pods take addresses from `.128/25`. The kubelet bootstraps its node identity with the machine class's
shoot credentials, kept in a file only root can read (`<state dir>/<namespace>/<machine>/bootstrap-kubeconfig`,
as a VM keeps `/var/lib/kubelet/bootstrap-kubeconfig`), registers a Node named after the Machine with the
labels, taints and capacity of the machine's node template, and runs the pods bound to it. Claims of a shoot
live in `<state dir>/<namespace>/volumes`, which its machines share like a network disk, so data outlives
machines (rolling updates, hibernation). A kubelet outlives the MCM like a VM would and is adopted by the next
one; deleting a machine stops its kubelet and every container it started, also when the kubelet itself was
already dead.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from extensions.mcm.driver import VM, DriverError, MachineRequest, register_driver
from gardener.apis.extensions.machine import SHOOT_ACCESS_KEY
from gardener.runtime.process import PidFile

log = logging.getLogger("mcm.driver.local")

PROVIDER = "local"
KUBELET_MODULE = "extensions.provider_local.nodeagent.main"
#: what a kubelet may take to stop its containers when its machine goes
STOP_GRACE_SECONDS = 35.0


def provider_id(namespace: str, name: str) -> str:
    return f"local:///{namespace}/{name}"


def _flags(values: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(values.items()))


def _taint_flags(taints: list[dict[str, Any]]) -> str:
    out = []
    for taint in taints:
        key = str(taint.get("key") or "")
        value = taint.get("value")
        out.append(f"{key}={value}:{taint.get('effect')}" if value else f"{key}:{taint.get('effect')}")
    return ",".join(out)


def _power_off(directory: Path) -> None:
    """SIGKILL whatever still runs in the machine's directory (a container the kubelet started while it was being
    stopped, an exec'd process): nothing survives a VM's deletion."""
    prefix = f"{directory}/"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(prefix) or cwd == str(directory):
            log.info("Killing a process left on a deleted machine", extra={"pid": int(entry.name), "cwd": cwd})
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


class LocalDriver:
    def __init__(
        self,
        state_dir: Path,
        *,
        heartbeat: float = 10.0,
        python: str = sys.executable,
        machine_network: str = "127.4.128.0/17",
    ) -> None:
        self.state_dir = state_dir
        self.heartbeat = heartbeat
        self.python = python
        self.blocks = list(ipaddress.IPv4Network(machine_network).subnets(new_prefix=24))
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def _dir(self, req: MachineRequest) -> Path:
        return self.state_dir / req.namespace / req.name

    def _reap(self) -> None:
        """Collect exited children, so that a dead kubelet reads as gone and not as a zombie."""
        with self._lock:
            for pid, child in list(self._children.items()):
                if child.poll() is not None:
                    del self._children[pid]

    def _running(self, req: MachineRequest) -> PidFile | None:
        self._reap()
        directory = self._dir(req)
        try:
            uid = json.loads((directory / "machine.json").read_text()).get("uid")
        except (OSError, ValueError):
            return None
        if uid != req.machine["metadata"].get("uid"):
            return None
        record = PidFile.read(directory / "pid")
        return record if record is not None and record.alive() else None

    def _vm(self, req: MachineRequest, record: PidFile) -> VM:
        return VM(provider_id(req.namespace, req.name), req.name, json.dumps({"pid": record.pid}))

    def get_machine_status(self, req: MachineRequest) -> VM | None:
        record = self._running(req)
        return self._vm(req, record) if record else None

    def _block_index(self, directory: Path) -> int:
        """The lowest /24 no other machine of this host holds (kept in machine.json across restarts)."""
        taken: set[int] = set()
        for doc in self.state_dir.glob("*/*/machine.json"):
            if doc.parent == directory:
                continue
            try:
                index = json.loads(doc.read_text()).get("block")
            except (OSError, ValueError):
                continue
            if isinstance(index, int):
                taken.add(index)
        for index in range(len(self.blocks)):
            if index not in taken:
                return index
        raise DriverError(f"no free address block left in the machine network ({len(self.blocks)} machines)")

    def create_machine(self, req: MachineRequest) -> VM:
        record = self._running(req)
        if record is not None:
            return self._vm(req, record)
        kubeconfig = req.secret.get(SHOOT_ACCESS_KEY)
        if not kubeconfig:
            raise DriverError(f"the machine class's secrets have no {SHOOT_ACCESS_KEY!r} for the shoot")
        directory = self._dir(req)
        with self._lock:
            self._stop_dir(directory)  # leftovers of an earlier machine of the same name
            directory.mkdir(parents=True, exist_ok=True)
            block = self._block_index(directory)
            doc = {"uid": req.machine["metadata"].get("uid"), "block": block}
            (directory / "machine.json").write_text(json.dumps(doc))
        for name, data in (("bootstrap-kubeconfig", kubeconfig), ("user-data", req.secret.get("userData") or b"")):
            # what a VM would boot with: readable by root only
            path = directory / name
            path.touch(mode=0o600)
            path.write_bytes(data)
        argv = [self.python, "-m", KUBELET_MODULE, *self._args(req, directory, self.blocks[block])]
        with open(directory / "kubelet.log", "ab") as out:
            try:
                child = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, cwd=directory
                )
            except OSError as exc:
                raise DriverError(f"cannot start the kubelet: {exc.strerror}") from exc
        record = PidFile.of(child.pid)
        record.write(directory / "pid")
        with self._lock:
            self._children[child.pid] = child
        log.info("Started kubelet", extra={"machine": f"{req.namespace}/{req.name}", "pid": child.pid})
        return self._vm(req, record)

    def _args(self, req: MachineRequest, directory: Path, block: ipaddress.IPv4Network) -> list[str]:
        spec: dict[str, Any] = dict(req.machine.get("spec") or {})
        template = spec.get("nodeTemplate") or {}
        provider_spec: dict[str, Any] = dict(req.machine_class.get("providerSpec") or {})
        class_template: dict[str, Any] = dict(req.machine_class.get("nodeTemplate") or {})
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        zone = class_template.get("zone") or provider_spec.get("zone")
        if zone:
            labels.setdefault("topology.kubernetes.io/zone", str(zone))
        if class_template.get("region"):
            labels.setdefault("topology.kubernetes.io/region", str(class_template["region"]))
        if class_template.get("instanceType"):
            labels.setdefault("node.kubernetes.io/instance-type", str(class_template["instanceType"]))
        capacity = {k: str(v) for k, v in (class_template.get("capacity") or {}).items() if k != "gpu"}
        subnets = list(block.subnets(new_prefix=25))
        args = [
            # the MCM's credentials only bootstrap the node's own identity, as a bootstrap token would
            *("--bootstrap-kubeconfig", str(directory / "bootstrap-kubeconfig")),
            *("--kubeconfig", str(directory / "kubelet" / "kubeconfig")),
            *("--data-dir", str(directory / "kubelet")),
            "--rotate-server-certificates",
            *("--node-name", req.name),
            *("--provider-id", provider_id(req.namespace, req.name)),
            *("--node-ip", str(block.network_address + 1)),
            *("--pod-network", str(subnets[1])),
            # a machine's kubelet hands out no cluster IPs or load balancer addresses; these ranges stay unused
            *("--service-network", str(subnets[0])),
            *("--load-balancer-network", str(subnets[0])),
            "--no-load-balancers",
            *("--metrics-port", "0"),
            *("--node-status-update-frequency", str(self.heartbeat)),
            *("--pvc-dir", str(directory.parent / "volumes")),
            *("--pid-file", str(directory / "pid")),
            "--cleanup-on-exit",
        ]
        if labels:
            args += ["--node-labels", _flags(labels)]
        taints = list((template.get("spec") or {}).get("taints") or [])
        if taints:
            args += ["--register-with-taints", _taint_flags(taints)]
        if capacity:
            args += ["--capacity", _flags(capacity)]
        if provider_spec.get("kubernetesVersion"):
            args += ["--kubelet-version", str(provider_spec["kubernetesVersion"])]
        return args

    def _stop_dir(self, directory: Path, grace: float = STOP_GRACE_SECONDS) -> None:
        record = PidFile.read(directory / "pid")
        if record is not None:
            record.stop(grace)
            self._reap()
        # a kubelet that died leaves its containers running: a VM's deletion takes them with it
        for pid_file in directory.glob("kubelet/pods/*/containers/*/pid"):
            container = PidFile.read(pid_file)
            if container is not None and container.alive():
                container.stop(2.0)
        _power_off(directory)
        shutil.rmtree(directory, ignore_errors=True)

    def delete_machine(self, req: MachineRequest) -> None:
        directory = self._dir(req)
        if directory.exists():
            log.info("Stopping kubelet", extra={"machine": f"{req.namespace}/{req.name}"})
            self._stop_dir(directory)


register_driver(
    PROVIDER,
    lambda options: LocalDriver(
        options.state_dir, heartbeat=options.node_heartbeat, machine_network=options.machine_network
    ),
)
