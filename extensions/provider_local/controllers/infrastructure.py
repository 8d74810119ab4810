"""Infrastructure of type local: Terraform with `terraform/local`, state in the seed, InfrastructureStatus out.

The node CIDR comes from `providerConfig.networks.nodes`, else from the shoot's `spec.networking.nodes` (in the
Cluster resource), else 10.250.0.0/16; zones likewise from `providerConfig.networks.zones` or the shoot's
worker pools. Credentials of `spec.secretRef` (key `token`) reach Terraform as `TF_VAR_credentials_token`.
Terraform runs in a Terraformer pod in the shoot's namespace (`PodTerraformer`, Gardener's way), or in this
process (`Terraformer`) where the seed has no kubelet to run pods.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from extensions.library.reconciler import BaseActuator, Context
from extensions.provider_local.controllers import PROVIDER_API_VERSION
from extensions.terraformer.terraformer import Config
from gardener.apis.extensions.v1alpha1 import InfrastructureSpec
from gardener.runtime.errors import TemporaryError
from gardener.runtime.kube import SECRETS, secret_data

log = logging.getLogger("provider_local.infrastructure")

DEFAULT_NODES_CIDR = "10.250.0.0/16"
PURPOSE = "infra"


def shoot_of(cluster: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(((cluster or {}).get("spec") or {}).get("shoot") or {})


def network_inputs(provider_config: Mapping[str, Any] | None, shoot: Mapping[str, Any]) -> tuple[str, list[str]]:
    """(nodes CIDR, zones) from the providerConfig, else from the shoot."""
    networks = ((provider_config or {}).get("networks")) or {}
    shoot_spec = shoot.get("spec") or {}
    nodes = networks.get("nodes") or (shoot_spec.get("networking") or {}).get("nodes") or DEFAULT_NODES_CIDR
    zones = networks.get("zones")
    if zones is None:
        workers = (shoot_spec.get("provider") or {}).get("workers") or []
        zones = list(dict.fromkeys(z for w in workers for z in (w.get("zones") or [])))
    return str(nodes), [str(z) for z in zones]


def provider_status(outputs: Mapping[str, Any], zones: list[str]) -> dict[str, Any]:
    subnets = outputs.get("subnets") or {}
    return {
        "apiVersion": PROVIDER_API_VERSION,
        "kind": "InfrastructureStatus",
        "networks": {
            "vpc": {"id": outputs.get("vpc_id"), "cidr": outputs.get("nodes_cidr")},
            "subnets": [
                {"zone": z, "id": subnets[z]["id"], "cidr": subnets[z]["cidr"], "purpose": "nodes"}
                for z in zones
                if z in subnets
            ],
        },
        "securityGroups": [{"id": outputs.get("security_group_id"), "purpose": "nodes"}],
    }


class TerraformRunner(Protocol):
    """What the actuator needs of a Terraformer, in a pod or in this process."""

    def apply(self, cfg: Config) -> dict[str, Any]: ...

    def destroy(self, cfg: Config) -> None: ...


class InfrastructureActuator(BaseActuator):
    def __init__(self, terraformer: TerraformRunner, module: Path) -> None:
        self.terraformer = terraformer
        self.module = module

    def config(self, ctx: Context) -> tuple[Config, list[str]]:
        spec = ctx.spec_as(InfrastructureSpec)
        nodes, zones = network_inputs(spec.providerConfig, shoot_of(ctx.cluster()))
        secrets: dict[str, str] = {}
        ref = spec.secretRef
        if ref.name:
            namespace = ref.namespace or ctx.namespace
            secret = ctx.kube.get(SECRETS.path(namespace, ref.name))
            if secret is None:
                raise TemporaryError(f"secret {namespace}/{ref.name} not found")
            token = secret_data(secret).get("token")
            if token:
                secrets["credentials_token"] = token.decode()
        cfg = Config(
            name=f"{ctx.name}.{PURPOSE}",
            namespace=ctx.namespace,
            module=self.module,
            variables={"name": ctx.namespace or ctx.name, "nodes_cidr": nodes, "zones": zones},
            secret_variables=secrets,
        )
        return cfg, zones

    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        cfg, zones = self.config(ctx)
        ctx.progress(20, "Applying the terraform configuration")
        outputs = self.terraformer.apply(cfg)
        nodes = str(outputs.get("nodes_cidr") or cfg.variables["nodes_cidr"])
        return {
            "providerStatus": provider_status(outputs, zones),
            "nodesCIDR": nodes,
            "networking": {"nodes": [nodes]},
        }

    def delete(self, ctx: Context) -> None:
        cfg, _ = self.config(ctx)
        ctx.progress(20, "Destroying the terraform resources")
        self.terraformer.destroy(cfg)

    def migrate(self, ctx: Context) -> None:
        """The Terraform state is kept in the seed's API (never only on a disk), so it travels with the shoot's
        objects; the infrastructure itself stays as it is for the next seed to take over."""
        return None
