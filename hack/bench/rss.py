#!/usr/bin/env python3
"""Idle memory of one API server process (SQLite) holding a few hundred objects; ONE JSON line on stdout.

It starts ``python -m gardener.apiserver.main`` on loopback (as ``hack/bench/apiserver.py`` does), reads
its RSS once it has settled after startup, then creates 300 ConfigMaps, 50 Secrets and a CRD with 100
custom resources, waits until the server's housekeeping (every 30 s: expired watch history, gc,
malloc_trim) has run, LISTs the three resources (which loads them into the watch cache), waits again and
reads the idle RSS, the figure with a target. Keys:

- ``rss_startup_mib`` / ``rss_startup_anon_mib``: VmRSS / RssAnon after startup;
- ``rss_idle_before_lists_mib``: settled with the objects stored but not yet LISTed;
- ``rss_idle_mib`` / ``rss_idle_anon_mib`` / ``rss_peak_mib``: settled after the LISTs (target <= 45 MiB);
- ``watch_cache_rss_bytes_per_object``: the RSS growth from those LISTs per object loaded (coarse: pages);
- ``watch_cache_traced_bytes_per_object``: the same measured exactly with tracemalloc, in this process, by a
  watch cache over SQLite holding ``--traced-objects`` copies of a ConfigMap as the server stores it,
  and ``watch_cache_value_bytes_per_object`` of that is the object's JSON itself.

Targets are printed (``target_*``, ``target_met``), never asserted. Progress goes to stderr.

    .venv/bin/python hack/bench/rss.py [--settle 35] [--watch-cache true|false] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apiserver import (  # a sibling script, not a package
    JSON_HEADERS,
    MIB,
    Server,
    _finite,
    create_namespace,
    log,
    session_for,
    settled_memory,
)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

TARGET_IDLE_RSS_MIB_MAX = 45.0
NS = "rss"
GROUP = "bench.example.com"
CONFIGMAPS = 300
SECRETS = 50
CUSTOM = 100


def configmap(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"cm-{i:04d}", "labels": {"app": "rss", "shard": str(i % 8)}},
        "data": {"index": str(i), "payload": "x" * 256},
    }


def secret(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"secret-{i:03d}"},
        "type": "Opaque",
        "stringData": {"username": f"user-{i}", "password": "p" * 32},
    }


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer"},
                                    "color": {"type": "string"},
                                    "tags": {"type": "array", "items": {"type": "string"}},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


def widget(i: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": f"widget-{i:03d}"},
        "spec": {"size": i, "color": ("red", "green", "blue")[i % 3], "tags": ["a", "b", str(i)]},
    }


async def _post(session: aiohttp.ClientSession, path: str, obj: dict[str, Any]) -> None:
    async with session.post(path, data=orjson.dumps(obj), headers=JSON_HEADERS) as resp:
        text = await resp.text()
        if resp.status != 201:
            raise RuntimeError(f"POST {path}: {resp.status} {text[:300]}")


async def _create_all(session: aiohttp.ClientSession, path: str, objs: list[dict[str, Any]]) -> None:
    sem = asyncio.Semaphore(16)

    async def one(obj: dict[str, Any]) -> None:
        async with sem:
            await _post(session, path, obj)

    await asyncio.gather(*(one(o) for o in objs))


async def _list(session: aiohttp.ClientSession, path: str) -> int:
    async with session.get(path) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"LIST {path}: {resp.status} {body[:300]!r}")
    return len(orjson.loads(body)["items"])


async def populate(server: Server) -> bytes:
    """The objects; returns one ConfigMap as the server stores it (for the traced measurement)."""
    async with session_for(server, limit=16) as session:
        await create_namespace(session, NS)
        await _post(session, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
        await _create_all(session, f"/api/v1/namespaces/{NS}/configmaps", [configmap(i) for i in range(CONFIGMAPS)])
        await _create_all(session, f"/api/v1/namespaces/{NS}/secrets", [secret(i) for i in range(SECRETS)])
        widgets = f"/apis/{GROUP}/v1/namespaces/{NS}/widgets"
        deadline = time.monotonic() + 30
        while True:  # the CRD is served once the server has established it
            async with session.get(widgets) as resp:
                await resp.read()
                if resp.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD not served within 30 s: {resp.status}")
            await asyncio.sleep(0.1)
        await _create_all(session, widgets, [widget(i) for i in range(CUSTOM)])
        async with session.get(f"/api/v1/namespaces/{NS}/configmaps/cm-0000") as resp:
            return await resp.read()


async def list_everything(server: Server) -> dict[str, int]:
    async with session_for(server, limit=4) as session:
        return {
            "configmaps": await _list(session, "/api/v1/configmaps"),
            "secrets": await _list(session, "/api/v1/secrets"),
            "widgets": await _list(session, f"/apis/{GROUP}/v1/widgets"),
        }


def traced_cache_cost(sample: bytes, count: int) -> dict[str, float]:
    """Bytes per object a watch cache holds, by tracemalloc: `count` ConfigMaps shaped like `sample`."""
    from gardener.apiserver.storage.cache import CachedBackend
    from gardener.apiserver.storage.sqlite import SQLiteBackend

    template = orjson.loads(sample)
    prefix = "/registry/core/configmaps/"

    async def measure(tmp: Path) -> dict[str, float]:
        inner = SQLiteBackend(tmp / "state.db", synchronous="OFF")
        cache = CachedBackend(inner)
        await cache.start()
        try:
            for start in range(0, count, 500):
                batch = []
                for i in range(start, min(count, start + 500)):
                    obj = orjson.loads(orjson.dumps(template))
                    obj["metadata"]["name"] = f"cm-{i:06d}"
                    batch.append(cache.create(f"{prefix}{NS}/cm-{i:06d}", obj))
                await asyncio.gather(*batch)
            # Only the cache may hold the objects: let the window forget the writes' events.
            inner.events._max_events = 0
            inner.events.trim()
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            result = await cache.list_range(prefix)
            del result
            gc.collect()
            traced = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            stats = cache.stats()
        finally:
            await cache.close()
        objects = stats["objects"]
        return {
            "watch_cache_traced_objects": objects,
            "watch_cache_traced_bytes_per_object": round(traced / objects, 1),
            "watch_cache_value_bytes_per_object": round(stats["bytes"] / objects, 1),
            "watch_cache_overhead_bytes_per_object": round((traced - stats["bytes"]) / objects, 1),
        }

    with tempfile.TemporaryDirectory(prefix="rss-traced-") as tmp:
        return asyncio.run(measure(Path(tmp)))


async def run(server: Server, settle: float) -> tuple[dict[str, Any], bytes]:
    result: dict[str, Any] = {}
    startup = await settled_memory(server, 2.0)
    result["rss_startup_mib"] = startup["VmRSS"]
    result["rss_startup_anon_mib"] = startup["RssAnon"]
    log(f"server pid {server.pid}: startup RSS {startup['VmRSS']} MiB (anon {startup['RssAnon']})")
    sample = await populate(server)
    result["objects_created"] = {"configmaps": CONFIGMAPS, "secrets": SECRETS, "widgets": CUSTOM, "crds": 1}
    log(f"created {CONFIGMAPS} ConfigMaps, {SECRETS} Secrets, a CRD and {CUSTOM} Widgets; settling {settle:g} s")
    before = await settled_memory(server, settle)
    result["rss_idle_before_lists_mib"] = before["VmRSS"]
    listed = await list_everything(server)
    result["objects_listed"] = listed
    log(f"listed {listed}; settling {settle:g} s")
    idle = await settled_memory(server, settle)
    result["rss_idle_mib"] = idle["VmRSS"]
    result["rss_idle_anon_mib"] = idle["RssAnon"]
    result["rss_peak_mib"] = idle["VmHWM"]
    # Secrets were cached from startup on (the bootstrap-token informer lists them): count the others.
    loaded = listed["configmaps"] + listed["widgets"]
    delta = (idle["VmRSS"] - before["VmRSS"]) * MIB
    result["watch_cache_rss_delta_kib"] = round(delta / 1024, 1)
    result["watch_cache_rss_bytes_per_object"] = round(delta / loaded, 1) if loaded else 0.0
    log(f"idle RSS {idle['VmRSS']} MiB (anon {idle['RssAnon']}, before the LISTs {before['VmRSS']})")
    return result, sample


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--settle", type=float, default=35.0, help="seconds to wait for housekeeping (every 30 s)")
    p.add_argument("--watch-cache", choices=["true", "false"], default="true", help="the server's --watch-cache")
    p.add_argument("--traced-objects", type=int, default=2000, help="objects for the tracemalloc measurement")
    p.add_argument("--dir", type=Path, help="parent of the temporary work directory")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--server-script", type=Path, help="run this script with the server's flags instead")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="apiserver-rss-", dir=args.dir))
    server = Server(
        data_dir=work / "server", script=args.server_script, extra_args=[f"--watch-cache={args.watch_cache}"]
    )
    result: dict[str, Any] = {"storage": "sqlite", "watch_cache": args.watch_cache == "true", "settle_s": args.settle}
    try:
        log(f"starting the API server in {work}")
        server.start()
        measured, sample = asyncio.run(run(server, args.settle))
        result.update(measured)
    except BaseException:
        if server.proc is not None:
            log(f"server log tail:\n{server.log_tail()}")
        raise
    finally:
        server.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result.update(traced_cache_cost(sample, args.traced_objects))
    result["target_idle_rss_mib_max"] = TARGET_IDLE_RSS_MIB_MAX
    result["target_met"] = result["rss_idle_mib"] <= TARGET_IDLE_RSS_MIB_MAX
    result["elapsed_s"] = round(time.monotonic() - began, 1)
    print(json.dumps(_finite(result), separators=(",", ":"), allow_nan=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
