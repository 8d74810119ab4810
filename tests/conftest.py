"""Fixtures: real API servers (SQLite and etcd backends) as processes on loopback."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.etcd import EtcdProcess
from tests.helpers import ServerProcess

BACKENDS = ["sqlite", "etcd"]
_prefixes = itertools.count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A module that sets `ONE_BACKEND = True` tests what lies above storage (request handling, validation,
    admission, authentication and authorization): its tests run on SQLite only, as the etcd run would say no more."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        module = getattr(item, "module", None)
        backend = None if callspec is None else callspec.params.get("apiserver", callspec.params.get("fresh_apiserver"))
        (dropped if backend == "etcd" and getattr(module, "ONE_BACKEND", False) else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdProcess]:
    """One etcd for the session; every server on it gets its own key prefix."""
    server = EtcdProcess(data_dir=tmp_path_factory.mktemp("etcd")).start()
    yield server
    server.stop()


def _server_args(request: pytest.FixtureRequest, backend: str) -> list[str]:
    if backend == "sqlite":
        return []
    etcd: EtcdProcess = request.getfixturevalue("etcd")
    return ["--storage", "etcd", "--etcd-servers", etcd.url, "--etcd-prefix", f"/t{next(_prefixes)}"]


@pytest.fixture(scope="session", params=BACKENDS)
def apiserver(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One embedded API server per backend for the whole session; tests use their own namespaces."""
    server = ServerProcess(
        data_dir=tmp_path_factory.mktemp(f"apiserver-{request.param}"), extra_args=_server_args(request, request.param)
    ).start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def fresh_apiserver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of the test's own, for tests that kill or restart it."""
    server = ServerProcess(data_dir=tmp_path / "apiserver", extra_args=_server_args(request, request.param)).start()
    yield server
    server.kill()
