"""The watch cache over a real SQLiteBackend (and, where etcd is installed, over two EtcdBackends)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gardener.apiserver.storage.cache import CachedBackend, resource_prefix
from gardener.apiserver.storage.events import TooOld
from gardener.apiserver.storage.interface import ListResult, Stored
from gardener.apiserver.storage.sqlite import SQLiteBackend
from tests.etcd import EtcdProcess, require_etcd

CM = "/registry/core/configmaps/"
SECRETS = "/registry/core/secrets/"


class CountingSQLite(SQLiteBackend):
    """Counts the reads that reach SQLite."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, synchronous="NORMAL")
        self.lists = 0
        self.gets = 0

    async def list_range(self, prefix: str, *, after_key: str = "", limit: int = 0, at_revision: int = 0) -> ListResult:
        self.lists += 1
        return await super().list_range(prefix, after_key=after_key, limit=limit, at_revision=at_revision)

    async def get(self, key: str) -> Stored | None:
        self.gets += 1
        return await super().get(key)

    async def uncached(self, prefix: str, **kwargs: Any) -> ListResult:
        """The reference answer, straight from SQLite (not counted)."""
        return await super().list_range(prefix, **kwargs)


@pytest.fixture
async def cached(tmp_path: Path) -> AsyncIterator[tuple[CachedBackend, CountingSQLite]]:
    inner = CountingSQLite(tmp_path / "s.db")
    backend = CachedBackend(inner)
    await backend.start()
    try:
        yield backend, inner
    finally:
        await backend.close()


def _cm(name: str, **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "data": data}


def _names(result: ListResult) -> list[str]:
    return [s.key.rsplit("/", 1)[1] for s in result.items]


def _same(a: ListResult, b: ListResult) -> None:
    assert a.revision == b.revision
    assert a.next_key == b.next_key
    assert [(s.key, s.rv, orjson.loads(s.value)) for s in a.items] == [
        (s.key, s.rv, orjson.loads(s.value)) for s in b.items
    ]


def test_resource_prefix() -> None:
    assert resource_prefix("/registry/core/configmaps/") == CM
    assert resource_prefix("/registry/core/configmaps/ns/") == CM
    assert resource_prefix("/registry/core/configmaps/ns/name") == CM
    assert resource_prefix("/registry/apps/deployments/") == "/registry/apps/deployments/"
    for spanning in ("/registry/", "/registry/core/", "/registry/core/configmaps", "/other/core/configmaps/", ""):
        assert resource_prefix(spanning) is None, spanning


async def test_first_list_loads_and_later_lists_come_from_memory(cached: tuple[CachedBackend, CountingSQLite]) -> None:
    b, inner = cached
    for ns in ("a", "b"):
        for i in range(5):
            await b.create(f"{CM}{ns}/cm{i}", _cm(f"cm{i}"))
    first = await b.list_range(CM)
    assert len(first.items) == 10 and inner.lists == 1 and b.loads == 1
    for _ in range(3):
        _same(await b.list_range(CM), await inner.uncached(CM))
        _same(await b.list_range(f"{CM}a/"), await inner.uncached(f"{CM}a/"))
        _same(await b.list_range(f"{CM}b/", limit=2), await inner.uncached(f"{CM}b/", limit=2))
    assert inner.lists == 1, "later LISTs of the resource must not reach storage"
    # A namespace's LIST loads the whole resource once, too.
    await b.create(f"{SECRETS}a/s", _cm("s"))
    assert _names(await b.list_range(f"{SECRETS}a/")) == ["s"]
    assert _names(await b.list_range(f"{SECRETS}b/")) == []
    assert inner.lists == 2 and b.loads == 2
    # GETs of cached resources are answered from memory as well.
    gets = inner.gets
    got = await b.get(f"{CM}a/cm3")
    assert got is not None and got.key == f"{CM}a/cm3"
    assert await b.get(f"{CM}a/missing") is None
    assert inner.gets == gets
    await b.get("/registry/core/pods/a/p")
    assert inner.gets == gets + 1
    stats = b.stats()
    assert stats["resources"][CM]["objects"] == 10 and stats["resources"][SECRETS]["objects"] == 1
    assert stats["objects"] == 11
    assert stats["bytes"] == sum(len(s.value) for s in (await inner.uncached("/registry/")).items)


