"""A seed takes shoots only when it can build them: gardenlets registered with `gardenctl register seed`, a seed
cluster of their own, the controller-manager's seed lifecycle (short monitor period) and the scheduler, each a
process of its own.

The seed cluster is an API server with the extension CRDs and one Node kept Ready by the test (standing in for
the provider-local node agent, which would need loopback networks of its own).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.apis.extensions.crds import extensions_crds
from gardener.local.garden import install_crds
from gardener.runtime.kube import Kube
from tests.helpers import ServerProcess, eventually, kubectl
from tests.scheduling import (
    CORE,
    NAMESPACE,
    SchedulerProcess,
    kube_for,
    prepare_garden,
    scheduler_kubeconfig,
    shoot,
)

MONITOR = 2.0
NODE = "seed-node"
REGION = "local"


@dataclass
class Gardenlet:
    name: str
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, *, seed_kubeconfig: Path) -> None:
        args = ["-m", "gardenlet.main", "--config", str(self.config), "--seed-kubeconfig", str(seed_kubeconfig)]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=out, start_new_session=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:]) if self.log.exists() else ""


@dataclass
class Garden:
    root: Path
    server: ServerProcess
    seed_cluster: ServerProcess
    kube: Kube
    gardenlets: dict[str, Gardenlet] = field(default_factory=dict)


def _process(root: Path, name: str, args: list[str]) -> subprocess.Popen[bytes]:
    with open(root / f"{name}.log", "ab") as out:
        return subprocess.Popen([sys.executable, *args], stdout=out, stderr=out, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def _node_heartbeats(seed: Kube, stop: threading.Event) -> None:
    """Keep the seed's Node Ready, as the node agent does every 20 s."""
    seed.raw("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    while True:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now}
        seed.raw(
            "PATCH",
            f"/api/v1/nodes/{NODE}/status",
            {"status": {"conditions": [{**ready, "lastTransitionTime": now}]}},
            content_type="application/merge-patch+json",
        )
        if stop.wait(10):
            return


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Garden]:
    root = tmp_path_factory.mktemp("readiness")
    server = ServerProcess(data_dir=root / "apiserver").start()
    seed_cluster = ServerProcess(data_dir=root / "seed-cluster").start()
    procs: list[subprocess.Popen[bytes]] = []
    scheduler = SchedulerProcess(kubeconfig=Path(), log_path=root / "scheduler.log")
    stop = threading.Event()
    garden = Garden(root=root, server=server, seed_cluster=seed_cluster, kube=kube_for(server.kubeconfig))
    try:
        prepare_garden(server, regions=(REGION,))
        install_crds(seed_cluster.kubeconfig, crds=extensions_crds(), timeout=60)
        heartbeats = threading.Thread(target=_node_heartbeats, args=(kube_for(seed_cluster.kubeconfig), stop))
        heartbeats.start()
        procs.append(
            _process(
                root,
                "controller-manager",
                [
                    "-m",
                    "gardener.controllermanager.main",
                    "--kubeconfig",
                    str(server.kubeconfig),
                    "--seed-monitor-period",
                    str(MONITOR),
                    "--shoot-monitor-period",
                    "600",
                    "--seed-sync-period",
                    "0.25",
                ],
            )
        )
        scheduler.kubeconfig = scheduler_kubeconfig(server)
        scheduler.start()
        yield garden
    finally:
        for gardenlet in garden.gardenlets.values():
            gardenlet.stop()
        scheduler.stop()
        for proc in procs:
            _stop(proc)
        stop.set()
        seed_cluster.stop()
        server.stop()


def _register(garden: Garden, name: str) -> tuple[Gardenlet, str]:
    """`gardenctl register seed`, with a short lease resync; returns the gardenlet and what the command printed."""
    out_dir = garden.root / f"seed-{name}"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "gardener.cli.main", "register", "seed", name),
            *("--provider", "local", "--region", REGION, "--zones", "local-a,local-b"),
            *("--kubeconfig", str(garden.server.kubeconfig), "--output-dir", str(out_dir)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((out_dir / "gardenlet.yaml").read_text())
    config["controllers"]["seed"]["leaseResyncSeconds"] = 0.5
    (out_dir / "gardenlet.yaml").write_text(yaml.safe_dump(config))
    gardenlet = Gardenlet(name, out_dir / "gardenlet.yaml", garden.root / f"gardenlet-{name}.log")
    garden.gardenlets[name] = gardenlet
    return gardenlet, result.stdout


def _seed(garden: Garden, name: str) -> dict[str, Any]:
    seed: dict[str, Any] = garden.kube.raw("GET", f"{CORE}/seeds/{name}") or {}
    return seed


def _conditions(garden: Garden, name: str) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (_seed(garden, name).get("status") or {}).get("conditions") or []}


