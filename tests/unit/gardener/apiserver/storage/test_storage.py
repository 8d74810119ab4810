"""The SQLite backend and the event window, driven directly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from gardener.apiserver.storage.events import ADDED, DELETED, MODIFIED, EventWindow, TooOld
from gardener.apiserver.storage.interface import KeyExists, KeyNotFound, RevisionMismatch
from gardener.apiserver.storage.sqlite import SQLiteBackend


async def _backend(tmp_path: Path) -> SQLiteBackend:
    backend = SQLiteBackend(tmp_path / "s.db", synchronous="NORMAL")
    await backend.start()
    return backend


async def test_create_update_delete_and_revisions(tmp_path: Path) -> None:
    b = await _backend(tmp_path)
    try:
        created = await b.create("/registry/core/configmaps/ns/a", {"metadata": {"name": "a"}})
        assert orjson.loads(created.value)["metadata"]["resourceVersion"] == str(created.rv)
        with pytest.raises(KeyExists):
            await b.create("/registry/core/configmaps/ns/a", {"metadata": {"name": "a"}})
        updated = await b.update(
            "/registry/core/configmaps/ns/a", {"metadata": {"name": "a"}, "x": 1}, expected_rv=created.rv
        )
        assert updated.rv > created.rv
        with pytest.raises(RevisionMismatch) as exc:
            await b.update("/registry/core/configmaps/ns/a", {"metadata": {"name": "a"}}, expected_rv=created.rv)
        assert exc.value.current is not None and exc.value.current.rv == updated.rv
        deleted = await b.delete(
            "/registry/core/configmaps/ns/a", expected_rv=updated.rv, last={"metadata": {"name": "a"}}
        )
        assert deleted.rv > updated.rv
        assert orjson.loads(deleted.value)["metadata"]["resourceVersion"] == str(deleted.rv)
        with pytest.raises(KeyNotFound):
            await b.delete("/registry/core/configmaps/ns/a", expected_rv=0, last={})
        assert await b.get("/registry/core/configmaps/ns/a") is None
    finally:
        await b.close()


async def test_concurrent_writes_are_batched_and_all_acknowledged(tmp_path: Path) -> None:
    b = await _backend(tmp_path)
    try:
        results = await asyncio.gather(
            *(b.create(f"/registry/core/configmaps/ns/c{i:03d}", {"metadata": {"name": f"c{i}"}}) for i in range(200))
        )
        assert len({r.rv for r in results}) == 200
        assert b.commits < 200  # group commit: fewer transactions than writes
        page = await b.list_range("/registry/core/configmaps/ns/", limit=50)
        assert len(page.items) == 50 and page.next_key == page.items[-1].key
        rest = await b.list_range("/registry/core/configmaps/ns/", after_key=page.next_key)
        assert len(rest.items) == 150 and rest.next_key == ""
        assert {s.key for s in page.items}.isdisjoint({s.key for s in rest.items})
    finally:
        await b.close()


async def test_revision_survives_restart(tmp_path: Path) -> None:
    b = await _backend(tmp_path)
    s = await b.create("/registry/core/configmaps/ns/a", {"metadata": {"name": "a"}})
    await b.close()
    b2 = await _backend(tmp_path)
    try:
        assert b2.current_revision() == s.rv
        s2 = await b2.create("/registry/core/configmaps/ns/b", {"metadata": {"name": "b"}})
        assert s2.rv == s.rv + 1
    finally:
        await b2.close()


async def test_watch_replays_from_revision_and_filters_prefix(tmp_path: Path) -> None:
    b = await _backend(tmp_path)
    try:
        start = b.current_revision()
        a = await b.create("/registry/core/configmaps/ns1/a", {"metadata": {"name": "a"}})
        await b.create("/registry/core/configmaps/ns2/b", {"metadata": {"name": "b"}})
        await b.update("/registry/core/configmaps/ns1/a", {"metadata": {"name": "a"}, "v": 2}, expected_rv=a.rv)
        sub = b.events.subscribe("/registry/core/configmaps/ns1/", after_rv=start)
        first = await asyncio.wait_for(sub.queue.get(), 1)
        second = await asyncio.wait_for(sub.queue.get(), 1)
        assert first is not None and second is not None
        assert (first.type, second.type) == (ADDED, MODIFIED)
        assert second.prev is not None
        await b.delete("/registry/core/configmaps/ns1/a", expected_rv=0, last={"metadata": {"name": "a"}})
        third = await asyncio.wait_for(sub.queue.get(), 1)
        assert third is not None and third.type == DELETED
        sub.close()
    finally:
        await b.close()


def test_event_window_expires_old_revisions() -> None:
    now = [0.0]
    window = EventWindow(start_rv=10, max_age_seconds=60, max_events=3, clock=lambda: now[0])
    from gardener.apiserver.storage.events import Event

    async def run() -> None:
        window.publish([Event(ADDED, f"/k/{i}", 10 + i, b"{}", None) for i in range(1, 6)])
        assert window.oldest_rv == 12  # only the newest three events are kept
        with pytest.raises(TooOld):
            window.subscribe("/k/", after_rv=11)
        sub = window.subscribe("/k/", after_rv=12)
        assert sub.queue.qsize() == 3
        now[0] = 120
        window.publish([Event(ADDED, "/k/x", 16, b"{}", None)])
        assert window.oldest_rv == 15

    asyncio.run(run())


async def test_paging_at_an_old_revision_sees_the_old_state(tmp_path: Path) -> None:
    b = await _backend(tmp_path)
    try:
        for i in range(4):
            await b.create(f"/registry/core/configmaps/ns/c{i}", {"metadata": {"name": f"c{i}"}, "v": 1})
        first = await b.list_range("/registry/core/configmaps/ns/", limit=2)
        snapshot = first.revision
        c2 = await b.get("/registry/core/configmaps/ns/c2")
        assert c2 is not None
        await b.update("/registry/core/configmaps/ns/c2", {"metadata": {"name": "c2"}, "v": 2}, expected_rv=c2.rv)
        await b.delete("/registry/core/configmaps/ns/c3", expected_rv=0, last={"metadata": {"name": "c3"}})
        await b.create("/registry/core/configmaps/ns/c9", {"metadata": {"name": "c9"}})
        rest = await b.list_range("/registry/core/configmaps/ns/", after_key=first.next_key, at_revision=snapshot)
        assert [s.key.rsplit("/", 1)[1] for s in rest.items] == ["c2", "c3"]
        assert all(orjson.loads(s.value)["v"] == 1 for s in rest.items)
        assert rest.revision == snapshot
    finally:
        await b.close()
