"""What a seed offers the control planes it hosts: images, storage, and which features its platform needs.

A local seed (provider type `local`) runs control planes as host processes through provider-local's node
agent: there the API server is the project's own, whose etcd client speaks plain HTTP and which signs
certificate requests itself, so the local profile turns etcd TLS off and hands the API server the CA key.
Such switches live here and nowhere in the flow.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

LOCAL = "local"


@dataclass(frozen=True, kw_only=True)
class SeedProfile:
    etcd_image: str = "registry.k8s.io/etcd:3.5.17-0"
    kube_apiserver_repository: str = "registry.k8s.io/kube-apiserver"
    etcd_storage: str = "10Gi"
    etcd_storage_class: str = ""
    etcd_tls: bool = True
    #: the API server signs CSRs with the cluster CA itself (no kube-controller-manager does it)
    embedded_csr_signer: bool = False
    #: kubelet probe period of control-plane pods; short where starting is cheap
    probe_period_seconds: int = 10


def profile_for(seed: dict[str, Any] | None, **overrides: Any) -> SeedProfile:
    """The profile of a Seed by its provider type; `overrides` (from the gardenlet configuration) win."""
    provider = str(((seed or {}).get("spec") or {}).get("provider", {}).get("type") or "")
    profile = SeedProfile()
    if provider == LOCAL:
        profile = dataclasses.replace(profile, etcd_tls=False, embedded_csr_signer=True, probe_period_seconds=1)
    return dataclasses.replace(profile, **overrides)
