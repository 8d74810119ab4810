"""The extension and machine API types: CRDs generated from them, and Gardener manifests decoding into them."""

from __future__ import annotations

from typing import Any

from gardener.apis.extensions import v1alpha1 as ext
from gardener.apis.extensions.crds import extensions_crds
from gardener.apis.openapi import decode, encode


def _by_kind() -> dict[str, Any]:
    return {c["spec"]["names"]["kind"]: c for c in extensions_crds()}


def test_every_kind_has_a_crd_in_its_group_and_scope() -> None:
    crds = _by_kind()
    assert set(crds) == {
        "Infrastructure",
        "ControlPlane",
        "Worker",
        "OperatingSystemConfig",
        "Network",
        "DNSRecord",
        "BackupBucket",
        "Extension",
        "Cluster",
        "MachineClass",
        "MachineDeployment",
        "MachineSet",
        "Machine",
    }

    def spec(kind: str) -> Any:
        return crds[kind]["spec"]

    assert spec("Worker")["group"] == "extensions.gardener.cloud" and spec("Worker")["scope"] == "Namespaced"
    assert spec("BackupBucket")["scope"] == "Cluster" and spec("Cluster")["scope"] == "Cluster"
    assert spec("Machine")["group"] == "machine.sapcloud.io"
    assert spec("MachineDeployment")["versions"][0]["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas"
    assert "scale" not in spec("Machine")["versions"][0]["subresources"]


def test_machine_class_fields_are_top_level_like_mcm() -> None:
    schema = _by_kind()["MachineClass"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["required"] == ["providerSpec"]
    assert schema["properties"]["providerSpec"]["x-kubernetes-preserve-unknown-fields"] is True
    assert schema["properties"]["provider"] == {"type": "string"}
    machine = _by_kind()["Machine"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert "class" in machine["properties"]["spec"]["properties"]


def test_a_gardener_worker_manifest_decodes_and_round_trips() -> None:
    spec = {
        "type": "local",
        "region": "local",
        "secretRef": {"name": "cloudprovider", "namespace": "shoot--p--s"},
        "infrastructureProviderStatus": {"kind": "InfrastructureStatus"},
        "pools": [
            {
                "name": "pool-a",
                "machineType": "local-small",
                "machineImage": {"name": "local", "version": "1.0.0"},
                "minimum": 1,
                "maximum": 3,
                "maxSurge": 1,
                "maxUnavailable": "25%",
                "zones": ["a", "b"],
                "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}],
                "userDataSecretRef": {"name": "osc", "key": "cloud_config"},
            }
        ],
    }
    worker = decode(ext.WorkerSpec, spec)
    assert worker.pools[0].maxUnavailable == "25%" and worker.pools[0].taints is not None
    assert encode(worker) == spec


def test_status_codes_that_stop_retries() -> None:
    assert ext.ErrorCode.CONFIGURATION_PROBLEM in ext.NON_RETRYABLE_CODES
    assert ext.ErrorCode.INFRA_RATE_LIMITS_EXCEEDED not in ext.NON_RETRYABLE_CODES
