"""`gardener-kube-scheduler [--config FILE] [--kubeconfig FILE] ...`: kube's scheduler for one cluster, until
SIGTERM. Flags keep upstream's names so an upstream command line works unchanged; `--authentication-kubeconfig`,
`--authorization-kubeconfig` and the other flags listed in `IGNORED` are accepted and ignored. /healthz and
/metrics are served over HTTPS on `--secure-port` (10259; 0 turns it off) with a self-signed certificate
unless `--tls-cert-file`/`--tls-private-key-file` are given.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from gardener.kube_scheduler.app import run
from gardener.kube_scheduler.config import Config, ConfigError, load_file
from gardener.runtime.durations import parse_duration
from gardener.runtime.leaderelection import LeadershipLost
from gardener.runtime.logs import setup_logging
from gardener.runtime.serve import serve, serving_context

__all__ = ["build_config", "main", "parser"]

log = logging.getLogger("gardener.kube_scheduler")

#: upstream flags that mean nothing here (value-taking ones)
IGNORED = (
    "--authentication-kubeconfig",
    "--authorization-kubeconfig",
    "--client-ca-file",
    "--feature-gates",
    "--kube-api-qps",
    "--kube-api-burst",
    "--kube-api-content-type",
    "--profiling",
    "--requestheader-client-ca-file",
    "--authentication-tolerate-lookup-failure",
)
_LEADER_FLAGS = {
    "leader_elect": "leader_elect",
    "leader_elect_lease_duration": "lease_duration",
    "leader_elect_renew_deadline": "renew_deadline",
    "leader_elect_retry_period": "retry_period",
    "leader_elect_resource_namespace": "namespace",
    "leader_elect_resource_name": "name",
}


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")
    return text.lower() == "true"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gardener-kube-scheduler", allow_abbrev=False)
    p.add_argument("--config", type=Path, help="a KubeSchedulerConfiguration file")
    p.add_argument("--kubeconfig", type=Path, help="used when the config file names no clientConnection.kubeconfig")
    # leader election flags default to None: only those given override the config file
    p.add_argument("--leader-elect", type=_bool, default=None)
    p.add_argument("--leader-elect-lease-duration", type=parse_duration, default=None)
    p.add_argument("--leader-elect-renew-deadline", type=parse_duration, default=None)
    p.add_argument("--leader-elect-retry-period", type=parse_duration, default=None)
    p.add_argument("--leader-elect-resource-namespace", default=None)
    p.add_argument("--leader-elect-resource-name", default=None)
    p.add_argument("--leader-elect-resource-lock", default=None, help=argparse.SUPPRESS)
    p.add_argument("--bind-address", default="0.0.0.0")
    p.add_argument("--secure-port", type=int, default=10259, help="HTTPS /healthz and /metrics (0: off)")
    p.add_argument("--tls-cert-file", type=Path)
    p.add_argument("--tls-private-key-file", type=Path)
    p.add_argument("--v", type=int, default=0, help="log verbosity; 4 and above log every pod")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    for flag in IGNORED:
        p.add_argument(flag, help=argparse.SUPPRESS)
    return p


def build_config(args: argparse.Namespace) -> tuple[Config, Path]:
    config = load_file(args.config) if args.config else Config()
    overrides = {field: getattr(args, flag) for flag, field in _LEADER_FLAGS.items() if getattr(args, flag) is not None}
    config = replace(config, leader_election=replace(config.leader_election, **overrides))
    kubeconfig = config.kubeconfig or args.kubeconfig
    if kubeconfig is None:
        raise ConfigError("no kubeconfig: give --kubeconfig or clientConnection.kubeconfig in --config")
    return config, kubeconfig


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    setup_logging(log_format=args.log_format, verbose=args.v >= 4)
    try:
        config, kubeconfig = build_config(args)
    except ConfigError as exc:
        print(f"gardener-kube-scheduler: {exc}", file=sys.stderr)
        sys.exit(1)
    if config.ignored:
        log.warning("Ignoring unsupported configuration fields", extra={"fields": ",".join(config.ignored)})
    sys.exit(asyncio.run(_main(config, kubeconfig, args)))


async def _main(config: Config, kubeconfig: Path, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.secure_port:
        context = serving_context(component="kube-scheduler", cert=args.tls_cert_file, key=args.tls_private_key_file)
        # healthy while the process runs, leader or standby: a probe must not kill a waiting standby
        serve(args.secure_port, lambda: True, host=args.bind_address, ssl_context=context)
    try:
        await run(config, kubeconfig, stop)
    except LeadershipLost as exc:
        log.error("Leader election lost", extra={"error": str(exc)})
        return 1
    return 0


if __name__ == "__main__":
    main()
