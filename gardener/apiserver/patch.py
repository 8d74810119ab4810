"""Apply PATCH bodies to stored objects: JSON Patch, JSON merge patch and Kubernetes strategic merge patch.

Pure functions on JSON values (dicts, lists, scalars); the HTTP layer picks the function from the
Content-Type and turns `PatchError` into a `Status`. Inputs are never mutated.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from gardener.apiserver.schema import go_float


class PatchError(Exception):
    """A patch that cannot be applied; `code` is the HTTP status to answer with.

    kube-apiserver answers 400 only when the body is not a patch document at all (not a JSON
    array for JSON Patch, not an object for strategic merge, or a malformed directive) and 422
    when a well-formed patch does not fit the object, so clients can tell "fix your code" from
    "your view of the object is stale".
    """

    code: int

    def __init__(self, message: str, *, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


class PatchTestFailed(PatchError):
    """A JSON Patch `test` op did not match: an optimistic precondition (kopf tests resourceVersion) failed."""


def go_text(value: Any) -> str:
    """Go's `%+v` of a decoded JSON value (`map[k:v ...]` with sorted keys, `[a b]`, floats as `%v`): how kube
    quotes a strategic merge patch in its errors."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_text(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_float(float(value))  # encoding/json decodes every number into a float64
    return str(value)


# --- JSON helpers ------------------------------------------------------------------------------


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python's `==`, `true` is not `1`, while `1` and `1.0` are the same number."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(_json_equal(value, right[key]) for key, value in left.items())
        )
    if isinstance(left, list):
        return isinstance(right, list) and len(left) == len(right) and all(map(_json_equal, left, right))
    return type(left) is type(right) and bool(left == right)


def _position(items: list[Any], wanted: Any) -> int | None:
    """Index of the first item JSON-equal to `wanted`; lists here are short, so a scan is fine."""
    return next((i for i, item in enumerate(items) if _json_equal(item, wanted)), None)


# --- JSON merge patch (RFC 7386) ---------------------------------------------------------------


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: objects merge recursively, `null` deletes, anything else replaces."""
    return _merge_patch(copy.deepcopy(target), patch)


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = target if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = _merge_patch(result.get(name), value)
    return result


# --- JSON Patch (RFC 6902) ---------------------------------------------------------------------

_ARRAY_INDEX: Final = re.compile(r"0|[1-9][0-9]*")
_BAD_ESCAPE: Final = re.compile(r"~(?![01])")


@dataclass(frozen=True)
class _Op:
    """One validated JSON Patch operation; pointers are already split into unescaped tokens."""

    name: str
    pointer: str
    path: tuple[str, ...]
    source: tuple[str, ...]
    value: Any


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Apply an RFC 6902 JSON Patch. All ops are checked before any runs, and a failure leaves nothing applied."""
    parsed = [_parse_op(index, raw) for index, raw in enumerate(_op_list(ops))]
    result = copy.deepcopy(doc)
    for op in parsed:
        result = _APPLY[op.name](result, op)
    return result


def _op_list(ops: Any) -> list[Any]:
    if not isinstance(ops, list):
        raise PatchError("a JSON Patch must be a JSON array of operations", code=400)
    if not all(isinstance(raw, dict) for raw in ops):
        raise PatchError("every JSON Patch operation must be a JSON object", code=400)
    return ops


def _parse_op(index: int, raw: dict[str, Any]) -> _Op:
    name = raw.get("op")
    if not isinstance(name, str) or name not in _APPLY:
        raise PatchError(f"JSON Patch operation {index}: unknown op {name!r}")
    pointer = _member(index, raw, "path")
    source: tuple[str, ...] = ()
    if name in ("move", "copy"):
        source = _parse_pointer(_member(index, raw, "from"))
    if name in ("add", "replace", "test") and "value" not in raw:
        raise PatchError(f'JSON Patch operation {index} ({name}) has no "value"')
    return _Op(name, pointer, _parse_pointer(pointer), source, raw.get("value"))


def _member(index: int, raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str):
        raise PatchError(f'JSON Patch operation {index} ({raw["op"]}) needs a string "{name}"')
    return value


def _parse_pointer(pointer: str) -> tuple[str, ...]:
    """Split an RFC 6901 pointer; `~1` is decoded before `~0` so that `~01` means the key `~1`."""
    if pointer == "":
        return ()
    if not pointer.startswith("/") or _BAD_ESCAPE.search(pointer):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/"))


