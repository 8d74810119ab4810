"""The local garden end to end, brought up by `gardener local up` as a user would: many shoots at once, a shoot API
server that dies, and a gardenlet killed in the middle of its flows.

One garden for the module, in a temporary data dir; `gardener local down` stops it at the end and no process that
names the data dir may be left.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.runtime.kube import Kube
from gardener.runtime.process import PidFile
from tests.helpers import eventually, kubectl

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "hack" / "examples"
NAMESPACE = "garden-dev"
SHOOTS = f"/apis/core.gardener.cloud/v1beta1/namespaces/{NAMESPACE}/shoots"
HEALTH = ("APIServerAvailable", "ControlPlaneHealthy", "EveryNodeReady", "SystemComponentsHealthy")
Obj = dict[str, Any]

pytestmark = [
    pytest.mark.skipif(not Path("/usr/bin/etcd").exists(), reason="etcd is not installed (Debian package etcd-server)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="load balancers listen on port 443 of loopback addresses"),
]


def _gardener(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gardener.local.main", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, f"gardener {' '.join(args)} failed: {result.stderr}{result.stdout}"


def _cmdlines() -> Iterator[tuple[int, bytes]]:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            yield int(entry.name), (entry / "cmdline").read_bytes()
        except OSError:
            continue


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@dataclass
class Garden:
    data: Path
    kube: Kube

    @property
    def kubeconfig(self) -> Path:
        return self.data / "garden.kubeconfig"

    @property
    def seed_kubeconfig(self) -> Path:
        return self.data / "seed" / "apiserver" / "admin.kubeconfig"

    def shoot(self, name: str) -> Obj | None:
        return self.kube.get(f"{SHOOTS}/{name}")

    def create(self, name: str) -> None:
        manifest: Obj = yaml.safe_load((EXAMPLES / "40-shoot-workerless.yaml").read_text())
        manifest["metadata"] = {"name": name, "namespace": NAMESPACE}
        self.kube.raw("POST", SHOOTS, manifest)

    def delete(self, name: str) -> None:
        annotation = {"metadata": {"annotations": {"confirmation.gardener.cloud/deletion": "true"}}}
        self.kube.merge_patch(f"{SHOOTS}/{name}", annotation)
        self.kube.delete(f"{SHOOTS}/{name}")

    def seed_json(self, *args: str) -> Any:
        return json.loads(kubectl(*args, "-o", "json", kubeconfig=self.seed_kubeconfig).stdout)

    def gardenlet_pid(self) -> int | None:
        try:
            record = PidFile.read(self.data / "run" / "gardenlet.pid")
            assert record is not None, "no gardenlet pid file"
            pid = record.pid
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def log_tail(self, component: str, lines: int = 60) -> str:
        path = self.data / "logs" / f"{component}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Garden]:
    data = tmp_path_factory.mktemp("local-e2e") / "garden"
    kube: Kube | None = None
    try:
        _gardener("local", "up", "--data-dir", str(data))
        kube = Kube.from_kubeconfig(data / "garden.kubeconfig")
        g = Garden(data=data, kube=kube)

        def seed_ready() -> bool:
            seed = kube.get("/apis/core.gardener.cloud/v1beta1/seeds/local") if kube else None
            conditions = ((seed or {}).get("status") or {}).get("conditions") or []
            return any(c.get("type") == "GardenletReady" and c.get("status") == "True" for c in conditions)

        eventually(seed_ready, timeout=120, interval=0.2, what="seed local ready")
        kc = g.kubeconfig
        kubectl(
            "apply",
            "-f",
            str(EXAMPLES / "00-project.yaml"),
            "-f",
            str(EXAMPLES / "10-cloudprofile-local.yaml"),
            kubeconfig=kc,
        )
        kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "project/dev", "--timeout=60s", kubeconfig=kc)
        kubectl("apply", "-f", str(EXAMPLES / "30-secretbinding-local.yaml"), kubeconfig=kc)
        yield g
    finally:
        if kube is not None:
            kube.close()
        _gardener("local", "down", "--data-dir", str(data))
        needle = str(data).encode()
        left = [(pid, cmd) for pid, cmd in _cmdlines() if needle in cmd and _alive(pid)]
        assert not left, f"processes left after `gardener local down`: {left}"


# ---- helpers ----


def technical_id(name: str) -> str:
    return f"shoot--dev--{name}"


#: the modules the image table runs for the control plane's images
_PROGRAMS = {
    b"gardener.apiserver.main": "kube-apiserver",
    b"gardener.kube_controller_manager.main": "kube-controller-manager",
    b"gardener.kube_scheduler.main": "kube-scheduler",
}
#: what runs for a workerless shoot (no kube-scheduler: nothing to schedule)
CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager"]


def shoot_processes(name: str) -> dict[int, str]:
    """pid -> program of the processes of a shoot's control plane (its technical ID is on their command line)."""
    pattern = re.compile(re.escape(technical_id(name)).encode() + rb"(?=[/_\s\0]|$)")
    found = {}
    for pid, cmdline in _cmdlines():
        if pattern.search(cmdline) and _alive(pid):
            args = cmdline.split(b"\0")
            program = next((_PROGRAMS[a] for a in args if a in _PROGRAMS), None)
            found[pid] = program or args[0].decode().rsplit("/")[-1]
    return found


