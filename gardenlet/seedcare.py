"""Seed care: whether this seed can build shoots, written as the Seed's conditions by its gardenlet.

A scheduler that trusts a seed must know that the seed can take a shoot, not only that some process heartbeats.
So on every heartbeat the gardenlet looks at its seed cluster over the seed's API and reports:

- `GardenletReady`: True only when the gardenlet reaches both the garden (it is writing this) and the seed's API
  server with its credentials. Gardener stops renewing the Lease when the seed is unreachable, so the seed turns
  Unknown only a monitor period later and with a generic message; here the Lease stays fresh (the gardenlet is
  alive) and the condition is False at once, naming the seed's server and the error.
- `ExtensionsReady`: the kinds the shoot flows write (extensions.gardener.cloud and the machine controller
  manager's) have Established CRDs in the seed, and every ControllerInstallation of this seed is valid, installed,
  healthy and not progressing (the rules of Gardener's extensions check).
- `SeedSystemComponentsHealthy`: what runs control planes on the seed. A local seed has no managed resources or
  Prometheus; its one system component is the provider-local node agent, visible as the seed's Node. So: at least
  one Node, and every Node Ready with a heartbeat younger than kube's node monitor grace period.
- `BackupBucketsReady`, only while `spec.backup` is set: every BackupBucket in the seed has succeeded. Nothing
  creates BackupBuckets yet, so a seed with backups configured says so instead of taking shoots it cannot back up.

The Seed's `lastOperation` becomes Reconcile Succeeded once the seed was reached: Gardener's scheduler takes only
seeds that have been reconciled. When the gardenlet stops, the controller-manager's seed lifecycle turns all of
these Unknown, as nobody checks them any more.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gardener.apis.core import conditions as cond
from gardener.apis.extensions.crds import extensions_crds
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import Kube

Obj = dict[str, Any]

GARDENLET_READY = cond.SEED_GARDENLET_READY
EXTENSIONS_READY = cond.SEED_EXTENSIONS_READY
SYSTEM_COMPONENTS_HEALTHY = cond.SEED_SYSTEM_COMPONENTS_HEALTHY
BACKUP_BUCKETS_READY = cond.SEED_BACKUP_BUCKETS_READY

READY_REASON = "GardenletReady"
READY_MESSAGE = "Gardenlet is posting ready status."
UNREACHABLE_REASON = "SeedUnreachable"
#: kube-controller-manager's node-monitor-grace-period: a Node not heard from for longer is not Ready
NODE_MONITOR_GRACE = dt.timedelta(seconds=50)
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
NODES = "/api/v1/nodes"
BACKUP_BUCKETS = "/apis/extensions.gardener.cloud/v1alpha1/backupbuckets"
CONTROLLER_INSTALLATIONS = "/apis/core.gardener.cloud/v1beta1/controllerinstallations"
SUCCEEDED_DESCRIPTION = "Seed cluster has been successfully reconciled."
#: ControllerInstallation conditions and the status each must have (Gardener's extensions check)
INSTALLATION_CONDITIONS = {"Valid": cond.TRUE, "Installed": cond.TRUE, "Healthy": cond.TRUE, "Progressing": cond.FALSE}


def required_crds() -> tuple[str, ...]:
    """The CRDs the shoot flows and the extensions that serve them need in every seed."""
    return tuple(sorted(c["metadata"]["name"] for c in extensions_crds()))


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class Observed:
    """One look at the seed cluster; `error` says why the seed could not be looked at."""

    error: str | None = None
    kubernetes_version: str | None = None
    crds: Sequence[Obj] = field(default_factory=tuple)
    nodes: Sequence[Obj] = field(default_factory=tuple)
    backup_buckets: Sequence[Obj] | None = None


def _established(crd: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == cond.TRUE
        for c in (crd.get("status") or {}).get("conditions") or ()
    )


def extensions_ready(crds: Iterable[Mapping[str, Any]], installations: Iterable[Mapping[str, Any]]) -> Verdict:
    established = {c["metadata"]["name"] for c in crds if _established(c)}
    missing = [name for name in required_crds() if name not in established]
    if missing:
        return Verdict(
            cond.FALSE,
            "ExtensionCRDsMissing",
            f"The seed has no Established CRD for {', '.join(missing)}: shoots cannot be built here.",
        )
    unfit: list[str] = []
    for installation in installations:
        conditions = (installation.get("status") or {}).get("conditions") or []
        wrong = [
            f"{ctype}={(cond.get_condition(conditions, ctype) or {}).get('status', 'missing')}"
            for ctype, wanted in INSTALLATION_CONDITIONS.items()
            if (cond.get_condition(conditions, ctype) or {}).get("status") != wanted
        ]
        if wrong:
            unfit.append(f"{installation['metadata']['name']} ({', '.join(wrong)})")
    if unfit:
        return Verdict(cond.FALSE, "NotAllExtensionsReady", f"Some extensions are not ready: {'; '.join(unfit)}.")
    return Verdict(
        cond.TRUE, "AllExtensionsReady", "All extensions installed into the seed cluster are ready and healthy."
    )


def _node_problem(node: Mapping[str, Any], now: dt.datetime) -> str | None:
    name = node["metadata"]["name"]
    ready = cond.get_condition((node.get("status") or {}).get("conditions"), "Ready")
    if ready is None or ready.get("status") != cond.TRUE:
        why = (ready or {}).get("message") or (ready or {}).get("reason") or "no Ready condition"
        return f"node {name} is not Ready ({why})"
    beat = cond.parse_time(ready.get("lastHeartbeatTime"))
    if beat is not None and beat + NODE_MONITOR_GRACE < now:
        return f"node {name} stopped posting status (last heartbeat {cond.format_time(beat)})"
    return None


def system_components_healthy(nodes: Iterable[Mapping[str, Any]], *, now: dt.datetime) -> Verdict:
    nodes = list(nodes)
    if not nodes:
        return Verdict(
            cond.FALSE,
            "NoNodes",
            "The seed has no Node to run control planes on (on a local seed: the provider-local node agent).",
        )
    problems = [p for p in (_node_problem(n, now) for n in nodes) if p is not None]
    if problems:
        return Verdict(
            cond.FALSE, "NodesNotReady", f"Not all seed system components are healthy: {'; '.join(problems)}."
        )
    return Verdict(cond.TRUE, "SystemComponentsRunning", "All system components are healthy.")


def backup_buckets_ready(buckets: Iterable[Mapping[str, Any]]) -> Verdict:
    buckets = list(buckets)
    if not buckets:
        return Verdict(
            cond.FALSE,
            "BackupBucketsMissing",
            "spec.backup is set but the seed has no BackupBucket: this gardenlet does not create them yet.",
        )
    failed = [
        b["metadata"]["name"]
        for b in buckets
        if ((b.get("status") or {}).get("lastOperation") or {}).get("state") != "Succeeded"
    ]
    if failed:
        return Verdict(cond.FALSE, "BackupBucketsError", f"BackupBuckets not ready: {', '.join(failed)}.")
    return Verdict(cond.TRUE, "BackupBucketsAvailable", "Backup Buckets are available.")


def verdicts(
    seed: Mapping[str, Any], observed: Observed, installations: Iterable[Mapping[str, Any]], *, now: dt.datetime
) -> dict[str, Verdict]:
    """Every seed condition the gardenlet owns, by type; BackupBucketsReady only while backups are configured."""
    backup = bool((seed.get("spec") or {}).get("backup"))
    if observed.error is not None:
        unknown = Verdict(cond.UNKNOWN, UNREACHABLE_REASON, f"The seed cannot be checked: {observed.error}")
        out = {
            GARDENLET_READY: Verdict(
                cond.FALSE, UNREACHABLE_REASON, f"Gardenlet cannot reach its seed: {observed.error}"
            ),
            EXTENSIONS_READY: unknown,
            SYSTEM_COMPONENTS_HEALTHY: unknown,
        }
        if backup:
            out[BACKUP_BUCKETS_READY] = unknown
        return out
    out = {
        GARDENLET_READY: Verdict(cond.TRUE, READY_REASON, READY_MESSAGE),
        EXTENSIONS_READY: extensions_ready(observed.crds, installations),
        SYSTEM_COMPONENTS_HEALTHY: system_components_healthy(observed.nodes, now=now),
    }
    if backup:
        out[BACKUP_BUCKETS_READY] = backup_buckets_ready(observed.backup_buckets or ())
    return out


def seed_conditions(
    seed: Mapping[str, Any], observed: Observed, installations: Iterable[Mapping[str, Any]], *, now: dt.datetime
) -> list[cond.Condition]:
    """The Seed's conditions after this look: ours updated, BackupBucketsReady dropped without backups, others kept."""
    current = [
        c
        for c in (seed.get("status") or {}).get("conditions") or []
        if isinstance(c, dict) and (c.get("type") != BACKUP_BUCKETS_READY or (seed.get("spec") or {}).get("backup"))
    ]
    updates = [
        cond.updated_condition(
            cond.get_condition(current, ctype),
            ctype=ctype,
            status=v.status,
            reason=v.reason,
            message=v.message,
            now=now,
        )
        for ctype, v in verdicts(seed, observed, installations, now=now).items()
    ]
    return cond.merge_conditions(current, *updates)


