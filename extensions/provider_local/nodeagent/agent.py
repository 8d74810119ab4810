"""The node agent assembled: caches, controllers, kubelet, proxies, metrics; start and stop in order.

Start: lock the data dir, sync every cache, register the Node, clean up after pods that vanished
while the agent was away, then work. Stop: controllers first (so nothing is recreated), then
the kubelet (which stops or leaves the containers, as configured), then proxies and caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from extensions.provider_local.nodeagent import nodeobject
from extensions.provider_local.nodeagent.addresses import AddressPool
from extensions.provider_local.nodeagent.container import Backoff
from extensions.provider_local.nodeagent.images import ImageTable
from extensions.provider_local.nodeagent.kubelet import Kubelet
from extensions.provider_local.nodeagent.kubeletserving import KubeletServing, start_kubelet_api
from extensions.provider_local.nodeagent.metrics import Metrics, MetricsServer
from extensions.provider_local.nodeagent.proxy import ProxyTable
from extensions.provider_local.nodeagent.pvc import ClaimBinder
from extensions.provider_local.nodeagent.runtime import Node
from extensions.provider_local.nodeagent.services import Services
from extensions.provider_local.nodeagent.tokens import TokenCache
from gardener.runtime.aiokube import AsyncKube as KubeClient
from gardener.runtime.informer import AsyncInformer as Informer
from gardener.runtime.kube import (
    CONFIGMAPS,
    ENDPOINTS,
    PODS,
    PVCS,
    SECRETS,
    SERVICES,
    Resource,
)
from gardener.runtime.process import PidFile

log = logging.getLogger("provider_local.nodeagent")


@dataclass(frozen=True)
class AgentConfig:
    kubeconfig: Path
    data_dir: Path
    node_name: str
    #: the node's labels, taints, providerID and capacity (its name and host IP come from here, not from it)
    identity: nodeobject.NodeIdentity | None = None
    #: give LoadBalancer Services an address (provider-local's load balancers; one agent per cluster does it)
    load_balancers: bool = True
    image_config: Path | None = None
    metrics_host: str = "127.0.0.1"
    #: 0 picks a free port, written to `<data-dir>/metrics.port`
    metrics_port: int = 10248
    cleanup_on_exit: bool = False
    backoff: Backoff = field(default_factory=Backoff)
    max_grace: float = 30.0
    host_ip: str = "127.0.0.1"
    pod_network: str = "127.1.0.0/16"
    service_network: str = "127.2.0.0/16"
    load_balancer_network: str = "127.3.0.0/16"
    heartbeat_seconds: float = nodeobject.HEARTBEAT_SECONDS
    pvc_dir: Path | None = None
    #: the kubelet API (logs, exec, attach, port-forward); None serves none
    serving: KubeletServing | None = None
    #: a machine's kubelet exits when its machine's pid file is gone or names another process
    pid_file: Path | None = None


class DataDirBusy(Exception):
    pass


def lock_data_dir(data_dir: Path) -> int:
    """An exclusive lock on the data dir for as long as the returned descriptor is open."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(data_dir / "agent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirBusy(f"another node agent uses {data_dir}") from None
    return fd


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.metrics_server: MetricsServer | None = None
        self._seen_pid_file = False

    def _owned(self) -> bool:
        pid_file = self.config.pid_file
        if pid_file is None:
            return True
        record = PidFile.read(pid_file)
        if record is None:  # the driver writes it just after starting us
            return not self._seen_pid_file and pid_file.parent.exists()
        self._seen_pid_file = True
        return record.pid == os.getpid()

    def identity(self) -> nodeobject.NodeIdentity:
        cfg = self.config
        given = cfg.identity or nodeobject.NodeIdentity(name=cfg.node_name)
        return dataclasses.replace(
            given, name=cfg.node_name, host_ip=cfg.host_ip, heartbeat_seconds=cfg.heartbeat_seconds
        )

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.config
        lock = lock_data_dir(cfg.data_dir)
        client = KubeClient.from_kubeconfig(cfg.kubeconfig)
        watched: tuple[Resource, ...] = (PODS, SERVICES, ENDPOINTS, SECRETS, CONFIGMAPS, PVCS)
        informers = {r.plural: Informer(client, r) for r in watched}
        tasks = [asyncio.create_task(i.run(), name=f"informer-{n}") for n, i in informers.items()]
        server = MetricsServer(self.metrics, healthy=lambda: all(i.synced.is_set() for i in informers.values()))
        self.metrics_server = server
        try:
            port = await server.start(cfg.metrics_host, cfg.metrics_port)
            (cfg.data_dir / "metrics.port").write_text(str(port))
            await self._work(client, informers, stop)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.stop()
            await client.close()
            os.close(lock)

    @staticmethod
    async def _synced(informers: dict[str, Informer]) -> None:
        for informer in informers.values():
            await informer.synced.wait()

    async def _work(self, client: KubeClient, informers: dict[str, Informer], stop: asyncio.Event) -> None:
        cfg = self.config
        state = cfg.data_dir / "state"
        state.mkdir(mode=0o700, exist_ok=True)
        aliases = AddressPool(cfg.service_network, state_file=state / "service-aliases.json")
        aliases.reserve("node", cfg.host_ip)
        node = Node(
            client=client,
            name=cfg.node_name,
            host_ip=cfg.host_ip,
            data_dir=cfg.data_dir,
            images=ImageTable.load(cfg.image_config),
            pod_ips=AddressPool(cfg.pod_network, state_file=state / "pod-ips.json"),
            pods=informers["pods"],
            secrets=informers["secrets"],
            configmaps=informers["configmaps"],
            services=informers["services"],
            backoff=cfg.backoff,
            max_grace=cfg.max_grace,
            metrics=self.metrics,
            pvc_dir=cfg.pvc_dir,
            service_aliases=aliases,
            tokens=TokenCache(client),
        )
        kubelet = Kubelet(node)
        proxies = ProxyTable(on_connection=self.metrics.proxy_connections.inc)
        services = Services(
            client,
            services=informers["services"],
            endpoints=informers["endpoints"],
            lb_ips=AddressPool(cfg.load_balancer_network, state_file=state / "load-balancer-ips.json"),
            proxies=proxies,
            load_balancers=cfg.load_balancers,
            aliases=aliases,
            # NodePorts need an address of the node's own: 127.0.0.1 is every garden's, their ports would mix
            node_ip=cfg.host_ip if cfg.host_ip != "127.0.0.1" else None,
        )
        binder = ClaimBinder(client, informers["persistentvolumeclaims"], informers["pods"], pvc_root=node.pvc_root)
        self.metrics.containers_running.set_function(kubelet.running_containers)
        self.metrics.services.set_function(proxies.count)
        informers["pods"].add_handler(kubelet.on_pod)
        controllers = [binder.queue]
        informers["services"].add_handler(services.on_service)
        informers["endpoints"].add_handler(services.on_endpoints)
        informers["secrets"].add_handler(kubelet.on_config)
        informers["configmaps"].add_handler(kubelet.on_config)
        informers["persistentvolumeclaims"].add_handler(binder.on_claim)

        synced = asyncio.ensure_future(self._synced(informers))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({synced, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            synced.cancel()
            return
        stopped.cancel()
        registration = nodeobject.NodeRegistration(client, self.identity())
        await registration.register()
        api = None
        if cfg.serving is not None:
            # after the Node exists: a kubelet-serving CSR is approved for the addresses the Node shows
            api = await start_kubelet_api(
                kubelet=kubelet,
                client=client,
                kubeconfig=cfg.kubeconfig,
                node_name=cfg.node_name,
                data_dir=cfg.data_dir,
                serving=cfg.serving,
            )
            registration.identity = dataclasses.replace(registration.identity, kubelet_port=api.port)
            await registration.heartbeat(ready=True)
        await kubelet.start()
        services.start()
        for queue in controllers:
            queue.start()
        log.info("Node agent running", extra={"node": cfg.node_name, "dataDir": str(cfg.data_dir)})
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), cfg.heartbeat_seconds)
            if not self._owned():
                log.info("Machine pid file gone or taken over: stopping", extra={"node": cfg.node_name})
                stop.set()
            await registration.heartbeat(ready=not stop.is_set())
        log.info("Node agent stopping", extra={"cleanup": cfg.cleanup_on_exit})
        for queue in controllers:
            await queue.stop()
        await services.queue.stop()
        if api is not None:
            await api.stop()
        await kubelet.stop(cleanup=cfg.cleanup_on_exit)
        await proxies.close()
