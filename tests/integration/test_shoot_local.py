"""A workerless shoot on a local seed, end to end: create, use with kubectl, hibernate, wake up, delete.

Real processes throughout: a garden API server, a seed API server, provider-local's node agent running the seed's
workloads (the shoot's etcd is the real etcd binary, its API server and controller manager ours), and the gardenlet's
shoot controller. A workerless shoot has no kube-scheduler, as in Gardener.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.apis.extensions.crds import extensions_crds
from gardener.runtime.kube import Kube
from tests.gardens import EXAMPLES, prepare_garden, seed_identity
from tests.helpers import ServerProcess, eventually, kubectl
from tests.kubecomponents import ComponentProcess, seed_node

NODE_AGENT = "extensions.provider_local.nodeagent.main"
TECHNICAL_ID = "shoot--dev--demo"
#: loopback ranges of our own, so that another node agent on this machine (a parallel test run) cannot collide
_BASE = 100 + (os.getpid() % 50) * 3
POD_NETWORK, SERVICE_NETWORK, LB_NETWORK = (f"127.{_BASE + i}.0.0/16" for i in range(3))

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec(NODE_AGENT) is None, reason="provider-local's node agent is missing"),
    pytest.mark.skipif(not Path("/usr/bin/etcd").exists(), reason="etcd is not installed (Debian package etcd-server)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="load balancers listen on port 443 of loopback addresses"),
]

CONTROLLER = """
import asyncio, sys
from gardener.runtime.logs import setup_logging
from gardenlet.care.controller import CareSettings
from gardenlet.components.base import Timeouts
from gardenlet.flow import RetryPolicy
from gardenlet.shoot.controller import ShootControllerSettings, run_shoot_controller
from gardenlet.shoot.flow import FlowSettings
setup_logging()
# Extensions give up quickly here, so that a failing one fails the flow within seconds.
flow = FlowSettings(extensions=Timeouts(ready=3.0, gone=60.0, interval=0.2),
                    retry=RetryPolicy(timeout=5.0, interval=0.5, backoff=2.0, max_interval=2.0))
settings = ShootControllerSettings(backoff=(1.0, 5.0), care=CareSettings(period=2.0), flow=flow)
asyncio.run(run_shoot_controller(garden_kubeconfig=sys.argv[1], seed_kubeconfig=sys.argv[2], seed_name="local",
                                 settings=settings))
"""


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _spawn(args: list[str], log: Path) -> Process:
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    return Process(proc, log)


@dataclass
class Landscape:
    garden: ServerProcess
    seed: ServerProcess
    agent: ComponentProcess
    gardenlet: Process
    dir: Path

    def garden_json(self, *args: str) -> Any:
        return json.loads(kubectl(*args, "-o", "json", kubeconfig=self.garden.kubeconfig).stdout)

    def shoot(self) -> dict[str, Any]:
        result: dict[str, Any] = self.garden_json("get", "shoot", "demo", "-n", "garden-dev")
        return result

    def diagnose(self) -> str:
        return f"gardenlet log:\n{self.gardenlet.tail()}\n\nkubelet log:\n{self.agent.log_tail(30)}"

    def seed_deployment(self, name: str) -> dict[str, Any] | None:
        found = kubectl(
            "get", "deployment", name, "-n", TECHNICAL_ID, "-o", "json", kubeconfig=self.seed.kubeconfig, check=False
        )
        return json.loads(found.stdout) if found.returncode == 0 else None


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landscape]:
    root = tmp_path_factory.mktemp("shoot-local")
    garden = ServerProcess(data_dir=root / "garden").start()
    seed = ServerProcess(data_dir=root / "seed", extra_args=["--service-cluster-ip-range", SERVICE_NETWORK]).start()
    started: list[Process | ComponentProcess] = []
    try:
        prepare_garden(garden)
        seed_parts = seed_node(
            seed.kubeconfig,
            root,
            pod_network=POD_NETWORK,
            service_network=SERVICE_NETWORK,
            load_balancer_network=LB_NETWORK,
        )
        started += seed_parts
        agent = seed_parts[-1]
        gardenlet = _spawn(
            [sys.executable, "-c", CONTROLLER, str(seed_identity(garden)), str(seed.kubeconfig)],
            root / "gardenlet.log",
        )
        started.append(gardenlet)
        yield Landscape(garden=garden, seed=seed, agent=agent, gardenlet=gardenlet, dir=root)
    finally:
        for process in reversed(started):
            process.stop()
        seed.stop()
        garden.stop()


def _shoot_processes() -> list[tuple[int, str]]:
    """(pid, command line) of every process that belongs to the shoot's control plane."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if TECHNICAL_ID in cmdline:
            found.append((int(entry.name), cmdline))
    return found


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _last_operation(landscape: Landscape, state: str, *, kind: str | None = None) -> dict[str, Any]:
    shoot = landscape.shoot()
    status = shoot.get("status") or {}
    last = status.get("lastOperation") or {}
    assert last.get("state") == state, f"lastOperation {last}, lastErrors {status.get('lastErrors')}"
    assert kind is None or last.get("type") == kind, last
    assert status.get("observedGeneration") == shoot["metadata"]["generation"]
    return shoot


