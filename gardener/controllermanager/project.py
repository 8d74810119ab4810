"""The project controller: a Project becomes a namespace and RBAC for its members.

Roles follow Gardener: `admin` members (and the owner) may use Shoots, SecretBindings, Secrets and
more in the project namespace and manage the Project; `viewer` members may read all but Secrets;
`uam` members may manage the member list. Deleting a Project deletes its Shoots first, then the
namespace.
"""

from __future__ import annotations

import logging
from typing import Any

from gardener.runtime.errors import ApiError
from gardener.runtime.kube import Kube

log = logging.getLogger("gardener.controllermanager.project")

GROUP = "core.gardener.cloud"
FINALIZER = "gardener"
CONFIRMATION = "confirmation.gardener.cloud/deletion"
RBAC = "rbac.authorization.k8s.io"
RBAC_PATH = "/apis/rbac.authorization.k8s.io/v1"

MEMBER_ROLE = "gardener.cloud:system:project-member"
VIEWER_ROLE = "gardener.cloud:system:project-viewer"


def namespace_of(project: dict[str, Any]) -> str:
    return str((project.get("spec") or {}).get("namespace") or f"garden-{project['metadata']['name']}")


def _subject(s: dict[str, Any]) -> dict[str, Any]:
    out = {"kind": s["kind"], "name": s["name"]}
    if s["kind"] == "ServiceAccount":
        out["namespace"] = s.get("namespace", "")
    else:
        out["apiGroup"] = RBAC
    return out