def _array_index(token: str, length: int, pointer: str, *, insert: bool = False) -> int:
    """Index into an array; `-` and `length` itself are only valid where a value is being inserted."""
    if insert and token == "-":
        return length
    if not _ARRAY_INDEX.fullmatch(token):
        raise PatchError(f"invalid array index {token!r} in {pointer!r}")
    index = int(token)
    if index > length or (index == length and not insert):
        raise PatchError(f"array index {index} is out of range in {pointer!r}")
    return index


def _resolve(doc: Any, path: tuple[str, ...], pointer: str) -> Any:
    node = doc
    for token in path:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_array_index(token, len(node), pointer)]
        else:
            raise PatchError(f"path {pointer!r} does not exist")
    return node


def _container(doc: Any, path: tuple[str, ...], pointer: str) -> dict[str, Any] | list[Any]:
    parent = _resolve(doc, path[:-1], pointer)
    if not isinstance(parent, dict | list):
        raise PatchError(f"path {pointer!r} does not exist: its parent is not an object or array")
    return parent


def _insert(doc: Any, path: tuple[str, ...], pointer: str, value: Any) -> Any:
    if not path:
        return value
    parent = _container(doc, path, pointer)
    if isinstance(parent, dict):
        parent[path[-1]] = value
    else:
        parent.insert(_array_index(path[-1], len(parent), pointer, insert=True), value)
    return doc


def _extract(doc: Any, path: tuple[str, ...], pointer: str) -> Any:
    """Remove and return the value at `path`; the document root itself cannot be removed."""
    if not path:
        raise PatchError("cannot remove the whole document")
    parent = _container(doc, path, pointer)
    if isinstance(parent, list):
        return parent.pop(_array_index(path[-1], len(parent), pointer))
    if path[-1] not in parent:
        raise PatchError(f"path {pointer!r} does not exist")
    return parent.pop(path[-1])


def _op_add(doc: Any, op: _Op) -> Any:
    return _insert(doc, op.path, op.pointer, copy.deepcopy(op.value))


def _op_remove(doc: Any, op: _Op) -> Any:
    _extract(doc, op.path, op.pointer)
    return doc


def _op_replace(doc: Any, op: _Op) -> Any:
    _resolve(doc, op.path, op.pointer)  # replace, unlike add, needs an existing target
    if not op.path:
        return copy.deepcopy(op.value)
    parent = _container(doc, op.path, op.pointer)
    if isinstance(parent, list):
        parent[_array_index(op.path[-1], len(parent), op.pointer)] = copy.deepcopy(op.value)
    else:
        parent[op.path[-1]] = copy.deepcopy(op.value)
    return doc


def _op_move(doc: Any, op: _Op) -> Any:
    if op.path[: len(op.source)] == op.source and len(op.path) > len(op.source):
        raise PatchError(f"cannot move {_format(op.source)!r} into its own child {op.pointer!r}")
    if op.path == op.source:
        _resolve(doc, op.source, op.pointer)
        return doc
    return _insert(doc, op.path, op.pointer, _extract(doc, op.source, _format(op.source)))


def _op_copy(doc: Any, op: _Op) -> Any:
    value = _resolve(doc, op.source, _format(op.source))
    return _insert(doc, op.path, op.pointer, copy.deepcopy(value))


def _op_test(doc: Any, op: _Op) -> Any:
    try:
        actual = _resolve(doc, op.path, op.pointer)
    except PatchError as exc:
        raise PatchTestFailed(f"test failed: {exc}") from exc
    if not _json_equal(actual, op.value):
        raise PatchTestFailed(f"test failed: the value at {op.pointer!r} is not the expected value")
    return doc


def _format(path: tuple[str, ...]) -> str:
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in path)


_APPLY: Final[Mapping[str, Callable[[Any, _Op], Any]]] = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}


# --- Strategic merge patch: patch metadata of the built-in kinds ---------------------------------


@dataclass(frozen=True)
class _Field:
    """The `patchStrategy`/`patchMergeKey` tags of one Go struct field, plus its children's tags.

    For a list, `fields` describes each element; for an object, its members. Fields without an
    entry merge objects recursively and replace lists, which is also what untagged Go fields do.
    """

    merge: bool = False
    key: str = ""
    fields: Mapping[str, _Field] = field(default_factory=dict)

    def child(self, name: str) -> _Field:
        return self.fields.get(name, _PLAIN)


_PLAIN: Final = _Field()


def _struct(**fields: _Field) -> _Field:
    return _Field(fields=fields)


def _keyed(key: str, **fields: _Field) -> _Field:
    """A list of objects merged element by element on `key` (patchStrategy=merge, patchMergeKey=key)."""
    return _Field(merge=True, key=key, fields=fields)


