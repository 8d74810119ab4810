"""Every controller the manager knows, by upstream's canonical name and old aliases, and `--controllers`.

`--controllers` takes upstream's syntax: `*` enables every controller that is on by default, `name` enables
one, `-name` disables one; names are the canonical ones (`deployment-controller`) or their aliases
(`deployment`). An unknown name is refused before anything starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from gardener.kube_controller_manager.context import ControllerContext, Startable

__all__ = ["KNOWN", "Descriptor", "UnknownController", "select"]

Setup = Callable[[ControllerContext], Awaitable[list[Startable]]]


@dataclass(frozen=True)
class Descriptor:
    name: str
    setup: Setup
    aliases: tuple[str, ...] = ()
    enabled_by_default: bool = True


class UnknownController(ValueError):
    pass


def select(known: Iterable[Descriptor], flags: Iterable[str]) -> tuple[Descriptor, ...]:
    """The controllers `--controllers` enables, in the order they are known."""
    table = list(known)
    by_name = {alias: d for d in table for alias in (d.name, *d.aliases)}
    enabled: set[str] = set()
    disabled: set[str] = set()
    star = False
    for raw in flags:
        item = raw.strip()
        if not item:
            continue
        if item == "*":
            star = True
            continue
        name = item[1:] if item.startswith("-") else item
        if name not in by_name:
            raise UnknownController(f"{name!r} is not in the list of known controllers")
        (disabled if item.startswith("-") else enabled).add(by_name[name].name)
    chosen = []
    for d in table:
        if d.name in disabled:
            continue
        if d.name in enabled or (star and d.enabled_by_default):
            chosen.append(d)
    return tuple(chosen)


def _lazy(module: str) -> Setup:
    # TEMPORARY while the controllers are written in parallel: replaced by plain imports when they land.
    async def setup(ctx: ControllerContext) -> list[Startable]:
        import importlib

        mod = importlib.import_module(f"gardener.kube_controller_manager.{module}")
        parts: list[Startable] = await mod.setup(ctx)
        return parts

    return setup


KNOWN: tuple[Descriptor, ...] = (
    Descriptor("serviceaccount-controller", _lazy("serviceaccount"), ("serviceaccount",)),
    Descriptor("endpoints-controller", _lazy("endpoints"), ("endpoint",)),
    Descriptor("endpointslice-controller", _lazy("endpointslice"), ("endpointslice",)),
    Descriptor("replicaset-controller", _lazy("replicaset"), ("replicaset",)),
    Descriptor("deployment-controller", _lazy("deployment"), ("deployment",)),
    Descriptor("statefulset-controller", _lazy("statefulset"), ("statefulset",)),
    Descriptor("daemonset-controller", _lazy("daemonset"), ("daemonset",)),
    Descriptor("job-controller", _lazy("job"), ("job",)),
    Descriptor("cronjob-controller", _lazy("cronjob"), ("cronjob",)),
    Descriptor("ttl-after-finished-controller", _lazy("ttlafterfinished"), ("ttl-after-finished",)),
    Descriptor("node-lifecycle-controller", _lazy("nodelifecycle"), ("nodelifecycle",)),
    Descriptor("taint-eviction-controller", _lazy("tainteviction"), ()),
    Descriptor("pod-garbage-collector-controller", _lazy("podgc"), ("podgc",)),
    Descriptor("resourcequota-controller", _lazy("resourcequota"), ("resourcequota",)),
    Descriptor("disruption-controller", _lazy("disruption"), ("disruption",)),
    Descriptor("horizontal-pod-autoscaler-controller", _lazy("hpa"), ("horizontalpodautoscaling",)),
)
