"""`gardener local`: loopback ranges per garden, the packaged CloudProfile, and what the commands print."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gardener.local import networks, processes
from gardener.local.cloudprofile import CLOUDPROFILE, LAST_APPLIED, manifest
from gardener.local.garden import UpResult
from gardener.local.main import main, status_table, up_message
from gardener.local.networks import Networks, NoFreeNetworks

EXAMPLE = Path(__file__).resolve().parents[4] / "hack" / "examples" / "10-cloudprofile-local.yaml"


def test_the_example_cloudprofile_is_the_installed_one() -> None:
    assert yaml.safe_load(EXAMPLE.read_text()) == CLOUDPROFILE


def test_the_cloudprofile_carries_kubectls_last_applied_annotation() -> None:
    annotation = manifest()["metadata"]["annotations"][LAST_APPLIED]
    assert annotation.endswith("}\n") and ", " not in annotation
    assert json.loads(annotation) == {**CLOUDPROFILE, "metadata": {"name": "local", "annotations": {}}}


def never_listening() -> set[str]:
    return set()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_each_data_dir_gets_ranges_of_its_own_and_keeps_them(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    a = networks.claim(tmp_path / "a", registry=registry, listening=never_listening)
    b = networks.claim(tmp_path / "b", registry=registry, listening=never_listening)
    assert (a.pods, a.services, a.load_balancers) == ("127.20.0.0/16", "127.21.0.0/16", "127.22.0.0/16")
    assert (b.pods, b.services, b.load_balancers) == ("127.23.0.0/16", "127.24.0.0/16", "127.25.0.0/16")
    assert networks.claim(tmp_path / "a", registry=registry, listening=never_listening) == a
    assert json.loads((tmp_path / "b" / "networks.json").read_text()) == {"base": 23, **b.as_dict()}
    networks.release(tmp_path / "a", registry=registry)
    assert not (registry / "127.20.json").exists() and networks.recorded(tmp_path / "a") == a
    # Taken back by the same data dir even though a third garden came meanwhile: the next free set went to it.
    c = networks.claim(tmp_path / "c", registry=registry, listening=never_listening)
    assert c == a
    assert networks.claim(tmp_path / "a", registry=registry, listening=never_listening) == Networks(26)


def test_a_stale_claim_is_taken_over(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "127.20.json").write_text(json.dumps({"dataDir": str(tmp_path / "gone"), "pid": dead_pid()}))
    assert networks.claim(tmp_path / "new", registry=registry, listening=never_listening) == Networks(20)
    assert json.loads((registry / "127.20.json").read_text())["dataDir"] == str(tmp_path / "new")


def test_ranges_where_something_listens_are_skipped(tmp_path: Path) -> None:
    got = networks.claim(tmp_path / "a", registry=tmp_path / "r", listening=lambda: {"127.0.0.1", "127.21.0.7"})
    assert got == Networks(23)


def test_a_data_dir_from_before_keeps_the_node_agent_defaults(tmp_path: Path) -> None:
    (tmp_path / "old" / "seed" / "node").mkdir(parents=True)
    got = networks.claim(tmp_path / "old", registry=tmp_path / "r", listening=never_listening)
    assert (got.pods, got.services, got.load_balancers) == ("127.1.0.0/16", "127.2.0.0/16", "127.3.0.0/16")


def test_no_free_ranges_names_the_gardens_that_hold_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(networks, "candidates", lambda: [Networks(20), Networks(23)])
    registry = tmp_path / "r"
    networks.claim(tmp_path / "a", registry=registry, listening=never_listening)
    networks.claim(tmp_path / "b", registry=registry, listening=never_listening)
    with pytest.raises(NoFreeNetworks) as exc:
        networks.claim(tmp_path / "c", registry=registry, listening=never_listening)
    assert str(exc.value) == (
        f"no free loopback ranges for another garden: 2 gardens run on this machine ({tmp_path / 'a'}, "
        f"{tmp_path / 'b'}); stop one with `gardener local down --data-dir DIR`"
    )
    with pytest.raises(NoFreeNetworks) as exc:
        networks.claim(tmp_path / "d", registry=tmp_path / "r2", listening=lambda: {"127.20.0.1", "127.25.9.9"})
    assert str(exc.value) == "no free loopback ranges for another garden: something listens in every one of them"


def test_listening_addresses_sees_a_listening_socket() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.9", 0))
        sock.listen()
        assert "127.0.0.9" in networks.listening_addresses()


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path / "garden2" / "seed")],
        start_new_session=True,
    )
    yield proc
    proc.kill()
    proc.wait()


def test_down_of_one_garden_leaves_a_garden_whose_dir_name_extends_it(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    assert sleeper.pid in processes.strays(tmp_path / "garden2")
    assert sleeper.pid not in processes.strays(tmp_path / "garden")


def test_up_message(tmp_path: Path) -> None:
    result = UpResult(
        data_dir=tmp_path,
        already_running=(),
        started=("apiserver",),
        server="https://127.0.0.1:4444",
        kubeconfig=tmp_path / "garden.kubeconfig",
        networks=Networks(20),
        cloudprofile_created=True,
    )
    assert up_message(result).splitlines() == [
        f"garden is up in {tmp_path}",
        "  API server     https://127.0.0.1:4444",
        "  loopback       pods 127.20.0.0/16, services 127.21.0.0/16, load balancers 127.22.0.0/16",
        "  CloudProfile   local (created)",
        f"  logs           {tmp_path / 'logs'}",
        f"export KUBECONFIG={tmp_path / 'garden.kubeconfig'}",
    ]
    again = UpResult(**{**vars(result), "already_running": ("apiserver",), "started": (), "networks": None})
    assert up_message(again).splitlines()[0] == f"garden is already up in {tmp_path}; nothing to start"
    partly = UpResult(**{**vars(result), "already_running": ("apiserver",), "started": ("gardenlet", "scheduler")})
    assert up_message(partly).splitlines()[0] == (
        f"garden was already running in {tmp_path}; started what was missing: gardenlet, scheduler"
    )


def test_status_table(tmp_path: Path) -> None:
    state = {
        "apiserver": {"running": True, "pid": 42},
        "gardenlet": {"running": False, "pid": None},
        "garden": {"server": "https://127.0.0.1:4444", "kubeconfig": str(tmp_path / "garden.kubeconfig")},
        "networks": Networks(23).as_dict(),
    }
    assert status_table(tmp_path, state).splitlines() == [
        "NAME        RUNNING   PID",
        "apiserver   true      42",
        "gardenlet   false     -",
        "",
        f"data dir     {tmp_path}",
        "API server   https://127.0.0.1:4444",
        f"kubeconfig   {tmp_path / 'garden.kubeconfig'}",
        "loopback     pods 127.23.0.0/16, services 127.24.0.0/16, load balancers 127.25.0.0/16",
    ]


@pytest.mark.parametrize("verb", ["up", "down", "status"])
def test_help_shows_the_data_dir_default(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["local", verb, "--help"])
    assert "(default: .gardener-local)" in " ".join(capsys.readouterr().out.split())