_SET: Final = _Field(merge=True)  # a list of primitives with patchStrategy=merge: union, in order
_CONDITIONS: Final = _keyed("type")
_OBJECT_META: Final = _struct(finalizers=_SET, ownerReferences=_keyed("uid"))
_STATUS_CONDITIONS: Final = _struct(conditions=_CONDITIONS)

_CONTAINER: Final[dict[str, _Field]] = {
    "ports": _keyed("containerPort"),
    "env": _keyed("name"),
    "volumeMounts": _keyed("mountPath"),
    "volumeDevices": _keyed("devicePath"),
}
_POD_SPEC: Final = _struct(
    volumes=_keyed("name"),
    initContainers=_keyed("name", **_CONTAINER),
    containers=_keyed("name", **_CONTAINER),
    ephemeralContainers=_keyed("name", **_CONTAINER),
    imagePullSecrets=_keyed("name"),
    hostAliases=_keyed("ip"),
    topologySpreadConstraints=_keyed("topologyKey"),
    schedulingGates=_keyed("name"),
    resourceClaims=_keyed("name"),
)
_POD_STATUS: Final = _struct(
    conditions=_CONDITIONS,
    podIPs=_keyed("ip"),
    hostIPs=_keyed("ip"),
    resourceClaimStatuses=_keyed("name"),
)
_POD_TEMPLATE: Final = _struct(metadata=_OBJECT_META, spec=_POD_SPEC)
_WORKLOAD: Final = _struct(spec=_struct(template=_POD_TEMPLATE), status=_STATUS_CONDITIONS)

# Keyed by kind; the Go types in k8s.io/api carry these tags. Kinds without tagged fields besides
# ObjectMeta (ConfigMap, RBAC, CSR, CRD, ...) still need an entry to be patchable strategically.
_KINDS: Final[Mapping[str, _Field]] = {
    "Namespace": _struct(status=_STATUS_CONDITIONS),
    "ConfigMap": _PLAIN,
    "Secret": _PLAIN,
    "Service": _struct(spec=_struct(ports=_keyed("port")), status=_STATUS_CONDITIONS),
    "Endpoints": _PLAIN,
    "ServiceAccount": _struct(secrets=_keyed("name")),
    "Event": _PLAIN,
    "Node": _struct(
        spec=_struct(podCIDRs=_SET),
        status=_struct(conditions=_CONDITIONS, addresses=_keyed("type")),
    ),
    "Pod": _struct(spec=_POD_SPEC, status=_POD_STATUS),
    "Deployment": _WORKLOAD,
    "StatefulSet": _WORKLOAD,
    "DaemonSet": _WORKLOAD,
    "ReplicaSet": _WORKLOAD,
    "Job": _WORKLOAD,
    "CronJob": _struct(spec=_struct(jobTemplate=_struct(metadata=_OBJECT_META, spec=_struct(template=_POD_TEMPLATE)))),
    "Lease": _PLAIN,
    "Role": _PLAIN,
    "ClusterRole": _PLAIN,
    "RoleBinding": _PLAIN,
    "ClusterRoleBinding": _PLAIN,
    "CertificateSigningRequest": _PLAIN,
    "CustomResourceDefinition": _PLAIN,
    "ValidatingWebhookConfiguration": _struct(webhooks=_keyed("name")),
    "MutatingWebhookConfiguration": _struct(webhooks=_keyed("name")),
}


def strategic_merge_supported(kind: str) -> bool:
    """Whether `kind` has patch metadata here; for any other kind real servers answer 415 to a strategic patch."""
    return kind in _KINDS


def _schema(kind: str) -> _Field:
    if kind not in _KINDS:
        raise PatchError(f"strategic merge patch is not supported for kind {kind!r}", code=415)
    return _Field(fields={**_KINDS[kind].fields, "metadata": _OBJECT_META})


# --- Strategic merge patch: the algorithm ------------------------------------------------------

_DIRECTIVE: Final = "$patch"
_Entry = tuple[Any, int | None]  # a merged list element and its index in the stored list (None: added by the patch)
_RETAIN_KEYS: Final = "$retainKeys"
_DELETE_PREFIX: Final = "$deleteFromPrimitiveList/"
_ORDER_PREFIX: Final = "$setElementOrder/"


