"""DefaultTolerationSeconds and NodeRestriction on admission requests as the object store builds them."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.apiserver.builtin.admission.defaulttolerationseconds import default_toleration_seconds
from gardener.apiserver.builtin.admission.noderestriction import node_restriction
from gardener.apiserver.errors import StatusError
from gardener.apiserver.rbac import UserInfo
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import AdmissionRequest

KUBELET = UserInfo(name="system:node:n1", groups=("system:nodes", "system:authenticated"))


def _request(
    plural: str,
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    user: UserInfo = KUBELET,
    subresource: str = "",
) -> AdmissionRequest:
    info = Registry().get("", "v1", plural)
    assert info is not None
    source = obj if obj is not None else old
    assert source is not None
    return AdmissionRequest(
        operation=operation,
        info=info,
        namespace=str(source["metadata"].get("namespace") or ""),
        name=str(source["metadata"]["name"]),
        subresource=subresource,
        obj=obj,
        old=old,
        user=user,
        dry_run=False,
    )


async def test_tolerations_are_added_unless_the_pod_has_its_own() -> None:
    pod: dict[str, Any] = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {}}
    await default_toleration_seconds(_request("pods", pod))
    assert [(t["key"], t["tolerationSeconds"]) for t in pod["spec"]["tolerations"]] == [
        ("node.kubernetes.io/not-ready", 300),
        ("node.kubernetes.io/unreachable", 300),
    ]
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"tolerations": [own]}}
    await default_toleration_seconds(_request("pods", pod))
    assert [t["key"] for t in pod["spec"]["tolerations"]] == [
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/not-ready",
    ]
    everything = {"operator": "Exists"}
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"tolerations": [everything]}}
    await default_toleration_seconds(_request("pods", pod))
    assert pod["spec"]["tolerations"] == [everything]


async def test_a_kubelet_changes_only_its_own_node_and_pods() -> None:
    mine = {"metadata": {"name": "n1"}}
    await node_restriction(_request("nodes", mine, operation="UPDATE", old=mine))
    other = {"metadata": {"name": "n2"}}
    with pytest.raises(StatusError) as refused:
        await node_restriction(_request("nodes", other, operation="UPDATE", old=other))
    assert refused.value.code == 403
    assert refused.value.message == 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
    # anyone else is none of this plugin's business
    admin = UserInfo(name="admin", groups=("system:masters",))
    await node_restriction(_request("nodes", other, operation="UPDATE", old=other, user=admin))

    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n2"}}
    with pytest.raises(StatusError) as created:
        await node_restriction(_request("pods", pod))
    assert created.value.message == (
        'pods "p" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only '
        "create mirror pods"
    )
    with pytest.raises(StatusError) as deleted:
        await node_restriction(_request("pods", None, operation="DELETE", old=pod))
    assert (
        deleted.value.message
        == 'pods "p" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself'
    )
    own_pod = {"metadata": {"name": "q", "namespace": "ns"}, "spec": {"nodeName": "n1"}}
    await node_restriction(_request("pods", own_pod, operation="UPDATE", old=own_pod, subresource="status"))
