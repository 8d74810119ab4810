"""The shoot's admin kubeconfig, published to the garden as Secret `<shoot>.kubeconfig` in the project namespace.

It points at the API server's load balancer address, trusts the shoot CA and authenticates with the admin client
certificate (O=system:masters). The Secret is owned by the Shoot, so it goes with it even if a deletion flow is
cut short.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from gardener.apis.kubeconfig import build_kubeconfig
from gardener.runtime.pki import KeyPair
from gardenlet.botanist.shoot import ShootInfo
from gardenlet.components.kubeapiserver import Endpoint
from gardenlet.components.secrets import ADMIN_USER, MCM_USER, ShootSecrets

SUFFIX = ".kubeconfig"


def secret_name(shoot_name: str) -> str:
    return f"{shoot_name}{SUFFIX}"


def _kubeconfig(shoot: ShootInfo, endpoint: Endpoint, secrets: ShootSecrets, user: str, cert: KeyPair) -> bytes:
    config = build_kubeconfig(
        server=endpoint.url,
        ca_pem=secrets.ca_pem,
        user=user,
        client_cert_pem=cert.cert_pem,
        client_key_pem=cert.key_pem,
        context=shoot.technical_id,
    )
    return yaml.safe_dump(config, sort_keys=False).encode()


def machine_controller_manager_kubeconfig(shoot: ShootInfo, endpoint: Endpoint, secrets: ShootSecrets) -> bytes:
    return _kubeconfig(shoot, endpoint, secrets, MCM_USER, secrets.machine_controller_manager)


def kubeconfig_secret(shoot: ShootInfo, endpoint: Endpoint, secrets: ShootSecrets) -> dict[str, Any]:
    document = _kubeconfig(shoot, endpoint, secrets, ADMIN_USER, secrets.admin)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(shoot.name),
            "namespace": shoot.namespace,
            "labels": {"gardener.cloud/role": "kubeconfig", "shoot.gardener.cloud/name": shoot.name},
            "ownerReferences": [
                {
                    "apiVersion": "core.gardener.cloud/v1beta1",
                    "kind": "Shoot",
                    "name": shoot.name,
                    "uid": shoot.uid,
                    "controller": False,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "type": "Opaque",
        "data": {
            "kubeconfig": base64.b64encode(document).decode(),
            "ca.crt": base64.b64encode(secrets.ca_pem).decode(),
        },
    }
