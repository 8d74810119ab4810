"""List, then watch, one resource through the official `kubernetes` client's transport, in a thread of its own.

kopf would do this too, but it records its progress in an annotation on every object it handles: one more write per
Shoot on the binding path. A plain list+watch costs one stream per resource and leaves the objects alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger("gardener.scheduler.informer")

Object = dict[str, Any]


class Gone(Exception):
    """The resourceVersion to watch from is no longer available: list again."""


class Informer:
    """Feeds `on_replace` with the full list after every (re)list and `on_event` with every later change.

    Both run in the informer's thread, in the order the API server sent them.
    """

    def __init__(
        self,
        api: ApiClient,
        path: str,
        *,
        name: str,
        on_replace: Callable[[list[Object]], None],
        on_event: Callable[[str, Object], None],
        label_selector: str = "",
        page_size: int = 500,
        watch_seconds: int = 300,
        retry_seconds: float = 1.0,
    ) -> None:
        self.api = api
        self.path = path
        self.name = name
        self.on_replace = on_replace
        self.on_event = on_event
        self.label_selector = label_selector
        self.page_size = page_size
        self.watch_seconds = watch_seconds
        self.retry_seconds = retry_seconds
        self.synced = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self.run, args=(stop,), name=f"informer-{self.name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                rv = self._list()
                self.synced.set()
                while not stop.is_set():
                    rv = self._watch(rv, stop)
            except Gone:
                log.info("Watch expired, listing again", extra={"resource": self.name})
            except Exception as exc:  # a broken connection, a restarting server: retry, never die
                log.warning("List or watch failed", extra={"resource": self.name, "error": str(exc)})
                stop.wait(self.retry_seconds)

    def _request(self, query: list[tuple[str, str]], *, timeout: tuple[float, float]) -> Any:
        if self.label_selector:
            query = [*query, ("labelSelector", self.label_selector)]
        method, url, headers, _, _ = self.api.param_serialize(
            method="GET",
            resource_path=self.path,
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(method, url, headers, _request_timeout=timeout)

    def _list(self) -> str:
        items: list[Object] = []
        token = ""
        while True:
            query = [("limit", str(self.page_size))]
            if token:
                query.append(("continue", token))
            response = self._request(query, timeout=(10.0, 60.0))
            payload = response.read()
            if response.status >= 400:
                raise ApiException(status=response.status, reason=response.reason, body=payload[:500])
            page = orjson.loads(payload)
            items.extend(page.get("items") or ())
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                rv = str((page.get("metadata") or {}).get("resourceVersion") or "")
                break
        self.on_replace(items)
        return rv

    def _watch(self, rv: str, stop: threading.Event) -> str:
        query = [
            ("watch", "true"),
            ("resourceVersion", rv),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(self.watch_seconds)),
        ]
        response = self._request(query, timeout=(10.0, self.watch_seconds + 60.0))
        stream = response.response
        try:
            if response.status == 410:
                raise Gone
            if response.status >= 400:
                raise ApiException(status=response.status, reason=response.reason, body=stream.data[:500])
            for event in _events(stream):
                kind = event.get("type")
                obj = event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone
                    raise ApiException(status=obj.get("code"), reason=obj.get("reason"), body=obj.get("message"))
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                if kind != "BOOKMARK":
                    self.on_event(str(kind), obj)
                if stop.is_set():
                    break
        finally:
            # Closed before it goes back to the pool: a half-read stream must not carry the next request.
            stream.close()
            stream.release_conn()
        return rv


def _events(stream: Any) -> Iterator[Object]:
    for line in iter_resp_lines(stream):  # type: ignore[no-untyped-call]
        if line:
            event: Object = orjson.loads(line)
            yield event
