"""The kube-controller-manager component: its chart against saved YAML, Gardener's command line, and the values
the botanist derives from a Shoot.

Regenerate the saved files after an intended chart change with `UPDATE_GOLDEN=1 pytest <this file>`, review the
diff and run again without it (a run that rewrites a file fails).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.runtime.kube import Kube
from gardenlet.botanist import controlplane
from gardenlet.botanist.profile import HOST_PROCESSES, SeedProfile
from gardenlet.botanist.shoot import ShootInfo, shoot_info
from gardenlet.components.kubecontrollermanager import KubeControllerManager, KubeControllerManagerValues

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "gardenlet"
EXAMPLES = Path(__file__).resolve().parents[4] / "hack" / "examples"
NS = "shoot--dev--demo"
#: rendering never talks to a cluster
NO_CLUSTER: Kube = None  # type: ignore[assignment]
VALUES = KubeControllerManagerValues(
    namespace=NS,
    image="registry.k8s.io/kube-controller-manager:v1.32.2",
    cluster_name=NS,
    service_cidr="100.64.0.0/13",
    pods_cidr="100.96.0.0/11",
    secrets_checksum="0123456789abcdef",
)


def _info(example: str, *, version: str = "1.32.2", hibernated: bool = False) -> ShootInfo:
    shoot: dict[str, Any] = yaml.safe_load((EXAMPLES / example).read_text())
    shoot["metadata"].update(uid="uid-1", generation=1)
    shoot["spec"]["kubernetes"] = {"version": version}
    shoot["spec"]["hibernation"] = {"enabled": hibernated}
    return shoot_info(shoot)


def _container(values: KubeControllerManagerValues) -> dict[str, Any]:
    deployment = KubeControllerManager(NO_CLUSTER, values).manifests()[0]
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


CASES = {
    "kube-controller-manager-workers": KubeControllerManager(NO_CLUSTER, VALUES).manifests(),
    "kube-controller-manager-workerless-hibernated": KubeControllerManager(
        NO_CLUSTER,
        replace(
            VALUES,
            workerless=True,
            replicas=0,
            disabled_controllers=controlplane.kube_controller_manager_values(
                _info("40-shoot-workerless.yaml"), SeedProfile()
            ).disabled_controllers,
        ),
    ).manifests(),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendering_matches_saved_yaml(case: str) -> None:
    path = GOLDEN / f"{case}.yaml"
    rendered = yaml.safe_dump_all(CASES[case], sort_keys=True)
    if os.environ.get("UPDATE_GOLDEN") and (not path.exists() or path.read_text() != rendered):
        path.write_text(rendered)
        pytest.fail(f"rewrote {path}: review the diff, then run again without UPDATE_GOLDEN")
    assert path.exists(), f"no saved YAML for {case}: run with UPDATE_GOLDEN=1 and review it"
    assert list(yaml.safe_load_all(path.read_text())) == CASES[case]


def test_command_line_is_gardeners() -> None:
    container = _container(VALUES)
    command = container["command"]
    assert command[0] == "/usr/local/bin/kube-controller-manager"
    kubeconfig = "/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig/kubeconfig"
    for flag in (
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--controllers=*,bootstrapsigner,tokencleaner",
        "--use-service-account-credentials=true",
        "--leader-elect=true",
        "--secure-port=10257",
        f"--cluster-name={NS}",
        "--cluster-signing-cert-file=/srv/kubernetes/ca/ca.crt",
        "--cluster-signing-key-file=/srv/kubernetes/ca/ca.key",
        "--root-ca-file=/srv/kubernetes/ca/ca.crt",
        "--service-account-private-key-file=/srv/kubernetes/service-account-key/sa.key",
        "--node-monitor-grace-period=40s",
        "--allocate-node-cidrs=true",
        "--cluster-cidr=100.96.0.0/11",
        "--service-cluster-ip-range=100.64.0.0/13",
    ):
        assert flag in command, flag
    assert len({arg.partition("=")[0] for arg in command}) == len(command), "a flag given twice"
    # every file the command names is in a mounted volume
    mounts = [m["mountPath"] for m in container["volumeMounts"]]
    for arg in command[1:]:
        value = arg.partition("=")[2]
        if value.startswith("/"):
            assert any(value.startswith(f"{m}/") for m in mounts), arg
    probe = container["livenessProbe"]["httpGet"]
    assert (probe["path"], probe["port"], probe["scheme"]) == ("/healthz", 10257, "HTTPS")


def test_a_workerless_shoot_runs_no_node_or_volume_controllers() -> None:
    values = controlplane.kube_controller_manager_values(_info("40-shoot-workerless.yaml"), SeedProfile())
    assert values.workerless
    command = _container(values)["command"]
    controllers = next(a for a in command if a.startswith("--controllers="))
    assert controllers == (
        "--controllers=*,bootstrapsigner,tokencleaner,-attachdetach,-cloud-node-lifecycle,-endpoint,"
        "-ephemeral-volume,-nodeipam,-nodelifecycle,-persistentvolume-binder,-persistentvolume-expander,"
        "-pv-protection,-ttl"
    )
    assert not [a for a in command if a.startswith(("--allocate-node-cidrs", "--cluster-cidr", "--node-monitor"))]
    # controllers that only newer Kubernetes versions have are disabled only there
    newer = controlplane.kube_controller_manager_values(
        _info("40-shoot-workerless.yaml", version="1.34.0"), SeedProfile()
    )
    assert {"device-taint-eviction-controller", "podcertificaterequest-cleaner-controller"} <= set(
        newer.disabled_controllers
    )
    assert "device-taint-eviction-controller" not in values.disabled_controllers


def test_values_follow_the_shoot_and_the_seed_profile() -> None:
    awake = controlplane.kube_controller_manager_values(_info("50-shoot-workers.yaml"), HOST_PROCESSES)
    assert awake.image == "registry.k8s.io/kube-controller-manager:v1.32.2"
    assert (awake.replicas, awake.workerless, awake.disabled_controllers) == (1, False, ())
    assert awake.cluster_name == awake.namespace == "shoot--dev--apps"
    mirror = replace(SeedProfile(), kube_controller_manager_repository="mirror.example/kcm")
    asleep = controlplane.kube_controller_manager_values(
        _info("50-shoot-workers.yaml", hibernated=True), mirror, secrets_checksum="c1"
    )
    assert (asleep.replicas, asleep.image, asleep.secrets_checksum) == (0, "mirror.example/kcm:v1.32.2", "c1")
