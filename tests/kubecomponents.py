"""Test helpers for the project's kube-controller-manager and kube-scheduler: run them as processes against
a test's API server, and register Nodes (with Leases the test renews) where no kubelet runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.helpers import kubectl


@dataclass
class ComponentProcess:
    """`python -m <module> --kubeconfig ... <args>` with its log in `log_path`."""

    module: str
    kubeconfig: Path
    log_path: Path
    args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ComponentProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        cmd = [sys.executable, "-m", self.module, "--kubeconfig", str(self.kubeconfig), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        log.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def controller_manager(kubeconfig: Path, log_path: Path, *args: str) -> ComponentProcess:
    """The controller manager without leader election or serving port unless `args` say otherwise."""
    base = ["--leader-elect=false", "--secure-port=0"]
    return ComponentProcess("gardener.kube_controller_manager.main", kubeconfig, log_path, [*base, *args]).start()


def scheduler(kubeconfig: Path, log_path: Path, *args: str) -> ComponentProcess:
    base = ["--leader-elect=false", "--secure-port=0"]
    return ComponentProcess("gardener.kube_scheduler.main", kubeconfig, log_path, [*base, *args]).start()


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_manifest(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    zone: str = "",
) -> dict[str, Any]:
    all_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})}
    if zone:
        all_labels["topology.kubernetes.io/zone"] = zone
    resources = {"cpu": cpu, "memory": memory, "pods": pods}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": all_labels},
        "spec": {"taints": taints or []},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": _now(),
                    "lastTransitionTime": _now(),
                }
            ],
        },
    }


def register_node(kubeconfig: Path, name: str, **kwargs: Any) -> None:
    """Create a Node (status included, as a kubelet does through nodes/status) and its Lease."""
    node = node_manifest(name, **kwargs)
    kubectl("create", "-f", "-", kubeconfig=kubeconfig, input=json.dumps({**node, "status": {}}))
    patch = json.dumps({"status": node["status"]})
    kubectl("patch", "node", name, "--subresource=status", "--type=merge", "-p", patch, kubeconfig=kubeconfig)
    renew_lease(kubeconfig, name)


def renew_lease(kubeconfig: Path, name: str) -> None:
    """What a kubelet does every 10 s: the Lease `kube-node-lease/<node>` with a fresh renewTime."""
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": _micro_now()},
    }
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", kubeconfig=kubeconfig, input=json.dumps(lease))
