"""The kubelet API wired to the running pods: what `kubeletapi.KubeletServer` reads, and how it gets its certificate.

`WorkerPods` shows the kubelet's pod workers to the API (a pod with its live status, a container's directory, an
exec's host command). `start_kubelet_api` picks the serving certificate as upstream's kubelet does: with
`--rotate-server-certificates` a kubelet-serving CSR the cluster approves (the node's own identity must ask);
otherwise a self-signed certificate kept in `<data-dir>/pki`, which clients verify only if told to trust it.
Clients are verified against the cluster CA (`--client-ca-file`, else the kubeconfig's CA).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from extensions.provider_local.nodeagent.channels import ExecLaunch
from extensions.provider_local.nodeagent.kubelet import Kubelet
from extensions.provider_local.nodeagent.kubeletapi import KubeletServer
from extensions.provider_local.nodeagent.kubeletauth import KubeletAuth
from extensions.provider_local.nodeagent.podworker import PodWorker
from extensions.provider_local.nodeagent.servingcert import ServingCertificate, server_context
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.pki import create_ca, issue_serving_cert

Obj = dict[str, Any]
SELF_SIGNED = "kubelet.pem"


class WorkerPods:
    """The kubelet's pods as the kubelet API sees them."""

    def __init__(self, kubelet: Kubelet) -> None:
        self._kubelet = kubelet

    @staticmethod
    def _view(worker: PodWorker) -> Obj:
        return {**worker.pod, "status": worker.status()}

    def pods(self) -> list[Obj]:
        return [self._view(w) for w in list(self._kubelet.workers.values())]

    def pod(self, namespace: str, name: str) -> Obj | None:
        worker = self._kubelet.workers.get((namespace, name))
        return None if worker is None else self._view(worker)

    def _container(self, namespace: str, name: str, container: str) -> tuple[PodWorker, Obj] | None:
        worker = self._kubelet.workers.get((namespace, name))
        if worker is None:
            return None
        spec = worker.pod.get("spec") or {}
        for candidate in (*(spec.get("initContainers") or []), *(spec.get("containers") or [])):
            if candidate.get("name") == container:
                return worker, candidate
        return None

    def container_dir(self, namespace: str, name: str, container: str) -> Path | None:
        found = self._container(namespace, name, container)
        return None if found is None else found[0].dir / "containers" / container

    def exec_launch(self, namespace: str, name: str, container: str, command: Sequence[str]) -> ExecLaunch:
        found = self._container(namespace, name, container)
        if found is None:
            raise LookupError(f"container {container} is not valid for pod {name}")
        worker, spec = found
        launch = worker.launch(spec)  # an image this node cannot run raises with a readable message
        return ExecLaunch(argv=tuple(launch.probe_target.argv(list(command))), env=launch.env, cwd=launch.cwd)


@dataclass(frozen=True)
class KubeletServing:
    """How the kubelet API serves: `port` 0 picks a free one; CSR-issued or self-signed certificate."""

    host: str
    port: int = 10250
    rotate_server_certificates: bool = False
    client_ca_file: Path | None = None


def kubeconfig_ca(kubeconfig: Path) -> bytes:
    """The CA of the kubeconfig's current cluster (PEM)."""
    config = yaml.safe_load(kubeconfig.read_text())
    current = config.get("current-context")
    contexts = {c["name"]: c.get("context") or {} for c in config.get("contexts") or []}
    cluster_name = (contexts.get(current) or {}).get("cluster")
    for cluster in config.get("clusters") or []:
        if cluster.get("name") == cluster_name or cluster_name is None:
            data = cluster.get("cluster") or {}
            if data.get("certificate-authority-data"):
                return base64.b64decode(data["certificate-authority-data"])
            if data.get("certificate-authority"):
                return (kubeconfig.parent / str(data["certificate-authority"])).read_bytes()
    raise ValueError(f"{kubeconfig} names no certificate authority: give --client-ca-file")


def _self_signed(pki_dir: Path, *, node_name: str, hosts: Sequence[str], client_ca: bytes) -> ssl.SSLContext:
    path = pki_dir / SELF_SIGNED
    if not path.exists():
        ca = create_ca(common_name=f"{node_name}-ca")
        ips = [h for h in hosts if h.replace(".", "").isdigit()]
        names = [h for h in hosts if h not in ips]
        pair = issue_serving_cert(ca, common_name=node_name, dns_names=names, ip_addresses=ips)
        pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(pair.cert_pem + ca.cert_pem + pair.key_pem)
    return server_context(path, client_ca_pem=client_ca)


class KubeletApi:
    """The running kubelet API: its server, its port, and the certificate renewal task when CSRs issue it."""

    def __init__(self, server: KubeletServer, port: int, renewal: asyncio.Task[None] | None) -> None:
        self.server = server
        self.port = port
        self._renewal = renewal

    async def stop(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
        await self.server.stop()


async def start_kubelet_api(
    *,
    kubelet: Kubelet,
    client: AsyncKube,
    kubeconfig: Path,
    node_name: str,
    data_dir: Path,
    serving: KubeletServing,
) -> KubeletApi:
    hosts = [serving.host, node_name]
    client_ca = serving.client_ca_file.read_bytes() if serving.client_ca_file else kubeconfig_ca(kubeconfig)
    renewal: asyncio.Task[None] | None = None
    if serving.rotate_server_certificates:
        certificate = ServingCertificate(
            client, node_name=node_name, hosts=hosts, pki_dir=data_dir / "pki", client_ca_pem=client_ca
        )
        context = await certificate.ensure()
        renewal = asyncio.get_running_loop().create_task(certificate.run(), name="kubelet-serving-certificate")
    else:
        context = _self_signed(data_dir / "pki", node_name=node_name, hosts=hosts, client_ca=client_ca)
    server = KubeletServer(WorkerPods(kubelet), auth=KubeletAuth(client, node_name=node_name))
    port = await server.start(host=serving.host, port=serving.port, ssl_context=context)
    return KubeletApi(server, port, renewal)
