"""The etcd backend against a real etcd: CRUD, conflicts, revisions, pagination, watch order, compaction."""

from __future__ import annotations

import asyncio
import base64
import urllib.error
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gardener.apiserver.storage import etcd as etcd_module
from gardener.apiserver.storage.etcd import EtcdBackend
from gardener.apiserver.storage.events import ADDED, DELETED, MODIFIED, Event, Subscription, TooOld
from gardener.apiserver.storage.interface import KeyExists, KeyNotFound, RevisionMismatch, Unavailable
from tests.etcd import EtcdProcess, require_etcd

CM = "/registry/core/configmaps/ns/"


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    require_etcd()
    proc = EtcdProcess(data_dir=tmp_path_factory.mktemp("etcd")).start()
    yield proc
    proc.stop()


def _prefix() -> str:
    return f"/test-{uuid.uuid4().hex[:8]}"


async def _backend(etcd: EtcdProcess, prefix: str, **kwargs: Any) -> EtcdBackend:
    backend = EtcdBackend(servers=[etcd.url], prefix=prefix, compaction_interval=0, **kwargs)
    await backend.start()
    return backend


def _obj(name: str, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, **extra}


def _rv(value: bytes) -> str:
    return str(orjson.loads(value)["metadata"]["resourceVersion"])


async def _drain(sub: Subscription, count: int, *, timeout: float = 5.0) -> list[Event]:
    out: list[Event] = []
    async with asyncio.timeout(timeout):
        while len(out) < count:
            ev = await sub.queue.get()
            assert ev is not None, "subscription closed"
            out.append(ev)
    return out


async def test_create_update_delete_and_revisions(etcd: EtcdProcess) -> None:
    b = await _backend(etcd, _prefix())
    try:
        key = CM + "a"
        created = await b.create(key, _obj("a"))
        assert _rv(created.value) == str(created.rv)
        got = await b.get(key)
        assert got is not None and got.rv == created.rv and got.value == created.value
        with pytest.raises(KeyExists):
            await b.create(key, _obj("a"))
        updated = await b.update(key, _obj("a", x=1), expected_rv=created.rv)
        assert updated.rv > created.rv and _rv(updated.value) == str(updated.rv)
        with pytest.raises(RevisionMismatch) as exc:
            await b.update(key, _obj("a"), expected_rv=created.rv)
        assert exc.value.current is not None and exc.value.current.rv == updated.rv
        assert orjson.loads(exc.value.current.value)["x"] == 1
        unconditional = await b.update(key, _obj("a", x=2), expected_rv=0)
        assert unconditional.rv > updated.rv
        with pytest.raises(RevisionMismatch):
            await b.delete(key, expected_rv=updated.rv, last=_obj("a"))
        deleted = await b.delete(key, expected_rv=unconditional.rv, last=_obj("a", gone=True))
        assert deleted.rv > unconditional.rv
        assert orjson.loads(deleted.value) == {
            "metadata": {"name": "a", "resourceVersion": str(deleted.rv)},
            "gone": True,
        }
        assert await b.get(key) is None
        with pytest.raises(KeyNotFound):
            await b.delete(key, expected_rv=0, last={})
        with pytest.raises(KeyNotFound):
            await b.update(key, _obj("a"), expected_rv=0)
        with pytest.raises(KeyNotFound):
            await b.update(key, _obj("a"), expected_rv=deleted.rv)
    finally:
        await b.close()


