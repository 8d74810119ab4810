"""PodTopologySpread and InterPodAffinity on a cache of plain dicts."""

from __future__ import annotations

from typing import Any

from gardener.kube_scheduler import topology as t
from gardener.kube_scheduler.cache import Cache, NodeInfo, PodInfo
from gardener.kube_scheduler.framework import Code, CycleState, Status
from gardener.kube_scheduler.selectors import LabelSelector, set_selector
from tests.unit.gardener.kube_scheduler.builders import cache, node, pod

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def at(c: Cache, name: str) -> NodeInfo:
    info = c.node(name)
    assert info is not None
    return info


def zones(*spec: tuple[str, str]) -> list[dict[str, Any]]:
    return [node(name, labels={ZONE: zone}) for name, zone in spec]


def state(
    c: Cache,
    p_: dict[str, Any],
    *,
    default: LabelSelector | None = None,
    ns_labels: dict[str, dict[str, str]] | None = None,
) -> CycleState:
    return CycleState(
        PodInfo.of(p_),
        lambda ns: (ns_labels or {}).get(ns),
        lambda _: default if default is not None else LabelSelector(nothing=True),
    )


def spread(key: str, *, skew: int = 1, action: str = "DoNotSchedule", **extra: Any) -> dict[str, Any]:
    return {
        "maxSkew": skew,
        "topologyKey": key,
        "whenUnsatisfiable": action,
        "labelSelector": {"matchLabels": {"app": "web"}},
        **extra,
    }


def web(name: str, node_name: str) -> dict[str, Any]:
    return pod(name, labels={"app": "web"}, node_name=node_name)


def test_spread_filter_skew_and_missing_label() -> None:
    nodes = [*zones(("a1", "a"), ("a2", "a"), ("b1", "b")), node("nolabel")]
    c = cache(*nodes, pods=(web("w1", "a1"), web("w2", "a2"), pod("other", labels={"app": "db"}, node_name="b1")))
    s = state(c, pod("new", labels={"app": "web"}, topologySpreadConstraints=[spread(ZONE)]))
    assert t.spread_prefilter(s, c.nodes()) is None
    # zone a has 2, zone b 0: placing in a makes the skew 3 > 1, in b 1
    assert t.spread_filter(s, at(c, "a1")) == Status(Code.UNSCHEDULABLE, (t.ERR_SPREAD,))
    assert t.spread_filter(s, at(c, "b1")) is None
    assert t.spread_filter(s, at(c, "nolabel")) == Status(Code.UNRESOLVABLE, (t.ERR_SPREAD_LABEL,))
    # a pod that does not match its own selector does not add to the skew
    s2 = state(c, pod("new2", labels={"app": "api"}, topologySpreadConstraints=[spread(ZONE, skew=2)]))
    t.spread_prefilter(s2, c.nodes())
    assert t.spread_filter(s2, at(c, "a1")) is None


def test_spread_min_domains_treats_the_global_minimum_as_zero() -> None:
    c = cache(*zones(("a1", "a"), ("b1", "b")), pods=(web("w1", "a1"), web("w2", "b1")))
    s = state(c, pod("new", labels={"app": "web"}, topologySpreadConstraints=[spread(ZONE, minDomains=3)]))
    t.spread_prefilter(s, c.nodes())
    # only 2 of the 3 wanted domains exist: minimum 0, so 1 + 1 - 0 = 2 > 1 everywhere
    assert t.spread_filter(s, at(c, "a1")) is not None
    assert t.spread_filter(s, at(c, "b1")) is not None


def test_spread_score_prefers_emptier_domains_and_system_defaults_use_the_service_selector() -> None:
    c = cache(*zones(("a1", "a"), ("b1", "b")), pods=(web("w1", "a1"), web("w2", "a1")))
    soft = state(
        c, pod("new", labels={"app": "web"}, topologySpreadConstraints=[spread(HOST, action="ScheduleAnyway")])
    )
    feasible = c.nodes()
    assert t.spread_prescore(soft, feasible, feasible)
    scores = [t.spread_score(soft, n) for n in feasible]
    t.spread_normalize(soft, feasible, scores)
    assert dict(zip([n.name for n in feasible], scores, strict=True)) == {"a1": 0, "b1": 100}
    # without constraints: kube's defaults over the selector of the pod's Services, else nothing
    bare = pod("new", labels={"app": "web"})
    assert not t.spread_prescore(state(c, bare), feasible, feasible)
    defaulted = state(c, bare, default=set_selector({"app": "web"}))
    assert t.spread_prescore(defaulted, feasible, feasible)
    scores = [t.spread_score(defaulted, n) for n in feasible]
    t.spread_normalize(defaulted, feasible, scores)
    assert scores[1] > scores[0]


