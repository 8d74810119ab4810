"""The local seed: its own API server, kube-controller-manager, kube-scheduler and a kubelet (provider-local's node
agent: pods as host processes), the machine controller manager, and a gardenlet registered through a bootstrap
token like any seed. Shoot control planes are Deployments and StatefulSets whose Pods the seed's controller
manager creates, its scheduler binds and its kubelet runs, exactly as on any seed.

provider-local itself is not started here: it is registered in the garden through a ControllerRegistration whose
deployment runs it, so the controller-manager asks for it on the seed and the gardenlet installs it (a Deployment
the seed's kubelet runs as a host process), the way any extension gets onto any seed."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gardener.apis.extensions.crds import extensions_crds
from gardener.cli.register import SeedRegistration, register_seed
from gardener.local import processes
from gardener.local.networks import Networks
from gardener.local.processes import Managed
from gardenlet.controllerinstallation import SEED_KUBECONFIG

SEED = SeedRegistration(name="local", provider="local", region="local", zones=("local-a", "local-b"))
PROVIDER_LOCAL = "provider-local"
#: what provider-local reconciles: the kinds and types its ControllerRegistration lists (Network type calico too,
#: which on this machine means the same as local; see extensions.provider_local.controllers.networking)
PROVIDER_LOCAL_RESOURCES = (
    ("Infrastructure", "local"),
    ("ControlPlane", "local"),
    ("Worker", "local"),
    ("OperatingSystemConfig", "local"),
    ("Network", "local"),
    ("Network", "calico"),
    ("DNSRecord", "local"),
    ("BackupBucket", "local"),
)
NETWORK_TYPES = tuple(t for k, t in PROVIDER_LOCAL_RESOURCES if k == "Network")


def provider_local_registration() -> dict[str, Any]:
    """provider-local's ControllerRegistration: what it reconciles, so that gardenlets wait for it, and how to run
    it (gardenlet.controllerinstallation's deployment format). Policy Always: a local seed hosts local shoots."""
    return {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "ControllerRegistration",
        "metadata": {"name": PROVIDER_LOCAL},
        "spec": {
            "resources": [{"kind": kind, "type": type_} for kind, type_ in PROVIDER_LOCAL_RESOURCES],
            "deployment": {
                "policy": "Always",
                "providerConfig": {
                    "image": "python:3",
                    "containers": [
                        {
                            "name": PROVIDER_LOCAL,
                            "command": ["python", "-m", "extensions.provider_local.controllers.main"],
                            "args": [
                                f"--kubeconfig={SEED_KUBECONFIG}",
                                *(f"--network-type={t}" for t in NETWORK_TYPES if t != "local"),
                            ],
                        }
                    ],
                },
            },
        },
    }


#: in start order, after the garden's components
SEED_COMPONENTS = (
    "seed-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "machine-controller-manager",
    "gardenlet",
)


def _py(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", *args)


def extra_kubelets(run_dir: Path) -> list[str]:
    """The names of the seed's kubelets beyond the first (`--seed-nodes`), as their pid files show them."""
    return sorted(p.stem for p in run_dir.glob("kubelet-*.pid"))


def _kubelets(
    seed_kubeconfig: Path, *, seed_dir: Path, networks: Networks, nodes: int
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (data dir under the seed's, argv) of each seed kubelet. One node takes the whole pod range; several
    split it into /20s. The first hands out load balancer addresses; every one proxies them."""
    host = socket.gethostname().split(".")[0].lower()
    pod_ranges = (
        [networks.pods] if nodes == 1 else [str(n) for n in ipaddress.ip_network(networks.pods).subnets(new_prefix=20)]
    )
    out = {}
    for index in range(nodes):
        name, node_dir, node_name = (
            ("kubelet", "node", host)
            if index == 0
            else (
                f"kubelet-{index + 1}",
                f"node-{index + 1}",
                f"{host}-{index + 1}",
            )
        )
        args = _py(
            "extensions.provider_local.nodeagent.main",
            *("--kubeconfig", str(seed_kubeconfig), "--data-dir", str(seed_dir / node_dir)),
            *("--node-name", node_name),
            # several gardens share 127.0.0.1: the seed's kubelet API takes a free port and shows it on its Node
            *("--port", "0", "--metrics-port", "0"),
            *("--pod-network", pod_ranges[index], "--service-network", networks.services),
            *("--load-balancer-network", networks.load_balancer_addresses),
            *(() if index == 0 else ("--no-load-balancers",)),
            # claims' data is shared, as on a network disk: a pod keeps its data on whichever node it lands
            *("--pvc-dir", str(seed_dir / "node" / "pvc")),
            "--cleanup-on-exit",
        )
        out[name] = (node_dir, args)
    return out


def up_seed(
    *,
    data_dir: Path,
    networks: Networks,
    garden_kubeconfig: Path,
    run_dir: Path,
    log_dir: Path,
    wait_for_file: Callable[..., None],
    install_crds: Callable[..., None],
    previous_port: Callable[[Path], int],
    timeout: float,
    nodes: int = 1,
) -> None:
    wait, install = wait_for_file, install_crds
    seed_dir = data_dir / "seed"
    api_dir = seed_dir / "apiserver"
    seed_kubeconfig = api_dir / "admin.kubeconfig"
    if processes.pid_of("seed-apiserver", run_dir=run_dir) is None:
        port = previous_port(seed_kubeconfig)  # the seed's components and the gardenlet know it
        seed_kubeconfig.unlink(missing_ok=True)
        processes.start(
            Managed(
                "seed-apiserver",
                # the node agent proxies loopback cluster IPs: the API server hands them out from the garden's range
                _py(
                    "gardener.apiserver.main",
                    *("--data-dir", str(api_dir), "--secure-port", str(port)),
                    *("--service-cluster-ip-range", networks.services),
                ),
            ),
            run_dir=run_dir,
            log_dir=log_dir,
        )
        wait(seed_kubeconfig, component="seed-apiserver", timeout=timeout)
    install(seed_kubeconfig, crds=extensions_crds(), timeout=timeout)
    kubeconfig = ("--kubeconfig", str(seed_kubeconfig))
    seed_components = {
        "kube-controller-manager": _py(
            "gardener.kube_controller_manager.main",
            *kubeconfig,
            *("--secure-port=0", "--service-cluster-ip-range", networks.services),
        ),
        "kube-scheduler": _py("gardener.kube_scheduler.main", *kubeconfig, "--secure-port=0"),
        "machine-controller-manager": _py(
            "extensions.mcm.main",
            "--kubeconfig",
            str(seed_kubeconfig),
            "--state-dir",
            str(seed_dir / "machines"),
            "--driver-module",
            "extensions.mcm.local.driver",
            "--provider",
            "local",
            "--machine-network",
            networks.machines,
        ),
    }
    kubelets = _kubelets(seed_kubeconfig, seed_dir=seed_dir, networks=networks, nodes=nodes)
    ready = {name: seed_dir / node_dir / "metrics.port" for name, (node_dir, _) in kubelets.items()}
    seed_components |= {name: args for name, (_, args) in kubelets.items()}
    for name, args in seed_components.items():
        if processes.pid_of(name, run_dir=run_dir) is None:
            if name in ready:
                ready[name].unlink(missing_ok=True)  # written once the kubelet serves
            processes.start(Managed(name, args), run_dir=run_dir, log_dir=log_dir)
    # A kubelet that cannot start (its data dir is in use, a bad flag) fails now, not as a shoot that never comes.
    for name, path in ready.items():
        wait(path, component=name, timeout=timeout)
    gardenlet_dir = seed_dir / "gardenlet"
    config = gardenlet_dir / "gardenlet.yaml"
    if not (gardenlet_dir / "gardenlet.kubeconfig").exists() or not config.exists():
        gardenlet_dir.mkdir(parents=True, exist_ok=True)
        config = register_seed(SEED, kubeconfig=garden_kubeconfig, output_dir=gardenlet_dir).config
    if processes.pid_of("gardenlet", run_dir=run_dir) is None:
        processes.start(
            Managed(
                "gardenlet", _py("gardenlet.main", "--config", str(config), "--seed-kubeconfig", str(seed_kubeconfig))
            ),
            run_dir=run_dir,
            log_dir=log_dir,
        )
