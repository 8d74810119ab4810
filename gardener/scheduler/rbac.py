"""What the scheduler may do in the garden, as a ClusterRole bound to its user (Gardener's names)."""

from __future__ import annotations

from typing import Any

USER = "gardener.cloud:system:scheduler"
ROLE = "gardener.cloud:system:scheduler"
RBAC = "rbac.authorization.k8s.io"


def cluster_role() -> dict[str, Any]:
    read = ["get", "list", "watch"]
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": ROLE},
        "rules": [
            {"apiGroups": ["core.gardener.cloud"], "resources": ["seeds", "cloudprofiles"], "verbs": read},
            {"apiGroups": ["core.gardener.cloud"], "resources": ["shoots"], "verbs": [*read, "patch", "update"]},
            {"apiGroups": ["core.gardener.cloud"], "resources": ["shoots/status"], "verbs": ["patch", "update"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": read},
            {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
        ],
    }


def cluster_role_binding(*, user: str = USER) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ROLE},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": ROLE},
        "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user}],
    }
