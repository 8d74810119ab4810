"""`gardener-scheduler --kubeconfig FILE [--strategy SameRegion|MinimalDistance] [--metrics-port N]`: bind Shoots
to Seeds until SIGTERM. Run it with a kubeconfig for the user `gardener.cloud:system:scheduler`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType

from gardener.runtime.kube import Kube
from gardener.runtime.logs import setup_logging
from gardener.scheduler.controller import Config, Scheduler
from gardener.scheduler.metrics import Metrics, serve
from gardener.scheduler.strategy import Strategy

#: connections besides the workers': one watch per informer plus status and event writes
SPARE_CONNECTIONS = 8


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="gardener-scheduler")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig of the garden")
    p.add_argument("--strategy", choices=[s.value for s in Strategy], default=Strategy.SAME_REGION.value)
    p.add_argument("--workers", type=int, default=32, help="Shoots bound concurrently")
    p.add_argument("--garden-namespace", default="garden", help="namespace of the region config ConfigMaps")
    p.add_argument("--metrics-port", type=int, default=0, help="serve /metrics and /healthz on PORT (0: off)")
    p.add_argument("--metrics-address", default="127.0.0.1", help="address to serve /metrics and /healthz on")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    setup_logging(log_format=args.log_format, verbose=args.verbose)
    kube = Kube.from_kubeconfig(args.kubeconfig, connections=args.workers + SPARE_CONNECTIONS)
    metrics = Metrics()
    scheduler = Scheduler(
        kube,
        config=Config(strategy=Strategy(args.strategy), workers=args.workers, garden_namespace=args.garden_namespace),
        metrics=metrics,
    )
    if args.metrics_port:
        serve(metrics.registry, address=args.metrics_address, port=args.metrics_port, healthy=scheduler.healthy)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler.start()
    logging.getLogger("gardener.scheduler").info("Scheduler started", extra={"strategy": args.strategy})
    stop.wait()
    scheduler.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
