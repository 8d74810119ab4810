"""Which extension each seed needs: the ControllerRegistration -> ControllerInstallation decision."""

from __future__ import annotations

from typing import Any

from gardener.controllermanager.controllerregistration import (
    Registration,
    shoot_kind_types,
    wanted_installations,
    wanted_registrations,
)


def _registration(name: str, *resources: tuple[str, str], policy: str | None = None, **extra: Any) -> Registration:
    deployment: dict[str, Any] = {"policy": policy} if policy else {}
    deployment.update(extra)
    return Registration.of(
        {
            "metadata": {"name": name},
            "spec": {"resources": [{"kind": k, "type": t} for k, t in resources], "deployment": deployment},
        }
    )


def _seed(name: str, *, dns: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"provider": {"type": "local"}}
    if dns:
        spec["dns"] = {"provider": {"type": dns}}
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def _shoot(seed: str, *, provider: str = "local", workers: bool = True, network: str = "calico") -> dict[str, Any]:
    pools = [{"name": "a", "machine": {"type": "m", "image": {"name": "gardenlinux"}}}] if workers else []
    return {
        "metadata": {"name": "s", "namespace": "garden-dev"},
        "spec": {
            "seedName": seed,
            "provider": {"type": provider, "workers": pools},
            "networking": {"type": network},
            "extensions": [{"type": "shoot-cert-service"}, {"type": "off", "disabled": True}],
        },
    }


PROVIDER = _registration("provider-local", ("Infrastructure", "local"), ("ControlPlane", "local"), ("Worker", "local"))
OS = _registration("os-gardenlinux", ("OperatingSystemConfig", "gardenlinux"))
CALICO = _registration("networking-calico", ("Network", "calico"))
AWS = _registration("provider-aws", ("Infrastructure", "aws"), ("Worker", "aws"))
DNS = _registration("dns-local", ("DNSRecord", "local"))
CERTS = _registration("shoot-cert-service", ("Extension", "shoot-cert-service"))


def test_a_shoot_needs_its_provider_os_network_and_extensions() -> None:
    assert shoot_kind_types(_shoot("a")) == {
        ("Infrastructure", "local"),
        ("ControlPlane", "local"),
        ("Worker", "local"),
        ("OperatingSystemConfig", "gardenlinux"),
        ("Network", "calico"),
        ("Extension", "shoot-cert-service"),
    }
    # A workerless shoot has no Worker, machines or pod network.
    assert shoot_kind_types(_shoot("a", workers=False)) == {
        ("Infrastructure", "local"),
        ("ControlPlane", "local"),
        ("Extension", "shoot-cert-service"),
    }


def test_on_demand_registrations_follow_the_shoots_of_each_seed() -> None:
    registrations = [PROVIDER, OS, CALICO, AWS, CERTS]
    seeds = [_seed("a"), _seed("b"), _seed("empty")]
    shoots = [_shoot("a"), _shoot("b", provider="aws", workers=False)]
    assert wanted_installations(registrations, seeds, shoots) == {
        "provider-local-a": ("provider-local", "a"),
        "os-gardenlinux-a": ("os-gardenlinux", "a"),
        "networking-calico-a": ("networking-calico", "a"),
        "shoot-cert-service-a": ("shoot-cert-service", "a"),
        "provider-aws-b": ("provider-aws", "b"),
        "shoot-cert-service-b": ("shoot-cert-service", "b"),
    }


def test_a_shoot_moving_away_keeps_its_extensions_on_the_old_seed() -> None:
    moving = _shoot("b")
    moving["status"] = {"seedName": "a"}
    assert "provider-local" in wanted_registrations([PROVIDER], _seed("a"), [moving])
    assert "provider-local" in wanted_registrations([PROVIDER], _seed("b"), [moving])


def test_the_seed_itself_needs_its_dns_provider() -> None:
    assert wanted_registrations([DNS], _seed("a", dns="local"), []) == {"dns-local"}
    assert wanted_registrations([DNS], _seed("a"), []) == set()


def test_policies_and_seed_selectors() -> None:
    always = _registration("always", ("Extension", "x"), policy="Always")
    unless_empty = _registration("unless-empty", ("Extension", "y"), policy="AlwaysExceptNoShoots")
    selected = _registration(
        "selected", ("Extension", "z"), policy="Always", seedSelector={"matchLabels": {"tier": "gold"}}
    )
    registrations = [always, unless_empty, selected]
    assert wanted_registrations(registrations, _seed("empty"), []) == {"always"}
    assert wanted_registrations(registrations, _seed("busy"), [_shoot("busy")]) == {"always", "unless-empty"}
    assert wanted_registrations(registrations, _seed("gold", labels={"tier": "gold"}), []) == {"always", "selected"}


def test_globally_enabled_extensions_go_where_shoots_are() -> None:
    registration = Registration.of(
        {
            "metadata": {"name": "audit"},
            "spec": {"resources": [{"kind": "Extension", "type": "audit", "globallyEnabled": True}]},
        }
    )
    assert wanted_registrations([registration], _seed("a"), [_shoot("a")]) == {"audit"}
    assert wanted_registrations([registration], _seed("a"), []) == set()


def test_a_deleting_seed_gets_no_new_installations() -> None:
    seed = _seed("a")
    seed["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert wanted_installations([PROVIDER], [seed], [_shoot("a")]) == {}
