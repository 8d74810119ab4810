"""Pods from templates as upstream's GetPodFromTemplate builds them, and expectations."""

from __future__ import annotations

from gardener.kube_controller_manager.podcontrol import Expectations, pod_from_template

OWNER = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "metadata": {"name": "web-abc", "namespace": "ns", "uid": "u1"},
}
TEMPLATE = {
    "metadata": {"labels": {"app": "web"}, "annotations": {"a": "b"}, "finalizers": ["f"]},
    "spec": {"containers": [{"name": "c", "image": "python:3.12"}]},
}


def test_pod_from_template_copies_template_and_points_at_its_controller() -> None:
    pod = pod_from_template(TEMPLATE, OWNER, generate_name="web-abc-")
    m = pod["metadata"]
    assert m["generateName"] == "web-abc-" and "name" not in m and m["namespace"] == "ns"
    assert m["labels"] == {"app": "web"} and m["annotations"] == {"a": "b"} and m["finalizers"] == ["f"]
    assert m["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-abc",
            "uid": "u1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    pod["spec"]["containers"][0]["image"] = "changed"
    assert TEMPLATE["spec"]["containers"][0]["image"] == "python:3.12"  # type: ignore[index]
    named = pod_from_template(TEMPLATE, OWNER, name="db-0")
    assert named["metadata"]["name"] == "db-0" and "generateName" not in named["metadata"]


def test_expectations_hold_until_observed_or_timed_out() -> None:
    e = Expectations()
    assert e.satisfied("k")
    e.expect("k", adds=2)
    assert not e.satisfied("k")
    e.created("k")
    assert not e.satisfied("k")
    e.created("k")
    assert e.satisfied("k")
    e.expect("k", deletes=1)
    e.forget("k")
    assert e.satisfied("k")
    stale = Expectations(timeout=-1)
    stale.expect("k", adds=1)
    assert stale.satisfied("k")