def test_default_selector_merges_services_and_the_controller() -> None:
    p = PodInfo.of(
        pod(
            "x",
            labels={"app": "web", "tier": "fe", "pod-template-hash": "abc"},
        )
    )
    p.pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "controller": True}
    ]
    services = [
        {"metadata": {"namespace": "default"}, "spec": {"selector": {"app": "web"}}},
        {"metadata": {"namespace": "default"}, "spec": {"selector": {"app": "db"}}},
        {"metadata": {"namespace": "other"}, "spec": {"selector": {"tier": "fe"}}},
        {"metadata": {"namespace": "default"}, "spec": {}},
    ]
    rs = {"spec": {"selector": {"matchLabels": {"pod-template-hash": "abc"}}}}
    selector = t.default_selector(
        p, services=services, controller=lambda kind, ns, name: rs if kind == "ReplicaSet" else None
    )
    assert {(r.key, r.operator, tuple(r.values)) for r in selector.requirements} == {
        ("app", "In", ("web",)),
        ("pod-template-hash", "In", ("abc",)),
    }


def anti(key: str, labels: dict[str, str]) -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": labels}, "topologyKey": key}
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def aff(key: str, labels: dict[str, str], **term_extra: Any) -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **term_extra}
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}


def test_required_affinity_and_anti_affinity() -> None:
    c = cache(*zones(("a1", "a"), ("b1", "b")), pods=(pod("db", labels={"app": "db"}, node_name="a1"),))
    near = state(c, pod("api", affinity=aff(ZONE, {"app": "db"})))
    assert t.affinity_prefilter(near, c.nodes()) is None
    assert t.affinity_filter(near, at(c, "a1")) is None
    assert t.affinity_filter(near, at(c, "b1")) == Status(Code.UNRESOLVABLE, (t.ERR_AFFINITY,))
    away = state(c, pod("cache", affinity=anti(ZONE, {"app": "db"})))
    t.affinity_prefilter(away, c.nodes())
    assert t.affinity_filter(away, at(c, "a1")) == Status(Code.UNSCHEDULABLE, (t.ERR_ANTI_AFFINITY,))
    assert t.affinity_filter(away, at(c, "b1")) is None
    # the first pod of a group with affinity to itself may go anywhere
    first = state(c, pod("w1", labels={"app": "web"}, affinity=aff(ZONE, {"app": "web"})))
    t.affinity_prefilter(first, c.nodes())
    assert t.affinity_filter(first, at(c, "b1")) is None
    # other namespaces only through `namespaces` or a namespaceSelector
    elsewhere = state(c, pod("x", namespace="team", affinity=aff(ZONE, {"app": "db"})))
    t.affinity_prefilter(elsewhere, c.nodes())
    assert t.affinity_filter(elsewhere, at(c, "a1")) is not None
    selected = state(
        c,
        pod("y", namespace="team", affinity=aff(ZONE, {"app": "db"}, namespaceSelector={"matchLabels": {"env": "x"}})),
        ns_labels={"default": {"env": "x"}},
    )
    t.affinity_prefilter(selected, c.nodes())
    assert t.affinity_filter(selected, at(c, "a1")) is None


def test_existing_pods_anti_affinity_keeps_others_away() -> None:
    loner = pod("loner", labels={"app": "loner"}, node_name="a1", affinity=anti(HOST, {"app": "web"}))
    c = cache(*zones(("a1", "a"), ("a2", "a")), pods=(loner,))
    s = state(c, pod("w", labels={"app": "web"}))
    assert t.affinity_prefilter(s, c.nodes()) is None
    assert t.affinity_filter(s, at(c, "a1")) == Status(Code.UNSCHEDULABLE, (t.ERR_EXISTING_ANTI_AFFINITY,))
    assert t.affinity_filter(s, at(c, "a2")) is None
    unrelated = state(c, pod("d", labels={"app": "db"}))
    t.affinity_prefilter(unrelated, c.nodes())
    assert t.AFFINITY in unrelated.skipped


def test_preferred_affinity_score() -> None:
    c = cache(*zones(("a1", "a"), ("b1", "b"), ("c1", "c")), pods=(pod("db", labels={"app": "db"}, node_name="b1"),))
    term = {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ZONE}}
    s = state(c, pod("api", affinity={"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term]}}))
    feasible = c.nodes()
    assert t.affinity_prescore(s, feasible, feasible)
    scores = [t.affinity_score(s, n) for n in feasible]
    t.affinity_normalize(s, feasible, scores)
    assert dict(zip([n.name for n in feasible], scores, strict=True)) == {"a1": 0, "b1": 100, "c1": 0}
    # nobody prefers anything: nothing to score
    assert not t.affinity_prescore(state(c, pod("plain")), feasible, feasible)
