"""The built-in table serves exactly the GA API of Kubernetes 1.32, as the official Python client knows it.

The `kubernetes` client's API modules (client 32.0.1, unpacked by `make`: see tests.k8s_api_source) are generated
from kube-apiserver's OpenAPI document: every request path it can send is in a `call_api(path, method, ...)` call.
Reading them with `ast` gives upstream's set of group/version/resource/subresource with scope and verbs, without a
network.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict

import pytest

from gardener.apiserver.discovery import Discovery
from gardener.apiserver.resources import BUILTIN, Registry, subresources_of
from tests.k8s_api_source import package_dir

API_DIR = package_dir() / "client" / "api"
#: <group>_<version>_api.py of a GA version (v1, v2, ...)
_GA_MODULE = re.compile(r"(?P<group>[a-z_]+?)_(?P<version>v\d+)_api\.py")
_METHOD_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}

#: Served by us although the GA client does not list them, with the reason.
EXTRA: dict[tuple[str, str, str], str] = {}
#: Listed by the client but deliberately not served, with the reason.
MISSING: dict[tuple[str, str, str], str] = {
    ("", "v1", "pods/resize"): "behind InPlacePodVerticalScaling, an alpha feature gate that is off in 1.32",
}

Key = tuple[str, str, str]  # (group, version, "resource" or "resource/subresource")


def _group_name(module_group: str, paths: list[str]) -> str:
    for path in paths:
        m = re.match(r"/apis/([^/]+)/", path)
        if m:
            return m.group(1)
    assert module_group == "core", module_group
    return ""


def _client_api() -> dict[Key, tuple[bool, frozenset[str]]]:
    """(group, version, resource[/sub]) -> (namespaced, verbs without watch) from the client's request paths."""
    seen: dict[Key, tuple[set[bool], set[str]]] = defaultdict(lambda: (set(), set()))
    for module in sorted(API_DIR.glob("*_api.py")):
        m = _GA_MODULE.fullmatch(module.name)
        if m is None:
            continue
        calls: list[tuple[str, str]] = []
        for node in ast.walk(ast.parse(module.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "call_api"
                and len(node.args) >= 2
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args[:2])
            ):
                calls.append((str(node.args[0].value), str(node.args[1].value)))  # type: ignore[attr-defined]
        group = _group_name(m.group("group"), [p for p, _ in calls])
        for path, method in calls:
            parsed = _parse_path(path, group=group, version=m.group("version"))
            if parsed is None or method not in _METHOD_VERBS:
                continue
            key, namespaced, named = parsed
            verb = _METHOD_VERBS[method]
            if not named and "/" not in key[2]:
                verb = {"get": "list", "delete": "deletecollection"}.get(verb, verb)
            scopes, verbs = seen[key]
            verbs.add(verb)
            if "/" not in key[2] or namespaced:
                scopes.add(namespaced)
    out: dict[Key, tuple[bool, frozenset[str]]] = {}
    for key, (scopes, verbs) in seen.items():
        # a namespaced kind is also listed across namespaces (list_*_for_all_namespaces)
        out[key] = (True in scopes, frozenset(verbs))
    return out


def _parse_path(path: str, *, group: str, version: str) -> tuple[Key, bool, bool] | None:
    prefix = f"/apis/{group}/{version}/" if group else f"/api/{version}/"
    if not path.startswith(prefix):
        return None
    parts = path[len(prefix) :].split("/")
    if parts == [""] or parts[0] == "watch":
        return None
    namespaced = len(parts) >= 3 and parts[0] == "namespaces" and parts[1] == "{namespace}"
    rest = parts[2:] if namespaced else parts
    resource = rest[0]
    named = len(rest) >= 2
    if len(rest) >= 3:
        resource = f"{resource}/{rest[2]}"
    return (group, version, resource), namespaced, named


def _ours() -> dict[Key, tuple[bool, frozenset[str]]]:
    out: dict[Key, tuple[bool, frozenset[str]]] = {}
    for info in BUILTIN:
        if not re.fullmatch(r"v\d+", info.version):
            continue
        out[(info.group, info.version, info.plural)] = (info.namespaced, frozenset(info.verbs) - {"watch"})
        for sub in subresources_of(info):
            out[(info.group, info.version, f"{info.plural}/{sub.name}")] = (info.namespaced, frozenset(sub.verbs))
    return out


CLIENT = _client_api()
OURS = _ours()


def test_the_client_modules_were_found() -> None:
    assert "release-1.32" in (API_DIR.parent / "models" / "v1_object_meta.py").read_text(), "not the 1.32 client"
    assert ("", "v1", "pods/eviction") in CLIENT
    assert ("apps", "v1", "deployments/scale") in CLIENT


def test_served_ga_resources_are_upstreams() -> None:
    missing = sorted(set(CLIENT) - set(OURS) - set(MISSING))
    extra = sorted(set(OURS) - set(CLIENT) - set(EXTRA))
    assert (missing, extra) == ([], [])


@pytest.mark.parametrize("key", sorted(set(CLIENT) & set(OURS)), ids=lambda k: "/".join(p for p in k if p))
def test_scope_and_verbs_are_upstreams(key: Key) -> None:
    assert OURS[key] == CLIENT[key]


def test_discovery_lists_subresources_with_their_kinds() -> None:
    discovery = Discovery(Registry())
    core = discovery.resource_list("", "v1")
    assert core is not None
    by_name = {r["name"]: r for r in core["resources"]}
    assert [r["name"] for r in core["resources"]] == sorted(by_name)
    assert by_name["pods/eviction"] | {} == {
        "name": "pods/eviction",
        "singularName": "",
        "namespaced": True,
        "group": "policy",
        "version": "v1",
        "kind": "Eviction",
        "verbs": ["create"],
    }
    assert by_name["pods/binding"]["kind"] == "Binding"
    assert by_name["pods/log"]["kind"] == "Pod"
    assert by_name["pods/exec"]["kind"] == "PodExecOptions"
    assert by_name["services/proxy"]["kind"] == "ServiceProxyOptions"
    assert by_name["nodes/proxy"]["kind"] == "NodeProxyOptions"
    assert by_name["replicationcontrollers/scale"]["group"] == "autoscaling"
    assert by_name["serviceaccounts/token"]["kind"] == "TokenRequest"
    assert by_name["componentstatuses"]["verbs"] == ["get", "list"]
    assert by_name["componentstatuses"]["shortNames"] == ["cs"]
    assert by_name["bindings"]["verbs"] == ["create"]


def test_autoscaling_prefers_v2_and_shares_storage_with_v1() -> None:
    registry = Registry()
    assert registry.preferred_version("autoscaling") == "v2"
    v1 = registry.get("autoscaling", "v1", "horizontalpodautoscalers")
    v2 = registry.get("autoscaling", "v2", "horizontalpodautoscalers")
    assert v1 is not None and v2 is not None
    assert v1.storage_version == v2.storage_version == "v2"
    assert v1.key("ns", "a") == v2.key("ns", "a")
