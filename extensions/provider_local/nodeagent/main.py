"""`provider-local-node-agent`: parse flags, run the node agent until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path

from extensions.provider_local.nodeagent.agent import Agent, AgentConfig, DataDirBusy
from extensions.provider_local.nodeagent.bootstrap import BootstrapError, ensure_client_certificate
from extensions.provider_local.nodeagent.container import Backoff
from extensions.provider_local.nodeagent.kubeletserving import KubeletServing
from extensions.provider_local.nodeagent.nodeobject import NodeIdentity
from gardener.runtime import logs

log = logging.getLogger("provider_local.nodeagent")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="provider-local-node-agent", description="A kubelet that runs the pods bound to its node as host processes"
    )
    p.add_argument("--kubeconfig", required=True, type=Path, help="kubeconfig of the seed")
    p.add_argument("--data-dir", required=True, type=Path, help="pods, volumes, claims, logs and state live here")
    p.add_argument("--node-name", default=socket.gethostname().split(".")[0].lower(), help="the seed's Node name")
    p.add_argument("--image-config", type=Path, help="YAML with extra image rules (see images.py)")
    p.add_argument("--metrics-address", default="127.0.0.1", help="address of /metrics and /healthz")
    p.add_argument("--metrics-port", type=int, default=10248, help="0 picks a free port (see <data-dir>/metrics.port)")
    p.add_argument("--pod-network", default="127.1.0.0/16", help="loopback range of pod addresses")
    p.add_argument(
        "--service-network",
        default="127.2.0.0/16",
        help="loopback range where this node serves Services whose cluster IP is not on loopback",
    )
    p.add_argument("--load-balancer-network", default="127.3.0.0/16", help="loopback range of load balancer IPs")
    p.add_argument("--cleanup-on-exit", action="store_true", help="stop every container when the agent stops")
    p.add_argument("--restart-backoff", type=float, default=1.0, help="first restart delay of a crashed container")
    p.add_argument("--restart-backoff-max", type=float, default=60.0, help="longest restart delay")
    p.add_argument("--max-grace-period", type=float, default=30.0, help="cap on terminationGracePeriodSeconds")
    p.add_argument(
        "--load-balancers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="give LoadBalancer Services addresses from --load-balancer-network (one node per cluster does it)",
    )
    p.add_argument("--node-ip", default="127.0.0.1", help="the node's InternalIP")
    p.add_argument("--provider-id", default="", help="spec.providerID of the Node")
    p.add_argument("--node-labels", default="", help="k=v,... labels to register the Node with")
    p.add_argument("--register-with-taints", default="", help="key=value:Effect,... taints to register with")
    p.add_argument("--capacity", default="", help="cpu=2,memory=4Gi,pods=110 (default: the host's)")
    p.add_argument("--kubelet-version", default="v1.32.0", help="status.nodeInfo.kubeletVersion")
    p.add_argument("--node-status-update-frequency", type=float, default=10.0, metavar="SECONDS")
    p.add_argument("--pvc-dir", type=Path, help="where claims' data lives (default <data-dir>/pvc)")
    p.add_argument(
        "--bootstrap-kubeconfig",
        type=Path,
        help="credentials to request this node's client certificate with when --kubeconfig has none (written there)",
    )
    p.add_argument("--bootstrap-timeout", type=float, default=300.0, metavar="SECONDS")
    p.add_argument("--port", type=int, default=10250, help="the kubelet API's port on --node-ip (0 picks a free one)")
    p.add_argument(
        "--rotate-server-certificates",
        action="store_true",
        help="serve a certificate from a kubelet-serving CSR (else a self-signed one)",
    )
    p.add_argument("--client-ca-file", type=Path, help="CA of clients of the kubelet API (default: the kubeconfig's)")
    p.add_argument("--no-kubelet-api", dest="kubelet_api", action="store_false", help="serve no kubelet API")
    p.add_argument("--pid-file", type=Path, help="exit when this file is gone or names another process")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def key_values(value: str, *, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (v.strip() for v in value.split(","))):
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag}: {item!r} is not key=value")
        out[key] = val
    return out


def taints(value: str) -> list[dict[str, str]]:
    """Upstream's --register-with-taints: key=value:Effect or key:Effect."""
    out = []
    for item in filter(None, (v.strip() for v in value.split(","))):
        head, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError(f"--register-with-taints: {item!r} is not key[=value]:Effect")
        key, _, val = head.partition("=")
        out.append({"key": key, "effect": effect, **({"value": val} if val else {})})
    return out


async def run(args: argparse.Namespace) -> int:
    identity = NodeIdentity(
        name=args.node_name,
        provider_id=args.provider_id,
        labels=key_values(args.node_labels, flag="--node-labels"),
        taints=taints(args.register_with_taints),
        capacity=key_values(args.capacity, flag="--capacity"),
        kubelet_version=args.kubelet_version if args.kubelet_version.startswith("v") else f"v{args.kubelet_version}",
    )
    config = AgentConfig(
        identity=identity,
        load_balancers=args.load_balancers,
        host_ip=args.node_ip,
        heartbeat_seconds=args.node_status_update_frequency,
        pvc_dir=args.pvc_dir.resolve() if args.pvc_dir else None,
        pid_file=args.pid_file,
        serving=KubeletServing(
            host=args.node_ip,
            port=args.port,
            rotate_server_certificates=args.rotate_server_certificates,
            client_ca_file=args.client_ca_file,
        )
        if args.kubelet_api
        else None,
        kubeconfig=args.kubeconfig,
        data_dir=args.data_dir.resolve(),
        node_name=args.node_name,
        image_config=args.image_config,
        metrics_host=args.metrics_address,
        metrics_port=args.metrics_port,
        cleanup_on_exit=args.cleanup_on_exit,
        backoff=Backoff(base=args.restart_backoff, limit=args.restart_backoff_max),
        max_grace=args.max_grace_period,
        pod_network=args.pod_network,
        service_network=args.service_network,
        load_balancer_network=args.load_balancer_network,
    )
    if args.bootstrap_kubeconfig is not None:
        # upstream's TLS bootstrap: the node's own client certificate through a CSR the cluster approves
        await ensure_client_certificate(
            bootstrap_kubeconfig=args.bootstrap_kubeconfig,
            kubeconfig=args.kubeconfig,
            node_name=args.node_name,
            pki_dir=config.data_dir / "pki",
            timeout=args.bootstrap_timeout,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Agent(config).run(stop)
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.setup(json_format=args.log_format == "json", verbose=args.verbose)
    try:
        code = asyncio.run(run(args))
    except (DataDirBusy, BootstrapError, OSError, ValueError) as exc:
        print(f"provider-local-node-agent: {exc}", file=sys.stderr)
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
