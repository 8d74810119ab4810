"""The local seed: its own API server, the provider-local node agent, extension controllers, the
machine controller manager, and a gardenlet registered through a bootstrap token like any seed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from gardener.apis.extensions.crds import extensions_crds
from gardener.cli.register import SeedRegistration, register_seed
from gardener.local import processes
from gardener.local.networks import Networks
from gardener.local.processes import Managed

SEED = SeedRegistration(name="local", provider="local", region="local", zones=("local-a", "local-b"))
#: in start order, after the garden's components
SEED_COMPONENTS = ("seed-apiserver", "node-agent", "provider-local", "machine-controller-manager", "gardenlet")


def _py(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", *args)


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
                "seed-apiserver", _py("gardener.apiserver.main", "--data-dir", str(api_dir), "--secure-port", str(port))
            ),
            run_dir=run_dir,
            log_dir=log_dir,
        )
        wait(seed_kubeconfig, component="seed-apiserver", timeout=timeout)
    install(seed_kubeconfig, crds=extensions_crds(), timeout=timeout)
    seed_components = {
        "node-agent": _py(
            "extensions.provider_local.nodeagent.main",
            "--kubeconfig",
            str(seed_kubeconfig),
            "--data-dir",
            str(seed_dir / "node"),
            "--metrics-port",
            "0",
            "--pod-network",
            networks.pods,
            "--service-network",
            networks.services,
            "--load-balancer-network",
            networks.load_balancers,
            "--cleanup-on-exit",
        ),
        "provider-local": _py("extensions.provider_local.controllers.main", "--kubeconfig", str(seed_kubeconfig)),
        "machine-controller-manager": _py(
            "extensions.mcm.main", "--kubeconfig", str(seed_kubeconfig), "--state-dir", str(seed_dir / "machines")
        ),
    }
    agent_ready = seed_dir / "node" / "metrics.port"  # written once the node agent serves
    for name, args in seed_components.items():
        if processes.pid_of(name, run_dir=run_dir) is None:
            if name == "node-agent":
                agent_ready.unlink(missing_ok=True)
            processes.start(Managed(name, args), run_dir=run_dir, log_dir=log_dir)
    # A node agent that cannot start (its data dir is in use, a bad flag) fails now, not as a shoot that never comes.
    wait(agent_ready, component="node-agent", timeout=timeout)
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
