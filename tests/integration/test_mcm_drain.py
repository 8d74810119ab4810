"""The machine controller manager drains a node before it deletes its machine, as MCM does: the node is cordoned,
its pods are evicted through the Eviction API (which PodDisruptionBudgets may refuse), DaemonSet and mirror pods
stay, and the drain timeout forces the deletion of a machine whose pod a budget protects for ever.

One API server stands for the seed (Machine objects) and for the shoot (Nodes, pods). The MCM runs as its own
process with this module as its driver module (`--driver-module`): a "VM" is a ConfigMap, its node a Node object
the driver registers, and deleting a VM records which pods were still running on the node at that moment. The
kube-controller-manager's disruption controller keeps the budgets' status, as in a shoot. No kubelet runs: the
test writes the pod status a kubelet would, and a pod being deleted (deletionTimestamp set) counts as evicted.
"""

from __future__ import annotations

import base64
import functools
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from extensions.mcm.driver import VM, DriverError, DriverOptions, MachineRequest, register_driver
from extensions.mcm.objects import MACHINE_CLASSES, MACHINES
from gardener.apis.extensions.crds import extensions_crds
from gardener.apis.extensions.machine import API_VERSION, SHOOT_ACCESS_KEY, SHOOT_ACCESS_SECRET
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import CONFIGMAPS, DAEMONSETS, NODES, PODDISRUPTIONBUDGETS, PODS, SECRETS, Kube, Obj
from tests.helpers import ServerProcess, eventually, module_server
from tests.kubecomponents import ComponentProcess, controller_manager

PROVIDER = "drain-test"
NS = "shoot--dev--drain"
APPS = "apps"
SICK_LABEL = "drain-test/sick"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
GET_VM_STATUS = "Set machine status to termination. Now, getting VM Status"

server = module_server("mcm-drain")


# ---- the driver the MCM process loads from this module ----


