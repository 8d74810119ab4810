"""What namespaces hold for their pods' API access: the `default` ServiceAccount and the `kube-root-ca.crt`
ConfigMap with the CA that signs the API server's certificate.

kube-controller-manager's serviceaccount and root-ca-cert-publisher controllers do this in a cluster; the
garden runs none. The ServiceAccount admission plugin refuses pods whose account is missing and mounts
`kube-root-ca.crt` into every pod, so the API server keeps both itself. The account is created with every
namespace; the ConfigMap, unlike in kube, only once a pod in the namespace mounts it (`publish_root_ca`, called
by the admission plugin), so namespaces without pods hold only what their users put there. Both are put
back when deleted, and the ConfigMap when its content is changed.
"""

from __future__ import annotations

import logging
from typing import Any

from gardener.apiserver.controllers.informer import LocalInformer
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.storage.events import DELETED

log = logging.getLogger("gardener.apiserver.serviceaccounts")

DEFAULT = "default"
ROOT_CA = "kube-root-ca.crt"
#: kube-controller-manager's marker on the ConfigMap it publishes
ROOT_CA_ANNOTATION = "kubernetes.io/description"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the "
    "internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
    "clusters."
)


class ServiceAccountsController:
    def __init__(self, *, store: ObjectStore, registry: Registry, ca_pem: bytes) -> None:
        self._store = store
        self._registry = registry
        self._ca = ca_pem.decode()
        #: namespaces whose `kube-root-ca.crt` the informer last saw with the right CA
        self._published: set[str] = set()
        self._informers = [
            LocalInformer(
                backend=store.backend, prefix="/registry/core/namespaces/", handler=self._on_namespace, name="sa-ns"
            ),
            LocalInformer(
                backend=store.backend,
                prefix="/registry/core/serviceaccounts/",
                handler=self._on_object,
                name="sa",
                accept=lambda ev: ev.type == DELETED and ev.key.endswith("/" + DEFAULT),
            ),
            LocalInformer(
                backend=store.backend,
                prefix="/registry/core/configmaps/",
                handler=self._on_object,
                name="root-ca",
                accept=lambda ev: ev.key.endswith("/" + ROOT_CA),
            ),
        ]

    async def start(self) -> None:
        for informer in self._informers:
            await informer.start()

    async def stop(self) -> None:
        for informer in reversed(self._informers):
            await informer.stop()

    async def _on_namespace(self, kind: str, key: str, ns: dict[str, Any]) -> None:
        if kind != DELETED and not ns["metadata"].get("deletionTimestamp"):
            await self.ensure(ns["metadata"]["name"])

    async def _on_object(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        m = obj.get("metadata") or {}
        namespace, name = str(m.get("namespace") or ""), m.get("name")
        if obj.get("kind") == "ConfigMap" or key.startswith("/registry/core/configmaps/"):
            if name != ROOT_CA:
                return
            if kind != DELETED and (obj.get("data") or {}).get("ca.crt") == self._ca:
                self._published.add(namespace)
            else:
                self._published.discard(namespace)
                await self.publish_root_ca(namespace)
        elif kind == DELETED and name == DEFAULT:
            await self.ensure(namespace)

    async def ensure(self, namespace: str) -> None:
        if not namespace or self._store.namespaces.get(namespace):
            return
        await self._create("serviceaccounts", namespace, {"metadata": {"name": DEFAULT}})

    async def publish_root_ca(self, namespace: str) -> None:
        if not namespace or namespace in self._published or self._store.namespaces.get(namespace):
            return  # the admission plugin calls this for every pod: what the informer saw in place is not read
        wanted = {
            "metadata": {"name": ROOT_CA, "annotations": {ROOT_CA_ANNOTATION: ROOT_CA_DESCRIPTION}},
            "data": {"ca.crt": self._ca},
        }
        info = self._registry.get("", "v1", "configmaps")
        if info is None:
            return
        current = await self._store.backend.get(info.key(namespace, ROOT_CA))
        if current is None:
            await self._create("configmaps", namespace, wanted)
        elif (self._store.decode(current).get("data") or {}).get("ca.crt") != self._ca:
            try:
                await self._store.patch(
                    info, namespace, ROOT_CA, patch_type="merge", body={"data": wanted["data"]}, ctx=Context()
                )
            except StatusError as exc:
                if exc.code not in (404, 409):
                    raise

    async def _create(self, plural: str, namespace: str, obj: dict[str, Any]) -> None:
        info = self._registry.get("", "v1", plural)
        if info is None or await self._store.backend.get(info.key(namespace, obj["metadata"]["name"])) is not None:
            return
        try:
            await self._store.create(info, namespace, obj, ctx=Context())
        except StatusError as exc:
            # already there, or the namespace is going away: nothing to do either way
            if exc.code not in (403, 404, 409):
                log.warning("Could not create", extra={"namespace": namespace, "resource": plural, "error": str(exc)})
