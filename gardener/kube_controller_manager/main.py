"""`gardener-kube-controller-manager --kubeconfig FILE [--controllers *,-name] ...`: kube's controllers for one
cluster, until SIGTERM. Flags keep upstream's names, so the upstream image's command line works unchanged
(flags that do not concern these controllers are accepted and ignored, as listed in `IGNORED`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from gardener.kube_controller_manager.app import Config, run
from gardener.kube_controller_manager.context import Options
from gardener.kube_controller_manager.registry import KNOWN, UnknownController, select
from gardener.runtime.durations import parse_duration
from gardener.runtime.leaderelection import LeadershipLost
from gardener.runtime.logs import setup_logging
from gardener.runtime.serve import serve, serving_context

log = logging.getLogger("gardener.kube_controller_manager")

#: upstream flags a shoot's command line carries that mean nothing here (value-taking ones)
IGNORED = (
    "--authentication-kubeconfig",
    "--authorization-kubeconfig",
    "--cluster-cidr",
    "--cluster-name",
    "--cluster-signing-duration",
    "--cluster-signing-cert-file",
    "--cluster-signing-key-file",
    "--feature-gates",
    "--root-ca-file",
    "--service-account-private-key-file",
    "--service-cluster-ip-range",
    "--allocate-node-cidrs",
    "--client-ca-file",
    "--profiling",
    "--v",
)


def _seconds(text: str) -> float:
    return parse_duration(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gardener-kube-controller-manager")
    p.add_argument("--kubeconfig", required=True, type=Path)
    p.add_argument("--controllers", default="*", help="'*' all on by default, 'foo' enables, '-foo' disables")
    p.add_argument("--use-service-account-credentials", default="false", choices=["true", "false"])
    p.add_argument("--leader-elect", default="true", choices=["true", "false"])
    p.add_argument("--leader-elect-lease-duration", type=_seconds, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=_seconds, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=_seconds, default=2.0)
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--leader-elect-resource-name", default="kube-controller-manager")
    p.add_argument("--node-monitor-period", type=_seconds, default=5.0)
    p.add_argument("--node-monitor-grace-period", type=_seconds, default=50.0)
    p.add_argument("--node-startup-grace-period", type=_seconds, default=60.0)
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=12500)
    p.add_argument("--horizontal-pod-autoscaler-sync-period", type=_seconds, default=15.0)
    p.add_argument("--node-eviction-rate", type=float, default=0.1)
    p.add_argument("--secondary-node-eviction-rate", type=float, default=0.01)
    p.add_argument("--unhealthy-zone-threshold", type=float, default=0.55)
    p.add_argument("--large-cluster-size-threshold", type=int, default=50)
    p.add_argument("--resource-quota-sync-period", type=_seconds, default=300.0)
    p.add_argument("--max-endpoints-per-slice", type=int, default=100)
    p.add_argument("--concurrent-syncs", type=int, default=5, help="workers per controller")
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--secure-port", type=int, default=10257, help="HTTPS /healthz and /metrics (0: off)")
    p.add_argument("--tls-cert-file", type=Path)
    p.add_argument("--tls-private-key-file", type=Path)
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("-v", "--verbose", action="store_true")
    for flag in IGNORED:
        p.add_argument(flag, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    setup_logging(log_format=args.log_format, verbose=args.verbose)
    try:
        selection = select(KNOWN, args.controllers.split(","))
    except UnknownController as exc:
        print(f"gardener-kube-controller-manager: --controllers: {exc}", file=sys.stderr)
        sys.exit(2)
    config = Config(
        kubeconfig=args.kubeconfig,
        controllers=selection.controllers,
        options=Options(
            node_monitor_period=args.node_monitor_period,
            node_monitor_grace_period=args.node_monitor_grace_period,
            node_startup_grace_period=args.node_startup_grace_period,
            terminated_pod_gc_threshold=args.terminated_pod_gc_threshold,
            hpa_sync_period=args.horizontal_pod_autoscaler_sync_period,
            node_eviction_rate=args.node_eviction_rate,
            secondary_node_eviction_rate=args.secondary_node_eviction_rate,
            unhealthy_zone_threshold=args.unhealthy_zone_threshold,
            large_cluster_size_threshold=args.large_cluster_size_threshold,
            resource_quota_sync_period=args.resource_quota_sync_period,
            max_endpoints_per_slice=args.max_endpoints_per_slice,
            workers=args.concurrent_syncs,
        ),
        use_service_account_credentials=args.use_service_account_credentials == "true",
        leader_elect=args.leader_elect == "true",
        lease_namespace=args.leader_elect_resource_namespace,
        lease_name=args.leader_elect_resource_name,
        lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period,
    )
    if selection.unavailable:
        log.warning("Controllers not available here", extra={"controllers": ",".join(selection.unavailable)})
    sys.exit(asyncio.run(_main(config, args)))


async def _main(config: Config, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.secure_port:
        # healthy while the process runs, leader or standby: a probe must not kill a waiting standby
        serve(
            args.secure_port,
            lambda: True,
            host=args.bind_address,
            ssl_context=serving_context(
                component="kube-controller-manager", cert=args.tls_cert_file, key=args.tls_private_key_file
            ),
        )
    log.info("Controller manager starting", extra={"controllers": ",".join(d.name for d in config.controllers)})
    try:
        await run(config, stop)
    except LeadershipLost as exc:
        log.error("Leader election lost", extra={"error": str(exc)})
        return 1
    return 0


if __name__ == "__main__":
    main()
