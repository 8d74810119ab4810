"""Every controller the manager knows, by upstream's canonical name and old aliases, and `--controllers`.

`--controllers` takes upstream's syntax: `*` enables every controller that is on by default, `name` enables
one, `-name` disables one; names are the canonical ones (`deployment-controller`) or their aliases
(`deployment`). A name upstream knows but this manager does not implement (`bootstrapsigner`, `csrsigning`, ...)
is accepted and reported as not available, so an upstream command line works unchanged; a name nobody knows is
refused before anything starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from gardener.kube_controller_manager.context import ControllerContext, Startable

__all__ = ["KNOWN", "UPSTREAM_ONLY", "Descriptor", "Selection", "UnknownController", "select"]

Setup = Callable[[ControllerContext], Awaitable[list[Startable]]]


@dataclass(frozen=True)
class Descriptor:
    name: str
    setup: Setup
    aliases: tuple[str, ...] = ()
    enabled_by_default: bool = True


class UnknownController(ValueError):
    pass


#: kube-controller-manager 1.32's other controllers (canonical names and aliases), which this one leaves out:
#: the API server does their work itself (garbage collection, namespaces, CSR signing and approval, cluster role
#: aggregation, bootstrap tokens), or they concern clouds, volumes and alpha features it does not serve
UPSTREAM_ONLY = frozenset(
    {
        *("serviceaccount-token-controller", "serviceaccount-token"),
        *("endpointslice-mirroring-controller", "endpointslicemirroring"),
        *("replicationcontroller-controller", "replicationcontroller"),
        *("namespace-controller", "namespace"),
        *("garbage-collector-controller", "garbagecollector"),
        *("certificatesigningrequest-signing-controller", "csrsigning"),
        *("certificatesigningrequest-approving-controller", "csrapproving"),
        *("certificatesigningrequest-cleaner-controller", "csrcleaner"),
        *("ttl-controller", "ttl"),
        *("bootstrap-signer-controller", "bootstrapsigner"),
        *("token-cleaner-controller", "tokencleaner"),
        *("node-ipam-controller", "nodeipam"),
        *("persistentvolume-binder-controller", "persistentvolume-binder"),
        *("persistentvolume-attach-detach-controller", "attachdetach"),
        *("persistentvolume-expander-controller", "persistentvolume-expander"),
        *("clusterrole-aggregation-controller", "clusterrole-aggregation"),
        *("persistentvolumeclaim-protection-controller", "pvc-protection"),
        *("persistentvolume-protection-controller", "pv-protection"),
        *("root-ca-certificate-publisher-controller", "root-ca-cert-publisher"),
        *("ephemeral-volume-controller", "ephemeral-volume"),
        *("storageversion-garbage-collector-controller", "storage-version-gc"),
        *("resourceclaim-controller", "resource-claim-controller"),
        *("legacy-serviceaccount-token-cleaner-controller", "legacy-service-account-token-cleaner"),
        *("validatingadmissionpolicy-status-controller", "validatingadmissionpolicy-status"),
        *("service-lb-controller", "service"),
        *("node-route-controller", "route"),
        *("cloud-node-lifecycle-controller", "cloud-node-lifecycle"),
        "service-cidr-controller",
        "storage-version-migrator-controller",
    }
)


@dataclass(frozen=True)
class Selection:
    """What `--controllers` asks for: the controllers to run, and upstream's that were asked for but are absent."""

    controllers: tuple[Descriptor, ...]
    unavailable: tuple[str, ...] = ()


def select(known: Iterable[Descriptor], flags: Iterable[str]) -> Selection:
    """The controllers `--controllers` enables, in the order they are known."""
    table = list(known)
    by_name = {alias: d for d in table for alias in (d.name, *d.aliases)}
    enabled: set[str] = set()
    disabled: set[str] = set()
    star = False
    unavailable: list[str] = []
    for raw in flags:
        item = raw.strip()
        if not item:
            continue
        if item == "*":
            star = True
            continue
        name = item[1:] if item.startswith("-") else item
        if name in UPSTREAM_ONLY and name not in by_name:
            if not item.startswith("-"):
                unavailable.append(name)
            continue
        if name not in by_name:
            raise UnknownController(f"{name!r} is not in the list of known controllers")
        (disabled if item.startswith("-") else enabled).add(by_name[name].name)
    chosen = []
    for d in table:
        if d.name in disabled:
            continue
        if d.name in enabled or (star and d.enabled_by_default):
            chosen.append(d)
    return Selection(controllers=tuple(chosen), unavailable=tuple(unavailable))


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
