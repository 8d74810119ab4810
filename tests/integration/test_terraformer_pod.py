"""The Terraformer as a pod: `PodTerraformer` against a real API server, a kube-scheduler and provider-local's node
agent as the seed's kubelet, running real Terraform in `python -m extensions.terraformer.main` pods.

The test plays the actuator: it calls `apply`/`destroy` again while they answer `RequeueAfter`, as reconciles do.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from extensions.terraformer.pod import PodTerraformer
from extensions.terraformer.terraformer import Config, Terraformer, find_terraform
from gardener.runtime.errors import CodedError, RequeueAfter, TemporaryError
from gardener.runtime.kube import CONFIGMAPS, PODS, SECRETS, SERVICEACCOUNTS, Kube
from gardener.runtime.process import PidFile
from tests.helpers import ServerProcess, create_namespace, eventually, module_server
from tests.kubecomponents import ComponentProcess, kubelet, scheduler

pytestmark = pytest.mark.skipif(find_terraform() is None, reason="terraform is not installed")

BLOCK = "127.47.1"
server = module_server("tfpod", extra_args=("--service-cluster-ip-range", "127.47.250.0/24"))
MODULE = Path(__file__).resolve().parents[2] / "terraform" / "local"
TOKEN = "not-a-real-token"
TIMEOUT = 60.0

# A module whose second resource waits for a file: a pod can be killed while Terraform is surely running.
SLOW_MAIN = """
resource "terraform_data" "first" {
  input = "first"
}

