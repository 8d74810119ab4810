"""Objects in use survive deletion: a local garden (API server with garden admission in-process, and the
controller-manager) refuses deleting the CloudProfile, SecretBinding, Seed and Quota of a Shoot, keeps the
Secret of a SecretBinding until the binding is gone, and lets them all go once the Shoot is gone. The
admission webhook refuses with the same message. A Shoot with too many worker pools is refused.
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gardener.apis.core.validation import MAX_WORKERS
from tests.helpers import eventually, kubectl
from tests.integration.test_garden import EXAMPLES, _gardener
from tests.integration.test_garden_webhook import Garden
from tests.integration.test_garden_webhook import gardens as gardens  # the webhook garden fixture
from tests.unit.gardener.apis.core.test_garden_admission import example

CORE = "/apis/core.gardener.cloud/v1beta1"


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("garden")
    result = _gardener("local", "up", "--no-seed", "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    try:
        yield data / "garden.kubeconfig"
    finally:
        down = _gardener("local", "down", "--data-dir", str(data))
        assert down.returncode == 0, down.stderr


def _request(kubeconfig: Path, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """One HTTP request with the kubeconfig's client certificate."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    with tempfile.TemporaryDirectory(dir=kubeconfig.parent) as tmp:
        cert, key = Path(tmp) / "c.crt", Path(tmp) / "c.key"
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        ctx.load_cert_chain(str(cert), str(key))
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        cluster["server"] + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _get(kc: Path, *args: str) -> dict[str, Any] | None:
    result = kubectl("get", *args, "-o", "json", kubeconfig=kc, check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def _finalizers(kc: Path, *args: str) -> list[str]:
    return list(((_get(kc, *args) or {}).get("metadata") or {}).get("finalizers") or [])


def _shoot(name: str) -> dict[str, Any]:
    shoot = example("Shoot", "demo")
    shoot["metadata"]["name"] = name
    shoot["spec"]["seedName"] = "local"
    return shoot


def test_objects_in_use_are_kept_until_their_shoot_is_gone(garden: Path) -> None:
    kc = garden
    for name in ("00-project.yaml", "10-cloudprofile-local.yaml", "20-seed-local.yaml"):
        kubectl("apply", "-f", str(EXAMPLES / name), kubeconfig=kc)
    kubectl("wait", "--for=jsonpath={.status.phase}=Ready", "project/dev", "--timeout=60s", kubeconfig=kc)
    quota = example("Quota", "trial")
    quota["spec"]["scope"]["name"] = "dev"  # the CRD's ObjectReference wants a name
    kubectl("apply", "-f", "-", input=json.dumps(quota), kubeconfig=kc)
    binding = [d for d in yaml.safe_load_all((EXAMPLES / "30-secretbinding-local.yaml").read_text()) if d]
    binding[1]["quotas"] = [{"name": "trial", "namespace": "garden-dev"}]
    for obj in binding:
        kubectl("apply", "-f", "-", input=json.dumps(obj), kubeconfig=kc)
    kubectl("apply", "-f", "-", input=json.dumps(_shoot("web")), kubeconfig=kc)

    # the controller-manager protects them all
    secret = ("secret", "local-credentials", "-n", "garden-dev")
    protected = {
        ("cloudprofile", "local"): "gardener",
        ("seed", "local"): "gardener",
        ("secretbinding", "local", "-n", "garden-dev"): "gardener",
        ("quota", "trial", "-n", "garden-dev"): "gardener",
        secret: "gardener.cloud/secretbinding",
    }

    def all_protected() -> bool:
        return all(finalizer in _finalizers(kc, *args) for args, finalizer in protected.items())

    eventually(all_protected, timeout=30, what="protection finalizers")

    # kubectl shows why, and fails
    refused = kubectl("delete", "cloudprofile", "local", kubeconfig=kc, check=False)
    assert refused.returncode != 0
    assert (
        'cloudprofiles.core.gardener.cloud "local" is forbidden: Cannot delete CloudProfile, because the following '
        "Shoots are still referencing it: [garden-dev/web]"
    ) in refused.stderr, refused.stderr
    # so does the API
    code, status = _request(kc, "DELETE", f"{CORE}/namespaces/garden-dev/secretbindings/local")
    assert (code, status["reason"]) == (403, "Forbidden"), status
    assert status["message"] == (
        'secretbindings.core.gardener.cloud "local" is forbidden: Cannot delete SecretBinding, because the '
        "following Shoots are still referencing it: [garden-dev/web]"
    )
    code, status = _request(kc, "DELETE", f"{CORE}/seeds/local")
    assert code == 403 and status["message"].endswith("still used by shoot(s): [garden-dev/web]"), status
    code, status = _request(kc, "DELETE", f"{CORE}/namespaces/garden-dev/quotas/trial")
    assert code == 403 and "SecretBindings - [garden-dev/local]" in status["message"], status
    # the Secret is not admission's to protect: its deletion waits for the binding
    kubectl("delete", *secret, "--wait=false", kubeconfig=kc)
    assert (_get(kc, *secret) or {})["metadata"].get("deletionTimestamp")

    kubectl("annotate", "shoot", "web", "-n", "garden-dev", "confirmation.gardener.cloud/deletion=true", kubeconfig=kc)
    kubectl("delete", "shoot", "web", "-n", "garden-dev", kubeconfig=kc)
    for args in (
        ("cloudprofile", "local"),
        ("secretbinding", "local", "-n", "garden-dev"),
        ("quota", "trial", "-n", "garden-dev"),
        ("seed", "local"),
    ):
        kubectl("delete", *args, "--timeout=60s", kubeconfig=kc)
        assert _get(kc, *args) is None
    eventually(lambda: _get(kc, *secret) is None, timeout=30, what="secret released with its binding")


def test_too_many_worker_pools_are_refused(garden: Path) -> None:
    shoot = copy.deepcopy(example("Shoot", "apps"))
    pool = shoot["spec"]["provider"]["workers"][0]
    shoot["spec"]["provider"]["workers"] = [{**pool, "name": f"p{i}"} for i in range(MAX_WORKERS + 1)]
    code, status = _request(garden, "POST", f"{CORE}/namespaces/garden-dev/shoots?dryRun=All", shoot)
    assert code == 422, status
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueTooMany",
            "message": f"Too many: {MAX_WORKERS + 1}: must have at most {MAX_WORKERS} items",
            "field": "spec.provider.workers",
        }
    ]


def test_the_webhook_refuses_with_the_same_message(request: pytest.FixtureRequest) -> None:
    inproc, hooked = request.getfixturevalue("gardens")
    messages = []
    for garden in (inproc, hooked):
        assert isinstance(garden, Garden)
        kc = garden.server.kubeconfig
        kubectl("apply", "-f", "-", input=json.dumps(_shoot("web")), kubeconfig=kc)
        refused = kubectl("delete", "cloudprofile", "local", kubeconfig=kc, check=False)
        assert refused.returncode != 0
        messages.append(refused.stderr.strip())
        kubectl(
            "annotate", "shoot", "web", "-n", "garden-dev", "confirmation.gardener.cloud/deletion=true", kubeconfig=kc
        )
        kubectl("delete", "shoot", "web", "-n", "garden-dev", kubeconfig=kc)
    message = (
        'cloudprofiles.core.gardener.cloud "local" is forbidden: Cannot delete CloudProfile, because the following '
        "Shoots are still referencing it: [garden-dev/web]"
    )
    assert messages == [
        f"Error from server (Forbidden): {message}",
        'Error from server (Forbidden): admission webhook "admission.core.gardener.cloud" denied the request: '
        + message,
    ]