def members_with(project: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Subjects holding `role`; the owner always counts as admin."""
    spec = project.get("spec") or {}
    out: list[dict[str, Any]] = []
    for member in spec.get("members") or []:
        if role == member.get("role") or role in (member.get("roles") or []):
            out.append(_subject(member))
    owner = spec.get("owner")
    if role == "admin" and owner and _subject(owner) not in out:
        out.append(_subject(owner))
    return out


def shared_cluster_roles() -> list[dict[str, Any]]:
    """The roles every project namespace binds; kept in the garden once."""
    read = ["get", "list", "watch"]
    write = [*read, "create", "update", "patch", "delete", "deletecollection"]
    return [
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": MEMBER_ROLE, "labels": {"gardener.cloud/role": "project-member"}},
            "rules": [
                {"apiGroups": [GROUP], "resources": ["shoots", "secretbindings", "quotas"], "verbs": write},
                {"apiGroups": [GROUP], "resources": ["shoots/status"], "verbs": read},
                {"apiGroups": [""], "resources": ["secrets", "configmaps", "serviceaccounts"], "verbs": write},
                {"apiGroups": [""], "resources": ["events"], "verbs": read},
            ],
        },
        {
            "apiVersion": f"{RBAC}/v1",
            "kind": "ClusterRole",
            "metadata": {"name": VIEWER_ROLE, "labels": {"gardener.cloud/role": "project-viewer"}},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["shoots", "shoots/status", "secretbindings", "quotas"],
                    "verbs": read,
                },
                {"apiGroups": [""], "resources": ["configmaps", "events", "serviceaccounts"], "verbs": read},
            ],
        },
    ]


def _owner_ref(project: dict[str, Any]) -> dict[str, Any]:
    m = project["metadata"]
    return {
        "apiVersion": f"{GROUP}/v1beta1",
        "kind": "Project",
        "name": m["name"],
        "uid": m["uid"],
        "controller": True,
        "blockOwnerDeletion": False,
    }


def desired_rbac(project: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(collection path, object) pairs for the project's RoleBindings, ClusterRoles and their bindings."""
    name = project["metadata"]["name"]
    ns = namespace_of(project)
    labels = {"project.gardener.cloud/name": name}
    owner = [_owner_ref(project)]
    admins = members_with(project, "admin")
    viewers = members_with(project, "viewer")
    uams = members_with(project, "uam")
    objects: list[tuple[str, dict[str, Any]]] = []

    def binding(
        kind: str, bname: str, role_kind: str, role: str, subjects: list[dict[str, Any]], *, namespaced: bool
    ) -> None:
        meta: dict[str, Any] = {"name": bname, "labels": labels, "ownerReferences": owner}
        path = f"{RBAC_PATH}/namespaces/{ns}/rolebindings" if namespaced else f"{RBAC_PATH}/clusterrolebindings"
        if namespaced:
            meta["namespace"] = ns
        objects.append(
            (
                path,
                {
                    "apiVersion": f"{RBAC}/v1",
                    "kind": kind,
                    "metadata": meta,
                    "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
                    "subjects": subjects,
                },
            )
        )

    def cluster_role(rname: str, verbs: list[str]) -> None:
        objects.append(
            (
                f"{RBAC_PATH}/clusterroles",
                {
                    "apiVersion": f"{RBAC}/v1",
                    "kind": "ClusterRole",
                    "metadata": {"name": rname, "labels": labels, "ownerReferences": owner},
                    "rules": [
                        {"apiGroups": [GROUP], "resources": ["projects"], "resourceNames": [name], "verbs": verbs}
                    ],
                },
            )
        )

    binding("RoleBinding", MEMBER_ROLE, "ClusterRole", MEMBER_ROLE, admins, namespaced=True)
    binding("RoleBinding", VIEWER_ROLE, "ClusterRole", VIEWER_ROLE, viewers, namespaced=True)
    admin_role = f"gardener.cloud:system:project:{name}"
    viewer_role = f"gardener.cloud:system:project-viewer:{name}"
    uam_role = f"gardener.cloud:system:project-uam:{name}"
    cluster_role(admin_role, ["get", "patch", "update", "delete"])
    cluster_role(viewer_role, ["get"])
    cluster_role(uam_role, ["get", "patch", "update"])
    binding("ClusterRoleBinding", admin_role, "ClusterRole", admin_role, admins, namespaced=False)
    binding("ClusterRoleBinding", viewer_role, "ClusterRole", viewer_role, viewers, namespaced=False)
    binding("ClusterRoleBinding", uam_role, "ClusterRole", uam_role, uams, namespaced=False)
    return objects


class ProjectReconciler:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def ensure_shared(self) -> None:
        for role in shared_cluster_roles():
            self.kube.apply(f"{RBAC_PATH}/clusterroles", role)

    def reconcile(self, project: dict[str, Any]) -> dict[str, Any]:
        """Namespace, RBAC and status for a live Project; returns the status to write."""
        name = project["metadata"]["name"]
        ns = namespace_of(project)
        existing = self.kube.raw("GET", f"/api/v1/namespaces/{ns}")
        owner_label = (existing or {}).get("metadata", {}).get("labels", {}).get("project.gardener.cloud/name")
        if existing is not None and owner_label not in (None, name):
            raise NamespaceTaken(f"namespace {ns} already belongs to project {owner_label}")
        self.kube.apply(
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": ns,
                    "labels": {"project.gardener.cloud/name": name, "gardener.cloud/role": "project"},
                },
            },
        )
        for path, obj in desired_rbac(project):
            self.kube.apply(path, obj)
        return {"phase": "Ready", "observedGeneration": project["metadata"].get("generation", 0)}

    def delete_content(self, project: dict[str, Any]) -> bool:
        """Delete the project's Shoots, then its namespace; True once both are gone."""
        ns = namespace_of(project)
        shoots = self.kube.raw("GET", f"/apis/{GROUP}/v1beta1/namespaces/{ns}/shoots") or {"items": []}
        for shoot in shoots.get("items") or []:
            sname = shoot["metadata"]["name"]
            path = f"/apis/{GROUP}/v1beta1/namespaces/{ns}/shoots/{sname}"
            self.kube.raw(
                "PATCH",
                path,
                {"metadata": {"annotations": {CONFIRMATION: "true"}}},
                content_type="application/merge-patch+json",
            )
            if not shoot["metadata"].get("deletionTimestamp"):
                try:
                    self.kube.delete(path)
                except ApiError as exc:
                    log.warning(
                        "Could not delete shoot",
                        extra={"project": project["metadata"]["name"], "shoot": sname, "code": exc.status},
                    )
        if shoots.get("items"):
            return False
        namespace = self.kube.raw("GET", f"/api/v1/namespaces/{ns}")
        if namespace is None:
            return True
        if namespace["metadata"].get("labels", {}).get("project.gardener.cloud/name") != project["metadata"]["name"]:
            return True  # not ours to delete
        if not namespace["metadata"].get("deletionTimestamp"):
            self.kube.delete(f"/api/v1/namespaces/{ns}")
        return False


class NamespaceTaken(Exception):
    """The wanted namespace belongs to another project: a configuration problem, not retried quickly."""
