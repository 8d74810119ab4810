"""Seed readiness: the conditions the gardenlet derives from its seed cluster, how the seed lifecycle turns them
Unknown, and which seeds the scheduler then takes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from gardener.apis.core import conditions as cond
from gardener.cli import register
from gardener.controllermanager.seedlifecycle import LifecycleConfig, check_seed
from gardener.scheduler import filters
from gardener.scheduler.filters import Code
from gardenlet import seedcare
from gardenlet.config import ConfigError, GardenletConfig, resolve_seed_kubeconfig

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def _crd(name: str, *, established: bool = True) -> Obj:
    status = "True" if established else "False"
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Established", "status": status}]}}


def _node(name: str = "seed-node", *, ready: str = "True", beat: dt.datetime = NOW) -> Obj:
    condition = {
        "type": "Ready",
        "status": ready,
        "reason": "KubeletReady",
        "lastHeartbeatTime": cond.format_time(beat),
    }
    return {"metadata": {"name": name}, "status": {"conditions": [condition]}}


def _installation(name: str, **statuses: str) -> Obj:
    wanted = {"Valid": "True", "Installed": "True", "Healthy": "True", "Progressing": "False", **statuses}
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": t, "status": s} for t, s in wanted.items()]}}


def _healthy_seed() -> seedcare.Observed:
    return seedcare.Observed(
        kubernetes_version="1.31.0", crds=tuple(_crd(n) for n in seedcare.required_crds()), nodes=(_node(),)
    )


def _statuses(conditions: list[Obj]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in conditions}


def test_a_reachable_complete_seed_is_ready_in_every_condition() -> None:
    conditions = seedcare.seed_conditions({"spec": {}}, _healthy_seed(), [_installation("provider-local")], now=NOW)
    assert _statuses(conditions) == {
        "GardenletReady": "True",
        "ExtensionsReady": "True",
        "SeedSystemComponentsHealthy": "True",
    }
    ready = cond.get_condition(conditions, "GardenletReady")
    assert ready is not None and ready["reason"] == "GardenletReady"
    assert seedcare.last_operation(None, _healthy_seed(), now=NOW) == {
        "type": "Reconcile",
        "state": "Succeeded",
        "progress": 100,
        "description": seedcare.SUCCEEDED_DESCRIPTION,
        "lastUpdateTime": cond.format_time(NOW),
    }


def test_an_unreachable_seed_is_not_ready_and_its_checks_unknown() -> None:
    observed = seedcare.Observed(error="https://127.0.0.1:1 is not reachable: [Errno 111] Connection refused")
    conditions = seedcare.seed_conditions({"spec": {"backup": {"provider": "local"}}}, observed, [], now=NOW)
    assert _statuses(conditions) == {
        "GardenletReady": "False",
        "ExtensionsReady": "Unknown",
        "SeedSystemComponentsHealthy": "Unknown",
        "BackupBucketsReady": "Unknown",
    }
    ready = cond.get_condition(conditions, "GardenletReady")
    assert ready is not None and ready["reason"] == "SeedUnreachable"
    assert ready["message"] == (
        "Gardenlet cannot reach its seed: https://127.0.0.1:1 is not reachable: [Errno 111] Connection refused"
    )
    assert seedcare.last_operation(None, observed, now=NOW) is None  # never reconciled
    done = seedcare.last_operation(None, _healthy_seed(), now=NOW)
    assert seedcare.last_operation(done, observed, now=NOW + dt.timedelta(minutes=1)) == done
    assert seedcare.last_operation(done, _healthy_seed(), now=NOW + dt.timedelta(minutes=1)) == done


def test_extensions_need_established_crds_and_healthy_installations() -> None:
    crds = [_crd(n) for n in seedcare.required_crds() if n != "workers.extensions.gardener.cloud"]
    missing = seedcare.extensions_ready([*crds, _crd("workers.extensions.gardener.cloud", established=False)], [])
    assert (missing.status, missing.reason) == ("False", "ExtensionCRDsMissing")
    assert "workers.extensions.gardener.cloud" in missing.message
    all_crds = [_crd(n) for n in seedcare.required_crds()]
    assert seedcare.extensions_ready(all_crds, []).status == "True"
    sick = seedcare.extensions_ready(all_crds, [_installation("dns", Healthy="False", Progressing="True")])
    assert sick.status == "False"
    assert sick.message == "Some extensions are not ready: dns (Healthy=False, Progressing=True)."
    fresh = seedcare.extensions_ready(all_crds, [{"metadata": {"name": "new"}}])
    assert "new (Valid=missing, Installed=missing, Healthy=missing, Progressing=missing)" in fresh.message


def test_system_components_are_the_seed_nodes() -> None:
    none = seedcare.system_components_healthy([], now=NOW)
    assert (none.status, none.reason) == ("False", "NoNodes")
    stopped = seedcare.system_components_healthy([_node(ready="False")], now=NOW)
    assert stopped.status == "False" and "node seed-node is not Ready" in stopped.message
    silent = seedcare.system_components_healthy([_node(beat=NOW - dt.timedelta(seconds=51))], now=NOW)
    assert silent.status == "False" and "stopped posting status" in silent.message
    assert seedcare.system_components_healthy([_node(beat=NOW - dt.timedelta(seconds=49))], now=NOW).status == "True"


def test_backup_buckets_only_where_backups_are_configured() -> None:
    assert "BackupBucketsReady" not in _statuses(seedcare.seed_conditions({"spec": {}}, _healthy_seed(), [], now=NOW))
    with_backup = {"spec": {"backup": {"provider": "local"}}}
    conditions = seedcare.seed_conditions(with_backup, _healthy_seed(), [], now=NOW)
    bucket = cond.get_condition(conditions, "BackupBucketsReady")
    assert bucket is not None and (bucket["status"], bucket["reason"]) == ("False", "BackupBucketsMissing")
    done = {"metadata": {"name": "b"}, "status": {"lastOperation": {"state": "Succeeded"}}}
    assert seedcare.backup_buckets_ready([done]).status == "True"
    # backups switched off again: the condition goes, the others stay
    dropped = seedcare.seed_conditions({"spec": {}, "status": {"conditions": conditions}}, _healthy_seed(), [], now=NOW)
    assert "BackupBucketsReady" not in _statuses(dropped)


def test_conditions_do_not_change_when_nothing_changed() -> None:
    seed: Obj = {"spec": {}, "status": {"conditions": [{"type": "Custom", "status": "True"}]}}
    first = seedcare.seed_conditions(seed, _healthy_seed(), [], now=NOW)
    assert first[0] == {"type": "Custom", "status": "True"}  # conditions of others are kept
    seed["status"]["conditions"] = first
    assert seedcare.seed_conditions(seed, _healthy_seed(), [], now=NOW + dt.timedelta(seconds=10)) == first


def _seed_with(conditions: dict[str, str], *, last_operation: bool = True, backup: bool = False) -> Obj:
    status: Obj = {
        "conditions": [
            {"type": t, "status": s, "reason": f"R{t}", "message": f"{t} says {s}", "lastTransitionTime": "x"}
            for t, s in conditions.items()
        ]
    }
    if last_operation:
        status["lastOperation"] = {
            "type": "Reconcile",
            "state": "Succeeded",
            "progress": 100,
            "description": "ok",
            "lastUpdateTime": "2025-01-01T00:00:00Z",
        }
    spec: Obj = {
        "provider": {"type": "local", "region": "local"},
        "networks": {"pods": "10.1.0.0/16", "services": "10.2.0.0/16"},
    }
    if backup:
        spec["backup"] = {"provider": "local"}
    return {"metadata": {"name": "s"}, "spec": spec, "status": status}


READY = {"GardenletReady": "True", "ExtensionsReady": "True", "SeedSystemComponentsHealthy": "True"}


@pytest.mark.parametrize(
    ("conditions", "kwargs", "reason"),
    [
        (READY, {}, ""),
        ({"GardenletReady": "True"}, {}, ""),  # Gardener's own requirement: the others are not required to exist
        (READY, {"last_operation": False}, "seed is not ready (its gardenlet has not reconciled it yet"),
        (
            {**READY, "GardenletReady": "Unknown"},
            {},
            "condition GardenletReady is Unknown: GardenletReady says Unknown",
        ),
        ({}, {}, "condition GardenletReady is missing"),
        ({**READY, "ExtensionsReady": "False"}, {}, "condition ExtensionsReady is False"),
        ({**READY, "SeedSystemComponentsHealthy": "False"}, {}, "condition SeedSystemComponentsHealthy is False"),
        ({**READY, "SeedSystemComponentsHealthy": "Progressing"}, {}, ""),
        (READY, {"backup": True}, "condition BackupBucketsReady is missing"),
        ({**READY, "BackupBucketsReady": "True"}, {"backup": True}, ""),
    ],
)
def test_scheduler_takes_only_ready_seeds(conditions: dict[str, str], kwargs: dict[str, Any], reason: str) -> None:
    view = filters.seed_view(_seed_with(conditions, **kwargs))
    assert view.ready is (reason == "")
    assert reason in view.unready
    if reason:
        verdict = filters.usable(view)
        assert verdict is not None and verdict.code is Code.NOT_READY and verdict.message == view.unready


def test_lifecycle_turns_every_gardenlet_checked_condition_unknown() -> None:
    seed = _seed_with({**READY, "Custom": "True"})
    lease = {"spec": {"renewTime": cond.format_micro_time(NOW - dt.timedelta(seconds=41))}}
    verdict = check_seed(seed, lease, now=NOW, config=LifecycleConfig())
    assert verdict.condition is not None and verdict.condition["status"] == "Unknown"
    assert {c["type"]: c["status"] for c in verdict.others} == {
        "ExtensionsReady": "Unknown",
        "SeedSystemComponentsHealthy": "Unknown",
    }
    assert {c["message"] for c in verdict.updates} == {"Gardenlet stopped posting seed status."}
    seed["status"]["conditions"] = cond.merge_conditions(seed["status"]["conditions"], *verdict.updates)
    assert check_seed(seed, lease, now=NOW, config=LifecycleConfig()).updates == ()  # written once
    assert (
        cond.get_condition(seed["status"]["conditions"], "Custom")
        == _seed_with({"Custom": "True"})["status"]["conditions"][0]
    )
    fresh = {"spec": {"renewTime": cond.format_micro_time(NOW - dt.timedelta(seconds=39))}}
    assert check_seed(_seed_with(READY), fresh, now=NOW, config=LifecycleConfig()).updates == ()


def test_gardenlet_needs_a_seed_kubeconfig(tmp_path: Path) -> None:
    config = GardenletConfig(
        kubeconfig=tmp_path / "g", bootstrap_kubeconfig=None, seed={"metadata": {"name": "a"}}, data_dir=tmp_path
    )
    with pytest.raises(ConfigError) as missing:
        resolve_seed_kubeconfig(config, None, config_path=tmp_path / "gardenlet.yaml")
    assert str(missing.value) == (
        "no seed kubeconfig: pass --seed-kubeconfig FILE (the kubeconfig of the seed cluster) "
        f"or set seedClientConnection.kubeconfig in {tmp_path / 'gardenlet.yaml'}"
    )
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_seed_kubeconfig(config, tmp_path / "nope", config_path=tmp_path / "c")
    (tmp_path / "seed.kubeconfig").write_text("{}")
    from_config = GardenletConfig(
        kubeconfig=tmp_path / "g",
        bootstrap_kubeconfig=None,
        seed={"metadata": {"name": "a"}},
        data_dir=tmp_path,
        seed_kubeconfig=tmp_path / "seed.kubeconfig",
    )
    assert resolve_seed_kubeconfig(from_config, None, config_path=tmp_path / "c") == tmp_path / "seed.kubeconfig"


def test_register_prints_the_seed_kubeconfig_flag(tmp_path: Path) -> None:
    done = register.Registered(config=tmp_path / "gardenlet.yaml", bootstrap_kubeconfig=tmp_path / "b", token_id="x")
    assert done.command == f"gardenlet --config {tmp_path / 'gardenlet.yaml'} --seed-kubeconfig SEED_KUBECONFIG"
    seed = register.SeedRegistration(name="a", provider="local", region="local", seed_kubeconfig=tmp_path / "s")
    config = register.gardenlet_config(seed, output_dir=tmp_path)
    assert config["seedClientConnection"] == {"kubeconfig": str((tmp_path / "s").resolve())}
    plain = register.gardenlet_config(
        register.SeedRegistration(name="a", provider="l", region="r"), output_dir=tmp_path
    )
    assert "seedClientConnection" not in plain