def last_operation(shoot: Obj | None) -> Obj:
    return ((shoot or {}).get("status") or {}).get("lastOperation") or {}


def conditions(shoot: Obj | None) -> dict[str, str]:
    return {c["type"]: c.get("status", "") for c in ((shoot or {}).get("status") or {}).get("conditions") or []}


def succeeded(garden: Garden, name: str, kind: str | None = None) -> Obj:
    shoot = garden.shoot(name)
    assert shoot is not None, f"shoot {name} does not exist"
    status = shoot.get("status") or {}
    last = last_operation(shoot)
    assert last.get("state") == "Succeeded" and last.get("progress") == 100, (last, status.get("lastErrors"))
    assert kind is None or last.get("type") == kind, last
    assert status.get("observedGeneration") == shoot["metadata"]["generation"]
    return shoot


def ready(garden: Garden, name: str) -> Obj:
    shoot = succeeded(garden, name)
    found = conditions(shoot)
    assert all(found.get(t) == "True" for t in HEALTH), found
    return shoot


def gone(garden: Garden, name: str) -> bool:
    return garden.shoot(name) is None


def wait_deleted(garden: Garden, names: list[str], *, timeout: float = 180) -> None:
    def all_gone() -> bool:
        left = [n for n in names if not gone(garden, n)]
        assert not left, f"still there: {[(n, last_operation(garden.shoot(n))) for n in left]}"
        return True

    try:
        eventually(all_gone, timeout=timeout, interval=0.5, what="shoots deleted")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ngardenlet log:\n{garden.log_tail('gardenlet')}") from None
    for name in names:
        ns = kubectl("get", "namespace", technical_id(name), kubeconfig=garden.seed_kubeconfig, check=False)
        assert ns.returncode != 0, f"seed namespace of {name} is left"
        eventually(lambda n=name: not shoot_processes(n), timeout=30, what=f"processes of {name} gone")  # type: ignore[misc]
    secrets = garden.kube.get(f"/api/v1/namespaces/{NAMESPACE}/secrets") or {}
    leaked = [
        s["metadata"]["name"]
        for s in secrets.get("items") or []
        if any(s["metadata"]["name"].startswith(f"{n}.") for n in names)
    ]
    assert not leaked, f"secrets of deleted shoots left in the garden: {leaked}"


def restart_gardenlet(garden: Garden, *, during: str) -> None:
    """SIGKILL the gardenlet, then `gardener local up` again, which starts only what is missing."""
    pid = garden.gardenlet_pid()
    assert pid is not None, "the gardenlet is not running"
    others = {name: (garden.data / "run" / f"{name}.pid").read_text() for name in ("apiserver", "kubelet")}
    os.kill(pid, signal.SIGKILL)
    eventually(lambda: not _alive(pid), timeout=10, what=f"gardenlet killed {during}")
    _gardener("local", "up", "--data-dir", str(garden.data))
    new = garden.gardenlet_pid()
    assert new is not None and new != pid, (pid, new)
    for name, old in others.items():
        assert (garden.data / "run" / f"{name}.pid").read_text() == old, f"`local up` restarted {name}"


# ---- tests ----