resource "terraform_data" "slow" {
  input = terraform_data.first.id
  provisioner "local-exec" {
    command = "while [ ! -f ${var.release} ]; do sleep 0.1; done"
  }
}
"""
SLOW_VARIABLES = 'variable "release" {\n  type = string\n}\n'


@pytest.fixture(scope="module")
def seed(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    root = tmp_path_factory.mktemp("tfpod-node")
    components: list[ComponentProcess] = [
        scheduler(server.kubeconfig, root / "scheduler.log"),
        kubelet(server.kubeconfig, root / "kubelet.log", name="tf-node", data_dir=root / "node", block=BLOCK),
    ]
    kube = Kube.from_kubeconfig(server.kubeconfig)
    try:
        eventually(lambda: _node_ready(kube), timeout=TIMEOUT, what="node Ready")
        yield kube
        log = components[1].log_tail(400)
        assert "Traceback" not in log, log
    finally:
        kube.close()
        for component in components:
            component.stop()
        for pid_file in root.glob("node/pods/*/containers/*/pid"):
            record = PidFile.read(pid_file)
            if record is not None and record.alive():
                record.stop(2.0)


def _node_ready(kube: Kube) -> bool:
    node = kube.get("/api/v1/nodes/tf-node") or {}
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _drive(call: Callable[[], Any], *, waits: list[str] | None = None, timeout: float = TIMEOUT) -> Any:
    """Call an operation again while it answers RequeueAfter (noting each description); its result or error."""

    def attempt() -> tuple[str, Any] | None:
        try:
            return ("done", call())
        except RequeueAfter as wait:
            if waits is not None and (not waits or waits[-1] != wait.description):
                waits.append(wait.description)
            return None
        except Exception as exc:
            return ("error", exc)

    finished = eventually(attempt, timeout=timeout, interval=0.2, what="the Terraformer's operation")
    assert finished is not None
    outcome, value = finished
    if outcome == "error":
        raise value
    return value


def _pods(kube: Kube, ns: str) -> list[dict[str, Any]]:
    return kube.list(PODS.path(ns), label_selector="terraformer.gardener.cloud/name")


def _state(kube: Kube, ns: str, prefix: str) -> dict[str, Any]:
    cm = kube.get(CONFIGMAPS.path(ns, f"{prefix}.tf-state")) or {}
    text = (cm.get("data") or {}).get("terraform.tfstate") or ""
    return dict(json.loads(text)) if text else {}


def _ids(state: dict[str, Any]) -> dict[str, str]:
    return {r["name"]: r["instances"][0]["attributes"]["id"] for r in state.get("resources") or []}


def _cleaned_up(kube: Kube, ns: str, prefix: str) -> bool:
    gone = [
        kube.get(CONFIGMAPS.path(ns, f"{prefix}.tf-state")),
        kube.get(CONFIGMAPS.path(ns, f"{prefix}.tf-config")),
        kube.get(SECRETS.path(ns, f"{prefix}.tf-vars")),
    ]
    return all(obj is None for obj in gone) and not _pods(kube, ns)


def test_apply_runs_in_a_pod_with_the_state_in_a_configmap_and_destroy_cleans_up(
    server: ServerProcess, seed: Kube
) -> None:
    ns = "shoot--tf--apps"
    create_namespace(ns, kubeconfig=server.kubeconfig)
    first = Config(
        name="apps.infra",
        namespace=ns,
        module=MODULE,
        variables={"name": ns, "nodes_cidr": "10.250.0.0/16", "zones": ["local-a"]},
        secret_variables={"credentials_token": TOKEN},
    )
    # made by the in-process Terraformer first: its state (a Secret) moves to the ConfigMap and is kept
    vpc_id = Terraformer(seed).apply(first)["vpc_id"]
    assert seed.get(SECRETS.path(ns, "apps.infra.tf-state")) is not None
    tf = PodTerraformer(seed, poll_interval=0.2)
    with pytest.raises(RequeueAfter):
        tf.apply(first)
    assert seed.get(SECRETS.path(ns, "apps.infra.tf-state")) is None
    assert _ids(_state(seed, ns, "apps.infra"))["vpc"] == vpc_id
    [pod] = _pods(seed, ns)
    assert pod["metadata"]["name"].startswith("apps.infra.tf-apply-")
    assert pod["metadata"]["labels"]["terraformer.gardener.cloud/name"] == "apps"
    assert pod["metadata"]["labels"]["terraformer.gardener.cloud/purpose"] == "infra"
    spec = pod["spec"]
    assert (spec["serviceAccountName"], spec["restartPolicy"]) == ("terraformer", "Never")
    [container] = spec["containers"]
    assert container["command"][:2] == ["/terraformer", "apply"]
    assert "--state-configmap-name=apps.infra.tf-state" in container["command"]
    assert TOKEN not in json.dumps(pod), "credentials must not be in the pod spec"
    [credential] = [e for e in container["env"] if e["name"] == "TF_VAR_credentials_token"]
    assert credential["valueFrom"]["secretKeyRef"] == {"name": "apps.infra.tf-vars", "key": "TF_VAR_credentials_token"}
    account = seed.get(SERVICEACCOUNTS.path(ns, "terraformer")) or {}
    assert account.get("automountServiceAccountToken") is False
    role = seed.get(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/gardener.cloud:system:terraformer")
    assert role is not None and role["rules"][0]["resources"] == ["configmaps", "secrets"]

    # the spec changes while the pod runs: the outcome is the new one's
    cfg = dataclasses.replace(first, variables={**first.variables, "zones": ["local-a", "local-b"]})
    waits: list[str] = []
    outputs = _drive(lambda: tf.apply(cfg), waits=waits)
    assert any(w.startswith("The configuration changed while the Terraformer pod") for w in waits), waits
    assert set(outputs["subnets"]) == {"local-a", "local-b"} and outputs["vpc_id"] == vpc_id
    assert outputs["credentials_provided"] is True, "the credentials did not reach Terraform as TF_VAR_"
    eventually(lambda: not _pods(seed, ns), timeout=TIMEOUT, what="Terraformer pod deleted")
    assert not seed.list(SECRETS.path(ns), label_selector="terraformer.gardener.cloud/token")
    state_cm = seed.get(CONFIGMAPS.path(ns, "apps.infra.tf-state")) or {}
    assert "gardener.cloud/terraformer" in state_cm["metadata"].get("finalizers", [])
    state = _state(seed, ns, "apps.infra")
    assert set(_ids(state)) == {"vpc", "subnet", "security_group"}
    assert state["outputs"]["vpc_id"]["value"] == outputs["vpc_id"]
    assert TOKEN not in json.dumps(state)
    config = seed.get(CONFIGMAPS.path(ns, "apps.infra.tf-config")) or {}
    assert set(config["data"]) == {"main.tf", "variables.tf"} and 'output "vpc_id"' in config["data"]["main.tf"]
    tfvars = base64.b64decode((seed.get(SECRETS.path(ns, "apps.infra.tf-vars")) or {})["data"]["terraform.tfvars"])
    assert b'zones = ["local-a", "local-b"]' in tfvars and TOKEN.encode() not in tfvars
    assert tf.state_exists(cfg) and tf.outputs(cfg)["nodes_cidr"] == "10.250.0.0/16"

    _drive(lambda: tf.destroy(cfg))
    assert _cleaned_up(seed, ns, "apps.infra")
    assert not tf.state_exists(cfg)


def test_a_killed_pod_is_replaced_and_goes_on_from_the_stored_state(
    server: ServerProcess, seed: Kube, tmp_path: Path
) -> None:
    ns = "shoot--tf--slow"
    create_namespace(ns, kubeconfig=server.kubeconfig)
    module = tmp_path / "module"
    module.mkdir()
    (module / "main.tf").write_text(SLOW_MAIN)
    (module / "variables.tf").write_text(SLOW_VARIABLES)
    release = tmp_path / "release"
    tf = PodTerraformer(seed, poll_interval=0.2)
    cfg = Config(name="slow.infra", namespace=ns, module=module, variables={"release": str(release)})
    with pytest.raises(RequeueAfter):
        tf.apply(cfg)
    # the first resource is stored while the second one waits: kill the pod's program now
    first = eventually(lambda: _ids(_state(seed, ns, "slow.infra")).get("first"), timeout=TIMEOUT, what="first")
    [killed] = _pods(seed, ns)
    pid = int(killed["status"]["containerStatuses"][0]["containerID"].removeprefix("local://"))
    os.kill(pid, signal.SIGKILL)

    def replaced() -> dict[str, Any] | None:
        with contextlib.suppress(RequeueAfter):
            tf.apply(cfg)
        pods = [p for p in _pods(seed, ns) if p["metadata"]["uid"] != killed["metadata"]["uid"]]
        return pods[0] if pods else None

    replacement = eventually(replaced, timeout=TIMEOUT, interval=0.2, what="a new Terraformer pod")
    assert replacement is not None and replacement["metadata"]["name"] != killed["metadata"]["name"]
    release.write_text("go")
    waits: list[str] = []
    _drive(lambda: tf.apply(cfg), waits=waits)
    ids = _ids(_state(seed, ns, "slow.infra"))
    assert ids["first"] == first, "the new pod did not go on from the stored state"
    assert "slow" in ids
    eventually(lambda: not _pods(seed, ns), timeout=TIMEOUT, what="Terraformer pods deleted")
    _drive(lambda: tf.destroy(cfg))
    assert _cleaned_up(seed, ns, "slow.infra")


def test_failures_say_what_went_wrong(server: ServerProcess, seed: Kube) -> None:
    ns = "shoot--tf--broken"
    create_namespace(ns, kubeconfig=server.kubeconfig)
    cfg = Config(name="broken.infra", namespace=ns, module=MODULE, variables={"name": ns, "nodes_cidr": "not-a-cidr"})
    with pytest.raises(CodedError) as failed:
        _drive(lambda: PodTerraformer(seed, poll_interval=0.2).apply(cfg))
    assert "Terraform execution for command 'apply' could not be completed" in failed.value.message
    eventually(lambda: not _pods(seed, ns), timeout=TIMEOUT, what="failed pod deleted")

    # an image the node cannot run leaves the pod Pending: after the timeout, the error names the reason
    stuck = PodTerraformer(seed, image="registry.example/nothing:1", poll_interval=0.2, pending_timeout=1.0)
    with pytest.raises(TemporaryError) as pending:
        _drive(lambda: stuck.apply(cfg))
    assert "did not start within 1s" in pending.value.message
    assert "RunContainerError" in pending.value.message or "CreateContainerError" in pending.value.message
    eventually(lambda: not _pods(seed, ns), timeout=TIMEOUT, what="stuck pod deleted")
