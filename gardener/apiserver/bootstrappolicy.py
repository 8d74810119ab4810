"""The ClusterRoles and ClusterRoleBindings a fresh API server creates, as kube-apiserver 1.32's bootstrap policy.

Data, not logic: the rules follow kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy (policy.go and its
testdata/cluster-roles.yaml, cluster-role-bindings.yaml) with the default feature gates of 1.32, so `kubectl auth
can-i` and tools that bind `edit`, `view` or a `system:` role get kube's answers; the `system:controller:<account>`
roles (controller_policy.go) give each kube-controller-manager controller running with
`--use-service-account-credentials` the rights of its ServiceAccount `kube-system/<account>`. `system:node-bootstrapper`
lives with the bootstrap tokens that use it (`bootstraptokens`). One pair is Gardener's, not kube's: the ClusterRole
and binding with which Gardener lets a shoot's kube-apiserver (user `system:kube-apiserver:kubelet`, its kubelet
client certificate) use the kubelets' API. Only the API server's startup imports this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gardener.apiserver.kubeletclient import CLIENT_USER as KUBELET_CLIENT_USER
from gardener.apiserver.rbac import (
    AGGREGATE_TO_ADMIN,
    AGGREGATE_TO_EDIT,
    AGGREGATE_TO_VIEW,
    ALL_AUTHENTICATED,
    ALL_UNAUTHENTICATED,
    AUTOUPDATE_ANNOTATION,
    BOOTSTRAP_LABEL,
    MONITORING_GROUP,
    RBAC_API_VERSION,
    RBAC_GROUP,
    SERVICE_ACCOUNTS_GROUP,
    SYSTEM_MASTERS,
    resolve_aggregation,
)

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE
READ_UPDATE = (*READ, "update", "patch")

CORE = ""
APPS = "apps"
AUTHENTICATION = "authentication.k8s.io"
AUTHORIZATION = "authorization.k8s.io"
AUTOSCALING = "autoscaling"
BATCH = "batch"
CERTIFICATES = "certificates.k8s.io"
COORDINATION = "coordination.k8s.io"
DISCOVERY = "discovery.k8s.io"
EVENTS = "events.k8s.io"
EXTENSIONS = "extensions"
NETWORKING = "networking.k8s.io"
NODE = "node.k8s.io"
POLICY = "policy"
STORAGE = "storage.k8s.io"
ADMISSION = "admissionregistration.k8s.io"
METRICS = "metrics.k8s.io"
CUSTOM_METRICS = "custom.metrics.k8s.io"
EXTERNAL_METRICS = "external.metrics.k8s.io"

KUBE_PROXY_USER = "system:kube-proxy"
KUBE_CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
KUBE_SCHEDULER_USER = "system:kube-scheduler"
#: kube's saRolePrefix: `system:controller:<account>` is bound to the ServiceAccount `kube-system/<account>`
CONTROLLER_ROLE_PREFIX = "system:controller:"


def rule(
    verbs: Iterable[str], groups: Iterable[str], resources: Iterable[str], *, names: Iterable[str] = ()
) -> dict[str, Any]:
    """A PolicyRule as kube's rule builder writes it: every list sorted, resourceNames only when given."""
    out: dict[str, Any] = {"apiGroups": sorted(groups), "resources": sorted(resources), "verbs": sorted(verbs)}
    if names:
        out["resourceNames"] = sorted(names)
    return out


def url_rule(verbs: Iterable[str], urls: Iterable[str]) -> dict[str, Any]:
    return {"nonResourceURLs": sorted(urls), "verbs": sorted(verbs)}


def _meta(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {BOOTSTRAP_LABEL: "rbac-defaults", **(labels or {})},
        "annotations": {AUTOUPDATE_ANNOTATION: "true"},
    }


