"""The local garden end to end: bring-up, the example manifests, project multi-tenancy, gardenctl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gardener.apiserver.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.runtime.pki import KeyPair, issue_client_cert
from tests.helpers import eventually, kubectl

#: shared/ lies beside the repository, on developer machines and in CI alike
EXAMPLES = Path(__file__).resolve().parents[2] / "hack" / "examples"


def _gardener(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gardener.local.main", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("garden")
    result = _gardener("local", "up", "--no-seed", "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    try:
        yield data
    finally:
        down = _gardener("local", "down", "--data-dir", str(data))
        assert down.returncode == 0, down.stderr
        status = json.loads(_gardener("local", "status", "--data-dir", str(data), "-o", "json").stdout)
        assert not status["apiserver"]["running"] and not status["controller-manager"]["running"]


def _user(garden: Path, user: str) -> Path:
    pki = garden / "apiserver" / "pki"
    ca = KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())
    cert = issue_client_cert(ca, user=user, groups=())
    server = json.loads(
        kubectl("config", "view", "--raw", "-o", "json", kubeconfig=garden / "garden.kubeconfig").stdout
    )["clusters"][0]["cluster"]["server"]
    path = garden / f"{user}.kubeconfig"
    write_kubeconfig(
        path,
        build_kubeconfig(
            server=server, ca_pem=ca.cert_pem, user=user, client_cert_pem=cert.cert_pem, client_key_pem=cert.key_pem
        ),
    )
    return path


def _apply_examples(kc: Path) -> None:
    for name in ("00-project.yaml", "10-cloudprofile-local.yaml", "20-seed-local.yaml"):
        kubectl("apply", "-f", str(EXAMPLES / name), kubeconfig=kc)
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "project/dev", "--timeout=60s", kubeconfig=kc)
    for name in ("30-secretbinding-local.yaml", "40-shoot-workerless.yaml", "50-shoot-workers.yaml"):
        kubectl("apply", "-f", str(EXAMPLES / name), kubeconfig=kc)


def test_examples_apply_and_shoots_print_columns(garden: Path) -> None:
    kc = garden / "garden.kubeconfig"
    _apply_examples(kc)
    out = kubectl("get", "shoots", "-A", kubeconfig=kc).stdout
    header = out.splitlines()[0].split()
    for column in ("CLOUDPROFILE", "PROVIDER", "REGION", "HIBERNATION", "STATUS", "AGE"):
        assert column in header, out
    assert "K8S" in header and "VERSION" in header and "LAST" in header and "OPERATION" in header, out
    assert {line.split()[1] for line in out.splitlines()[1:]} == {"demo", "apps"}
    seeds = kubectl("get", "seeds", kubeconfig=kc).stdout.splitlines()[0].split()
    assert seeds == ["NAME", "STATUS", "PROVIDER", "REGION", "AGE"]
    ns = json.loads(kubectl("get", "namespace", "garden-dev", "-o", "json", kubeconfig=kc).stdout)
    assert ns["metadata"]["labels"]["project.gardener.cloud/name"] == "dev"


def test_project_members_see_only_their_project(garden: Path) -> None:
    kc = garden / "garden.kubeconfig"
    ops = {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "Project",
        "metadata": {"name": "ops"},
        "spec": {"owner": {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol@example.com"}},
    }
    kubectl("apply", "-f", "-", input=json.dumps(ops), kubeconfig=kc)
    kubectl("apply", "-f", str(EXAMPLES / "00-project.yaml"), kubeconfig=kc)
    for project in ("ops", "dev"):
        kubectl("wait", "--for=jsonpath={.status.phase}=Ready", f"project/{project}", "--timeout=60s", kubeconfig=kc)
    alice, carol = _user(garden, "alice@example.com"), _user(garden, "carol@example.com")

    def can(user: Path, *args: str) -> bool:
        return kubectl(*args, kubeconfig=user, check=False).returncode == 0

    eventually(lambda: can(alice, "get", "shoots", "-n", "garden-dev"), what="alice reads her shoots")
    assert can(alice, "get", "secrets", "-n", "garden-dev")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "alice-s", "namespace": "garden-dev"}}
    assert kubectl("apply", "-f", "-", input=json.dumps(secret), kubeconfig=alice, check=False).returncode == 0
    denied = kubectl("get", "shoots", "-n", "garden-ops", kubeconfig=alice, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr
    assert not can(alice, "get", "secrets", "-n", "garden-ops")
    eventually(lambda: can(carol, "get", "secrets", "-n", "garden-ops"), what="carol reads her secrets")
    assert not can(carol, "get", "shoots", "-n", "garden-dev")
    assert not can(carol, "get", "secret", "alice-s", "-n", "garden-dev")
    # bob is a viewer of dev: shoots yes, secrets no
    bob = _user(garden, "bob@example.com")
    eventually(lambda: can(bob, "get", "shoots", "-n", "garden-dev"), what="viewer reads shoots")
    assert not can(bob, "get", "secrets", "-n", "garden-dev")


def test_gardenctl_targets_and_lists(garden: Path, tmp_path: Path) -> None:
    env = {**os.environ, "GARDENCTL_HOME": str(tmp_path / "gctl")}

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
    _apply_examples(kc)
    missing = gctl("get", "shoots")
    assert missing.returncode != 0 and missing.stderr.strip().startswith("gardenctl: no garden targeted")
    assert len(missing.stderr.strip().splitlines()) == 1
    assert gctl("config", "set-garden", "local", "--kubeconfig", str(kc)).returncode == 0
    assert gctl("target", "garden", "local").returncode == 0
    bad = gctl("target", "project", "nope")
    assert bad.returncode != 0 and "not found" in bad.stderr and "Traceback" not in bad.stderr
    assert gctl("target", "project", "dev").returncode == 0
    table = gctl("get", "shoots")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:2] == ["NAME", "CLOUDPROFILE"]
    assert {line.split()[0] for line in table.stdout.splitlines()[1:]} == {"apps", "demo"}
    as_json = json.loads(gctl("get", "shoots", "-o", "json").stdout)
    assert {i["metadata"]["name"] for i in as_json["items"]} == {"apps", "demo"}
    assert "local" in gctl("ls", "seeds").stdout
    assert "dev" in gctl("get", "projects").stdout
    assert gctl("target", "shoot", "demo").returncode == 0
    assert "shoot: demo" in gctl("target", "view").stdout


def test_examples_read_back_defaulted(garden: Path) -> None:
    kc = garden / "garden.kubeconfig"
    _apply_examples(kc)
    demo = json.loads(kubectl("get", "shoot", "demo", "-n", "garden-dev", "-o", "json", kubeconfig=kc).stdout)
    assert demo["spec"]["kubernetes"]["version"] == "1.32.2"  # "1.32" completed from the CloudProfile
    assert demo["status"]["technicalID"] == "shoot--dev--demo"
    apps = json.loads(kubectl("get", "shoot", "apps", "-n", "garden-dev", "-o", "json", kubeconfig=kc).stdout)
    pool_b = apps["spec"]["provider"]["workers"][1]
    assert pool_b["machine"]["image"] == {"name": "local", "version": "1.0.0"}
    assert pool_b["maxSurge"] == 1 and pool_b["maxUnavailable"] == 0
    assert apps["spec"]["purpose"] == "evaluation"
    project = json.loads(kubectl("get", "project", "dev", "-o", "json", kubeconfig=kc).stdout)
    assert any(m["name"] == "alice@example.com" and m["role"] == "admin" for m in project["spec"]["members"])


def test_project_deletion_needs_confirmation_and_deletes_shoots_first(garden: Path) -> None:
    kc = garden / "garden.kubeconfig"
    project = {
        "apiVersion": "core.gardener.cloud/v1beta1",
        "kind": "Project",
        "metadata": {"name": "gone"},
        "spec": {"owner": {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "dora@example.com"}},
    }
    kubectl("apply", "-f", "-", input=json.dumps(project), kubeconfig=kc)
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "project/gone", "--timeout=60s", kubeconfig=kc)
    binding = (EXAMPLES / "30-secretbinding-local.yaml").read_text().replace("garden-dev", "garden-gone")
    kubectl("apply", "-f", "-", input=binding, kubeconfig=kc)
    shoot = (EXAMPLES / "40-shoot-workerless.yaml").read_text().replace("garden-dev", "garden-gone")
    kubectl("apply", "-f", "-", input=shoot, kubeconfig=kc)
    refused = kubectl("delete", "project", "gone", kubeconfig=kc, check=False)
    assert refused.returncode != 0 and "confirmation.gardener.cloud/deletion" in refused.stderr
    kubectl("annotate", "project", "gone", "confirmation.gardener.cloud/deletion=true", kubeconfig=kc)
    kubectl("delete", "project", "gone", "--wait=false", kubeconfig=kc)
    eventually(
        lambda: (
            kubectl("get", "shoots", "-n", "garden-gone", "-o", "name", kubeconfig=kc, check=False).stdout.strip() == ""
        ),
        what="the project's shoots are deleted",
    )
    eventually(
        lambda: kubectl("get", "project", "gone", kubeconfig=kc, check=False).returncode != 0,
        timeout=60,
        what="project gone",
    )
    assert kubectl("get", "namespace", "garden-gone", kubeconfig=kc, check=False).returncode != 0
