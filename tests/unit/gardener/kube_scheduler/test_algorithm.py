"""A whole scheduling cycle on a cache: kube's FitError wording, node choice, nominated pods and preemption."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gardener.kube_scheduler import preemption
from gardener.kube_scheduler.algorithm import Algorithm, num_feasible_nodes_to_find
from gardener.kube_scheduler.cache import Cache, PodInfo
from gardener.kube_scheduler.framework import Code, Diagnosis, FitError, NoNodesAvailable, Status, fit_error_message
from tests.unit.gardener.kube_scheduler.builders import cache, node, pod

UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}


def test_fit_error_message_is_kubes_histogram() -> None:
    d = Diagnosis()
    d.add("n1", Status(Code.UNRESOLVABLE, ("node(s) had untolerated taint {node.kubernetes.io/unreachable: }",)))
    d.add("n2", Status(Code.UNSCHEDULABLE, ("Insufficient cpu",)))
    d.add("n3", Status(Code.UNSCHEDULABLE, ("Insufficient cpu", "Insufficient memory")))
    d.postfilter_msg = "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    assert fit_error_message(3, d) == (
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint "
        "{node.kubernetes.io/unreachable: }, 2 Insufficient cpu. "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    # sorted as strings, as Go's sort.Strings does: "10 ..." before "2 ..."
    many = Diagnosis()
    for i in range(12):
        many.add(f"n{i}", Status(Code.UNSCHEDULABLE, ("Insufficient cpu" if i < 10 else "Too many pods",)))
    assert fit_error_message(12, many) == "0/12 nodes are available: 10 Insufficient cpu, 2 Too many pods."
    # a PreFilter verdict replaces the per-node histogram; unlisted nodes take the absent status
    pre = Diagnosis(prefilter_msg="pod affinity terms conflict")
    assert fit_error_message(2, pre) == "0/2 nodes are available: pod affinity terms conflict."
    absent = Diagnosis(absent=Status(Code.UNRESOLVABLE, ("Preemption is not helpful for scheduling",)))
    absent.add("n1", Status(Code.UNRESOLVABLE, (preemption.NO_VICTIMS,)))
    assert fit_error_message(3, absent) == (
        "0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )


def algorithm(c: Cache, seed: int = 1, **kwargs: Any) -> Algorithm:
    return Algorithm(c, rng=random.Random(seed), **kwargs)


def test_schedule_picks_the_least_allocated_node_and_breaks_ties_at_random() -> None:
    c = cache(node("n1"), node("n2"), node("n3"), pods=(pod("x", cpu="2", node_name="n1"),))
    chosen = {algorithm(c, seed).schedule(PodInfo.of(pod("a", cpu="1"))).node for seed in range(40)}
    assert chosen == {"n2", "n3"}


def test_schedule_fails_with_upstreams_message_and_preemption_finds_nothing() -> None:
    nodes = [node("n1", taints=[UNREACHABLE]), node("n2", cpu="1"), node("n3", cpu="1")]
    c = cache(*nodes)
    alg = algorithm(c)
    with pytest.raises(FitError) as err:
        alg.schedule(PodInfo.of(pod("big", cpu="2")))
    fit = err.value
    assert fit.diagnosis.unschedulable_plugins == {"TaintToleration", "NodeResourcesFit"}
    assert fit.state is not None
    outcome = preemption.preempt(alg, fit.state, fit.filters, fit.diagnosis, pdbs=[])
    assert outcome == preemption.Outcome(
        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.",
        "",
    )
    fit.diagnosis.postfilter_msg = outcome.message
    assert fit.message == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, "
        "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod."
    )
    with pytest.raises(NoNodesAvailable):
        algorithm(Cache()).schedule(PodInfo.of(pod("a")))


def test_daemonset_style_pod_for_a_missing_node() -> None:
    by_name = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["gone"]}]}]
            }
        }
    }
    with pytest.raises(FitError) as err:
        algorithm(cache(node("n1"), node("n2"))).schedule(PodInfo.of(pod("ds", affinity=by_name)))
    assert err.value.message == "0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) [NodeAffinity]."


def test_preemption_evicts_the_cheapest_lower_priority_pods() -> None:
    low = [pod(f"low{i}", cpu="1", priority=1, node_name="n1") for i in range(2)]
    mid = pod("mid", cpu="2", priority=50, node_name="n2")
    c = cache(node("n1", cpu="2"), node("n2", cpu="2"), pods=(*low, mid))
    alg = algorithm(c)
    urgent = PodInfo.of(pod("urgent", cpu="1", priority=100))
    with pytest.raises(FitError) as err:
        alg.schedule(urgent)
    fit = err.value
    assert fit.state is not None
    outcome = preemption.preempt(alg, fit.state, fit.filters, fit.diagnosis, pdbs=[])
    # n1 needs one victim of priority 1, n2 one of priority 50: the lower highest-priority victim wins
    assert outcome.message == "" and outcome.nominate == "n1"
    assert outcome.victims is not None and [v.name for v in outcome.victims.pods] in (["low0"], ["low1"])
    never = PodInfo.of(pod("polite", cpu="1", priority=100, preemptionPolicy="Never"))
    with pytest.raises(FitError) as err2:
        alg.schedule(never)
    assert err2.value.state is not None
    polite = preemption.preempt(alg, err2.value.state, err2.value.filters, err2.value.diagnosis, pdbs=[])
    assert polite == preemption.Outcome("preemption: not eligible due to preemptionPolicy=Never.", None)


def test_preemption_prefers_victims_without_pdb_violation() -> None:
    guarded = pod("guarded", cpu="2", priority=1, node_name="n1", labels={"app": "db"})
    free = pod("free", cpu="2", priority=1, node_name="n2", labels={"app": "batch"})
    c = cache(node("n1", cpu="2"), node("n2", cpu="2"), pods=(guarded, free))
    alg = algorithm(c)
    with pytest.raises(FitError) as err:
        alg.schedule(PodInfo.of(pod("urgent", cpu="1", priority=100)))
    pdb = {
        "metadata": {"namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "db"}}},
        "status": {"disruptionsAllowed": 0},
    }
    assert err.value.state is not None
    outcome = preemption.preempt(alg, err.value.state, err.value.filters, err.value.diagnosis, pdbs=[pdb])
    assert outcome.nominate == "n2"


def test_nominated_pods_hold_their_room_against_lower_priority_pods() -> None:
    c = cache(node("n1", cpu="2"))
    nominated = PodInfo.of(pod("nominee", cpu="2", priority=100))
    alg = algorithm(c, nominated=lambda name: [nominated] if name == "n1" else [])
    with pytest.raises(FitError) as err:
        alg.schedule(PodInfo.of(pod("low", cpu="1", priority=1)))
    assert err.value.message == "0/1 nodes are available: 1 Insufficient cpu."
    assert alg.schedule(PodInfo.of(pod("high", cpu="1", priority=1000))).node == "n1"


def test_num_feasible_nodes_to_find() -> None:
    assert num_feasible_nodes_to_find(0, 50) == 50
    assert num_feasible_nodes_to_find(0, 1000) == 420  # 50 - 1000/125 = 42 %
    assert num_feasible_nodes_to_find(0, 6000) == 300  # at least 5 %
    assert num_feasible_nodes_to_find(10, 500) == 100  # never fewer than 100