def _shoot(garden: Garden, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = garden.kube.raw("GET", f"{CORE}/namespaces/{NAMESPACE}/shoots/{name}")
    return obj


def _pending(garden: Garden, name: str, *, reason: str) -> dict[str, Any]:
    """The Shoot once the scheduler has said, with `reason`, why it is not scheduled."""

    def described() -> dict[str, Any] | None:
        obj = _shoot(garden, name)
        op = (obj.get("status") or {}).get("lastOperation") or {}
        if op.get("state") == "Pending" and reason in op.get("description", ""):
            return obj
        return None

    found = eventually(described, timeout=30, what=f"shoot {name} Pending because {reason!r}")
    assert found is not None
    return found


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gardenlet_without_a_seed_kubeconfig_refuses_to_start(garden: Garden) -> None:
    gardenlet, printed = _register(garden, "careless")
    assert f"gardenlet --config {gardenlet.config} --seed-kubeconfig SEED_KUBECONFIG" in printed
    result = subprocess.run(
        [sys.executable, "-m", "gardenlet.main", "--config", str(gardenlet.config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "gardenlet: no seed kubeconfig: pass --seed-kubeconfig FILE (the kubeconfig of the seed cluster) "
        f"or set seedClientConnection.kubeconfig in {gardenlet.config}"
    ]
    assert garden.kube.raw("GET", f"{CORE}/seeds/careless") is None  # nothing registered


def test_a_seed_that_cannot_reach_its_cluster_is_never_ready_and_gets_no_shoot(garden: Garden) -> None:
    gardenlet, _ = _register(garden, "broken")
    port = _closed_port()
    kubeconfig = yaml.safe_load(garden.seed_cluster.kubeconfig.read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    unreachable = garden.root / "unreachable.kubeconfig"
    unreachable.write_text(yaml.safe_dump(kubeconfig))
    gardenlet.start(seed_kubeconfig=unreachable)

    def reported() -> dict[str, Any] | None:
        return _conditions(garden, "broken").get("GardenletReady")

    ready = eventually(reported, timeout=60, what=f"seed broken reported\n{gardenlet.tail()}")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "SeedUnreachable")
    assert f"https://127.0.0.1:{port} is not reachable: [Errno 111] Connection refused" in ready["message"]
    conditions = _conditions(garden, "broken")
    assert conditions["ExtensionsReady"]["status"] == conditions["SeedSystemComponentsHealthy"]["status"] == "Unknown"
    assert "lastOperation" not in _seed(garden, "broken")["status"]

    garden.kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", shoot("first", region=REGION))
    first = _pending(garden, "first", reason="broken => seed is not ready (condition GardenletReady is False")
    assert not first["spec"].get("seedName")
    eventually(
        lambda: _shoot(garden, "first")["metadata"].get("labels", {}).get("shoot.gardener.cloud/status") == "pending",
        what="shoot first labelled pending",
    )
    table = kubectl("get", "shoots", "-n", NAMESPACE, "-o", "wide", kubeconfig=garden.server.kubeconfig).stdout
    row = next(line for line in table.splitlines() if line.startswith("first "))
    assert " pending " in row and "condition GardenletReady is False" in row, table
    assert _conditions(garden, "broken")["GardenletReady"]["status"] == "False"  # the lease is fresh: not Unknown


def test_a_ready_seed_takes_shoots_and_an_unschedulable_one_says_why(garden: Garden) -> None:
    gardenlet, _ = _register(garden, "good")
    gardenlet.start(seed_kubeconfig=garden.seed_cluster.kubeconfig)

    def all_true() -> bool:
        conditions = _conditions(garden, "good")
        wanted = ("GardenletReady", "ExtensionsReady", "SeedSystemComponentsHealthy")
        return all(conditions.get(t, {}).get("status") == "True" for t in wanted)

    eventually(all_true, timeout=60, what=f"seed good ready\n{gardenlet.tail()}")
    assert "BackupBucketsReady" not in _conditions(garden, "good")  # no backup configured
    status = _seed(garden, "good")["status"]
    assert status["lastOperation"]["state"] == "Succeeded" and status["kubernetesVersion"]
    # the shoot that waited goes to the seed that became ready
    eventually(lambda: _shoot(garden, "first")["spec"].get("seedName") == "good", what="first bound to good")

    overlapping = shoot("overlap", region=REGION, networking={"type": "calico", "nodes": "10.10.0.0/24"})
    garden.kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", overlapping)
    reason = "shoot node network 10.10.0.0/24 intersects with seed node network 10.10.0.0/16"
    _pending(garden, "overlap", reason=reason)

    def listed() -> str | None:
        table = kubectl("get", "shoots", "-n", NAMESPACE, kubeconfig=garden.server.kubeconfig).stdout
        row = next(line for line in table.splitlines() if line.startswith("overlap "))
        return table if row.split()[-2] == "pending" else None

    table = eventually(listed, what="overlap shows STATUS pending")
    assert table is not None
    assert table.splitlines()[0].split()[-2:] == ["STATUS", "AGE"], table
    wide = kubectl("get", "shoots", "-n", NAMESPACE, "-o", "wide", kubeconfig=garden.server.kubeconfig).stdout
    assert any(line.startswith("overlap ") and reason in line for line in wide.splitlines()), wide
    events = kubectl(
        "get", "events", "-n", NAMESPACE, "-o", "json", kubeconfig=garden.server.kubeconfig
    ).stdout  # the Event says it too, as before
    assert reason in json.dumps(json.loads(events)["items"])


def test_a_stopped_gardenlet_turns_its_seed_unknown_and_gets_no_new_shoot(garden: Garden) -> None:
    gardenlet = garden.gardenlets["good"]
    gardenlet.stop()

    def unknown() -> bool:
        conditions = _conditions(garden, "good")
        wanted = ("GardenletReady", "ExtensionsReady", "SeedSystemComponentsHealthy")
        return all(conditions.get(t, {}).get("status") == "Unknown" for t in wanted)

    eventually(unknown, timeout=30, what="seed good Unknown")
    assert _conditions(garden, "good")["GardenletReady"]["message"] == "Gardenlet stopped posting seed status."
    garden.kube.raw("POST", f"{CORE}/namespaces/{NAMESPACE}/shoots", shoot("second", region=REGION))
    second = _pending(
        garden,
        "second",
        reason="good => seed is not ready (condition GardenletReady is Unknown: "
        "Gardenlet stopped posting seed status.)",
    )
    assert not second["spec"].get("seedName")