def _cluster_role(
    name: str,
    rules: list[dict[str, Any]],
    *,
    labels: Mapping[str, str] | None = None,
    aggregate_from: str | None = None,
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRole",
        "metadata": _meta(name, labels),
        "rules": rules,
    }
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {aggregate_from: "true"}}]}
    return role


def _binding(
    name: str,
    *,
    groups: Iterable[str] = (),
    users: Iterable[str] = (),
    service_accounts: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A ClusterRoleBinding of the role of the same name; kube leaves `subjects` out when there are none."""
    subjects = [
        *({"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups),
        *({"apiGroup": RBAC_GROUP, "kind": "User", "name": u} for u in users),
        *({"kind": "ServiceAccount", "name": n, "namespace": ns} for ns, n in service_accounts),
    ]
    binding: dict[str, Any] = {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
    }
    if subjects:
        binding["subjects"] = subjects
    return binding


_EVENTS_RULE = rule(["create", "update", "patch"], [CORE, EVENTS], ["events"])


def _user_facing_roles() -> list[dict[str, Any]]:
    """admin, edit and view, filled by aggregation from their `system:aggregate-to-*` parts."""
    return [
        _cluster_role("admin", [], aggregate_from=AGGREGATE_TO_ADMIN),
        _cluster_role("edit", [], labels={AGGREGATE_TO_ADMIN: "true"}, aggregate_from=AGGREGATE_TO_EDIT),
        _cluster_role("view", [], labels={AGGREGATE_TO_EDIT: "true"}, aggregate_from=AGGREGATE_TO_VIEW),
        _cluster_role(
            "system:aggregate-to-admin",
            [
                rule(["create"], [AUTHORIZATION], ["localsubjectaccessreviews"]),
                rule(READ_WRITE, [RBAC_GROUP], ["roles", "rolebindings"]),
            ],
            labels={AGGREGATE_TO_ADMIN: "true"},
        ),
        _cluster_role(
            "system:aggregate-to-edit",
            [
                # read of the escalating resources; write of everything a user runs in a namespace, but not
                # `/status`, quota or limits, which control the namespace
                rule(
                    READ,
                    [CORE],
                    ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"],
                ),
                rule(["impersonate"], [CORE], ["serviceaccounts"]),
                rule(WRITE, [CORE], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
                rule(["create"], [CORE], ["pods/eviction"]),
                rule(
                    WRITE,
                    [CORE],
                    [
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                        "persistentvolumeclaims",
                        "configmaps",
                        "secrets",
                        "events",
                    ],
                ),
                rule(["create"], [CORE], ["serviceaccounts/token"]),
                rule(
                    WRITE,
                    [APPS],
                    [
                        "statefulsets",
                        "statefulsets/scale",
                        "daemonsets",
                        "deployments",
                        "deployments/scale",
                        "deployments/rollback",
                        "replicasets",
                        "replicasets/scale",
                    ],
                ),
                rule(WRITE, [AUTOSCALING], ["horizontalpodautoscalers"]),
                rule(WRITE, [BATCH], ["jobs", "cronjobs"]),
                rule(
                    WRITE,
                    [EXTENSIONS],
                    [
                        "daemonsets",
                        "deployments",
                        "deployments/scale",
                        "deployments/rollback",
                        "ingresses",
                        "replicasets",
                        "replicasets/scale",
                        "replicationcontrollers/scale",
                        "networkpolicies",
                    ],
                ),
                rule(WRITE, [POLICY], ["poddisruptionbudgets"]),
                rule(WRITE, [NETWORKING], ["networkpolicies", "ingresses"]),
            ],
            labels={AGGREGATE_TO_EDIT: "true"},
        ),
        _cluster_role(
            "system:aggregate-to-view",
            [
                rule(
                    READ,
                    [CORE],
                    [
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "configmaps",
                    ],
                ),
                rule(
                    READ,
                    [CORE],
                    [
                        "limitranges",
                        "resourcequotas",
                        "bindings",
                        "events",
                        "pods/status",
                        "resourcequotas/status",
                        "namespaces/status",
                        "replicationcontrollers/status",
                        "pods/log",
                    ],
                ),
                # read access to namespaces at namespace scope means reading *this* namespace
                rule(READ, [CORE], ["namespaces"]),
                rule(READ, [DISCOVERY], ["endpointslices"]),
                rule(
                    READ,
                    [APPS],
                    [
                        "controllerrevisions",
                        "statefulsets",
                        "statefulsets/status",
                        "statefulsets/scale",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/status",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/status",
                        "replicasets/scale",
                    ],
                ),
                rule(READ, [AUTOSCALING], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
                rule(READ, [BATCH], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
                rule(
                    READ,
                    [EXTENSIONS],
                    [
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "ingresses",
                        "ingresses/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "replicationcontrollers/scale",
                        "networkpolicies",
                    ],
                ),
                rule(READ, [POLICY], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
                rule(READ, [NETWORKING], ["networkpolicies", "ingresses", "ingresses/status"]),
            ],
            labels={AGGREGATE_TO_VIEW: "true"},
        ),
    ]


def _node_rules() -> list[dict[str, Any]]:
    """kube's NodeRules(): what a kubelet may do; the Node authorizer and NodeRestriction narrow it per node."""
    return [
        rule(["create"], [AUTHENTICATION], ["tokenreviews"]),
        rule(["create"], [AUTHORIZATION], ["subjectaccessreviews", "localsubjectaccessreviews"]),
        rule(READ, [CORE], ["services"]),
        rule(["create", "get", "list", "watch"], [CORE], ["nodes"]),
        rule(["update", "patch"], [CORE], ["nodes/status"]),
        rule(["update", "patch"], [CORE], ["nodes"]),
        rule(["create", "update", "patch"], [CORE], ["events"]),
        rule(READ, [CORE], ["pods"]),
        rule(["create", "delete"], [CORE], ["pods"]),
        rule(["update", "patch"], [CORE], ["pods/status"]),
        rule(["create"], [CORE], ["pods/eviction"]),
        rule(READ, [CORE], ["secrets", "configmaps"]),
        rule(["get"], [CORE], ["persistentvolumeclaims", "persistentvolumes"]),
        rule(["get"], [CORE], ["endpoints"]),
        rule(["create", "get", "list", "watch"], [CERTIFICATES], ["certificatesigningrequests"]),
        rule(["get", "create", "update", "patch", "delete"], [COORDINATION], ["leases"]),
        rule(["get"], [STORAGE], ["volumeattachments"]),
        rule(["create"], [CORE], ["serviceaccounts/token"]),
        rule(["get", "update", "patch"], [CORE], ["persistentvolumeclaims/status"]),
        rule(READ, [STORAGE], ["csidrivers"]),
        rule(["get", "create", "update", "patch", "delete"], [STORAGE], ["csinodes"]),
        rule(READ, [NODE], ["runtimeclasses"]),
    ]


def _signer_approver(signer: str) -> dict[str, Any]:
    name = signer.removeprefix("kubernetes.io/")
    return _cluster_role(
        f"system:certificates.k8s.io:{name}-approver", [rule(["approve"], [CERTIFICATES], ["signers"], names=[signer])]
    )


def _system_roles() -> list[dict[str, Any]]:
    """The `system:` roles of kube's components (kubelet, kube-proxy, scheduler, controller manager, ...)."""
    return [
        _cluster_role(
            "system:auth-delegator",
            [
                rule(["create"], [AUTHENTICATION], ["tokenreviews"]),
                rule(["create"], [AUTHORIZATION], ["subjectaccessreviews"]),
            ],
        ),
        _cluster_role(
            "system:heapster",
            [rule(READ, [CORE], ["events", "pods", "nodes", "namespaces"]), rule(READ, [EXTENSIONS], ["deployments"])],
        ),
        _cluster_role("system:kube-aggregator", [rule(READ, [CORE], ["services", "endpoints"])]),
        _cluster_role(
            "system:kube-controller-manager",
            [
                _EVENTS_RULE,
                rule(["create"], [COORDINATION], ["leases"]),
                rule(["get", "update"], [COORDINATION], ["leases"], names=["kube-controller-manager"]),
                rule(["create"], [CORE], ["secrets", "serviceaccounts"]),
                rule(["delete"], [CORE], ["secrets"]),
                rule(["get"], [CORE], ["namespaces", "secrets", "serviceaccounts", "configmaps"]),
                rule(["update"], [CORE], ["secrets", "serviceaccounts"]),
                rule(["create"], [AUTHENTICATION], ["tokenreviews"]),
                rule(["create"], [AUTHORIZATION], ["subjectaccessreviews"]),
                # it reads everything for its shared informers
                rule(["list", "watch"], ["*"], ["*"]),
                rule(["create"], [CORE], ["serviceaccounts/token"]),
            ],
        ),
        _cluster_role("system:kube-dns", [rule(["list", "watch"], [CORE], ["endpoints", "services"])]),
        _cluster_role(
            "system:kube-scheduler",
            [
                _EVENTS_RULE,
                rule(["create"], [COORDINATION], ["leases"]),
                rule(["get", "update"], [COORDINATION], ["leases"], names=["kube-scheduler"]),
                rule(READ, [CORE], ["nodes"]),
                rule(["get", "list", "watch", "delete"], [CORE], ["pods"]),
                rule(["create"], [CORE], ["pods/binding", "bindings"]),
                rule(["patch", "update"], [CORE], ["pods/status"]),
                rule(READ, [CORE], ["replicationcontrollers", "services"]),
                rule(READ, [APPS, EXTENSIONS], ["replicasets"]),
                rule(READ, [APPS], ["statefulsets"]),
                rule(READ, [POLICY], ["poddisruptionbudgets"]),
                rule(READ, [CORE], ["persistentvolumeclaims", "persistentvolumes"]),
                rule(["create"], [AUTHENTICATION], ["tokenreviews"]),
                rule(["create"], [AUTHORIZATION], ["subjectaccessreviews"]),
                rule(READ, [STORAGE], ["csinodes"]),
                rule(READ, [CORE], ["namespaces"]),
                rule(READ, [STORAGE], ["csidrivers"]),
                rule(READ, [STORAGE], ["csistoragecapacities"]),
            ],
        ),
        _cluster_role(
            "system:kubelet-api-admin",
            [
                rule(READ, [CORE], ["nodes"]),
                rule(["proxy"], [CORE], ["nodes"]),
                rule(["*"], [CORE], ["nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"]),
            ],
        ),
        _cluster_role("system:node", _node_rules()),
        _cluster_role(
            "system:node-problem-detector",
            [rule(["get"], [CORE], ["nodes"]), rule(["patch"], [CORE], ["nodes/status"]), _EVENTS_RULE],
        ),
        _cluster_role(
            "system:node-proxier",
            [
                rule(["list", "watch"], [CORE], ["services", "endpoints"]),
                rule(READ, [CORE], ["nodes"]),
                _EVENTS_RULE,
                rule(["list", "watch"], [DISCOVERY], ["endpointslices"]),
            ],
        ),
        _cluster_role(
            "system:persistent-volume-provisioner",
            [
                rule(["get", "list", "watch", "create", "delete"], [CORE], ["persistentvolumes"]),
                # update is needed to bind a claim to a volume
                rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumeclaims"]),
                rule(READ, [STORAGE], ["storageclasses"]),
                rule(["watch"], [CORE], ["events"]),
                _EVENTS_RULE,
            ],
        ),
        _cluster_role(
            "system:service-account-issuer-discovery",
            [url_rule(["get"], ["/.well-known/openid-configuration", "/openid/v1/jwks"])],
        ),
        _cluster_role(
            "system:volume-scheduler",
            [
                rule(READ_UPDATE, [CORE], ["persistentvolumes"]),
                rule(READ, [STORAGE], ["storageclasses"]),
                rule(READ_UPDATE, [CORE], ["persistentvolumeclaims"]),
            ],
        ),
        _cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            [rule(["create"], [CERTIFICATES], ["certificatesigningrequests/nodeclient"])],
        ),
        _cluster_role(
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            [rule(["create"], [CERTIFICATES], ["certificatesigningrequests/selfnodeclient"])],
        ),
        _signer_approver("kubernetes.io/kube-apiserver-client"),
        _signer_approver("kubernetes.io/kube-apiserver-client-kubelet"),
        _signer_approver("kubernetes.io/kubelet-serving"),
        _signer_approver("kubernetes.io/legacy-unknown"),
    ]


