"""The admission plugins read in-memory indexes over a real SQLite store: what they promise and what they save.

A write in a namespace without quotas or LimitRanges reads no storage for admission; a quota or LimitRange
created just before a pod applies to it; concurrent creates charge a quota one at a time; the root CA
ConfigMap once seen is not read again for every pod.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gardener.apiserver.builtin.admission.caches import AdmissionCaches
from gardener.apiserver.builtin.admission.plugins import default_chain
from gardener.apiserver.controllers.resourcequota import ResourceQuotaController
from gardener.apiserver.controllers.serviceaccounts import ROOT_CA, ServiceAccountsController
from gardener.apiserver.errors import StatusError
from gardener.apiserver.resources import Registry, ResourceInfo
from gardener.apiserver.rest import Context, ObjectStore
from gardener.apiserver.storage.interface import ListResult, RevisionMismatch, Stored
from gardener.apiserver.storage.sqlite import SQLiteBackend

NS = "team"


class CountingSQLite(SQLiteBackend):
    """Counts the reads that reach storage, and the writes refused for a changed revision."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, synchronous="NORMAL")
        self.reads = 0
        self.conflicts = 0

    async def update(self, key: str, obj: dict[str, Any], *, expected_rv: int) -> Stored:
        try:
            return await super().update(key, obj, expected_rv=expected_rv)
        except RevisionMismatch:
            self.conflicts += 1
            raise

    async def list_range(self, prefix: str, *, after_key: str = "", limit: int = 0, at_revision: int = 0) -> ListResult:
        self.reads += 1
        return await super().list_range(prefix, after_key=after_key, limit=limit, at_revision=at_revision)

    async def get(self, key: str) -> Stored | None:
        self.reads += 1
        return await super().get(key)


@dataclass
class Server:
    backend: CountingSQLite
    store: ObjectStore
    registry: Registry
    caches: AdmissionCaches
    accounts: ServiceAccountsController

    def info(self, group: str, plural: str) -> ResourceInfo:
        info = self.registry.get(group, "v1", plural)
        assert info is not None
        return info

    async def create(self, plural: str, obj: dict[str, Any], *, group: str = "") -> dict[str, Any]:
        info = self.info(group, plural)
        namespace = NS if info.namespaced else ""
        return await self.store.create(info, namespace, obj, ctx=Context())

    async def get(self, plural: str, name: str) -> dict[str, Any]:
        return await self.store.get(self.info("", plural), NS, name)


