"""Server-side apply and `metadata.managedFields`, after sigs.k8s.io/structured-merge-diff and k8s.io/apiserver.

Ownership is tracked per field path. A path is a tuple of path elements spelled as in `fieldsV1`:
`f:<name>` for a map key, `k:{"name":"x"}` for an item of an associative list (identified by its
list-map keys), `v:"a"` for an item of a set and `i:<n>` for a list index (read, never produced).
A field set is a frozenset of paths; `fieldsV1` is its trie, where `.` marks a node that is itself
a member as well as the parent of others.

List and map semantics come from the resource. Built-in kinds use the strategic merge patch tags
in `patch.py`: merge lists with a key are associative lists, primitive merge lists are sets, all
other lists are atomic (plus the few places where SSA differs, see `_Builtin`). Custom resources
use `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and `x-kubernetes-map-type` from the
CRD schema; lists default to atomic and unknown fields are "deduced" (granular maps, atomic lists).

`apply` merges an applied configuration into the live object the way kube's field manager chain
does (version check, last-applied upgrade and update, before-first-apply, capped update managers,
timestamps, stripped metadata, structured merge); `track_update` records ownership for every other
write (operation Update). Both leave `metadata.managedFields` untouched when nothing changed, so
no-op writes stay no-ops.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from gardener.apiserver import errors, patch
from gardener.apiserver.errors import FieldCause, StatusError
from gardener.apiserver.resources import ResourceInfo
from gardener.apiserver.schema import json_copy, json_equal

Path = tuple[str, ...]
FieldSet = frozenset[Path]

LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
#: the manager that gets every existing field when an object without managedFields is first applied
BEFORE_FIRST_APPLY: Final = "before-first-apply"
#: the bucket the oldest update managers are merged into once there are more than MAX_UPDATE_MANAGERS
ANCIENT_CHANGES: Final = "ancient-changes"
MAX_UPDATE_MANAGERS: Final = 10
FIELD_MANAGER_MAX_LENGTH: Final = 128
#: kubectl's --server-side field manager: the only one that upgrades from and keeps the last-applied annotation
KUBECTL_SSA_MANAGER: Final = "kubectl"
_ANNOTATIONS_MAX_BYTES: Final = 256 * 1024

# Fields the server owns; never recorded for a manager (kube's stripMetaManager).
_STRIPPED: Final[FieldSet] = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        *(
            ("f:metadata", f"f:{name}")
            for name in (
                "name",
                "namespace",
                "creationTimestamp",
                "selfLink",
                "uid",
                "clusterName",
                "generation",
                "managedFields",
                "resourceVersion",
            )
        ),
    }
)


class _Missing:
    pass


_MISSING: Final = _Missing()


# --- list and map semantics ----------------------------------------------------------------------


class _Type:
    """A schemaless ("deduced") node: maps are granular with undeclared keys, lists are atomic.

    Types are built lazily and cached per resource (see `_root_type`); children of declared
    fields are memoized, everything else maps to shared singletons so caches stay bounded.
    """

    __slots__ = ("_children", "_item", "_keys", "atomic")

    def __init__(self, *, keys: tuple[str, ...] | None = None, atomic: bool = False) -> None:
        self._keys = keys
        self.atomic = atomic
        self._children: dict[str, tuple[_Type, bool]] = {}
        self._item: _Type | None = None

    def field(self, name: str) -> tuple[_Type, bool]:
        """The type of a map member and whether it is a declared (struct) field rather than a map key."""
        return _DEDUCED, False

    def list_keys(self) -> tuple[str, ...] | None:
        """None for an atomic list, () for a set of scalars, the map keys of an associative list."""
        return self._keys

    def key_default(self, key: str) -> Any:
        return _MISSING

    def item(self) -> _Type:
        return _DEDUCED

    def atomic_map(self) -> bool:
        return self.atomic


_DEDUCED: Final = _Type()

# LabelSelectors are `structType=atomic`, Service's selector is `mapType=atomic`.
_ATOMIC_BUILTIN_MAPS: Final = frozenset({"selector", "labelSelector", "namespaceSelector", "podSelector"})
# Ports are merged by port alone in strategic merge patch but keyed with the protocol in SSA.
_PROTOCOL_KEYED: Final = frozenset({"containerPort", "port"})


class _Builtin(_Type):
    """A node of a built-in kind, described by strategic merge patch tags (`patch._Field`)."""

    __slots__ = ("_f",)

    def __init__(self, f: patch._Field, *, atomic: bool = False) -> None:
        keys: tuple[str, ...] | None = None
        if f.merge:
            keys = () if not f.key else (f.key, "protocol") if f.key in _PROTOCOL_KEYED else (f.key,)
        super().__init__(keys=keys, atomic=atomic)
        self._f = f

    def field(self, name: str) -> tuple[_Type, bool]:
        hit = self._children.get(name)
        if hit is not None:
            return hit
        child = self._f.fields.get(name)
        if child is None:
            return (_ATOMIC_PLAIN if name in _ATOMIC_BUILTIN_MAPS else _PLAIN), True
        hit = self._children[name] = (_Builtin(child, atomic=name in _ATOMIC_BUILTIN_MAPS), True)
        return hit

    def key_default(self, key: str) -> Any:
        return "TCP" if key == "protocol" else _MISSING

    def item(self) -> _Type:
        # A list's `_Field` describes its elements' members directly.
        if self._item is None:
            self._item = _Builtin(self._f) if self._f.fields else _PLAIN
        return self._item


_PLAIN: Final = _Builtin(patch._PLAIN)
_ATOMIC_PLAIN: Final = _Builtin(patch._PLAIN, atomic=True)
_OBJECT_META: Final = _Builtin(patch._OBJECT_META)


class _Schema(_Type):
    """A node of a CRD's openAPIV3Schema."""

    __slots__ = ("_extra", "_resource", "_s")

    def __init__(self, s: dict[str, Any], *, resource: bool = False) -> None:
        keys: tuple[str, ...] | None = None
        kind = s.get("x-kubernetes-list-type")
        map_keys = s.get("x-kubernetes-list-map-keys")
        if kind == "set":
            keys = ()
        elif kind == "map" and isinstance(map_keys, list) and map_keys and all(isinstance(k, str) for k in map_keys):
            keys = tuple(map_keys)
        super().__init__(keys=keys, atomic=s.get("x-kubernetes-map-type") == "atomic")
        self._s = s
        self._resource = resource or s.get("x-kubernetes-embedded-resource") is True
        extra = s.get("additionalProperties")
        self._extra: tuple[_Type, bool] = (_Schema(extra), False) if isinstance(extra, dict) else (_DEDUCED, False)

    def field(self, name: str) -> tuple[_Type, bool]:
        hit = self._children.get(name)
        if hit is not None:
            return hit
        if self._resource and name == "metadata":
            return _OBJECT_META, True
        props = self._s.get("properties")
        if isinstance(props, dict) and isinstance(props.get(name), dict):
            hit = self._children[name] = (_Schema(props[name]), True)
            return hit
        if self._resource and name in ("apiVersion", "kind"):
            return _DEDUCED, True
        return self._extra

    def key_default(self, key: str) -> Any:
        items = self._s.get("items")
        props = items.get("properties") if isinstance(items, dict) else None
        prop = props.get(key) if isinstance(props, dict) else None
        if isinstance(prop, dict) and prop.get("default") is not None:
            return prop["default"]
        return _MISSING

    def item(self) -> _Type:
        if self._item is None:
            items = self._s.get("items")
            self._item = _Schema(items) if isinstance(items, dict) else _DEDUCED
        return self._item