def _controller_rules() -> dict[str, list[dict[str, Any]]]:
    """kube 1.32's controller roles by ServiceAccount name, at that release's default feature gates (no DRA,
    MultiCIDRServiceAllocator, VolumeAttributesClass, ClusterTrustBundle or StorageVersion roles)."""
    scale_get = rule(["get"], ["*"], ["*/scale"])
    return {
        "attachdetach-controller": [
            rule(["list", "watch"], [CORE], ["persistentvolumes", "persistentvolumeclaims"]),
            rule(READ, [CORE], ["nodes"]),
            rule(["patch", "update"], [CORE], ["nodes/status"]),
            rule(["list", "watch"], [CORE], ["pods"]),
            _EVENTS_RULE,
            rule(["get", "create", "delete", "list", "watch"], [STORAGE], ["volumeattachments"]),
            rule(READ, [STORAGE], ["csidrivers"]),
            rule(READ, [STORAGE], ["csinodes"]),
        ],
        "certificate-controller": [
            rule(["get", "list", "watch", "delete"], [CERTIFICATES], ["certificatesigningrequests"]),
            rule(
                ["update"],
                [CERTIFICATES],
                ["certificatesigningrequests/status", "certificatesigningrequests/approval"],
            ),
            rule(["approve"], [CERTIFICATES], ["signers"], names=["kubernetes.io/kube-apiserver-client-kubelet"]),
            rule(
                ["sign"],
                [CERTIFICATES],
                ["signers"],
                names=[
                    "kubernetes.io/legacy-unknown",
                    "kubernetes.io/kube-apiserver-client",
                    "kubernetes.io/kube-apiserver-client-kubelet",
                    "kubernetes.io/kubelet-serving",
                ],
            ),
            rule(["create"], [AUTHORIZATION], ["subjectaccessreviews"]),
            _EVENTS_RULE,
        ],
        "clusterrole-aggregation-controller": [
            rule(["escalate", "get", "list", "watch", "update", "patch"], [RBAC_GROUP], ["clusterroles"]),
        ],
        "cronjob-controller": [
            rule([*READ, "update"], [BATCH], ["cronjobs"]),
            rule([*READ, "create", "update", "delete", "patch"], [BATCH], ["jobs"]),
            rule(["update"], [BATCH], ["cronjobs/status"]),
            rule(["update"], [BATCH], ["cronjobs/finalizers"]),
            rule(["list", "watch", "delete"], [CORE], ["pods"]),
            _EVENTS_RULE,
        ],
        "daemon-set-controller": [
            rule(READ, [EXTENSIONS, APPS], ["daemonsets"]),
            rule(["update"], [EXTENSIONS, APPS], ["daemonsets/status"]),
            rule(["update"], [EXTENSIONS, APPS], ["daemonsets/finalizers"]),
            rule(["list", "watch"], [CORE], ["nodes"]),
            rule(["list", "watch", "create", "delete", "patch"], [CORE], ["pods"]),
            rule(["create"], [CORE], ["pods/binding"]),
            rule([*READ, "create", "delete", "update", "patch"], [APPS], ["controllerrevisions"]),
            _EVENTS_RULE,
        ],
        "deployment-controller": [
            rule([*READ, "update"], [EXTENSIONS, APPS], ["deployments"]),
            rule(["update"], [EXTENSIONS, APPS], ["deployments/status"]),
            rule(["update"], [EXTENSIONS, APPS], ["deployments/finalizers"]),
            rule([*READ, "create", "update", "patch", "delete"], [APPS, EXTENSIONS], ["replicasets"]),
            rule([*READ, "update"], [CORE], ["pods"]),
            _EVENTS_RULE,
        ],
        "disruption-controller": [
            rule(READ, [EXTENSIONS, APPS], ["deployments"]),
            rule(READ, [APPS, EXTENSIONS], ["replicasets"]),
            rule(READ, [CORE], ["replicationcontrollers"]),
            rule(READ, [POLICY], ["poddisruptionbudgets"]),
            rule(READ, [APPS], ["statefulsets"]),
            rule(["update"], [POLICY], ["poddisruptionbudgets/status"]),
            rule(["patch", "update"], [CORE], ["pods/status"]),
            scale_get,
            _EVENTS_RULE,
        ],
        "endpoint-controller": [
            rule(READ, [CORE], ["services", "pods"]),
            rule([*READ, "create", "update", "delete"], [CORE], ["endpoints"]),
            rule(["create"], [CORE], ["endpoints/restricted"]),
            _EVENTS_RULE,
        ],
        "endpointslice-controller": [
            rule(READ, [CORE], ["services", "pods", "nodes"]),
            # an EndpointSlice owned by its Service with blockOwnerDeletion needs the Service's finalizers
            rule(["update"], [CORE], ["services/finalizers"]),
            rule([*READ, "create", "update", "delete"], [DISCOVERY], ["endpointslices"]),
            _EVENTS_RULE,
        ],
        "endpointslicemirroring-controller": [
            rule(READ, [CORE], ["services", "endpoints"]),
            rule(["update"], [CORE], ["services/finalizers"]),
            rule(["update"], [CORE], ["endpoints/finalizers"]),
            rule([*READ, "create", "update", "delete"], [DISCOVERY], ["endpointslices"]),
            _EVENTS_RULE,
        ],
        "ephemeral-volume-controller": [
            rule(READ, [CORE], ["pods"]),
            rule(["update"], [CORE], ["pods/finalizers"]),
            rule([*READ, "create"], [CORE], ["persistentvolumeclaims"]),
            _EVENTS_RULE,
        ],
        "generic-garbage-collector": [
            # it lists, watches, reads and updates any resource to follow owner references
            rule([*READ, "patch", "update", "delete"], ["*"], ["*"]),
            _EVENTS_RULE,
        ],
        "horizontal-pod-autoscaler": [
            rule(READ, [AUTOSCALING], ["horizontalpodautoscalers"]),
            rule(["update"], [AUTOSCALING], ["horizontalpodautoscalers/status"]),
            rule(["get", "update"], ["*"], ["*/scale"]),
            rule(["list", "watch"], [CORE], ["pods"]),
            # resource, custom and external metrics
            rule(["list", "watch"], [METRICS], ["pods"]),
            rule(READ, [CUSTOM_METRICS], ["*"]),
            rule(READ, [EXTERNAL_METRICS], ["*"]),
            _EVENTS_RULE,
        ],
        "job-controller": [
            rule([*READ, "update", "patch"], [BATCH], ["jobs"]),
            rule(["update"], [BATCH], ["jobs/status"]),
            rule(["update"], [BATCH], ["jobs/finalizers"]),
            rule(["list", "watch", "create", "delete", "patch"], [CORE], ["pods"]),
            _EVENTS_RULE,
        ],
        "legacy-service-account-token-cleaner": [
            rule(["get"], [CORE], ["configmaps"], names=["kube-apiserver-legacy-service-account-token-tracking"]),
            rule(["patch", "delete"], [CORE], ["secrets"]),
        ],
        "namespace-controller": [
            rule([*READ, "delete"], [CORE], ["namespaces"]),
            rule(["update"], [CORE], ["namespaces/finalize", "namespaces/status"]),
            rule([*READ, "delete", "deletecollection"], ["*"], ["*"]),
        ],
        "node-controller": [
            rule([*READ, "update", "delete", "patch"], [CORE], ["nodes"]),
            rule(["patch", "update"], [CORE], ["nodes/status"]),
            # evicting pods from a lost node
            rule(["patch", "update"], [CORE], ["pods/status"]),
            rule([*READ, "delete"], [CORE], ["pods"]),
            _EVENTS_RULE,
        ],
        "pod-garbage-collector": [
            rule(["list", "watch", "delete"], [CORE], ["pods"]),
            rule(READ, [CORE], ["nodes"]),
            rule(["patch"], [CORE], ["pods/status"]),
        ],
        "pv-protection-controller": [
            rule([*READ, "update"], [CORE], ["persistentvolumes"]),
            _EVENTS_RULE,
        ],
        "replicaset-controller": [
            rule([*READ, "update"], [APPS, EXTENSIONS], ["replicasets"]),
            rule(["update"], [APPS, EXTENSIONS], ["replicasets/status"]),
            rule(["update"], [APPS, EXTENSIONS], ["replicasets/finalizers"]),
            rule(["list", "watch", "patch", "create", "delete"], [CORE], ["pods"]),
            _EVENTS_RULE,
        ],
        "replication-controller": [
            rule([*READ, "update"], [CORE], ["replicationcontrollers"]),
            rule(["update"], [CORE], ["replicationcontrollers/status"]),
            rule(["update"], [CORE], ["replicationcontrollers/finalizers"]),
            rule(["list", "watch", "patch", "create", "delete"], [CORE], ["pods"]),
            _EVENTS_RULE,
        ],
        "resourcequota-controller": [
            # quota may count anything, so it watches everything
            rule(["list", "watch"], ["*"], ["*"]),
            rule(["update"], [CORE], ["resourcequotas/status"]),
            _EVENTS_RULE,
        ],
        "root-ca-cert-publisher": [rule(["create", "update"], [CORE], ["configmaps"]), _EVENTS_RULE],
        "route-controller": [
            rule(["list", "watch"], [CORE], ["nodes"]),
            rule(["patch"], [CORE], ["nodes/status"]),
            _EVENTS_RULE,
        ],
        "service-account-controller": [rule(["create"], [CORE], ["serviceaccounts"]), _EVENTS_RULE],
        "service-controller": [
            rule(READ, [CORE], ["services"]),
            rule(["patch", "update"], [CORE], ["services/status"]),
            rule(["list", "watch"], [CORE], ["nodes"]),
            _EVENTS_RULE,
        ],
        "statefulset-controller": [
            rule(["list", "watch"], [CORE], ["pods"]),
            rule(READ, [APPS], ["statefulsets"]),
            rule(["update"], [APPS], ["statefulsets/status"]),
            rule(["update"], [APPS], ["statefulsets/finalizers"]),
            rule(["get", "create", "delete", "update", "patch"], [CORE], ["pods"]),
            rule([*READ, "create", "delete", "update", "patch"], [APPS], ["controllerrevisions"]),
            rule([*READ, "create"], [CORE], ["persistentvolumeclaims"]),
            rule(["update", "delete"], [CORE], ["persistentvolumeclaims"]),
            rule(["update"], [CORE], ["pods/finalizers"]),
            _EVENTS_RULE,
        ],
        "ttl-after-finished-controller": [rule([*READ, "delete"], [BATCH], ["jobs"]), _EVENTS_RULE],
        "ttl-controller": [rule(["update", "patch", "list", "watch"], [CORE], ["nodes"]), _EVENTS_RULE],
        "validatingadmissionpolicy-status-controller": [
            rule(READ, [ADMISSION], ["validatingadmissionpolicies"]),
            rule(["get", "patch", "update"], [ADMISSION], ["validatingadmissionpolicies/status"]),
            _EVENTS_RULE,
        ],
    }


