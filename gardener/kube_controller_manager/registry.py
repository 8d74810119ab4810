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

from gardener.kube_controller_manager import (
    cronjob,
    csrapproving,
    daemonset,
    deployment,
    disruption,
    endpoints,
    endpointslice,
    hpa,
    job,
    nodelifecycle,
    podgc,
    replicaset,
    resourcequota,
    serviceaccount,
    statefulset,
    tainteviction,
    ttlafterfinished,
)
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
#: the API server does their work itself (garbage collection, namespaces, CSR signing, cluster role aggregation,
#: bootstrap tokens), or they concern clouds, volumes and alpha features it does not serve
UPSTREAM_ONLY = frozenset(
    {
        *("serviceaccount-token-controller", "serviceaccount-token"),
        *("endpointslice-mirroring-controller", "endpointslicemirroring"),
        *("replicationcontroller-controller", "replicationcontroller"),
        *("namespace-controller", "namespace"),
        *("garbage-collector-controller", "garbagecollector"),
        *("certificatesigningrequest-signing-controller", "csrsigning"),
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


KNOWN: tuple[Descriptor, ...] = (
    Descriptor("serviceaccount-controller", serviceaccount.setup, ("serviceaccount",)),
    Descriptor("endpoints-controller", endpoints.setup, ("endpoint",)),
    Descriptor("endpointslice-controller", endpointslice.setup, ("endpointslice",)),
    Descriptor("replicaset-controller", replicaset.setup, ("replicaset",)),
    Descriptor("deployment-controller", deployment.setup, ("deployment",)),
    Descriptor("statefulset-controller", statefulset.setup, ("statefulset",)),
    Descriptor("daemonset-controller", daemonset.setup, ("daemonset",)),
    Descriptor("job-controller", job.setup, ("job",)),
    Descriptor("cronjob-controller", cronjob.setup, ("cronjob",)),
    Descriptor("ttl-after-finished-controller", ttlafterfinished.setup, ("ttl-after-finished",)),
    Descriptor("node-lifecycle-controller", nodelifecycle.setup, ("nodelifecycle",)),
    Descriptor("taint-eviction-controller", tainteviction.setup, ()),
    Descriptor("pod-garbage-collector-controller", podgc.setup, ("podgc",)),
    Descriptor("resourcequota-controller", resourcequota.setup, ("resourcequota",)),
    Descriptor("disruption-controller", disruption.setup, ("disruption",)),
    Descriptor("horizontal-pod-autoscaler-controller", hpa.setup, ("horizontalpodautoscaling",)),
    Descriptor("certificatesigningrequest-approving-controller", csrapproving.setup, ("csrapproving",)),
)
