"""List+watch of one resource, handing every change to a callback; relists after an expired watch.

Controllers here keep no cache of their own: the callback only enqueues keys, and reconcilers read fresh
objects from the API, so a stale cache can never make them create a Machine twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

from extensions.library.kube import Kube, Resource

log = logging.getLogger("extensions.library.informer")

Obj = dict[str, Any]
Handler = Callable[[str, Obj], None]


class Informer:
    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        handler: Handler,
        *,
        namespace: str | None = None,
        watch_timeout: int = 120,
        retry: float = 1.0,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.handler = handler
        self.namespace = namespace
        self.synced = threading.Event()
        self.healthy = True
        self._known: dict[tuple[str, str], Obj] = {}
        self._watch_timeout = watch_timeout
        self._retry = retry

    def _key(self, obj: Obj) -> tuple[str, str]:
        m = obj.get("metadata") or {}
        return (str(m.get("namespace") or ""), str(m.get("name") or ""))

    def _relist(self) -> str:
        path = self.resource.path(self.namespace)
        result = self.kube.raw("GET", path) or {}
        items = {self._key(o): o for o in result.get("items") or []}
        for key, old in list(self._known.items()):
            if key not in items:
                self._known.pop(key)
                self.handler("DELETED", old)
        for key, obj in items.items():
            obj.setdefault("apiVersion", self.resource.api_version)
            obj.setdefault("kind", self.resource.kind)
            event = "MODIFIED" if key in self._known else "ADDED"
            self._known[key] = obj
            self.handler(event, obj)
        self.synced.set()
        return str((result.get("metadata") or {}).get("resourceVersion") or "")

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: list, then watch; start over after errors."""
        rv = ""
        failures = 0
        while not stop.is_set():
            try:
                if not rv:
                    rv = self._relist()
                rv = self._watch(rv, stop)
                self.healthy = True
                failures = 0
            except ApiException as exc:
                if exc.status == 410:
                    rv = ""
                    continue
                self.healthy = False
                failures += 1
                log.warning("Watch failed", extra={"resource": self.resource.plural, "status": exc.status})
                rv = ""
                stop.wait(min(self._retry * 2 ** (failures - 1), 30.0))
            except Exception as exc:
                self.healthy = False
                failures += 1
                log.warning("Watch failed", extra={"resource": self.resource.plural, "error": repr(exc)[:300]})
                rv = ""
                stop.wait(min(self._retry * 2 ** (failures - 1), 30.0))

    def _watch(self, rv: str, stop: threading.Event) -> str:
        path = self.resource.path(self.namespace)
        for event in self.kube.watch(path, resource_version=rv, timeout=self._watch_timeout):
            if stop.is_set():
                break
            etype = str(event.get("type"))
            obj = event.get("object") or {}
            if etype == "ERROR":
                code = int(obj.get("code") or 500)
                raise ApiException(status=code, reason=str(obj.get("reason") or "watch error"))
            rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
            if etype == "BOOKMARK":
                continue
            key = self._key(obj)
            if etype == "DELETED":
                self._known.pop(key, None)
            else:
                self._known[key] = obj
            self.handler(etype, obj)
        return rv