def controller_policy() -> list[dict[str, Any]]:
    """The `system:controller:<account>` ClusterRoles, each with its binding to `kube-system/<account>`."""
    roles = []
    bindings = []
    for account, rules in _controller_rules().items():
        name = CONTROLLER_ROLE_PREFIX + account
        roles.append(_cluster_role(name, rules))
        bindings.append(_binding(name, service_accounts=[("kube-system", account)]))
    return roles + bindings


def _cluster_roles() -> list[dict[str, Any]]:
    health = ["/livez", "/readyz", "/healthz"]
    return [
        _cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), url_rule(["*"], ["*"])]),
        _cluster_role(
            "system:discovery",
            [
                url_rule(
                    ["get"],
                    [*health, "/version", "/version/", "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"],
                )
            ],
        ),
        _cluster_role(
            "system:monitoring",
            [url_rule(["get"], ["/metrics", "/metrics/slis", *health, *(f"{p}/*" for p in health)])],
        ),
        _cluster_role(
            "system:basic-user",
            [
                rule(["create"], [AUTHORIZATION], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                rule(["create"], [AUTHENTICATION], ["selfsubjectreviews"]),
            ],
        ),
        _cluster_role("system:public-info-viewer", [url_rule(["get"], [*health, "/version", "/version/"])]),
        *_user_facing_roles(),
        *_system_roles(),
    ]


