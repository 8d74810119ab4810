"""The arithmetic of upstream's pkg/controller/deployment/util over plain API objects: the pod-template hash that
names ReplicaSets, maxSurge and maxUnavailable, revisions and the annotations that carry them, how far one step of
a rolling update may scale, proportional scaling, and the status and conditions a Deployment reports.

Pure functions only (no client, no clock of their own): every rule here is one upstream rule, unit-tested against
upstream's tables, and `deployment` / `deploymentrollout` do the writing.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cmp_to_key
from typing import Any

from gardener.kube_controller_manager.objects import meta, parse_time
from gardener.runtime.kube import Obj

__all__ = [
    "HASH_LABEL",
    "REVISION",
    "compute_hash",
    "deployment_complete",
    "equal_ignore_hash",
    "fnv32a",
    "max_surge",
    "max_unavailable",
    "new_rs_new_replicas",
    "progress",
    "resolve_fenceposts",
    "safe_encode",
]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
#: annotations a Deployment never hands to its ReplicaSets (upstream's annotationsToSkip)
SKIPPED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
#: the revision-history annotation is kept below this many characters (upstream's maxRevHistoryLengthInChars)
MAX_REVISION_HISTORY_CHARS = 2000
#: progressDeadlineSeconds of this value means "no deadline" (math.MaxInt32)
NO_DEADLINE = 2**31 - 1

ROLLING, RECREATE = "RollingUpdate", "Recreate"
PROGRESSING, AVAILABLE, REPLICA_FAILURE = "Progressing", "Available", "ReplicaFailure"
RS_UPDATED = "ReplicaSetUpdated"
RS_CREATE_ERROR = "ReplicaSetCreateError"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

# ---- the pod-template hash ----

#: k8s.io/apimachinery/pkg/util/rand's alphabet: no vowels, so no words
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: every character mapped into the vowel-free alphabet."""
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in text)


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """controller.ComputeHash: FNV-1a (32 bit) of the template, then the collision count as 8 little-endian bytes,
    printed in decimal and safe-encoded (`7d9c8b6f5`).

    Upstream feeds the hasher a spew dump of the Go struct; here the template's canonical JSON (sorted keys) goes
    in, so the names have kube's form and stay stable for a template, though not bit-identical to kube's.
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4)
    return safe_encode(str(fnv32a(data)))


def _pruned(value: Any) -> Any:
    """Go's semantic equality: an empty map or list equals a missing one."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def without_hash(template: Mapping[str, Any]) -> Obj:
    out: Obj = copy.deepcopy(dict(template))
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return out


def equal_ignore_hash(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """EqualIgnoreHash: two pod templates are the same but for the pod-template-hash label."""
    return bool(_pruned(without_hash(a)) == _pruned(without_hash(b)))


# ---- fields read with upstream's defaults ----


def spec(obj: Mapping[str, Any]) -> Obj:
    s: Obj = obj.get("spec") or {}
    return s


def replicas(obj: Mapping[str, Any] | None) -> int:
    """spec.replicas (the API server defaults a missing one to 1)."""
    if obj is None:
        return 0
    value = spec(obj).get("replicas")
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def status_int(obj: Mapping[str, Any] | None, field: str) -> int:
    if obj is None:
        return 0
    value = (obj.get("status") or {}).get(field)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def strategy_type(d: Mapping[str, Any]) -> str:
    return str((spec(d).get("strategy") or {}).get("type") or ROLLING)


def progress_deadline(d: Mapping[str, Any]) -> int | None:
    """progressDeadlineSeconds, None when there is none (HasProgressDeadline)."""
    value = spec(d).get("progressDeadlineSeconds")
    if not isinstance(value, int) or isinstance(value, bool) or value == NO_DEADLINE:
        return None
    return value


def history_limit(d: Mapping[str, Any]) -> int | None:
    """revisionHistoryLimit, None to keep every revision (HasRevisionHistoryLimit)."""
    value = spec(d).get("revisionHistoryLimit")
    if not isinstance(value, int) or isinstance(value, bool) or value == NO_DEADLINE:
        return None
    return value


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("annotations") or {})


def created_key(obj: Mapping[str, Any]) -> tuple[float, str]:
    """ReplicaSetsByCreationTimestamp: older first, then by name."""
    return (parse_time(meta(obj).get("creationTimestamp")) or 0.0, str(meta(obj).get("name") or ""))


