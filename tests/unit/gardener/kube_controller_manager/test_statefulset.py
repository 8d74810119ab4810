"""The apps controllers' pure parts: StatefulSet pod identity, storage and claim retention, ControllerRevision
names and data, and where DaemonSet pods go."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.kube_controller_manager import history
from gardener.kube_controller_manager.daemonsetutil import daemon_pod, node_matches, should_run, with_daemon_tolerations
from gardener.kube_controller_manager.statefulsetutil import (
    claim_owner_refs,
    claims_for,
    identity_matches,
    new_pod,
    ordinal_of,
    storage_matches,
)


def statefulset(**spec: Any) -> dict[str, Any]:
    base = {
        "replicas": 2,
        "serviceName": "db",
        "selector": {"matchLabels": {"app": "db"}},
        "template": {
            "metadata": {"labels": {"app": "db"}},
            "spec": {"containers": [{"name": "c", "image": "i"}], "volumes": [{"name": "data", "emptyDir": {}}]},
        },
        "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "disk"}}, "spec": {}}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "ns", "uid": "set-uid"},
        "spec": {**base, **spec},
    }


def test_ordinals_come_from_the_end_of_pod_names() -> None:
    assert ordinal_of("db-0") == ("db", 0)
    assert ordinal_of("my-db-12") == ("my-db", 12)
    assert ordinal_of("db") == ("", -1)
    assert ordinal_of("db-x") == ("", -1)


def test_a_new_pod_has_its_stable_identity_and_storage() -> None:
    sts = statefulset()
    pod = new_pod(sts, 1, "db-abc")
    meta = pod["metadata"]
    assert (meta["name"], meta["generateName"], meta["namespace"]) == ("db-1", "db-", "ns")
    assert meta["labels"] == {
        "app": "db",
        "statefulset.kubernetes.io/pod-name": "db-1",
        "apps.kubernetes.io/pod-index": "1",
        "controller-revision-hash": "db-abc",
    }
    assert meta["ownerReferences"][0]["uid"] == "set-uid" and meta["ownerReferences"][0]["controller"] is True
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("db-1", "db")
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-1"}}]
    pod["metadata"]["uid"] = "pod-uid"
    assert identity_matches(sts, pod) and storage_matches(sts, pod)
    pod["metadata"]["labels"].pop("statefulset.kubernetes.io/pod-name")
    assert not identity_matches(sts, pod)


def test_claims_are_named_per_ordinal_and_carry_the_selector_labels() -> None:
    [claim] = claims_for(statefulset(), 3)
    assert claim["kind"] == "PersistentVolumeClaim"
    assert claim["metadata"]["name"] == "data-db-3" and claim["metadata"]["namespace"] == "ns"
    assert claim["metadata"]["labels"] == {"tier": "disk", "app": "db"}


def owners(refs: list[dict[str, Any]] | None) -> set[tuple[str, str]] | None:
    return None if refs is None else {(r["kind"], r["uid"]) for r in refs}


@pytest.mark.parametrize(
    ("deleted", "scaled", "ordinal", "expected"),
    [
        ("Retain", "Retain", 0, None),
        ("Delete", "Retain", 0, {("StatefulSet", "set-uid")}),
        ("Retain", "Delete", 0, None),
        ("Retain", "Delete", 5, {("Pod", "pod-uid")}),
        ("Delete", "Delete", 0, {("StatefulSet", "set-uid")}),
        ("Delete", "Delete", 5, {("Pod", "pod-uid")}),
    ],
)
def test_claim_owners_follow_the_retention_policy(deleted: str, scaled: str, ordinal: int, expected: Any) -> None:
    policy = {"whenDeleted": deleted, "whenScaled": scaled}
    sts = statefulset(persistentVolumeClaimRetentionPolicy=policy)
    pod = new_pod(sts, ordinal, "r")
    pod["metadata"]["uid"] = "pod-uid"
    claim = {"metadata": {"name": f"data-db-{ordinal}"}}
    assert owners(claim_owner_refs(claim, sts, pod)) == expected


def test_a_claim_another_controller_owns_is_left_alone() -> None:
    sts = statefulset(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"})
    pod = new_pod(sts, 0, "r")
    foreign = {"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "x", "controller": True}
    assert claim_owner_refs({"metadata": {"ownerReferences": [foreign]}}, sts, pod) is None
    stale = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "old-uid", "controller": True}
    assert claim_owner_refs({"metadata": {"ownerReferences": [stale]}}, sts, pod) is None


def test_revisions_are_named_by_a_safe_hash_of_the_template_patch() -> None:
    sts = statefulset()
    data = history.template_patch(sts)
    assert data["spec"]["template"]["$patch"] == "replace"
    revision = history.new_revision(sts, labels={"app": "db"}, data=data, revision=1, collision_count=0)
    digest = revision["metadata"]["labels"][history.HASH_LABEL]
    assert revision["metadata"]["name"] == f"db-{digest}"
    assert set(digest) <= set("bcdfghjklmnpqrstvwxz2456789")
    again = history.new_revision(sts, labels={}, data=history.template_patch(sts), revision=2, collision_count=0)
    assert again["metadata"]["name"] == revision["metadata"]["name"], "the name depends on the data only"
    bumped = history.new_revision(sts, labels={}, data=data, revision=1, collision_count=1)
    assert bumped["metadata"]["name"] != revision["metadata"]["name"], "a collision count changes the name"
    changed = statefulset(template={"metadata": {"labels": {"app": "db"}}, "spec": {"containers": []}})
    assert history.revision_hash(history.template_patch(changed), 0) != digest
    restored = history.apply_revision(changed, revision)
    assert restored["spec"]["template"] == sts["spec"]["template"]


def test_go_json_sorts_keys_and_escapes_html() -> None:
    assert history.go_json({"b": 1, "a": "<&>"}) == b'{"a":"\\u003c\\u0026\\u003e","b":1}'


def test_revisions_sort_by_number_then_age() -> None:
    def rev(name: str, number: int, created: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "creationTimestamp": created}, "revision": number}

    ordered = history.sort_revisions([rev("c", 2, "t1"), rev("b", 1, "t2"), rev("a", 1, "t2")])
    assert [r["metadata"]["name"] for r in ordered] == ["a", "b", "c"]


def node(name: str, *, labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None) -> Any:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def daemonset(pod_spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "ns", "uid": "ds-uid"},
        "spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec}},
    }


def test_daemon_pods_tolerate_node_conditions_as_upstream_adds() -> None:
    keys = {(t["key"], t["effect"]) for t in with_daemon_tolerations({})["tolerations"]}
    assert len(keys) == 6 and ("node.kubernetes.io/network-unavailable", "NoSchedule") not in keys
    host = with_daemon_tolerations({"hostNetwork": True, "tolerations": [{"key": "k", "operator": "Exists"}]})
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in {
        (t.get("key"), t.get("effect")) for t in host["tolerations"]
    }
    assert host["tolerations"][0] == {"key": "k", "operator": "Exists"}
    seconds = {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 5,
    }
    replaced = with_daemon_tolerations({"tolerations": [seconds]})["tolerations"]
    assert replaced[0] == {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}


def test_which_nodes_run_a_daemon_pod() -> None:
    ds = daemonset({"nodeSelector": {"role": "worker"}})
    assert should_run(ds, node("w", labels={"role": "worker"})) == (True, True)
    assert should_run(ds, node("i", labels={"role": "infra"})) == (False, False)
    cordoned = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    assert should_run(ds, node("c", labels={"role": "worker"}, taints=cordoned)) == (True, True)
    no_schedule = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    assert should_run(ds, node("d", labels={"role": "worker"}, taints=no_schedule)) == (False, True)
    no_execute = [{"key": "dedicated", "value": "db", "effect": "NoExecute"}]
    assert should_run(ds, node("e", labels={"role": "worker"}, taints=no_execute)) == (False, False)


def test_required_node_affinity_matches_labels_and_the_node_name() -> None:
    term = {
        "matchExpressions": [{"key": "size", "operator": "Gt", "values": ["2"]}],
        "matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n2"]}],
    }
    spec = {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    }
    assert node_matches(spec, node("n1", labels={"size": "3"}))
    assert not node_matches(spec, node("n2", labels={"size": "3"}))
    assert not node_matches(spec, node("n1", labels={"size": "2"}))
    empty = {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{}]}}}
    }
    assert not node_matches(empty, node("n1"))


def test_a_daemon_pod_is_pinned_by_node_affinity_on_its_name() -> None:
    term = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}
    ds = daemonset({"affinity": affinity, "containers": []})
    ds["metadata"]["annotations"] = {"deprecated.daemonset.template.generation": "3"}
    pod = daemon_pod(ds, "n7", "5d4f")
    required = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required == {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]
    }
    assert "nodeName" not in pod["spec"]
    assert pod["metadata"]["generateName"] == "agent-"
    assert pod["metadata"]["labels"] == {"app": "a", "controller-revision-hash": "5d4f", "pod-template-generation": "3"}
    assert ds["spec"]["template"]["spec"]["affinity"] == affinity, "the DaemonSet's own template is untouched"