def _now(offset: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


class ConfigMapDriver:
    """A VM is a ConfigMap `vm-<machine>`; its node a Node object, Ready (or NotReady for ten minutes when the
    machine is labelled sick). Deleting a VM writes `vm-deleted-<machine>` with the pods still running on the node."""

    def _shoot(self, req: MachineRequest) -> Kube:
        kubeconfig = req.secret.get(SHOOT_ACCESS_KEY)
        if not kubeconfig:
            raise DriverError("the machine class's secret has no kubeconfig", retryable=False)
        return Kube.from_kubeconfig_text(kubeconfig.decode())

    def create_machine(self, req: MachineRequest) -> VM:
        sick = (req.machine["metadata"].get("labels") or {}).get(SICK_LABEL) == "true"
        ready = {"type": "Ready", "status": "False" if sick else "True", "reason": "Test", "message": "drain test"}
        ready |= {"lastHeartbeatTime": _now(), "lastTransitionTime": _now(-600 if sick else 0)}
        shoot = self._shoot(req)
        try:
            for path, obj in (
                (CONFIGMAPS.path(req.namespace), {"metadata": {"name": f"vm-{req.name}"}}),
                (NODES.path(), {"metadata": {"name": req.name}, "spec": {}}),
            ):
                try:
                    shoot.create(path, obj)
                except ApiError as exc:
                    if exc.status != 409:
                        raise
            shoot.patch(NODES.path(name=req.name, subresource="status"), {"status": {"conditions": [ready]}})
        finally:
            shoot.close()
        return VM(provider_id=f"{PROVIDER}:///{req.namespace}/{req.name}", node_name=req.name)

    def get_machine_status(self, req: MachineRequest) -> VM | None:
        shoot = self._shoot(req)
        try:
            found = shoot.get(CONFIGMAPS.path(req.namespace, f"vm-{req.name}")) is not None
        finally:
            shoot.close()
        return VM(provider_id=f"{PROVIDER}:///{req.namespace}/{req.name}", node_name=req.name) if found else None

    def delete_machine(self, req: MachineRequest) -> None:
        shoot = self._shoot(req)
        try:
            running = sorted(p["metadata"]["name"] for p in bound_pods(shoot, req.name) if not evicted(p))
            record = {"metadata": {"name": f"vm-deleted-{req.name}"}, "data": {"running": ",".join(running)}}
            try:
                shoot.create(CONFIGMAPS.path(req.namespace), record)
            except ApiError as exc:
                if exc.status != 409:
                    raise
            shoot.delete(CONFIGMAPS.path(req.namespace, f"vm-{req.name}"))
        finally:
            shoot.close()


def _driver(options: DriverOptions) -> ConfigMapDriver:
    return ConfigMapDriver()


register_driver(PROVIDER, _driver)


# ---- helpers ----


def bound_pods(kube: Kube, node: str) -> list[Obj]:
    found = kube.request("GET", PODS.path(), params={"fieldSelector": f"spec.nodeName={node}"}) or {}
    return list(found.get("items") or [])


def evicted(pod: Obj | None) -> bool:
    """Gone, or being deleted (the API server may delete a bound pod gracefully: then the kubelet removes it)."""
    return pod is None or bool(pod["metadata"].get("deletionTimestamp"))


def pod(kube: Kube, name: str) -> Obj | None:
    return kube.get(PODS.path(APPS, name))


def create_pod(kube: Kube, name: str, node: str, *, ready: bool = True, **meta: Any) -> None:
    spec = {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": "busybox"}]}
    kube.create(PODS.path(APPS), {"metadata": {"name": name, **meta}, "spec": spec})
    set_ready(kube, name, ready)


def set_ready(kube: Kube, name: str, ready: bool) -> None:
    """What a kubelet writes once the pod runs (and is ready or not)."""
    value = "True" if ready else "False"
    conditions = [{"type": t, "status": value, "lastTransitionTime": _now()} for t in ("Ready", "ContainersReady")]
    status = {"phase": "Running", "startTime": _now(), "conditions": conditions}
    kube.patch(PODS.path(APPS, name, "status"), {"status": status})


def daemon_set(kube: Kube, name: str) -> dict[str, Any]:
    """A DaemonSet (no controller runs for it here) and the controller reference its pods carry."""
    template = {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    spec = {"selector": {"matchLabels": {"app": name}}, "template": template}
    created = kube.create(DAEMONSETS.path(APPS), {"metadata": {"name": name}, "spec": spec})
    uid = created["metadata"]["uid"]
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": uid, "controller": True}


def budget(kube: Kube, name: str, min_available: int) -> None:
    spec = {"minAvailable": min_available, "selector": {"matchLabels": {"app": name}}}
    kube.create(PODDISRUPTIONBUDGETS.path(APPS), {"metadata": {"name": name}, "spec": spec})


def budget_status(kube: Kube, name: str, *, expected: int, allowed: int) -> bool:
    pdb = kube.get(PODDISRUPTIONBUDGETS.path(APPS, name)) or {"metadata": {}}
    status = pdb.get("status") or {}
    return (
        status.get("observedGeneration") == pdb["metadata"].get("generation")
        and status.get("expectedPods") == expected
        and status.get("disruptionsAllowed") == allowed
    )


def create_machine(kube: Kube, name: str, *, labels: dict[str, str] | None = None, **spec: Any) -> None:
    machine = {
        "apiVersion": API_VERSION,
        "kind": "Machine",
        "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
        "spec": {"class": {"kind": "MachineClass", "name": "drain"}, **spec},
    }
    kube.create(MACHINES.path(NS), machine)


def phase(kube: Kube, name: str) -> str:
    machine = kube.get(MACHINES.path(NS, name)) or {}
    return str(((machine.get("status") or {}).get("currentStatus") or {}).get("phase") or "")


def gone(kube: Kube, name: str) -> bool:
    return kube.get(MACHINES.path(NS, name)) is None


def last_operation(kube: Kube, name: str) -> dict[str, Any]:
    machine = kube.get(MACHINES.path(NS, name)) or {}
    return dict((machine.get("status") or {}).get("lastOperation") or {})


def running_at_vm_deletion(kube: Kube, machine: str) -> set[str]:
    record = kube.get(CONFIGMAPS.path(NS, f"vm-deleted-{machine}"))
    assert record is not None, f"the VM of {machine} was not deleted"
    return {n for n in record["data"]["running"].split(",") if n}


@dataclass
class StepRecorder:
    """Every (state, description) a machine's lastOperation takes, from a watch: each step writes the status once,
    and a watch sees every write (polling could miss the quick ones)."""

    kube: Kube
    steps: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> StepRecorder:
        _, version = self.kube.list_with_version(MACHINES.path(NS))
        self.thread = threading.Thread(target=self._run, args=(version,), daemon=True)
        self.thread.start()
        return self

    def _run(self, version: str) -> None:
        while not self.stop.is_set():
            try:
                for event in self.kube.watch(MACHINES.path(NS), resource_version=version, timeout=1):
                    obj = event["object"]
                    version = obj["metadata"]["resourceVersion"]
                    op = (obj.get("status") or {}).get("lastOperation") or {}
                    if event["type"] in ("ADDED", "MODIFIED") and op.get("type") == "Delete":
                        seen = self.steps.setdefault(obj["metadata"]["name"], [])
                        step = (str(op.get("state")), str(op.get("description")))
                        if not seen or seen[-1] != step:
                            seen.append(step)
            except ApiError:
                time.sleep(0.1)

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)


@dataclass
class Env:
    kube: Kube
    mcm: ComponentProcess
    kcm: ComponentProcess
    metrics_port: int

    def refused_evictions(self) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith('mcm_drain_pod_operations_total{result="refused"}'):
                return float(line.split()[-1])
        return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _established(kube: Kube, name: str) -> bool:
    crd = kube.get(f"{CRDS}/{name}") or {}
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


@pytest.fixture(scope="module")
def env(server: ServerProcess) -> Iterator[Env]:
    kube = Kube.from_kubeconfig(server.kubeconfig)
    for crd in extensions_crds():
        if crd["spec"]["group"] == "machine.sapcloud.io":
            kube.create(CRDS, crd)
            name = str(crd["metadata"]["name"])
            eventually(functools.partial(_established, kube, name), what=f"CRD {name}")
    for name in (NS, APPS):
        kube.create("/api/v1/namespaces", {"metadata": {"name": name}})
    kubeconfig = base64.b64encode(server.kubeconfig.read_bytes()).decode()
    kube.create(SECRETS.path(NS), {"metadata": {"name": SHOOT_ACCESS_SECRET}, "data": {SHOOT_ACCESS_KEY: kubeconfig}})
    machine_class = {
        "apiVersion": API_VERSION,
        "kind": "MachineClass",
        "metadata": {"name": "drain", "namespace": NS},
        "provider": PROVIDER,
        "providerSpec": {},
        "secretRef": {"name": SHOOT_ACCESS_SECRET, "namespace": NS},
    }
    kube.create(MACHINE_CLASSES.path(NS), machine_class)
    elsewhere = {"type": "Ready", "status": "True", "lastHeartbeatTime": _now(), "lastTransitionTime": _now()}
    kube.create(NODES.path(), {"metadata": {"name": "elsewhere"}, "spec": {}})
    kube.patch(NODES.path(name="elsewhere", subresource="status"), {"status": {"conditions": [elsewhere]}})
    kcm = controller_manager(server.kubeconfig, server.data_dir / "kcm.log", "--controllers=disruption")
    port = _free_port()
    mcm = ComponentProcess(
        "extensions.mcm.main",
        server.kubeconfig,
        server.data_dir / "mcm.log",
        [
            *("--driver-module", __name__, "--provider", PROVIDER, "--namespace", NS),
            *("--state-dir", str(server.data_dir / "mcm-state"), "--metrics-port", str(port)),
        ],
    ).start()
    try:
        yield Env(kube, mcm, kcm, port)
        log = (server.data_dir / "mcm.log").read_text(errors="replace")
        assert "Traceback" not in log, f"the MCM logged a traceback:\n{log[-4000:]}"
    finally:
        mcm.stop()
        kcm.stop()
        kube.close()


def test_drain_evicts_pods_but_respects_budgets_daemon_sets_and_mirror_pods(env: Env) -> None:
    kube = env.kube
    create_machine(kube, "m-drain")
    eventually(lambda: phase(kube, "m-drain") == "Running", timeout=30, what=f"m-drain Running\n{env.mcm.log_tail()}")
    web = {"app": "web"}
    create_pod(kube, "web-1", "m-drain", labels=web)
    create_pod(kube, "web-2", "elsewhere", labels=web)
    create_pod(kube, "web-3", "elsewhere", ready=False, labels=web)
    create_pod(kube, "batch", "m-drain")
    create_pod(kube, "agent", "m-drain", ownerReferences=[daemon_set(kube, "agent")])
    create_pod(kube, "static", "m-drain", annotations={"kubernetes.io/config.mirror": "static-hash"})
    budget(kube, "web", 2)  # three pods, two healthy: no disruption allowed until web-3 is ready
    eventually(lambda: budget_status(kube, "web", expected=3, allowed=0), timeout=30, what=env.kcm.log_tail())

    recorder = StepRecorder(kube).start()
    try:
        kube.delete(MACHINES.path(NS, "m-drain"))

        def blocked_by_the_budget() -> bool:
            node = kube.get(NODES.path(name="m-drain")) or {}
            assert node["spec"].get("unschedulable") is True
            terminating = [c for c in node["status"]["conditions"] if c["type"] == "Terminating"]
            assert [(c["status"], c["reason"]) for c in terminating] == [("True", "ScaleDown")]
            assert evicted(pod(kube, "batch")), "a pod without a budget is evicted at once"
            assert not evicted(pod(kube, "web-1")), "the budget allows no disruption"
            assert kube.get(CONFIGMAPS.path(NS, "vm-m-drain")) is not None, "the VM went before the drain"
            assert phase(kube, "m-drain") == "Terminating"
            op = last_operation(kube, "m-drain")
            assert (op["type"], op["state"], op["description"]) == ("Delete", "Processing", "Initiate node drain")
            return env.refused_evictions() >= 2  # the MCM keeps trying

        eventually(blocked_by_the_budget, timeout=30, what=f"drain held by the budget\n{env.mcm.log_tail()}")
        set_ready(kube, "web-3", True)  # now one of three may go
        eventually(lambda: gone(kube, "m-drain"), timeout=40, what=f"m-drain gone\n{env.mcm.log_tail()}")
    finally:
        recorder.close()

    assert running_at_vm_deletion(kube, "m-drain") == {"agent", "static"}
    assert evicted(pod(kube, "web-1")) and evicted(pod(kube, "batch"))
    for name in ("agent", "static", "web-2", "web-3"):
        assert not evicted(pod(kube, name)), f"{name} was evicted"
    assert kube.get(NODES.path(name="m-drain")) is None
    assert recorder.steps["m-drain"] == [
        ("Processing", GET_VM_STATUS),
        ("Processing", "Initiate node drain"),
        ("Processing", "Drain successful. Initiate VM deletion"),
        ("Processing", "VM deletion was successful. Initiate node object deletion"),
        ("Processing", 'Deletion of Node Object "m-drain" is successful. Initiate machine object finalizer removal'),
    ]


def test_drain_timeout_forces_deletion_and_unhealthy_nodes_are_not_drained(env: Env) -> None:
    kube = env.kube
    create_machine(kube, "m-stuck", drainTimeout="3s")
    create_machine(kube, "m-sick", labels={SICK_LABEL: "true"})
    eventually(lambda: phase(kube, "m-stuck") == "Running", timeout=30, what=env.mcm.log_tail())
    eventually(lambda: kube.get(NODES.path(name="m-sick")), timeout=30, what="the sick machine's node")
    create_pod(kube, "guarded", "m-stuck", labels={"app": "guarded"})
    create_pod(kube, "stranded", "m-sick")
    budget(kube, "guarded", 1)  # its only pod may never go: MCM calls such a budget misconfigured
    eventually(lambda: budget_status(kube, "guarded", expected=1, allowed=0), timeout=30, what=env.kcm.log_tail())

    recorder = StepRecorder(kube).start()
    try:
        kube.delete(MACHINES.path(NS, "m-stuck"))
        kube.delete(MACHINES.path(NS, "m-sick"))
        for name in ("m-stuck", "m-sick"):
            eventually(functools.partial(gone, kube, name), timeout=30, what=f"{name} gone\n{env.mcm.log_tail()}")
    finally:
        recorder.close()

    refused = (
        'Drain failed due to - error while evicting pod "guarded": pod disruption budget apps/guarded is '
        "misconfigured and requires zero voluntary evictions. Will retry in next sync. Initiate node drain"
    )
    stuck = recorder.steps["m-stuck"]
    assert stuck[:3] == [
        ("Processing", GET_VM_STATUS),
        ("Processing", "Initiate node drain"),
        ("Failed", refused),
    ]
    # past the drain timeout the pod is deleted without an eviction, and the VM goes
    assert stuck[3:5] == [
        ("Processing", "Drain successful. Initiate VM deletion"),
        ("Processing", "VM deletion was successful. Initiate node object deletion"),
    ]
    assert pod(kube, "guarded") is None
    assert running_at_vm_deletion(kube, "m-stuck") == set()

    # a node NotReady for over five minutes is not drained: its pods stay until the node goes
    assert recorder.steps["m-sick"][:3] == [
        ("Processing", GET_VM_STATUS),
        ("Processing", "Initiate node drain"),
        ("Processing", "Skipping drain as machine is NotReady for over 5minutes. Initiate VM deletion"),
    ]
    assert running_at_vm_deletion(kube, "m-sick") == {"stranded"}
    assert not evicted(pod(kube, "stranded"))
