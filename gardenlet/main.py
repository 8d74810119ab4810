"""`gardenlet --config FILE --seed-kubeconfig FILE`: get garden credentials, register the seed, heartbeat and
build the seed's shoots until SIGTERM. Without a seed kubeconfig it refuses to start: its seed could build nothing."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gardener.runtime.errors import ApiError
from gardener.runtime.kube import Kube
from gardener.runtime.logs import FORMATS, setup_logging
from gardenlet import bootstrap
from gardenlet.config import FIELD_MANAGER, ConfigError, GardenletConfig, load_config, resolve_seed_kubeconfig
from gardenlet.controllerinstallation import run_controller_installations
from gardenlet.heartbeat import Heartbeat, Metrics
from gardenlet.shoot.controller import run_shoot_controller

log = logging.getLogger("gardenlet")

T = TypeVar("T")
#: how long to wait before trying again when the garden cannot be reached
RETRY_SECONDS = 2.0


def _describe(exc: Exception) -> str:
    """What went wrong, for the log: API errors carry the server's Status message, never credentials."""
    if isinstance(exc, ApiError):
        return str(exc)[:500]
    return f"{exc.__class__.__name__}: {exc}"[:500]


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep for `seconds`, or less if asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _until_done(step: Callable[[], T], *, what: str, stop: asyncio.Event) -> T | None:
    """Run a blocking step until it succeeds; None if asked to stop first."""
    while not stop.is_set():
        try:
            return await asyncio.to_thread(step)
        except bootstrap.BootstrapError:
            raise
        except Exception as exc:
            log.warning("%s failed, retrying: %s", what, _describe(exc))
        await _pause(stop, RETRY_SECONDS)
    return None


def _record_expiry(config: GardenletConfig, metrics: Metrics) -> dt.datetime | None:
    cert = bootstrap.client_certificate(config.kubeconfig)
    if cert is None:
        return None
    metrics.certificate_expiry.set(cert.not_valid_after_utc.timestamp())
    return bootstrap.renew_at(cert)


async def _heartbeats(heartbeat: Heartbeat, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.to_thread(heartbeat.beat)
        except Exception as exc:
            log.warning("Heartbeat failed: %s", _describe(exc))
        await _pause(stop, heartbeat.config.lease_resync_seconds)


async def _renewals(config: GardenletConfig, heartbeat: Heartbeat, metrics: Metrics, stop: asyncio.Event) -> None:
    while not stop.is_set():
        due = _record_expiry(config, metrics)
        wait = 0.0 if due is None else (due - dt.datetime.now(dt.UTC)).total_seconds()
        if wait > 0:
            await _pause(stop, min(wait, 3600.0))
            continue
        try:
            await asyncio.to_thread(bootstrap.renew, config)
            heartbeat.kube = bootstrap.client(config.kubeconfig)
        except Exception as exc:
            log.warning("Certificate renewal failed, retrying: %s", _describe(exc))
            await _pause(stop, 30.0)


async def _serve(config: GardenletConfig, heartbeat: Heartbeat, metrics: Metrics) -> web.AppRunner | None:
    if not config.metrics_port:
        return None

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(
            text="ok" if heartbeat.healthy else "heartbeat failing", status=200 if heartbeat.healthy else 500
        )

    async def serve_metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", serve_metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.metrics_bind_address, config.metrics_port).start()
    return runner


async def _shoots(config: GardenletConfig, seed_kubeconfig: Path) -> None:
    """Reconcile the seed's shoots until cancelled, starting over if the controller fails (a bad seed kubeconfig)."""
    while True:
        try:
            await run_shoot_controller(
                garden_kubeconfig=config.kubeconfig, seed_kubeconfig=seed_kubeconfig, seed_name=config.seed_name
            )
        except Exception:
            log.exception("Shoot controller failed, restarting")
        await asyncio.sleep(RETRY_SECONDS)


def seed_client(path: Path) -> Kube:
    """The seed cluster's client; a kubeconfig that does not load is a configuration error, found before start."""
    try:
        return Kube.from_kubeconfig(path, field_manager=FIELD_MANAGER)
    except Exception as exc:  # the client's loader raises ConfigException, ValueError, YAML errors ...
        raise ConfigError(f"seed kubeconfig {path} cannot be used: {exc}") from None


async def run(config: GardenletConfig, *, seed_kubeconfig: Path) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    # A certificate that is still valid is renewed by the renewal loop, without holding up the start.
    valid = bootstrap.has_valid_certificate(config.kubeconfig, now=dt.datetime.now(dt.UTC))
    if not valid and await _until_done(lambda: bootstrap.bootstrap(config), what="bootstrap", stop=stop) is None:
        return 0
    metrics = Metrics()
    heartbeat = Heartbeat(bootstrap.client(config.kubeconfig), config, metrics, seed_kube=seed_client(seed_kubeconfig))
    runner = await _serve(config, heartbeat, metrics)
    try:
        if await _until_done(heartbeat.ensure_seed, what="register seed", stop=stop) is None:
            return 0
        tasks = [
            asyncio.create_task(_heartbeats(heartbeat, stop), name="heartbeat"),
            asyncio.create_task(_renewals(config, heartbeat, metrics, stop), name="certificate-renewal"),
        ]
        shoots = asyncio.create_task(_shoots(config, seed_kubeconfig), name="shoots")
        extensions = asyncio.create_task(
            run_controller_installations(
                garden_kubeconfig=config.kubeconfig, seed_kubeconfig=seed_kubeconfig, seed_name=config.seed_name
            ),
            name="controllerinstallations",
        )
        log.info("Gardenlet running", extra={"seed": config.seed_name})
        await stop.wait()
        shoots.cancel()
        extensions.cancel()
        await asyncio.gather(shoots, extensions, return_exceptions=True)
        await asyncio.gather(*tasks)
    finally:
        if runner is not None:
            await runner.cleanup()
    log.info("Gardenlet stopped", extra={"seed": config.seed_name})
    return 0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="gardenlet", description="The seed agent: registers its seed and heartbeats")
    p.add_argument("--config", required=True, type=Path, help="GardenletConfiguration YAML file")
    p.add_argument(
        "--seed-kubeconfig",
        type=Path,
        help="kubeconfig of the seed cluster (required here or as seedClientConnection.kubeconfig in the config)",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--log-format", choices=FORMATS, default="text", help="text (logfmt) or json lines")
    args = p.parse_args(argv)
    setup_logging(log_format=args.log_format, verbose=args.verbose)
    # urllib3 warns on each retry of each request; an unreachable seed is reported once by the heartbeat instead.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    try:
        config = load_config(args.config)
        seed_kubeconfig = resolve_seed_kubeconfig(config, args.seed_kubeconfig, config_path=args.config)
        seed_client(seed_kubeconfig)  # refuse an unusable file now, not after bootstrapping
        code = asyncio.run(run(config, seed_kubeconfig=seed_kubeconfig))
    except (ConfigError, bootstrap.BootstrapError, OSError) as exc:
        print(f"gardenlet: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