def test_ten_shoots_at_once_become_ready(garden: Garden) -> None:
    names = [f"ten-{i}" for i in range(10)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
        list(pool.map(garden.create, names))

    def all_ready() -> bool:
        for name in names:
            ready(garden, name)
        return True

    try:
        eventually(all_ready, timeout=180, interval=0.5, what="ten shoots Ready")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ngardenlet log:\n{garden.log_tail('gardenlet')}") from None
    for name in names:
        assert sorted(shoot_processes(name).values()) == CONTROL_PLANE, shoot_processes(name)
    for name in names:
        garden.delete(name)
    wait_deleted(garden, names)


def test_killed_shoot_api_server_is_restarted_and_reported(garden: Garden) -> None:
    name = "apikill"
    garden.create(name)
    eventually(lambda: ready(garden, name), timeout=120, interval=0.5, what="shoot Ready")

    def api_servers() -> set[int]:
        return {pid for pid, program in shoot_processes(name).items() if program == "kube-apiserver"}

    (first,) = api_servers()
    killed = {first}
    os.kill(first, signal.SIGKILL)

    # The node agent restarts it quickly, possibly before the care controller's next look (every ~10 s): kill
    # every restarted process too until the condition shows the outage.
    def reported_down() -> bool:
        if conditions(garden.shoot(name)).get("APIServerAvailable") in ("False", "Unknown"):
            return True
        for pid in api_servers() - killed:
            killed.add(pid)
            os.kill(pid, signal.SIGKILL)
        return False

    eventually(reported_down, timeout=60, interval=0.1, what="APIServerAvailable False or Unknown")

    def back() -> bool:
        assert api_servers() - killed, "no new API server process"
        assert conditions(garden.shoot(name)).get("APIServerAvailable") == "True", conditions(garden.shoot(name))
        return True

    eventually(back, timeout=120, interval=0.5, what="API server restarted and available")
    ready(garden, name)
    garden.delete(name)
    wait_deleted(garden, [name])


def test_gardenlet_killed_during_flows_converges(garden: Garden) -> None:
    name = "crash"
    tid = technical_id(name)
    garden.create(name)
    restart_gardenlet(garden, during="right after the create")

    def past_30() -> bool:
        last = last_operation(garden.shoot(name))
        return last.get("state") == "Succeeded" or int(last.get("progress") or 0) > 30

    eventually(past_30, timeout=120, interval=0.05, what="progress past 30")
    restart_gardenlet(garden, during="reconcile past 30%")
    try:
        eventually(lambda: succeeded(garden, name), timeout=180, interval=0.5, what="shoot Succeeded")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ngardenlet log:\n{garden.log_tail('gardenlet')}") from None
    eventually(lambda: ready(garden, name), timeout=60, interval=0.5, what="shoot Ready")

    # No duplicates in the seed namespace, nor on the machine.
    pods = [p["metadata"]["name"] for p in garden.seed_json("get", "pods", "-n", tid)["items"]]
    assert len([p for p in pods if p.startswith("etcd-main")]) == 1, pods
    eventually(
        lambda: (
            len(
                [
                    p
                    for p in garden.seed_json("get", "pods", "-n", tid)["items"]
                    if "kube-apiserver" in p["metadata"]["name"]
                ]
            )
            == 1
        ),
        timeout=60,
        what="one kube-apiserver pod",
    )
    deployments = [d["metadata"]["name"] for d in garden.seed_json("get", "deployments", "-n", tid)["items"]]
    assert deployments == ["kube-apiserver", "kube-controller-manager"], deployments
    statefulsets = [s["metadata"]["name"] for s in garden.seed_json("get", "statefulsets", "-n", tid)["items"]]
    assert statefulsets == ["etcd-main"], statefulsets
    services = garden.seed_json("get", "services", "-n", tid)["items"]
    balancers = [s["metadata"]["name"] for s in services if s["spec"].get("type") == "LoadBalancer"]
    assert len(balancers) == 1, balancers
    eventually(
        lambda: sorted(shoot_processes(name).values()) == CONTROL_PLANE,
        timeout=60,
        what="one etcd, API server and controller manager process",
    )

    # Deletion, with the gardenlet killed once it has begun.
    garden.delete(name)

    def deleting() -> bool:
        shoot = garden.shoot(name)
        return shoot is None or bool(shoot["metadata"].get("deletionTimestamp"))

    eventually(deleting, timeout=30, interval=0.05, what="deletionTimestamp set")
    restart_gardenlet(garden, during="deletion")

    def delete_running() -> bool:
        shoot = garden.shoot(name)
        return shoot is None or last_operation(shoot).get("type") == "Delete"

    eventually(delete_running, timeout=60, interval=0.05, what="Delete flow running")
    if not gone(garden, name):
        restart_gardenlet(garden, during="the Delete flow")
    wait_deleted(garden, [name])
