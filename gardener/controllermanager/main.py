"""`gardener-controller-manager --kubeconfig FILE`: run the garden controllers until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys

import kopf
from prometheus_client import start_http_server

from gardener.controllermanager import controllerregistration
from gardener.controllermanager.handlers import build_registry
from gardener.controllermanager.protection import ProtectionConfig
from gardener.controllermanager.seedlifecycle import LifecycleConfig
from gardener.runtime.kube import Kube


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="gardener-controller-manager")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig of the garden")
    p.add_argument("--metrics-port", type=int, default=0, help="serve /metrics on 127.0.0.1:PORT (0: off)")
    p.add_argument("--health-port", type=int, default=0, help="serve kopf's /healthz on 127.0.0.1:PORT (0: off)")
    defaults = LifecycleConfig()
    p.add_argument(
        "--seed-monitor-period",
        type=float,
        default=defaults.monitor_period,
        help="seconds without a seed heartbeat before GardenletReady becomes Unknown",
    )
    p.add_argument(
        "--shoot-monitor-period",
        type=float,
        default=defaults.shoot_monitor_period,
        help="seconds of GardenletReady Unknown before the seed's shoots' conditions become Unknown",
    )
    p.add_argument("--seed-sync-period", type=float, default=defaults.sync_period, help="how often seeds are checked")
    p.add_argument(
        "--bootstrap-token-grace",
        type=float,
        default=60.0,
        help="seconds after a bootstrap CSR is approved before its token is deleted, if the gardenlet has not done so",
    )
    p.add_argument(
        "--protection-sync-period",
        type=float,
        default=ProtectionConfig().sync_period,
        help="how often the finalizers protecting CloudProfiles, Seeds, SecretBindings, Quotas and Secrets in use "
        "are checked",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.environ["KUBECONFIG"] = args.kubeconfig
    if args.metrics_port:
        start_http_server(args.metrics_port, addr="127.0.0.1")
    lifecycle = LifecycleConfig(
        monitor_period=args.seed_monitor_period,
        shoot_monitor_period=args.shoot_monitor_period,
        sync_period=args.seed_sync_period,
    )
    registry = build_registry(
        kubeconfig=args.kubeconfig,
        lifecycle=lifecycle,
        token_grace=args.bootstrap_token_grace,
        protection_config=ProtectionConfig(sync_period=args.protection_sync_period),
    )
    controllerregistration.register(
        registry, controllerregistration.ControllerRegistrationSeed(Kube.from_kubeconfig(args.kubeconfig))
    )
    liveness = f"http://127.0.0.1:{args.health_port}/healthz" if args.health_port else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(kopf.operator(registry=registry, standalone=True, clusterwide=True, liveness_endpoint=liveness))
    sys.exit(0)


if __name__ == "__main__":
    main()
