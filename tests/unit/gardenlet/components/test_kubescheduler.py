"""The kube-scheduler component: its chart against saved YAML, its configuration file, and its values.

Regenerate the saved file after an intended chart change with `UPDATE_GOLDEN=1 pytest <this file>`, review the
diff and run again without it (a run that rewrites a file fails).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.runtime.kube import Kube
from gardenlet.botanist import controlplane
from gardenlet.botanist.profile import SeedProfile
from gardenlet.botanist.shoot import shoot_info
from gardenlet.components.kubescheduler import KubeScheduler, KubeSchedulerValues

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "gardenlet"
EXAMPLES = Path(__file__).resolve().parents[4] / "hack" / "examples"
NO_CLUSTER: Kube = None  # type: ignore[assignment]
VALUES = KubeSchedulerValues(
    namespace="shoot--dev--demo", image="registry.k8s.io/kube-scheduler:v1.32.2", secrets_checksum="0123456789abcdef"
)
CASE = "kube-scheduler"


def _manifests() -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in KubeScheduler(NO_CLUSTER, VALUES).manifests()}


def test_rendering_matches_saved_yaml() -> None:
    path = GOLDEN / f"{CASE}.yaml"
    objects = KubeScheduler(NO_CLUSTER, VALUES).manifests()
    rendered = yaml.safe_dump_all(objects, sort_keys=True)
    if os.environ.get("UPDATE_GOLDEN") and (not path.exists() or path.read_text() != rendered):
        path.write_text(rendered)
        pytest.fail(f"rewrote {path}: review the diff, then run again without UPDATE_GOLDEN")
    assert path.exists(), f"no saved YAML for {CASE}: run with UPDATE_GOLDEN=1 and review it"
    assert list(yaml.safe_load_all(path.read_text())) == objects


def test_the_configuration_names_the_mounted_kubeconfig_and_rolls_the_pod() -> None:
    objects = _manifests()
    data = objects["ConfigMap"]["data"]
    config = yaml.safe_load(data["config.yaml"])
    assert (config["apiVersion"], config["kind"]) == ("kubescheduler.config.k8s.io/v1", "KubeSchedulerConfiguration")
    assert config["leaderElection"] == {"leaderElect": True}
    template = objects["Deployment"]["spec"]["template"]
    container = template["spec"]["containers"][0]
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert volumes["kubeconfig"]["secret"]["secretName"] == "shoot-access-kube-scheduler"
    assert config["clientConnection"]["kubeconfig"] == f"{mounts['kubeconfig']}/kubeconfig"
    assert volumes["config"]["configMap"]["name"] == objects["ConfigMap"]["metadata"]["name"]
    assert f"--config={mounts['config']}/config.yaml" in container["command"]
    checksum = hashlib.sha256(data["config.yaml"].encode()).hexdigest()[:16]
    assert template["metadata"]["annotations"]["checksum/config"] == checksum
    assert container["command"][0] == "/usr/local/bin/kube-scheduler"
    assert "--secure-port=10259" in container["command"]
    probe = container["livenessProbe"]["httpGet"]
    assert (probe["path"], probe["port"], probe["scheme"]) == ("/healthz", 10259, "HTTPS")
    labels = objects["Deployment"]["metadata"]["labels"]
    assert labels["gardener.cloud/role"] == "controlplane"  # the care controller finds it by this label


def test_values_follow_the_shoot_and_the_seed_profile() -> None:
    shoot: dict[str, Any] = yaml.safe_load((EXAMPLES / "50-shoot-workers.yaml").read_text())
    shoot["metadata"].update(uid="uid-1", generation=1)
    shoot["spec"]["kubernetes"] = {"version": "v1.32.2"}
    values = controlplane.kube_scheduler_values(shoot_info(shoot), SeedProfile(), secrets_checksum="c1")
    assert values == replace(VALUES, namespace="shoot--dev--apps", secrets_checksum="c1")
    shoot["spec"]["hibernation"] = {"enabled": True}
    mirror = replace(SeedProfile(), kube_scheduler_repository="mirror.example/scheduler")
    asleep = controlplane.kube_scheduler_values(shoot_info(shoot), mirror)
    assert (asleep.replicas, asleep.image) == (0, "mirror.example/scheduler:v1.32.2")
