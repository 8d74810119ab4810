"""`--controllers` as upstream reads it: '*', names, aliases and '-name'."""

from __future__ import annotations

import pytest

from gardener.kube_controller_manager.context import ControllerContext, Startable
from gardener.kube_controller_manager.registry import KNOWN, Descriptor, UnknownController, select


async def _none(ctx: ControllerContext) -> list[Startable]:
    return []


TABLE = (
    Descriptor("deployment-controller", _none, ("deployment",)),
    Descriptor("replicaset-controller", _none, ("replicaset",)),
    Descriptor("bootstrap-signer-controller", _none, ("bootstrapsigner",), enabled_by_default=False),
)


def names(flags: str) -> list[str]:
    return [d.name for d in select(TABLE, flags.split(",")).controllers]


def test_star_enables_the_defaults_only() -> None:
    assert names("*") == ["deployment-controller", "replicaset-controller"]


def test_names_and_aliases_enable_and_minus_disables() -> None:
    assert names("*,bootstrapsigner") == [d.name for d in TABLE]
    assert names("*,-deployment") == ["replicaset-controller"]
    assert names("deployment-controller") == ["deployment-controller"]
    assert names("replicaset,-replicaset-controller") == []
    assert names("") == []


def test_unknown_names_are_refused() -> None:
    with pytest.raises(UnknownController, match="'nope' is not in the list of known controllers"):
        names("*,nope")
    with pytest.raises(UnknownController):
        names("-nope")


def test_upstream_names_without_a_controller_here_are_accepted_and_reported() -> None:
    chosen = select(TABLE, ["*", "tokencleaner", "-attachdetach", "csrsigning-nope"][:3])
    assert [d.name for d in chosen.controllers] == ["deployment-controller", "replicaset-controller"]
    assert chosen.unavailable == ("tokencleaner",)


def test_known_names_are_upstreams() -> None:
    canonical = {d.name for d in KNOWN}
    assert {"deployment-controller", "replicaset-controller", "node-lifecycle-controller"} <= canonical
    assert all(name.endswith("-controller") for name in canonical)
    aliases = [a for d in KNOWN for a in d.aliases]
    assert len(aliases) == len(set(aliases)) and not set(aliases) & canonical
