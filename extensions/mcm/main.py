"""`machine-controller-manager --kubeconfig SEED`: run the MachineDeployment, MachineSet and Machine controllers."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from extensions.mcm.deployment import MachineDeploymentController
from extensions.mcm.drain import DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_EVICT_RETRIES
from extensions.mcm.driver import DriverOptions, build_drivers, load_driver_modules
from extensions.mcm.machine import MachineController
from extensions.mcm.machineset import MachineSetController
from extensions.mcm.objects import MACHINE_CLASSES, MACHINE_DEPLOYMENTS, MACHINE_SETS, MACHINES
from extensions.mcm.shoot import ShootClients
from gardener.runtime import logs
from gardener.runtime.controller import Controller, Key, Manager, Mapper, key_of, owner_keys
from gardener.runtime.kube import Kube, Obj


def key_of_obj(obj: Obj) -> Iterable[Key]:
    return (key_of(obj),)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gardener" / "machine-controller-manager"


def served_by(kube: Kube, providers: Collection[str]) -> Callable[[Mapper], Mapper]:
    """A mapper filter: objects whose MachineClass is of a provider this MCM has no driver for are left alone,
    for the MCM that serves that provider (several may run on one seed, one per provider extension). An object
    whose class cannot be found yet is taken, so that the Machine controller reports the missing class."""

    def class_of(obj: Obj) -> str:
        spec = obj.get("spec") or {}
        if obj.get("kind") != "Machine":
            spec = (spec.get("template") or {}).get("spec") or {}
        return str((spec.get("class") or {}).get("name") or "")

    def wrap(mapper: Mapper) -> Mapper:
        def mapped(obj: Obj) -> Iterable[Key]:
            name, ns = class_of(obj), str(obj["metadata"].get("namespace") or "")
            machine_class = kube.get(MACHINE_CLASSES.path(ns, name)) if name and ns else None
            if machine_class is not None and str(machine_class.get("provider") or "") not in providers:
                return ()
            return mapper(obj)

        return mapped

    return wrap


def build(kube: Kube, args: argparse.Namespace) -> tuple[Manager, ShootClients]:
    manager = Manager(kube, namespace=args.namespace or None)
    shoots = ShootClients(kube)
    load_driver_modules(args.driver_module)
    options = DriverOptions(
        state_dir=Path(args.state_dir), node_heartbeat=args.node_heartbeat, machine_network=args.machine_network
    )
    drivers = build_drivers(args.provider, options)
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
                drain_timeout=args.machine_drain_timeout,
                max_evict_retries=args.machine_max_evict_retries,
            ),
            workers=args.machine_workers,
        )
    )
    served = served_by(kube, frozenset(drivers))
    manager.watch(deployments, MACHINE_DEPLOYMENTS, served(key_of_obj))
    manager.watch(deployments, MACHINE_SETS, served(owner_keys("MachineDeployment")))
    manager.watch(sets, MACHINE_SETS, served(key_of_obj))
    manager.watch(sets, MACHINES, served(owner_keys("MachineSet")))
    manager.watch(machines, MACHINES, served(key_of_obj))
    return manager, shoots


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="machine-controller-manager")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig of the seed")
    p.add_argument("--namespace", default="", help="watch only this namespace (default: all)")
    p.add_argument(
        "--driver-module",
        action="append",
        default=[],
        help="module that registers machine drivers when imported (repeatable), e.g. extensions.mcm.local.driver",
    )
    p.add_argument(
        "--provider",
        action="append",
        default=[],
        help="serve MachineClasses of this provider (repeatable; default: every registered driver); "
        "machines of other providers are left to the MCM that serves them",
    )
    p.add_argument("--state-dir", default=str(default_state_dir()), help="where drivers keep their state")
    p.add_argument("--node-heartbeat", type=float, default=10.0, help="seconds between a local node's heartbeats")
    p.add_argument(
        "--machine-network",
        default=DriverOptions.machine_network,
        help="loopback range of local machines: each gets a /24 (node IP .1, pods .128/25)",
    )
    p.add_argument("--machine-creation-timeout", type=float, default=1200.0, help="seconds a machine may take to join")
    p.add_argument("--machine-health-timeout", type=float, default=600.0, help="seconds a node may be not ready")
    p.add_argument(
        "--machine-drain-timeout",
        type=float,
        default=DEFAULT_DRAIN_TIMEOUT,
        help="seconds a node may take to drain before its machine is deleted anyway (a Machine's drainTimeout wins)",
    )
    p.add_argument(
        "--machine-max-evict-retries",
        type=int,
        default=DEFAULT_MAX_EVICT_RETRIES,
        help="evictions tried on a pod before it is deleted without one (a Machine's maxEvictRetries wins)",
    )
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
