"""What a fuzzer found in the transport and storage layers, each answered the way kube-apiserver answers: an HTTP
code with a `Status` body, and a server that keeps accepting writes afterwards.

Bodies, sizes, media types and warning headers go to the shared servers (both backends); timeouts and the
per-client connection cap to a server of this module's with short limits; the supervision of background loops to
an in-process server whose storage transformer kills the SQLite writer thread.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import socket
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from gardener.apiserver.app import APIServer, ServerConfig
from gardener.apiserver.storage.interface import StorageError, Stored, Unavailable, Unserializable
from gardener.apiserver.storage.sqlite import SQLiteBackend
from tests.helpers import ServerProcess, create_namespace, eventually

#: request handling, validation, admission and auth sit above storage: one backend says it all
ONE_BACKEND = True

Headers = list[tuple[str, str]]

# ---- talking to a server ----

_contexts: dict[Path, ssl.SSLContext] = {}


def _tls(kubeconfig: Path, *, client_cert: bool = True) -> ssl.SSLContext:
    """A TLS context trusting the server's CA, with the admin's client certificate unless told otherwise."""
    if client_cert and kubeconfig in _contexts:
        return _contexts[kubeconfig]
    config = yaml.safe_load(kubeconfig.read_text())
    user = config["users"][0]["user"]
    tmp = Path(tempfile.mkdtemp(dir=kubeconfig.parent))
    (tmp / "ca.crt").write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    ctx = ssl.create_default_context(cafile=str(tmp / "ca.crt"))
    if client_cert:
        (tmp / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
        (tmp / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
        ctx.load_cert_chain(str(tmp / "c.crt"), str(tmp / "c.key"))
        _contexts[kubeconfig] = ctx
    return ctx


def call(
    server: ServerProcess, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Headers, Any]:
    """One request on a connection of its own: (status, headers, JSON body or None)."""
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=_tls(server.kubeconfig), timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheaders(), json.loads(data) if data else None
    finally:
        conn.close()


def assert_status(answer: tuple[int, Headers, Any], code: int, reason: str) -> dict[str, Any]:
    status, headers, body = answer
    assert status == code, answer
    assert dict(headers).get("Content-Type", "").startswith("application/json"), headers
    assert isinstance(body, dict)
    assert (body["kind"], body["apiVersion"], body["status"]) == ("Status", "v1", "Failure"), body
    assert (body["code"], body["reason"]) == (code, reason), body
    return body


def create(server: ServerProcess, ns: str, name: str) -> None:
    body = json.dumps({"metadata": {"name": name}, "data": {"k": "v"}}).encode()
    status, _, created = call(server, "POST", f"/api/v1/namespaces/{ns}/configmaps", body, {"Content-Type": JSON})
    assert status == 201, created
    assert created["metadata"]["name"] == name


JSON = "application/json"
YAML = "application/yaml"


@pytest.fixture(scope="module")
def ns(apiserver: ServerProcess) -> str:
    create_namespace("hardening", kubeconfig=apiserver.kubeconfig)
    return "hardening"


# ---- 1. a body that kills the writer thread ----


def test_yaml_binary_is_a_400_and_writes_go_on(apiserver: ServerProcess, ns: str) -> None:
    body = b"metadata: {name: bin}\ndata: {a: !!binary aGVsbG8=}"
    answer = call(apiserver, "POST", f"/api/v1/namespaces/{ns}/configmaps", body, {"Content-Type": YAML})
    assert "!!binary" in assert_status(answer, 400, "BadRequest")["message"]
    create(apiserver, ns, "after-binary")
    status, _, _ = call(apiserver, "GET", f"/api/v1/namespaces/{ns}/configmaps/bin")
    assert status == 404


def test_yaml_dates_and_number_keys_become_strings(apiserver: ServerProcess, ns: str) -> None:
    body = b"metadata: {name: dates, labels: {1: x}}\ndata: {when: 2001-12-14}"
    status, _, created = call(apiserver, "POST", f"/api/v1/namespaces/{ns}/configmaps", body, {"Content-Type": YAML})
    assert status == 201, created
    assert created["data"] == {"when": "2001-12-14"}
    assert created["metadata"]["labels"] == {"1": "x"}


# ---- 2. bounded decoding ----

BILLION_LAUGHS = b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + b"".join(
    f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]\n".encode()
    for prev, name in zip("abcdef", "bcdefg", strict=True)
)


def test_billion_laughs_is_a_400(apiserver: ServerProcess, ns: str) -> None:
    body = b"metadata: {name: laughs}\n" + BILLION_LAUGHS
    answer = call(apiserver, "POST", f"/api/v1/namespaces/{ns}/configmaps", body, {"Content-Type": YAML})
    assert "aliases" in assert_status(answer, 400, "BadRequest")["message"]
    create(apiserver, ns, "after-laughs")


@pytest.mark.parametrize("media", [JSON, YAML])
def test_nesting_ten_thousand_deep_is_a_400(apiserver: ServerProcess, ns: str, media: str) -> None:
    deep = b"[" * 10_000 + b"]" * 10_000
    for body in (deep, b'{"metadata": {"name": "deep"}, "x": ' + deep + b"}"):
        answer = call(apiserver, "POST", f"/api/v1/namespaces/{ns}/configmaps", body, {"Content-Type": media})
        assert "levels deep" in assert_status(answer, 400, "BadRequest")["message"]
    create(apiserver, ns, f"after-deep-{media.rsplit('/', 1)[1]}")


def test_nesting_past_the_bound_in_a_patch_is_a_400(apiserver: ServerProcess, ns: str) -> None:
    create(apiserver, ns, "patched")
    body = b'{"data": {"k": "v"}, "x": ' + b"[" * 300 + b"]" * 300 + b"}"
    headers = {"Content-Type": "application/merge-patch+json"}
    answer = call(apiserver, "PATCH", f"/api/v1/namespaces/{ns}/configmaps/patched", body, headers)
    assert_status(answer, 400, "BadRequest")


# ---- 3. sizes ----


def test_a_ten_megabyte_body_is_a_413(apiserver: ServerProcess, ns: str) -> None:
    body = b'{"metadata": {"name": "big"}, "data": {"a": "' + b"x" * 10_000_000 + b'"}}'
    answer = call(apiserver, "POST", f"/api/v1/namespaces/{ns}/configmaps", body, {"Content-Type": JSON})
    assert (
        assert_status(answer, 413, "RequestEntityTooLarge")["message"] == "Request entity too large: limit is 3145728"
    )
    create(apiserver, ns, "after-big")


def test_an_oversized_url_is_a_414(apiserver: ServerProcess, ns: str) -> None:
    answer = call(apiserver, "GET", f"/api/v1/namespaces/{ns}/configmaps?labelSelector={'a' * 100_000}")
    assert "Request-URI too long" in assert_status(answer, 414, "BadRequest")["message"]
    create(apiserver, ns, "after-url")


def test_an_oversized_header_is_a_431(apiserver: ServerProcess, ns: str) -> None:
    answer = call(apiserver, "GET", f"/api/v1/namespaces/{ns}/configmaps", headers={"X-Padding": "a" * 100_000})
    assert "header" in assert_status(answer, 431, "BadRequest")["message"]
    create(apiserver, ns, "after-header")


def test_a_malformed_header_is_a_400_status(apiserver: ServerProcess) -> None:
    with _open(apiserver) as conn:
        conn.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        head, _, body = _read_all(conn).partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400", head
    assert json.loads(body)["reason"] == "BadRequest"


# ---- 4. media types ----


def test_a_json_body_sent_as_text_plain_is_a_415(apiserver: ServerProcess, ns: str) -> None:
    body = json.dumps({"metadata": {"name": "plain"}}).encode()
    answer = call(apiserver, "POST", f"/api/v1/namespaces/{ns}/configmaps", body, {"Content-Type": "text/plain"})
    assert assert_status(answer, 415, "UnsupportedMediaType")["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )


def test_a_body_without_content_type_is_json(apiserver: ServerProcess, ns: str) -> None:
    body = json.dumps({"metadata": {"name": "no-content-type"}}).encode()
    status, _, created = call(apiserver, "POST", f"/api/v1/namespaces/{ns}/configmaps", body, {"Content-Type": ""})
    assert status == 201, created


# ---- 5. warnings with line breaks ----


def test_an_unknown_field_with_a_line_break_is_warned_about_in_a_writable_header(
    apiserver: ServerProcess, ns: str
) -> None:
    body = json.dumps({"metadata": {"name": "crlf"}, "a\r\nb": 1}).encode()
    path = f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Warn"
    status, headers, created = call(apiserver, "POST", path, body, {"Content-Type": JSON})
    assert status == 201, created
    warnings = [value for name, value in headers if name.lower() == "warning"]
    assert warnings and all(value.isprintable() for value in warnings), warnings
    assert any("unknown field" in value for value in warnings), warnings
    create(apiserver, ns, "after-crlf")


# ---- 6. slow clients, idle connections, too many connections ----

LIMITS = [
    "--request-header-timeout=1",
    "--idle-connection-timeout=2",
    "--tls-handshake-timeout=1",
    "--max-connections-per-client=4",
]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir=tmp_path_factory.mktemp("limited"), extra_args=LIMITS).start()
    yield server
    server.stop()


def _open(server: ServerProcess, *, handshake: bool = True) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    if not handshake:
        return raw
    return _tls(server.kubeconfig).wrap_socket(raw, server_hostname="127.0.0.1")


def _closed_by_server(conn: socket.socket, *, trickle: bytes = b"") -> bool:
    """True once the server has closed `conn`; sends one byte of `trickle` first, like a slow client."""
    try:
        if trickle:
            conn.send(trickle)
        conn.settimeout(0.2)
        return conn.recv(1) == b""
    except TimeoutError:
        return False
    except (ConnectionError, ssl.SSLError):
        return True


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_client_trickling_its_headers_is_cut_off(limited: ServerProcess) -> None:
    request = iter(b"GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000)
    with _open(limited) as conn:
        eventually(lambda: _closed_by_server(conn, trickle=bytes([next(request)])), timeout=60, what="cut off")


def test_an_idle_tls_connection_is_closed(limited: ServerProcess) -> None:
    with _open(limited) as conn:
        eventually(lambda: _closed_by_server(conn), timeout=60, what="idle connection closed")


def test_a_stalled_tls_handshake_is_closed(limited: ServerProcess) -> None:
    with _open(limited, handshake=False) as conn:
        eventually(lambda: _closed_by_server(conn), timeout=60, what="handshake abandoned")


def test_a_kept_alive_connection_is_closed_when_idle_between_requests(limited: ServerProcess) -> None:
    with _open(limited) as conn:
        conn.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 200 ")
        eventually(lambda: _closed_by_server(conn), timeout=60, what="kept-alive connection closed")


def test_a_watch_outlives_the_idle_timeout(limited: ServerProcess) -> None:
    create_namespace("long", kubeconfig=limited.kubeconfig)
    watch = http.client.HTTPSConnection("127.0.0.1", limited.port, context=_tls(limited.kubeconfig), timeout=60)
    try:
        watch.request("GET", "/api/v1/namespaces/long/configmaps?watch=true&timeoutSeconds=120")
        stream = watch.getresponse()
        assert stream.status == 200
        # Another connection goes idle at the same time; once the server has closed it, the idle timeout has
        # passed for the watch's connection too.
        with _open(limited) as idle:
            idle.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
            assert idle.recv(65536).startswith(b"HTTP/1.1 200 ")
            eventually(lambda: _closed_by_server(idle), timeout=60, what="idle connection closed")
        create(limited, "long", "still-watched")
        event = json.loads(stream.readline())
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "still-watched")
    finally:
        watch.close()


def test_connections_past_the_per_client_cap_get_a_429(limited: ServerProcess) -> None:
    watches: list[http.client.HTTPSConnection] = []
    refused: tuple[int, Headers, Any] | None = None
    try:
        # Watches hold their connections open (no timeout applies while they run); the fifth is one too many.
        for _ in range(5):
            conn = http.client.HTTPSConnection("127.0.0.1", limited.port, context=_tls(limited.kubeconfig), timeout=60)
            watches.append(conn)
            conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=120")
            resp = conn.getresponse()
            if resp.status != 200:
                refused = (resp.status, resp.getheaders(), json.loads(resp.read()))
                break
        assert refused is not None and len(watches) <= 5
        body = assert_status(refused, 429, "TooManyRequests")
        assert "too many open connections" in body["message"]
        assert dict(refused[1]).get("Retry-After") == "1"
    finally:
        for conn in watches:
            conn.close()
    eventually(lambda: call(limited, "GET", "/version")[0] == 200, what="connections freed")
    assert "Refusing connections from a client over its limit" in limited.log_tail(200)


# ---- 1 (storage): one failed write fails alone; a dead writer fails writes and the health checks ----

KEYS = "/registry/core/configmaps/default/"


class _FailFor:
    """A storage transformer (the encryption plug point) that fails for one key: `error` is what it raises."""

    def __init__(self, name: str, error: BaseException) -> None:
        self.name = name
        self.error = error

    def to_storage(self, key: str, value: bytes) -> bytes:
        if key.endswith("/" + self.name):
            raise self.error
        return value

    def from_storage(self, key: str, value: bytes) -> bytes:
        return value


class WriterKilled(BaseException):
    """Escapes every per-write handler, as nothing an ordinary bug raises would."""


async def test_a_write_failing_in_the_writer_thread_fails_alone(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "s.db", synchronous="NORMAL", transformer=_FailFor("bad", ValueError("x")))
    await backend.start()
    try:
        names = [f"good-{i}" for i in range(20)]
        names.insert(10, "bad")
        results = await asyncio.gather(
            *(backend.create(KEYS + n, {"metadata": {"name": n}}) for n in names), return_exceptions=True
        )
        failed = results.pop(10)
        assert isinstance(failed, StorageError) and not isinstance(failed, Unavailable), failed
        assert all(isinstance(r, Stored) for r in results), results
        revisions = sorted(r.rv for r in results if isinstance(r, Stored))
        assert revisions == list(range(revisions[0], revisions[0] + 20))  # the failed write took no revision
        assert await backend.get(KEYS + "bad") is None
        with pytest.raises(Unserializable):
            await backend.create(KEYS + "bytes", {"metadata": {"name": "bytes"}, "data": {"a": b"x"}})
        after = await backend.create(KEYS + "after", {"metadata": {"name": "after"}})
        assert after.rv == revisions[-1] + 1
        assert backend.failure is None
    finally:
        await backend.close()


async def test_a_dead_writer_fails_writes_and_the_health_checks(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "state.db", synchronous="NORMAL", transformer=_FailFor("poison", WriterKilled()))
    kubeconfig = tmp_path / "admin.kubeconfig"
    server = APIServer(config=ServerConfig(data_dir=tmp_path, admin_kubeconfig=kubeconfig), backend=backend)
    await server.start()
    try:
        async with aiohttp.ClientSession(
            base_url=server.url, connector=aiohttp.TCPConnector(ssl=_tls(kubeconfig))
        ) as s:

            async def post(name: str) -> tuple[int, Any]:
                path = "/api/v1/namespaces/default/configmaps"
                async with s.post(path, json={"metadata": {"name": name}}) as resp:
                    return resp.status, await resp.json()

            async def health(path: str) -> tuple[int, str]:
                async with s.get(path) as resp:
                    return resp.status, await resp.text()

            assert await health("/readyz") == (200, "ok")
            assert (await post("before"))[0] == 201
            status, body = await post("poison")
            assert (status, body["reason"]) == (503, "ServiceUnavailable"), body
            status, text = await health("/readyz")
            assert status == 500
            assert "[-]poststarthook/sqlite-writer failed: reason withheld" in text
            assert text.rstrip().endswith("readyz check failed")
            assert (await health("/livez"))[0] == 500
            assert (await health("/readyz?verbose"))[0] == 500
            status, body = await asyncio.wait_for(post("after"), timeout=60)
            assert (status, body["reason"], body["details"]["retryAfterSeconds"]) == (503, "ServiceUnavailable", 1)
    finally:
        await server.stop()
