"""Garbage collection through ownerReferences, namespace termination and ClusterRole aggregation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import ServerProcess, create_namespace, eventually, kubectl


def _cm(name: str, ns: str, owner: dict[str, str] | None = None, finalizers: list[str] | None = None) -> str:
    meta: dict[str, object] = {"name": name, "namespace": ns}
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": owner["name"],
                "uid": owner["uid"],
                "blockOwnerDeletion": True,
            }
        ]
    if finalizers:
        meta["finalizers"] = finalizers
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})


def _get(kc: Path, ns: str, name: str) -> dict[str, object] | None:
    result = kubectl("get", "configmap", name, "-n", ns, "-o", "json", kubeconfig=kc, check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def _owner_with_dependents(kc: Path, ns: str) -> None:
    create_namespace(ns, kubeconfig=kc)
    kubectl("apply", "-f", "-", kubeconfig=kc, input=_cm("owner", ns))
    owner = _get(kc, ns, "owner")
    assert owner is not None
    ref = {"name": "owner", "uid": owner["metadata"]["uid"]}  # type: ignore[index]
    for dep in ("dep-1", "dep-2"):
        kubectl("apply", "-f", "-", kubeconfig=kc, input=_cm(dep, ns, ref))


@pytest.mark.parametrize("cascade", ["background", "foreground"])
def test_dependents_are_deleted_with_their_owner(apiserver: ServerProcess, cascade: str) -> None:
    kc, ns = apiserver.kubeconfig, f"gc-{cascade}"
    _owner_with_dependents(kc, ns)
    kubectl("delete", "configmap", "owner", "-n", ns, f"--cascade={cascade}", kubeconfig=kc)
    eventually(lambda: _get(kc, ns, "dep-1") is None and _get(kc, ns, "dep-2") is None, what="dependents deleted")
    assert _get(kc, ns, "owner") is None


def test_foreground_owner_waits_for_blocking_dependents(apiserver: ServerProcess) -> None:
    kc, ns = apiserver.kubeconfig, "gc-blocked"
    _owner_with_dependents(kc, ns)
    kubectl(
        "patch",
        "configmap",
        "dep-1",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        '{"metadata":{"finalizers":["test/hold"]}}',
        kubeconfig=kc,
    )
    kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=foreground", "--wait=false", kubeconfig=kc)
    owner = eventually(lambda: _get(kc, ns, "owner"), what="owner still there")
    assert "foregroundDeletion" in owner["metadata"]["finalizers"]  # type: ignore[index]
    assert owner["metadata"].get("deletionTimestamp")  # type: ignore[union-attr]
    eventually(lambda: _get(kc, ns, "dep-2") is None, what="unblocked dependent deleted")
    assert _get(kc, ns, "owner") is not None
    kubectl(
        "patch",
        "configmap",
        "dep-1",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
        kubeconfig=kc,
    )
    eventually(lambda: _get(kc, ns, "owner") is None, what="owner deleted after its dependents")


def test_orphan_keeps_dependents_without_owner_reference(apiserver: ServerProcess) -> None:
    kc, ns = apiserver.kubeconfig, "gc-orphan"
    _owner_with_dependents(kc, ns)
    kubectl("delete", "configmap", "owner", "-n", ns, "--cascade=orphan", kubeconfig=kc)
    eventually(lambda: _get(kc, ns, "owner") is None, what="owner deleted")
    for dep in ("dep-1", "dep-2"):
        obj = _get(kc, ns, dep)
        assert obj is not None and not obj["metadata"].get("ownerReferences")  # type: ignore[union-attr]


def test_namespace_deletion_removes_content_and_honours_finalizers(apiserver: ServerProcess) -> None:
    kc, ns = apiserver.kubeconfig, "doomed"
    create_namespace(ns, kubeconfig=kc)
    kubectl("apply", "-f", "-", kubeconfig=kc, input=_cm("plain", ns))
    kubectl("apply", "-f", "-", kubeconfig=kc, input=_cm("held", ns, finalizers=["test/hold"]))
    kubectl("delete", "namespace", ns, "--wait=false", kubeconfig=kc)
    eventually(lambda: _get(kc, ns, "plain") is None, what="content deleted")
    status = json.loads(kubectl("get", "namespace", ns, "-o", "json", kubeconfig=kc).stdout)
    assert status["status"]["phase"] == "Terminating"
    refused = kubectl("apply", "-f", "-", kubeconfig=kc, input=_cm("late", ns), check=False)
    assert refused.returncode != 0 and "being terminated" in refused.stderr
    kubectl(
        "patch",
        "configmap",
        "held",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
        kubeconfig=kc,
    )
    eventually(
        lambda: kubectl("get", "namespace", ns, kubeconfig=kc, check=False).returncode != 0, what="namespace gone"
    )


def test_clusterrole_aggregation(apiserver: ServerProcess) -> None:
    kc = apiserver.kubeconfig
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["demo.example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}],
    }
    kubectl("apply", "-f", "-", kubeconfig=kc, input=json.dumps(role))

    def aggregated() -> bool:
        view = json.loads(kubectl("get", "clusterrole", "view", "-o", "json", kubeconfig=kc).stdout)
        return any("widgets" in (r.get("resources") or []) for r in view["rules"])

    eventually(aggregated, what="view aggregates the new role")
