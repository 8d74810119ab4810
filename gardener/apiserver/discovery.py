"""Legacy discovery documents (/api, /apis, /api/v1, /apis/<g>/<v>) and /version.

Built from the registry on demand and cached by registry generation, so a CRD appears in
discovery the moment it is Established.
"""

from __future__ import annotations

import platform
from typing import Any

from gardener.apiserver.resources import Registry, ResourceInfo, Subresource, subresources_of

#: kube's /version names the platform as GOOS/GOARCH; Python reports the machine the way uname does
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    # The version shoots of "1.32" get from the local CloudProfile, in kube's format; the semver build suffix says
    # whose server it is without making it a pre-release of 1.32.2 (kubectl compares only major.minor for skew).
    "gitVersion": "v1.32.2+gardener.py",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-11-27T00:00:00Z",
    "goVersion": f"python{platform.python_version()}",
    "compiler": "cpython",
    "platform": f"{platform.system().lower()}/{_GOARCH.get(platform.machine().lower(), platform.machine().lower())}",
}


class Discovery:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._cache: dict[str, Any] = {}
        self._generation = -1

    def _cached(self, key: str, build: Any) -> Any:
        if self._generation != self._registry.generation:
            self._cache.clear()
            self._generation = self._registry.generation
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def core_versions(self) -> dict[str, Any]:
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}

    def group_list(self) -> dict[str, Any]:
        return dict(
            self._cached("/apis", lambda: {"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()})
        )

    def _groups(self) -> list[dict[str, Any]]:
        out = []
        for group, versions in sorted(self._registry.groups().items()):
            if not group:
                continue
            out.append(self._group_doc(group, versions))
        return out

    @staticmethod
    def _group_doc(group: str, versions: list[str]) -> dict[str, Any]:
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    def group(self, group: str) -> dict[str, Any] | None:
        versions = self._registry.groups().get(group)
        if not group or not versions:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group_doc(group, versions)}

    def resource_list(self, group: str, version: str) -> dict[str, Any] | None:
        infos = self._registry.resources_in(group, version)
        if not infos:
            return None
        gv = f"{group}/{version}" if group else version
        return dict(self._cached(gv, lambda: _resource_list(gv, infos)))


def _resource_list(gv: str, infos: list[ResourceInfo]) -> dict[str, Any]:
    """An APIResourceList as kube's legacy discovery writes it: every entry sorted by name, subresources included."""
    resources: list[dict[str, Any]] = []
    for info in infos:
        entry: dict[str, Any] = {
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": list(info.verbs),
        }
        if info.short_names:
            entry["shortNames"] = list(info.short_names)
        if info.categories:
            entry["categories"] = list(info.categories)
        resources.append(entry)
        for sub in subresources_of(info):
            resources.append(_sub(info, sub))
    resources.sort(key=lambda r: str(r["name"]))
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _sub(info: ResourceInfo, sub: Subresource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"{info.plural}/{sub.name}",
        "singularName": "",
        "namespaced": info.namespaced,
    }
    if sub.group is not None:
        entry["group"] = sub.group
    if sub.version is not None:
        entry["version"] = sub.version
    entry["kind"] = sub.kind
    entry["verbs"] = list(sub.verbs)
    return entry
