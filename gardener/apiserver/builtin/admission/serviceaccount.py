"""kube's ServiceAccount admission: every pod runs as a service account that exists, and gets its API
token as the projected `kube-api-access-*` volume mounted where client libraries look for it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gardener.apiserver.builtin.admission.common import forbidden, get_object, is_pod_create
from gardener.apiserver.controllers.informer import LocalIndex
from gardener.apiserver.rest import AdmissionRequest, ObjectStore

DEFAULT = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
#: kube's token lifetime for the projected volume (an hour and seven seconds, so it is recognisable)
TOKEN_EXPIRATION_SECONDS = 3607
#: the characters of kube's random suffixes (no vowels, no look-alikes)
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
#: kube looks the `default` account up ten times before giving up: the controller that creates it may lag
#: behind the namespace; any other name is looked up once
DEFAULT_ATTEMPTS = 10


class ServiceAccountAdmission:
    def __init__(
        self,
        *,
        store: ObjectStore,
        publish_root_ca: Callable[[str], Awaitable[None]] | None = None,
        retry_interval: float = 0.1,
        accounts: LocalIndex[Mapping[str, Any]] | None = None,
    ) -> None:
        self._store = store
        #: the ServiceAccounts as the event window has them (kube's informer cache); a miss reads storage
        self._accounts = accounts
        #: makes sure the namespace holds `kube-root-ca.crt`, which the token volume mounts
        self._publish_root_ca = publish_root_ca
        self._retry_interval = retry_interval
        self._rng = random.Random()

    async def __call__(self, req: AdmissionRequest) -> None:
        if not is_pod_create(req) or req.obj is None:
            return
        pod = req.obj
        if ((pod.get("metadata") or {}).get("annotations") or {}).get(MIRROR_ANNOTATION):
            return
        spec = pod.setdefault("spec", {})
        name = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT)
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
        account = await self._lookup(req.namespace, name)
        if account is None:
            raise forbidden(
                req, f'error looking up service account {req.namespace}/{name}: serviceaccount "{name}" not found'
            )
        automount = spec.get("automountServiceAccountToken")
        if automount is None:
            automount = account.get("automountServiceAccountToken")
        if automount is False:
            return
        if self._mount_token(spec) and self._publish_root_ca is not None and not req.dry_run:
            await self._publish_root_ca(req.namespace)

    async def _lookup(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        cached = self._accounts.namespace(namespace) if self._accounts is not None else None
        found = cached.get(name) if cached is not None else None
        if found is not None:
            return found
        # kube looks up storage when its cache has no such account: the cache may lag behind
        attempts = DEFAULT_ATTEMPTS if name == DEFAULT else 1
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._retry_interval * (1 + self._rng.random()))
            account = await get_object(self._store, group="", plural="serviceaccounts", namespace=namespace, name=name)
            if account is not None:
                return account
        return None

    def _mount_token(self, spec: dict[str, Any]) -> bool:
        volumes = spec.get("volumes")
        if not isinstance(volumes, list):
            volumes = spec["volumes"] = []
        containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or [] if isinstance(c, dict)]
        needing = [c for c in containers if not any(_mounts_at(m, MOUNT_PATH) for m in c.get("volumeMounts") or [])]
        if not needing:
            return False
        existing = {v.get("name") for v in volumes if isinstance(v, dict)}
        volume_name = self._volume_name()
        while volume_name in existing:
            volume_name = self._volume_name()
        volumes.append(_token_volume(volume_name))
        for container in needing:
            mounts = container.get("volumeMounts")
            if not isinstance(mounts, list):
                mounts = container["volumeMounts"] = []
            mounts.append({"name": volume_name, "readOnly": True, "mountPath": MOUNT_PATH})
        return True

    def _volume_name(self) -> str:
        return "kube-api-access-" + "".join(self._rng.choices(_ALPHABET, k=5))


def _mounts_at(mount: Any, path: str) -> bool:
    return isinstance(mount, dict) and str(mount.get("mountPath") or "").rstrip("/") == path


def _token_volume(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "projected": {
            "defaultMode": 0o644,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }
