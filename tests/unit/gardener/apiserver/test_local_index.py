"""`LocalIndex` over a real SQLite store, and the event window's per-subscriber filter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gardener.apiserver.controllers.informer import LocalIndex
from gardener.apiserver.storage.events import ADDED, DELETED, MODIFIED, Event, EventWindow
from gardener.apiserver.storage.sqlite import SQLiteBackend

PREFIX = "/registry/core/limitranges/"


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[SQLiteBackend]:
    store = SQLiteBackend(tmp_path / "state.db", synchronous="NORMAL")
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def _until(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition did not hold in time"
        await asyncio.sleep(0.01)


def _range(name: str, namespace: str, cpu: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": cpu}}]},
    }


def _max_cpu(obj: dict[str, Any]) -> str:
    return str(obj["spec"]["limits"][0]["max"]["cpu"])


def _event(backend: SQLiteBackend, kind: str, key: str, obj: dict[str, Any], *, later: int = 1) -> Event:
    """A change as the store publishes it, `later` revisions after the last published."""
    rv = backend.events.published_rv + later
    obj["metadata"]["resourceVersion"] = str(rv)
    return Event(kind, key, rv, orjson.dumps(obj), None)


async def test_reads_see_what_the_window_published_before_they_began(backend: SQLiteBackend) -> None:
    await backend.create(f"{PREFIX}a/one", _range("one", "a", "1"))
    index: LocalIndex[str] = LocalIndex(backend=backend, prefix=PREFIX, name="test", project=_max_cpu)
    assert index.namespace("a") is None  # not in sync before it started: callers read storage
    await index.start()
    try:
        assert index.namespace("a") == {"one": "1"}
        assert index.namespace("b") == {}
        # published and read without yielding in between: the follower task has had no chance to run
        backend.events.publish(
            [
                _event(backend, ADDED, f"{PREFIX}b/two", _range("two", "b", "2")),
                _event(backend, MODIFIED, f"{PREFIX}a/one", _range("one", "a", "3"), later=2),
            ]
        )
        assert index.namespace("b") == {"two": "2"}
        assert index.namespace("a") == {"one": "3"}
        backend.events.publish([_event(backend, DELETED, f"{PREFIX}a/one", _range("one", "a", "3"))])
        assert index.namespace("a") == {}
        assert "a" not in index._objects  # an emptied namespace is forgotten
    finally:
        await index.stop()


async def test_after_the_window_ends_its_subscription_it_lists_again(backend: SQLiteBackend) -> None:
    index: LocalIndex[str] = LocalIndex(backend=backend, prefix=PREFIX, name="test", project=_max_cpu)
    await index.start()
    try:
        backend.events.close_all()  # what an etcd backend does when it loses its watch
        assert index.namespace("a") is None
        await backend.create(f"{PREFIX}a/late", _range("late", "a", "4"))
        await _until(lambda: index.namespace("a") == {"late": "4"})
    finally:
        await index.stop()


async def test_an_object_its_projection_cannot_read_is_left_out(backend: SQLiteBackend) -> None:
    await backend.create(f"{PREFIX}a/good", _range("good", "a", "1"))
    await backend.create(f"{PREFIX}a/bad", {"metadata": {"name": "bad", "namespace": "a"}, "spec": {}})
    index: LocalIndex[str] = LocalIndex(backend=backend, prefix=PREFIX, name="test", project=_max_cpu)
    await index.start()
    try:
        assert index.namespace("a") == {"good": "1"}
        # a good object turning bad goes away instead of staying as it was
        backend.events.publish([_event(backend, MODIFIED, f"{PREFIX}a/good", {"metadata": {"name": "good"}})])
        assert index.namespace("a") == {}
    finally:
        await index.stop()


def test_a_subscriber_gets_only_what_it_accepts_and_still_advances() -> None:
    window = EventWindow(start_rv=0)
    window.publish([Event(ADDED, "/registry/core/configmaps/a/x", 1, b"{}", None)])
    deletions = window.subscribe("/registry/core/configmaps/", after_rv=0, accept=lambda ev: ev.type == DELETED)
    everything = window.subscribe("/registry/core/configmaps/", after_rv=0)
    assert deletions.queue.empty() and everything.queue.qsize() == 1  # the history is filtered too
    window.publish(
        [
            Event(MODIFIED, "/registry/core/configmaps/a/x", 2, b"{}", b"{}"),
            Event(DELETED, "/registry/core/configmaps/a/x", 3, b"{}", b"{}"),
        ]
    )
    got = deletions.queue.get_nowait()
    assert got is not None and (got.type, got.rv) == (DELETED, 3)
    assert deletions.queue.empty()
    assert deletions.last_rv == everything.last_rv == 3
    assert everything.queue.qsize() == 3
