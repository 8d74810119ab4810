"""The node-local filters and scores on plain dicts: kube's reasons, codes and integer arithmetic."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.kube_scheduler import plugins as p
from gardener.kube_scheduler import resources as res
from gardener.kube_scheduler.cache import NodeInfo, PodInfo
from gardener.kube_scheduler.framework import Code, CycleState, Status
from tests.unit.gardener.kube_scheduler.builders import node, pod


def info(n: dict[str, Any], *pods: dict[str, Any]) -> NodeInfo:
    ni = NodeInfo(n["metadata"]["name"])
    ni.set_node(n)
    for other in pods:
        ni.add_pod(PodInfo.of(other))
    return ni


def state(p_: dict[str, Any]) -> CycleState:
    return CycleState(PodInfo.of(p_), lambda _: None, lambda _: None)


def test_pod_requests_follow_kube_resource_helper() -> None:
    spec = {
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "0.25", "example.com/gpu": "1"}}},
        ],
        "initContainers": [
            {"name": "big-init", "resources": {"requests": {"cpu": "2", "memory": "1Mi"}}},
            {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}},
            {"name": "late-init", "resources": {"requests": {"cpu": "1"}}},
        ],
        "overhead": {"cpu": "10m", "memory": "1Ki"},
    }
    got = res.pod_requests(spec)
    # containers 500m + sidecar 100m = 600m < largest init (2 cpu); late init 1 + sidecar 100m = 1.1 < 2
    assert got[res.CPU] == 2000 + 10
    # memory: containers 64Mi + sidecar 1Gi beats any init step; plus overhead
    assert got[res.MEMORY] == 64 * 2**20 + 2**30 + 1024
    assert got["example.com/gpu"] == 1
    # missing requests count as kube's defaults only in the non-zero variant
    bare = {"containers": [{"name": "a"}, {"name": "b", "resources": {"requests": {"cpu": "0"}}}]}
    assert res.pod_requests(bare) == {res.CPU: 0}
    assert res.pod_requests(bare, non_zero=True) == {res.CPU: 100, res.MEMORY: 2 * 200 * 2**20}


def test_node_unschedulable_and_node_name() -> None:
    cordoned = info(node("n1", unschedulable=True))
    assert p.node_unschedulable_filter(state(pod("a")), cordoned) == Status(Code.UNRESOLVABLE, (p.ERR_UNSCHEDULABLE,))
    tolerating = pod("b", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert p.node_unschedulable_filter(state(tolerating), cordoned) is None
    assert p.node_unschedulable_filter(state(pod("c")), info(node("n2"))) is None
    pinned = pod("d", node_name="n2")
    assert p.node_name_filter(state(pinned), info(node("n1"))) == Status(Code.UNRESOLVABLE, (p.ERR_NODE_NAME,))
    assert p.node_name_filter(state(pinned), info(node("n2"))) is None


@pytest.mark.parametrize(
    ("tolerations", "passes"),
    [
        ([], False),
        ([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}], False),
        ([{"key": "dedicated", "operator": "Equal", "value": "gpu"}], True),
        ([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}], False),
        ([{"key": "dedicated", "operator": "Exists"}], True),
        ([{"operator": "Exists"}], True),
        ([{"key": "dedicated", "value": "cpu"}], False),
    ],
)
def test_taint_toleration_filter(tolerations: list[dict[str, str]], passes: bool) -> None:
    taints = [
        {"key": "soft", "effect": "PreferNoSchedule"},
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "gpu", "effect": "NoExecute"},
    ]
    status = p.taint_toleration_filter(state(pod("a", tolerations=tolerations)), info(node("n1", taints=taints)))
    if passes:
        assert status is None
    else:
        assert status == Status(Code.UNRESOLVABLE, ("node(s) had untolerated taint {dedicated: gpu}",))


def test_taint_toleration_message_of_a_valueless_taint() -> None:
    taints = [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]
    status = p.taint_toleration_filter(state(pod("a")), info(node("n1", taints=taints)))
    assert status is not None and status.reasons == (
        "node(s) had untolerated taint {node.kubernetes.io/unreachable: }",
    )


def test_taint_toleration_score_counts_intolerable_prefer_no_schedule() -> None:
    n = info(
        node("n1", taints=[{"key": "a", "effect": "PreferNoSchedule"}, {"key": "b", "effect": "PreferNoSchedule"}])
    )
    assert p.taint_toleration_score([], n) == 2
    assert p.taint_toleration_score([{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}], n) == 1
    # a NoSchedule toleration does not count for PreferNoSchedule taints
    assert p.taint_toleration_score([{"key": "a", "operator": "Exists", "effect": "NoSchedule"}], n) == 2
    scores = [2, 1, 0]
    p.default_normalize(scores, reverse=True)
    assert scores == [0, 50, 100]


def affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def test_node_affinity_and_selector() -> None:
    ssd = info(node("n1", labels={"disk": "ssd", "gen": "5"}))
    hdd = info(node("n2", labels={"disk": "hdd"}))
    selector = state(pod("a", nodeSelector={"disk": "ssd"}))
    assert p.node_affinity_filter(selector, ssd) is None
    assert p.node_affinity_filter(selector, hdd) == Status(Code.UNRESOLVABLE, (p.ERR_NODE_AFFINITY,))
    gt = affinity({"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]})
    assert p.node_affinity_filter(state(pod("b", affinity=gt)), ssd) is None
    assert p.node_affinity_filter(state(pod("b", affinity=gt)), hdd) is not None
    # terms are ORed, expressions within a term ANDed; NotIn holds for a missing label
    either = affinity(
        {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["nvme"]}]},
        {"matchExpressions": [{"key": "gen", "operator": "NotIn", "values": ["5"]}]},
    )
    assert p.node_affinity_filter(state(pod("c", affinity=either)), hdd) is None
    assert p.node_affinity_filter(state(pod("c", affinity=either)), ssd) is not None
    # an invalid term (Gt without an integer) matches nothing rather than failing the cycle
    bad = affinity({"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["x"]}]})
    assert p.node_affinity_filter(state(pod("d", affinity=bad)), ssd) is not None


def test_node_affinity_match_fields_narrow_the_nodes_like_daemonset_pods() -> None:
    by_name = affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]})
    s = state(pod("ds", affinity=by_name))
    assert p.node_affinity_prefilter(s) is None
    assert s.node_names == {"n2"}
    assert p.node_affinity_filter(s, info(node("n2"))) is None
    assert p.node_affinity_filter(s, info(node("n1"))) is not None
    conflicting = affinity(
        {
            "matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["n1"]},
                {"key": "metadata.name", "operator": "In", "values": ["n2"]},
            ]
        }
    )
    assert p.node_affinity_prefilter(state(pod("x", affinity=conflicting))) == Status(
        Code.UNRESOLVABLE, ("pod affinity terms conflict",)
    )
    plain = state(pod("y"))
    assert p.node_affinity_prefilter(plain) is None and "NodeAffinity" in plain.skipped


def test_node_ports() -> None:
    def with_port(name: str, port: int, ip: str = "") -> dict[str, Any]:
        ports = [{"containerPort": 80, "hostPort": port, **({"hostIP": ip} if ip else {})}]
        return pod(name, containers=[{"name": "c", "image": "x", "ports": ports}])

    n = info(node("n1"), with_port("old", 8080, "10.0.0.1"))
    assert p.node_ports_filter(state(with_port("a", 8080)), n) == Status(Code.UNSCHEDULABLE, (p.ERR_NODE_PORTS,))
    assert p.node_ports_filter(state(with_port("b", 8080, "10.0.0.2")), n) is None
    assert p.node_ports_filter(state(with_port("c", 8081)), n) is None
    wildcard = info(node("n2"), with_port("old", 9090))
    assert p.node_ports_filter(state(with_port("d", 9090, "10.0.0.3")), wildcard) is not None


def test_node_resources_fit_counts_bound_pods_and_pod_count() -> None:
    n = info(node("n1", cpu="2", memory="1Gi", pods="3"), pod("x", cpu="1500m", memory="512Mi"))
    assert p.node_resources_fit_filter(state(pod("a", cpu="500m", memory="512Mi")), n) is None
    assert p.node_resources_fit_filter(state(pod("b", cpu="600m", memory="600Mi")), n) == Status(
        Code.UNSCHEDULABLE, ("Insufficient cpu", "Insufficient memory")
    )
    n.add_pod(PodInfo.of(pod("y")))
    n.add_pod(PodInfo.of(pod("z")))
    assert p.node_resources_fit_filter(state(pod("c")), n) == Status(Code.UNSCHEDULABLE, ("Too many pods",))
    gpu = state(pod("g", containers=[{"name": "c", "resources": {"requests": {"nvidia.com/gpu": "1"}}}]))
    assert p.node_resources_fit_filter(gpu, info(node("n2"))) == Status(
        Code.UNSCHEDULABLE, ("Insufficient nvidia.com/gpu",)
    )


def test_least_allocated_and_balanced_allocation_scores() -> None:
    empty = info(node("n1", cpu="4", memory="8Gi"))
    busy = info(node("n2", cpu="4", memory="8Gi"), pod("x", cpu="2", memory="2Gi"))
    s = state(pod("a", cpu="1", memory="2Gi"))
    # cpu (4000-1000)*100/4000 = 75, memory (8-2)/8 = 75 -> 75
    assert p.least_allocated_score(s, empty) == 75
    # cpu (4000-3000)*100/4000 = 25, memory (8-4)/8 = 50 -> 37
    assert p.least_allocated_score(s, busy) == 37
    # fractions 0.25 and 0.25 -> std 0 -> 100; 0.75 and 0.5 -> std 0.125 -> 87
    assert p.balanced_allocation_score(s, empty) == 100
    assert p.balanced_allocation_score(s, busy) == 87
    # a request-less pod still counts kube's non-zero defaults (100m, 200Mi) for least-allocated
    bare = state(pod("b"))
    assert p.least_allocated_score(bare, empty) == (97 + 97) // 2  # 3900/4000 and (8Gi-200Mi)/8Gi


def test_default_normalize() -> None:
    scores = [0, 5, 10]
    p.default_normalize(scores)
    assert scores == [0, 50, 100]
    zeros = [0, 0]
    p.default_normalize(zeros)
    assert zeros == [0, 0]
    p.default_normalize(zeros, reverse=True)
    assert zeros == [100, 100]
