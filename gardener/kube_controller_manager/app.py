"""The controller manager assembled: leader election, then every enabled controller on shared informers.

Start: take the Lease `kube-system/kube-controller-manager` (unless leader election is off), let each enabled
controller register its handlers, sync every informer, then start the controllers. Losing the Lease stops
everything and the process exits non-zero, as upstream's does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gardener.kube_controller_manager.context import ControllerContext, Options, Startable
from gardener.kube_controller_manager.registry import Descriptor
from gardener.runtime.aiokube import AsyncKube, kubeconfig_auth
from gardener.runtime.leaderelection import LeaderElection, default_identity

__all__ = ["Config", "run"]

log = logging.getLogger("gardener.kube_controller_manager")

#: what upstream's manager sends (`kube-controller-manager/v1.32.2 (linux/amd64) kubernetes/<commit>`): the API
#: server takes the first word as the field manager of everything the controllers write
USER_AGENT = f"kube-controller-manager/v1.32.0 ({sys.platform}/{platform.machine()}) kubernetes/gardener-py"


@dataclass(frozen=True)
class Config:
    kubeconfig: Path
    controllers: tuple[Descriptor, ...]
    options: Options = field(default_factory=Options)
    use_service_account_credentials: bool = False
    leader_elect: bool = True
    lease_namespace: str = "kube-system"
    lease_name: str = "kube-controller-manager"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


async def run_controllers(ctx: ControllerContext, controllers: tuple[Descriptor, ...], stop: asyncio.Event) -> None:
    """Set up, sync and run `controllers` until `stop` is set."""
    parts: list[Startable] = []
    for descriptor in controllers:
        parts.extend(await descriptor.setup(ctx))
        log.info("Controller set up", extra={"controller": descriptor.name})
    informer_tasks = await ctx.start_informers()
    try:
        for part in parts:
            part.start()
        log.info("Controllers started", extra={"count": len(controllers)})
        await stop.wait()
    finally:
        for part in parts:
            await part.stop()
        for task in informer_tasks:
            task.cancel()
        await asyncio.gather(*informer_tasks, return_exceptions=True)


async def run(config: Config, stop: asyncio.Event, *, ready: asyncio.Event | None = None) -> None:
    server, ssl_context, token = kubeconfig_auth(config.kubeconfig)
    client = AsyncKube(server=server, ssl_context=ssl_context, token=token, user_agent=USER_AGENT)
    ctx = ControllerContext(
        user_agent=USER_AGENT,
        client=client,
        options=config.options,
        server=server,
        ssl_context=ssl_context,
        use_service_account_credentials=config.use_service_account_credentials,
        host=socket.gethostname(),
    )

    async def work() -> None:
        if ready is not None:
            ready.set()
        await run_controllers(ctx, config.controllers, stop)

    try:
        if config.leader_elect:
            election = LeaderElection(
                client=client,
                namespace=config.lease_namespace,
                name=config.lease_name,
                identity=default_identity(),
                lease_duration=config.lease_duration,
                renew_deadline=config.renew_deadline,
                retry_period=config.retry_period,
            )
            leading = asyncio.create_task(election.lead(work))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({leading, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not leading.done():
                # stop was set before we became leader, or while work is winding down
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(leading), 15.0)
                leading.cancel()
            stopped.cancel()
            if leading.done() and not leading.cancelled() and leading.exception() is not None:
                raise leading.exception()  # type: ignore[misc]
        else:
            await work()
    finally:
        await ctx.close()
        await client.close()
