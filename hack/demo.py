"""`make demo`: a local garden creates a shoot, and kubectl works against it.

Starts `gardener local up` (garden API server, controller-manager, scheduler, and a local seed with
its node agent, extensions and gardenlet), applies a Project, a CloudProfile, a SecretBinding and a
workerless Shoot, follows the shoot's progress until it is Ready, runs kubectl against the new
cluster, then stops everything again.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "hack" / "examples"
sys.path.insert(0, str(ROOT))

from tests.helpers import KUBECTL  # noqa: E402


def kubectl(kubeconfig: Path, *args: str, show: bool = True) -> str:
    if show:
        print(f"\n$ kubectl {' '.join(args)}", flush=True)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    result = subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env, check=False)
    if show:
        for line in (result.stdout + result.stderr).rstrip().splitlines():
            print(f"  {line}")
    if result.returncode != 0:
        raise SystemExit(f"demo: kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def gardener(*args: str) -> None:
    print(f"\n$ gardener {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "gardener.local.main", *args], text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo: gardener {' '.join(args)} failed")


def wait_for_seed(kc: Path, *, timeout: float = 60.0) -> None:
    """The gardenlet registers seed `local` through a bootstrap token; wait until it reports Ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seeds = json.loads(kubectl(kc, "get", "seeds", "-o", "json", show=False))
        for seed in seeds.get("items") or []:
            for condition in (seed.get("status") or {}).get("conditions") or []:
                if condition.get("type") == "GardenletReady" and condition.get("status") == "True":
                    return
        time.sleep(0.5)
    raise SystemExit("demo: the local seed did not become ready in time; see the gardenlet log under the data dir")


def wait_for_shoot(kc: Path, *, timeout: float = 180.0) -> None:
    print("\nwaiting for shoot garden-dev/demo:", flush=True)
    deadline = time.monotonic() + timeout
    last = ""
    started = time.monotonic()
    while time.monotonic() < deadline:
        shoot = json.loads(kubectl(kc, "get", "shoot", "demo", "-n", "garden-dev", "-o", "json", show=False))
        op = (shoot.get("status") or {}).get("lastOperation") or {}
        line = (
            f"  {op.get('type', '-')} {op.get('state', 'Pending')} {op.get('progress', 0)}% {op.get('description', '')}"
        )
        if line != last:
            print(line, flush=True)
            last = line
        if op.get("state") == "Succeeded" and op.get("type") in ("Create", "Reconcile"):
            print(f"  shoot is ready after {time.monotonic() - started:.1f}s")
            return
        time.sleep(0.5)
    raise SystemExit("demo: the shoot did not become ready in time; see the logs under the data dir")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gardener-demo-") as tmp:
        data = Path(tmp) / "garden"
        gardener("local", "up", "--data-dir", str(data))
        kc = data / "garden.kubeconfig"
        try:
            wait_for_seed(kc)
            kubectl(kc, "get", "seeds")
            kubectl(
                kc, "apply", "-f", str(EXAMPLES / "00-project.yaml"), "-f", str(EXAMPLES / "10-cloudprofile-local.yaml")
            )
            kubectl(kc, "wait", "--for=jsonpath={.status.phase}=Ready", "project/dev", "--timeout=60s")
            kubectl(
                kc,
                "apply",
                "-f",
                str(EXAMPLES / "30-secretbinding-local.yaml"),
                "-f",
                str(EXAMPLES / "40-shoot-workerless.yaml"),
            )
            wait_for_shoot(kc)
            kubectl(kc, "get", "shoots", "-A")
            secret = json.loads(
                kubectl(kc, "get", "secret", "demo.kubeconfig", "-n", "garden-dev", "-o", "json", show=False)
            )
            shoot_kc = Path(tmp) / "demo.kubeconfig"
            shoot_kc.write_bytes(base64.b64decode(secret["data"]["kubeconfig"]))
            shoot_kc.chmod(0o600)
            print(f"\nthe shoot's admin kubeconfig is the Secret garden-dev/demo.kubeconfig (saved to {shoot_kc})")
            kubectl(shoot_kc, "get", "namespaces")
            kubectl(shoot_kc, "create", "namespace", "hello-from-the-demo")
            kubectl(shoot_kc, "get", "namespace", "hello-from-the-demo")
            print("\ndemo: done")
        finally:
            gardener("local", "down", "--data-dir", str(data))


if __name__ == "__main__":
    main()
