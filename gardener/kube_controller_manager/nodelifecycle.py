"""node-lifecycle-controller: notices Nodes whose kubelet went silent, and says so in their status and taints.

Every `--node-monitor-period` it looks at each Node's Lease (`kube-node-lease/<node>`) and Ready condition. When
neither was renewed within `--node-monitor-grace-period` (`--node-startup-grace-period` for a Node that never
posted a Ready condition), the kubelet conditions become Unknown (reason `NodeStatusUnknown`) and the Node gets
the NoExecute taint `node.kubernetes.io/unreachable` (or `not-ready` when the kubelet itself reports Ready=False),
which the taint-eviction controller acts on; the two are swapped as the Ready condition changes and removed once it
is True again. Adding a NoExecute taint is rate limited per zone (`--node-eviction-rate` 0.1/s, slower or not at
all in a partially or fully disrupted zone), as upstream's pkg/controller/nodelifecycle does. The NoSchedule taints
that mirror node conditions (TaintNodesByCondition), the beta OS/arch labels, and marking the pods of a silent node
NotReady are here too.

Liveness is judged by when this controller *saw* a heartbeat change, not by the timestamps themselves, so clock
skew between kubelets and the controller does not matter (upstream's probeTimestamp); that memory starts afresh
on restart, which only grants Nodes one more grace period. Only a kubelet sets Ready back to True.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gardener.kube_controller_manager.context import ControllerContext, Options, Startable
from gardener.kube_controller_manager.objects import condition, labels_of, meta, now_rfc3339, parse_time
from gardener.kube_controller_manager.tainteviction import NO_EXECUTE, with_pod_condition
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError, Conflict, TemporaryError
from gardener.runtime.events import NORMAL, WARNING, EventRecorder
from gardener.runtime.informer import DELETED, AsyncInformer, Key
from gardener.runtime.kube import LEASES, NODES, PODS, Obj

__all__ = [
    "Health",
    "Periodic",
    "TokenBucket",
    "compute_zone_state",
    "condition_taints",
    "grace_period",
    "is_stale",
    "no_execute_change",
    "observe",
    "setup",
    "unknown_conditions",
    "zone_key",
]

log = logging.getLogger("gardener.kube_controller_manager.nodelifecycle")

NAME = "node-lifecycle-controller"
ACCOUNT = "node-controller"
LEASE_NAMESPACE = "kube-node-lease"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE = "NoSchedule"
#: which condition status means which taint (upstream's nodeConditionToTaintKeyStatusMap)
CONDITION_TAINTS: dict[tuple[str, str], str] = {
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
#: conditions the kubelet owns; NetworkUnavailable belongs to the network plugin and stays as it is
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
#: upstream's default of --unhealthy-zone-threshold (the manager's flag sets it through Options)
UNHEALTHY_ZONE_THRESHOLD = 0.55
#: how often the rate-limited NoExecute tainting runs (upstream's NodeEvictionPeriod)
NODE_EVICTION_PERIOD = 0.1
#: upstream's NodeHealthUpdateRetry
UPDATE_RETRIES = 5
EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"
#: (stable label, beta label) pairs kept equal, the stable one winning
LABEL_PAIRS = (("kubernetes.io/os", "beta.kubernetes.io/os"), ("kubernetes.io/arch", "beta.kubernetes.io/arch"))
NORMAL_STATE, PARTIAL, FULL, INITIAL = "Normal", "PartialDisruption", "FullDisruption", "Initial"


@dataclass(frozen=True)
class Health:
    """What the controller last saw of a Node's heartbeats, and when it last saw one change."""

    probe: float
    has_ready: bool
    heartbeat: str
    renew: float | None