async def test_stored_bytes_have_no_resource_version_and_go_through_the_transformer(etcd: EtcdProcess) -> None:
    class Reverse:
        def to_storage(self, key: str, value: bytes) -> bytes:
            return b"enc:" + value[::-1]

        def from_storage(self, key: str, value: bytes) -> bytes:
            assert value.startswith(b"enc:")
            return value[4:][::-1]

    prefix = _prefix()
    b = await _backend(etcd, prefix, transformer=Reverse())
    try:
        created = await b.create(CM + "secret", _obj("secret", data={"k": "v"}))
        raw = etcd.post("/v3/kv/range", {"key": base64.b64encode((prefix + CM + "secret").encode()).decode()})
        stored = base64.b64decode(raw["kvs"][0]["value"])  # type: ignore[index]
        assert stored.startswith(b"enc:") and b"resourceVersion" not in stored
        got = await b.get(CM + "secret")
        assert got is not None and got.value == created.value
        assert orjson.loads(got.value)["data"] == {"k": "v"}
    finally:
        await b.close()


async def test_pagination_and_full_lists_read_at_one_revision(
    etcd: EtcdProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = await _backend(etcd, _prefix())
    try:
        results = await asyncio.gather(*(b.create(f"{CM}c{i:03d}", _obj(f"c{i:03d}")) for i in range(40)))
        assert len({r.rv for r in results}) == 40
        await b.create("/registry/core/configmaps/other/x", _obj("x"))  # outside the listed prefix
        page = await b.list_range(CM, limit=15)
        assert [s.key for s in page.items] == [f"{CM}c{i:03d}" for i in range(15)]
        assert page.next_key == page.items[-1].key and page.revision >= max(r.rv for r in results)
        rest = await b.list_range(CM, after_key=page.next_key, limit=100)
        assert len(rest.items) == 25 and rest.next_key == ""
        exact = await b.list_range(CM, after_key=rest.items[9].key, limit=15)
        assert len(exact.items) == 15 and exact.next_key == ""

        # Without a limit the backend pages internally; concurrent writes must not leak into the snapshot.
        monkeypatch.setattr(etcd_module, "_LIST_PAGE", 7)
        listing, *_ = await asyncio.gather(
            b.list_range(CM), *(b.update(r.key, _obj(r.key, n=1), expected_rv=r.rv) for r in results[:20])
        )
        assert len(listing.items) == 40
        assert all(s.rv <= listing.revision for s in listing.items)
        assert sorted(s.key for s in listing.items) == [s.key for s in listing.items]
        at_snapshot = {s.key: s.rv for s in listing.items}
        for r in results:  # each item is either the original or the update, never newer than the list
            assert at_snapshot[r.key] >= r.rv
    finally:
        await b.close()


async def test_watch_sees_own_writes_in_order_before_the_write_returns(etcd: EtcdProcess) -> None:
    b = await _backend(etcd, _prefix())
    try:
        sub = b.events.subscribe(CM, after_rv=b.current_revision())
        created = await b.create(CM + "w", _obj("w"))
        assert b.events.published_rv >= created.rv  # read-your-writes: the event is already in the window
        updated = await b.update(CM + "w", _obj("w", v=2), expected_rv=created.rv)
        deleted = await b.delete(CM + "w", expected_rv=updated.rv, last=_obj("w", v=2))
        again = await b.create(CM + "w", _obj("w", v=3))
        events = await _drain(sub, 4)
        assert [(e.type, e.rv) for e in events] == [
            (ADDED, created.rv),
            (MODIFIED, updated.rv),
            (DELETED, deleted.rv),
            (ADDED, again.rv),
        ]
        assert events[0].value == created.value and events[0].prev is None
        assert events[1].value == updated.value and events[1].prev == created.value
        # DELETED carries the last stored state stamped with the deletion revision; prev as it was.
        assert orjson.loads(events[2].value) == {"metadata": {"name": "w", "resourceVersion": str(deleted.rv)}, "v": 2}
        assert events[2].prev == updated.value
        assert b.current_revision() >= again.rv
        sub.close()
    finally:
        await b.close()


async def test_two_replicas_publish_the_same_order(etcd: EtcdProcess) -> None:
    prefix = _prefix()
    one, two = await _backend(etcd, prefix), await _backend(etcd, prefix)
    try:
        start = max(one.current_revision(), two.current_revision())
        subs = [one.events.subscribe(CM, after_rv=start), two.events.subscribe(CM, after_rv=start)]

        async def writer(b: EtcdBackend, tag: str) -> list[int]:
            rvs = []
            for i in range(15):
                s = await b.create(f"{CM}{tag}{i}", _obj(f"{tag}{i}"))
                s = await b.update(s.key, _obj(s.key, n=1), expected_rv=s.rv)
                rvs.append(s.rv)
            return rvs

        acked = await asyncio.gather(writer(one, "a"), writer(two, "b"), writer(one, "c"), writer(two, "d"))
        seen = [await _drain(sub, 120) for sub in subs]
        orders = [[(e.type, e.key, e.rv) for e in evs] for evs in seen]
        assert orders[0] == orders[1]
        rvs = [rv for _, _, rv in orders[0]]
        assert rvs == sorted(set(rvs))  # strictly increasing, no duplicates
        assert {rv for rvs_ in acked for rv in rvs_} <= set(rvs)
        for sub in subs:
            sub.close()
    finally:
        await one.close()
        await two.close()


async def test_prefixes_are_isolated_and_progress_notifications_advance_the_window(etcd: EtcdProcess) -> None:
    a, b = await _backend(etcd, _prefix()), await _backend(etcd, _prefix())
    try:
        sub = a.events.subscribe("", after_rv=a.current_revision())
        written = await b.create(CM + "only-b", _obj("only-b"))
        assert await a.get(CM + "only-b") is None
        assert (await a.list_range(CM)).items == []
        # etcd sends a progress notification every second in tests: the window moves without an event.
        async with asyncio.timeout(10):
            while a.current_revision() < written.rv:
                await asyncio.sleep(0.05)
        assert sub.queue.empty()
        sub.close()
    finally:
        await a.close()
        await b.close()


async def test_compaction_while_disconnected_resets_the_window(etcd: EtcdProcess) -> None:
    prefix = _prefix()
    b, writer = await _backend(etcd, prefix), await _backend(etcd, prefix)
    try:
        before = await b.create(CM + "before", _obj("before"))
        sub = b.events.subscribe(CM, after_rv=before.rv)
        # Cut the watch (as a lost connection would), then let history be written and compacted away.
        assert b._watch_task is not None
        b._watch_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await b._watch_task
        missed = [await writer.create(f"{CM}m{i}", _obj(f"m{i}")) for i in range(3)]
        version, _ = await writer.compact_once(0, 0)
        await writer.compact_once(version, missed[-1].rv)
        with pytest.raises(urllib.error.HTTPError):  # 400: required revision has been compacted
            etcd.post("/v3/kv/range", {"key": "eA==", "revision": str(before.rv)})
        b._watch_task = asyncio.create_task(b._watch_loop())
        async with asyncio.timeout(10):
            while b.window_resets == 0:
                await asyncio.sleep(0.02)
        assert await sub.queue.get() is None  # open watches end, so their clients come back ...
        with pytest.raises(TooOld):
            b.events.subscribe(CM, after_rv=before.rv)  # ... and get 410, then relist
        assert b.current_revision() >= missed[-1].rv
        listing = await b.list_range(CM)
        assert {s.key for s in listing.items} == {CM + "before", *(s.key for s in missed)}
        fresh = b.events.subscribe(CM, after_rv=listing.revision)
        after = await writer.create(CM + "after", _obj("after"))
        (ev,) = await _drain(fresh, 1)
        assert (ev.type, ev.rv) == (ADDED, after.rv)
        fresh.close()
    finally:
        await b.close()
        await writer.close()


async def test_etcd_down_is_unavailable_and_the_watch_resumes_without_gaps(tmp_path: Path) -> None:
    etcd = EtcdProcess(data_dir=tmp_path / "etcd").start()
    b = await _backend(etcd, "", request_timeout=2.0, publish_timeout=2.0)
    try:
        first = await b.create(CM + "one", _obj("one"))
        sub = b.events.subscribe(CM, after_rv=first.rv)
        etcd.stop()
        with pytest.raises(Unavailable) as exc:
            await b.get(CM + "one")
        assert exc.value.retryable
        with pytest.raises(Unavailable):
            await b.create(CM + "two", _obj("two"))
        etcd.start(keep_ports=True)
        # A second process writes while this backend's watch is still reconnecting.
        other = await _backend(etcd, "")
        try:
            second = await other.create(CM + "two", _obj("two"))
        finally:
            await other.close()
        third = await b.create(CM + "three", _obj("three"))
        events = await _drain(sub, 2, timeout=15)
        assert [(e.type, e.rv) for e in events] == [(ADDED, second.rv), (ADDED, third.rv)]
        assert b.watch_restarts >= 1
        sub.close()
    finally:
        await b.close()
        etcd.stop()


async def test_start_fails_clearly_without_etcd(tmp_path: Path) -> None:
    b = EtcdBackend(servers=["http://127.0.0.1:9"], start_timeout=0.5, compaction_interval=0)
    with pytest.raises(Unavailable, match="not reachable"):
        await b.start()
    await b.close()


async def test_second_server_is_used_when_the_first_refuses(etcd: EtcdProcess) -> None:
    b = EtcdBackend(servers=["http://127.0.0.1:9", etcd.url], prefix=_prefix(), compaction_interval=0)
    await b.start()
    try:
        s = await b.create(CM + "x", _obj("x"))
        got = await b.get(CM + "x")
        assert got is not None and got.rv == s.rv
    finally:
        await b.close()


async def test_paging_at_an_old_revision_sees_the_old_state_until_compacted(etcd: EtcdProcess) -> None:
    b = await _backend(etcd, _prefix())
    try:
        for i in range(4):
            await b.create(f"{CM}c{i}", _obj(f"c{i}", v=1))
        first = await b.list_range(CM, limit=2)
        snapshot = first.revision
        c2 = await b.get(CM + "c2")
        assert c2 is not None
        await b.update(CM + "c2", _obj("c2", v=2), expected_rv=c2.rv)
        await b.delete(CM + "c3", expected_rv=0, last=_obj("c3"))
        await b.create(CM + "c9", _obj("c9"))
        rest = await b.list_range(CM, after_key=first.next_key, at_revision=snapshot)
        assert [s.key.rsplit("/", 1)[1] for s in rest.items] == ["c2", "c3"]
        assert all(orjson.loads(s.value)["v"] == 1 for s in rest.items)
        assert rest.revision == snapshot and rest.next_key == ""
        one = await b.list_range(CM, after_key=first.next_key, limit=1, at_revision=snapshot)
        assert [s.key for s in one.items] == [CM + "c2"] and one.next_key == CM + "c2"
        version, _ = await b.compact_once(0, 0)
        await b.compact_once(version, b.current_revision())
        with pytest.raises(TooOld):
            await b.list_range(CM, after_key=first.next_key, at_revision=snapshot)
    finally:
        await b.close()


async def test_watch_catches_up_after_a_gap_with_large_messages(etcd: EtcdProcess) -> None:
    prefix = _prefix()
    b, writer = await _backend(etcd, prefix), await _backend(etcd, prefix)
    try:
        sub = b.events.subscribe(CM, after_rv=b.current_revision())
        assert b._watch_task is not None
        b._watch_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await b._watch_task
        written = await asyncio.gather(
            *(writer.create(f"{CM}big{i:03d}", _obj(f"big{i}", blob="x" * 4096)) for i in range(150))
        )
        b._watch_task = asyncio.create_task(b._watch_loop())  # resumes from the last published revision
        events = await _drain(sub, 150, timeout=15)
        assert [e.rv for e in events] == sorted(s.rv for s in written)
        assert {e.value for e in events} == {s.value for s in written}
        sub.close()
    finally:
        await b.close()
        await writer.close()
