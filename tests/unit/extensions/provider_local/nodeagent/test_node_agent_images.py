"""The node agent's image table: which host program a container image runs, with which argv and env."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from extensions.provider_local.nodeagent.images import ImageError, ImageTable, etcd_binary
from gardener.kube_controller_manager import main as kcm_main
from gardener.kube_controller_manager.registry import KNOWN, select
from gardener.kube_scheduler import main as scheduler_main
from gardenlet.components.kubecontrollermanager import KubeControllerManager, KubeControllerManagerValues
from gardenlet.components.kubescheduler import KubeScheduler, KubeSchedulerValues

VARIABLES = {
    "python": sys.executable,
    "pod_ip": "127.1.0.5",
    "host_ip": "127.0.0.1",
    "pod_dir": "/agent/pods/p",
    "pod_name": "p",
    "namespace": "ns",
    "node_name": "local",
    "data_dir": "/agent",
}


@pytest.fixture
def table() -> ImageTable:
    return ImageTable.load(None)


def test_etcd_images_run_the_host_etcd(table: ImageTable) -> None:
    cmd = table.launch(
        "europe-docker.pkg.dev/gardener-project/releases/etcd:v3.5.9",
        command=["/usr/local/bin/etcd"],
        args=["--name=etcd-0", "--listen-client-urls=http://127.1.0.5:2379"],
        variables=VARIABLES,
    )
    assert cmd.rule == "etcd"
    assert cmd.argv == (etcd_binary(), "--name=etcd-0", "--listen-client-urls=http://127.1.0.5:2379")
    # The manifest's flag wins; the unset listeners default to the pod's own address.
    assert "ETCD_LISTEN_CLIENT_URLS" not in cmd.env
    assert cmd.env["ETCD_ADVERTISE_CLIENT_URLS"] == "http://127.1.0.5:2379"
    assert cmd.env["ETCD_LISTEN_PEER_URLS"] == "http://127.1.0.5:2380"


def test_etcd_entrypoint_when_only_args_are_given(table: ImageTable) -> None:
    cmd = table.launch("quay.io/coreos/etcd:v3.5.9", command=[], args=["--data-dir=/d"], variables=VARIABLES)
    assert cmd.argv == (etcd_binary(), "--data-dir=/d")


def test_kube_apiserver_becomes_our_api_server(table: ImageTable) -> None:
    cmd = table.launch(
        "registry.k8s.io/kube-apiserver:v1.31.1",
        command=["/usr/local/bin/kube-apiserver"],
        args=[
            "--etcd-servers=http://127.2.0.3:2379",
            "--secure-port=443",
            "--allow-privileged=true",
            "--bind-address=0.0.0.0",
            "--advertise-address=127.3.0.1",
        ],
        variables=VARIABLES,
    )
    assert cmd.argv == (
        sys.executable,
        "-m",
        "gardener.apiserver.main",
        "--storage=etcd",
        "--etcd-servers=http://127.2.0.3:2379",
        "--secure-port=443",
        "--tls-san=127.3.0.1",
        "--data-dir=/agent/pods/p/apiserver",
        "--bind-address=127.1.0.5",
        "--tls-san=127.1.0.5",
    )


@pytest.mark.parametrize("image", ["python:3.11", "docker.io/library/python:3.12-slim", "python"])
def test_python_images_use_this_interpreter(table: ImageTable, image: str) -> None:
    cmd = table.launch(image, command=["python3", "-c", "print(1)"], args=[], variables=VARIABLES)
    assert cmd.argv == (sys.executable, "-c", "print(1)")
    assert table.launch(image, command=[], args=[], variables=VARIABLES).argv == (sys.executable,)


def test_shell_images_run_commands_as_given(table: ImageTable) -> None:
    cmd = table.launch("busybox:1.36", command=["sleep"], args=["3600"], variables=VARIABLES)
    assert cmd.argv == ("sleep", "3600")
    assert cmd.rule == "shell"


def test_unknown_images_need_a_command(table: ImageTable) -> None:
    assert table.launch("example.com/tool:1", command=["/bin/true"], args=[], variables=VARIABLES).argv == (
        "/bin/true",
    )
    with pytest.raises(ImageError):
        table.launch("example.com/tool:1", command=[], args=["--flag"], variables=VARIABLES)


def test_exec_probe_commands_map_named_programs_only(table: ImageTable) -> None:
    assert table.helper_argv("python:3.11", ["python3", "-c", "1"], VARIABLES) == [sys.executable, "-c", "1"]
    assert table.helper_argv("registry.k8s.io/kube-apiserver:v1", ["sh", "-c", "true"], VARIABLES) == [
        "sh",
        "-c",
        "true",
    ]


def test_configured_rules_come_first(tmp_path: Path) -> None:
    config = tmp_path / "images.yaml"
    config.write_text(
        """
