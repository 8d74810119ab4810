"""Pod Security Standards checks: kube's wording for each violation, and what each level lets through."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.admission.podsecurity import violations


def _pod(**container: Any) -> dict[str, Any]:
    return {"containers": [{"name": "c", "image": "nginx", **container}]}


RESTRICTED_OK: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "image": "nginx",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
}


def test_privileged_level_allows_everything() -> None:
    assert violations("privileged", {**_pod(securityContext={"privileged": True}), "hostNetwork": True}) == []


def test_baseline_violations_in_kubes_words() -> None:
    spec = {
        "hostNetwork": True,
        "hostPID": True,
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
        "containers": [
            {
                "name": "a",
                "securityContext": {"privileged": True, "capabilities": {"add": ["NET_ADMIN", "CHOWN"]}},
                "ports": [{"containerPort": 80, "hostPort": 80}],
            },
            {"name": "b", "securityContext": {"privileged": True}},
        ],
    }
    assert violations("baseline", spec) == [
        'non-default capabilities (container "a" must not include "NET_ADMIN" in securityContext.capabilities.add)',
        "host namespaces (hostNetwork=true, hostPID=true)",
        'hostPath volumes (volume "root")',
        'hostPort (container "a" uses hostPort 80)',
        'privileged (containers "a", "b" must not set securityContext.privileged=true)',
    ]
    assert violations("baseline", _pod()) == []


def test_restricted_asks_for_a_hardened_pod() -> None:
    assert violations("restricted", _pod()) == [
        'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)',
        'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"])',
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)',
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
        '"Localhost")',
    ]
    assert violations("restricted", RESTRICTED_OK) == []
    with_host_path = {**RESTRICTED_OK, "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}
    assert violations("restricted", with_host_path) == [
        'restricted volume types (volume "h" uses restricted volume type "hostPath")'
    ]


def test_restricted_allows_adding_only_net_bind_service() -> None:
    context = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
    binds = {**RESTRICTED_OK, "containers": [{"name": "c", "image": "nginx", "securityContext": context}]}
    assert violations("restricted", binds) == []
    context = {**context, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}
    chowns = {**RESTRICTED_OK, "containers": [{"name": "c", "image": "nginx", "securityContext": context}]}
    assert violations("restricted", chowns) == [
        'unrestricted capabilities (container "c" must not include "CHOWN" in securityContext.capabilities.add)'
    ]