def last_operation(old: Mapping[str, Any] | None, observed: Observed, *, now: dt.datetime) -> Obj | None:
    """Reconcile Succeeded once the seed was reached; before that none, and a later failure leaves it as it was
    (GardenletReady says what is wrong now)."""
    if observed.error is not None:
        return dict(old) if old else None
    wanted = {"type": "Reconcile", "state": "Succeeded", "progress": 100, "description": SUCCEEDED_DESCRIPTION}
    if old and all(old.get(k) == v for k, v in wanted.items()):
        return dict(old)
    return {**wanted, "lastUpdateTime": cond.format_time(now)}


def observe(seed_kube: Kube, *, backup: bool) -> Observed:
    """Look at the seed cluster: its version, CRDs and Nodes (and BackupBuckets when backups are configured)."""
    try:
        version = seed_kube.raw("GET", "/version") or {}
        crds = (seed_kube.raw("GET", CRDS) or {}).get("items") or []
        nodes = (seed_kube.raw("GET", NODES) or {}).get("items") or []
        buckets = None
        if backup:
            found = seed_kube.raw("GET", BACKUP_BUCKETS)
            buckets = (found or {}).get("items") or []
    except ApiError as exc:
        return Observed(error=_describe(seed_kube, exc))
    return Observed(
        kubernetes_version=str(version.get("gitVersion") or "").removeprefix("v") or None,
        crds=tuple(crds),
        nodes=tuple(nodes),
        backup_buckets=None if buckets is None else tuple(buckets),
    )


def _describe(seed_kube: Kube, exc: ApiError) -> str:
    """The problem in words that stay the same from one beat to the next (no object addresses), so an unreachable
    seed's condition is written once, not on every heartbeat."""
    host = getattr(seed_kube.api.configuration, "host", "") or "the seed API server"
    if exc.status:
        return f"{host} answered {exc.status} {exc.reason}: {exc.message}"[:400]
    text = _ADDRESS.sub("", str(exc))
    errno = _ERRNO.search(text)
    return f"{host} is not reachable: {errno.group(0) if errno else text}"[:400]


_ADDRESS = re.compile(r" (object )?at 0x[0-9a-fA-F]+")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]*")
