"""The shoot's secrets (Gardener's secrets manager): CAs, certificates and keys, kept as Secrets in the seed.

Material is generated once and reused on every reconcile; a leaf certificate is issued again only when its CA
changed, a wanted host name or address is missing, its subject differs or it expires within `renew_before`.
CAs and the service-account key are never replaced while their Secret exists. The kubeconfigs of the
control-plane components (Gardener's `shoot-access-*` Secrets) are derived from their client certificates and the
API server's in-seed address, and rewritten whenever one of those changes. Private keys travel only into
Secrets; nothing here logs or raises with key material.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from gardener.apis.kubeconfig import build_kubeconfig
from gardener.runtime.kube import Kube, resource_path
from gardener.runtime.pki import (
    CertSpec,
    KeyPair,
    ca_usable,
    cert_usable,
    create_ca,
    issue_cert,
    new_key_pem,
    pair_readable,
)
from gardenlet.components.base import DEFAULT_TIMEOUTS, Timeouts, wait_for

log = logging.getLogger("gardenlet.components.secrets")

Obj = dict[str, Any]

CA = "ca"
CA_ETCD = "ca-etcd"
ETCD_SERVER = "etcd-server"
ETCD_PEER = "etcd-peer"
ETCD_CLIENT = "etcd-client"
KUBE_APISERVER_SERVER = "kube-apiserver-server"
SERVICE_ACCOUNT_KEY = "service-account-key"
ADMIN_CLIENT = "admin-client"
MCM_CLIENT = "machine-controller-manager-client"
KCM_CLIENT = "kube-controller-manager-client"
SCHEDULER_CLIENT = "kube-scheduler-client"
#: kubeconfigs (key `kubeconfig`) the control-plane components reach the shoot API server with, named as Gardener's
KCM_KUBECONFIG = "shoot-access-kube-controller-manager"
SCHEDULER_KUBECONFIG = "shoot-access-kube-scheduler"
KUBECONFIG_KEY = "kubeconfig"
ALL = (
    CA,
    CA_ETCD,
    ETCD_SERVER,
    ETCD_PEER,
    ETCD_CLIENT,
    KUBE_APISERVER_SERVER,
    SERVICE_ACCOUNT_KEY,
    ADMIN_CLIENT,
    MCM_CLIENT,
    KCM_CLIENT,
    SCHEDULER_CLIENT,
    KCM_KUBECONFIG,
    SCHEDULER_KUBECONFIG,
)
#: what etcd and the API server mount: their pods roll when one of these changes
ETCD_SECRETS = (CA_ETCD, ETCD_SERVER, ETCD_PEER)
APISERVER_SECRETS = (CA, KUBE_APISERVER_SERVER, SERVICE_ACCOUNT_KEY, CA_ETCD, ETCD_CLIENT)
KCM_SECRETS = (CA, SERVICE_ACCOUNT_KEY, KCM_KUBECONFIG)
SCHEDULER_SECRETS = (SCHEDULER_KUBECONFIG,)
LABELS = {"managed-by": "secrets-manager", "manager-identity": "gardenlet"}

#: the admin of a shoot: Gardener's `system:masters` client certificate
ADMIN_USER = "system:admin"
ADMIN_GROUP = "system:masters"
#: the machine controller manager registers and watches Nodes in the shoot: a user of no group, whose rights are
#: exactly the ClusterRole the gardenlet binds to it in the shoot (gardenlet.components.shootrbac)
MCM_USER = "system:machine-controller-manager"
#: kube's own identities for its controller manager and scheduler: the shoot API server's bootstrap RBAC binds them
KCM_USER = "system:kube-controller-manager"
SCHEDULER_USER = "system:kube-scheduler"
#: kubeconfig Secret -> (user, client certificate Secret)
KUBECONFIGS = {KCM_KUBECONFIG: (KCM_USER, KCM_CLIENT), SCHEDULER_KUBECONFIG: (SCHEDULER_USER, SCHEDULER_CLIENT)}


@dataclass(frozen=True, kw_only=True)
class SecretsValues:
    namespace: str
    #: every name and address the shoot API server is reached at (service names, load balancer address ...)
    apiserver_hosts: tuple[str, ...]
    etcd_hosts: tuple[str, ...]
    #: where control-plane components in the seed reach the shoot API server (its Service's cluster address);
    #: `deploy` needs it for their kubeconfigs
    apiserver_url: str = ""
    ca_validity_days: int = 3650
    validity_days: int = 365
    renew_before_days: int = 30


@dataclass(frozen=True, kw_only=True)
class ShootSecrets:
    """What later steps need from the secrets, after `deploy`."""

    ca_pem: bytes
    admin: KeyPair
    machine_controller_manager: KeyPair
    digests: dict[str, str]

    def checksum(self, *names: str) -> str:
        """Changes whenever one of the named Secrets changes; put on pod templates so they roll."""
        return hashlib.sha256("".join(self.digests[n] for n in names).encode()).hexdigest()[:16]


# ---- Secrets ----


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _data(secret: Obj | None, key: str) -> bytes:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value) if value else b""


def secret_manifest(namespace: str, name: str, data: dict[str, bytes], *, tls: bool = False) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(LABELS)},
        "type": "kubernetes.io/tls" if tls else "Opaque",
        "data": {k: _b64(v) for k, v in data.items()},
    }


def _pair(data: dict[str, str]) -> KeyPair:
    return KeyPair(cert_pem=base64.b64decode(data["tls.crt"]), key_pem=base64.b64decode(data["tls.key"]))


def _digest(data: dict[str, str]) -> str:
    return hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(data.items())).encode()).hexdigest()


class SecretsManager:
    """Creates or reuses every secret of one shoot in its seed namespace."""

    def __init__(
        self,
        kube: Kube,
        values: SecretsValues,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        new_ca_fn: Callable[[str], KeyPair] | None = None,
    ) -> None:
        self.kube = kube
        self.values = values
        self.timeouts = timeouts
        self._new_ca = new_ca_fn or (lambda cn: create_ca(common_name=cn, valid_days=values.ca_validity_days))
        self.result: ShootSecrets | None = None
        #: Secret name -> the data (base64) `deploy` wrote or reused, for `wait_ready`
        self._deployed: dict[str, dict[str, str]] = {}

    def _path(self, name: str | None = None) -> str:
        return resource_path("v1", "Secret", self.values.namespace, name)

    def leaves(self) -> dict[str, tuple[str, CertSpec]]:
        """Secret name -> (CA secret, certificate spec)."""
        v = self.values
        return {
            KUBE_APISERVER_SERVER: (CA, CertSpec(common_name="kube-apiserver", hosts=v.apiserver_hosts, server=True)),
            ADMIN_CLIENT: (CA, CertSpec(common_name=ADMIN_USER, organizations=(ADMIN_GROUP,), client=True)),
            ETCD_SERVER: (CA_ETCD, CertSpec(common_name="etcd-server", hosts=v.etcd_hosts, server=True, client=True)),
            ETCD_PEER: (CA_ETCD, CertSpec(common_name="etcd-peer", hosts=v.etcd_hosts, server=True, client=True)),
            ETCD_CLIENT: (CA_ETCD, CertSpec(common_name="etcd-client", client=True)),
            MCM_CLIENT: (CA, CertSpec(common_name=MCM_USER, client=True)),
            KCM_CLIENT: (CA, CertSpec(common_name=KCM_USER, client=True)),
            SCHEDULER_CLIENT: (CA, CertSpec(common_name=SCHEDULER_USER, client=True)),
        }

    def _kubeconfig(self, ca_pem: bytes, user: str, client: KeyPair) -> bytes:
        config = build_kubeconfig(
            server=self.values.apiserver_url,
            ca_pem=ca_pem,
            user=user,
            client_cert_pem=client.cert_pem,
            client_key_pem=client.key_pem,
            context=self.values.namespace,
        )
        return yaml.safe_dump(config, sort_keys=False).encode()

    async def deploy(self) -> None:
        if not self.values.apiserver_url:
            raise RuntimeError("no in-seed API server address: the control plane's kubeconfigs cannot be written")
        renew_before = dt.timedelta(days=self.values.renew_before_days)
        stored = {name: await self.kube.aget(self._path(name)) for name in ALL}
        written: dict[str, dict[str, bytes]] = {}
        cas: dict[str, KeyPair] = {}
        for name, common_name in ((CA, "kubernetes"), (CA_ETCD, "etcd")):
            ca = KeyPair(cert_pem=_data(stored[name], "ca.crt"), key_pem=_data(stored[name], "ca.key"))
            if stored[name] is None or not pair_readable(ca):
                log.info("Generating CA", extra={"namespace": self.values.namespace, "secret": name})
                ca = self._new_ca(common_name)
                written[name] = {"ca.crt": ca.cert_pem, "ca.key": ca.key_pem}
            elif not ca_usable(ca, renew_before=renew_before):
                log.warning("CA expires soon; rotation is not automated", extra={"secret": name})
            cas[name] = ca
        for name, (ca_name, spec) in self.leaves().items():
            leaf = KeyPair(cert_pem=_data(stored[name], "tls.crt"), key_pem=_data(stored[name], "tls.key"))
            if not cert_usable(leaf, cas[ca_name], spec, renew_before=renew_before):
                log.info("Issuing certificate", extra={"namespace": self.values.namespace, "secret": name})
                leaf = issue_cert(cas[ca_name], spec, valid_days=self.values.validity_days)
                written[name] = {"tls.crt": leaf.cert_pem, "tls.key": leaf.key_pem, "ca.crt": cas[ca_name].cert_pem}
        for name, (user, client) in KUBECONFIGS.items():
            pair = KeyPair(cert_pem=_data(stored[client], "tls.crt"), key_pem=_data(stored[client], "tls.key"))
            if client in written:
                pair = KeyPair(cert_pem=written[client]["tls.crt"], key_pem=written[client]["tls.key"])
            document = self._kubeconfig(cas[CA].cert_pem, user, pair)
            if _data(stored[name], KUBECONFIG_KEY) != document:
                written[name] = {KUBECONFIG_KEY: document}
        if stored[SERVICE_ACCOUNT_KEY] is None or not _data(stored[SERVICE_ACCOUNT_KEY], "sa.key"):
            private, public = new_key_pem()
            written[SERVICE_ACCOUNT_KEY] = {"sa.key": private, "sa.pub": public}
        for name, data in written.items():
            tls = "tls.crt" in data
            await self.kube.aserver_side_apply(secret_manifest(self.values.namespace, name, data, tls=tls))
        current: dict[str, dict[str, str]] = {}
        for name in ALL:
            if name in written:
                current[name] = {k: _b64(v) for k, v in written[name].items()}
            else:
                current[name] = (stored[name] or {}).get("data") or {}
        self._deployed = current
        self.result = ShootSecrets(
            ca_pem=cas[CA].cert_pem,
            admin=_pair(current[ADMIN_CLIENT]),
            machine_controller_manager=_pair(current[MCM_CLIENT]),
            digests={name: _digest(data) for name, data in current.items()},
        )

    async def problem(self) -> str | None:
        """Why the secrets are not ready: one is missing, or holds other material than `deploy` decided on."""
        missing: list[str] = []
        differing: list[str] = []
        for name, wanted in self._deployed.items():
            secret = await self.kube.aget(self._path(name))
            if secret is None:
                missing.append(name)
            elif any((secret.get("data") or {}).get(key) != value for key, value in wanted.items()):
                differing.append(name)
        if missing:
            return f"secrets {', '.join(missing)} do not exist"
        if differing:
            return f"secrets {', '.join(differing)} differ from what was deployed"
        return None

    async def wait_ready(self) -> None:
        """Every Secret is in the seed with the material `deploy` wrote or reused (only after `deploy`)."""
        if not self._deployed:
            raise RuntimeError("wait_ready before deploy: there is nothing to compare the Secrets with")
        await wait_for(self.problem, what="secrets ready", timeout=self.timeouts.ready, interval=self.timeouts.interval)

    async def destroy(self) -> None:
        for name in ALL:
            await self.kube.adelete(self._path(name))

    async def wait_gone(self) -> None:
        async def left() -> str | None:
            remaining = [n for n in ALL if await self.kube.aget(self._path(n)) is not None]
            return f"secrets {', '.join(remaining)} still exist" if remaining else None

        await wait_for(left, what="secrets gone", timeout=self.timeouts.gone, interval=self.timeouts.interval)


async def load_admin(kube: Kube, namespace: str) -> tuple[bytes, KeyPair] | None:
    """(CA, admin certificate) of a shoot, read back from its seed namespace; None before they exist."""
    ca = await kube.aget(resource_path("v1", "Secret", namespace, CA))
    admin = await kube.aget(resource_path("v1", "Secret", namespace, ADMIN_CLIENT))
    if ca is None or admin is None:
        return None
    return _data(ca, "ca.crt"), KeyPair(cert_pem=_data(admin, "tls.crt"), key_pem=_data(admin, "tls.key"))