_ROOTS: dict[Any, tuple[Any, _Type]] = {}
_ROOTS_LIMIT: Final = 512


def _root_type(info: ResourceInfo) -> _Type:
    """The type of a resource's objects, cached by kind (built-ins) or by the schema's identity (CRDs)."""
    custom = info.is_custom or info.schema is not None
    key: Any = ("schema", id(info.schema)) if custom else ("builtin", info.kind)
    hit = _ROOTS.get(key)
    if hit is not None and (not custom or hit[0] is info.schema):
        return hit[1]
    root: _Type
    if custom:
        root = _Schema(info.schema or {}, resource=True)
    elif patch.strategic_merge_supported(info.kind):
        root = _Builtin(patch._schema(info.kind))
    else:
        root = _Builtin(patch._Field(fields={"metadata": patch._OBJECT_META}))
    if len(_ROOTS) >= _ROOTS_LIMIT:
        _ROOTS.clear()
    _ROOTS[key] = (info.schema, root)  # holding the schema keeps its id unique
    return root


# --- path elements -------------------------------------------------------------------------------


class ShapeError(ValueError):
    """A value that does not fit its list semantics (e.g. an associative list item without its key)."""


def _canon(value: Any) -> str:
    """Compact JSON with sorted keys, escaped like Go's encoding/json, as used inside `k:` and `v:`."""
    if isinstance(value, str | int | float | bool) or value is None:
        return _canon_scalar(value)
    text = json.dumps(_integral(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return _go_escape(text)


@functools.lru_cache(maxsize=16384, typed=True)
def _canon_scalar(value: str | int | float | bool | None) -> str:
    return _go_escape(json.dumps(_integral(value), ensure_ascii=False))


def _go_escape(text: str) -> str:
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _item_pe(t: _Type, keys: tuple[str, ...], item: Any) -> str:
    """The path element of a list item (`k:` or `v:`); raises ShapeError like structured-merge-diff."""
    if keys:
        if item is None:
            raise ShapeError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise ShapeError("associative list with keys may not have non-map elements")
        found: dict[str, Any] = {}
        for key in keys:
            if key in item:
                found[key] = item[key]
                continue
            default = t.key_default(key)
            if default is _MISSING:
                raise ShapeError(
                    f'associative list with keys has an element that omits key field "{key}" '
                    "(and doesn't have default value)"
                )
            found[key] = default
        if len(found) == 1:
            ((key, value),) = found.items()
            return f"k:{{{_canon_scalar(key)}:{_canon(value)}}}"
        return "k:" + _canon(found)
    if isinstance(item, dict):
        raise ShapeError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise ShapeError("not supported: associative list with lists as elements")
    if item is None:
        raise ShapeError("associative list without keys has an element that's an explicit null")
    return "v:" + _canon(item)


def _index(t: _Type, keys: tuple[str, ...], items: list[Any]) -> dict[str, Any]:
    """Items by path element; items without a valid one and repeats are ignored (live objects may have them)."""
    out: dict[str, Any] = {}
    for item in items:
        try:
            pe = _item_pe(t, keys, item)
        except ShapeError:
            continue
        out.setdefault(pe, item)
    return out


@functools.lru_cache(maxsize=16384)
def _normalize_pe(pe: str) -> str:
    kind, sep, body = pe.partition(":")
    if not sep:
        raise ValueError(f"invalid path element {pe!r}")
    if kind == "f":
        return pe
    if kind == "i" and body.isdigit():
        return pe
    if kind in ("k", "v"):
        value = json.loads(body)
        if kind == "k" and not isinstance(value, dict):
            raise ValueError(f"invalid key path element {pe!r}")
        return f"{kind}:{_canon(value)}"
    raise ValueError(f"invalid path element {pe!r}")


def _go_value(value: Any) -> str:
    """structured-merge-diff's value.ToString."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_go_value(v)}" for k, v in value.items())
    return str(_integral(value))


def path_string(path: Path) -> str:
    """A path as kube prints it in conflicts: `.spec.containers[name="app"].image`, `.metadata.finalizers[="x"]`."""
    out = []
    for pe in path:
        kind, _, body = pe.partition(":")
        if kind == "f":
            out.append("." + body)
        elif kind == "k":
            fields = json.loads(body)
            out.append("[" + ",".join(f"{k}={_go_value(v)}" for k, v in fields.items()) + "]")
        elif kind == "v":
            out.append("[=" + _go_value(json.loads(body)) + "]")
        else:
            out.append(f"[{body}]")
    return "".join(out)


def _value_order(value: Any) -> tuple[Any, ...]:
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (4, _canon(value))


@functools.lru_cache(maxsize=16384)
def _pe_order(pe: str) -> tuple[Any, ...]:
    """structured-merge-diff's PathElement order: field names, then keys, then values, then indexes."""
    kind, _, body = pe.partition(":")
    if kind == "f":
        return (0, body)
    if kind == "k":
        fields = json.loads(body)
        return (1, tuple((k, _value_order(fields[k])) for k in sorted(fields)))
    if kind == "v":
        return (2, _value_order(json.loads(body)))
    return (3, int(body) if body.isdigit() else 0)


# --- field sets ----------------------------------------------------------------------------------


def _collect(value: Any, t: _Type, path: Path, out: set[Path], *, strict: bool) -> None:
    """structured-merge-diff's ToFieldSet: every leaf, list item and undeclared map key is a member."""
    if isinstance(value, dict):
        if t.atomic_map() and path:
            out.add(path)
            return
        for name, child in value.items():
            child_type, declared = t.field(name)
            child_path = (*path, "f:" + name)
            _collect(child, child_type, child_path, out, strict=strict)
            if not declared or child is None or (isinstance(child, dict | list) and not child):
                out.add(child_path)
        return
    if isinstance(value, list):
        keys = t.list_keys()
        if keys is None:
            out.add(path)
            return
        item_type = t.item()
        seen: set[str] = set()
        for index, item in enumerate(value):
            try:
                pe = _item_pe(t, keys, item)
            except ShapeError as exc:
                if strict:
                    raise ShapeError(f"{path_string(path)}: element {index}: {exc}") from None
                continue
            if pe in seen:
                if strict:
                    raise ShapeError(f"{path_string(path)}: duplicate entries for key {path_string((pe,))}")
                continue
            seen.add(pe)
            item_path = (*path, pe)
            _collect(item, item_type, item_path, out, strict=strict)
            out.add(item_path)
        return
    if path:
        out.add(path)


def _field_set(obj: dict[str, Any], t: _Type, *, strict: bool = False) -> set[Path]:
    out: set[Path] = set()
    _collect(_without_managed_fields(obj), t, (), out, strict=strict)
    return out


def field_set(obj: dict[str, Any], info: ResourceInfo) -> FieldSet:
    """The fields an applied configuration sets (what `apply` makes the applier own, before stripping)."""
    return frozenset(_field_set(obj, _root_type(info), strict=True))


def _ensure_named(fields: Iterable[Path]) -> set[Path]:
    """Also make every field name that is a prefix of a member a member (EnsureNamedFieldsAreMembers)."""
    out = set(fields)
    for path in list(out):
        for end in range(1, len(path)):
            if path[end - 1].startswith("f:"):
                out.add(path[:end])
    return out


class _Trie:
    __slots__ = ("children", "member")

    def __init__(self) -> None:
        self.member = False
        self.children: dict[str, _Trie] = {}

    @classmethod
    def build(cls, fields: Iterable[Path]) -> _Trie:
        root = cls()
        for path in fields:
            node = root
            for pe in path:
                child = node.children.get(pe)
                if child is None:
                    child = node.children[pe] = cls()
                node = child
            node.member = True
        return root

    def walk(self, prefix: Path = ()) -> Iterator[Path]:
        """Members in structured-merge-diff's iteration order: a node's members, then its children's."""
        ordered = sorted(self.children, key=_pe_order)
        for pe in ordered:
            if self.children[pe].member:
                yield (*prefix, pe)
        for pe in ordered:
            yield from self.children[pe].walk((*prefix, pe))

    def to_v1(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.member and self.children:
            out["."] = {}
        for pe in sorted(self.children, key=_pe_order):
            out[pe] = self.children[pe].to_v1()
        return out


def to_fields_v1(fields: Iterable[Path]) -> dict[str, Any]:
    return _Trie.build(fields).to_v1()


def from_fields_v1(doc: Any) -> FieldSet:
    """Decode `fieldsV1`; raises ValueError when it is not a well-formed field set."""
    out: set[Path] = set()

    def walk(node: Any, prefix: Path) -> None:
        if not isinstance(node, dict):
            raise ValueError("fieldsV1 nodes must be objects")
        for key, child in node.items():
            if key == ".":
                if prefix:
                    out.add(prefix)
                continue
            path = (*prefix, _normalize_pe(key))
            if not isinstance(child, dict):
                raise ValueError("fieldsV1 nodes must be objects")
            if child:
                walk(child, path)
            else:
                out.add(path)

    walk(doc, ())
    return frozenset(out)


# --- compare, merge, remove ----------------------------------------------------------------------


@dataclass
class _Comparison:
    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)

    def empty(self) -> bool:
        return not (self.added or self.modified or self.removed)

    def exclude(self, ignored: Callable[[Path], bool]) -> _Comparison:
        return _Comparison(
            {p for p in self.added if not ignored(p)},
            {p for p in self.modified if not ignored(p)},
            {p for p in self.removed if not ignored(p)},
        )


def _one_side(value: Any, t: _Type, path: Path, out: set[Path]) -> None:
    """A value present on one side only: it and everything below it are added (or removed)."""
    out.add(path)
    _descendants(value, t, path, out)


def _descendants(value: Any, t: _Type, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict):
        if t.atomic_map():
            return
        for name, child in value.items():
            _one_side(child, t.field(name)[0], (*path, "f:" + name), out)
    elif isinstance(value, list):
        keys = t.list_keys()
        if keys is None:
            return
        item_type = t.item()
        for pe, item in _index(t, keys, value).items():
            _one_side(item, item_type, (*path, pe), out)


def _compare(lhs: Any, rhs: Any, t: _Type, path: Path, c: _Comparison) -> None:
    """structured-merge-diff's Compare of two present values."""
    if isinstance(lhs, dict) and isinstance(rhs, dict):
        if t.atomic_map() or (not lhs and not rhs):
            if not json_equal(lhs, rhs):
                c.modified.add(path)
            return
        for name, left in lhs.items():
            child_type = t.field(name)[0]
            if name in rhs:
                _compare(left, rhs[name], child_type, (*path, "f:" + name), c)
            else:
                _one_side(left, child_type, (*path, "f:" + name), c.removed)
        for name, right in rhs.items():
            if name not in lhs:
                _one_side(right, t.field(name)[0], (*path, "f:" + name), c.added)
        return
    if isinstance(lhs, list) and isinstance(rhs, list):
        keys = t.list_keys()
        if keys is None or (not lhs and not rhs):
            if not json_equal(lhs, rhs):
                c.modified.add(path)
            return
        item_type = t.item()
        left_items, right_items = _index(t, keys, lhs), _index(t, keys, rhs)
        for pe, left in left_items.items():
            if pe in right_items:
                _compare(left, right_items[pe], item_type, (*path, pe), c)
            else:
                _one_side(left, item_type, (*path, pe), c.removed)
        for pe, right in right_items.items():
            if pe not in left_items:
                _one_side(right, item_type, (*path, pe), c.added)
        return
    if isinstance(lhs, dict | list) or isinstance(rhs, dict | list):
        # The value changed shape (only possible without a schema): the node changed, its insides went and came.
        c.modified.add(path)
        _descendants(lhs, t, path, c.removed)
        _descendants(rhs, t, path, c.added)
        return
    if not json_equal(lhs, rhs):
        c.modified.add(path)


def _compare_objects(old: dict[str, Any], new: dict[str, Any], t: _Type) -> _Comparison:
    c = _Comparison()
    _compare(_without_managed_fields(old), _without_managed_fields(new), t, (), c)
    return c


def _merge(lhs: Any, rhs: Any, t: _Type, path: Path) -> Any:
    """structured-merge-diff's Merge: the applied value wins, maps and non-atomic lists merge."""
    if isinstance(rhs, dict):
        if not isinstance(lhs, dict) or t.atomic_map() or (not lhs and not rhs):
            return json_copy(rhs)
        out: dict[str, Any] = {}
        for name, left in lhs.items():
            if name in rhs:
                out[name] = _merge(left, rhs[name], t.field(name)[0], (*path, "f:" + name))
            else:
                out[name] = left
        for name, right in rhs.items():
            if name not in lhs:
                out[name] = _merge(None, right, t.field(name)[0], (*path, "f:" + name))
        return out
    if isinstance(rhs, list):
        keys = t.list_keys()
        if keys is None:
            return json_copy(rhs)
        lhs_list = lhs if isinstance(lhs, list) else []
        if not lhs_list and not rhs:
            return []
        return _merge_list(lhs_list, rhs, t, keys, path)
    # null neither clears a granular map nor a non-atomic list.
    if rhs is None and lhs and isinstance(lhs, dict) and not t.atomic_map():
        return lhs
    if rhs is None and lhs and isinstance(lhs, list) and t.list_keys() is not None:
        return lhs
    return rhs


def _merge_list(lhs: list[Any], rhs: list[Any], t: _Type, keys: tuple[str, ...], path: Path) -> list[Any]:
    """Merge associative lists keeping both orders: shared items follow the applied order, live-only ones stay put."""
    item_type = t.item()
    rhs_pes: list[str] = []
    observed_rhs: dict[str, Any] = {}
    for index, item in enumerate(rhs):
        try:
            pe = _item_pe(t, keys, item)
        except ShapeError as exc:
            raise ShapeError(f"{path_string(path)}: element {index}: {exc}") from None
        if pe in observed_rhs:
            raise ShapeError(f"{path_string(path)}: duplicate entries for key {path_string((pe,))}")
        observed_rhs[pe] = item
        rhs_pes.append(pe)
    lhs_pes: list[str] = []
    observed_lhs: dict[str, Any] = {}
    for index, item in enumerate(lhs):
        try:
            pe = _item_pe(t, keys, item)
        except ShapeError:
            pe = f"?{index}"  # kept where it is, never matched
        if pe in observed_lhs:
            pe = f"?{index}"
        observed_lhs[pe] = item
        lhs_pes.append(pe)

    shared = [pe for pe in rhs_pes if pe in observed_lhs]
    shared.reverse()
    next_shared = shared.pop() if shared else None
    merged_rhs: set[str] = set()
    out: list[Any] = []
    left, right = 0, 0
    while left < len(lhs_pes) or right < len(rhs_pes):
        if left < len(lhs_pes) and right < len(rhs_pes):
            pe = lhs_pes[left]
            if pe == rhs_pes[right]:
                merged_rhs.add(pe)
                out.append(_merge(observed_lhs[pe], observed_rhs[pe], item_type, (*path, pe)))
                left += 1
                right += 1
                next_shared = shared.pop() if shared else None
                continue
            if pe in observed_rhs and next_shared is not None and next_shared != pe:
                left += 1  # a shared item, but not the next one in the applied order
                continue
        if left < len(lhs_pes):
            pe = lhs_pes[left]
            if pe not in observed_rhs:
                out.append(observed_lhs[pe])
                left += 1
                continue
            if pe in merged_rhs:
                left += 1
                continue
        if right < len(rhs_pes):
            pe = rhs_pes[right]
            merged_rhs.add(pe)
            out.append(_merge(observed_lhs.get(pe), observed_rhs[pe], item_type, (*path, pe)))
            right += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop() if shared else None
    return out


_GONE: Final = _Missing()


def _remove(value: Any, trie: _Trie, t: _Type) -> Any:
    """structured-merge-diff's RemoveItems: drop members (with their subtrees); emptied maps and lists go too."""
    if isinstance(value, dict):
        if not value or t.atomic_map():
            return value
        out: dict[str, Any] = {}
        for name, child in value.items():
            node = trie.children.get("f:" + name)
            if node is None:
                out[name] = child
            elif not node.member:
                kept = _remove(child, node, t.field(name)[0]) if node.children else child
                if kept is not _GONE:
                    out[name] = kept
        return out if out else _GONE
    if isinstance(value, list):
        keys = t.list_keys()
        if not value or keys is None:
            return value
        item_type = t.item()
        items: list[Any] = []
        for item in value:
            try:
                pe = _item_pe(t, keys, item)
            except ShapeError:
                items.append(item)
                continue
            node = trie.children.get(pe)
            if node is None:
                items.append(item)
            elif not node.member:
                kept = _remove(item, node, item_type) if node.children else item
                if kept is not _GONE:
                    items.append(kept)
        return items if items else _GONE
    return value


def _remove_items(obj: dict[str, Any], fields: Iterable[Path], t: _Type) -> dict[str, Any]:
    result = _remove(obj, _Trie.build(fields), t)
    return result if isinstance(result, dict) else {}


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    if not isinstance(m, dict) or "managedFields" not in m:
        return obj
    out = dict(obj)
    out["metadata"] = {k: v for k, v in m.items() if k != "managedFields"}
    return out


# --- managers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManagerId:
    """What identifies a managedFields entry: appliers are one entry whatever version they apply."""

    manager: str
    operation: str  # Apply or Update
    api_version: str  # "" for appliers
    subresource: str = ""

    def identifier(self) -> str:
        """kube's BuildManagerIdentifier (JSON), which orders conflicts by manager."""
        doc = {"manager": self.manager, "operation": self.operation}
        if self.api_version:
            doc["apiVersion"] = self.api_version
        if self.subresource:
            doc["subresource"] = self.subresource
        return json.dumps(doc, separators=(",", ":"))

    def describe(self) -> str:
        """kube's printManager: `"kubectl"`, `"kubectl-edit" using apps/v1`, with subresource."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f" with subresource {json.dumps(self.subresource, ensure_ascii=False)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text


@dataclass(frozen=True)
class _Entry:
    fields: FieldSet
    api_version: str
    time: str | None


Managed = dict[ManagerId, _Entry]


def decode_managed_fields(entries: Any) -> Managed:
    """Decode `metadata.managedFields`; raises ValueError on anything kube would refuse."""
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    managed: Managed = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError("managedFields entries must be objects")
        operation = entry.get("operation")
        if operation not in ("Apply", "Update"):
            raise ValueError(f"invalid operation {operation!r}")
        if entry.get("fieldsType") != "FieldsV1":
            raise ValueError(f"invalid fieldsType {entry.get('fieldsType')!r}")
        manager, api_version = entry.get("manager") or "", entry.get("apiVersion") or ""
        subresource, time = entry.get("subresource") or "", entry.get("time")
        if not all(isinstance(v, str) for v in (manager, api_version, subresource)):
            raise ValueError("manager, apiVersion and subresource must be strings")
        fields = from_fields_v1(entry.get("fieldsV1") or {})
        mid = ManagerId(manager, operation, api_version if operation == "Update" else "", subresource)
        managed[mid] = _Entry(fields, api_version, _normalize_time(time))
    return managed


def _normalize_time(time: Any) -> str | None:
    """RFC 3339 in UTC with seconds, as kube serializes metav1.Time (clients may send +00:00 or fractions)."""
    if not isinstance(time, str) or not time:
        return None
    try:
        parsed = datetime.fromisoformat(time.replace("Z", "+00:00"))
    except ValueError:
        return time
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(time: str | None) -> float:
    if not time:
        return 0.0
    try:
        return datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def encode_managed_fields(managed: Managed) -> list[dict[str, Any]]:
    """Entries in kube's order: appliers first, then by time, manager, apiVersion and subresource."""
    entries = []
    for mid, entry in managed.items():
        if not entry.fields:
            continue
        doc: dict[str, Any] = {"manager": mid.manager, "operation": mid.operation, "apiVersion": entry.api_version}
        if entry.time:
            doc["time"] = entry.time
        doc["fieldsType"] = "FieldsV1"
        doc["fieldsV1"] = to_fields_v1(entry.fields)
        if mid.subresource:
            doc["subresource"] = mid.subresource
        entries.append(doc)
    entries.sort(
        key=lambda d: (
            d["operation"],
            int(_epoch(d.get("time"))),
            d["manager"],
            d["apiVersion"],
            d.get("subresource", ""),
        )
    )
    return entries


def _cap_update_managers(managed: Managed) -> Managed:
    """Merge the oldest update managers into per-version `ancient-changes` entries (kube keeps ten)."""
    updaters = [mid for mid in managed if mid.operation == "Update"]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managed
    managed = dict(managed)
    updaters.sort(key=lambda mid: (int(_epoch(managed[mid].time)), mid.manager))
    first_of_version: dict[str, ManagerId] = {}
    count = len(updaters)
    for mid in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        entry = managed[mid]
        bucket = ManagerId(ANCIENT_CHANGES, "Update", entry.api_version)
        first = first_of_version.get(entry.api_version)
        if first is None:
            first_of_version[entry.api_version] = mid
            continue
        if mid == bucket:
            continue
        if bucket not in managed:
            managed[bucket] = managed.pop(first)
        managed[bucket] = _Entry(entry.fields | managed[bucket].fields, entry.api_version, entry.time)
        del managed[mid]
        count -= 1
    return managed


def _ignore_rule(info: ResourceInfo, subresource: str) -> Callable[[Path], bool]:
    """Fields a write through this endpoint cannot change (kube's reset fields), never owned through it."""
    if subresource == "status":
        return lambda path: not path or path[0] != "f:status"
    if subresource == "finalize":
        return lambda path: path[:2] != ("f:spec", "f:finalizers")
    reset = _reset_fields(info)
    return lambda path: any(path[: len(prefix)] == prefix for prefix in reset)


def _reset_fields(info: ResourceInfo) -> tuple[Path, ...]:
    """What a write to the resource itself cannot change, each with everything below it."""
    if info.group == "" and info.kind == "Namespace":
        return ("f:status",), ("f:spec", "f:finalizers")
    if info.has_status:
        return (("f:status",),)
    return ()


class _Conflicts(Exception):
    def __init__(self, conflicts: dict[ManagerId, FieldSet]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


def conflict_error(conflicts: dict[ManagerId, FieldSet]) -> StatusError:
    """409 Conflict as kube words it, with one FieldManagerConflict cause per field."""
    ordered = sorted(conflicts, key=ManagerId.identifier)
    pairs = [(mid, path) for mid in ordered for path in _Trie.build(conflicts[mid]).walk()]
    causes = tuple(
        FieldCause("FieldManagerConflict", f"conflict with {mid.describe()}", path_string(path)) for mid, path in pairs
    )
    if len(pairs) == 1:
        mid, path = pairs[0]
        message = f"Apply failed with 1 conflict: conflict with {mid.describe()}: {path_string(path)}"
    else:
        lines = []
        for mid in ordered:
            lines.append(f"conflicts with {mid.describe()}:")
            lines += [f"- {path_string(path)}" for path in _Trie.build(conflicts[mid]).walk()]
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {}, causes=causes)


def _compare_for(old: dict[str, Any], new: dict[str, Any], t: _Type, ignored: Callable[[Path], bool]) -> _Comparison:
    return _compare_objects(old, new, t).exclude(ignored)


def _update_managers(c: _Comparison, managed: Managed, workflow: ManagerId | None, *, force: bool) -> Managed:
    """structured-merge-diff's Updater.update: others lose what changed (or it conflicts) and what went."""
    changed = c.added | c.modified
    conflicts: dict[ManagerId, FieldSet] = {}
    for mid, entry in managed.items():
        if mid != workflow:
            hit = entry.fields & changed
            if hit:
                conflicts[mid] = hit
    if conflicts and not force:
        raise _Conflicts(conflicts)
    out: Managed = {}
    for mid, entry in managed.items():
        if mid != workflow and (mid in conflicts or c.removed):
            entry = replace(entry, fields=entry.fields - changed - c.removed)
        if entry.fields:
            out[mid] = entry
    return out


def _prune(merged: dict[str, Any], managed: Managed, last: FieldSet, t: _Type) -> dict[str, Any]:
    """Remove what the applier applied last time but not now, unless someone (the applier included) owns it."""
    last_set = _ensure_named(last)
    pruned = _remove_items(merged, last_set, t)
    owned = _ensure_named(path for entry in managed.values() for path in entry.fields)
    merged_set = _ensure_named(_field_set(merged, t))
    pruned = _remove_items(merged, merged_set - (_ensure_named(_field_set(pruned, t)) | owned), t)
    return _remove_items(merged, (merged_set - _ensure_named(_field_set(pruned, t))) & last_set, t)


def _strip(fields: Iterable[Path]) -> FieldSet:
    return frozenset(fields) - _STRIPPED


def _smd_apply(
    live: dict[str, Any],
    config: dict[str, Any],
    managed: Managed,
    applier: ManagerId,
    *,
    force: bool,
    api_version: str,
    t: _Type,
    ignored: Callable[[Path], bool],
) -> tuple[dict[str, Any], Managed]:
    merged = _merge(live, config, t, ())
    last = managed.get(applier)
    applied = frozenset(p for p in _field_set(config, t, strict=True) if not ignored(p))
    managed = {**managed, applier: _Entry(applied, api_version, last.time if last else None)}
    if last is not None and last.fields - applied:
        merged = _prune(merged, managed, last.fields, t)
    managed = _update_managers(_compare_for(live, merged, t, ignored), managed, applier, force=force)
    if applier in managed:
        stripped = _strip(managed[applier].fields)
        if stripped:
            managed[applier] = replace(managed[applier], fields=stripped)
        else:
            del managed[applier]
    return merged, managed


def _allowed_by_last_applied(live: dict[str, Any], t: _Type) -> FieldSet | None:
    """Fields kubectl client-side apply last applied with their live values: kubectl may take them over."""
    annotations = (live.get("metadata") or {}).get("annotations")
    raw = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    if not isinstance(raw, str) or not raw:
        return None
    try:
        last = json.loads(raw)
        if not isinstance(last, dict):
            return None
        fields = _field_set(last, t, strict=True)
    except (ValueError, ShapeError):
        return None
    c = _compare_objects(last, live, t)
    return frozenset(fields - c.modified - c.added - c.removed)


def _with_last_applied(obj: dict[str, Any], config: dict[str, Any]) -> None:
    """kubectl's SSA keeps an existing last-applied annotation current (lastAppliedUpdater)."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED):
        return
    doc = json_copy(config)
    doc_annotations = (doc.get("metadata") or {}).get("annotations")
    if isinstance(doc_annotations, dict):
        doc_annotations.pop(LAST_APPLIED, None)
    annotations[LAST_APPLIED] = _canon(doc) + "\n"
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > _ANNOTATIONS_MAX_BYTES:
        del annotations[LAST_APPLIED]


def _check_config(config: Any, info: ResourceInfo) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise errors.bad_request("error decoding YAML: the applied configuration must be an object")
    api_version, kind = config.get("apiVersion"), config.get("kind")
    if api_version != info.api_version or kind != info.kind:
        group, _, version = str(api_version or "").rpartition("/")
        raise errors.bad_request(f"invalid object type: {group}/{version}, Kind={kind or ''}")
    m = config.get("metadata")
    if m is not None and not isinstance(m, dict):
        raise errors.bad_request("error decoding YAML: metadata must be an object")
    if isinstance(m, dict) and m.get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    # A JSON round trip turns YAML timestamps and the like into what JSON would have carried.
    normalized: dict[str, Any] = orjson.loads(orjson.dumps(config))
    return normalized


def _typed_error(info: ResourceInfo, config: dict[str, Any], exc: ShapeError) -> StatusError:
    """kube-apiserver answers 500 here (kubernetes/kubernetes#122480), but the fault is the patch's: 400."""
    m = config.get("metadata") or {}
    gvk = f"{info.group}/{info.version}, Kind={info.kind}"
    return StatusError(
        400,
        "BadRequest",
        f"failed to create typed patch object ({m.get('namespace') or ''}/{m.get('name') or ''}; {gvk}): {exc}",
    )


def apply(
    live: dict[str, Any] | None,
    config: Any,
    *,
    manager: str,
    force: bool,
    info: ResourceInfo,
    now: str,
    subresource: str = "",
) -> dict[str, Any]:
    """Server-side apply `config` to `live` (None: the object does not exist yet) for `manager`.

    Returns the merged object carrying the new `metadata.managedFields`; raises a 409 listing the
    conflicts when another manager owns a field the configuration changes, unless `force`.
    """
    config = _check_config(config, info)
    t = _root_type(info)
    ignored = _ignore_rule(info, subresource)
    current: dict[str, Any] = (
        json_copy(live) if live is not None else {"apiVersion": info.api_version, "kind": info.kind}
    )
    try:
        managed = decode_managed_fields((current.get("metadata") or {}).get("managedFields"))
    except ValueError:
        managed = {}
    current = _without_managed_fields(current)
    if not managed and live is not None:
        # An object nobody owns yet: what is there belongs to "before-first-apply".
        first = ManagerId(BEFORE_FIRST_APPLY, "Update", info.api_version, subresource)
        c = _compare_for({}, current, t, ignored)
        owned = _strip((c.added | c.modified) - c.removed)
        if owned:
            managed[first] = _Entry(owned, info.api_version, now)
    applier = ManagerId(manager, "Apply", "", subresource)
    options: dict[str, Any] = {"api_version": info.api_version, "t": t, "ignored": ignored}
    try:
        try:
            merged, managed = _smd_apply(current, config, managed, applier, force=force, **options)
        except _Conflicts as exc:
            allowed = _allowed_by_last_applied(current, t) if manager == KUBECTL_SSA_MANAGER else None
            if allowed is None:
                raise conflict_error(exc.conflicts) from None
            remaining = {mid: fields - allowed for mid, fields in exc.conflicts.items() if fields - allowed}
            if remaining:
                raise conflict_error(remaining) from None
            merged, managed = _smd_apply(current, config, managed, applier, force=True, **options)
    except ShapeError as exc:
        raise _typed_error(info, config, exc) from None
    if applier in managed and (managed[applier].time is None or not json_equal(merged, current)):
        managed[applier] = replace(managed[applier], time=now)
    managed = _cap_update_managers(managed)
    m = merged.setdefault("metadata", {})
    entries = encode_managed_fields(managed)
    if entries:
        m["managedFields"] = entries
    else:
        m.pop("managedFields", None)
    if manager == KUBECTL_SSA_MANAGER:
        _with_last_applied(merged, config)
    return merged


def _is_reset(entries: Any) -> bool:
    return isinstance(entries, list) and (entries == [] or entries == [{}])


def track_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    info: ResourceInfo,
    now: str,
    subresource: str = "",
) -> None:
    """Record, in `new["metadata"]["managedFields"]`, that `manager` set what this create/update changed.

    Like kube: a request may replace managedFields (or reset them with `[]`) unless it goes to a
    subresource; an existing object without managedFields stays untracked until it is applied;
    and nothing changes when the write changes nothing.
    """
    m = new.get("metadata")
    if not isinstance(m, dict):
        return
    live_entries = ((old or {}).get("metadata") or {}).get("managedFields")
    entries = live_entries
    sent = None if subresource else m.get("managedFields")
    if _is_reset(sent):
        entries = []
    elif sent is not None and sent != live_entries:
        try:
            decoded = decode_managed_fields(sent)
        except ValueError:
            decoded = {}
        if decoded:
            # canonical form (kube re-encodes what it decoded), so a client's spelling is no change
            entries = encode_managed_fields(decoded)
    if not entries and old is not None:
        m.pop("managedFields", None)  # kube does not start tracking an existing object on update
        return
    t = _root_type(info)
    if old is None and not entries and not subresource and not t.atomic_map():
        _track_create(new, m, t, manager=manager, info=info, now=now)
        return
    c = _compare_for(old or {}, new, t, _ignore_rule(info, subresource))
    if c.empty():
        if entries:
            m["managedFields"] = entries
        else:
            m.pop("managedFields", None)
        return
    try:
        managed = decode_managed_fields(entries)
    except ValueError:
        if old is not None:
            m.pop("managedFields", None)
            return
        managed = {}
    managed = _update_managers(c, managed, None, force=True)
    mine = _strip((c.added | c.modified) - c.removed)
    if mine:
        mid = ManagerId(manager, "Update", info.api_version, subresource)
        previous = managed.get(mid)
        managed[mid] = _Entry(mine | (previous.fields if previous else frozenset()), info.api_version, now)
    encoded = encode_managed_fields(_cap_update_managers(managed))
    if encoded:
        m["managedFields"] = encoded
    else:
        m.pop("managedFields", None)


def _track_create(
    new: dict[str, Any], m: dict[str, Any], t: _Type, *, manager: str, info: ResourceInfo, now: str
) -> None:
    """`track_update` of a create that brings no managedFields of its own, the common write: the manager owns
    every field, so its fieldsV1 is built in one walk of the object instead of comparing it with nothing,
    collecting paths and building their trie (the same result; kube's own tests pin it in test_fieldmanager)."""
    fields = _new_fields_v1(_without_managed_fields(new), t, (), _reset_fields(info))
    if not fields:
        m.pop("managedFields", None)
        return
    entry: dict[str, Any] = {"manager": manager, "operation": "Update", "apiVersion": info.api_version}
    if now:
        entry["time"] = now
    entry["fieldsType"] = "FieldsV1"
    entry["fieldsV1"] = fields
    m["managedFields"] = [entry]


def _new_fields_v1(value: Any, t: _Type, path: Path | None, reset: tuple[Path, ...]) -> dict[str, Any]:
    """The fieldsV1 children of `value` (a map or list) at `path` when every field is new: each map member and
    associative list item is a member (`.` when it has members below), atomic maps and lists are not looked
    into, reset fields are left out with all below them and the server's metadata fields are no members.
    Those last two lie at most two levels down: deeper, `path` is None and not tracked."""
    members: list[tuple[str, Any, _Type | None]]
    if isinstance(value, dict):
        if t.atomic_map():
            return {}
        members = [("f:" + name, child, None) for name, child in value.items()]
    else:
        keys = t.list_keys()
        if keys is None:
            return {}
        item_type = t.item()
        members = [(pe, item, item_type) for pe, item in _index(t, keys, value).items()]
    children: dict[str, dict[str, Any]] = {}
    for pe, child, child_type in members:
        child_path = (*path, pe) if path is not None and len(path) < 2 else None
        if child_path is not None and child_path in reset:
            continue
        node: dict[str, Any] = {}
        if isinstance(child, dict | list):  # scalars have nothing below them
            if child_type is None:
                child_type = t.field(pe[2:])[0]
            node = _new_fields_v1(child, child_type, child_path, reset)
        if child_path is None or child_path not in _STRIPPED:
            children[pe] = {".": {}, **node} if node else node
        elif node:
            children[pe] = node
    return {pe: children[pe] for pe in sorted(children, key=_pe_order)} if len(children) > 1 else children


# --- request helpers -----------------------------------------------------------------------------


def manager_from_user_agent(user_agent: str) -> str:
    """kube's prefixFromUserAgent: the user agent up to the first "/", printable, at most 128 bytes."""
    prefix = user_agent.split("/", 1)[0]
    if len(prefix) <= FIELD_MANAGER_MAX_LENGTH and prefix.isascii() and prefix.isprintable():
        return prefix  # the usual agent: nothing to drop or cut, so no walk over its characters
    out, size = [], 0
    for ch in prefix:
        if not ch.isprintable():
            continue
        width = len(ch.encode())
        if size + width > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += width
    return "".join(out)


def validate_field_manager(name: str, *, path: str = "fieldManager") -> list[FieldCause]:
    causes = []
    if len(name) > FIELD_MANAGER_MAX_LENGTH:
        causes.append(
            FieldCause("FieldValueTooLong", f"Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes", path)
        )
    for index, ch in enumerate(name):
        if not ch.isprintable():
            causes.append(
                FieldCause(
                    "FieldValueInvalid",
                    f'Invalid value: "{name}": invalid character U+{ord(ch):04X} (at position {index})',
                    path,
                )
            )
    return causes
