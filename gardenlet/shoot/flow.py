"""The shoot flows as declarative task graphs: reconcile (which also hibernates and wakes up) and delete.

```
reconcile                                          delete (reverse)
namespace -> kube-apiserver Service (LB) ->        Worker -> OperatingSystemConfigs, Network,
secrets -> etcd -> kube-apiserver -> reachable ->  ControlPlane, kube-controller-manager and
ControlPlane -> Worker                             kube-scheduler -> kube-apiserver -> etcd,
                                                   Infrastructure, Service -> secrets -> namespace ->
                                                   Cluster, kubeconfig in the garden
in parallel: Cluster, credentials -> Infrastructure; OperatingSystemConfigs (user data) -> Worker;
kube-apiserver -> kube-controller-manager, kube-scheduler (none for a workerless shoot, as Gardener);
reachable -> Network; machine RBAC in the shoot -> Worker; LB address -> internal DNSRecord; kubeconfig and
machine access (after secrets)
```

A hibernating shoot runs the same graph with the scaling edges reversed: Worker to zero first, then the
controller manager and the scheduler, then the API server, then etcd (its claim, and so its data, stays). Extension
steps are skipped, with a log line, when the seed has no CRD for them. When the seed has the CRD but no
ControllerRegistration of the garden lists the resource's kind and type, the step fails and says so in
`status.lastErrors` rather than wait for an extension that does not exist; it is retried like any temporary
error, so registering the extension is all it takes.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gardener.apis.extensions.machine import SHOOT_ACCESS_KEY, SHOOT_ACCESS_SECRET
from gardener.apis.extensions.v1alpha1 import SecretKeySelector
from gardener.apis.kubeconfig import build_kubeconfig
from gardener.runtime.kube import Kube, resource_path
from gardenlet.botanist.cluster import cluster_copy
from gardenlet.botanist.controlplane import (
    etcd_values,
    kube_apiserver_values,
    kube_controller_manager_values,
    kube_scheduler_values,
    namespace_values,
    secrets_values,
    service_values,
)
from gardenlet.botanist.extensions import (
    CLOUDPROVIDER_SECRET,
    USER_DATA_KEY,
    control_plane_values,
    dns_record_values,
    infrastructure_values,
    network_values,
    operating_system_config_values,
    worker_values,
)
from gardenlet.botanist.profile import SeedProfile
from gardenlet.botanist.shoot import ShootInfo
from gardenlet.care.checks import api_server_available
from gardenlet.components import secrets as secret_names
from gardenlet.components.base import CHARTS_DIR, Timeouts
from gardenlet.components.etcd import Etcd
from gardenlet.components.extension import (
    API_VERSION,
    ExtensionResource,
    ExtensionValues,
    cluster_manifest,
    installed_kinds,
    not_registered,
    registered_extensions,
)
from gardenlet.components.kubeapiserver import Endpoint, KubeAPIServer, KubeAPIServerService
from gardenlet.components.kubecontrollermanager import KubeControllerManager
from gardenlet.components.kubescheduler import KubeScheduler
from gardenlet.components.namespace import Namespace
from gardenlet.components.secrets import ADMIN_USER, MCM_USER, SecretsManager, ShootSecrets, secret_manifest
from gardenlet.components.shootrbac import MachineControllerManagerRBAC, ShootRBACValues
from gardenlet.flow import ErrorCode, Flow, PermanentError, RetryPolicy, Task, TaskFn, TemporaryError
from gardenlet.shoot.kubeconfig import kubeconfig_secret, machine_controller_manager_kubeconfig, secret_name

log = logging.getLogger("gardenlet.shoot.flow")

CORE = "/apis/core.gardener.cloud/v1beta1"
Obj = dict[str, Any]
NO_ENDPOINT = Endpoint(external="", cluster_ip="")


_COMPONENTS = Timeouts(ready=300.0, gone=300.0, interval=0.2)
_EXTENSIONS = Timeouts(ready=600.0, gone=600.0, interval=2.0)
_NAMESPACE = Timeouts(ready=60.0, gone=300.0, interval=0.5)
_RETRY = RetryPolicy(timeout=120.0, interval=1.0, backoff=2.0, max_interval=10.0)


@dataclass(frozen=True, kw_only=True)
class FlowSettings:
    """Timeouts of one flow run; tests shorten them."""

    components: Timeouts = _COMPONENTS
    extensions: Timeouts = _EXTENSIONS
    namespace: Timeouts = _NAMESPACE
    retry: RetryPolicy = _RETRY
    api_server_check_timeout: float = 5.0
    charts_dir: Path = CHARTS_DIR


class ShootOperation:
    """One run for one Shoot: its components, what earlier tasks found, and the two flows."""

    def __init__(
        self,
        *,
        garden: Kube,
        seed: Kube,
        shoot: ShootInfo,
        profile: SeedProfile,
        settings: FlowSettings,
        objects: tuple[Obj, Obj | None] = ({}, None),
    ):
        """`objects` are the Shoot and Seed as read from the garden, for the extensions' Cluster resource."""
        self.garden = garden
        self.seed = seed
        self.shoot = shoot
        self.profile = profile
        self.settings = settings
        self.shoot_obj, self.seed_obj = objects
        self.extensions: frozenset[str] = frozenset()
        #: (kind, type) pairs an extension is registered for in the garden
        self.registered: frozenset[tuple[str, str]] = frozenset()
        #: pool -> the Secret key its machines boot from (the OperatingSystemConfig's result)
        self.user_data: dict[str, SecretKeySelector] = {}
        self._skipped: set[str] = set()
        self.endpoint: Endpoint | None = None
        self.secrets: ShootSecrets | None = None
        self.infrastructure_status: Obj | None = None
        self.namespace = Namespace(
            seed, namespace_values(shoot), timeouts=settings.namespace, charts_dir=settings.charts_dir
        )
        self.service = KubeAPIServerService(
            seed, service_values(shoot), timeouts=settings.components, charts_dir=settings.charts_dir
        )

    # ---- components whose values depend on earlier tasks ----

    def _etcd(self) -> Etcd:
        checksum = self.secrets.checksum(*secret_names.ETCD_SECRETS) if self.secrets and self.profile.etcd_tls else ""
        values = etcd_values(self.shoot, self.profile, secrets_checksum=checksum)
        return Etcd(self.seed, values, timeouts=self.settings.components, charts_dir=self.settings.charts_dir)

    def _kube_apiserver(self) -> KubeAPIServer:
        etcd = etcd_values(self.shoot, self.profile)
        checksum = self.secrets.checksum(*secret_names.APISERVER_SECRETS) if self.secrets else ""
        values = kube_apiserver_values(
            self.shoot, self.profile, endpoint=self.endpoint or NO_ENDPOINT, etcd=etcd, secrets_checksum=checksum
        )
        return KubeAPIServer(self.seed, values, timeouts=self.settings.components, charts_dir=self.settings.charts_dir)

    def _kube_controller_manager(self) -> KubeControllerManager:
        checksum = self.secrets.checksum(*secret_names.KCM_SECRETS) if self.secrets else ""
        values = kube_controller_manager_values(self.shoot, self.profile, secrets_checksum=checksum)
        return KubeControllerManager(
            self.seed, values, timeouts=self.settings.components, charts_dir=self.settings.charts_dir
        )

    def _kube_scheduler(self) -> KubeScheduler:
        checksum = self.secrets.checksum(*secret_names.SCHEDULER_SECRETS) if self.secrets else ""
        values = kube_scheduler_values(self.shoot, self.profile, secrets_checksum=checksum)
        return KubeScheduler(self.seed, values, timeouts=self.settings.components, charts_dir=self.settings.charts_dir)

    def _secrets_manager(self) -> SecretsManager:
        values = secrets_values(self.shoot, self.endpoint or NO_ENDPOINT, etcd_values(self.shoot, self.profile))
        return SecretsManager(self.seed, values, timeouts=self.settings.components)

    def _extension(self, values: ExtensionValues) -> ExtensionResource:
        return ExtensionResource(
            self.seed, values, timeouts=self.settings.extensions, charts_dir=self.settings.charts_dir
        )

    def _missing(self, kind: str) -> bool:
        if kind in self.extensions:
            return False
        if kind not in self._skipped:
            self._skipped.add(kind)
            log.info("Extension kind not installed in the seed, skipping", extra={"kind": kind})
        return True

    # ---- task functions ----

    async def deploy_namespace(self) -> None:
        await self.namespace.deploy()
        await self.namespace.wait_ready()

    async def wait_service(self) -> None:
        await self.service.wait_ready()
        self.endpoint = await self.service.endpoint()

    async def detect_extensions(self) -> None:
        self.extensions = await installed_kinds(self.seed)
        self.registered = await registered_extensions(self.garden)

    def _require(self, values: ExtensionValues) -> None:
        """An extension resource nothing is registered for would be waited for in vain: say so now. Retryable:
        registering the extension is the fix, and the next attempt then goes on without a change to the Shoot."""
        if (values.kind, values.type) not in self.registered:
            raise TemporaryError(not_registered(values.kind, values.type))

    async def _deploy(self, values: ExtensionValues) -> None:
        self._require(values)
        await self._extension(values).deploy()

    async def deploy_infrastructure(self) -> None:
        await self._deploy(infrastructure_values(self.shoot))

    def _osc(self) -> list[ExtensionValues]:
        return [operating_system_config_values(self.shoot, pool) for pool in self.shoot.workers]

    async def deploy_operating_system_configs(self) -> None:
        for values in self._osc():
            await self._deploy(values)

    async def wait_operating_system_configs(self) -> None:
        """Wait for every pool's OperatingSystemConfig and note the Secret its user data is in."""
        for pool, values in zip(self.shoot.workers, self._osc(), strict=True):
            osc = self._extension(values)
            await osc.wait_ready()
            obj = await self.seed.aget(osc.path) or {}
            ref = (((obj.get("status") or {}).get("cloudConfig") or {}).get("secretRef")) or {}
            if not ref.get("name"):
                raise TemporaryError(f"{osc.what} names no Secret with the user data in status.cloudConfig")
            self.user_data[pool.name] = SecretKeySelector(name=str(ref["name"]), key=USER_DATA_KEY)

    async def destroy_operating_system_configs(self) -> None:
        for values in self._osc():
            await self._extension(values).destroy()

    async def wait_operating_system_configs_gone(self) -> None:
        for values in self._osc():
            await self._extension(values).wait_gone()

    async def deploy_network(self) -> None:
        await self._deploy(network_values(self.shoot))

    def _dns_record(self) -> ExtensionValues:
        seed_spec = (self.seed_obj or {}).get("spec") or {}
        dns_type = ((seed_spec.get("dns") or {}).get("provider") or {}).get("type") or (
            (seed_spec.get("provider") or {}).get("type") or self.shoot.provider_type
        )
        domain = (seed_spec.get("ingress") or {}).get("domain") or "local.gardener.cloud"
        address = (self.endpoint or NO_ENDPOINT).external
        return dns_record_values(self.shoot, dns_type=str(dns_type), domain=str(domain), address=address)

    async def deploy_dns_record(self) -> None:
        await self._deploy(self._dns_record())

    async def wait_dns_record(self) -> None:
        await self._extension(self._dns_record()).wait_ready()

    async def deploy_cloudprovider_secret(self) -> None:
        """Copy the provider credentials of the Shoot's SecretBinding into the seed namespace."""
        s = self.shoot
        binding = await self.garden.aget(f"{CORE}/namespaces/{s.namespace}/secretbindings/{s.secret_binding}")
        if binding is None:
            raise PermanentError(
                f"SecretBinding {s.namespace}/{s.secret_binding} does not exist",
                codes=[ErrorCode.CONFIGURATION_PROBLEM],
            )
        ref = binding.get("secretRef") or {}
        path = resource_path("v1", "Secret", ref.get("namespace") or s.namespace, ref.get("name"))
        credentials = await self.garden.aget(path)
        if credentials is None:
            raise TemporaryError(f"credentials Secret {path} of the SecretBinding does not exist")
        data = {k: base64.b64decode(v) for k, v in (credentials.get("data") or {}).items()}
        await self.seed.aserver_side_apply(secret_manifest(s.technical_id, CLOUDPROVIDER_SECRET, data))

    async def deploy_cluster_resource(self) -> None:
        s = self.shoot
        profile = await self.garden.aget(f"{CORE}/cloudprofiles/{s.cloud_profile}")
        if profile is None:
            raise TemporaryError(f"CloudProfile {s.cloud_profile} does not exist")
        cluster = cluster_manifest(
            s.technical_id,
            shoot=cluster_copy(self.shoot_obj),
            seed=cluster_copy(self.seed_obj or {}),
            cloud_profile=cluster_copy(profile),
        )
        await self.seed.aserver_side_apply(cluster)

    async def delete_cluster_resource(self) -> None:
        await self.seed.adelete(resource_path(API_VERSION, "Cluster", name=self.shoot.technical_id))

    async def wait_infrastructure(self) -> None:
        infra = self._extension(infrastructure_values(self.shoot))
        await infra.wait_ready()
        obj = await self.seed.aget(infra.path) or {}
        self.infrastructure_status = (obj.get("status") or {}).get("providerStatus")

    async def deploy_shoot_access(self) -> None:
        """The kubeconfig the machine controller manager reaches the shoot with (to register its Nodes)."""
        assert self.secrets is not None and self.endpoint is not None
        document = machine_controller_manager_kubeconfig(self.shoot, self.endpoint, self.secrets)
        await self.seed.aserver_side_apply(
            secret_manifest(self.shoot.technical_id, SHOOT_ACCESS_SECRET, {SHOOT_ACCESS_KEY: document})
        )

    async def deploy_machine_rbac(self) -> None:
        """The machine controller manager's rights in the shoot (its certificate carries no group)."""
        assert self.secrets is not None and self.endpoint is not None
        config = build_kubeconfig(
            server=self.endpoint.url,
            ca_pem=self.secrets.ca_pem,
            user=ADMIN_USER,
            client_cert_pem=self.secrets.admin.cert_pem,
            client_key_pem=self.secrets.admin.key_pem,
        )
        shoot = Kube.from_kubeconfig_text(yaml.safe_dump(config), field_manager="gardenlet")
        try:
            rbac = MachineControllerManagerRBAC(
                shoot, ShootRBACValues(user=MCM_USER), timeouts=self.settings.components
            )
            await rbac.deploy()
            await rbac.wait_ready()
        finally:
            shoot.close()

    async def deploy_control_plane(self) -> None:
        await self._deploy(control_plane_values(self.shoot, self.infrastructure_status))

    async def deploy_worker(self) -> None:
        # With no OperatingSystemConfig kind in the seed, pools boot without user data.
        await self._deploy(worker_values(self.shoot, self.infrastructure_status, user_data=self.user_data))

    async def deploy_secrets(self) -> None:
        manager = self._secrets_manager()
        await manager.deploy()
        await manager.wait_ready()
        self.secrets = manager.result

    async def publish_kubeconfig(self) -> None:
        assert self.secrets is not None and self.endpoint is not None
        await self.garden.aserver_side_apply(kubeconfig_secret(self.shoot, self.endpoint, self.secrets))

    async def delete_kubeconfig(self) -> None:
        await self.garden.adelete(resource_path("v1", "Secret", self.shoot.namespace, secret_name(self.shoot.name)))

    async def check_api_server(self) -> None:
        """The API server answers through its advertised address (its load balancer may lag its pods briefly)."""
        assert self.secrets is not None and self.endpoint is not None
        deadline = time.monotonic() + self.settings.api_server_check_timeout
        while True:
            verdict = await api_server_available(
                self.endpoint.url, self.secrets.ca_pem, timeout=self.settings.api_server_check_timeout
            )
            if verdict.status == "True":
                return
            if time.monotonic() >= deadline:
                raise TemporaryError(verdict.message)
            await asyncio.sleep(0.1)

    async def delete_namespace(self) -> None:
        await self.namespace.destroy()
        await self.namespace.wait_gone()

    # ---- flows ----

    def _task(self, flow: Flow, task_id: str, fn: TaskFn, *deps: str, skip: object = False) -> str:
        skip_if = skip if callable(skip) else bool(skip)
        return flow.add(Task(id=task_id, fn=fn, dependencies=deps, skip_if=skip_if, retry=self.settings.retry))

    def reconcile_flow(self) -> Flow:
        s = self.shoot
        flow = Flow(f"{'hibernate' if s.hibernated else 'reconcile'} shoot {s.key}")
        etcd, kapi = self._etcd, self._kube_apiserver
        cp = self._extension(control_plane_values(s))
        worker = self._extension(worker_values(s))
        network = self._extension(network_values(s))

        def no(kind: str) -> object:
            return lambda: self._missing(kind)

        def no_worker() -> bool:
            return s.workerless or self._missing("Worker")

        def no_osc() -> bool:
            return s.workerless or self._missing("OperatingSystemConfig")

        def no_network() -> bool:
            return s.workerless or not s.networking_type or self._missing("Network")

        t = self._task
        ns = t(flow, "deploy-namespace", self.deploy_namespace)
        found = t(flow, "detect-extensions", self.detect_extensions, ns)
        svc = t(flow, "deploy-kube-apiserver-service", self.service.deploy, ns)
        svc_ready = t(flow, "wait-kube-apiserver-service", self.wait_service, svc)
        secrets = t(flow, "deploy-secrets", self.deploy_secrets, svc_ready)
        t(flow, "publish-kubeconfig", self.publish_kubeconfig, secrets)
        access = t(flow, "deploy-shoot-access-secret", self.deploy_shoot_access, secrets, skip=no_worker)
        cluster = t(flow, "deploy-cluster-resource", self.deploy_cluster_resource, found, skip=no("Cluster"))
        creds = t(
            flow,
            "deploy-cloudprovider-secret",
            self.deploy_cloudprovider_secret,
            found,
            skip=lambda: not self.extensions - {"Cluster"},
        )
        infra_deploy = t(
            flow, "deploy-infrastructure", self.deploy_infrastructure, creds, cluster, skip=no("Infrastructure")
        )
        infra_ready = t(flow, "wait-infrastructure", self.wait_infrastructure, infra_deploy, skip=no("Infrastructure"))
        osc_deploy = t(
            flow, "deploy-operating-system-configs", self.deploy_operating_system_configs, cluster, skip=no_osc
        )
        osc_ready = t(
            flow, "wait-operating-system-configs", self.wait_operating_system_configs, osc_deploy, skip=no_osc
        )

        async def deploy_etcd() -> None:
            await etcd().deploy()

        async def wait_etcd() -> None:
            await etcd().wait_ready()

        async def deploy_kapi() -> None:
            await kapi().deploy()

        async def wait_kapi() -> None:
            await kapi().wait_ready()

        async def deploy_kcm() -> None:
            await self._kube_controller_manager().deploy()

        async def wait_kcm() -> None:
            await self._kube_controller_manager().wait_ready()

        async def deploy_scheduler() -> None:
            await self._kube_scheduler().deploy()

        async def wait_scheduler() -> None:
            await self._kube_scheduler().wait_ready()

        # Gardener gives a workerless shoot no scheduler: nothing could be scheduled anywhere.
        no_scheduler = s.workerless

        if not s.hibernated:
            etcd_deploy = t(flow, "deploy-etcd", deploy_etcd, secrets)
            etcd_ready = t(flow, "wait-etcd", wait_etcd, etcd_deploy)
            kapi_deploy = t(flow, "deploy-kube-apiserver", deploy_kapi, etcd_ready)
            kapi_ready = t(flow, "wait-kube-apiserver", wait_kapi, kapi_deploy)
            reachable = t(flow, "check-api-server-available", self.check_api_server, kapi_ready)
            kcm_deploy = t(flow, "deploy-kube-controller-manager", deploy_kcm, kapi_ready)
            t(flow, "wait-kube-controller-manager", wait_kcm, kcm_deploy)
            sched_deploy = t(flow, "deploy-kube-scheduler", deploy_scheduler, kapi_ready, skip=no_scheduler)
            t(flow, "wait-kube-scheduler", wait_scheduler, sched_deploy, skip=no_scheduler)
            dns = t(flow, "deploy-internal-dns-record", self.deploy_dns_record, svc_ready, creds, skip=no("DNSRecord"))
            t(flow, "wait-internal-dns-record", self.wait_dns_record, dns, skip=no("DNSRecord"))
            net_deploy = t(flow, "deploy-network", self.deploy_network, reachable, cluster, skip=no_network)
            t(flow, "wait-network", network.wait_ready, net_deploy, skip=no_network)
            cp_deploy = t(
                flow, "deploy-control-plane", self.deploy_control_plane, reachable, infra_ready, skip=no("ControlPlane")
            )
            cp_ready = t(flow, "wait-control-plane", cp.wait_ready, cp_deploy, skip=no("ControlPlane"))
            rbac = t(
                flow, "deploy-machine-controller-manager-rbac", self.deploy_machine_rbac, reachable, skip=no_worker
            )
            worker_deploy = t(
                flow, "deploy-worker", self.deploy_worker, cp_ready, access, rbac, osc_ready, skip=no_worker
            )
            t(flow, "wait-worker", worker.wait_ready, worker_deploy, skip=no_worker)
            return flow
        # Hibernation: no machines first, then no controller manager and scheduler, then no API server, then no etcd.
        worker_deploy = t(flow, "deploy-worker", self.deploy_worker, infra_ready, access, osc_ready, skip=no_worker)
        worker_ready = t(flow, "wait-worker", worker.wait_ready, worker_deploy, skip=no_worker)
        cp_deploy = t(flow, "deploy-control-plane", self.deploy_control_plane, infra_ready, skip=no("ControlPlane"))
        t(flow, "wait-control-plane", cp.wait_ready, cp_deploy, skip=no("ControlPlane"))
        kcm_deploy = t(flow, "deploy-kube-controller-manager", deploy_kcm, secrets, worker_ready)
        kcm_ready = t(flow, "wait-kube-controller-manager", wait_kcm, kcm_deploy)
        sched_deploy = t(flow, "deploy-kube-scheduler", deploy_scheduler, secrets, worker_ready, skip=no_scheduler)
        sched_ready = t(flow, "wait-kube-scheduler", wait_scheduler, sched_deploy, skip=no_scheduler)
        kapi_deploy = t(flow, "deploy-kube-apiserver", deploy_kapi, kcm_ready, sched_ready)
        kapi_ready = t(flow, "wait-kube-apiserver", wait_kapi, kapi_deploy)
        etcd_deploy = t(flow, "deploy-etcd", deploy_etcd, kapi_ready)
        t(flow, "wait-etcd", wait_etcd, etcd_deploy)
        return flow

    def delete_flow(self) -> Flow:
        s = self.shoot
        flow = Flow(f"delete shoot {s.key}")
        etcd, kapi = self._etcd(), self._kube_apiserver()
        kcm, scheduler = self._kube_controller_manager(), self._kube_scheduler()
        infra = self._extension(infrastructure_values(s))
        cp = self._extension(control_plane_values(s))
        worker = self._extension(worker_values(s))
        network = self._extension(network_values(s))
        dns = self._extension(self._dns_record())
        secrets = self._secrets_manager()

        def no(kind: str) -> object:
            return lambda: self._missing(kind)

        t = self._task
        found = t(flow, "detect-extensions", self.detect_extensions)
        w = t(flow, "destroy-worker", worker.destroy, found, skip=no("Worker"))
        w_gone = t(flow, "wait-worker-gone", worker.wait_gone, w, skip=no("Worker"))
        o = t(
            flow,
            "destroy-operating-system-configs",
            self.destroy_operating_system_configs,
            w_gone,
            skip=no("OperatingSystemConfig"),
        )
        o_gone = t(
            flow,
            "wait-operating-system-configs-gone",
            self.wait_operating_system_configs_gone,
            o,
            skip=no("OperatingSystemConfig"),
        )
        n = t(flow, "destroy-network", network.destroy, w_gone, skip=no("Network"))
        n_gone = t(flow, "wait-network-gone", network.wait_gone, n, skip=no("Network"))
        d = t(flow, "destroy-internal-dns-record", dns.destroy, found, skip=no("DNSRecord"))
        d_gone = t(flow, "wait-internal-dns-record-gone", dns.wait_gone, d, skip=no("DNSRecord"))
        c = t(flow, "destroy-control-plane", cp.destroy, w_gone, skip=no("ControlPlane"))
        c_gone = t(flow, "wait-control-plane-gone", cp.wait_gone, c, skip=no("ControlPlane"))
        # Destroyed whether the shoot has workers or not: nothing of an earlier configuration may outlive the shoot.
        kcm_d = t(flow, "destroy-kube-controller-manager", kcm.destroy, w_gone)
        kcm_gone = t(flow, "wait-kube-controller-manager-gone", kcm.wait_gone, kcm_d)
        sched_d = t(flow, "destroy-kube-scheduler", scheduler.destroy, w_gone)
        sched_gone = t(flow, "wait-kube-scheduler-gone", scheduler.wait_gone, sched_d)
        k = t(flow, "destroy-kube-apiserver", kapi.destroy, w_gone, kcm_gone, sched_gone)
        k_gone = t(flow, "wait-kube-apiserver-gone", kapi.wait_gone, k)
        e = t(flow, "destroy-etcd", etcd.destroy, k_gone)
        e_gone = t(flow, "wait-etcd-gone", etcd.wait_gone, e)
        i = t(flow, "destroy-infrastructure", infra.destroy, c_gone, k_gone, skip=no("Infrastructure"))
        i_gone = t(flow, "wait-infrastructure-gone", infra.wait_gone, i, skip=no("Infrastructure"))
        svc = t(flow, "destroy-kube-apiserver-service", self.service.destroy, k_gone)
        svc_gone = t(flow, "wait-kube-apiserver-service-gone", self.service.wait_gone, svc)
        sec = t(flow, "destroy-secrets", secrets.destroy, e_gone, k_gone, i_gone)
        sec_gone = t(flow, "wait-secrets-gone", secrets.wait_gone, sec)
        ns = t(
            flow,
            "delete-namespace",
            self.delete_namespace,
            sec_gone,
            svc_gone,
            i_gone,
            e_gone,
            c_gone,
            o_gone,
            n_gone,
            d_gone,
        )
        t(flow, "delete-cluster-resource", self.delete_cluster_resource, ns, skip=no("Cluster"))
        t(flow, "delete-kubeconfig", self.delete_kubeconfig, ns)
        return flow
