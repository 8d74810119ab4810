"""Flags and the KubeSchedulerConfiguration file; the pods/status patch of a failed attempt."""

from __future__ import annotations

from pathlib import Path

import pytest

from gardener.kube_scheduler.config import ConfigError, load_file
from gardener.kube_scheduler.main import build_config, parser
from gardener.kube_scheduler.scheduler import pod_scheduled_patch

CONFIG = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: /etc/kubernetes/scheduler.conf
  qps: 100
leaderElection:
  leaderElect: true
  leaseDuration: 30s
  resourceName: my-scheduler
percentageOfNodesToScore: 30
podMaxBackoffSeconds: 20
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packer
  percentageOfNodesToScore: 60
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
"""


def test_config_file_and_flags(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    config = load_file(path)
    assert config.profiles == {"default-scheduler": 30, "bin-packer": 60}
    assert config.pod_max_backoff == 20.0 and config.pod_initial_backoff == 1.0
    assert config.leader_election.lease_duration == 30.0 and config.leader_election.name == "my-scheduler"
    assert config.ignored == ("clientConnection.qps", "profiles[1].plugins")
    # leader election flags given on the command line win; --kubeconfig only when the file names none
    args = parser().parse_args(
        [f"--config={path}", "--kubeconfig=/other", "--leader-elect=false", "--authentication-kubeconfig=/x", "--v=2"]
    )
    config, kubeconfig = build_config(args)
    assert kubeconfig == Path("/etc/kubernetes/scheduler.conf")
    assert not config.leader_election.leader_elect and config.leader_election.lease_duration == 30.0
    config, kubeconfig = build_config(parser().parse_args(["--kubeconfig=/k"]))
    assert kubeconfig == Path("/k") and config.profiles == {"default-scheduler": 0}
    assert config.leader_election.namespace == "kube-system" and config.leader_election.name == "kube-scheduler"
    with pytest.raises(ConfigError, match="no kubeconfig"):
        build_config(parser().parse_args([]))


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n",
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\npercentageOfNodesToScore: 101\n",
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "profiles: [{schedulerName: a}, {schedulerName: a}]\n",
    ],
)
def test_config_file_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_file(path)


def testpod_scheduled_patch_only_when_the_condition_changes() -> None:
    pending = {"status": {"phase": "Pending"}}
    patch = pod_scheduled_patch(
        pending, reason="Unschedulable", message="0/1 nodes are available: 1 Too many pods.", nominate=""
    )
    assert patch is not None
    (cond,) = patch["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "Unschedulable")
    assert "nominatedNodeName" not in patch["status"]
    done = {"status": {"conditions": [{**cond, "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}
    assert pod_scheduled_patch(done, reason="Unschedulable", message=cond["message"], nominate=None) is None
    changed = pod_scheduled_patch(done, reason="Unschedulable", message="other", nominate="n1")
    assert changed is not None
    assert changed["status"]["conditions"][0]["lastTransitionTime"] == "2024-01-01T00:00:00Z"
    assert changed["status"]["nominatedNodeName"] == "n1"
