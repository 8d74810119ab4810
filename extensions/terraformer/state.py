"""Terraform state in the seed: a Secret `<name>.tf-state` with the key `terraform.tfstate`.

Writes are guarded by the Secret's resourceVersion: two Terraformers racing on one state lose a write with
409 instead of silently forking the state's lineage.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gardener.runtime.errors import ApiError, TemporaryError
from gardener.runtime.kube import SECRETS, Kube

STATE_KEY = "terraform.tfstate"
MANAGED_BY = "terraformer.gardener.cloud/name"


@dataclass
class StoredState:
    data: bytes
    resource_version: str | None


class StateStore:
    def __init__(self, kube: Kube, namespace: str, name: str, *, owner: Mapping[str, Any] | None = None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.secret_name = f"{name}.tf-state"
        self.name = name
        self.owner = dict(owner) if owner else None

    @property
    def path(self) -> str:
        return SECRETS.path(self.namespace, self.secret_name)

    def load(self) -> StoredState | None:
        secret = self.kube.get(self.path)
        if secret is None:
            return None
        raw = (secret.get("data") or {}).get(STATE_KEY)
        return StoredState(base64.b64decode(raw) if raw else b"", secret["metadata"].get("resourceVersion"))

    def save(self, data: bytes, current: StoredState | None) -> StoredState:
        """Store `data`; `current` is what was loaded (its resourceVersion guards the write)."""
        encoded = base64.b64encode(data).decode()
        try:
            if current is None or current.resource_version is None:
                meta: dict[str, Any] = {
                    "name": self.secret_name,
                    "namespace": self.namespace,
                    "labels": {MANAGED_BY: self.name},
                }
                if self.owner:
                    meta["ownerReferences"] = [self.owner]
                body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque"}
                created = self.kube.create(SECRETS.path(self.namespace), {**body, "data": {STATE_KEY: encoded}})
                return StoredState(data, created["metadata"]["resourceVersion"])
            patched = self.kube.patch(
                self.path,
                {"metadata": {"resourceVersion": current.resource_version}, "data": {STATE_KEY: encoded}},
            )
            return StoredState(data, patched["metadata"]["resourceVersion"])
        except ApiError as exc:
            if exc.status == 409:
                raise TemporaryError(
                    f"terraform state {self.namespace}/{self.secret_name} changed concurrently", delay=2.0
                ) from exc
            raise

    def delete(self) -> None:
        self.kube.delete(self.path)
