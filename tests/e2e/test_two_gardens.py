"""Two local gardens on one machine at once, each with a shoot: they come up together, get loopback ranges of their
own, and stopping one leaves the other running.

The data dirs are `garden` and `garden2`, so a `down` that matched data dirs by prefix would stop both.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.local import networks
from gardener.local.garden import COMPONENTS
from gardener.runtime.process import PidFile
from tests.helpers import eventually, kubectl

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "hack" / "examples"

pytestmark = [
    pytest.mark.skipif(not Path("/usr/bin/etcd").exists(), reason="etcd is not installed (Debian package etcd-server)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="load balancers listen on port 443 of loopback addresses"),
]


def gardener(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gardener.local.main", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, f"{proc.args!r} failed: {err}{out}"
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def pids(data: Path) -> dict[str, int]:
    records = {name: PidFile.read(data / "run" / f"{name}.pid") for name in COMPONENTS}
    return {name: record.pid for name, record in records.items() if record is not None}


def left_over(data: Path) -> list[int]:
    needle = (str(data) + "/").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b"/")
            except OSError:
                continue
            if needle in cmdline + b"/" and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def get(kc: Path, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json", kubeconfig=kc).stdout)


@pytest.fixture(scope="module")
def gardens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    root = tmp_path_factory.mktemp("two-gardens")
    dirs = [root / "garden", root / "garden2"]
    try:
        starting = [gardener("local", "up", "--data-dir", str(d)) for d in dirs]  # at once: the registry decides
        outputs = [finish(p) for p in starting]
        ranges = [next(line for line in out.splitlines() if line.startswith("  loopback")) for out in outputs]
        assert ranges[0] != ranges[1], ranges
        yield dirs
    finally:
        for d in dirs:
            gardener("local", "down", "--data-dir", str(d)).communicate(timeout=180)
        for d in dirs:
            assert not left_over(d), f"processes of {d} left after `gardener local down`"
            assert not [p for p in networks.registry_dir().glob("127.*.json") if str(d) in p.read_text()]


def create_shoot(data: Path, name: str) -> None:
    kc = data / "garden.kubeconfig"

    def seed_ready() -> bool:
        conditions = (get(kc, "seed", "local").get("status") or {}).get("conditions") or []
        return any(c["type"] == "GardenletReady" and c["status"] == "True" for c in conditions)

    eventually(seed_ready, timeout=120, interval=0.5, what=f"seed of {data} ready")
    kubectl("apply", "-f", str(EXAMPLES / "00-project.yaml"), kubeconfig=kc)
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "project/dev", "--timeout=60s", kubeconfig=kc)
    shoot = yaml.safe_load((EXAMPLES / "40-shoot-workerless.yaml").read_text())
    shoot["metadata"]["name"] = name
    kubectl("apply", "-f", str(EXAMPLES / "30-secretbinding-local.yaml"), kubeconfig=kc)
    kubectl("apply", "-f", "-", input=json.dumps(shoot), kubeconfig=kc)


def shoot_ready(data: Path, name: str) -> bool:
    shoot = get(data / "garden.kubeconfig", "shoot", name, "-n", "garden-dev")
    last = (shoot.get("status") or {}).get("lastOperation") or {}
    assert last.get("state") == "Succeeded" and last.get("progress") == 100, (data, last)
    return True


def shoot_kubeconfig(data: Path, name: str) -> Path:
    secret = get(data / "garden.kubeconfig", "secret", f"{name}.kubeconfig", "-n", "garden-dev")
    path = data / f"{name}.kubeconfig"
    path.write_bytes(base64.b64decode(secret["data"]["kubeconfig"]))
    return path


def test_two_gardens_each_with_a_shoot(gardens: list[Path]) -> None:
    names = {gardens[0]: "one", gardens[1]: "two"}
    for data, name in names.items():
        create_shoot(data, name)
    for data, name in names.items():
        try:
            eventually(lambda d=data, n=name: shoot_ready(d, n), timeout=180, interval=1, what=f"shoot {name} ready")  # type: ignore[misc]
        except AssertionError as exc:
            log = (data / "logs" / "kubelet.log").read_text(errors="replace").splitlines()[-30:]
            raise AssertionError(f"{exc}\nkubelet of {data}:\n" + "\n".join(log)) from None

    for data, name in names.items():
        ranges = networks.recorded(data)
        assert ranges is not None
        kc = shoot_kubeconfig(data, name)
        server = yaml.safe_load(kc.read_text())["clusters"][0]["cluster"]["server"]
        assert ranges.contains(server.removeprefix("https://").split(":")[0]), (server, ranges)
        version = json.loads(kubectl("version", "-o", "json", kubeconfig=kc).stdout)["serverVersion"]["gitVersion"]
        shoot = get(data / "garden.kubeconfig", "shoot", name, "-n", "garden-dev")
        assert version == f"v{shoot['spec']['kubernetes']['version']}+gardener.py"
        kubectl("create", "namespace", f"hello-{name}", kubeconfig=kc)

    # Stopping the first garden leaves every process of the second one, and its shoot, alone.
    second = pids(gardens[1])
    down = gardener("local", "down", "--data-dir", str(gardens[0]))
    assert finish(down).startswith(f"stopped the garden in {gardens[0]}: ")
    assert not left_over(gardens[0])
    assert all(alive(pid) for pid in second.values()), second
    kubectl("get", "namespace", "hello-two", kubeconfig=gardens[1] / "two.kubeconfig")