def observe(prev: Health | None, node: Mapping[str, Any], lease: Mapping[str, Any] | None, *, now: float) -> Health:
    """upstream's tryUpdateNodeHealth bookkeeping: a new Ready condition, a new lastHeartbeatTime or a newer
    Lease renewTime moves the probe time to `now`; a Node never seen starts at `now` (at its creation when it
    has no Ready condition yet)."""
    ready = condition(node, "Ready")
    heartbeat = str((ready or {}).get("lastHeartbeatTime") or "")
    if prev is None:
        created = parse_time(meta(node).get("creationTimestamp"))
        probe = now if ready is not None or created is None else created
    elif prev.has_ready != (ready is not None) or (ready is not None and heartbeat != prev.heartbeat):
        probe = now
    else:
        probe = prev.probe
    renew = parse_time(((lease or {}).get("spec") or {}).get("renewTime"))
    known = prev.renew if prev is not None else None
    if renew is not None and (known is None or renew > known):
        probe = now
        known = renew
    return Health(probe=probe, has_ready=ready is not None, heartbeat=heartbeat, renew=known)


def grace_period(node: Mapping[str, Any], options: Options) -> float:
    if condition(node, "Ready") is None:
        return options.node_startup_grace_period
    return options.node_monitor_grace_period


def is_stale(health: Health, grace: float, *, now: float) -> bool:
    return now > health.probe + grace


def unknown_conditions(node: Mapping[str, Any], *, now: str) -> list[Obj]:
    """The Node's conditions with every kubelet condition Unknown, worded as upstream's node controller."""
    conditions = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
    for kind in KUBELET_CONDITIONS:
        current = next((c for c in conditions if c.get("type") == kind), None)
        if current is None:
            conditions.append(
                {
                    "type": kind,
                    "status": "Unknown",
                    "lastHeartbeatTime": meta(node).get("creationTimestamp"),
                    "lastTransitionTime": now,
                    "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.",
                }
            )
        elif current.get("status") != "Unknown":
            current.update(
                status="Unknown",
                reason="NodeStatusUnknown",
                message="Kubelet stopped posting node status.",
                lastTransitionTime=now,
            )
    return conditions


def condition_taints(node: Mapping[str, Any]) -> list[Obj]:
    """The NoSchedule taints a Node's conditions and `spec.unschedulable` call for (TaintNodesByCondition)."""
    taints: list[Obj] = []
    for cond in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get((str(cond.get("type")), str(cond.get("status"))))
        if key:
            taints.append({"key": key, "effect": NO_SCHEDULE})
    if (node.get("spec") or {}).get("unschedulable"):
        taints.append({"key": UNSCHEDULABLE, "effect": NO_SCHEDULE})
    return taints


def _matches(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """upstream's Taint.MatchTaint: same key and effect."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def _has(taints: list[Obj], key: str, effect: str) -> bool:
    return any(_matches(t, {"key": key, "effect": effect}) for t in taints)


def taints_of(node: Mapping[str, Any]) -> list[Obj]:
    return [dict(t) for t in (node.get("spec") or {}).get("taints") or []]


def no_execute_change(ready: str | None) -> tuple[str | None, str | None]:
    """(NoExecute taint to add, its opposite to remove) for a Ready status; (None, None): remove both."""
    if ready == "False":
        return NOT_READY, UNREACHABLE
    if ready == "Unknown":
        return UNREACHABLE, NOT_READY
    return None, None


def zone_key(node: Mapping[str, Any]) -> str:
    """upstream's GetZoneKey: region and zone (beta labels first), "" when a Node has neither."""
    labels = labels_of(node)
    zone = labels.get("failure-domain.beta.kubernetes.io/zone", labels.get("topology.kubernetes.io/zone", ""))
    region = labels.get("failure-domain.beta.kubernetes.io/region", labels.get("topology.kubernetes.io/region", ""))
    return "" if not region and not zone else f"{region}:\x00:{zone}"


def compute_zone_state(ready: list[str | None], *, threshold: float = UNHEALTHY_ZONE_THRESHOLD) -> tuple[int, str]:
    """(not-ready Nodes, state) of a zone from its Nodes' Ready statuses (upstream's ComputeZoneState)."""
    up = sum(1 for status in ready if status == "True")
    down = len(ready) - up
    if up == 0 and down > 0:
        return down, FULL
    if down > 2 and down / (down + up) >= threshold:
        return down, PARTIAL
    return down, NORMAL_STATE


class TokenBucket:
    """client-go's token bucket rate limiter, without waiting: `try_accept` or not."""

    def __init__(self, qps: float, *, burst: int = 1, clock: Callable[[], float]) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.last = clock()

    def try_accept(self) -> bool:
        if self.qps <= 0:
            return False
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def swap(self, qps: float) -> None:
        """A new rate; an empty bucket stays empty (upstream drains the new limiter when the old one was)."""
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.last) * max(self.qps, 0.0))
        self.last = now
        self.qps = qps