async def test_prefixes_spanning_resources_go_to_storage(cached: tuple[CachedBackend, CountingSQLite]) -> None:
    b, inner = cached
    await b.create(f"{CM}a/x", _cm("x"))
    await b.create(f"{SECRETS}a/y", _cm("y"))
    for prefix in ("/registry/", "/registry/core/"):
        _same(await b.list_range(prefix), await inner.uncached(prefix))
    assert inner.lists == 2 and b.loads == 0 and b.stats()["objects"] == 0


async def test_writes_after_the_load_are_reflected(cached: tuple[CachedBackend, CountingSQLite]) -> None:
    b, inner = cached
    a = await b.create(f"{CM}ns/a", _cm("a", v="1"))
    await b.create(f"{CM}ns/b", _cm("b"))
    assert _names(await b.list_range(CM)) == ["a", "b"]
    await b.create(f"{CM}ns/c", _cm("c"))
    await b.create(f"{CM}ms/z", _cm("z"))
    updated = await b.update(f"{CM}ns/a", _cm("a", v="2"), expected_rv=a.rv)
    listed = await b.list_range(f"{CM}ns/")
    assert _names(listed) == ["a", "b", "c"]
    assert listed.items[0].rv == updated.rv and orjson.loads(listed.items[0].value)["data"] == {"v": "2"}
    assert listed.revision == b.current_revision()
    _same(await b.list_range(CM), await inner.uncached(CM))
    b_stored = await b.get(f"{CM}ns/b")
    assert b_stored is not None
    await b.delete(f"{CM}ns/b", expected_rv=b_stored.rv, last=_cm("b"))
    assert _names(await b.list_range(f"{CM}ns/")) == ["a", "c"]
    assert await b.get(f"{CM}ns/b") is None
    _same(await b.list_range(CM), await inner.uncached(CM))
    assert inner.lists == 1
    assert b.stats()["resources"][CM]["objects"] == 3


async def test_pagination_matches_storage(cached: tuple[CachedBackend, CountingSQLite]) -> None:
    b, inner = cached
    await asyncio.gather(*(b.create(f"{CM}ns{i % 3}/cm{i:03d}", _cm(f"cm{i:03d}")) for i in range(60)))
    for prefix in (CM, f"{CM}ns1/"):
        for limit in (1, 7, 20, 59, 60, 61, 0):
            after = ""
            seen: list[str] = []
            while True:
                page = await b.list_range(prefix, after_key=after, limit=limit)
                _same(page, await inner.uncached(prefix, after_key=after, limit=limit))
                seen += [s.key for s in page.items]
                if not page.next_key:
                    break
                assert len(page.items) == limit
                after = page.next_key
            assert seen == [s.key for s in (await inner.uncached(prefix)).items]
    assert inner.lists == 1


