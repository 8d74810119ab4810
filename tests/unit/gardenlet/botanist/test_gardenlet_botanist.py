"""The botanist: how a Shoot and its Seed become component values."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardenlet.botanist import controlplane, extensions
from gardenlet.botanist.profile import HOST_PROCESSES, SeedProfile, profile_of_nodes
from gardenlet.botanist.shoot import ShootInfo, project_of, shoot_info
from gardenlet.components.kubeapiserver import Endpoint

EXAMPLES = Path(__file__).resolve().parents[4] / "hack" / "examples"
ENDPOINT = Endpoint(external="127.3.0.7", cluster_ip="127.2.0.9")


def _example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return doc


def _shoot(name: str = "50-shoot-workers.yaml", **spec: Any) -> dict[str, Any]:
    shoot = _example(name)
    shoot["metadata"].update(uid="uid-1", generation=3)
    shoot["spec"] = {**shoot["spec"], "seedName": "local", **spec}
    return shoot


SEED = _example("20-seed-local.yaml")


def test_shoot_info_of_a_shoot_with_workers() -> None:
    info = shoot_info(_shoot(), seed=SEED)
    assert (info.name, info.namespace, info.project) == ("apps", "garden-dev", "dev")
    assert info.technical_id == "shoot--dev--apps"
    assert (info.seed_name, info.provider_type, info.region) == ("local", "local", "local")
    assert info.kubernetes_version == "1.31.6"
    assert not info.workerless and not info.hibernated and not info.deleting
    assert [(p.name, p.minimum, p.maximum, p.zones) for p in info.workers] == [
        ("pool-a", 2, 4, ("local-a", "local-b")),
        ("pool-b", 1, 1, ("local-a",)),
    ]
    # Networks the Shoot leaves out come from the Seed's shoot defaults.
    assert (info.services_cidr, info.pods_cidr) == ("100.64.0.0/13", "100.96.0.0/11")


def test_shoot_info_keeps_a_technical_id_once_set_and_reads_hibernation_and_deletion() -> None:
    shoot = _shoot("40-shoot-workerless.yaml", hibernation={"enabled": True})
    shoot["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    shoot["status"] = {"technicalID": "shoot--dev--older"}
    info = shoot_info(shoot)
    assert info.workerless and info.hibernated and info.deleting
    assert info.technical_id == "shoot--dev--older"


def test_shoot_info_rejects_a_spec_that_does_not_decode() -> None:
    shoot = _shoot()
    shoot["spec"]["provider"]["workers"][0]["minimum"] = "two"
    with pytest.raises(ValueError, match="minimum"):
        shoot_info(shoot)


@pytest.mark.parametrize(("namespace", "project"), [("garden-dev", "dev"), ("garden", "garden"), ("garden-a-b", "a-b")])
def test_project_of_namespace(namespace: str, project: str) -> None:
    assert project_of(namespace) == project


def _info(**spec: Any) -> ShootInfo:
    return shoot_info(_shoot(**spec), seed=SEED)


def test_control_plane_values_awake_and_hibernated() -> None:
    profile = HOST_PROCESSES
    etcd = controlplane.etcd_values(_info(), profile, secrets_checksum="c1")
    assert (etcd.namespace, etcd.replicas, etcd.tls, etcd.secrets_checksum) == ("shoot--dev--apps", 1, False, "c1")
    assert etcd.client_url == "http://$(ETCD_MAIN_CLIENT_SERVICE_HOST):$(ETCD_MAIN_CLIENT_SERVICE_PORT)"
    apiserver = controlplane.kube_apiserver_values(_info(), profile, endpoint=ENDPOINT, etcd=etcd)
    assert apiserver.image == "registry.k8s.io/kube-apiserver:v1.31.6"
    assert (apiserver.replicas, apiserver.advertise_address, apiserver.etcd_servers) == (
        1,
        "127.3.0.7",
        etcd.client_url,
    )
    assert apiserver.embedded_csr_signer and not apiserver.etcd_tls
    asleep = _info(hibernation={"enabled": True})
    assert controlplane.etcd_values(asleep, profile).replicas == 0
    assert controlplane.kube_apiserver_values(asleep, profile, endpoint=ENDPOINT, etcd=etcd).replicas == 0


def test_api_server_advertises_the_cluster_ip_when_the_load_balancer_has_a_host_name() -> None:
    etcd = controlplane.etcd_values(_info(), SeedProfile())
    endpoint = Endpoint(external="lb.example.com", cluster_ip="10.0.0.8")
    values = controlplane.kube_apiserver_values(_info(), SeedProfile(), endpoint=endpoint, etcd=etcd)
    assert values.advertise_address == "10.0.0.8"
    assert values.etcd_tls and values.etcd_servers.startswith("https://")


def test_serving_certificate_covers_every_address_of_the_api_server() -> None:
    info = _info()
    values = controlplane.secrets_values(info, ENDPOINT, controlplane.etcd_values(info, SeedProfile()))
    for host in (
        "127.3.0.7",
        "127.2.0.9",
        "100.64.0.1",
        "kube-apiserver.shoot--dev--apps.svc",
        "kubernetes.default.svc.cluster.local",
    ):
        assert host in values.apiserver_hosts
    assert len(set(values.apiserver_hosts)) == len(values.apiserver_hosts)
    assert "etcd-main-client.shoot--dev--apps.svc" in values.etcd_hosts
    # the control plane's kubeconfigs point at the Service's cluster address, which the certificate names
    assert values.apiserver_url == "https://127.2.0.9"
    six = controlplane.in_seed_url(Endpoint(external="example.org", cluster_ip="fd00::1"))
    assert six == "https://[fd00::1]"
    assert controlplane.in_seed_url(Endpoint(external="", cluster_ip="")) == ""


def test_extension_values() -> None:
    info = _info()
    infra = extensions.infrastructure_values(info)
    assert (infra.kind, infra.name, infra.namespace, infra.type) == (
        "Infrastructure",
        "apps",
        "shoot--dev--apps",
        "local",
    )
    assert infra.spec["secretRef"] == {"name": "cloudprovider", "namespace": "shoot--dev--apps"}
    assert infra.spec["providerConfig"]["kind"] == "InfrastructureConfig"
    assert "providerConfig" not in extensions.control_plane_values(info).spec
    pools = extensions.worker_values(info).spec["pools"]
    assert [(p["name"], p["minimum"], p["maximum"]) for p in pools] == [("pool-a", 2, 4), ("pool-b", 1, 1)]
    asleep = extensions.worker_values(_info(hibernation={"enabled": True})).spec["pools"]
    assert [(p["minimum"], p["maximum"]) for p in asleep] == [(0, 0), (0, 0)]


def test_values_do_not_depend_on_the_shoot_object_identity() -> None:
    shoot = _shoot()
    assert shoot_info(copy.deepcopy(shoot), seed=SEED) == shoot_info(shoot, seed=SEED)


def _node(runtime: str) -> dict[str, Any]:
    return {"status": {"nodeInfo": {"containerRuntimeVersion": runtime}}}


def test_profile_follows_what_runs_the_seed_not_its_provider() -> None:
    agent = _node("provider-local://host-processes")
    assert profile_of_nodes([agent]) == HOST_PROCESSES
    assert profile_of_nodes([agent, agent], etcd_storage="1Gi").etcd_storage == "1Gi"
    # A real cluster (or a mix) gets the default profile, whatever the Seed's provider type says.
    assert profile_of_nodes([_node("containerd://1.7.24")]) == SeedProfile()
    assert profile_of_nodes([agent, _node("containerd://1.7.24")]) == SeedProfile()
    assert profile_of_nodes([]) == SeedProfile()