class ZoneTainter:
    """Nodes of one zone waiting for their NoExecute taint; a Node stays known after its turn so that it is not
    queued again until it is reachable again (upstream's RateLimitedTimedQueue over a UniqueQueue)."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket
        self.pending: OrderedDict[str, None] = OrderedDict()
        self.done: set[str] = set()

    def add(self, name: str) -> bool:
        if name in self.pending or name in self.done:
            return False
        self.pending[name] = None
        return True

    def remove(self, name: str) -> bool:
        found = name in self.pending or name in self.done
        self.pending.pop(name, None)
        self.done.discard(name)
        return found


class Periodic:
    """An async function run every `period` seconds until stopped (upstream's wait.Until)."""

    def __init__(self, name: str, fn: Callable[[], Awaitable[None]], period: float) -> None:
        self.name = name
        self.fn = fn
        self.period = period
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.fn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Periodic pass failed", extra={"task": self.name})
            await asyncio.sleep(self.period)


async def swap_taints(client: AsyncKube, name: str, *, add: list[Obj], remove: list[Obj], now: str = "") -> bool:
    """Add `add` (stamped `timeAdded`) and remove `remove` in one write guarded by the Node's resourceVersion
    (upstream's SwapNodeControllerTaint); False when it could not be written."""
    for _ in range(UPDATE_RETRIES):
        node = await client.get(NODES.path(None, name))
        if node is None:
            return True
        current = taints_of(node)
        wanted = [t for t in current if not any(_matches(t, r) for r in remove)]
        for taint in add:
            if not any(_matches(t, taint) for t in wanted):
                wanted.append({**taint, "timeAdded": now or now_rfc3339()})
        if wanted == current:
            return True
        patch = {"metadata": {"resourceVersion": meta(node).get("resourceVersion")}, "spec": {"taints": wanted}}
        try:
            await client.patch(NODES.path(None, name), patch)
            return True
        except Conflict:
            continue
        except ApiError as exc:
            log.warning("Taints not written", extra={"node": name, "error": str(exc)[:300]})
            return False
    return False


def _ref(node: Mapping[str, Any]) -> Obj:
    m = meta(node)
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": m.get("name", ""), "uid": m.get("uid", "")}}


class NodeLifecycle:
    def __init__(self, ctx: ControllerContext, *, client: AsyncKube, recorder: EventRecorder) -> None:
        self.options = ctx.options
        self.clock = ctx.clock
        self.client = client
        self.recorder = recorder
        self.nodes: AsyncInformer = ctx.informer(NODES)
        self.leases: AsyncInformer = ctx.informer(LEASES)
        self.pods: AsyncInformer = ctx.informer(PODS)
        self.health: dict[str, Health] = {}
        self.known: dict[str, Obj] = {}
        self.zone_states: dict[str, str] = {}
        self.tainters: dict[str, ZoneTainter] = {}
        self._pod_nodes: dict[Key, str] = {}
        #: each Node's Ready status as the last monitor pass left it (the cache may not show our own write yet)
        self._ready: dict[str, str | None] = {}
        self.node_pass: AsyncController[str] = AsyncController(f"{NAME}-nodes", self.sync_node, workers=8)
        self.pod_pass: AsyncController[Key] = AsyncController(f"{NAME}-pods", self.sync_pod, workers=4)
        self.nodes.add_handler(self._on_node)
        self.pods.add_handler(self._on_pod)

    def parts(self) -> list[Startable]:
        return [
            self.node_pass,
            self.pod_pass,
            Periodic(f"{NAME}-tainting", self.tainting_pass, NODE_EVICTION_PERIOD),
            Periodic(f"{NAME}-monitor", self.monitor, self.options.node_monitor_period),
        ]

    def _on_node(self, kind: str, node: Obj) -> None:
        if kind != DELETED:
            self.node_pass.add(str(meta(node).get("name") or ""))

    def _on_pod(self, kind: str, pod: Obj) -> None:
        m = meta(pod)
        key = (str(m.get("namespace") or ""), str(m.get("name") or ""))
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        if kind == DELETED or not node:
            self._pod_nodes.pop(key, None)
            return
        if self._pod_nodes.get(key) != node:
            self._pod_nodes[key] = node
            self.pod_pass.add(key)

    # ---- NoSchedule taints and labels: on every Node change ----

    async def sync_node(self, name: str) -> Result | None:
        node = self.nodes.get("", name)
        if node is None:
            return None
        have = [
            t
            for t in taints_of(node)
            if t.get("effect") == NO_SCHEDULE
            and (t.get("key") in CONDITION_TAINTS.values() or t.get("key") == UNSCHEDULABLE)
        ]
        want = condition_taints(node)
        add = [t for t in want if not any(_matches(t, h) for h in have)]
        remove = [h for h in have if not any(_matches(h, t) for t in want)]
        if (add or remove) and not await swap_taints(self.client, name, add=add, remove=remove):
            raise TemporaryError(f"failed to swap taints of node {name}")
        labels = labels_of(node)
        updates = {
            beta: labels[stable]
            for stable, beta in LABEL_PAIRS
            if stable in labels and labels.get(beta) != labels[stable]
        }
        if updates:
            await self.client.patch(NODES.path(None, name), {"metadata": {"labels": updates}})
        return None

    # ---- pods of a Node that is not Ready: upstream's MarkPodsNotReady ----

    async def sync_pod(self, key: Key) -> Result | None:
        pod = self.pods.get(*key)
        node_name = str(((pod or {}).get("spec") or {}).get("nodeName") or "")
        node = self.nodes.get("", node_name) if node_name else None
        if pod is None or node is None:
            return None
        ready = self._ready[node_name] if node_name in self._ready else (condition(node, "Ready") or {}).get("status")
        if ready is None or ready == "True":
            return None
        current = condition(pod, "Ready")
        if current is None or current.get("status") == "False":
            return None
        status = dict(pod.get("status") or {})
        conditions, changed = with_pod_condition(list(status.get("conditions") or []), {**current, "status": "False"})
        if not changed:
            return None
        body = {**pod, "status": {**status, "conditions": conditions}}
        try:
            await self.client.replace(PODS.path(key[0], key[1], "status"), body)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        log.info("Updating ready status of pod to false", extra={"pod": f"{key[0]}/{key[1]}", "node": node_name})
        self.recorder.emit(pod, WARNING, "NodeNotReady", "Node is not ready")
        return None

    # ---- the monitor pass ----

    async def monitor(self) -> None:
        nodes = list(self.nodes.items())
        names = {str(meta(n).get("name")) for n in nodes}
        for node in nodes:
            name = str(meta(node).get("name"))
            if name not in self.known:
                self.recorder.emit(
                    _ref(node), NORMAL, "RegisteredNode", f"Node {name} event: Registered Node {name} in Controller"
                )
            self.known[name] = node
            self._tainter(zone_key(node))
        for name in [n for n in self.known if n not in names]:
            gone = self.known.pop(name)
            self.health.pop(name, None)
            self._ready.pop(name, None)
            self.recorder.emit(
                _ref(gone), NORMAL, "RemovingNode", f"Node {name} event: Removing Node {name} from Controller"
            )
        zones: dict[str, list[str | None]] = {}
        limit = asyncio.Semaphore(8)

        async def one(node: Obj) -> None:
            async with limit:
                checked = await self._check(node)
            if checked is not None and EXCLUDE_DISRUPTION not in labels_of(checked):
                zones.setdefault(zone_key(checked), []).append((condition(checked, "Ready") or {}).get("status"))

        await asyncio.gather(*(one(n) for n in nodes))
        await self.handle_disruption(zones, nodes)

    async def _check(self, node: Obj) -> Obj | None:
        """One Node's health: Unknown conditions when it is silent, then its NoExecute taint; the Node as it is
        now, or None when its status could not be written."""
        name = str(meta(node).get("name"))
        observed = condition(node, "Ready")
        for attempt in range(UPDATE_RETRIES):
            lease = self.leases.get(LEASE_NAMESPACE, name)
            now = self.clock()
            health = self.health[name] = observe(self.health.get(name), node, lease, now=now)
            if not is_stale(health, grace_period(node, self.options), now=now):
                break
            conditions = unknown_conditions(node, now=now_rfc3339())
            new_ready = next(c for c in conditions if c.get("type") == "Ready")
            if new_ready == condition(node, "Ready"):
                break
            body = copy.deepcopy(node)
            body.setdefault("status", {})["conditions"] = conditions
            try:
                node = await self.client.replace(NODES.path(None, name, "status"), body)
            except Conflict:
                fresh = await self.client.get(NODES.path(None, name))
                if fresh is None or attempt == UPDATE_RETRIES - 1:
                    log.error(
                        "Update health of Node from Controller error, Skipping - no pods will be evicted",
                        extra={"node": name},
                    )
                    return None
                node = fresh
                continue
            log.info("Node stopped posting status", extra={"node": name, "since": health.probe})
            heartbeat = str(new_ready.get("lastHeartbeatTime") or "")
            self.health[name] = replace(health, has_ready=True, heartbeat=heartbeat)
            break
        ready = self._ready[name] = (condition(node, "Ready") or {}).get("status")
        if (observed or {}).get("status") == "True" and ready != "True":
            self.recorder.emit(_ref(node), NORMAL, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
            for pod in self.pods.items():
                if (pod.get("spec") or {}).get("nodeName") == name:
                    m = meta(pod)
                    self.pod_pass.add((str(m.get("namespace") or ""), str(m.get("name") or "")))
        await self._taint_based_eviction(node, ready)
        return node

    async def _taint_based_eviction(self, node: Obj, ready: str | None) -> None:
        name = str(meta(node).get("name"))
        taints = taints_of(node)
        add, opposite = no_execute_change(ready)
        if add is not None and opposite is not None:
            if _has(taints, opposite, NO_EXECUTE):
                # the Ready status moved between False and Unknown: swap at once, no new rate-limited turn
                change = [{"key": add, "effect": NO_EXECUTE}]
                if not await swap_taints(
                    self.client, name, add=change, remove=[{"key": opposite, "effect": NO_EXECUTE}]
                ):
                    log.error(
                        "Failed to instantly swap NoExecute taints. Will try again in the next cycle",
                        extra={"node": name},
                    )
                return
            tainter = self._tainter(zone_key(node))
            if not _has(taints, add, NO_EXECUTE):
                tainter.remove(name)
            if tainter.add(name):
                log.info("Node is not ready. Adding it to the Taint queue", extra={"node": name, "ready": ready})
        elif ready == "True":
            await self._mark_reachable(node)

    async def _mark_reachable(self, node: Obj) -> None:
        name = str(meta(node).get("name"))
        remove = [
            {"key": k, "effect": NO_EXECUTE} for k in (UNREACHABLE, NOT_READY) if _has(taints_of(node), k, NO_EXECUTE)
        ]
        if remove and not await swap_taints(self.client, name, add=[], remove=remove):
            log.error("Failed to remove taints from node. Will retry in next iteration", extra={"node": name})
            return
        if self._tainter(zone_key(node)).remove(name) and remove:
            log.info("Node is healthy again, removed all taints", extra={"node": name})

    def _tainter(self, zone: str) -> ZoneTainter:
        if zone not in self.tainters:
            self.zone_states[zone] = INITIAL
            self.tainters[zone] = ZoneTainter(TokenBucket(self.options.node_eviction_rate, clock=self.clock))
        return self.tainters[zone]

    async def tainting_pass(self) -> None:
        """Give the queued Nodes their NoExecute taint, as fast as each zone's rate allows."""
        for tainter in list(self.tainters.values()):
            while tainter.pending and tainter.bucket.try_accept():
                name = next(iter(tainter.pending))
                node = self.nodes.get("", name)
                add, opposite = no_execute_change((condition(node, "Ready") or {}).get("status") if node else None)
                ok = True
                if add is not None and opposite is not None:
                    change = [{"key": add, "effect": NO_EXECUTE}]
                    ok = await swap_taints(
                        self.client, name, add=change, remove=[{"key": opposite, "effect": NO_EXECUTE}]
                    )
                if not ok:
                    break
                tainter.pending.pop(name, None)
                if node is not None:
                    tainter.done.add(name)
                    log.info("Tainted node", extra={"node": name, "taint": add})

    async def handle_disruption(self, zones: dict[str, list[str | None]], nodes: list[Obj]) -> None:
        """upstream's handleDisruption: slow down evictions in a zone that lost many Nodes; stop them and lift the
        taints when every zone lost all of them (the control plane, not the Nodes, is then the likely culprit)."""
        threshold = self.options.unhealthy_zone_threshold
        states = {zone: compute_zone_state(ready, threshold=threshold)[1] for zone, ready in zones.items()}
        all_are_full = all(s == FULL for s in states.values())
        for zone in [z for z in self.zone_states if z not in zones]:
            del self.zone_states[zone]
        for zone in zones:
            self.zone_states.setdefault(zone, INITIAL)
        all_were_full = all(s == FULL for s in self.zone_states.values())
        if all_are_full and all_were_full:
            return
        if all_are_full:
            log.info("Controller detected that all Nodes are not-Ready. Entering master disruption mode")
            for node in nodes:
                await self._mark_reachable(node)
            for zone in self.zone_states:
                self.tainters[zone].bucket.swap(0.0)
                self.zone_states[zone] = FULL
            return
        if all_were_full:
            log.info("Controller detected that some Nodes are Ready. Exiting master disruption mode")
            now = self.clock()
            self.health = {name: replace(h, probe=now) for name, h in self.health.items()}
        for zone, previous in list(self.zone_states.items()):
            new = states[zone]
            if previous == new and not all_were_full:
                continue
            if previous != new:
                log.info("Controller detected that zone is now in new state", extra={"zone": zone, "state": new})
            self.tainters[zone].bucket.swap(self._rate(new, len(zones[zone])))
            self.zone_states[zone] = new

    def _rate(self, state: str, size: int) -> float:
        o = self.options
        if state == PARTIAL:
            return o.secondary_node_eviction_rate if size > o.large_cluster_size_threshold else 0.0
        return o.node_eviction_rate


async def setup(ctx: ControllerContext) -> list[Startable]:
    client = await ctx.client_for(ACCOUNT)
    recorder = await ctx.recorder_for(ACCOUNT)
    return NodeLifecycle(ctx, client=client, recorder=recorder).parts()
