"""A garden API server set up for gardenlet tests: the garden API, the example project, and a seed's identity."""

from __future__ import annotations

from pathlib import Path

from gardener.apis.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.local.garden import install_garden_api
from gardener.runtime.pki import KeyPair, issue_client_cert
from tests.helpers import ServerProcess, create_namespace, kubectl

EXAMPLES = Path(__file__).resolve().parents[1] / "hack" / "examples"
#: what a gardenlet test needs in the garden besides its Shoots
GARDEN_EXAMPLES = ("00-project.yaml", "10-cloudprofile-local.yaml", "20-seed-local.yaml", "30-secretbinding-local.yaml")


def server_ca(server: ServerProcess) -> KeyPair:
    pki = server.data_dir / "pki"
    return KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())


def prepare_garden(garden: ServerProcess, *, project_namespace: str = "garden-dev") -> None:
    """The garden API, the project's namespace, and the example Project, CloudProfile, Seed and SecretBinding."""
    install_garden_api(garden.kubeconfig, timeout=60)
    create_namespace(project_namespace, kubeconfig=garden.kubeconfig)
    for name in GARDEN_EXAMPLES:
        kubectl("apply", "-f", str(EXAMPLES / name), kubeconfig=garden.kubeconfig)


def seed_identity(garden: ServerProcess, *, seed: str = "local") -> Path:
    """A kubeconfig for the garden as the gardenlet of `seed` is in it, with only a seed's rights."""
    ca = server_ca(garden)
    cert = issue_client_cert(ca, user=f"gardener.cloud:system:seed:{seed}", groups=["gardener.cloud:system:seeds"])
    path = garden.data_dir / "gardenlet.kubeconfig"
    config = build_kubeconfig(
        server=garden.url,
        ca_pem=ca.cert_pem,
        user="gardenlet",
        client_cert_pem=cert.cert_pem,
        client_key_pem=cert.key_pem,
    )
    write_kubeconfig(path, config)
    return path
