"""`gardener local` and `gardenctl` as a newcomer meets them, on a garden without a seed (no root needed): what
`up`, `status` and `down` print, the CloudProfile `up` installs, the version the server reports, gardenctl's
flag form of `target`, and gardenctl's message once the garden is down."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gardener.local.cloudprofile import CLOUDPROFILE
from gardener.runtime.process import PidFile
from tests.helpers import eventually, kubectl

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "hack" / "examples"


def gardener(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gardener.local.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pid(data: Path, name: str) -> int:
    record = PidFile.read(data / "run" / f"{name}.pid")
    assert record is not None, f"no pid file of {name}"
    return record.pid


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("local-cli") / "garden"
    try:
        first = gardener("local", "up", "--no-seed", "--data-dir", str(data))
        assert first.returncode == 0, first.stderr
        port = re.search(r"https://127\.0\.0\.1:(\d+)", first.stdout)
        assert port, first.stdout
        assert first.stdout.splitlines() == [
            f"garden is up in {data}",
            f"  API server     https://127.0.0.1:{port.group(1)}",
            "  CloudProfile   local (created)",
            f"  logs           {data / 'logs'}",
            f"export KUBECONFIG={data / 'garden.kubeconfig'}",
        ]
        yield data
    finally:
        gardener("local", "down", "--data-dir", str(data))


def server(data: Path) -> str:
    return str(
        json.loads(gardener("local", "status", "-o", "json", "--data-dir", str(data)).stdout)["garden"]["server"]
    )


def test_up_installs_the_example_cloudprofile(garden: Path) -> None:
    kc = garden / "garden.kubeconfig"
    applied = kubectl("apply", "-f", str(EXAMPLES / "10-cloudprofile-local.yaml"), kubeconfig=kc)
    assert (applied.stdout, applied.stderr) == ("cloudprofile.core.gardener.cloud/local unchanged\n", "")
    stored = json.loads(kubectl("get", "cloudprofile", "local", "-o", "json", kubeconfig=kc).stdout)
    assert [v["version"] for v in stored["spec"]["kubernetes"]["versions"]] == [
        v["version"] for v in CLOUDPROFILE["spec"]["kubernetes"]["versions"]
    ]


def test_the_server_reports_the_version_shoots_get(garden: Path) -> None:
    version = json.loads(kubectl("version", "-o", "json", kubeconfig=garden / "garden.kubeconfig").stdout)
    newest = max(
        (v["version"] for v in CLOUDPROFILE["spec"]["kubernetes"]["versions"] if v["version"].startswith("1.32.")),
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )
    assert version["serverVersion"]["gitVersion"] == f"v{newest}+gardener.py" == "v1.32.2+gardener.py"
    assert (version["serverVersion"]["major"], version["serverVersion"]["minor"]) == ("1", "32")


def test_up_again_finds_the_running_garden_and_starts_only_what_is_missing(garden: Path) -> None:
    url = server(garden)
    again = gardener("local", "up", "--no-seed", "--data-dir", str(garden))
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[:3] == [
        f"garden is already up in {garden}; nothing to start",
        f"  API server     {url}",
        "  CloudProfile   local (exists, left as it is)",
    ]
    cm = pid(garden, "controller-manager")
    os.kill(cm, signal.SIGKILL)
    eventually(lambda: not alive(cm), timeout=10, what="controller-manager killed")
    partly = gardener("local", "up", "--no-seed", "--data-dir", str(garden))
    assert partly.returncode == 0, partly.stderr
    assert partly.stdout.splitlines()[0] == (
        f"garden was already running in {garden}; started what was missing: controller-manager"
    )


def test_a_second_up_at_the_same_time_is_refused(garden: Path) -> None:
    fd = os.open(garden / "run" / "up.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        busy = gardener("local", "up", "--no-seed", "--data-dir", str(garden))
    finally:
        os.close(fd)
    assert (busy.returncode, busy.stdout) == (1, "")
    assert busy.stderr == f"gardener local up: another `gardener local up` is running for {garden}\n"


def test_status_is_a_table(garden: Path) -> None:
    out = gardener("local", "status", "--data-dir", str(garden)).stdout.splitlines()
    assert out[0].split() == ["NAME", "RUNNING", "PID"]
    blank = out.index("")
    rows = {line.split()[0]: line.split()[1:] for line in out[1:blank]}
    assert rows["apiserver"] == ["true", str(pid(garden, "apiserver"))]
    assert rows["gardenlet"] == ["false", "-"]
    assert rows["kubelet"] == ["false", "-"]
    assert out[blank:] == [
        "",
        f"data dir     {garden}",
        f"API server   {server(garden)}",
        f"kubeconfig   {garden / 'garden.kubeconfig'}",
    ]
    doc = json.loads(gardener("local", "status", "-o", "json", "--data-dir", str(garden)).stdout)
    assert doc["dataDir"] == str(garden) and doc["apiserver"] == {"running": True, "pid": pid(garden, "apiserver")}


def test_gardenctl_targets_with_flags_then_names_the_garden_it_cannot_reach(garden: Path, tmp_path: Path) -> None:
    env = {**os.environ, "GCTL_HOME": str(tmp_path / "gctl")}

    def gctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gardener.cli.main", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    kc = garden / "garden.kubeconfig"
    kubectl("apply", "-f", str(EXAMPLES / "00-project.yaml"), kubeconfig=kc)
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "project/dev", "--timeout=60s", kubeconfig=kc)
    kubectl(
        "apply",
        "-f",
        str(EXAMPLES / "30-secretbinding-local.yaml"),
        "-f",
        str(EXAMPLES / "40-shoot-workerless.yaml"),
        kubeconfig=kc,
    )
    missing = gctl("config", "set-garden", "local", "--kubeconfig", str(tmp_path / "nope"))
    assert (missing.returncode, missing.stderr) == (1, f"gardenctl: kubeconfig {tmp_path / 'nope'} does not exist\n")
    assert gctl("config", "set-garden", "local", "--kubeconfig", str(kc)).returncode == 0
    flags = gctl("target", "--garden", "local", "--project", "dev", "--shoot", "demo")
    assert (flags.returncode, flags.stdout, flags.stderr) == (0, 'Successfully targeted shoot "demo"\n', "")
    assert gctl("target", "view").stdout == "garden: local\nproject: dev\nshoot: demo\n"
    unknown = gctl("target", "--garden", "local", "--project", "dev", "--shoot", "web")
    assert (unknown.returncode, unknown.stderr) == (1, 'gardenctl: shoots.core.gardener.cloud "web" not found\n')
    assert gctl("target", "view").stdout == "garden: local\nproject: dev\nshoot: demo\n"
    positional = gctl("target", "project", "dev")
    assert positional.stdout == 'Successfully targeted project "dev"\n'

    url = server(garden)
    down = gardener("local", "down", "--data-dir", str(garden))
    assert down.stdout == f"stopped the garden in {garden}: scheduler, controller-manager, apiserver\n"
    unreachable = gctl("get", "shoots")
    assert (unreachable.returncode, unreachable.stdout) == (1, "")
    assert unreachable.stderr == f"gardenctl: cannot reach the garden at {url}: connection refused\n"
    assert gardener("local", "down", "--data-dir", str(garden)).stdout == f"nothing was running in {garden}\n"

    # Up again: the API server gets its old port back, so the kubeconfigs handed out stay good.
    up = gardener("local", "up", "--no-seed", "--data-dir", str(garden))
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines()[:2] == [f"garden is up in {garden}", f"  API server     {url}"]
    assert gctl("get", "shoots").returncode == 0
