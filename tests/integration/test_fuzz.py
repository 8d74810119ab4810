"""Fuzzing: requests generated from the server's own /openapi/v3 (schemathesis), as admin over TLS.

One server of the module's own (SQLite; garden admission in-process, as every server has it), with the
fuzz CRD and the garden CRDs installed by hack/fuzz.py's set-up. Each test sends its share of generated
requests (positive and negative bodies, seeded objects with random changes, mangled bodies) to
create/update/patch/get/list/delete operations on objects named fuzz-a/b/c in the namespaces it creates
(and, of the garden groups, cluster-scoped kinds too), derandomized so a run is reproducible. It fails on
any 5xx, any request without an answer within 30 s, any dropped connection, or a server that died; the
message lists each distinct failure with a reproduction and the server's traceback. `hack/fuzz.py` runs
the same generation for longer.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import requests

from hack import fuzz
from tests.helpers import ServerProcess, module_server

#: generated requests per target (the embedded API's core, apps, batch, rbac... and a CRD; the garden API)
EMBEDDED_REQUESTS = 500
GARDEN_REQUESTS = 500
#: a request unanswered for this long is a hang
TIMEOUT = 30.0


server = module_server("fuzz-apiserver")


@pytest.fixture(scope="module")
def client(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> fuzz.Client:
    return fuzz.Client.from_kubeconfig(server.kubeconfig, tmp_path_factory.mktemp("fuzz-client"))


def _fuzz(server: ServerProcess, client: fuzz.Client, target: fuzz.Target, count: int) -> None:
    report = fuzz.run(client, target, requests_=count, timeout=TIMEOUT)
    alive = server.proc is not None and server.proc.poll() is None
    log = Path(server.data_dir / "apiserver.log").read_text(errors="replace")
    if not alive:
        pytest.fail(f"the server died:\n{server.log_tail()}\n{report.describe(log)}", pytrace=False)
    if report.failures:
        pytest.fail(report.describe(log), pytrace=False)
    assert report.requests == count, report.statuses
    # the generation reaches past the first checks: objects get created, read, changed and deleted
    for status in ("200", "201"):
        assert report.statuses[status] > 0, report.statuses


def test_fuzz_embedded_api(server: ServerProcess, client: fuzz.Client) -> None:
    _fuzz(server, client, fuzz.prepare_embedded(client), EMBEDDED_REQUESTS)


def test_fuzz_garden_api(server: ServerProcess, client: fuzz.Client) -> None:
    _fuzz(server, client, fuzz.prepare_garden(client), GARDEN_REQUESTS)


def test_a_hang_and_a_dropped_connection_are_told_apart() -> None:
    """The fuzzer's verdict on a request without an answer: a hang if none came in time, else a drop."""
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: loopback only
    with session, socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        # connected (the kernel accepts it) but never answered
        with pytest.raises(requests.RequestException) as hang:
            session.get(url, timeout=0.5)
        assert fuzz._timed_out(hang.value)
        listener.accept()[0].close()

        def drop() -> None:
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.close()

        closer = threading.Thread(target=drop)
        closer.start()
        with pytest.raises(requests.RequestException) as dropped:
            session.get(url, timeout=30)
        closer.join()
        assert not fuzz._timed_out(dropped.value)
