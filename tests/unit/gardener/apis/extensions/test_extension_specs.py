"""Extension specs are written from the typed contract and read back typed: nothing of the Shoot is lost."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from extensions.provider_local.controllers.operatingsystem import render
from gardener.apis.core.v1beta1 import SecretReference, Taint, Volume
from gardener.apis.extensions.v1alpha1 import (
    CRIConfig,
    DNSRecordSpec,
    InfrastructureSpec,
    MachineImage,
    NetworkSpec,
    OperatingSystemConfigSpec,
    SecretKeySelector,
    Unit,
    WorkerPool,
    WorkerSpec,
)
from gardener.apis.openapi import IntOrString, RawExtension, decode, encode
from gardener.runtime.kube import Kube
from gardenlet.botanist import extensions
from gardenlet.botanist.shoot import shoot_info

EXAMPLES = Path(__file__).resolve().parents[5] / "hack" / "examples"
#: rendering inline content never talks to a cluster
NO_CLUSTER: Kube = None  # type: ignore[assignment]
REF = SecretReference(name="cloudprovider", namespace="shoot--dev--apps")

SPECS: list[Any] = [
    InfrastructureSpec(type="local", region="r", secretRef=REF, providerConfig=RawExtension({"a": {"b": [1]}})),
    WorkerSpec(
        type="local",
        region="r",
        secretRef=REF,
        pools=[
            WorkerPool(
                name="p",
                machineType="m",
                machineImage=MachineImage(name="local", version="1.0.0"),
                minimum=1,
                maximum=3,
                maxSurge=IntOrString("25%"),
                maxUnavailable=IntOrString("0"),
                labels={"a": "b"},
                taints=[Taint(key="k", value="v", effect="NoSchedule")],
                volume=Volume(size="20Gi", type="default"),
                dataVolumes=[Volume(name="d", size="5Gi")],
                cri=CRIConfig(name="containerd"),
                userDataSecretRef=SecretKeySelector(name="osc", key="cloud_config"),
            )
        ],
    ),
    OperatingSystemConfigSpec(type="local", purpose="provision", units=[Unit(name="kubelet.service", enable=True)]),
    NetworkSpec(type="calico", podCIDR="10.0.0.0/16", serviceCIDR="10.1.0.0/16", ipFamilies=["IPv4"]),
    DNSRecordSpec(type="local", secretRef=REF, name="api.x.local", recordType="A", values=["127.0.0.1"], ttl=120),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: type(s).__name__)
def test_encode_decode_round_trip(spec: Any) -> None:
    wire = encode(spec)
    assert decode(type(spec), wire) == spec
    assert encode(decode(type(spec), wire)) == wire
    assert all(v is not None for v in wire.values())  # unset fields are left out, not sent as null


def _shoot() -> dict[str, Any]:
    shoot: dict[str, Any] = yaml.safe_load((EXAMPLES / "50-shoot-workers.yaml").read_text())
    shoot["metadata"].update(uid="u", generation=1)
    pool = shoot["spec"]["provider"]["workers"][0]
    pool.update(
        labels={"tier": "web"},
        annotations={"note": "x"},
        taints=[{"key": "dedicated", "value": "web", "effect": "NoSchedule"}],
        volume={"type": "default", "size": "30Gi"},
        dataVolumes=[{"name": "data", "size": "10Gi", "encrypted": True}],
        providerConfig={"apiVersion": "local.provider.extensions.gardener.cloud/v1alpha1", "kind": "WorkerConfig"},
        cri={"name": "containerd"},
        kubernetes={"version": "1.30.1"},
        maxSurge=2,
        maxUnavailable="10%",
    )
    pool["machine"]["architecture"] = "arm64"
    shoot["spec"]["seedName"] = "local"
    return shoot


def test_every_worker_field_of_the_shoot_reaches_the_worker() -> None:
    info = shoot_info(_shoot())
    values = extensions.worker_values(
        info, user_data={"pool-a": SecretKeySelector(name="cloud-config-pool-a", key="cloud_config")}
    )
    spec = decode(WorkerSpec, {"type": values.type, **values.spec})
    pool = spec.pools[0]
    assert pool.labels == {"tier": "web"} and pool.annotations == {"note": "x"}
    assert pool.taints == [Taint(key="dedicated", value="web", effect="NoSchedule")]
    assert pool.volume == Volume(type="default", size="30Gi")
    assert pool.dataVolumes == [Volume(name="data", size="10Gi", encrypted=True)]
    assert pool.providerConfig == {
        "apiVersion": "local.provider.extensions.gardener.cloud/v1alpha1",
        "kind": "WorkerConfig",
    }
    assert pool.cri == CRIConfig(name="containerd") and pool.architecture == "arm64"
    assert pool.kubernetesVersion == "1.30.1"  # the pool's own version wins over the shoot's
    assert (pool.minimum, pool.maximum) == (2, 4)
    assert encode(pool)["maxSurge"] == 2 and encode(pool)["maxUnavailable"] == "10%"
    assert pool.zones == ["local-a", "local-b"]
    assert pool.machineImage is not None and pool.machineImage.name == "local"
    assert pool.userDataSecretRef == SecretKeySelector(name="cloud-config-pool-a", key="cloud_config")
    assert pool.nodeAgentSecretName == "cloud-config-pool-a"
    other = spec.pools[1]
    assert other.labels is None and other.taints is None and other.userDataSecretRef is None
    assert other.kubernetesVersion == info.kubernetes_version


def test_infrastructure_and_control_plane_specs_decode() -> None:
    info = shoot_info(_shoot())
    infra = extensions.infrastructure_values(info)
    decoded = decode(InfrastructureSpec, {"type": infra.type, **infra.spec})
    assert decoded.secretRef == SecretReference(name="cloudprovider", namespace=info.technical_id)
    assert decoded.region == info.region


def test_operating_system_config_carries_the_pool_and_renders_into_user_data() -> None:
    info = shoot_info(_shoot())
    values = extensions.operating_system_config_values(info, info.workers[0])
    assert (values.kind, values.name, values.type) == ("OperatingSystemConfig", "cloud-config-pool-a", "local")
    spec = decode(OperatingSystemConfigSpec, {"type": values.type, **values.spec})
    assert spec.criConfig == CRIConfig(name="containerd") and spec.purpose == "provision"
    document = yaml.safe_load(render(NO_CLUSTER, info.technical_id, spec).decode())
    files = {f["path"]: base64.b64decode(f["content"]).decode() for f in document["write_files"]}
    kubelet = json.loads(files[extensions.KUBELET_CONFIG])
    assert kubelet["registerWithTaints"] == [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]
    assert "--node-labels=tier=web" in files["/etc/systemd/system/kubelet.service"]
    assert files["/etc/gardener/kubernetes-version"] == "1.30.1\n"
    assert document["runcmd"][-2:] == ["systemctl enable kubelet.service", "systemctl start kubelet.service"]


def test_network_and_dns_record_specs() -> None:
    info = shoot_info(_shoot())
    network = decode(NetworkSpec, {"type": "calico", **extensions.network_values(info).spec})
    assert (network.podCIDR, network.serviceCIDR) == (info.pods_cidr, info.services_cidr)
    assert extensions.network_values(info).type == "calico"
    dns = extensions.dns_record_values(info, dns_type="local", domain="example.com", address="127.3.0.7")
    record = decode(DNSRecordSpec, {"type": dns.type, **dns.spec})
    assert (record.name, record.recordType, record.values) == ("api.apps.dev.internal.example.com", "A", ["127.3.0.7"])
    by_name = extensions.dns_record_values(info, dns_type="local", domain="example.com", address="lb.example.com")
    assert by_name.spec["recordType"] == "CNAME"
