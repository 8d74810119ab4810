"""What of a Shoot, Seed and CloudProfile is copied into the seed's `Cluster` resource.

Gardener copies the three objects whole, only without managedFields (pkg/extensions/cluster.go). The
metadata of a Shoot is its owner's to fill, though: up to 256 KiB of annotations (kube's limit) and any
number of labels, all copied into every seed the Shoot lands on, and `kubectl apply` alone adds a full copy
of the object (`kubectl.kubernetes.io/last-applied-configuration`). Extensions read Gardener's own keys from
there (`*.gardener.cloud/...`: operation annotations, feature switches, provider options), never a user's.

So the copy keeps spec and status whole, drops managedFields, and keeps only labels and annotations of a
`gardener.cloud` domain, at most `MAX_METADATA_BYTES` of each map: smaller entries first, so one oversized
value cannot push out the flags extensions act on. The same rule applies to the Seed and CloudProfile.
"""

from __future__ import annotations

from typing import Any

DOMAIN = "gardener.cloud"
#: bytes (keys plus values) of labels, and separately of annotations, kept per object
MAX_METADATA_BYTES = 32 * 1024


def gardener_key(key: str) -> bool:
    """Whether a label or annotation key is of a `gardener.cloud` domain (`shoot.gardener.cloud/x`)."""
    prefix, slash, _ = key.partition("/")
    return bool(slash) and (prefix == DOMAIN or prefix.endswith("." + DOMAIN))


def bounded(entries: Any, *, budget: int = MAX_METADATA_BYTES) -> dict[str, str]:
    """The `gardener.cloud` entries of a label or annotation map that fit `budget`, smallest first."""
    if not isinstance(entries, dict):
        return {}
    wanted = sorted(
        ((len(k.encode()) + len(str(v).encode()), k, str(v)) for k, v in entries.items() if gardener_key(str(k))),
    )
    kept: dict[str, str] = {}
    used = 0
    for size, key, value in wanted:
        if used + size > budget:
            break
        kept[key] = value
        used += size
    return dict(sorted(kept.items()))


def cluster_copy(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` as the Cluster resource carries it (see the module docstring); `obj` itself is not changed."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    copied = {k: v for k, v in meta.items() if k not in ("managedFields", "labels", "annotations")}
    for key in ("labels", "annotations"):
        kept = bounded(meta.get(key))
        if kept:
            copied[key] = kept
    return {**obj, "metadata": copied}
