"""`Lookup` over the garden's API, for admission run as a webhook.

Reads go to the API server on every request (no informer cache): admission must see a Shoot created a
moment ago before letting its CloudProfile or SecretBinding go.
"""

from __future__ import annotations

from typing import Any

from gardener.apis.core.lookup import Lookup, MemoryLookup, shoot_cloud_profile_name
from gardener.runtime.kube import Kube

CORE = "/apis/core.gardener.cloud/v1beta1"


class APILookup(Lookup):
    def __init__(self, kube: Kube) -> None:
        self._kube = kube

    def _get(self, path: str) -> dict[str, Any] | None:
        obj = self._kube.raw("GET", path)
        return obj if isinstance(obj, dict) else None

    def _items(self, path: str) -> list[dict[str, Any]]:
        listing = self._kube.raw("GET", path) or {}
        return [i for i in listing.get("items") or [] if isinstance(i, dict)]

    def cloud_profile(self, name: str) -> dict[str, Any] | None:
        return self._get(f"{CORE}/cloudprofiles/{name}")

    def secret_binding(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(f"{CORE}/namespaces/{namespace}/secretbindings/{name}")

    def project_for_namespace(self, namespace: str) -> dict[str, Any] | None:
        lookup = MemoryLookup({**p, "kind": "Project"} for p in self._items(f"{CORE}/projects"))
        return lookup.project_for_namespace(namespace)

    def shoots_using_cloud_profile(self, name: str) -> list[dict[str, Any]]:
        return [s for s in self._items(f"{CORE}/shoots") if shoot_cloud_profile_name(s) == name]

    def quotas(self, refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = []
        for ref in refs:
            if isinstance(ref, dict) and ref.get("name"):
                quota = self._get(f"{CORE}/namespaces/{ref.get('namespace', '')}/quotas/{ref['name']}")
                if quota is not None:
                    found.append(quota)
        return found

    def seed(self, name: str) -> dict[str, Any] | None:
        return self._get(f"{CORE}/seeds/{name}")

    def shoots(self, namespace: str = "") -> list[dict[str, Any]]:
        return self._items(f"{CORE}/namespaces/{namespace}/shoots" if namespace else f"{CORE}/shoots")

    def secret_bindings(self) -> list[dict[str, Any]]:
        return self._items(f"{CORE}/secretbindings")