def by_creation(rss: Iterable[Obj]) -> list[Obj]:
    return sorted(rss, key=created_key)


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    """FilterActiveReplicaSets: the ones that want pods."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def total_replicas(rss: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def total_status(rss: Iterable[Obj | None], field: str) -> int:
    return sum(status_int(rs, field) for rs in rss if rs is not None)


# ---- maxSurge and maxUnavailable ----

_PERCENT = re.compile(r"[+-]?\d+%")


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as it is, "N%" of `total` rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if not _PERCENT.fullmatch(value):
            raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")
        scaled = float(int(value[:-1])) * float(total) / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    raise ValueError(f"invalid value for IntOrString: {value!r}")


def resolve_fenceposts(surge: int | str | None, unavailable: int | str | None, desired: int) -> tuple[int, int]:
    """ResolveFenceposts: surge rounds up, unavailability down; both zero means one may be unavailable."""
    max_surge_ = scaled_value(surge, desired, round_up=True)
    max_unavailable_ = scaled_value(unavailable, desired, round_up=False)
    if max_surge_ == 0 and max_unavailable_ == 0:
        max_unavailable_ = 1
    return max_surge_, max_unavailable_


def _fenceposts(d: Mapping[str, Any]) -> tuple[int, int]:
    rolling = (spec(d).get("strategy") or {}).get("rollingUpdate") or {}
    return resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas(d))


def max_surge(d: Mapping[str, Any]) -> int:
    if strategy_type(d) != ROLLING:
        return 0
    return _fenceposts(d)[0]


def max_unavailable(d: Mapping[str, Any]) -> int:
    if strategy_type(d) != ROLLING or replicas(d) == 0:
        return 0
    return min(_fenceposts(d)[1], replicas(d))


def min_available(d: Mapping[str, Any]) -> int:
    return replicas(d) - max_unavailable(d) if strategy_type(d) == ROLLING else 0


# ---- revisions ----


def revision(obj: Mapping[str, Any]) -> int:
    """The revision annotation; 0 when absent, ValueError when it is not a number."""
    value = annotations_of(obj).get(REVISION)
    return 0 if value is None else int(value)


def max_revision(rss: Iterable[Obj]) -> int:
    best = 0
    for rs in rss:
        try:
            best = max(best, revision(rs))
        except ValueError:
            continue
    return best


def by_revision(rss: Iterable[Obj]) -> list[Obj]:
    """ReplicaSetsByRevision: oldest revision first, creation time when revisions tie or do not parse."""

    def compare(a: Obj, b: Obj) -> int:
        try:
            ra, rb = revision(a), revision(b)
        except ValueError:
            ra = rb = 0
        if ra != rb:
            return -1 if ra < rb else 1
        ka, kb = created_key(a), created_key(b)
        return -1 if ka < kb else (1 if ka > kb else 0)

    return sorted(rss, key=cmp_to_key(compare))


def _notes(obj: Obj) -> dict[str, str]:
    """The object's annotations, made a dict in place so that they can be written."""
    md = obj.setdefault("metadata", {})
    if not isinstance(md.get("annotations"), dict):
        md["annotations"] = {}
    notes: dict[str, str] = md["annotations"]
    return notes


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    notes = _notes(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if notes.get(key) != value:
            notes[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Mapping[str, Any], desired: int, maximum: int) -> bool:
    notes = annotations_of(rs)
    return notes.get(DESIRED_REPLICAS) != str(desired) or notes.get(MAX_REPLICAS) != str(maximum)


def set_new_rs_annotations(d: Mapping[str, Any], rs: Obj, new_revision: str, *, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise the revision (remembering the old one
    in revision-history when this is a rollback to an existing ReplicaSet), and on creation the replica counts."""
    notes = _notes(rs)
    changed = False
    for key, value in annotations_of(d).items():
        if key not in SKIPPED_ANNOTATIONS and notes.get(key) != value:
            notes[key] = value
            changed = True
    old = notes.get(REVISION)
    try:
        old_number = int(old) if old else 0
        new_number = int(new_revision)
    except ValueError:
        return False
    if old_number < new_number:
        notes[REVISION] = new_revision
        changed = True
        if old is not None:
            history = notes.get(REVISION_HISTORY, "")
            if not history:
                notes[REVISION_HISTORY] = old
            else:
                entries = history.split(",")
                length = len(history) + len(old) + 1
                start = 0
                while length > MAX_REVISION_HISTORY_CHARS and start < len(entries):
                    length -= len(entries[start]) + 1
                    start += 1
                if length <= MAX_REVISION_HISTORY_CHARS:
                    notes[REVISION_HISTORY] = ",".join([*entries[start:], old])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


# ---- finding a Deployment's ReplicaSets ----


def find_new_rs(d: Mapping[str, Any], rss: Iterable[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's."""
    template = spec(d).get("template") or {}
    for rs in by_creation(rss):
        if equal_ignore_hash(spec(rs).get("template") or {}, template):
            return rs
    return None


def find_old_rss(d: Mapping[str, Any], rss: Sequence[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets that still want pods, all old ReplicaSets)."""
    new = find_new_rs(d, rss)
    new_uid = meta(new).get("uid") if new is not None else None
    every = [rs for rs in rss if new is None or meta(rs).get("uid") != new_uid]
    return [rs for rs in every if replicas(rs) != 0], every


def find_active_or_latest(new: Obj | None, old: Sequence[Obj]) -> Obj | None:
    """The only ReplicaSet with pods, or the newest when none has any; None when several have pods."""
    if new is None and not old:
        return None
    newest_first = sorted(old, key=created_key, reverse=True)
    live = active([*newest_first, new])
    if not live:
        return new if new is not None else newest_first[0]
    return live[0] if len(live) == 1 else None


def is_saturated(d: Mapping[str, Any], rs: Obj | None) -> bool:
    if rs is None:
        return False
    try:
        desired = int(annotations_of(rs).get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    want = replicas(d)
    return replicas(rs) == want and desired == want and status_int(rs, "availableReplicas") == want


# ---- one step of a rollout ----


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: Sequence[Obj | None], new: Obj) -> int:
    """NewRSNewReplicas: how big the new ReplicaSet may be now."""
    kind = strategy_type(d)
    if kind == RECREATE:
        return replicas(d)
    if kind != ROLLING:
        raise ValueError(f"deployment type {kind} isn't supported")
    rolling = (spec(d).get("strategy") or {}).get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge"), replicas(d), round_up=True)
    current = total_replicas(all_rss)
    ceiling = replicas(d) + surge
    if current >= ceiling:
        return replicas(new)
    return replicas(new) + min(ceiling - current, replicas(d) - replicas(new))


def max_scaled_down(d: Mapping[str, Any], all_rss: Sequence[Obj | None], new: Obj | None) -> int:
    """How many pods of old ReplicaSets may go now without dropping below the minimum available."""
    unavailable_new = replicas(new) - status_int(new, "availableReplicas")
    return total_replicas(all_rss) - min_available_rolling(d) - unavailable_new


def min_available_rolling(d: Mapping[str, Any]) -> int:
    return replicas(d) - max_unavailable(d)


def unhealthy_cleanup(old: Sequence[Obj], budget: int) -> list[tuple[Obj, int]]:
    """cleanupUnhealthyReplicas: (ReplicaSet, new size) for old ReplicaSets with unavailable pods, oldest first,
    within `budget` pods."""
    plan: list[tuple[Obj, int]] = []
    done = 0
    for rs in by_creation(old):
        if done >= budget:
            break
        size, ok = replicas(rs), status_int(rs, "availableReplicas")
        if size == 0 or size == ok:
            continue
        cut = min(budget - done, size - ok)
        plan.append((rs, size - cut))
        done += cut
    return plan


def old_scale_down(d: Mapping[str, Any], all_rss: Sequence[Obj | None], old: Sequence[Obj]) -> list[tuple[Obj, int]]:
    """scaleDownOldReplicaSetsForRollingUpdate: (ReplicaSet, new size), oldest first, as far as the available
    pods above the minimum allow."""
    floor = min_available_rolling(d)
    available = total_status(all_rss, "availableReplicas")
    if available <= floor:
        return []
    budget = available - floor
    plan: list[tuple[Obj, int]] = []
    done = 0
    for rs in by_creation(old):
        if done >= budget:
            break
        size = replicas(rs)
        if size == 0:
            continue
        cut = min(size, budget - done)
        plan.append((rs, size - cut))
        done += cut
    return plan


def _round_half_away(value: float) -> int:
    return int(value - 0.5) if value < 0 else int(value + 0.5)


def _fraction(rs: Obj, d: Mapping[str, Any]) -> int:
    """getReplicaSetFraction: this ReplicaSet's share of the change, from the max-replicas it was sized for."""
    if replicas(d) == 0:
        return -replicas(rs)
    target = replicas(d) + max_surge(d)
    try:
        before = int(annotations_of(rs).get(MAX_REPLICAS, ""))
    except ValueError:
        before = 0
    if before == 0:
        before = status_int(d, "replicas")
        if before == 0:
            return 0
    return _round_half_away(float(replicas(rs) * target) / float(before)) - replicas(rs)


def proportion(rs: Obj, d: Mapping[str, Any], to_add: int, added: int) -> int:
    """GetReplicaSetProportion: never more than what is left to add (or remove)."""
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    share, allowed = _fraction(rs, d), to_add - added
    return min(share, allowed) if to_add > 0 else max(share, allowed)


def _size_order(rss: Sequence[Obj], *, newer_first: bool) -> list[Obj]:
    def compare(a: Obj, b: Obj) -> int:
        if replicas(a) != replicas(b):
            return -1 if replicas(a) > replicas(b) else 1
        ka, kb = created_key(a), created_key(b)
        if newer_first:
            ka, kb = kb, ka
        return -1 if ka < kb else (1 if ka > kb else 0)

    return sorted(rss, key=cmp_to_key(compare))


def proportional_sizes(d: Mapping[str, Any], new: Obj | None, old: Sequence[Obj]) -> tuple[list[tuple[Obj, int]], str]:
    """The proportional part of DeploymentController.scale: every active ReplicaSet's new size (largest first,
    the leftover going to the first) and whether that is scaling "up" or "down"."""
    live = active([*old, new])
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - total_replicas(live)
    operation = ""
    if to_add > 0:
        live = _size_order(live, newer_first=True)
        operation = "up"
    elif to_add < 0:
        live = _size_order(live, newer_first=False)
        operation = "down"
    added = 0
    sizes: list[int] = []
    for rs in live:
        if to_add != 0:
            share = proportion(rs, d, to_add, added)
            sizes.append(replicas(rs) + share)
            added += share
        else:
            sizes.append(replicas(rs))
    if live and to_add != 0:
        sizes[0] = max(sizes[0] + to_add - added, 0)
    return list(zip(live, sizes, strict=True)), operation


# ---- status and conditions ----


def condition(status: Mapping[str, Any], kind: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def new_condition(kind: str, status: str, reason: str, message: str, *, now: str) -> Obj:
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def set_condition(status: Obj, cond: Obj) -> None:
    """SetDeploymentCondition: nothing changes when status and reason are the same; the transition time stays
    while the status does."""
    current = condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    cond = dict(cond)
    if current is not None and current.get("status") == cond["status"]:
        cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status: Obj, kind: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


_OMITEMPTY = (
    "observedGeneration",
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "unavailableReplicas",
)


def compact(status: Mapping[str, Any]) -> Obj:
    """A DeploymentStatus as kube serializes it: zero counts and absent lists left out."""
    out = {k: v for k, v in status.items() if v is not None and not (k in _OMITEMPTY and v == 0)}
    if not out.get("conditions"):
        out.pop("conditions", None)
    return out


def calculate_status(all_rss: Sequence[Obj | None], new: Obj | None, d: Mapping[str, Any], *, now: str) -> Obj:
    """calculateStatus: counts from the ReplicaSets, the Available condition from the minimum availability."""
    available = total_status(all_rss, "availableReplicas")
    unavailable = max(total_replicas(all_rss) - available, 0)
    old = d.get("status") or {}
    status: Obj = {
        "observedGeneration": meta(d).get("generation") or 0,
        "replicas": total_status(all_rss, "replicas"),
        "updatedReplicas": status_int(new, "replicas"),
        "readyReplicas": total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": [dict(c) for c in old.get("conditions") or []],
        "collisionCount": old.get("collisionCount"),
    }
    if available >= replicas(d) - max_unavailable(d):
        cond = new_condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now=now)
    else:
        cond = new_condition(
            AVAILABLE, "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.", now=now
        )
    set_condition(status, cond)
    return compact(status)


def deployment_complete(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """All desired replicas updated and available, no old ones left, the newest spec observed."""
    want = replicas(d)
    return (
        int(status.get("updatedReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("observedGeneration") or 0) >= int(meta(d).get("generation") or 0)
    )


def deployment_progressing(d: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """New pods came, old ones went, or more became ready or available since the last status."""
    old = d.get("status") or {}

    def n(s: Mapping[str, Any], key: str) -> int:
        return int(s.get(key) or 0)

    return (
        n(status, "updatedReplicas") > n(old, "updatedReplicas")
        or n(status, "replicas") - n(status, "updatedReplicas") < n(old, "replicas") - n(old, "updatedReplicas")
        or n(status, "readyReplicas") > n(old, "readyReplicas")
        or n(status, "availableReplicas") > n(old, "availableReplicas")
    )


def deployment_timed_out(d: Mapping[str, Any], status: Mapping[str, Any], *, now: float) -> bool:
    deadline = progress_deadline(d)
    cond = condition(status, PROGRESSING)
    if deadline is None or cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    return since is not None and since + deadline < now


def _rs_failures(all_rss: Sequence[Obj | None], new: Obj | None) -> list[Obj]:
    """getReplicaFailures: the new ReplicaSet's ReplicaFailure condition before the old ones'."""

    def failures(rs: Obj | None) -> list[Obj]:
        out = []
        for c in (rs or {}).get("status", {}).get("conditions") or []:
            if c.get("type") == REPLICA_FAILURE:
                when = c.get("lastTransitionTime")
                out.append(
                    {
                        "type": REPLICA_FAILURE,
                        "status": c.get("status", ""),
                        "lastUpdateTime": when,
                        "lastTransitionTime": when,
                        "reason": c.get("reason", ""),
                        "message": c.get("message", ""),
                    }
                )
        return out

    return failures(new) or [f for rs in all_rss for f in failures(rs)]


def progress(
    d: Mapping[str, Any], all_rss: Sequence[Obj | None], new: Obj | None, *, now: str, now_ts: float
) -> tuple[Obj, float | None]:
    """syncRolloutStatus without the write: the new status with its Progressing and ReplicaFailure conditions,
    and when to look again for a progress deadline (requeueStuckDeployment; None: not needed)."""
    status = calculate_status(all_rss, new, d, now=now)
    deadline = progress_deadline(d)
    if deadline is None:
        remove_condition(status, PROGRESSING)
    current = condition(d.get("status") or {}, PROGRESSING)
    complete_before = (
        int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0)
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    name = f"ReplicaSet {json.dumps(meta(new).get('name', ''))}" if new is not None else ""
    subject = name or f"Deployment {json.dumps(meta(d).get('name', ''))}"
    if deadline is not None and not complete_before:
        if deployment_complete(d, status):
            msg = f"{subject} has successfully progressed."
            set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now=now))
        elif deployment_progressing(d, status):
            cond = new_condition(PROGRESSING, "True", RS_UPDATED, f"{subject} is progressing.", now=now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime", now)
                remove_condition(status, PROGRESSING)
            set_condition(status, cond)
        elif deployment_timed_out(d, status, now=now_ts):
            msg = f"{subject} has timed out progressing."
            set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT, msg, now=now))
    failures = _rs_failures(all_rss, new)
    if failures:
        set_condition(status, failures[0])
    else:
        remove_condition(status, REPLICA_FAILURE)
    return status, _stuck_after(d, status, current, now_ts=now_ts)


def _stuck_after(
    d: Mapping[str, Any], status: Mapping[str, Any], current: Obj | None, *, now_ts: float
) -> float | None:
    deadline = progress_deadline(d)
    if deadline is None or current is None:
        return None
    if deployment_complete(d, status) or current.get("reason") == TIMED_OUT:
        return None
    since = parse_time(current.get("lastUpdateTime"))
    if since is None:
        return None
    after = since + deadline - now_ts
    # upstream: a second after the deadline, or (rate-limited) at once when it is less than a second away
    return after + 1 if after >= 1 else 1.0