images:
- name: vpn
  match: ["*vpn-seed-server*"]
  entrypoint: [/vpn]
  programs: {vpn: ["{python}", "-m", "vpn", "--pod={pod_name}"]}
  flags: {--keep: keep, --drop: drop, --rename: ["--renamed={value}"]}
  unknownFlags: drop
  extraArgs: ["--ip={pod_ip}"]
  env: {VPN_HOME: "{pod_dir}/vpn"}
"""
    )
    table = ImageTable.load(config)
    cmd = table.launch(
        "gardener/vpn-seed-server:v1",
        command=[],
        args=["--keep=1", "--drop=2", "--rename=3", "--other", "positional"],
        variables=VARIABLES,
    )
    assert cmd.argv == (
        sys.executable,
        "-m",
        "vpn",
        "--pod=p",
        "--keep=1",
        "--renamed=3",
        "positional",
        "--ip=127.1.0.5",
    )
    assert cmd.env == {"VPN_HOME": "/agent/pods/p/vpn"}
    assert table.rule_for("quay.io/coreos/etcd:v3").name == "etcd", "built-in rules still apply"


def test_bad_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "images.yaml"
    config.write_text("images:\n- name: x\n  match: '*'\n")
    with pytest.raises(ValueError, match="match"):
        ImageTable.load(config)


def _chart_container(component: Any) -> dict[str, Any]:
    deployment = next(obj for obj in component.manifests() if obj["kind"] == "Deployment")
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_the_gardenlets_kube_controller_manager_runs_ours(table: ImageTable) -> None:
    """Gardener's command line (as the gardenlet's chart writes it) becomes one our manager's parser accepts."""
    values = KubeControllerManagerValues(
        namespace="shoot--dev--demo",
        image="registry.k8s.io/kube-controller-manager:v1.32.2",
        cluster_name="shoot--dev--demo",
        service_cidr="100.64.0.0/13",
        pods_cidr="100.96.0.0/11",
        disabled_controllers=("attachdetach", "nodeipam"),
    )
    container = _chart_container(KubeControllerManager(None, values))  # type: ignore[arg-type]
    cmd = table.launch(values.image, command=container["command"], args=[], variables=VARIABLES)
    assert cmd.rule == "kube-controller-manager"
    assert cmd.argv[:3] == (sys.executable, "-m", "gardener.kube_controller_manager.main")
    flags = cmd.argv[3:]
    assert "--kubeconfig=/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig/kubeconfig" in flags
    assert "--controllers=*,bootstrapsigner,tokencleaner,-attachdetach,-nodeipam" in flags
    assert {"--use-service-account-credentials=true", "--leader-elect=true", "--secure-port=10257"} <= set(flags)
    assert flags[-1] == "--bind-address=127.1.0.5"
    assert not [f for f in flags if f.startswith(("--cluster-signing", "--concurrent-", "--kube-api-", "--v="))]
    args = kcm_main.parser().parse_args(list(flags))
    assert (args.secure_port, args.bind_address) == (10257, "127.1.0.5")
    # upstream's names our manager lacks are accepted and reported, not refused
    selection = select(KNOWN, args.controllers.split(","))
    assert selection.unavailable == ("bootstrapsigner", "tokencleaner")
    assert "deployment-controller" in {d.name for d in selection.controllers}
    assert args.node_monitor_grace_period == 40.0 and args.leader_elect == "true"


def test_the_gardenlets_kube_scheduler_runs_ours(table: ImageTable) -> None:
    values = KubeSchedulerValues(namespace="shoot--dev--demo", image="registry.k8s.io/kube-scheduler:v1.32.2")
    container = _chart_container(KubeScheduler(None, values))  # type: ignore[arg-type]
    cmd = table.launch(values.image, command=container["command"], args=[], variables=VARIABLES)
    assert cmd.rule == "kube-scheduler"
    kubeconfig = "/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig/kubeconfig"
    assert cmd.argv == (
        sys.executable,
        "-m",
        "gardener.kube_scheduler.main",
        # the configuration file names the kubeconfig by its in-container path, which is not rewritten
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--secure-port=10259",
        "--bind-address=127.1.0.5",
    )
    args = scheduler_main.parser().parse_args(list(cmd.argv[3:]))
    assert (args.kubeconfig, args.config, args.secure_port, args.bind_address) == (
        Path(kubeconfig),
        None,
        10259,
        "127.1.0.5",
    )
