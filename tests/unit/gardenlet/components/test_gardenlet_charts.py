"""Chart rendering against saved YAML: what the components apply for the typical values of each mode.

After an intended chart change, regenerate the saved files with
`UPDATE_GOLDEN=1 pytest tests/unit/gardenlet/components/test_gardenlet_charts.py`, review the diff and run
again without it: a run that rewrites a file fails, so a regenerated file can never pass unreviewed in the same run.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.runtime.kube import Kube
from gardenlet.components.base import render
from gardenlet.components.etcd import Etcd, EtcdValues
from gardenlet.components.extension import ExtensionResource, ExtensionValues
from gardenlet.components.kubeapiserver import KubeAPIServer, KubeAPIServerService, KubeAPIServerValues, ServiceValues
from gardenlet.components.namespace import Namespace, NamespaceValues

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "gardenlet"
NS = "shoot--dev--demo"
#: rendering never talks to a cluster
NO_CLUSTER: Kube = None  # type: ignore[assignment]


def _apiserver(**changes: Any) -> KubeAPIServerValues:
    values: dict[str, Any] = {
        "namespace": NS,
        "image": "registry.k8s.io/kube-apiserver:v1.32.2",
        "etcd_servers": "http://$(ETCD_MAIN_CLIENT_SERVICE_HOST):$(ETCD_MAIN_CLIENT_SERVICE_PORT)",
        "advertise_address": "127.3.0.1",
        "service_account_issuer": "https://127.3.0.1",
        "service_cidr": "100.64.0.0/13",
        "etcd_tls": False,
        "embedded_csr_signer": True,
        "probe_period_seconds": 1,
        "secrets_checksum": "0123456789abcdef",
    }
    return KubeAPIServerValues(**{**values, **changes})


def _cases() -> dict[str, list[dict[str, Any]]]:
    worker = ExtensionValues(
        kind="Worker",
        name="demo",
        namespace=NS,
        type="local",
        spec={"region": "local", "pools": [{"name": "pool-a", "minimum": 1, "maximum": 2}]},
    )
    fixed = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    etcd = EtcdValues(namespace=NS, image="registry.k8s.io/etcd:3.5.17-0", secrets_checksum="fedcba9876543210")
    return {
        "etcd-local": Etcd(NO_CLUSTER, replace(etcd, tls=False, probe_period_seconds=1)).manifests(),
        "etcd-tls-hibernated": Etcd(NO_CLUSTER, replace(etcd, replicas=0)).manifests(),
        "kube-apiserver-local": KubeAPIServer(NO_CLUSTER, _apiserver()).manifests(),
        "kube-apiserver-tls": KubeAPIServer(
            NO_CLUSTER,
            _apiserver(
                etcd_servers="https://$(ETCD_MAIN_CLIENT_SERVICE_HOST):$(ETCD_MAIN_CLIENT_SERVICE_PORT)",
                etcd_tls=True,
                embedded_csr_signer=False,
                probe_period_seconds=10,
            ),
        ).manifests(),
        "kube-apiserver-service": KubeAPIServerService(NO_CLUSTER, ServiceValues(namespace=NS)).manifests(),
        "namespace": Namespace(
            NO_CLUSTER, NamespaceValues(name=NS, labels={"gardener.cloud/role": "shoot"})
        ).manifests(),
        "worker": ExtensionResource(NO_CLUSTER, worker, now=lambda: fixed).manifests(),
    }


CASES = _cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendering_matches_saved_yaml(case: str) -> None:
    path = GOLDEN / f"{case}.yaml"
    rendered = yaml.safe_dump_all(CASES[case], sort_keys=True)
    if os.environ.get("UPDATE_GOLDEN") and (not path.exists() or path.read_text() != rendered):
        path.write_text(rendered)
        pytest.fail(f"rewrote {path}: review the diff, then run again without UPDATE_GOLDEN")
    assert path.exists(), f"no saved YAML for {case}: run with UPDATE_GOLDEN=1 and review it"
    assert list(yaml.safe_load_all(path.read_text())) == CASES[case]


def test_etcd_claims_and_probe_follow_tls() -> None:
    local, tls = CASES["etcd-local"][1], CASES["etcd-tls-hibernated"][1]
    assert local["kind"] == "StatefulSet" and local["spec"]["replicas"] == 1
    assert tls["spec"]["replicas"] == 0
    container = local["spec"]["template"]["spec"]["containers"][0]
    assert "--listen-client-urls=http://$(POD_IP):2379" in container["args"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    tls_container = tls["spec"]["template"]["spec"]["containers"][0]
    assert "--client-cert-auth=true" in tls_container["args"]
    assert {v["name"] for v in tls["spec"]["template"]["spec"]["volumes"]} == {"ca", "server", "peer"}
    assert local["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "main-etcd"


def test_only_the_embedded_api_server_gets_the_ca_key() -> None:
    def args(case: str) -> list[str]:
        deployment = CASES[case][0]
        return list(deployment["spec"]["template"]["spec"]["containers"][0]["args"])

    assert "--cluster-signing-key-file=/srv/kubernetes/ca-signer/ca.key" in args("kube-apiserver-local")
    assert not [a for a in args("kube-apiserver-tls") if a.startswith("--cluster-signing")]
    assert "--etcd-certfile=/srv/kubernetes/etcd/client/tls.crt" in args("kube-apiserver-tls")


def test_values_are_quoted_so_yaml_cannot_reinterpret_them(tmp_path: Path) -> None:
    chart = tmp_path / "probe"
    chart.mkdir()
    (chart / "a.yaml.j2").write_text("{% for k, v in values.items() %}{{ k | q }}: {{ v | q }}\n{% endfor %}")
    values = {"on": "yes", "version": "1.30", "null": "~", "text": 'a "quoted": thing'}
    assert render("probe", {"values": values}, charts_dir=tmp_path) == [values]


def test_missing_values_fail_loudly(tmp_path: Path) -> None:
    chart = tmp_path / "broken"
    chart.mkdir()
    (chart / "a.yaml.j2").write_text("name: {{ nope }}\n")
    with pytest.raises(Exception, match="nope"):
        render("broken", {}, charts_dir=tmp_path)
