"""A write the server acknowledged survives SIGKILL of the server."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import ServerProcess, eventually


def _client(server: ServerProcess) -> tuple[str, ssl.SSLContext]:
    config = yaml.safe_load(server.kubeconfig.read_text())
    import base64
    import tempfile

    tmp = Path(tempfile.mkdtemp(dir=server.data_dir))
    user = config["users"][0]["user"]
    (tmp / "ca.crt").write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    (tmp / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
    (tmp / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
    ctx = ssl.create_default_context(cafile=str(tmp / "ca.crt"))
    ctx.load_cert_chain(str(tmp / "c.crt"), str(tmp / "c.key"))
    return server.url, ctx


def _request(base: str, ctx: ssl.SSLContext, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_acknowledged_writes_survive_sigkill(fresh_apiserver: ServerProcess) -> None:
    base, ctx = _client(fresh_apiserver)
    acknowledged: dict[str, str] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def writer(worker: int) -> None:
        i = 0
        while not stop.is_set():
            name = f"w{worker}-{i}"
            try:
                code, body = _request(
                    base,
                    ctx,
                    "POST",
                    "/api/v1/namespaces/default/configmaps",
                    {"metadata": {"name": name}, "data": {"n": str(i)}},
                )
            except (OSError, urllib.error.URLError):
                return  # the server died under us: this write was not acknowledged
            if code == 201:
                with lock:
                    acknowledged[name] = body["metadata"]["uid"]
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    eventually(lambda: len(acknowledged) >= 200, timeout=60, what="a stream of acknowledged writes")
    fresh_apiserver.kill()  # SIGKILL in the middle of the stream
    stop.set()
    for t in threads:
        t.join(timeout=30)
    with lock:
        expected = dict(acknowledged)

    fresh_apiserver.start()
    base, ctx = _client(fresh_apiserver)
    code, listing = _request(base, ctx, "GET", "/api/v1/namespaces/default/configmaps")
    assert code == 200
    found = {item["metadata"]["name"]: item["metadata"]["uid"] for item in listing["items"]}
    missing = {name for name in expected if found.get(name) != expected[name]}
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
    # The revision counter continues: a new write gets a higher resourceVersion than anything before.
    top = max(int(item["metadata"]["resourceVersion"]) for item in listing["items"])
    code, created = _request(
        base, ctx, "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "after"}}
    )
    assert code == 201
    assert int(created["metadata"]["resourceVersion"]) > top
