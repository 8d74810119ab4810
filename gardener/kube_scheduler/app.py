"""The scheduler assembled: informers synced first, then (as leader of `kube-system/kube-scheduler`) scheduling.

As upstream, caches fill before the election, so a standby that wins the Lease schedules at once; losing the
Lease stops the work and the process exits non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path
from typing import Any

from gardener.kube_scheduler.config import Config
from gardener.kube_scheduler.scheduler import Informers, Scheduler
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.events import EventRecorder
from gardener.runtime.informer import AsyncInformer
from gardener.runtime.kube import (
    NAMESPACES,
    NODES,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICASETS,
    SERVICES,
    STATEFULSETS,
    Resource,
)
from gardener.runtime.leaderelection import LeaderElection, default_identity

__all__ = ["run"]

log = logging.getLogger("gardener.kube_scheduler")

REPLICATIONCONTROLLERS = Resource("", "v1", "replicationcontrollers", "ReplicationController")


def _informers(client: AsyncKube) -> Informers:
    return Informers(
        pods=AsyncInformer(client, PODS),
        nodes=AsyncInformer(client, NODES),
        namespaces=AsyncInformer(client, NAMESPACES),
        services=AsyncInformer(client, SERVICES),
        controllers={
            "ReplicationController": AsyncInformer(client, REPLICATIONCONTROLLERS),
            "ReplicaSet": AsyncInformer(client, REPLICASETS),
            "StatefulSet": AsyncInformer(client, STATEFULSETS),
        },
        pdbs=AsyncInformer(client, PODDISRUPTIONBUDGETS),
    )


async def run(config: Config, kubeconfig: Path, stop: asyncio.Event) -> None:
    client = AsyncKube.from_kubeconfig(kubeconfig)
    informers = _informers(client)
    recorder = EventRecorder(client, component="default-scheduler", host=socket.gethostname(), new_api=True)
    scheduler = Scheduler(
        client,
        informers,
        recorder,
        profiles=config.profiles,
        initial_backoff=config.pod_initial_backoff,
        max_backoff=config.pod_max_backoff,
    )
    tasks = [asyncio.create_task(i.run(), name=f"informer-{i.resource.plural}") for i in informers.all()]

    async def work() -> None:
        log.info("Scheduler started", extra={"profiles": ",".join(config.profiles)})
        running = asyncio.create_task(scheduler.run())
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (running, stopped):
                task.cancel()
            await asyncio.gather(running, stopped, return_exceptions=True)
        if running.done() and not running.cancelled() and running.exception() is not None:
            raise running.exception()  # type: ignore[misc]

    try:
        synced: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(i.synced.wait() for i in informers.all())))
        waiting: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        await asyncio.wait({synced, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if not synced.done():
            synced.cancel()
            return
        log.info("Caches synced", extra={"nodes": len(informers.nodes.cache), "pods": len(informers.pods.cache)})
        le = config.leader_election
        if not le.leader_elect:
            await work()
            return
        election = LeaderElection(
            client=client,
            namespace=le.namespace,
            name=le.name,
            identity=default_identity(),
            lease_duration=le.lease_duration,
            renew_deadline=le.renew_deadline,
            retry_period=le.retry_period,
        )
        leading = asyncio.create_task(election.lead(work))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({leading, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not leading.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(leading), 15.0)
            leading.cancel()
        stopped.cancel()
        if leading.done() and not leading.cancelled() and leading.exception() is not None:
            raise leading.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await recorder.flush()
        await client.close()
