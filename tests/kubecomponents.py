"""Test helpers for the project's kube-controller-manager and kube-scheduler: run them as processes against
a test's API server, and register Nodes (with Leases the test renews) where no kubelet runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gardener.apiserver.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import Kube
from gardener.runtime.pki import KeyPair, issue_client_cert
from tests.helpers import ServerProcess, kubectl


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


def _lease(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": _micro_now()},
    }


def renew_lease(kubeconfig: Path, name: str, *, kube: Kube | None = None) -> None:
    """What a kubelet does every 10 s: the Lease `kube-node-lease/<node>` with a fresh renewTime."""
    client = kube or Kube.from_kubeconfig(kubeconfig)
    try:
        client.server_side_apply(_lease(name))
    finally:
        if kube is None:
            client.close()


def user_kubeconfig(server: ServerProcess, user: str, groups: tuple[str, ...] = ()) -> Path:
    """A kubeconfig for `user` with a client certificate signed by the server's CA (as a shoot's components get)."""
    pki_dir = server.data_dir / "pki"
    ca = KeyPair(cert_pem=(pki_dir / "ca.crt").read_bytes(), key_pem=(pki_dir / "ca.key").read_bytes())
    cert = issue_client_cert(ca, user=user, groups=groups)
    path = server.data_dir / f"{user.replace(':', '-')}.kubeconfig"
    config = build_kubeconfig(
        server=server.url, ca_pem=ca.cert_pem, user=user, client_cert_pem=cert.cert_pem, client_key_pem=cert.key_pem
    )
    write_kubeconfig(path, config)
    return path


class LeaseRenewer:
    """Renews the Leases of some Nodes every `period` seconds in a thread, as their kubelets would."""

    def __init__(self, kubeconfig: Path, nodes: list[str], *, period: float = 1.0) -> None:
        self.kubeconfig = kubeconfig
        self.nodes = list(nodes)
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)

    def start(self) -> LeaseRenewer:
        self._thread.start()
        return self

    def stop_renewing(self, node: str) -> None:
        self.nodes = [n for n in self.nodes if n != node]

    def renew_again(self, node: str) -> None:
        """The kubelet is back: it posts Ready again and renews its Lease."""
        now = _now()
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
        }
        ready |= {"lastHeartbeatTime": now, "lastTransitionTime": now}
        kube = Kube.from_kubeconfig(self.kubeconfig)
        try:
            kube.merge_patch(f"/api/v1/nodes/{node}/status", {"status": {"conditions": [ready]}})
        finally:
            kube.close()
        self.nodes = [*self.nodes, node]

    def _run(self) -> None:
        kube = Kube.from_kubeconfig(self.kubeconfig)
        try:
            while not self._stop.wait(self.period):
                for node in list(self.nodes):
                    with contextlib.suppress(ApiError):
                        renew_lease(self.kubeconfig, node, kube=kube)
        finally:
            kube.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def kubelet(
    kubeconfig: Path,
    log_path: Path,
    *,
    name: str,
    data_dir: Path,
    block: str,
    args: tuple[str, ...] = (),
) -> ComponentProcess:
    """provider-local's node agent as a kubelet beside the controller manager and scheduler: node IP `<block>.1`,
    pods from `<block>.128/25` (`block` is the first three octets of a loopback /24, e.g. "127.61.7")."""
    flags = [
        *("--data-dir", str(data_dir), "--node-name", name, "--node-ip", f"{block}.1"),
        *("--pod-network", f"{block}.128/25", "--service-network", f"{block}.0/25"),
        *("--load-balancer-network", f"{block}.0/25", "--no-load-balancers", "--metrics-port", "0"),
        *("--node-status-update-frequency", "2", "--restart-backoff", "0.2", "--restart-backoff-max", "2"),
        "--cleanup-on-exit",
        *args,
    ]
    return ComponentProcess("extensions.provider_local.nodeagent.main", kubeconfig, log_path, flags).start()


def seed_node(
    kubeconfig: Path,
    root: Path,
    *,
    pod_network: str,
    service_network: str,
    load_balancer_network: str,
    node_name: str = "seed-node",
) -> list[ComponentProcess]:
    """What a local seed runs beside its API server (as `gardener local up` does): kube-controller-manager,
    kube-scheduler and one kubelet that hands out load balancer addresses; logs in `root`. Stop them in reverse."""
    kcm = controller_manager(
        kubeconfig, root / "kube-controller-manager.log", "--service-cluster-ip-range", service_network
    )
    sched = scheduler(kubeconfig, root / "kube-scheduler.log")
    flags = [
        *("--data-dir", str(root / "node"), "--node-name", node_name, "--metrics-port", "0", "--cleanup-on-exit"),
        *("--port", "0"),
        *("--pod-network", pod_network, "--service-network", service_network),
        *("--load-balancer-network", load_balancer_network),
    ]
    node = ComponentProcess("extensions.provider_local.nodeagent.main", kubeconfig, root / "kubelet.log", flags).start()
    return [kcm, sched, node]