async def test_pages_at_a_revision_see_the_list_as_it_was(cached: tuple[CachedBackend, CountingSQLite]) -> None:
    b, inner = cached
    stored = {}
    for i in range(20):
        stored[i] = await b.create(f"{CM}ns/cm{i:02d}", _cm(f"cm{i:02d}", v="0"))
    first = await b.list_range(f"{CM}ns/", limit=5)
    rev = first.revision
    # Changes after the first page: new keys before and after the cursor, updates, deletes.
    await b.create(f"{CM}ns/cm00a", _cm("cm00a"))
    await b.create(f"{CM}ns/cm99", _cm("cm99"))
    await b.update(f"{CM}ns/cm07", _cm("cm07", v="1"), expected_rv=stored[7].rv)
    await b.delete(f"{CM}ns/cm08", expected_rv=stored[8].rv, last=_cm("cm08"))
    await b.delete(f"{CM}ns/cm12", expected_rv=stored[12].rv, last=_cm("cm12"))
    names = _names(first)
    after = first.next_key
    while after:
        page = await b.list_range(f"{CM}ns/", after_key=after, limit=5, at_revision=rev)
        _same(page, await inner.uncached(f"{CM}ns/", after_key=after, limit=5, at_revision=rev))
        names += _names(page)
        after = page.next_key
    assert names == [f"cm{i:02d}" for i in range(20)]
    whole = await b.list_range(CM, at_revision=rev)
    assert [orjson.loads(s.value)["data"] for s in whole.items] == [{"v": "0"}] * 20
    assert [s.rv for s in whole.items] == [stored[i].rv for i in range(20)]
    assert inner.lists == 1


async def test_random_histories_match_storage(cached: tuple[CachedBackend, CountingSQLite]) -> None:
    """Differential: after random writes, every LIST shape equals what SQLite answers."""
    b, inner = cached
    rng = random.Random(7)
    live: dict[str, Stored] = {}
    revisions: list[int] = []
    await b.list_range(CM)  # cached from the start: everything below arrives as events
    for step in range(300):
        key = f"{CM}ns{rng.randrange(3)}/k{rng.randrange(40):02d}"
        if key in live and rng.random() < 0.4:
            await b.delete(key, expected_rv=live.pop(key).rv, last=_cm(key))
        elif key in live:
            live[key] = await b.update(key, _cm(key, step=str(step)), expected_rv=live[key].rv)
        else:
            live[key] = await b.create(key, _cm(key, step=str(step)))
        if step % 10 == 0:
            revisions.append(b.current_revision())
        if step % 25 == 0:
            for prefix in (CM, f"{CM}ns{rng.randrange(3)}/"):
                after = rng.choice(["", *sorted(live)])
                limit = rng.choice([0, 1, 3, 10])
                at = rng.choice([0, 0, *revisions])
                want = await inner.uncached(prefix, after_key=after, limit=limit, at_revision=at)
                _same(await b.list_range(prefix, after_key=after, limit=limit, at_revision=at), want)
    assert inner.lists == 1


async def test_revision_outside_the_window_is_too_old(tmp_path: Path) -> None:
    inner = CountingSQLite(tmp_path / "s.db")
    b = CachedBackend(inner)
    await b.start()
    try:
        old = await b.create(f"{CM}ns/a", _cm("a"))
        await b.list_range(CM)
        await b.create(f"{CM}ns/b", _cm("b"))
        b.events._max_events = 0  # everything older than the newest event is forgotten
        await b.create(f"{CM}ns/c", _cm("c"))
        with pytest.raises(TooOld):
            await b.list_range(CM, at_revision=old.rv)
    finally:
        await b.close()


async def test_read_your_writes_under_concurrent_writes(cached: tuple[CachedBackend, CountingSQLite]) -> None:
    """Every acknowledged write is in every LIST that starts after it, while others keep writing."""
    b, inner = cached
    stop = asyncio.Event()
    problems: list[str] = []

    async def background(n: int) -> None:
        i = 0
        while not stop.is_set():
            await b.create(f"{CM}bg/w{n}-{i:05d}", _cm("x"))
            i += 1

    async def checker(n: int) -> None:
        previous = 0
        for i in range(40):
            key = f"{CM}ns{n}/c{i:03d}"
            written = await b.create(key, _cm(key))
            for prefix in (CM, f"{CM}ns{n}/"):
                listed = await b.list_range(prefix)
                keys = {s.key for s in listed.items}
                if key not in keys:
                    problems.append(f"{key} (rv {written.rv}) missing from LIST at {listed.revision}")
                if listed.revision < written.rv or listed.revision < previous:
                    problems.append(f"LIST revision {listed.revision} before write {written.rv} / {previous}")
                previous = listed.revision
            got = await b.get(key)
            if got is None or got.rv != written.rv:
                problems.append(f"GET {key} after its write: {got}")

    # The first LISTs race with the load: they must wait for it, not read a half-built entry.
    writers = [asyncio.create_task(background(n)) for n in range(4)]
    try:
        await asyncio.gather(*(checker(n) for n in range(6)))
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert problems == []
    assert inner.lists == 1
    _same(await b.list_range(CM), await inner.uncached(CM))


