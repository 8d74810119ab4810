"""The scheduler's pure logic: every filter, both strategies, capacity and load, and why a Shoot fits nowhere."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration

from gardener.runtime.kube import Kube
from gardener.scheduler import filters
from gardener.scheduler.controller import Config, Scheduler
from gardener.scheduler.filters import CloudProfileView, Code, SeedView, ShootView
from gardener.scheduler.metrics import Metrics
from gardener.scheduler.strategy import (
    Decision,
    RegionConfigError,
    Strategy,
    name_distance,
    region_distances,
    schedule,
)


def seed_obj(
    name: str,
    *,
    region: str = "eu-west-1",
    provider: str = "local",
    labels: dict[str, str] | None = None,
    ready: bool = True,
    visible: bool | None = None,
    deleting: bool = False,
    taints: list[dict[str, str]] | None = None,
    allocatable: Any = None,
    zones: list[str] | None = None,
    networks: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "provider": {"type": provider, "region": region, **({"zones": zones} if zones else {})},
        "networks": networks or {"nodes": "10.10.0.0/16", "pods": "10.1.0.0/16", "services": "10.2.0.0/16"},
    }
    if visible is not None:
        spec["settings"] = {"scheduling": {"visible": visible}}
    if taints:
        spec["taints"] = taints
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    status: dict[str, Any] = {
        "conditions": [{"type": "GardenletReady", "status": "True" if ready else "False"}],
        "lastOperation": {
            "type": "Reconcile",
            "state": "Succeeded",
            "progress": 100,
            "description": "reconciled",
            "lastUpdateTime": "2025-01-01T00:00:00Z",
        },
    }
    if allocatable is not None:
        status["allocatable"] = {"shoots": allocatable}
    return {"metadata": meta, "spec": spec, "status": status}


def seed(name: str, **kwargs: Any) -> SeedView:
    return filters.seed_view(seed_obj(name, **kwargs))


def shoot_obj(name: str = "s", *, region: str = "eu-west-1", provider: str = "local", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "garden-dev", "uid": "u1"},
        "spec": {
            "cloudProfileName": "local",
            "region": region,
            "provider": {"type": provider, "workers": [{"name": "w"}]},
            "kubernetes": {"version": "1.32"},
            **spec,
        },
    }


def shoot(**kwargs: Any) -> ShootView:
    return filters.shoot_view(shoot_obj(**kwargs))


PROFILE = CloudProfileView(name="local")


def decide(
    s: ShootView,
    seeds: list[SeedView],
    *,
    profile: CloudProfileView | None = PROFILE,
    usage: dict[str, int] | None = None,
    strategy: Strategy = Strategy.SAME_REGION,
    distances: dict[str, int] | None = None,
) -> Decision:
    return schedule(s, seeds, profile, usage or {}, strategy=strategy, distances=distances)


def reason_of(decision: Decision, seed_name: str) -> Code:
    assert decision.seed is None, decision
    return decision.reasons[seed_name].code


# ---- views ----


def test_seed_view_reads_readiness_visibility_capacity_and_networks() -> None:
    s = seed("a", allocatable="1k", visible=False, networks={"pods": "10.1.0.0/16", "services": "10.2.0.0/16"})
    assert (s.ready, s.visible, s.allocatable_shoots, s.nodes, s.pods) == (True, False, 1000, None, "10.1.0.0/16")
    assert seed("b").visible is True  # unset means visible, as Gardener defaults it
    assert seed("c").allocatable_shoots is None
    assert seed("d", allocatable=250).allocatable_shoots == 250
    no_condition = seed_obj("e")
    no_condition["status"] = {}
    assert filters.seed_view(no_condition).ready is False


def test_quantities() -> None:
    assert [filters.quantity_int(v) for v in (3, "3", "1k", "1Ki", "2.5k", "x", True)] == [
        3,
        3,
        1000,
        1024,
        2500,
        None,
        None,
    ]


def test_shoot_view_and_who_wants_scheduling() -> None:
    obj = shoot_obj(
        cloudProfile={"kind": "CloudProfile", "name": "p"},
        seedSelector={"matchLabels": {"a": "b"}},
        tolerations=[{"key": "k"}],
        controlPlane={"highAvailability": {"failureTolerance": {"type": "zone"}}},
        networking={"nodes": "10.250.0.0/16"},
    )
    del obj["spec"]["cloudProfileName"]
    view = filters.shoot_view(obj)
    assert view.cloud_profile == "p" and view.zonal_control_plane and not view.workerless
    assert view.tolerations == (filters.Taint("k"),) and str(view.selector) == "a=b"
    assert hash(view) == hash(filters.shoot_view(obj))  # views key the controller's plan cache
    assert filters.wants_scheduling(obj)
    assert not filters.wants_scheduling(shoot_obj(seedName="x"))
    assert not filters.wants_scheduling(shoot_obj(schedulerName="custom"))
    deleting = shoot_obj()
    deleting["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    assert not filters.wants_scheduling(deleting)


# ---- filters ----


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"deleting": True}, Code.DELETING),
        ({"visible": False}, Code.INVISIBLE),
        ({"ready": False}, Code.NOT_READY),
    ],
)
def test_unusable_seeds_are_filtered(kwargs: dict[str, Any], code: Code) -> None:
    decision = decide(shoot(), [seed("bad", **kwargs)])
    assert reason_of(decision, "bad") is code
    assert decide(shoot(), [seed("bad", **kwargs), seed("good")]).seed == "good"


def test_provider_type_must_match_unless_the_cloud_profile_allows_others() -> None:
    other = seed("aws-1", provider="aws")
    decision = decide(shoot(), [other])
    assert reason_of(decision, "aws-1") is Code.PROVIDER
    assert "'aws' differs from the shoot's provider type 'local'" in decision.message
    listed = CloudProfileView(name="local", provider_types=("aws",))
    anything = CloudProfileView(name="local", provider_types=("*",))
    for profile in (listed, anything):
        assert decide(shoot(), [other], profile=profile, strategy=Strategy.MINIMAL_DISTANCE).seed == "aws-1"
    # SameRegion still wants the Shoot's own provider type, as in Gardener
    assert reason_of(decide(shoot(), [other], profile=anything), "aws-1") is Code.PROVIDER
    gcp = CloudProfileView(name="local", provider_types=("gcp",))
    decision = decide(shoot(), [seed("own")], profile=gcp, strategy=Strategy.MINIMAL_DISTANCE)
    assert reason_of(decision, "own") is Code.PROVIDER and "providerTypes [gcp]" in decision.message


def test_cloud_profile_seed_selector() -> None:
    profile = filters.cloud_profile_view(
        {"metadata": {"name": "local"}, "spec": {"seedSelector": {"matchLabels": {"env": "prod"}}}}
    )
    seeds = [seed("dev", labels={"env": "dev"}), seed("prod", labels={"env": "prod"})]
    assert decide(shoot(), seeds, profile=profile).seed == "prod"
    decision = decide(shoot(), seeds[:1], profile=profile)
    assert reason_of(decision, "dev") is Code.CLOUD_PROFILE_SELECTOR and "(env=prod)" in decision.message


@pytest.mark.parametrize(
    ("selector", "fits"),
    [
        ({"matchLabels": {"tier": "gold"}}, {"gold"}),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold", "silver"]}]}, {"gold", "silver"}),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}]}, {"silver", "plain"}),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"gold", "silver"}),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"plain"}),
    ],
)
def test_shoot_seed_selector(selector: dict[str, Any], fits: set[str]) -> None:
    seeds = [seed("gold", labels={"tier": "gold"}), seed("silver", labels={"tier": "silver"}), seed("plain")]
    s = shoot(seedSelector=selector)
    usage = {n: 0 for n in fits}
    chosen = set()
    for _ in seeds:  # bind one at a time; the least loaded fitting seed wins each round
        d = decide(s, seeds, usage=usage)
        assert d.seed is not None
        chosen.add(d.seed)
        usage[d.seed] += 1
    assert chosen == fits
    rejected = decide(s, [x for x in seeds if x.name not in fits])
    assert {c.code for c in rejected.reasons.values()} == {Code.SHOOT_SELECTOR}


def test_taints_must_be_tolerated() -> None:
    tainted = seed("t", taints=[{"key": "protected"}, {"key": "team", "value": "a"}])
    decision = decide(shoot(), [tainted])
    assert reason_of(decision, "t") is Code.TAINTS and "(protected, team=a)" in decision.message
    assert reason_of(decide(shoot(tolerations=[{"key": "protected"}]), [tainted]), "t") is Code.TAINTS
    wrong_value = [{"key": "protected"}, {"key": "team", "value": "b"}]
    assert reason_of(decide(shoot(tolerations=wrong_value), [tainted]), "t") is Code.TAINTS
    right = [{"key": "protected", "value": "anything"}, {"key": "team", "value": "a"}]
    assert decide(shoot(tolerations=right), [tainted]).seed == "t"


def test_capacity_is_allocatable_shoots_minus_those_already_there() -> None:
    seeds = [seed("a", allocatable=2), seed("b", allocatable=1)]
    assert decide(shoot(), seeds, usage={"a": 1, "b": 1}).seed == "a"
    decision = decide(shoot(), seeds, usage={"a": 2, "b": 1})
    assert {n: r.code for n, r in decision.reasons.items()} == {"a": Code.CAPACITY, "b": Code.CAPACITY}
    assert "no capacity left for shoots (allocatable: 2)" in decision.message
    assert decide(shoot(), [seed("unlimited")], usage={"unlimited": 10_000}).seed == "unlimited"


@pytest.mark.parametrize(
    ("networking", "overlap"),
    [
        ({"nodes": "10.10.5.0/24"}, "shoot node network 10.10.5.0/24 intersects with seed node network 10.10.0.0/16"),
        ({"pods": "10.2.0.0/20"}, "shoot pod network 10.2.0.0/20 intersects with seed service network 10.2.0.0/16"),
        ({"services": "10.0.0.0/8"}, "shoot service network 10.0.0.0/8 intersects with seed service network"),
        ({}, "shoot pod network 10.1.0.0/16 intersects with seed pod network"),  # the seed's own shoot default
        ({"nodes": "192.168.0.0/16"}, "shoot node network 192.168.0.0/16 intersects with default vpn network"),
    ],
)
def test_networks_must_be_disjoint(networking: dict[str, str], overlap: str) -> None:
    clashing_defaults = {
        "nodes": "10.10.0.0/16",
        "pods": "10.1.0.0/16",
        "services": "10.2.0.0/16",
        "shootDefaults": {"pods": "10.1.0.0/16", "services": "100.64.0.0/13"},
    }
    defaults = {**clashing_defaults, "shootDefaults": {"pods": "100.96.0.0/11", "services": "100.64.0.0/13"}}
    networks = clashing_defaults if not networking else defaults
    decision = decide(shoot(networking=networking), [seed("a", networks=networks)])
    assert reason_of(decision, "a") is Code.NETWORKS and overlap in decision.message
    fine = {"nodes": "10.250.0.0/16", "pods": "100.96.0.0/11", "services": "100.64.0.0/13"}
    assert decide(shoot(networking=fine), [seed("a", networks=defaults)]).seed == "a"


def test_unset_networks_and_workerless_pods_are_skipped() -> None:
    no_nodes = {"pods": "10.1.0.0/16", "services": "10.2.0.0/16", "shootDefaults": {"pods": "10.1.0.0/16"}}
    workerless = shoot_obj(networking={"nodes": "10.10.0.0/16"})
    workerless["spec"]["provider"].pop("workers")
    # no seed node network to clash with, and a workerless shoot gets no default pod network
    assert decide(filters.shoot_view(workerless), [seed("a", networks=no_nodes)]).seed == "a"
    assert reason_of(decide(shoot(), [seed("a", networks=no_nodes)]), "a") is Code.NETWORKS


def test_zonal_control_planes_need_three_zones() -> None:
    zonal = shoot(controlPlane={"highAvailability": {"failureTolerance": {"type": "zone"}}})
    seeds = [seed("two", zones=["a", "b"]), seed("three", zones=["a", "b", "c"])]
    assert decide(zonal, seeds).seed == "three"
    assert reason_of(decide(zonal, seeds[:1]), "two") is Code.ZONES
    assert decide(shoot(), seeds[:1]).seed == "two"


# ---- strategies ----


def test_same_region_keeps_the_shoots_region_without_fallback() -> None:
    seeds = [seed("eu", region="eu-west-1"), seed("us", region="us-east-1")]
    assert decide(shoot(region="us-east-1"), seeds).seed == "us"
    decision = decide(shoot(region="ap-south-1"), seeds)
    assert {r.code for r in decision.reasons.values()} == {Code.REGION}
    assert "seed region 'eu-west-1' differs from the shoot's region 'ap-south-1'" in decision.message


def test_testing_purpose_ignores_the_region_but_not_the_provider() -> None:
    seeds = [seed("far", region="us-east-1"), seed("other", region="eu-west-1", provider="aws")]
    assert decide(shoot(purpose="testing"), seeds).seed == "far"
    assert decide(shoot(purpose="testing"), seeds, strategy=Strategy.MINIMAL_DISTANCE).seed == "far"


def test_name_distance_is_gardeners() -> None:
    assert name_distance("eu-west-1", "eu-west-1") == 0
    assert name_distance("eu-central-1", "eu-west-1") == 2  # same base, other orientation
    assert name_distance("eu-west-2", "eu-west-1") == 2  # one edit in the base
    assert name_distance("us-east-1", "eu-west-1") == 6  # two edits and another orientation
    assert name_distance("europe", "europe-west") == 5  # "europe" vs "europe-:", and one orientation missing
    assert name_distance("ap-southeast-1", "eu-west-1") == 14


def test_minimal_distance_by_region_names() -> None:
    md = Strategy.MINIMAL_DISTANCE
    far = [seed("ap", region="ap-southeast-1"), seed("us", region="us-east-1")]
    assert decide(shoot(region="eu-west-1"), [*far, seed("central", region="eu-central-1")], strategy=md).seed == (
        "central"
    )
    # the nearest is full: the next nearest, not a failure
    full = seed("central", region="eu-central-1", allocatable=0)
    assert decide(shoot(region="eu-west-1"), [*far, full], strategy=md).seed == "us"
    # another provider type (allowed by the CloudProfile) counts as farther
    aws = CloudProfileView(name="local", provider_types=("*",))
    other = [seed("aws", region="eu-central-1", provider="aws"), seed("west2", region="eu-west-2")]
    assert decide(shoot(region="eu-west-1"), other, profile=aws, strategy=md).seed == "west2"


def test_minimal_distance_by_region_table_then_names() -> None:
    seeds = [seed("near-name", region="eu-west-2"), seed("table", region="us-east-1"), seed("far", region="ap-1")]
    table = {"us-east-1": 1, "ap-1": 5}
    md = Strategy.MINIMAL_DISTANCE
    assert decide(shoot(region="eu-west-1"), seeds, strategy=md, distances=table).seed == "table"
    # table seeds full: fall back to region names among the rest
    usage = {"table": 1}
    full_table = [seeds[0], seed("table", region="us-east-1", allocatable=1), seed("far", region="ap-1", allocatable=0)]
    assert decide(shoot(region="eu-west-1"), full_table, strategy=md, distances=table, usage=usage).seed == "near-name"


def test_region_config_maps() -> None:
    def cm(name: str, profiles: str, data: dict[str, str]) -> dict[str, Any]:
        meta = {
            "name": name,
            "namespace": "garden",
            "annotations": {"scheduling.gardener.cloud/cloudprofiles": profiles},
        }
        return {"metadata": meta, "data": data}

    configs = [cm("b", "local", {"eu": "us: 9"}), cm("a", "aws, local", {"eu": "us: 3\nap: 7"}), cm("c", "gcp", {})]
    assert region_distances(configs, cloud_profile="local", region="eu") == {"eu": 0, "us": 3, "ap": 7}
    assert region_distances(configs, cloud_profile="local", region="us") is None
    assert region_distances(configs, cloud_profile="openstack", region="eu") is None
    with pytest.raises(RegionConfigError, match="not a map of region to integer"):
        region_distances([cm("x", "local", {"eu": "us: far"})], cloud_profile="local", region="eu")


def test_least_loaded_seed_wins_then_the_name() -> None:
    seeds = [seed("b"), seed("a"), seed("c")]
    assert decide(shoot(), seeds).seed == "a"
    assert decide(shoot(), seeds, usage={"a": 3, "b": 1, "c": 1}).seed == "b"


# ---- fitting nowhere ----


def test_a_shoot_that_fits_nowhere_gets_every_seeds_reason() -> None:
    seeds = [
        seed("deleting", deleting=True),
        seed("elsewhere", region="us-east-1"),
        seed("full", allocatable=1),
        seed("not-ready", ready=False),
        seed("tainted", taints=[{"key": "private"}]),
    ]
    decision = decide(shoot(), seeds, usage={"full": 1})
    assert decision.seed is None
    assert {n: r.code for n, r in decision.reasons.items()} == {
        "deleting": Code.DELETING,
        "elsewhere": Code.REGION,
        "full": Code.CAPACITY,
        "not-ready": Code.NOT_READY,
        "tainted": Code.TAINTS,
    }
    assert decision.message.startswith("0/5 seed(s) are eligible for scheduling: {deleting => seed is being deleted, ")
    assert decision.codes == {Code.DELETING, Code.REGION, Code.CAPACITY, Code.NOT_READY, Code.TAINTS}


def test_problems_of_the_shoot_rather_than_a_seed() -> None:
    assert decide(shoot(), []).problem == filters.Reason(Code.NO_SEEDS, "no seeds are registered")
    missing = decide(shoot(), [seed("a")], profile=None)
    assert missing.codes == {Code.CLOUD_PROFILE} and missing.message == "CloudProfile 'local' not found"
    obj = shoot_obj(cloudProfile={"kind": "NamespacedCloudProfile", "name": "p"})
    assert "NamespacedCloudProfile" in decide(filters.shoot_view(obj), [seed("a")]).message


# ---- the controller's bookkeeping (callbacks fed by hand; no API server, no worker threads) ----


def test_controller_counts_shoots_per_seed_and_retries_when_capacity_frees() -> None:
    scheduler = Scheduler(Kube(ApiClient(Configuration())), config=Config(), metrics=Metrics(), clock=lambda: 0.0)
    scheduler.seeds.replace([seed_obj("a", allocatable=1), seed_obj("b")])

    def bound(name: str, spec_seed: str | None, status_seed: str | None = None) -> dict[str, Any]:
        obj = shoot_obj(name, seedName=spec_seed) if spec_seed else shoot_obj(name)
        obj["status"] = {"seedName": status_seed} if status_seed else {}
        return obj

    scheduler._shoot("ADDED", bound("moving", "b", "a"))  # being migrated from a to b: counts on both
    assert scheduler._state.usage == {"a": 1, "b": 1}
    scheduler._shoot("ADDED", bound("waiting", None))
    waiting = "garden-dev/waiting"
    assert scheduler.queue.get() == waiting
    scheduler._state.unschedulable.add(waiting)  # as if no seed fitted
    scheduler.queue.done(waiting)
    scheduler._shoot("MODIFIED", bound("moving", "b", "b"))  # migration done: a has room again
    assert scheduler._state.usage == {"a": 0, "b": 1}
    assert scheduler.queue.get() == waiting and not scheduler._state.unschedulable
    scheduler._shoot("DELETED", bound("moving", "b", "b"))
    assert scheduler._state.usage == {"a": 0, "b": 0}