def apply_strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any], *, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch the way apimachinery's `strategicpatch.StrategicMergePatch` does.

    This is what `kubectl apply`/`patch` send for built-in kinds, so `$patch`, `$retainKeys`,
    `$deleteFromPrimitiveList/` and `$setElementOrder/` directives, merge keys and the resulting
    list order all follow apimachinery.
    """
    schema = _schema(kind)
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object", code=400)
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), schema)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: _Field) -> dict[str, Any]:
    """Merge `patch` into `original`; both are private copies and may be consumed.

    `$patch: merge` is the default made explicit. apimachinery rejects it; accepting it is a
    harmless superset, since it asks for what happens anyway.
    """
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "delete":
            return {}
        if directive == "replace":
            return _merge_map({}, patch, schema)
        if directive != "merge":
            raise PatchError(f"unknown {_DIRECTIVE} directive {directive!r}")
    _retain_keys(original, patch)
    _apply_element_orders(original, patch, schema)
    deletions = {key: value for key, value in patch.items() if key.startswith(_DELETE_PREFIX)}
    for key, value in patch.items():
        if key not in deletions:
            _merge_field(original, key, value, schema.child(key))
    for key, value in deletions.items():
        _delete_from_primitive_list(original, key[len(_DELETE_PREFIX) :], value)
    return original


def _merge_field(original: dict[str, Any], key: str, value: Any, schema: _Field) -> None:
    if value is None:
        original.pop(key, None)
    elif key not in original:
        if not (isinstance(value, dict) and value.get(_DIRECTIVE) == "delete"):
            original[key] = _fresh(value, schema)
    elif isinstance(original[key], dict) and isinstance(value, dict):
        original[key] = _merge_map(original[key], value, schema)
    elif isinstance(original[key], list) and isinstance(value, list):
        original[key] = _merge_list(original[key], value, schema)
    else:
        original[key] = _fresh(value, schema)


def _fresh(value: Any, schema: _Field) -> Any:
    """A patch value with nothing to merge into, minus its nulls and directives (which must not be stored)."""
    if isinstance(value, dict):
        return _merge_map({}, value, schema)
    if isinstance(value, list):
        return _merge_list([], value, schema)
    return value


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """`$retainKeys` clears the members of a union (e.g. a volume source) that the patch does not list."""
    if _RETAIN_KEYS not in patch:
        return
    retained = patch.pop(_RETAIN_KEYS)
    if not isinstance(retained, list):
        raise PatchError(f"{_RETAIN_KEYS} must be a list of field names", code=400)
    for key, value in patch.items():
        if value is not None and not key.startswith("$") and key not in retained:
            raise PatchError(f"{_RETAIN_KEYS} does not list the patched field {key!r}", code=400)
    for key in [key for key in original if key not in retained]:
        del original[key]


def _delete_from_primitive_list(original: dict[str, Any], key: str, doomed: Any) -> None:
    if not isinstance(doomed, list):
        raise PatchError(f"{_DELETE_PREFIX}{key} must be a list", code=400)
    current = original.get(key)
    if isinstance(current, list):
        original[key] = [item for item in current if _position(doomed, item) is None]


def _apply_element_orders(original: dict[str, Any], patch: dict[str, Any], schema: _Field) -> None:
    """Handle `$setElementOrder/<list>`: merge that list now and order it as the directive says."""
    for directive in [key for key in patch if key.startswith(_ORDER_PREFIX)]:
        order = patch.pop(directive)
        name = directive[len(_ORDER_PREFIX) :]
        if not isinstance(order, list):
            raise PatchError(f"{directive} must be a list", code=400)
        field_schema = schema.child(name)
        changes = patch.get(name, [])
        if not field_schema.merge or not isinstance(changes, list):
            continue  # ordering means nothing for a replaced or deleted list; the patch value rules
        current = original.get(name)
        if not isinstance(current, list) and name not in patch:
            continue
        _check_order(changes, order, field_schema.key)
        original[name] = _merge_list(current if isinstance(current, list) else [], changes, field_schema, order=order)
        patch.pop(name, None)


def _check_order(changes: list[Any], order: list[Any], key: str) -> None:
    """The patch list's items must appear in `$setElementOrder`, and in the same relative order."""
    remaining = iter(order)
    for item in changes:
        if isinstance(item, dict) and _DIRECTIVE in item:
            continue
        identity = _identity(item, key)
        if not any(_json_equal(_identity(entry, key), identity) for entry in remaining):
            raise PatchError(f"the order of list items in the patch does not match {_ORDER_PREFIX}")


def _identity(item: Any, key: str) -> Any:
    """What identifies a list element: its merge key's value, or the element itself in a primitive list."""
    if not key:
        return item
    if not isinstance(item, dict) or key not in item:
        raise PatchError(f"list element {item!r} has no merge key {key!r}")
    return item[key]


