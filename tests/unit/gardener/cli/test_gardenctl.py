"""gardenctl's command line: parsing, the configuration directory, and the one-line messages a user sees."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gardener.cli import session
from gardener.cli.garden import connection_problem
from gardener.cli.main import _parser, main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GCTL_HOME", str(tmp_path / "gctl"))
    monkeypatch.delenv("GARDENCTL_HOME", raising=False)
    return tmp_path / "gctl"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def kubeconfig(path: Path, server: str) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "garden", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "admin", "user": {"token": "t"}}],
        "contexts": [{"name": "garden", "context": {"cluster": "garden", "user": "admin"}}],
        "current-context": "garden",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def test_set_garden_refuses_a_kubeconfig_that_does_not_exist(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "config", "set-garden", "local", "--kubeconfig", str(tmp_path / "nope.yaml"))
    assert (code, out, err) == (1, "", f"gardenctl: kubeconfig {tmp_path / 'nope.yaml'} does not exist\n")
    assert not (home / "gardenctl-v2.yaml").exists()


def test_set_garden_stores_an_absolute_path_in_gctl_home(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig(tmp_path / "garden.kubeconfig", "https://127.0.0.1:1")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "config", "set-garden", "local", "--kubeconfig", "garden.kubeconfig") == (
        0,
        "garden local configured\n",
        "",
    )
    doc = yaml.safe_load((home / "gardenctl-v2.yaml").read_text())
    assert doc == {"gardens": [{"identity": "local", "kubeconfig": str(tmp_path / "garden.kubeconfig")}]}


def test_gctl_home_as_in_gardenctl_v2_with_the_old_name_as_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GCTL_HOME", raising=False)
    monkeypatch.setenv("GARDENCTL_HOME", str(tmp_path / "old"))
    assert session.home() == tmp_path / "old"
    monkeypatch.setenv("GCTL_HOME", str(tmp_path / "new"))
    assert session.home() == tmp_path / "new"
    monkeypatch.delenv("GCTL_HOME")
    monkeypatch.delenv("GARDENCTL_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert session.home() == tmp_path / ".garden"


def test_target_takes_gardenctl_v2_flags_and_the_positional_form() -> None:
    flags = _parser().parse_args(["target", "--garden", "local", "--project", "team1", "--shoot", "web"])
    assert (flags.level, flags.garden, flags.project, flags.shoot) == (None, "local", "team1", "web")
    positional = _parser().parse_args(["target", "shoot", "web"])
    assert (positional.level, positional.name, positional.garden) == ("shoot", "web", None)
    both = _parser().parse_args(["target", "--garden", "local", "project", "team1"])
    assert (both.level, both.name, both.garden) == ("project", "team1", "local")


def test_target_flags_name_an_unconfigured_garden(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "target", "--garden", "local", "--project", "team1", "--shoot", "web")
    assert (code, out) == (1, "")
    assert (
        err == 'gardenctl: garden "local" is not configured: run gardenctl config set-garden local --kubeconfig FILE\n'
    )


def test_target_without_anything_says_what_to_pass(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "target")
    assert code == 1
    assert err == (
        "gardenctl: nothing to target: run gardenctl target garden|project|shoot NAME, "
        "or pass --garden, --project, --shoot\n"
    )


def test_target_garden_by_flag(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kc = kubeconfig(tmp_path / "garden.kubeconfig", "https://127.0.0.1:1")
    run(capsys, "config", "set-garden", "local", "--kubeconfig", str(kc))
    assert run(capsys, "target", "--garden", "local") == (0, 'Successfully targeted garden "local"\n', "")
    assert run(capsys, "target", "view") == (0, "garden: local\n", "")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound by nobody but this socket, which does not listen: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_an_unreachable_garden_is_named_by_its_url(
    home: Path, tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    kc = kubeconfig(tmp_path / "garden.kubeconfig", f"https://127.0.0.1:{closed_port}")
    run(capsys, "config", "set-garden", "local", "--kubeconfig", str(kc))
    run(capsys, "target", "garden", "local")
    code, out, err = run(capsys, "get", "shoots", "-A")
    assert (code, out) == (1, "")
    assert err == f"gardenctl: cannot reach the garden at https://127.0.0.1:{closed_port}: connection refused\n"


def test_connection_problems_in_words() -> None:
    class MaxRetryError(Exception):
        def __init__(self, reason: BaseException) -> None:
            super().__init__("Max retries exceeded")
            self.reason = reason

    class NewConnectionError(Exception):
        pass

    refused = NewConnectionError("<conn object at 0x1>: Failed to establish a new connection")
    refused.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert connection_problem(MaxRetryError(refused)) == "connection refused"
    assert connection_problem(MaxRetryError(socket.gaierror(-2, "Name or service not known"))) == "unknown host"
    assert connection_problem(MaxRetryError(TimeoutError())) == "timed out"
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "self-signed certificate"
    assert connection_problem(untrusted) == "the server's certificate is not trusted (self-signed certificate)"
    assert connection_problem(MaxRetryError(OSError(113, "No route to host"))) == "no route to host"


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    for args, default in ((["get", "--help"], "(default: table)"), (["register", "seed", "--help"], "(default: .)")):
        code, out, _ = run(capsys, *args)
        assert code == 0 and default in " ".join(out.split()), out


def test_register_seed_names_the_garden_it_cannot_reach(
    home: Path, tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    kc = kubeconfig(tmp_path / "garden.kubeconfig", f"https://127.0.0.1:{closed_port}")
    args = ("register", "seed", "s", "--provider", "local", "--region", "r", "--kubeconfig", str(kc))
    code, out, err = run(capsys, *args, "--output-dir", str(tmp_path))
    assert (code, out) == (1, "")
    assert err == f"gardenctl: cannot reach the garden at https://127.0.0.1:{closed_port}: connection refused\n"


def test_register_seed_takes_the_seed_kubeconfig(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    args = _parser().parse_args(
        ["register", "seed", "s2", "--provider", "local", "--region", "r", "--seed-kubeconfig", "seed.kubeconfig"]
    )
    assert args.seed_kubeconfig == Path("seed.kubeconfig")
    missing = tmp_path / "nope.kubeconfig"
    garden = kubeconfig(tmp_path / "garden.kubeconfig", "https://127.0.0.1:1")
    code, _, err = run(
        capsys,
        "register",
        "seed",
        "s2",
        "--provider",
        "local",
        "--region",
        "r",
        "--kubeconfig",
        str(garden),
        "--seed-kubeconfig",
        str(missing),
    )
    assert code != 0
    assert err == f"gardenctl: seed kubeconfig {missing} does not exist\n"