async def _until(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Poll (yielding to the server's tasks) until `check` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition did not hold in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """The store with kube's admission chain wired as the API server wires it, over uncached SQLite."""
    backend = CountingSQLite(tmp_path / "state.db")
    await backend.start()
    registry = Registry()
    store = ObjectStore(backend=backend, registry=registry)
    store.namespaces[NS] = False  # the namespace controller's knowledge: the namespace exists and is open
    caches = AdmissionCaches(backend=backend, registry=registry)
    quotas = ResourceQuotaController(store=store, registry=registry, resync=3600)
    accounts = ServiceAccountsController(store=store, registry=registry, ca_pem=b"the CA")
    chain = default_chain(store=store, recount=quotas.recount, publish_root_ca=accounts.publish_root_ca, caches=caches)
    store.mutating[0:0] = chain.mutating
    store.validating[0:0] = chain.validating
    store.validating.append(chain.last)
    started: list[AdmissionCaches | ResourceQuotaController | ServiceAccountsController] = [caches, quotas, accounts]
    for part in started:
        await part.start()
    srv = Server(backend=backend, store=store, registry=registry, caches=caches, accounts=accounts)
    await srv.create("namespaces", {"metadata": {"name": NS}})
    await _until(lambda: _has_default_account(caches))  # the controller creates it for the new namespace
    try:
        yield srv
    finally:
        for part in reversed(started):
            await part.stop()
        await backend.close()


def _used(server: Server) -> dict[str, Any]:
    quotas = server.caches.quotas.namespace(NS) or {}
    return dict((quotas.get("q", {}).get("status") or {}).get("used") or {})


def _has_default_account(caches: AdmissionCaches) -> bool:
    accounts = caches.service_accounts.namespace(NS)
    return accounts is not None and "default" in accounts


def _pod(name: str, *, cpu: str | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "nginx"}
    if cpu is not None:
        container["resources"] = {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}
    return {"metadata": {"name": name}, "spec": {"containers": [container]}}


async def test_a_write_without_quota_or_limit_range_reads_no_storage_for_admission(server: Server) -> None:
    before = server.backend.reads
    await server.create("configmaps", {"metadata": {"name": "cm"}, "data": {"a": "b"}})
    assert server.backend.reads == before
    await server.create("pods", _pod("first"))  # the first pod's token volume has the root CA ConfigMap published
    assert await server.get("configmaps", ROOT_CA)
    # once the informer saw that ConfigMap in place, a pod reads nothing either
    await _until(lambda: NS in server.accounts._published)
    before = server.backend.reads
    pod = await server.create("pods", _pod("second"))
    assert server.backend.reads == before
    assert pod["spec"]["serviceAccountName"] == "default"
    assert pod["spec"]["priority"] == 0
    assert any(v["name"].startswith("kube-api-access-") for v in pod["spec"]["volumes"])


async def test_a_quota_and_a_limit_range_created_just_before_a_pod_apply_to_it(server: Server) -> None:
    await server.create("resourcequotas", {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}})
    await server.create(
        "limitranges",
        {
            "metadata": {"name": "lr"},
            "spec": {"limits": [{"type": "Container", "defaultRequest": {"memory": "64Mi"}}]},
        },
    )
    pod = await server.create("pods", _pod("one"))
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"memory": "64Mi"}
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: memory request for container app"
    )
    quota = await server.get("resourcequotas", "q")
    assert quota["status"]["used"]["pods"] == "1"
    with pytest.raises(StatusError) as refused:
        await server.create("pods", _pod("two"))
    assert refused.value.message == (
        'pods "two" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1'
    )


async def test_concurrent_creates_charge_a_quota_one_at_a_time(server: Server) -> None:
    await server.create("resourcequotas", {"metadata": {"name": "q"}, "spec": {"hard": {"configmaps": "48"}}})
    # the quota controller's first count, so no recount races the burst (kube's has that race too)
    await _until(lambda: bool(_used(server)))
    results = await asyncio.gather(
        *(server.create("configmaps", {"metadata": {"name": f"cm-{i}"}}) for i in range(50)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, StatusError)]
    assert len(refused) == 2, [r.message for r in refused]
    # each charge read the quota as the previous one left it: kube's evaluator works a namespace in one worker
    assert server.backend.conflicts == 0
    assert all("exceeded quota: q" in r.message for r in refused)
    quota = await server.get("resourcequotas", "q")
    assert quota["status"]["used"]["configmaps"] == "48"


async def test_a_default_priority_class_and_storage_class_are_read_from_memory(server: Server) -> None:
    await server.create(
        "priorityclasses",
        {"metadata": {"name": "normal"}, "value": 1000, "globalDefault": True},
        group="scheduling.k8s.io",
    )
    await server.create(
        "storageclasses",
        {
            "metadata": {"name": "fast", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "example.dev/disk",
        },
        group="storage.k8s.io",
    )
    pod = await server.create("pods", _pod("p"))
    assert (pod["spec"]["priorityClassName"], pod["spec"]["priority"]) == ("normal", 1000)
    claim = await server.create(
        "persistentvolumeclaims",
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    assert claim["spec"]["storageClassName"] == "fast"
    with pytest.raises(StatusError) as refused:
        await server.create(
            "priorityclasses",
            {"metadata": {"name": "other"}, "value": 1, "globalDefault": True},
            group="scheduling.k8s.io",
        )
    assert "PriorityClass normal is already marked as default" in refused.value.message
