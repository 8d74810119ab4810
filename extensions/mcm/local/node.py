"""`python -m extensions.mcm.local.node`: one local machine's "kubelet" — a Node in the shoot, kept Ready.

Reads the shoot's kubeconfig from standard input, registers the Node (labels, taints, providerID, capacity),
then every heartbeat renews its Lease in `kube-node-lease` and its Ready condition. It exits on SIGTERM, and
on its own when its pid file is gone or names another process (the MCM's state for it was removed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extensions.library.reconciler import now_rfc3339
from gardener.runtime import logs
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import LEASES, NODES, Kube

log = logging.getLogger("mcm.local.node")

DEFAULT_CAPACITY = {"cpu": "2", "memory": "4Gi", "pods": "110"}


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LocalNode:
    def __init__(self, kube: Kube, args: argparse.Namespace) -> None:
        self.kube = kube
        self.name: str = args.node_name
        self.args = args
        self.pid_file = Path(args.pid_file) if args.pid_file else None
        self._seen_pid_file = False
        self._transition = now_rfc3339()

    def owned(self) -> bool:
        """Whether the MCM still counts this process as its machine (else it exits)."""
        if self.pid_file is None:
            return True
        try:
            pid = int(json.loads(self.pid_file.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return not self._seen_pid_file and self.pid_file.parent.exists()
        self._seen_pid_file = True
        return pid == os.getpid()

    def node_object(self) -> dict[str, Any]:
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            **json.loads(self.args.labels),
        }
        spec: dict[str, Any] = {"providerID": self.args.provider_id}
        taints = json.loads(self.args.taints)
        if taints:
            spec["taints"] = taints
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels, "annotations": json.loads(self.args.annotations)},
            "spec": spec,
        }

    def register(self) -> None:
        node = self.node_object()
        try:
            self.kube.create(NODES.path(), node)
            log.info("Registered node", extra={"node": self.name})
        except ApiError as exc:
            if exc.status != 409:
                raise
            self.kube.patch(NODES.path(name=self.name), {"metadata": node["metadata"], "spec": node["spec"]})

    def status(self) -> dict[str, Any]:
        now = now_rfc3339()
        capacity = {**DEFAULT_CAPACITY, **json.loads(self.args.capacity)}
        capacity.pop("gpu", None)

        def condition(ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
            return {
                "type": ctype,
                "status": status,
                "lastHeartbeatTime": now,
                "lastTransitionTime": self._transition,
                "reason": reason,
                "message": message,
            }

        return {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "local machine is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": self.name},
            ],
            "nodeInfo": {
                "machineID": self.name,
                "systemUUID": self.name,
                "bootID": str(os.getpid()),
                "kernelVersion": platform.release(),
                "osImage": "gardener local machine",
                "containerRuntimeVersion": "local://1.0.0",
                "kubeletVersion": self.args.kubelet_version,
                "kubeProxyVersion": self.args.kubelet_version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }

    def heartbeat(self) -> None:
        try:
            self.kube.patch(NODES.path(name=self.name, subresource="status"), {"status": self.status()})
        except ApiError as exc:
            if exc.status != 404:
                raise
            self.register()
            self.kube.patch(NODES.path(name=self.name, subresource="status"), {"status": self.status()})
        self.renew_lease()

    def renew_lease(self) -> None:
        path = LEASES.path("kube-node-lease", self.name)
        spec = {
            "holderIdentity": self.name,
            "leaseDurationSeconds": max(int(self.args.heartbeat * 4), 10),
            "renewTime": _micro_now(),
        }
        try:
            self.kube.patch(path, {"spec": spec})
        except ApiError as exc:
            if exc.status != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": "kube-node-lease"},
                "spec": spec,
            }
            self.kube.create(LEASES.path("kube-node-lease"), lease)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.owned():
                log.info("Pid file gone or taken over: exiting", extra={"node": self.name})
                return
            try:
                self.heartbeat()
            except Exception as exc:
                log.warning("Heartbeat failed", extra={"node": self.name, "error": repr(exc)[:300]})
            stop.wait(self.args.heartbeat)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="local-node", description="A local machine's node agent (kubeconfig on stdin)")
    p.add_argument("--node-name", required=True)
    p.add_argument("--provider-id", required=True)
    p.add_argument("--pid-file", default="")
    p.add_argument("--heartbeat", type=float, default=10.0)
    p.add_argument("--labels", default="{}")
    p.add_argument("--annotations", default="{}")
    p.add_argument("--taints", default="[]")
    p.add_argument("--capacity", default="{}")
    p.add_argument("--kubelet-version", default="v1.31.0")
    args = p.parse_args(argv)
    if not args.kubelet_version.startswith("v"):
        args.kubelet_version = f"v{args.kubelet_version}"
    logs.setup_logging()
    kubeconfig = sys.stdin.read()
    if not kubeconfig.strip():
        log.error("No kubeconfig on standard input")
        sys.exit(2)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    kube = Kube.from_kubeconfig_text(kubeconfig)
    node = LocalNode(kube, args)
    try:
        node.register()
    except Exception as exc:
        log.warning("Registration failed; retrying with the heartbeat", extra={"error": repr(exc)[:300]})
    node.run(stop)
    kube.close()


if __name__ == "__main__":
    main()
