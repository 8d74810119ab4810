"""`gardenctl register seed NAME`: everything a new gardenlet needs to join the garden.

Creates a bootstrap token (a Secret `kube-system/bootstrap-token-<id>`, valid for 24 hours and good only for
asking for a client certificate), writes a bootstrap kubeconfig with it and a gardenlet configuration whose
`seedConfig` describes the seed, and prints the command that starts the gardenlet, seed kubeconfig included: a
gardenlet without one refuses to start, and one that cannot reach its seed never reports it ready. Needs a garden
admin.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gardener.apis.core.conditions import SEED_LEASE_NAMESPACE, format_time
from gardener.apis.kubeconfig import build_kubeconfig, read_current, write_kubeconfig
from gardener.cli.garden import GardenError, unreachable
from gardener.runtime.errors import ApiError, Unreachable
from gardener.runtime.kube import Kube

TOKEN_VALIDITY = dt.timedelta(hours=24)
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits
#: the local example seed's networks; a real seed passes its own in the configuration file
DEFAULT_NETWORKS = {
    "nodes": "10.10.0.0/16",
    "pods": "10.1.0.0/16",
    "services": "10.2.0.0/16",
    "shootDefaults": {"pods": "100.96.0.0/11", "services": "100.64.0.0/13"},
}


@dataclass(frozen=True)
class SeedRegistration:
    name: str
    provider: str
    region: str
    zones: tuple[str, ...] = ()
    #: the kubeconfig of the seed cluster, when known; the printed command names a placeholder otherwise
    seed_kubeconfig: Path | None = None


#: stands in the printed command for the seed kubeconfig the operator has not named
SEED_KUBECONFIG_PLACEHOLDER = "SEED_KUBECONFIG"


@dataclass(frozen=True)
class Registered:
    config: Path
    bootstrap_kubeconfig: Path
    token_id: str
    seed_kubeconfig: Path | None = None

    @property
    def command(self) -> str:
        seed = self.seed_kubeconfig or SEED_KUBECONFIG_PLACEHOLDER
        return f"gardenlet --config {self.config} --seed-kubeconfig {seed}"


def new_token() -> tuple[str, str]:
    """A random bootstrap token: (6-character id, 16-character secret)."""
    return (
        "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(6)),
        "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(16)),
    )


def token_secret(seed: str, token_id: str, token_secret_value: str, *, now: dt.datetime) -> dict[str, Any]:
    data = {
        "token-id": token_id,
        "token-secret": token_secret_value,
        "expiration": format_time(now + TOKEN_VALIDITY),
        "usage-bootstrap-authentication": "true",
        "description": f"Bootstrap token for the gardenlet of seed {seed}",
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"bootstrap-token-{token_id}",
            "namespace": "kube-system",
            "labels": {"gardener.cloud/seed": seed},
        },
        "type": "bootstrap.kubernetes.io/token",
        "data": {k: base64.b64encode(v.encode()).decode("ascii") for k, v in data.items()},
    }


def seed_config(seed: SeedRegistration) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": seed.provider, "region": seed.region}
    if seed.zones:
        provider["zones"] = list(seed.zones)
    return {
        "metadata": {"name": seed.name, "labels": {"seed.gardener.cloud/region": seed.region}},
        "spec": {
            "provider": provider,
            "networks": DEFAULT_NETWORKS,
            "ingress": {"domain": f"ingress.{seed.name}.seed.local.gardener.cloud"},
            "dns": {"provider": {"type": seed.provider}},
            "settings": {"scheduling": {"visible": True}},
        },
    }


def gardenlet_config(seed: SeedRegistration, *, output_dir: Path) -> dict[str, Any]:
    config: dict[str, Any] = {
        "apiVersion": "gardenlet.config.gardener.cloud/v1alpha1",
        "kind": "GardenletConfiguration",
        "gardenClientConnection": {
            "kubeconfig": str(output_dir / "gardenlet.kubeconfig"),
            "bootstrapKubeconfig": str(output_dir / "bootstrap.kubeconfig"),
        },
    }
    if seed.seed_kubeconfig is not None:
        config["seedClientConnection"] = {"kubeconfig": str(seed.seed_kubeconfig.resolve())}
    return config | {
        "seedConfig": seed_config(seed),
        "dataDir": str(output_dir),
        "controllers": {"seed": {"leaseResyncSeconds": 2}},
        "resources": {"capacity": {"shoots": 250}},
        "server": {"metrics": {"bindAddress": "127.0.0.1", "port": 0}},
    }


def register_seed(seed: SeedRegistration, *, kubeconfig: Path, output_dir: Path) -> Registered:
    if seed.seed_kubeconfig is not None and not seed.seed_kubeconfig.is_file():
        raise GardenError(f"seed kubeconfig {seed.seed_kubeconfig} does not exist")
    try:
        cluster, _ = read_current(kubeconfig)
    except ValueError as exc:
        raise GardenError(str(exc)) from None
    kube = Kube.from_kubeconfig(kubeconfig, field_manager="gardenctl")
    token_id, token_value = new_token()
    try:
        kube.apply(
            "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SEED_LEASE_NAMESPACE}}
        )
        kube.raw(
            "POST",
            "/api/v1/namespaces/kube-system/secrets",
            token_secret(seed.name, token_id, token_value, now=dt.datetime.now(dt.UTC)),
        )
    except Unreachable as exc:
        raise unreachable(str(cluster["server"]), exc) from None
    except ApiError as exc:
        raise GardenError(f"cannot create the bootstrap token: {exc.status} {exc.reason}") from None
    output_dir = output_dir.resolve()
    bootstrap = output_dir / "bootstrap.kubeconfig"
    write_kubeconfig(
        bootstrap,
        build_kubeconfig(
            server=str(cluster["server"]),
            ca_pem=base64.b64decode(cluster.get("certificate-authority-data") or ""),
            user=f"system:bootstrap:{token_id}",
            token=f"{token_id}.{token_value}",
            context="garden",
        ),
    )
    config = output_dir / "gardenlet.yaml"
    config.write_text(yaml.safe_dump(gardenlet_config(seed, output_dir=output_dir), sort_keys=False))
    seed_kubeconfig = seed.seed_kubeconfig.resolve() if seed.seed_kubeconfig is not None else None
    return Registered(config=config, bootstrap_kubeconfig=bootstrap, token_id=token_id, seed_kubeconfig=seed_kubeconfig)
