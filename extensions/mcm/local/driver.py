"""The `local` driver: every Machine is a `python -m extensions.mcm.local.node` process on this host.

The process gets the shoot's kubeconfig on its standard input (it never lands in a file of ours), registers a
Node named after the Machine with the labels and taints of the machine's node template, and keeps it Ready.
Its pid file lives in `<state dir>/<namespace>/<machine>/`; a process outlives the MCM like a VM would, and
is adopted by the next one.
"""

from __future__ import annotations

import json
import logging
import shutil
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


def provider_id(namespace: str, name: str) -> str:
    return f"local:///{namespace}/{name}"


class LocalDriver:
    def __init__(self, state_dir: Path, *, heartbeat: float = 10.0, python: str = sys.executable) -> None:
        self.state_dir = state_dir
        self.heartbeat = heartbeat
        self.python = python
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def _dir(self, req: MachineRequest) -> Path:
        return self.state_dir / req.namespace / req.name

    def _reap(self) -> None:
        """Collect exited children, so that a dead node process reads as gone and not as a zombie."""
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

    def create_machine(self, req: MachineRequest) -> VM:
        record = self._running(req)
        if record is not None:
            return self._vm(req, record)
        kubeconfig = req.secret.get(SHOOT_ACCESS_KEY)
        if not kubeconfig:
            raise DriverError(f"the machine class's secrets have no {SHOOT_ACCESS_KEY!r} for the shoot")
        directory = self._dir(req)
        self._stop_dir(directory)  # leftovers of an earlier machine of the same name
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "machine.json").write_text(json.dumps({"uid": req.machine["metadata"].get("uid")}))
        # What a VM would boot with (the OperatingSystemConfig's rendering): kept beside the machine, readable.
        user_data = directory / "user-data"
        user_data.touch(mode=0o600)
        user_data.write_bytes(req.secret.get("userData") or b"")
        argv = [self.python, "-m", "extensions.mcm.local.node", *self._args(req, directory)]
        with open(directory / "node.log", "ab") as out:
            try:
                child = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=out, stderr=out, start_new_session=True, cwd=directory
                )
            except OSError as exc:
                raise DriverError(f"cannot start the node process: {exc.strerror}") from exc
        assert child.stdin is not None
        try:
            child.stdin.write(kubeconfig)
            child.stdin.close()
        except OSError as exc:
            raise DriverError("the node process exited at once; see its node.log") from exc
        record = PidFile.of(child.pid)
        record.write(directory / "pid")
        with self._lock:
            self._children[child.pid] = child
        log.info("Started node process", extra={"machine": f"{req.namespace}/{req.name}", "pid": child.pid})
        return self._vm(req, record)

    def _args(self, req: MachineRequest, directory: Path) -> list[str]:
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
        args = [
            "--node-name",
            req.name,
            "--provider-id",
            provider_id(req.namespace, req.name),
            "--pid-file",
            str(directory / "pid"),
            "--heartbeat",
            str(self.heartbeat),
            "--labels",
            json.dumps(labels),
            "--annotations",
            json.dumps((template.get("metadata") or {}).get("annotations") or {}),
            "--taints",
            json.dumps((template.get("spec") or {}).get("taints") or []),
            "--capacity",
            json.dumps(class_template.get("capacity") or {}),
        ]
        if provider_spec.get("kubernetesVersion"):
            args += ["--kubelet-version", str(provider_spec["kubernetesVersion"])]
        return args

    def _stop_dir(self, directory: Path, grace: float = 10.0) -> None:
        record = PidFile.read(directory / "pid")
        if record is not None:
            record.stop(grace)
            self._reap()
        shutil.rmtree(directory, ignore_errors=True)

    def delete_machine(self, req: MachineRequest) -> None:
        directory = self._dir(req)
        if directory.exists():
            log.info("Stopping node process", extra={"machine": f"{req.namespace}/{req.name}"})
            self._stop_dir(directory)


register_driver(PROVIDER, lambda options: LocalDriver(options.state_dir, heartbeat=options.node_heartbeat))