async def test_a_closed_window_drops_the_entry_and_the_next_list_reloads(
    cached: tuple[CachedBackend, CountingSQLite],
) -> None:
    b, inner = cached
    await b.create(f"{CM}ns/a", _cm("a"))
    await b.list_range(CM)
    b.events.close_all()  # what a compaction reset (etcd) or shutdown does to every subscription
    await asyncio.sleep(0)
    await b.create(f"{CM}ns/b", _cm("b"))
    assert _names(await b.list_range(CM)) == ["a", "b"]
    assert inner.lists == 2 and b.loads == 2
    await b.create(f"{CM}ns/c", _cm("c"))
    assert _names(await b.list_range(CM)) == ["a", "b", "c"]
    assert inner.lists == 2


async def test_concurrent_first_lists_share_one_load(cached: tuple[CachedBackend, CountingSQLite]) -> None:
    b, inner = cached
    await asyncio.gather(*(b.create(f"{CM}ns/c{i}", _cm("c")) for i in range(50)))
    results = await asyncio.gather(*(b.list_range(CM) for _ in range(10)))
    assert all(len(r.items) == 50 for r in results)
    assert inner.lists == 1 and b.loads == 1


# ---- etcd: another replica's writes ----


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    require_etcd()
    proc = EtcdProcess(data_dir=tmp_path_factory.mktemp("etcd")).start()
    yield proc
    proc.stop()


async def test_etcd_list_sees_writes_acknowledged_by_another_replica(etcd: EtcdProcess) -> None:
    from gardener.apiserver.storage.etcd import EtcdBackend

    prefix = f"/wc-{uuid.uuid4().hex[:8]}"
    a = EtcdBackend(servers=[etcd.url], prefix=prefix, compaction_interval=0)
    inner_b = EtcdBackend(servers=[etcd.url], prefix=prefix, compaction_interval=0)
    b = CachedBackend(inner_b, latest_revision=inner_b._revision_now)
    other = EtcdBackend(servers=[etcd.url], prefix=f"/other-{uuid.uuid4().hex[:8]}", compaction_interval=0)
    for backend in (a, b, other):
        await backend.start()
    try:
        await a.create(f"{CM}ns/first", _cm("first"))
        assert _names(await b.list_range(CM)) == ["first"]
        for i in range(30):
            written = await a.create(f"{CM}ns/n{i:02d}", _cm("n"))
            listed = await b.list_range(f"{CM}ns/")
            assert f"{CM}ns/n{i:02d}" in {s.key for s in listed.items}
            assert listed.revision >= written.rv
        # A write outside this replica's key space moves etcd's revision but never reaches its window:
        # the LIST reads the store instead of waiting forever, and later LISTs are served from memory again.
        await other.create(f"{CM}ns/elsewhere", _cm("x"))
        loads = b.loads
        listed = await b.list_range(CM)
        assert len(listed.items) == 31 and b.loads == loads + 1
        hits = b.hits
        assert len((await b.list_range(CM)).items) == 31
        assert b.hits == hits + 1 and b.loads == loads + 1
        # Pages at the listed revision are consistent too.
        page = await b.list_range(CM, limit=10)
        rest = await b.list_range(CM, after_key=page.next_key, at_revision=page.revision)
        assert len(page.items) + len(rest.items) == 31
    finally:
        for backend in (a, b, other):
            await backend.close()
