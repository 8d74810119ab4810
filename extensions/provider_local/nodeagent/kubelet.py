"""The kubelet part: keep one PodWorker per pod bound to this node, and nothing else running.

Pods arrive bound by kube-scheduler. A pod deleted gracefully (the API server sets its deletionTimestamp) is
stopped within its grace period, then the kubelet deletes the object for good with grace 0, as upstream's
status manager does; a pod replaced by a new one of the same name is stopped first too (pods of older agents
may still carry the finalizer those used for the same purpose: it is dropped). On start, leftovers of pods that
vanished while the kubelet was away are stopped; live ones are adopted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path

from extensions.provider_local.nodeagent.objects import FINALIZER, RETRY, is_terminating
from extensions.provider_local.nodeagent.podworker import PodWorker, grace_of
from extensions.provider_local.nodeagent.process import stop_recorded
from extensions.provider_local.nodeagent.runtime import Node
from gardener.runtime.controller import AsyncController, Result
from gardener.runtime.errors import ApiError
from gardener.runtime.informer import Key
from gardener.runtime.kube import PODS, Obj, key_of

log = logging.getLogger("provider_local.nodeagent.kubelet")

RESYNC_SECONDS = 10.0


class Kubelet:
    def __init__(self, node: Node, *, resync: float = RESYNC_SECONDS) -> None:
        self.node = node
        self.workers: dict[Key, PodWorker] = {}
        self.queue: AsyncController[Key] = AsyncController("pods", self.reconcile, workers=8, backoff=RETRY)
        self._resync = resync
        self._waiters: set[asyncio.Task[None]] = set()

    def on_pod(self, _: str, pod: Obj) -> None:
        self.queue.add(key_of(pod))

    def on_config(self, _: str, obj: Obj) -> None:
        """A Secret or ConfigMap changed: let the namespace's pods refresh their volumes."""
        namespace = key_of(obj)[0]
        for key in list(self.workers):
            if key[0] == namespace:
                self.queue.add(key)

    def running_containers(self) -> int:
        return sum(1 for w in self.workers.values() for r in w.runners if r.proc is not None and r.proc.running())

    async def start(self) -> None:
        """After the caches are synced: forget what is gone, then work the queue."""
        await self._clean_leftovers()
        for pod in self.node.pods.items():
            ip = (pod.get("status") or {}).get("podIP")
            if (pod.get("spec") or {}).get("nodeName") == self.node.name and ip:
                self.node.pod_ips.reserve("/".join(key_of(pod)), str(ip))
        for key in self.node.pod_ips.allocated_keys():
            namespace, _, name = key.partition("/")
            if self.node.pods.get(namespace, name) is None:
                self.node.pod_ips.release(key)
        self.queue.start()
        for pod in self.node.pods.items():
            self.queue.add(key_of(pod))

    async def _clean_leftovers(self) -> None:
        if not self.node.pods_dir.exists():
            return
        stops = []
        for directory in self.node.pods_dir.iterdir():
            try:
                meta = json.loads((directory / "pod.json").read_text())
            except (OSError, ValueError):
                shutil.rmtree(directory, ignore_errors=True)
                continue
            pod = self.node.pods.get(meta["namespace"], meta["name"])
            if pod is not None and pod["metadata"].get("uid") == meta["uid"]:
                continue
            log.info("Stopping leftovers of a deleted pod", extra={"pod": f"{meta['namespace']}/{meta['name']}"})
            stops.append(self._stop_dir(directory, float(meta.get("grace", 0)), remove=True))
        await asyncio.gather(*stops)

    @staticmethod
    async def _stop_dir(directory: Path, grace: float, *, remove: bool) -> None:
        await asyncio.gather(*(stop_recorded(pid, grace) for pid in directory.glob("containers/*/pid")))
        if remove:
            shutil.rmtree(directory, ignore_errors=True)

    async def reconcile(self, key: Key) -> Result:
        return Result(await self._reconcile(key))

    async def _reconcile(self, key: Key) -> float | None:
        pod = self.node.pods.get(*key)
        worker = self.workers.get(key)
        if worker is not None:
            replaced = pod is None or pod["metadata"].get("uid") != worker.uid
            if not replaced and pod is not None and not is_terminating(pod):
                await self._refresh_tokens(pod)
                worker.update(pod)
                return self._resync
            if not replaced and pod is not None:
                worker.pod = pod  # the deletion's grace period counts
            worker.begin_termination(remove_dir=True)
            if not worker.finished.is_set():
                waiter = asyncio.get_running_loop().create_task(self._requeue_when_finished(worker))
                self._waiters.add(waiter)
                waiter.add_done_callback(self._waiters.discard)
                return None
            del self.workers[key]
            self.node.metrics.pods.set(len(self.workers))
            if pod is not None and not replaced:
                await self._finish_deletion(pod)
                return None
        if pod is None:
            self.node.pod_ips.release("/".join(key))
            if worker is not None and self.node.tokens is not None:
                self.node.tokens.forget(worker.uid)
            return None
        spec = pod.get("spec") or {}
        if spec.get("nodeName") != self.node.name:
            return None
        if is_terminating(pod):
            leftovers = self.node.pods_dir / f"{key[0]}_{key[1]}_{pod['metadata'].get('uid')}"
            if leftovers.exists():
                await self._stop_dir(leftovers, grace_of(pod, self.node.max_grace), remove=True)
            await self._finish_deletion(pod)
            return None
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") and spec.get("restartPolicy", "Always") != "Always":
            return None
        await self._refresh_tokens(pod)
        worker = PodWorker(self.node, pod)
        self.workers[key] = worker
        self.node.metrics.pods.set(len(self.workers))
        worker.start()
        return self._resync

    async def _refresh_tokens(self, pod: Obj) -> None:
        """The pod's projected service-account tokens, fetched or renewed before its volumes are written."""
        if self.node.tokens is not None:
            await self.node.tokens.ensure(pod)

    async def _requeue_when_finished(self, worker: PodWorker) -> None:
        await worker.finished.wait()
        self.queue.add(worker.key)

    async def _finish_deletion(self, pod: Obj) -> None:
        """The containers are stopped: let the Pod object go (our finalizer off, then upstream's final delete)."""
        await self._drop_finalizer(pod)
        m = pod["metadata"]
        options = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": m["uid"]},
        }
        try:
            await self.node.client.request("DELETE", PODS.path(m["namespace"], m["name"]), body=options)
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise

    async def _drop_finalizer(self, pod: Obj) -> None:
        m = pod["metadata"]
        finalizers = list(m.get("finalizers") or [])
        if FINALIZER not in finalizers:
            return
        body = {
            "metadata": {
                "finalizers": [f for f in finalizers if f != FINALIZER] or None,
                "resourceVersion": m["resourceVersion"],
            }
        }
        try:
            await self.node.client.patch(PODS.path(m["namespace"], m["name"]), body)
        except ApiError as exc:
            if exc.status != 404:
                raise

    async def stop(self, *, cleanup: bool) -> None:
        """Stop working; with `cleanup`, stop every container too, else leave them for the next agent."""
        await self.queue.stop()
        for waiter in list(self._waiters):
            waiter.cancel()
        workers = list(self.workers.values())
        if cleanup:
            for worker in workers:
                worker.begin_termination(remove_dir=False)
            await asyncio.gather(*(w.finished.wait() for w in workers))
        else:
            await asyncio.gather(*(w.detach() for w in workers))
        self.workers.clear()
