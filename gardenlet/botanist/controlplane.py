"""Values of the control-plane components: namespace, secrets, etcd, the API server with its Service, the
controller manager and the scheduler."""

from __future__ import annotations

import ipaddress

from gardenlet.botanist.profile import SeedProfile
from gardenlet.botanist.shoot import ShootInfo
from gardenlet.components.etcd import EtcdValues
from gardenlet.components.kubeapiserver import NAME as KUBE_APISERVER
from gardenlet.components.kubeapiserver import Endpoint, KubeAPIServerValues, ServiceValues
from gardenlet.components.kubecontrollermanager import KubeControllerManagerValues
from gardenlet.components.kubescheduler import KubeSchedulerValues
from gardenlet.components.namespace import NamespaceValues
from gardenlet.components.secrets import SecretsValues


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _service_names(service: str, namespace: str) -> tuple[str, ...]:
    return (service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local")


def namespace_values(shoot: ShootInfo) -> NamespaceValues:
    return NamespaceValues(
        name=shoot.technical_id,
        labels={
            "gardener.cloud/role": "shoot",
            "shoot.gardener.cloud/provider": shoot.provider_type,
            "project.gardener.cloud/name": shoot.project,
            "shoot.gardener.cloud/name": shoot.name,
        },
    )


def service_values(shoot: ShootInfo) -> ServiceValues:
    return ServiceValues(namespace=shoot.technical_id)


def kubernetes_service_ip(shoot: ShootInfo) -> str:
    """The first address of the service network: the `kubernetes` Service inside the shoot."""
    return str(next(ipaddress.ip_network(shoot.services_cidr, strict=False).hosts()))


def in_seed_url(endpoint: Endpoint) -> str:
    """Where clients in the seed reach the shoot API server: its Service's cluster address, which the serving
    certificate names (a local seed has no cluster DNS for the Service's name); empty before the Service has one."""
    if not endpoint.cluster_ip:
        return ""
    host = f"[{endpoint.cluster_ip}]" if ":" in endpoint.cluster_ip else endpoint.cluster_ip
    return f"https://{host}"


def secrets_values(shoot: ShootInfo, endpoint: Endpoint, etcd: EtcdValues) -> SecretsValues:
    apiserver_hosts = (
        *_service_names(KUBE_APISERVER, shoot.technical_id),
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "127.0.0.1",
        kubernetes_service_ip(shoot),
        *(h for h in (endpoint.external, endpoint.cluster_ip) if h),
    )
    etcd_hosts = (*_service_names(etcd.client_service, shoot.technical_id), "localhost", "127.0.0.1")
    return SecretsValues(
        namespace=shoot.technical_id,
        apiserver_hosts=tuple(dict.fromkeys(apiserver_hosts)),
        etcd_hosts=etcd_hosts,
        apiserver_url=in_seed_url(endpoint),
    )


def etcd_values(shoot: ShootInfo, profile: SeedProfile, *, secrets_checksum: str = "") -> EtcdValues:
    return EtcdValues(
        namespace=shoot.technical_id,
        image=profile.etcd_image,
        replicas=0 if shoot.hibernated else 1,
        storage=profile.etcd_storage,
        storage_class=profile.etcd_storage_class,
        tls=profile.etcd_tls,
        probe_period_seconds=profile.probe_period_seconds,
        secrets_checksum=secrets_checksum,
    )


def kube_apiserver_values(
    shoot: ShootInfo, profile: SeedProfile, *, endpoint: Endpoint, etcd: EtcdValues, secrets_checksum: str = ""
) -> KubeAPIServerValues:
    version = shoot.kubernetes_version.removeprefix("v")
    return KubeAPIServerValues(
        namespace=shoot.technical_id,
        image=f"{profile.kube_apiserver_repository}:v{version}",
        replicas=0 if shoot.hibernated else 1,
        etcd_servers=etcd.client_url,
        etcd_tls=etcd.tls,
        # kube-apiserver wants an IP here; a load balancer may give a host name only.
        advertise_address=endpoint.external if _is_ip(endpoint.external) else endpoint.cluster_ip,
        service_account_issuer=endpoint.url,
        service_cidr=shoot.services_cidr,
        embedded_csr_signer=profile.embedded_csr_signer,
        probe_period_seconds=profile.probe_period_seconds,
        secrets_checksum=secrets_checksum,
    )


#: what a workerless shoot's controller manager does not run, by the first Kubernetes minor that has it (Gardener's
#: list: nothing there attaches volumes, allocates node ranges or watches nodes)
_WORKERLESS_DISABLED = (
    ((1, 0), "attachdetach"),
    ((1, 0), "cloud-node-lifecycle"),
    ((1, 0), "endpoint"),
    ((1, 0), "ephemeral-volume"),
    ((1, 0), "nodeipam"),
    ((1, 0), "nodelifecycle"),
    ((1, 0), "persistentvolume-binder"),
    ((1, 0), "persistentvolume-expander"),
    ((1, 0), "pv-protection"),
    ((1, 0), "ttl"),
    ((1, 33), "device-taint-eviction-controller"),
    ((1, 34), "podcertificaterequest-cleaner-controller"),
    ((1, 36), "podgroup-protection-controller"),
    ((1, 36), "resourcepoolstatusrequest-controller"),
)


def _minor(version: str) -> tuple[int, int]:
    major, _, rest = version.removeprefix("v").partition(".")
    minor = rest.partition(".")[0]
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (0, 0)


def kube_controller_manager_values(
    shoot: ShootInfo, profile: SeedProfile, *, secrets_checksum: str = ""
) -> KubeControllerManagerValues:
    version = shoot.kubernetes_version.removeprefix("v")
    minor = _minor(version)
    disabled = tuple(sorted(name for since, name in _WORKERLESS_DISABLED if minor >= since)) if shoot.workerless else ()
    return KubeControllerManagerValues(
        namespace=shoot.technical_id,
        image=f"{profile.kube_controller_manager_repository}:v{version}",
        replicas=0 if shoot.hibernated else 1,
        cluster_name=shoot.technical_id,
        workerless=shoot.workerless,
        disabled_controllers=disabled,
        service_cidr=shoot.services_cidr,
        pods_cidr=shoot.pods_cidr,
        secrets_checksum=secrets_checksum,
    )


def kube_scheduler_values(shoot: ShootInfo, profile: SeedProfile, *, secrets_checksum: str = "") -> KubeSchedulerValues:
    version = shoot.kubernetes_version.removeprefix("v")
    return KubeSchedulerValues(
        namespace=shoot.technical_id,
        image=f"{profile.kube_scheduler_repository}:v{version}",
        replicas=0 if shoot.hibernated else 1,
        secrets_checksum=secrets_checksum,
    )
