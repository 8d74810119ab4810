from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ServerProcess


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One embedded API server for the whole session; tests use their own namespaces."""
    server = ServerProcess(data_dir=tmp_path_factory.mktemp("apiserver")).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_apiserver(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of the test's own, for tests that kill or restart it."""
    server = ServerProcess(data_dir=tmp_path / "apiserver").start()
    yield server
    server.kill()