def kubelet_client_policy() -> list[dict[str, Any]]:
    """Gardener's `system:apiserver:kubelet` ClusterRole and its binding to the API server's kubelet client user
    (kube-apiserver's ManagedResource `shoot-core-kube-apiserver`): what kubelets' authorization checks of
    `kubectl logs`, `exec` and `nodes/proxy` requests the API server relays to them."""
    verbs = ["create", "get", "update", "patch", "delete"]
    name = "system:apiserver:kubelet"
    role = {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [
            {
                "apiGroups": [CORE],
                "resources": ["nodes/proxy", "nodes/stats", "nodes/log", "nodes/spec", "nodes/metrics"],
                "verbs": verbs,
            },
            {"nonResourceURLs": ["*"], "verbs": verbs},
        ],
    }
    binding = {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "User", "name": KUBELET_CLIENT_USER}],
    }
    return [role, binding]


def bootstrap_policy() -> list[dict[str, Any]]:
    """The ClusterRoles (aggregated rules already filled in) and ClusterRoleBindings a fresh server creates."""
    roles = resolve_aggregation(_cluster_roles())
    bindings = [
        _binding("cluster-admin", groups=[SYSTEM_MASTERS]),
        _binding("system:monitoring", groups=[MONITORING_GROUP]),
        _binding("system:discovery", groups=[ALL_AUTHENTICATED]),
        _binding("system:basic-user", groups=[ALL_AUTHENTICATED]),
        _binding("system:public-info-viewer", groups=[ALL_AUTHENTICATED, ALL_UNAUTHENTICATED]),
        _binding("system:node-proxier", users=[KUBE_PROXY_USER]),
        _binding("system:kube-controller-manager", users=[KUBE_CONTROLLER_MANAGER_USER]),
        _binding("system:kube-dns", service_accounts=[("kube-system", "kube-dns")]),
        _binding("system:kube-scheduler", users=[KUBE_SCHEDULER_USER]),
        _binding("system:volume-scheduler", users=[KUBE_SCHEDULER_USER]),
        # kube binds no one: kubelets get their rights through the Node authorizer
        _binding("system:node"),
        _binding("system:service-account-issuer-discovery", groups=[SERVICE_ACCOUNTS_GROUP]),
    ]
    return roles + bindings + controller_policy() + kubelet_client_policy()
