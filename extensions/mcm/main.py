"""`machine-controller-manager --kubeconfig SEED`: run the MachineDeployment, MachineSet and Machine controllers."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from extensions.mcm.deployment import MachineDeploymentController
from extensions.mcm.local.driver import PROVIDER, LocalDriver
from extensions.mcm.machine import MachineController
from extensions.mcm.machineset import MachineSetController
from extensions.mcm.objects import MACHINE_DEPLOYMENTS, MACHINE_SETS, MACHINES
from extensions.mcm.shoot import ShootClients
from gardener.runtime import logs
from gardener.runtime.controller import Controller, Manager, owner_keys
from gardener.runtime.kube import Kube


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gardener" / "machine-controller-manager"


def build(kube: Kube, args: argparse.Namespace) -> tuple[Manager, ShootClients]:
    manager = Manager(kube, namespace=args.namespace or None)
    shoots = ShootClients(kube)
    drivers = {PROVIDER: LocalDriver(Path(args.state_dir), heartbeat=args.node_heartbeat)}
    deployments = manager.add(Controller("machinedeployments", MachineDeploymentController(kube), workers=2))
    sets = manager.add(Controller("machinesets", MachineSetController(kube), workers=2))
    machines = manager.add(
        Controller(
            "machines",
            MachineController(
                kube,
                drivers,
                shoots,
                creation_timeout=args.machine_creation_timeout,
                health_timeout=args.machine_health_timeout,
            ),
            workers=args.machine_workers,
        )
    )
    manager.watch(deployments, MACHINE_DEPLOYMENTS)
    manager.watch(deployments, MACHINE_SETS, owner_keys("MachineDeployment"))
    manager.watch(sets, MACHINE_SETS)
    manager.watch(sets, MACHINES, owner_keys("MachineSet"))
    manager.watch(machines, MACHINES)
    return manager, shoots


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="machine-controller-manager")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig of the seed")
    p.add_argument("--namespace", default="", help="watch only this namespace (default: all)")
    p.add_argument("--state-dir", default=str(default_state_dir()), help="where the local driver keeps pid files")
    p.add_argument("--node-heartbeat", type=float, default=10.0, help="seconds between a local node's heartbeats")
    p.add_argument("--machine-creation-timeout", type=float, default=1200.0, help="seconds a machine may take to join")
    p.add_argument("--machine-health-timeout", type=float, default=600.0, help="seconds a node may be not ready")
    p.add_argument("--machine-workers", type=int, default=5)
    p.add_argument("--metrics-port", type=int, default=0, help="serve /metrics and /healthz on 127.0.0.1:PORT")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logs.setup_logging(log_format=args.log_format, verbose=args.verbose)
    kube = Kube.from_kubeconfig(args.kubeconfig)
    manager, shoots = build(kube, args)
    manager.run(metrics_port=args.metrics_port)
    shoots.close()
    kube.close()


if __name__ == "__main__":
    main()
