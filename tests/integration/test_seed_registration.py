"""Seed registration end to end: bootstrap token -> CSR -> approval -> a gardenlet with its own certificate,
the seed authorizer between gardenlets, and the seed lifecycle when a gardenlet stops and comes back.

Runs the real API server, controller-manager (with shortened monitor periods), `gardenctl register seed` and
two gardenlets as processes, as an operator would. Both seeds live in one more API server, their seed cluster.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from gardener.local.garden import install_garden_api
from tests.helpers import ServerProcess, eventually, kubectl

EXAMPLES = Path(__file__).resolve().parents[2] / "hack" / "examples"
MONITOR = 2.0
SHOOT_MONITOR = 2.0
UNKNOWN_MESSAGE = "Gardenlet stopped sending heartbeats."


@dataclass
class Process:
    """A component started as a process of its own, with its log beside it."""

    name: str
    args: list[str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> Process:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, *self.args], stdout=out, stderr=out, start_new_session=True)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.running():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Seed:
    name: str
    dir: Path
    token: str
    gardenlet: Process
    metrics_port: int

    @property
    def config(self) -> Path:
        return self.dir / "gardenlet.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "gardenlet.kubeconfig"


@dataclass
class Garden:
    server: ServerProcess
    controller_manager: Process
    seeds: dict[str, Seed]
    seed_cluster: ServerProcess

    @property
    def admin(self) -> Path:
        return self.server.kubeconfig


def _get(kc: Path, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(kubectl("get", *args, "-o", "json", kubeconfig=kc).stdout)
    return out


def _condition(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == ctype:
            return dict(c)
    return {}


def _register(server: ServerProcess, name: str, root: Path, *, seed_cluster: Path) -> Seed:
    out_dir = root / f"seed-{name}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gardener.cli.main",
            "register",
            "seed",
            name,
            "--provider",
            "local",
            "--region",
            "local",
            "--zones",
            "local-a,local-b",
            "--kubeconfig",
            str(server.kubeconfig),
            "--output-dir",
            str(out_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"gardenlet --config {out_dir / 'gardenlet.yaml'} --seed-kubeconfig SEED_KUBECONFIG" in result.stdout
    bootstrap = out_dir / "bootstrap.kubeconfig"
    assert bootstrap.stat().st_mode & 0o777 == 0o600
    token = yaml.safe_load(bootstrap.read_text())["users"][0]["user"]["token"]
    config = yaml.safe_load((out_dir / "gardenlet.yaml").read_text())
    config["controllers"]["seed"]["leaseResyncSeconds"] = 0.5
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config["server"]["metrics"]["port"] = port
    (out_dir / "gardenlet.yaml").write_text(yaml.safe_dump(config))
    gardenlet = Process(
        f"gardenlet-{name}",
        ["-m", "gardenlet.main", "--config", str(out_dir / "gardenlet.yaml"), "--seed-kubeconfig", str(seed_cluster)],
        root,
    )
    return Seed(name=name, dir=out_dir, token=token, gardenlet=gardenlet, metrics_port=port)


def _shoot(name: str, seed: str) -> str:
    doc = yaml.safe_load((EXAMPLES / "40-shoot-workerless.yaml").read_text())
    doc["metadata"]["name"] = name
    doc["spec"]["seedName"] = seed
    return json.dumps(doc)


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Garden]:
    root = tmp_path_factory.mktemp("seeds")
    server = ServerProcess(data_dir=root / "apiserver").start()
    seed_cluster = ServerProcess(data_dir=root / "seed-cluster").start()
    cm = Process(
        "controller-manager",
        [
            "-m",
            "gardener.controllermanager.main",
            "--kubeconfig",
            str(server.kubeconfig),
            "--seed-monitor-period",
            str(MONITOR),
            "--shoot-monitor-period",
            str(SHOOT_MONITOR),
            "--seed-sync-period",
            "0.25",
        ],
        root,
    )
    garden = Garden(server=server, controller_manager=cm, seeds={}, seed_cluster=seed_cluster)
    try:
        install_garden_api(server.kubeconfig, timeout=60)
        cm.start()
        for manifest in ("00-project.yaml", "10-cloudprofile-local.yaml"):
            kubectl("apply", "-f", str(EXAMPLES / manifest), kubeconfig=server.kubeconfig)
        kubectl(
            "wait", "--for=jsonpath={.status.phase}=Ready", "project/dev", "--timeout=60s", kubeconfig=server.kubeconfig
        )
        kubectl("apply", "-f", str(EXAMPLES / "30-secretbinding-local.yaml"), kubeconfig=server.kubeconfig)
        for name in ("a", "b"):
            garden.seeds[name] = _register(server, name, root, seed_cluster=seed_cluster.kubeconfig)
            garden.seeds[name].gardenlet.start()
        for seed in garden.seeds.values():
            eventually(
                lambda s=seed: (
                    _condition(_get(server.kubeconfig, "seed", s.name), "GardenletReady").get("status") == "True"
                ),
                timeout=60,
                what=f"seed {seed.name} GardenletReady\n{seed.gardenlet.tail()}",
            )
        for name, seed in (("on-a", "a"), ("on-b", "b")):
            kubectl("apply", "-f", "-", kubeconfig=server.kubeconfig, input=_shoot(name, seed))
        yield garden
    finally:
        for seed in garden.seeds.values():
            seed.gardenlet.stop()
        cm.stop()
        seed_cluster.stop()
        server.stop()


def _status(server: ServerProcess, path: str, token: str) -> int:
    ctx = ssl.create_default_context(cafile=str(server.data_dir / "pki" / "ca.crt"))
    req = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_gardenlet_bootstraps_its_own_certificate(garden: Garden) -> None:
    for seed in garden.seeds.values():
        assert seed.kubeconfig.stat().st_mode & 0o777 == 0o600
        assert not (seed.dir / "bootstrap.kubeconfig").exists()
        user = yaml.safe_load(seed.kubeconfig.read_text())["users"][0]["user"]
        assert "token" not in user
        cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
        assert (
            cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
            == f"gardener.cloud:system:seed:{seed.name}"
        )
        assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
            "gardener.cloud:system:seeds"
        ]
    csrs = _get(garden.admin, "csr")["items"]
    bootstrap_csrs = [c for c in csrs if c["spec"]["username"].startswith("system:bootstrap:")]
    assert len(bootstrap_csrs) == 2
    for csr in bootstrap_csrs:
        assert _condition(csr, "Approved")["reason"] == "AutoApproved"
        assert csr["status"]["certificate"]
        assert csr["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client"
    seed = _get(garden.admin, "seed", "a")
    assert seed["status"]["capacity"] == {"shoots": "250"} == seed["status"]["allocatable"]
    assert seed["status"]["gardener"]["version"]
    assert seed["spec"]["provider"] == {"type": "local", "region": "local", "zones": ["local-a", "local-b"]}
    port = garden.seeds["a"].metrics_port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
        assert resp.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        assert 'gardenlet_seed_heartbeats_total{result="success"}' in resp.read().decode()
    lease = _get(garden.admin, "lease", "a", "-n", "gardener-system-seed-lease")
    assert lease["spec"]["holderIdentity"] == "a"
    assert lease["spec"]["renewTime"].endswith("Z") and "." in lease["spec"]["renewTime"]
    assert lease["metadata"]["ownerReferences"][0]["uid"] == seed["metadata"]["uid"]


def test_bootstrap_token_is_used_once(garden: Garden) -> None:
    for seed in garden.seeds.values():
        assert _status(garden.server, "/apis/certificates.k8s.io/v1/certificatesigningrequests", seed.token) == 401
        token_id = seed.token.split(".")[0]
        gone = kubectl(
            "get", "secret", "-n", "kube-system", f"bootstrap-token-{token_id}", kubeconfig=garden.admin, check=False
        )
        assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_gardenlet_reads_only_its_own_shoots(garden: Garden) -> None:
    a, b = garden.seeds["a"], garden.seeds["b"]
    assert _get(a.kubeconfig, "shoot", "on-a", "-n", "garden-dev")["spec"]["seedName"] == "a"
    assert _get(b.kubeconfig, "shoot", "on-b", "-n", "garden-dev")["spec"]["seedName"] == "b"
    denied = kubectl("get", "shoot", "on-b", "-n", "garden-dev", kubeconfig=a.kubeconfig, check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr and "no relationship found between seed 'a'" in denied.stderr
    denied = kubectl("get", "shoot", "on-a", "-n", "garden-dev", kubeconfig=b.kubeconfig, check=False)
    assert "Forbidden" in denied.stderr
    names = {s["metadata"]["name"] for s in _get(a.kubeconfig, "shoots", "-A")["items"]}
    assert names == {"on-a", "on-b"}  # lists cannot be filtered per object, as in Gardener
    other_seed = kubectl(
        "patch",
        "seed",
        "b",
        "--type=merge",
        "-p",
        '{"metadata":{"labels":{"x":"y"}}}',
        kubeconfig=a.kubeconfig,
        check=False,
    )
    assert "Forbidden" in other_seed.stderr
    secret = kubectl("get", "secret", "local-credentials", "-n", "garden-dev", kubeconfig=a.kubeconfig)
    assert secret.returncode == 0
    system = kubectl("get", "secrets", "-n", "kube-system", kubeconfig=a.kubeconfig, check=False)
    assert "Forbidden" in system.stderr


def _set_shoot_conditions(admin: Path, shoot: str, status: str) -> None:
    conditions = [
        {
            "type": t,
            "status": status,
            "reason": "Checked",
            "message": "set by the test",
            "lastTransitionTime": "2025-01-01T00:00:00Z",
            "lastUpdateTime": "2025-01-01T00:00:00Z",
        }
        for t in ("APIServerAvailable", "ControlPlaneHealthy", "EveryNodeReady", "SystemComponentsHealthy")
    ]
    kubectl(
        "patch",
        "shoot",
        shoot,
        "-n",
        "garden-dev",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"conditions": conditions}}),
        kubeconfig=admin,
    )


def _shoot_statuses(admin: Path, shoot: str) -> set[str]:
    return {c["status"] for c in _get(admin, "shoot", shoot, "-n", "garden-dev")["status"].get("conditions") or []}


def test_stopped_gardenlet_turns_seed_and_shoots_unknown_and_recovers(garden: Garden) -> None:
    a, admin = garden.seeds["a"], garden.admin
    for shoot in ("on-a", "on-b"):
        _set_shoot_conditions(admin, shoot, "True")
    a.gardenlet.stop()

    def seed_unknown() -> bool:
        ready = _condition(_get(admin, "seed", "a"), "GardenletReady")
        return ready.get("status") == "Unknown" and ready.get("reason") == "SeedStatusUnknown"

    eventually(seed_unknown, timeout=30, what="seed a GardenletReady Unknown")
    assert _shoot_statuses(admin, "on-a") == {"True"}  # the shoot monitor period has not passed yet

    def shoot_unknown() -> bool:
        shoot = _get(admin, "shoot", "on-a", "-n", "garden-dev")
        conditions = shoot["status"]["conditions"]
        return all(c["status"] == "Unknown" and c["message"] == UNKNOWN_MESSAGE for c in conditions)

    eventually(shoot_unknown, timeout=30, what="shoot on-a conditions Unknown")
    shoot = _get(admin, "shoot", "on-a", "-n", "garden-dev")
    assert {c["type"] for c in shoot["status"]["conditions"]} >= {"ObservabilityComponentsHealthy", "EveryNodeReady"}
    assert {c["type"] for c in shoot["status"]["constraints"]} == {
        "HibernationPossible",
        "MaintenancePreconditionsSatisfied",
    }
    assert _condition(_get(admin, "seed", "b"), "GardenletReady")["status"] == "True"
    assert _shoot_statuses(admin, "on-b") == {"True"}

    csrs_before = len(_get(admin, "csr")["items"])
    a.gardenlet.start()
    eventually(
        lambda: _condition(_get(admin, "seed", "a"), "GardenletReady").get("status") == "True",
        timeout=30,
        what=f"seed a GardenletReady True again\n{a.gardenlet.tail()}",
    )
    assert len(_get(admin, "csr")["items"]) == csrs_before  # restarted with its certificate, no new bootstrap
    # The shoots' health is the gardenlet's care controller's to report again; once it has, the lifecycle
    # controller leaves it alone for as long as the heartbeats go on.
    _set_shoot_conditions(admin, "on-a", "True")
    recovered_at = _get(admin, "lease", "a", "-n", "gardener-system-seed-lease")["spec"]["renewTime"]
    since = dt.datetime.fromisoformat(recovered_at.replace("Z", "+00:00"))

    def heartbeats_went_on() -> bool:
        renewed = _get(admin, "lease", "a", "-n", "gardener-system-seed-lease")["spec"]["renewTime"]
        later = dt.datetime.fromisoformat(renewed.replace("Z", "+00:00"))
        return (later - since).total_seconds() > MONITOR + SHOOT_MONITOR + 1

    eventually(heartbeats_went_on, timeout=30, what="heartbeats for longer than both monitor periods")
    assert _condition(_get(admin, "seed", "a"), "GardenletReady")["status"] == "True"
    assert _shoot_statuses(admin, "on-a") == {"True"}
