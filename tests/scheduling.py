"""Set-up shared by the scheduler's integration test and its benchmark: a garden API with a project namespace,
a CloudProfile, Seeds that look registered and ready, and a gardener-scheduler process with its own identity."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config

from gardener.apis.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.local.garden import install_garden_api
from gardener.runtime.kube import Kube
from gardener.runtime.pki import KeyPair, issue_client_cert
from gardener.scheduler import rbac
from tests.helpers import ServerProcess, eventually

CORE = "/apis/core.gardener.cloud/v1beta1"
MERGE = "application/merge-patch+json"
NAMESPACE = "garden-dev"
#: what the local seed example uses; shoots get their pod and service networks from `shootDefaults`
SEED_NETWORKS = {
    "nodes": "10.10.0.0/16",
    "pods": "10.1.0.0/16",
    "services": "10.2.0.0/16",
    "shootDefaults": {"pods": "100.96.0.0/11", "services": "100.64.0.0/13"},
}


def kube_for(kubeconfig: Path, *, pool: int = 16) -> Kube:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.connection_pool_maxsize = pool
    return Kube(client.ApiClient(configuration))


def scheduler_kubeconfig(server: ServerProcess) -> Path:
    """A kubeconfig for the scheduler's user, signed by the server's CA."""
    pki = server.data_dir / "pki"
    ca = KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())
    cert = issue_client_cert(ca, user=rbac.USER, groups=())
    path = server.data_dir / "scheduler.kubeconfig"
    write_kubeconfig(
        path,
        build_kubeconfig(
            server=server.url,
            ca_pem=ca.cert_pem,
            user=rbac.USER,
            client_cert_pem=cert.cert_pem,
            client_key_pem=cert.key_pem,
        ),
    )
    return path


def prepare_garden(server: ServerProcess, *, regions: tuple[str, ...]) -> Kube:
    """Garden CRDs, the scheduler's permissions, a CloudProfile `local` offering `regions`, and a project namespace
    (Project `dev`) with a SecretBinding; returns an admin client."""
    install_garden_api(server.kubeconfig, timeout=60)
    kube = kube_for(server.kubeconfig)
    kube.apply(f"/apis/{rbac.RBAC}/v1/clusterroles", rbac.cluster_role())
    kube.apply(f"/apis/{rbac.RBAC}/v1/clusterrolebindings", rbac.cluster_role_binding())
    kube.apply(f"{CORE}/cloudprofiles", cloud_profile(regions))
    kube.apply("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    project = {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "Project",
        "metadata": {"name": "dev"},
        "spec": {
            "namespace": NAMESPACE,
            "owner": {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice@example.com"},
        },
    }
    kube.apply(f"{CORE}/projects", project)  # Shoots live only in project namespaces
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "local", "namespace": NAMESPACE}}
    kube.apply(f"/api/v1/namespaces/{NAMESPACE}/secrets", secret)
    binding = {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "SecretBinding",
        "metadata": {"name": "local", "namespace": NAMESPACE},
        "provider": {"type": "local"},
        "secretRef": {"name": "local", "namespace": NAMESPACE},
    }
    kube.apply(f"{CORE}/namespaces/{NAMESPACE}/secretbindings", binding)
    return kube


def cloud_profile(regions: tuple[str, ...]) -> dict[str, Any]:
    return {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "CloudProfile",
        "metadata": {"name": "local"},
        "spec": {
            "type": "local",
            "kubernetes": {"versions": [{"version": "1.32.2"}]},
            "machineImages": [{"name": "local", "versions": [{"version": "1.0.0", "cri": [{"name": "containerd"}]}]}],
            "machineTypes": [{"name": "local-small", "cpu": "2", "gpu": "0", "memory": "4Gi", "usable": True}],
            "regions": [{"name": r, "zones": [{"name": f"{r}-a"}]} for r in regions],
        },
    }


def create_seed(
    kube: Kube, name: str, *, region: str, allocatable: int | None = None, ready: bool = True, **spec: Any
) -> None:
    """A Seed as its gardenlet would leave it: registered, reconciled, and (if `ready`) with GardenletReady True."""
    body = {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "Seed",
        "metadata": {"name": name},
        "spec": {
            "provider": {"type": "local", "region": region},
            "networks": SEED_NETWORKS,
            "ingress": {"domain": f"ingress.{name}.seed.example.com"},
            "dns": {"provider": {"type": "local"}},
            **spec,
        },
    }
    kube.raw("POST", f"{CORE}/seeds", body)
    status: dict[str, Any] = {
        "conditions": [
            {
                "type": "GardenletReady",
                "status": "True" if ready else "False",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
                "lastUpdateTime": "2025-01-01T00:00:00Z",
                "reason": "GardenletReady" if ready else "GardenletNotReady",
                "message": "",
            }
        ],
        "lastOperation": {
            "type": "Reconcile",
            "state": "Succeeded",
            "progress": 100,
            "description": "Seed cluster has been successfully reconciled.",
            "lastUpdateTime": "2025-01-01T00:00:00Z",
        },
    }
    if allocatable is not None:
        status["allocatable"] = {"shoots": str(allocatable)}
    kube.raw("PATCH", f"{CORE}/seeds/{name}/status", {"status": status}, content_type=MERGE)


def shoot(name: str, *, region: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "Shoot",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "cloudProfileName": "local",
            "secretBindingName": "local",
            "region": region,
            "provider": {
                "type": "local",
                "workers": [
                    {
                        "name": "pool",
                        "machine": {"type": "local-small", "image": {"name": "local", "version": "1.0.0"}},
                        "minimum": 1,
                        "maximum": 2,
                        "zones": [f"{region}-a"],
                    }
                ],
            },
            "kubernetes": {"version": "1.32.2"},
            "networking": {"type": "calico", "nodes": "10.250.0.0/16"},
            **spec,
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SchedulerProcess:
    kubeconfig: Path
    log_path: Path
    args: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 60.0) -> SchedulerProcess:
        self.port = self.port or free_port()
        command = [
            sys.executable,
            "-m",
            "gardener.scheduler.main",
            "--kubeconfig",
            str(self.kubeconfig),
            "--metrics-port",
            str(self.port),
            *self.args,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        eventually(self.healthy, timeout=timeout, what="scheduler synced")
        return self

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"scheduler exited with {self.proc.returncode}: {self.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def metrics(self) -> dict[str, float]:
        """Samples of the scheduler's own metrics, keyed by name and labels as exposed."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("gardener_scheduler_"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)


def events_for(kube: Kube, name: str) -> list[dict[str, Any]]:
    listing = kube.raw("GET", f"/api/v1/namespaces/{NAMESPACE}/events") or {"items": []}
    return [e for e in listing["items"] if (e.get("involvedObject") or {}).get("name") == name]


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)[:3000]