def _hibernate(landscape: Landscape, enabled: bool) -> None:
    """Set spec.hibernation.enabled and wait until a flow made it so."""
    patch = json.dumps({"spec": {"hibernation": {"enabled": enabled}}})
    kubectl(
        "patch",
        "shoot",
        "demo",
        "-n",
        "garden-dev",
        "--type=merge",
        "-p",
        patch,
        kubeconfig=landscape.garden.kubeconfig,
    )

    def done() -> dict[str, Any]:
        shoot = _last_operation(landscape, "Succeeded")
        assert shoot["status"].get("hibernated") is enabled, shoot["status"].get("hibernated")
        return shoot

    eventually(done, timeout=120, interval=0.5, what=f"hibernation {enabled}")


def test_workerless_shoot_lifecycle(landscape: Landscape) -> None:
    garden = landscape.garden.kubeconfig
    manifest = yaml.safe_load((EXAMPLES / "40-shoot-workerless.yaml").read_text())
    manifest["spec"]["seedName"] = "local"
    eventually(lambda: "Shoot controller running" in landscape.gardenlet.tail(), timeout=30, what="gardenlet started")
    applied = time.monotonic()
    kubectl("apply", "-f", "-", input=json.dumps(manifest), kubeconfig=garden)

    # Create: the control plane runs and the shoot is usable with the published kubeconfig.
    try:
        shoot = eventually(lambda: _last_operation(landscape, "Succeeded", kind="Create"), timeout=180, interval=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{landscape.diagnose()}") from None
    ready_after = time.monotonic() - applied
    status = shoot["status"]
    assert status["technicalID"] == TECHNICAL_ID
    assert status["seedName"] == "local"
    assert status["hibernated"] is False
    assert "gardener" in shoot["metadata"]["finalizers"]
    assert not status.get("lastErrors")
    secret = landscape.garden_json("get", "secret", "demo.kubeconfig", "-n", "garden-dev")
    shoot_kubeconfig = landscape.dir / "demo.kubeconfig"
    shoot_kubeconfig.write_bytes(base64.b64decode(secret["data"]["kubeconfig"]))
    server = yaml.safe_load(shoot_kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    assert server.startswith(f"https://{LB_NETWORK.rsplit('.', 2)[0]}."), server
    namespaces = kubectl("get", "namespaces", "-o", "name", kubeconfig=shoot_kubeconfig).stdout.split()
    assert "namespace/kube-system" in namespaces
    kubectl("create", "namespace", "x", kubeconfig=shoot_kubeconfig)

    def healthy() -> dict[str, Any]:
        shoot = landscape.shoot()
        conditions = {c["type"]: c for c in shoot["status"].get("conditions") or []}
        for ctype in ("APIServerAvailable", "ControlPlaneHealthy", "EveryNodeReady", "SystemComponentsHealthy"):
            assert conditions.get(ctype, {}).get("status") == "True", conditions.get(ctype)
        assert shoot["metadata"]["labels"].get("shoot.gardener.cloud/status") == "healthy", shoot["metadata"]["labels"]
        return shoot

    eventually(healthy, timeout=60, interval=0.5)
    # The controller manager runs against the shoot (it leads there); a workerless shoot gets no scheduler.
    kcm = landscape.seed_deployment("kube-controller-manager")
    assert kcm is not None and kcm["status"].get("availableReplicas") == 1, kcm and kcm["status"]
    assert landscape.seed_deployment("kube-scheduler") is None

    def kcm_leads() -> str:
        args = ("get", "lease", "kube-controller-manager", "-n", "kube-system", "-o", "json")
        lease = json.loads(kubectl(*args, kubeconfig=shoot_kubeconfig).stdout)
        holder: str = lease["spec"]["holderIdentity"]
        assert holder
        return holder

    eventually(kcm_leads, timeout=30, interval=0.5, what="the controller manager leads in the shoot")
    pods = landscape.seed.kubeconfig
    listed = kubectl("get", "pods", "-n", TECHNICAL_ID, "-l", "role=controller-manager", "-o", "json", kubeconfig=pods)
    statuses = [c for p in json.loads(listed.stdout)["items"] for c in p["status"].get("containerStatuses") or []]
    assert [(c["ready"], c["restartCount"]) for c in statuses] == [(True, 0)], statuses  # it runs, it does not crash
    processes = _shoot_processes()
    rss = {cmd.split()[0].rsplit("/", 1)[-1] + f"[{pid}]": _rss_kib(pid) for pid, cmd in processes}
    print(f"\nshoot Succeeded {ready_after:.1f}s after apply; control-plane RSS (KiB): {rss}")
    reasons = {e["reason"] for e in landscape.garden_json("get", "events", "-n", "garden-dev")["items"]}
    assert {"Creating", "Reconciled"} <= reasons, reasons

    # Hibernate: the control plane's processes go, its data stays; its Deployments stay, at zero.
    _hibernate(landscape, True)
    eventually(lambda: not _shoot_processes(), timeout=60, what="control-plane processes gone")
    for name in ("kube-apiserver", "kube-controller-manager"):
        asleep = landscape.seed_deployment(name)
        assert asleep is not None and asleep["spec"]["replicas"] == 0, name

    def seen_asleep() -> bool:
        conditions = {c["type"]: c for c in landscape.shoot()["status"].get("conditions") or []}
        control_plane = conditions.get("ControlPlaneHealthy") or {}
        assert control_plane.get("status") == "True", control_plane  # care looked: scaled down, no pods left
        assert "scaled down" in control_plane.get("message", ""), control_plane
        return True

    eventually(seen_asleep, timeout=30, interval=0.5, what="care saw the control plane scaled down")

    # Wake up: the same cluster is back, namespace x included.
    _hibernate(landscape, False)
    eventually(
        lambda: kubectl("get", "namespace", "x", kubeconfig=shoot_kubeconfig, check=False).returncode == 0, timeout=30
    )
    awake = landscape.seed_deployment("kube-controller-manager")
    assert awake is not None and awake["spec"]["replicas"] == 1

    # A retry annotation runs the flow again and is consumed.
    kubectl("annotate", "shoot", "demo", "-n", "garden-dev", "gardener.cloud/operation=reconcile", kubeconfig=garden)
    eventually(
        lambda: "gardener.cloud/operation" not in (landscape.shoot()["metadata"].get("annotations") or {}), timeout=30
    )
    eventually(lambda: _last_operation(landscape, "Succeeded", kind="Reconcile"), timeout=60, interval=0.5)

    # Delete: nothing of the shoot is left in the seed, on this machine or in the garden.
    kubectl(
        "annotate", "shoot", "demo", "-n", "garden-dev", "confirmation.gardener.cloud/deletion=true", kubeconfig=garden
    )
    kubectl("delete", "shoot", "demo", "-n", "garden-dev", "--wait=false", kubeconfig=garden)
    gone = lambda: kubectl("get", "shoot", "demo", "-n", "garden-dev", kubeconfig=garden, check=False).returncode != 0  # noqa: E731
    try:
        eventually(gone, timeout=180, interval=0.5, what="shoot deleted")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{landscape.diagnose()}") from None
    assert kubectl("get", "namespace", TECHNICAL_ID, kubeconfig=landscape.seed.kubeconfig, check=False).returncode != 0
    assert not _shoot_processes()
    assert (
        kubectl("get", "secret", "demo.kubeconfig", "-n", "garden-dev", kubeconfig=garden, check=False).returncode != 0
    )
    assert not list((landscape.dir / "node" / "pvc").glob(f"{TECHNICAL_ID}/*"))


EXTENSION_PLURALS = ("infrastructures", "controlplanes", "workers", "clusters")
#: what the FakeExtension plays: the flow waits only for kinds and types a ControllerRegistration lists
REGISTRATION = {
    "apiVersion": "core.gardener.cloud/v1beta1",
    "kind": "ControllerRegistration",
    "metadata": {"name": "fake-extension"},
    "spec": {"resources": [{"kind": "Infrastructure", "type": "local"}, {"kind": "ControlPlane", "type": "local"}]},
}
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
EXTENSIONS = "/apis/extensions.gardener.cloud/v1alpha1"


class FakeExtension(threading.Thread):
    """Plays a provider extension: reconciles every Infrastructure and ControlPlane of a namespace, and fails the
    Infrastructure while `failing` is set."""

    def __init__(self, seed: Kube, namespace: str) -> None:
        super().__init__(daemon=True)
        self.seed = seed
        self.namespace = namespace
        self.stop = threading.Event()
        self.failing = threading.Event()
        self.seen: dict[str, dict[str, Any]] = {}

    def run(self) -> None:
        while not self.stop.wait(0.2):
            for kind in ("Infrastructure", "ControlPlane"):
                base = f"{EXTENSIONS}/namespaces/{self.namespace}/{kind.lower()}s"
                for obj in (self.seed.get(base) or {}).get("items") or []:
                    self.seen[kind] = obj
                    meta = obj["metadata"]
                    if "gardener.cloud/operation" not in (meta.get("annotations") or {}):
                        continue
                    path = f"{base}/{meta['name']}"
                    self.seed.merge_patch(path, {"metadata": {"annotations": {"gardener.cloud/operation": None}}})
                    fail = kind == "Infrastructure" and self.failing.is_set()
                    state = "Error" if fail else "Succeeded"
                    last = {"type": "Reconcile", "state": state, "progress": 100, "description": "done"}
                    last["lastUpdateTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    status = {"observedGeneration": meta["generation"], "lastOperation": last}
                    status["lastError"] = {"description": "quota exceeded"} if fail else None
                    self.seed.merge_patch(f"{path}/status", {"status": status})


def test_extension_resources_are_written_and_waited_for(landscape: Landscape) -> None:
    garden, seed = landscape.garden.kubeconfig, Kube.from_kubeconfig(landscape.seed.kubeconfig)
    crds = [c for c in extensions_crds() if c["metadata"]["name"].split(".")[0] in EXTENSION_PLURALS]
    for crd in crds:
        seed.raw("POST", CRDS, crd)
    for plural in EXTENSION_PLURALS:
        kubectl(
            "wait",
            "--for=condition=Established",
            f"crd/{plural}.extensions.gardener.cloud",
            "--timeout=30s",
            kubeconfig=landscape.seed.kubeconfig,
        )
    extension = FakeExtension(seed, "shoot--dev--ext")
    extension.failing.set()
    extension.start()
    try:
        manifest = yaml.safe_load((EXAMPLES / "40-shoot-workerless.yaml").read_text())
        manifest["metadata"]["name"] = "ext"
        manifest["spec"]["seedName"] = "local"
        kubectl("apply", "-f", "-", input=json.dumps(manifest), kubeconfig=garden)

        def errors_of_shoot() -> dict[str, str]:
            status = landscape.garden_json("get", "shoot", "ext", "-n", "garden-dev").get("status") or {}
            assert (status.get("lastOperation") or {}).get("state") == "Error", status.get("lastOperation")
            return {e["taskID"]: e["description"] for e in status.get("lastErrors") or []}

        # The seed holds the kinds, but no ControllerRegistration lists them: the flow says so instead of waiting.
        def unregistered() -> dict[str, str]:
            errors = errors_of_shoot()
            assert "no extension is registered for Infrastructure of type 'local'" in errors["deploy-infrastructure"]
            return errors

        eventually(unregistered, timeout=60, interval=0.5, what="an error naming the missing registration")
        kubectl("apply", "-f", "-", input=json.dumps(REGISTRATION), kubeconfig=garden)

        # A failing extension fails the flow; the error names the task and the extension's message.
        def ext_error() -> dict[str, Any]:
            status = landscape.garden_json("get", "shoot", "ext", "-n", "garden-dev").get("status") or {}
            assert (status.get("lastOperation") or {}).get("state") == "Error", status.get("lastOperation")
            errors = {e["taskID"]: e["description"] for e in status["lastErrors"]}
            assert "wait-infrastructure" in errors, errors
            return status

        status = eventually(ext_error, timeout=60, interval=0.5)
        assert status["lastOperation"]["type"] == "Create"
        assert status["retryCycleStartTime"]  # the retry window counts from the first failure
        errors = {e["taskID"]: e["description"] for e in status["lastErrors"]}
        assert "quota exceeded" in errors["wait-infrastructure"], errors
        reasons = {e["reason"] for e in landscape.garden_json("get", "events", "-n", "garden-dev")["items"]}
        assert "ReconcileError" in reasons
        # ... and it is retried with backoff until the extension succeeds.
        extension.failing.clear()

        def ext_succeeded() -> dict[str, Any]:
            shoot = landscape.garden_json("get", "shoot", "ext", "-n", "garden-dev")
            last = shoot.get("status", {}).get("lastOperation") or {}
            assert last.get("state") == "Succeeded", (last, shoot.get("status", {}).get("lastErrors"))
            return shoot

        try:
            eventually(ext_succeeded, timeout=120, interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{landscape.diagnose()}") from None
        infra = extension.seen["Infrastructure"]
        assert infra["spec"]["type"] == "local" and infra["spec"]["region"] == "local"
        assert infra["spec"]["secretRef"] == {"name": "cloudprovider", "namespace": "shoot--dev--ext"}
        assert extension.seen["ControlPlane"]["spec"]["type"] == "local"
        credentials = seed.get("/api/v1/namespaces/shoot--dev--ext/secrets/cloudprovider") or {}
        assert base64.b64decode(credentials["data"]["token"]) == b"not-needed-for-the-local-provider"
        workers = seed.get(f"{EXTENSIONS}/namespaces/shoot--dev--ext/workers") or {}
        assert not workers.get("items"), "a workerless shoot has no Worker"
        cluster = seed.get(f"{EXTENSIONS}/clusters/shoot--dev--ext") or {}
        assert cluster["spec"]["shoot"]["metadata"]["name"] == "ext"
        assert cluster["spec"]["seed"]["metadata"]["name"] == "local"
        assert cluster["spec"]["cloudProfile"]["spec"]["type"] == "local"

        kubectl(
            "annotate",
            "shoot",
            "ext",
            "-n",
            "garden-dev",
            "confirmation.gardener.cloud/deletion=true",
            kubeconfig=garden,
        )
        kubectl("delete", "shoot", "ext", "-n", "garden-dev", "--wait=false", kubeconfig=garden)

        def gone() -> bool:
            return kubectl("get", "shoot", "ext", "-n", "garden-dev", kubeconfig=garden, check=False).returncode != 0

        eventually(gone, timeout=120, interval=0.5, what="shoot ext deleted")
        assert seed.get("/api/v1/namespaces/shoot--dev--ext") is None
        assert seed.get(f"{EXTENSIONS}/clusters/shoot--dev--ext") is None
    finally:
        extension.stop.set()
        kubectl("delete", "controllerregistration", "fake-extension", "--ignore-not-found", kubeconfig=garden)
        for plural in EXTENSION_PLURALS:
            seed.delete(f"{CRDS}/{plural}.extensions.gardener.cloud")
        seed.close()
