"""Two API server replicas on one etcd: concurrent writes and watches through both, one replica SIGKILLed.

Every acknowledged write must be stored, and every watch must see the same events in strictly
increasing resourceVersion order, without gaps or duplicates, including the watch that fails over
from the killed replica to the other one with its last resourceVersion (as behind a load balancer).
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.etcd import EtcdProcess, require_etcd
from tests.helpers import ServerProcess, eventually

NS = "replicas"
CMS = f"/api/v1/namespaces/{NS}/configmaps"


def _tls(server: ServerProcess) -> ssl.SSLContext:
    config = yaml.safe_load(server.kubeconfig.read_text())
    user = config["users"][0]["user"]
    tmp = Path(tempfile.mkdtemp(dir=server.data_dir))
    (tmp / "ca.crt").write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    (tmp / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
    (tmp / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
    ctx = ssl.create_default_context(cafile=str(tmp / "ca.crt"))
    ctx.load_cert_chain(str(tmp / "c.crt"), str(tmp / "c.key"))
    return ctx


class Client:
    """One keep-alive HTTPS connection to one replica (not thread-safe: one per thread)."""

    def __init__(self, port: int, ctx: ssl.SSLContext) -> None:
        self.port = port
        self._ctx = ctx
        self._conn: http.client.HTTPSConnection | None = None

    def connect(self, timeout: float = 10.0) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self._ctx, timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        if self._conn is None:
            self._conn = self.connect()
        data = json.dumps(body).encode() if body is not None else None
        try:
            self._conn.request(method, path, body=data, headers={"Content-Type": content_type})
            resp = self._conn.getresponse()
            payload = json.loads(resp.read())
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = None
            raise
        if resp.status >= 300:
            raise AssertionError(f"{method} {path}: {resp.status} {payload}")
        return payload

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass
class Acks:
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: resourceVersion -> (event type it must produce, name)
    writes: dict[int, tuple[str, str]] = field(default_factory=dict)
    failed: int = 0

    def add(self, rv: str, kind: str, name: str) -> None:
        with self.lock:
            assert int(rv) not in self.writes, f"resourceVersion {rv} acknowledged twice"
            self.writes[int(rv)] = (kind, name)


def writer(client: Client, tag: str, acks: Acks, stop: threading.Event) -> None:
    try:
        _write(client, tag, acks, stop)
    finally:
        client.close()


def _write(client: Client, tag: str, acks: Acks, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        name = f"{tag}-{i}"
        try:
            created = client.request("POST", CMS, {"metadata": {"name": name}, "data": {"n": "0"}})
            acks.add(created["metadata"]["resourceVersion"], "ADDED", name)
            if i % 2 == 0:
                patched = client.request(
                    "PATCH", f"{CMS}/{name}", {"data": {"n": "1"}}, content_type="application/merge-patch+json"
                )
                acks.add(patched["metadata"]["resourceVersion"], "MODIFIED", name)
        except (OSError, http.client.HTTPException):
            with acks.lock:
                acks.failed += 1
            return  # this replica is gone; its writes from now on were never acknowledged
        i += 1


@dataclass
class Watcher:
    """Watches through its replica; when that one dies, resumes on the next with the last resourceVersion."""

    clients: list[Client]
    start_rv: int
    events: list[tuple[str, str, int]] = field(default_factory=list)
    last_rv: int = 0
    failovers: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self) -> None:
        self.last_rv = self.start_rv
        current = 0
        while not self.stop.is_set():
            path = f"{CMS}?watch=true&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion={self.last_rv}"
            conn = self.clients[current].connect(timeout=15)
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                assert resp.status == 200, resp.status
                while True:
                    line = resp.readline()
                    if not line:
                        break  # timeoutSeconds: reconnect on the same replica from last_rv
                    ev = json.loads(line)
                    rv = int(ev["object"]["metadata"]["resourceVersion"])
                    if ev["type"] == "ERROR":
                        raise AssertionError(f"watch error: {ev}")
                    if ev["type"] != "BOOKMARK":
                        self.events.append((ev["type"], ev["object"]["metadata"]["name"], rv))
                    self.last_rv = rv
            except (OSError, http.client.HTTPException):
                if current + 1 >= len(self.clients):
                    raise
                current += 1
                self.failovers += 1
            except BaseException as exc:
                self.error = exc
                raise
            finally:
                conn.close()


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdProcess]:
    require_etcd()
    proc = EtcdProcess(data_dir=tmp_path / "etcd").start()
    yield proc
    proc.stop()


def test_two_replicas_keep_every_acknowledged_write_and_one_event_order(tmp_path: Path, etcd: EtcdProcess) -> None:
    args = ["--storage", "etcd", "--etcd-servers", etcd.url]
    one = ServerProcess(data_dir=tmp_path / "one", extra_args=args).start()
    two: ServerProcess | None = None
    admin_one = admin_two = Client(0, ssl.create_default_context())
    try:
        # Same CA and service-account key, so a client of one replica can use the other.
        shutil.copytree(one.data_dir / "pki", tmp_path / "two" / "pki")
        two = ServerProcess(data_dir=tmp_path / "two", extra_args=args).start()
        ctx = _tls(one)
        admin_one, admin_two = Client(one.port, ctx), Client(two.port, ctx)
        admin_one.request("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
        eventually(lambda: admin_two.request("GET", f"/api/v1/namespaces/{NS}"), what="namespace seen by replica two")

        watch_one = Watcher([Client(one.port, ctx)], int(admin_one.request("GET", CMS)["metadata"]["resourceVersion"]))
        watch_two = Watcher(
            [Client(two.port, ctx), Client(one.port, ctx)],
            int(admin_two.request("GET", CMS)["metadata"]["resourceVersion"]),
        )
        watch_threads = [threading.Thread(target=w.run, daemon=True) for w in (watch_one, watch_two)]
        for t in watch_threads:
            t.start()

        acks = Acks()
        stop = threading.Event()
        writers = [
            threading.Thread(target=writer, args=(Client(server.port, ctx), f"{name}{w}", acks, stop), daemon=True)
            for server, name in ((one, "one"), (two, "two"))
            for w in range(2)
        ]
        for t in writers:
            t.start()
        time.sleep(2.0)
        two.kill()  # SIGKILL mid-stream: its writers and its watch see the connection die
        time.sleep(1.0)
        stop.set()
        for t in writers:
            t.join(timeout=30)
        assert acks.writes, "no write was acknowledged"
        assert any(name.startswith("two") for _, name in acks.writes.values()), "replica two acknowledged nothing"
        newest = max(acks.writes)

        # Every acknowledged write is stored (replica one reads etcd).
        stored = {
            item["metadata"]["name"]: int(item["metadata"]["resourceVersion"])
            for item in admin_one.request("GET", CMS)["items"]
        }
        for rv, (kind, name) in acks.writes.items():
            assert name in stored, f"acknowledged {kind} of {name} at {rv} is lost"
            assert stored[name] >= rv

        # Both watches catch up with the newest acknowledged write, the second through replica one.
        for w in (watch_one, watch_two):
            eventually(lambda w=w: w.error is None and w.last_rv >= newest, timeout=30, what="watch caught up")
            w.stop.set()
        for t in watch_threads:
            t.join(timeout=30)
        assert watch_two.failovers == 1

        for w in (watch_one, watch_two):
            rvs = [rv for _, _, rv in w.events]
            assert rvs == sorted(set(rvs)), "events out of order or duplicated"
            seen = {rv: (kind, name) for kind, name, rv in w.events}
            for rv, expected in acks.writes.items():
                if rv > w.start_rv:
                    assert seen.get(rv) == expected, f"acknowledged write {expected} at {rv}: watch saw {seen.get(rv)}"
        # No gaps: over the revisions both watched, the failed-over watch saw exactly what the other saw.
        common = max(watch_one.start_rv, watch_two.start_rv)
        assert [e for e in watch_one.events if e[2] > common] == [e for e in watch_two.events if e[2] > common]
        # Writes in flight when replica two died may be committed without an acknowledgement: they are
        # in etcd and in both watches, never in one only.
        unacked = {e[2] for e in watch_one.events} - set(acks.writes)
        assert all(
            kind in ("ADDED", "MODIFIED") and name.startswith("two")
            for kind, name, rv in watch_one.events
            if rv in unacked
        )
    finally:
        for c in (admin_one, admin_two):
            c.close()
        one.kill()
        if two is not None:
            two.kill()
