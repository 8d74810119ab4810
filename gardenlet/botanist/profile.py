"""What a seed offers the control planes it hosts: images, storage, and which features its platform needs.

The profile follows what runs the seed, not which cloud it is on. A seed whose nodes are provider-local node
agents (they report the container runtime `provider-local://...`) runs control planes as host processes: there
the API server is the project's own, whose etcd client speaks plain HTTP and which signs certificate requests
itself, so that profile turns etcd TLS off and hands the API server the CA key. Any other seed is a real cluster
and gets the default profile, whatever its provider type. Such switches live here and nowhere in the flow.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gardener.runtime.kube import NODES, Kube

log = logging.getLogger("gardenlet.profile")

#: the container runtime a provider-local node agent reports for its node
HOST_PROCESS_RUNTIME = "provider-local://"


@dataclass(frozen=True, kw_only=True)
class SeedProfile:
    etcd_image: str = "registry.k8s.io/etcd:3.5.17-0"
    kube_apiserver_repository: str = "registry.k8s.io/kube-apiserver"
    kube_controller_manager_repository: str = "registry.k8s.io/kube-controller-manager"
    kube_scheduler_repository: str = "registry.k8s.io/kube-scheduler"
    etcd_storage: str = "10Gi"
    etcd_storage_class: str = ""
    etcd_tls: bool = True
    #: the API server signs CSRs with the cluster CA itself (no kube-controller-manager does it)
    embedded_csr_signer: bool = False
    #: kubelet probe period of control-plane pods; short where starting is cheap
    probe_period_seconds: int = 10


HOST_PROCESSES = SeedProfile(etcd_tls=False, embedded_csr_signer=True, probe_period_seconds=1)


def _runtimes(nodes: Iterable[dict[str, Any]]) -> list[str]:
    return [str(((n.get("status") or {}).get("nodeInfo") or {}).get("containerRuntimeVersion") or "") for n in nodes]


def runs_host_processes(nodes: Iterable[dict[str, Any]]) -> bool:
    """Whether every node of a seed is a provider-local node agent (and there is at least one)."""
    runtimes = _runtimes(nodes)
    return bool(runtimes) and all(r.startswith(HOST_PROCESS_RUNTIME) for r in runtimes)


def profile_of_nodes(nodes: Iterable[dict[str, Any]], **overrides: Any) -> SeedProfile:
    """The profile of a seed with these nodes; `overrides` (from the gardenlet configuration) win."""
    return dataclasses.replace(HOST_PROCESSES if runs_host_processes(nodes) else SeedProfile(), **overrides)


async def seed_profile(seed: Kube, *, poll: float = 1.0, **overrides: Any) -> SeedProfile:
    """The profile of the seed `seed` is a client of, from its Nodes; waits until there is a Node and every Node
    has reported its container runtime (a Node is created before its status: guessing then would pick the
    wrong profile, and a seed without nodes cannot host control planes anyway)."""
    while True:
        nodes = ((await seed.araw("GET", NODES.path())) or {}).get("items") or []
        runtimes = _runtimes(nodes)
        if runtimes and all(runtimes):
            return profile_of_nodes(nodes, **overrides)
        log.info("Waiting for the seed's first Node to tell what runs the seed")
        await asyncio.sleep(poll)
