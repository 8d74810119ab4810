"""ControllerRevisions, the history StatefulSets and DaemonSets keep of their pod templates (upstream's
pkg/controller/history).

A revision stores a strategic-merge patch that puts a template back (`{"spec":{"template":{...,"$patch":"replace"}}}`)
and a revision number; its name is `<owner>-<hash>`. Hashes are FNV over the JSON Go would write for the same
data (sorted keys, no spaces), safe-encoded as upstream's `rand.SafeEncodeString` does, so names look like
upstream's (`db-7d9c8f6b5`). A name taken by different data raises the owner's `collisionCount`, which goes
into the next hash.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from gardener.kube_controller_manager.objects import controller_ref, labels_of, matches_selector, meta, owner_ref
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import AlreadyExists, NotFound, TemporaryError
from gardener.runtime.kube import CONTROLLERREVISIONS, Obj

__all__ = [
    "HASH_LABEL",
    "adopt",
    "apply_revision",
    "controlled",
    "create_revision",
    "delete_revision",
    "go_json",
    "new_revision",
    "number",
    "renumber",
    "revision_hash",
    "same_data",
    "sort_revisions",
    "template_hash",
    "template_patch",
]

#: the label carrying a revision's hash (upstream's ControllerRevisionHashLabel)
HASH_LABEL = "controller.kubernetes.io/hash"
#: upstream's rand.SafeEncodeString alphabet: no vowels, no look-alikes
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193
#: names tried before a revision's creation is given up until the next reconcile
_CREATE_ATTEMPTS = 10


def _fnv1(data: bytes) -> int:
    h = _FNV_OFFSET
    for byte in data:
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
        h ^= byte
    return h


def _fnv1a(data: bytes) -> int:
    h = _FNV_OFFSET
    for byte in data:
        h ^= byte
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
    return h


def _safe_encode(text: str) -> str:
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in text)


def go_json(value: Any) -> bytes:
    """The bytes Go's json.Marshal writes for decoded JSON: keys sorted, compact, <, > and & escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(raw, escaped)
    return text.replace("\u2029", "\\u2029").encode()


def revision_hash(data: Any, probe: int | None) -> str:
    """upstream's HashControllerRevision: FNV-1 of the data, then of the collision count when there is one."""
    raw = go_json(data)
    if probe is not None:
        raw += str(probe).encode()
    return _safe_encode(str(_fnv1(raw)))


def template_hash(template: Any, collision_count: int | None) -> str:
    """upstream's ComputeHash of a pod template (FNV-1a), as DaemonSets label their pods and revisions."""
    raw = go_json(template)
    if collision_count is not None:
        raw += str(collision_count).encode()
    return _safe_encode(str(_fnv1a(raw)))


def template_patch(owner: Mapping[str, Any]) -> Obj:
    """The revision data that restores `owner`'s pod template."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def new_revision(
    owner: Mapping[str, Any], *, labels: Mapping[str, str], data: Obj, revision: int, collision_count: int
) -> Obj:
    """upstream's NewControllerRevision: owned by `owner`, named `<owner>-<hash>`, labelled with the hash."""
    digest = revision_hash(data, collision_count)
    m = meta(owner)
    return {
        "apiVersion": CONTROLLERREVISIONS.api_version,
        "kind": CONTROLLERREVISIONS.kind,
        "metadata": {
            "name": f"{str(m.get('name', ''))[:223]}-{digest}",
            "namespace": m.get("namespace", ""),
            "labels": {**labels, HASH_LABEL: digest},
            "ownerReferences": [owner_ref(owner)],
        },
        "data": data,
        "revision": revision,
    }


def number(revision: Mapping[str, Any]) -> int:
    value = revision.get("revision")
    return value if isinstance(value, int) else 0


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """By revision number, then creation time, then name."""
    return sorted(
        revisions,
        key=lambda r: (number(r), str(meta(r).get("creationTimestamp") or ""), str(meta(r).get("name") or "")),
    )


def same_data(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.get("data") == b.get("data")


def apply_revision(owner: Mapping[str, Any], revision: Mapping[str, Any]) -> Obj:
    """`owner` with the pod template `revision` recorded (upstream's ApplyRevision of a template patch)."""
    restored = copy.deepcopy(dict(owner))
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template"))
    if isinstance(template, dict):
        template.pop("$patch", None)
        restored.setdefault("spec", {})["template"] = template
    return restored


def controlled(revisions: Iterable[Obj], owner: Mapping[str, Any], selector: Mapping[str, Any] | None) -> list[Obj]:
    """The revisions in `owner`'s namespace that it controls, or that its selector matches and nobody controls."""
    m = meta(owner)
    out: list[Obj] = []
    for revision in revisions:
        if meta(revision).get("namespace") != m.get("namespace"):
            continue
        ref = controller_ref(revision)
        if ref is not None:
            if ref.get("uid") == m.get("uid"):
                out.append(revision)
        elif matches_selector(labels_of(revision), selector):
            out.append(revision)
    return out


async def adopt(client: AsyncKube, owner: Mapping[str, Any], revision: Obj) -> Obj:
    """Make `owner` the controller of an orphaned revision."""
    if controller_ref(revision) is not None:
        return revision
    m = meta(revision)
    refs = [*(m.get("ownerReferences") or []), owner_ref(owner)]
    path = CONTROLLERREVISIONS.path(str(m.get("namespace") or ""), str(m.get("name") or ""))
    return await client.patch(
        path, {"metadata": {"ownerReferences": refs, "resourceVersion": m.get("resourceVersion")}}
    )


async def create_revision(
    client: AsyncKube, owner: Mapping[str, Any], revision: Obj, collision_count: int
) -> tuple[Obj, int]:
    """Create `revision`, renaming it with a higher collision count while its name is taken by other data.

    Returns the revision now stored and the collision count that produced its name.
    """
    namespace = str(meta(owner).get("namespace") or "")
    prefix = str(meta(owner).get("name") or "")[:223]
    body = copy.deepcopy(revision)
    for _ in range(_CREATE_ATTEMPTS):
        body["metadata"]["name"] = f"{prefix}-{revision_hash(body['data'], collision_count)}"
        try:
            return await client.create(CONTROLLERREVISIONS.path(namespace), body), collision_count
        except AlreadyExists:
            existing = await client.get(CONTROLLERREVISIONS.path(namespace, body["metadata"]["name"]))
            if existing is not None and same_data(existing, body):
                return existing, collision_count
            if existing is not None:
                collision_count += 1
    raise TemporaryError(f"no free name for a revision of {prefix} after {_CREATE_ATTEMPTS} attempts")


async def renumber(client: AsyncKube, revision: Obj, revision_number: int) -> Obj:
    """Give an existing revision a new number (a rollback to an older template moves it to the front)."""
    if number(revision) == revision_number:
        return revision
    m = meta(revision)
    path = CONTROLLERREVISIONS.path(str(m.get("namespace") or ""), str(m.get("name") or ""))
    return await client.patch(path, {"revision": revision_number})


async def delete_revision(client: AsyncKube, revision: Mapping[str, Any]) -> None:
    m = meta(revision)
    with contextlib.suppress(NotFound):
        await client.request("DELETE", CONTROLLERREVISIONS.path(str(m.get("namespace") or ""), str(m.get("name"))))