def _merge_list(original: list[Any], patch: list[Any], schema: _Field, *, order: list[Any] | None = None) -> list[Any]:
    """Lists without patchStrategy=merge are atomic; merge lists union primitives or merge objects by key."""
    if not schema.merge:
        return patch
    if not original and not patch:
        return original
    if _element_type(original + patch) is not dict:
        merged = _dedupe(original + patch)
        entries = [(item, _position(original, item)) for item in merged]
        return _arrange(entries, patch if order is None else order, "")
    if not schema.key:
        raise PatchError("cannot merge a list of objects that has no merge key")
    return _merge_keyed_list(original, patch, schema, order)


def _element_type(items: list[Any]) -> type:
    kinds = {float if isinstance(item, int | float) and not isinstance(item, bool) else type(item) for item in items}
    if len(kinds) != 1:
        raise PatchError("list element types are not identical")
    kind = kinds.pop()
    if kind is list:
        raise PatchError("lists of lists cannot be merged")
    return kind


def _dedupe(items: list[Any]) -> list[Any]:
    return [item for i, item in enumerate(items) if _position(items, item) == i]


def _merge_keyed_list(original: list[Any], patch: list[Any], schema: _Field, order: list[Any] | None) -> list[Any]:
    """Merge lists of objects by merge key; `$patch` items delete an element or replace the whole list.

    An item marked `$patch: merge` is merged like an unmarked one (apimachinery rejects it).
    """
    key = schema.key
    entries: list[_Entry] = [(item, index) for index, item in enumerate(original)]
    changes = []
    for item in patch:
        directive = item.pop(_DIRECTIVE, "merge")
        if directive == "delete":
            doomed = _identity(item, key)
            entries = [entry for entry in entries if not _same_key(entry[0], key, doomed)]
        elif directive == "replace":
            entries = []
        elif directive == "merge":
            changes.append(item)
        else:
            raise PatchError(f"unknown {_DIRECTIVE} directive {directive!r} in a list")
    for item in changes:
        _merge_element(entries, item, schema)
    if order is None:
        return _arrange(entries, changes, key)
    return _arrange(_as_reordered_by_apimachinery(entries, len(original)), order, key)


def _as_reordered_by_apimachinery(entries: list[_Entry], stored_length: int) -> list[_Entry]:
    """Stored positions as apimachinery sees them when it applies `$setElementOrder`.

    It deletes elements from the stored list in place and appends new ones into the freed tail
    slots, then orders server-only elements against that shifted list: survivors move up and
    added elements take the deleted ones' places. Reproducing this keeps `kubectl apply` results
    identical to a real server's. `entries` lists survivors in stored order, then added elements.
    """
    return [
        (value, index if position is not None or index < stored_length else None)
        for index, (value, position) in enumerate(entries)
    ]


def _same_key(item: Any, key: str, value: Any) -> bool:
    return isinstance(item, dict) and key in item and _json_equal(item[key], value)


def _merge_element(entries: list[_Entry], item: dict[str, Any], schema: _Field) -> None:
    identity = _identity(item, schema.key)
    for index, (current, position) in enumerate(entries):
        if _same_key(current, schema.key, identity):
            entries[index] = (_merge_map(current, item, schema), position)
            return
    entries.append((_merge_map({}, item, schema), None))


def _arrange(entries: list[_Entry], order: list[Any], key: str) -> list[Any]:
    """Order a merged list the way apimachinery does.

    Elements named by the patch (or by `$setElementOrder`) come in that order; the others keep
    their order from the stored object and are slotted in front of a patched element only when
    both were already in the stored object in that order. `entries` pairs each element with
    its index in the stored list, or None when the patch added it.
    """
    ranked: list[tuple[int, _Entry]] = []
    server_only: list[_Entry] = []
    for entry in entries:
        rank = _rank(order, entry[0], key)
        if rank is None:
            server_only.append(entry)
        else:
            ranked.append((rank, entry))
    patched = [entry for _, entry in sorted(ranked, key=lambda pair: pair[0])]
    return _interleave(server_only, patched)


def _rank(order: list[Any], item: Any, key: str) -> int | None:
    if key and not (isinstance(item, dict) and key in item):
        return None
    identity = item[key] if key else item
    for index, entry in enumerate(order):
        if _same_key(entry, key, identity) if key else _json_equal(entry, identity):
            return index
    return None


def _interleave(server_only: list[_Entry], patched: list[_Entry]) -> list[Any]:
    result: list[Any] = []
    left, right = 0, 0
    while left < len(server_only) or right < len(patched):
        if right >= len(patched) or (left < len(server_only) and _before(server_only[left][1], patched[right][1])):
            result.append(server_only[left][0])
            left += 1
        else:
            result.append(patched[right][0])
            right += 1
    return result


def _before(server_position: int | None, patched_position: int | None) -> bool:
    return server_position is not None and patched_position is not None and server_position < patched_position
