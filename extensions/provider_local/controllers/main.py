"""`gardener-extension-provider-local --kubeconfig SEED`: reconcile the seed's extension resources of type local."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from extensions.library.genericworker import GenericWorkerActuator
from extensions.library.reconciler import (
    BACKUPBUCKETS,
    CONTROLPLANES,
    DNSRECORDS,
    EXTENSIONS,
    INFRASTRUCTURES,
    NETWORKS,
    OPERATINGSYSTEMCONFIGS,
    WORKERS,
    Actuator,
    register_all,
)
from extensions.provider_local.controllers import TYPE
from extensions.provider_local.controllers.infrastructure import InfrastructureActuator, TerraformRunner
from extensions.provider_local.controllers.networking import DNSRecordActuator, NetworkActuator
from extensions.provider_local.controllers.operatingsystem import OperatingSystemConfigActuator
from extensions.provider_local.controllers.simple import NoOpActuator
from extensions.provider_local.controllers.worker import LocalWorkerDelegate
from extensions.terraformer.pod import DEFAULT_IMAGE, PodTerraformer
from extensions.terraformer.terraformer import Terraformer
from gardener.assets import terraform_dir
from gardener.runtime import logs
from gardener.runtime.controller import Manager
from gardener.runtime.kube import Kube, Resource


def default_terraform_dir() -> Path:
    """`$GARDENER_TERRAFORM_DIR`, else the project's Terraform modules (source tree or installed data)."""
    env = os.environ.get("GARDENER_TERRAFORM_DIR")
    return Path(env) if env else terraform_dir()


def build(kube: Kube, args: argparse.Namespace) -> Manager:
    manager = Manager(kube, namespace=args.namespace or None)
    terraformer: TerraformRunner
    if args.terraformer_mode == "pod":
        terraformer = PodTerraformer(kube, image=args.terraformer_image, run_timeout=args.terraform_timeout)
    else:
        terraformer = Terraformer(kube, binary=args.terraform or None, timeout=args.terraform_timeout)
    actuators: dict[Resource, Actuator] = {
        INFRASTRUCTURES: InfrastructureActuator(terraformer, Path(args.terraform_dir) / "local"),
        CONTROLPLANES: NoOpActuator("ControlPlaneStatus"),
        WORKERS: GenericWorkerActuator(LocalWorkerDelegate()),
        NETWORKS: NetworkActuator(),
        OPERATINGSYSTEMCONFIGS: OperatingSystemConfigActuator(),
        DNSRECORDS: DNSRecordActuator(),
        EXTENSIONS: NoOpActuator(),
        BACKUPBUCKETS: NoOpActuator("BackupBucketStatus"),
    }
    register_all(manager, TYPE, actuators, workers=args.workers)
    # Networking types a shoot may name (calico ...): on this machine they all mean the same, see `networking`.
    for network_type in args.network_type:
        if network_type != TYPE:
            register_all(manager, network_type, {NETWORKS: NetworkActuator()}, workers=args.workers)
    return manager


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="gardener-extension-provider-local")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig of the seed")
    p.add_argument("--namespace", default="", help="watch only this namespace (default: all)")
    p.add_argument("--terraform-dir", default=str(default_terraform_dir()), help="directory of the Terraform modules")
    p.add_argument(
        "--terraformer-mode",
        choices=("pod", "process"),
        default="pod",
        help="run Terraform in Terraformer pods in the shoot namespaces (as Gardener), or in this process where the "
        "seed has no kubelet",
    )
    p.add_argument("--terraformer-image", default=DEFAULT_IMAGE, help="image of the Terraformer pods")
    p.add_argument("--terraform", default="", help="terraform binary in process mode (default: /usr/local/bin or PATH)")
    p.add_argument(
        "--terraform-timeout", type=float, default=600.0, help="seconds one terraform command (or pod) may take"
    )
    p.add_argument(
        "--network-type",
        action="append",
        default=[],
        help="also reconcile Networks of this type (repeatable), as its ControllerRegistration lists them",
    )
    p.add_argument("--workers", type=int, default=2, help="workers per controller")
    p.add_argument("--metrics-port", type=int, default=0, help="serve /metrics and /healthz on 127.0.0.1:PORT")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logs.setup_logging(log_format=args.log_format, verbose=args.verbose)
    kube = Kube.from_kubeconfig(args.kubeconfig)
    manager = build(kube, args)
    manager.run(metrics_port=args.metrics_port)
    kube.close()


if __name__ == "__main__":
    main()
