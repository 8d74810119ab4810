"""`make demo`: a local garden creates a shoot, and kubectl works against it.

Starts `gardener local up` (garden API server, controller-manager, scheduler, the CloudProfile `local`, and a
local seed with its node agent, extensions and gardenlet) in a data dir of its own, so it runs beside a garden
you started yourself. It applies a Project, a SecretBinding and a workerless Shoot, follows the shoot's progress
until it is Ready, runs kubectl against the new cluster, then stops everything again. The data dir is removed
when the demo succeeded and kept, with its logs, when it did not.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
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
    raise SystemExit("demo: the local seed did not become ready in time")


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
    raise SystemExit("demo: the shoot did not become ready in time")


NEXT_STEPS = """
try it yourself (more in README.md, "Try it yourself"):
  export PATH=$PWD/.venv/bin:$PATH
  gardener local up                              # a garden of your own in .gardener-local
  export KUBECONFIG=$PWD/.gardener-local/garden.kubeconfig
  kubectl apply -f hack/examples/00-project.yaml
  kubectl wait --for=jsonpath='{.status.phase}'=Ready project/dev
  kubectl apply -f hack/examples/30-secretbinding-local.yaml -f hack/examples/40-shoot-workerless.yaml
  kubectl get shoots -n garden-dev -w            # hack/examples/50-shoot-workers.yaml: a shoot with machines
  gardenctl config set-garden local --kubeconfig $KUBECONFIG
  gardenctl target --garden local --project dev
  gardenctl get shoots
  gardener local down                            # stops every process of that garden
"""


def run(tmp: Path, data: Path) -> None:
    kc = data / "garden.kubeconfig"
    gardener("local", "up", "--data-dir", str(data))
    wait_for_seed(kc)
    kubectl(kc, "get", "seeds")
    kubectl(kc, "get", "cloudprofiles")
    kubectl(kc, "apply", "-f", str(EXAMPLES / "00-project.yaml"))
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
    secret = json.loads(kubectl(kc, "get", "secret", "demo.kubeconfig", "-n", "garden-dev", "-o", "json", show=False))
    shoot_kc = tmp / "demo.kubeconfig"
    shoot_kc.write_bytes(base64.b64decode(secret["data"]["kubeconfig"]))
    shoot_kc.chmod(0o600)
    print("\nthe shoot's admin kubeconfig is the Secret garden-dev/demo.kubeconfig")
    kubectl(shoot_kc, "get", "namespaces")
    kubectl(shoot_kc, "create", "namespace", "hello-from-the-demo")
    kubectl(shoot_kc, "get", "namespace", "hello-from-the-demo")
    print("\nthe shoot's control plane on the seed: etcd, kube-apiserver, kube-controller-manager")
    kubectl(data / "seed" / "apiserver" / "admin.kubeconfig", "get", "pods", "-n", "shoot--dev--demo")
    print("\nthe shoot's kube-controller-manager turns a Deployment into a ReplicaSet and Pods")
    print("(this shoot has no workers: its Pods stay Pending, with no Node to run on)")
    kubectl(shoot_kc, "create", "deployment", "web", "--image=python:3.12", "--replicas=2", "-n", "hello-from-the-demo")
    wait_for_replicaset(shoot_kc)
    kubectl(shoot_kc, "get", "deployments,replicasets,pods", "-n", "hello-from-the-demo")


def wait_for_replicaset(kubeconfig: Path, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = json.loads(kubectl(kubeconfig, "get", "pods", "-n", "hello-from-the-demo", "-o", "json", show=False))
        if len(pods["items"]) == 2:
            return
        time.sleep(1)
    raise SystemExit("demo: the shoot's kube-controller-manager made no pods for deployment web")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="gardener-demo-"))
    data = tmp / "garden"
    try:
        run(tmp, data)
    except (Exception, KeyboardInterrupt, SystemExit) as exc:
        reason = str(exc) if isinstance(exc, SystemExit) else f"demo: {exc.__class__.__name__} {exc}".rstrip()
        with contextlib.suppress(SystemExit):
            gardener("local", "down", "--data-dir", str(data))
        print(f"\n{reason}\ndemo: the data dir is kept for a look: {data} (logs in {data / 'logs'})", file=sys.stderr)
        sys.exit(1)
    gardener("local", "down", "--data-dir", str(data))
    shutil.rmtree(tmp, ignore_errors=True)
    print("\ndemo: done")
    print(NEXT_STEPS, end="")


if __name__ == "__main__":
    main()
