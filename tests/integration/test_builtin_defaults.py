"""`kubectl get -o yaml` of minimal built-in objects, compared with what kube-apiserver 1.32 shows.

The expected objects are tests/integration/golden/<name>.yaml (see the README there), created from
golden/input/<name>.yaml with the real kubectl against a real server. Parts that kube's admission plugins,
allocators or REST strategies add are compared as separate field groups, so a failure names the piece of kube
whose behaviour differs.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ServerProcess, kubectl, kubectl_get, module_server

GOLDEN = Path(__file__).parent / "golden"
NAMESPACE = "default"

#: field group -> (what adds it in kube, paths; `*` walks every list element)
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "allocators": (
        "Service IP and node-port allocators",
        ("spec.clusterIP", "spec.clusterIPs", "spec.ipFamilies", "spec.ipFamilyPolicy", "spec.ports.*.nodePort"),
    ),
    "serviceaccount": (
        "ServiceAccount admission plugin",
        ("spec.serviceAccount", "spec.serviceAccountName", "spec.volumes", "spec.containers.*.volumeMounts"),
    ),
    "tolerations": ("DefaultTolerationSeconds admission plugin", ("spec.tolerations",)),
    "priority": ("Priority admission plugin", ("spec.priority", "spec.preemptionPolicy")),
    "status": ("REST strategy: status reset to kube's zero value on create", ("status",)),
    "generation": (
        "REST strategy: Pods and Services keep no metadata.generation in 1.32",
        ("metadata.generation",),
    ),
    "job-selector": (
        "Job REST strategy: generated selector and controller-uid/job-name labels",
        ("metadata.labels", "spec.selector", "spec.template.metadata.labels"),
    ),
}

#: golden name -> the field groups compared on their own
KINDS: dict[str, tuple[str, ...]] = {
    "deployment": ("status",),
    "pod": ("serviceaccount", "tolerations", "priority", "status", "generation"),
    "service-clusterip": ("allocators", "status", "generation"),
    "service-nodeport": ("allocators", "status", "generation"),
    "job": ("status", "job-selector"),
    "statefulset": ("status",),
    "daemonset": ("status",),
    "cronjob": ("status",),
}


def _pick(doc: Any, parts: list[str], *, remove: bool) -> list[Any]:
    """The values at a dotted path (`*` = every list element), removed from `doc` when asked."""
    if not parts:
        return []
    head, rest = parts[0], parts[1:]
    if head == "*":
        found: list[Any] = []
        for item in doc if isinstance(doc, list) else []:
            found += _pick(item, rest, remove=remove)
        return found
    if not isinstance(doc, dict) or head not in doc:
        return []
    if rest:
        found = _pick(doc[head], rest, remove=remove)
        if remove and found and doc[head] == {}:
            del doc[head]  # a struct left empty by the removal is not printed either
        return found
    return [doc.pop(head) if remove else doc[head]]


def _drop_null_template_timestamps(doc: Any, *, top: bool = True) -> None:
    """Go prints a zero metav1.Time in embedded templates as `creationTimestamp: null`: an encoder artifact."""
    if isinstance(doc, dict):
        for key, value in list(doc.items()):
            if key == "metadata" and not top and isinstance(value, dict):
                if "creationTimestamp" in value and value["creationTimestamp"] is None:
                    del value["creationTimestamp"]
                if not value:
                    del doc[key]
                    continue
            _drop_null_template_timestamps(value, top=False)
    elif isinstance(doc, list):
        for item in doc:
            _drop_null_template_timestamps(item, top=False)


def _mask(doc: dict[str, Any]) -> dict[str, Any]:
    """Replace volatile values by the golden files' placeholders, only where they have the right shape."""
    doc = copy.deepcopy(doc)
    meta = doc.get("metadata") or {}
    uid = meta.get("uid")
    for key in ("uid", "resourceVersion", "creationTimestamp"):
        if isinstance(meta.get(key), str) and meta[key]:
            meta[key] = f"<{key}>"
    spec = doc.get("spec") or {}
    if _is_ipv4(spec.get("clusterIP")):
        spec["clusterIP"] = "<clusterIP>"
    if isinstance(spec.get("clusterIPs"), list):
        spec["clusterIPs"] = ["<clusterIP>" if _is_ipv4(ip) else ip for ip in spec["clusterIPs"]]
    for port in spec.get("ports") or []:
        if isinstance(port.get("nodePort"), int) and 30000 <= port["nodePort"] <= 32767:
            port["nodePort"] = "<nodePort>"

    def strings(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strings(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strings(v) for v in value]
        if isinstance(value, str):
            if uid and value == uid:
                return "<uid>"
            return re.sub(r"^kube-api-access-[a-z0-9]{5}$", "kube-api-access-<random>", value)
        return value

    masked: dict[str, Any] = strings(doc)
    _drop_null_template_timestamps(masked)
    return masked


def _is_ipv4(value: Any) -> bool:
    try:
        return isinstance(value, str) and isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
    except ValueError:
        return False


def _split(doc: dict[str, Any], groups: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    rest = copy.deepcopy(doc)
    picked = {group: [_pick(rest, path.split("."), remove=True) for path in GROUPS[group][1]] for group in groups}
    return rest, {group: values for group, values in picked.items()}


server = module_server("apiserver-defaults")


@pytest.fixture(scope="module")
def shown(server: ServerProcess) -> dict[str, dict[str, Any]]:
    """Create every minimal manifest with kubectl on a fresh server; what `kubectl get -o yaml` shows, masked."""
    objects = {}
    for name in KINDS:
        manifest = GOLDEN / "input" / f"{name}.yaml"
        source = yaml.safe_load(manifest.read_text())
        kubectl("create", "-n", NAMESPACE, "-f", str(manifest), kubeconfig=server.kubeconfig)
        got = kubectl(
            "get",
            "-n",
            NAMESPACE,
            source["kind"].lower(),
            source["metadata"]["name"],
            "-o",
            "yaml",
            kubeconfig=server.kubeconfig,
        )
        objects[name] = _mask(yaml.safe_load(got.stdout))
    return objects


def _golden(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((GOLDEN / f"{name}.yaml").read_text())
    _drop_null_template_timestamps(doc)
    return doc


@pytest.mark.parametrize("name", sorted(KINDS))
def test_defaulted_object_matches_kube(shown: dict[str, dict[str, Any]], name: str) -> None:
    expected, _ = _split(_golden(name), KINDS[name])
    actual, _ = _split(shown[name], KINDS[name])
    assert actual == expected


def _group_cases() -> Iterator[Any]:
    for name, groups in sorted(KINDS.items()):
        for group in groups:
            yield pytest.param(name, group, id=f"{name}-{group}")


@pytest.mark.parametrize(("name", "group"), list(_group_cases()))
def test_field_group_matches_kube(shown: dict[str, dict[str, Any]], name: str, group: str) -> None:
    _, expected = _split(_golden(name), (group,))
    _, actual = _split(shown[name], (group,))
    assert actual[group] == expected[group]


def test_golden_documents_are_complete() -> None:
    """Every field group named for a kind appears in its golden document, so no group comparison is vacuous.

    `generation` is the exception: for Pods and Services its expectation is the field's absence.
    """
    for name, groups in KINDS.items():
        _, picked = _split(_golden(name), groups)
        for group, values in picked.items():
            assert any(values) or group == "generation", f"{name}: golden document has nothing of group {group}"


# --- the other groups' kinds and the update path, through the real server -----------------------------------

BUNDLE = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web-v1}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 3
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 80}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1024Mi}}
---
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    max: {cpu: "2"}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers: [{name: c, image: "busybox:1.36"}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: User, name: jane}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1]}]
ports: [{port: 8080}]
"""

CLUSTER_BUNDLE = """
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: defaults-test}
value: 1000
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: defaults-test}
provisioner: example.com/none
"""

#: (resource, name, namespaced) -> the defaulted fields expected, as (dotted path, value)
EXPECTED: dict[tuple[str, str, bool], list[tuple[str, Any]]] = {
    ("horizontalpodautoscalers.v2.autoscaling", "web", True): [
        ("spec.minReplicas", 1),
        (
            "spec.metrics",
            [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        ),
    ],
    ("horizontalpodautoscalers.v1.autoscaling", "web-v1", True): [("spec.minReplicas", 1)],
    ("networkpolicies.networking.k8s.io", "web", True): [
        ("spec.policyTypes", ["Ingress"]),
        ("spec.ingress", [{"ports": [{"port": 80, "protocol": "TCP"}]}]),
    ],
    ("persistentvolumeclaims", "data", True): [
        ("spec.volumeMode", "Filesystem"),
        ("spec.resources", {"requests": {"storage": "1Gi"}}),
        ("status.phase", "Pending"),
    ],
    ("limitranges", "limits", True): [
        (
            "spec.limits",
            [{"type": "Container", "max": {"cpu": "2"}, "default": {"cpu": "2"}, "defaultRequest": {"cpu": "2"}}],
        )
    ],
    ("replicationcontrollers", "legacy", True): [
        ("metadata.labels", {"app": "legacy"}),
        ("spec.selector", {"app": "legacy"}),
        ("spec.replicas", 1),
        ("spec.template.spec.restartPolicy", "Always"),
        ("spec.template.spec.containers.0.imagePullPolicy", "IfNotPresent"),
    ],
    ("rolebindings.rbac.authorization.k8s.io", "view", True): [
        ("subjects", [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}]),
    ],
    ("endpointslices.discovery.k8s.io", "web-1", True): [("ports", [{"port": 8080, "name": "", "protocol": "TCP"}])],
    ("priorityclasses.scheduling.k8s.io", "defaults-test", False): [("preemptionPolicy", "PreemptLowerPriority")],
    ("storageclasses.storage.k8s.io", "defaults-test", False): [
        ("reclaimPolicy", "Delete"),
        ("volumeBindingMode", "Immediate"),
    ],
}


def _at(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def test_other_kinds_are_defaulted_by_the_server(server: ServerProcess) -> None:
    namespace = "defaults-groups"
    kubectl("create", "namespace", namespace, kubeconfig=server.kubeconfig)
    kubectl("create", "-n", namespace, "-f", "-", kubeconfig=server.kubeconfig, input=BUNDLE)
    kubectl("create", "-f", "-", kubeconfig=server.kubeconfig, input=CLUSTER_BUNDLE)
    problems = []
    for (resource, name, namespaced), fields in EXPECTED.items():
        scope = ["-n", namespace] if namespaced else []
        obj = kubectl_get(*scope, resource, name, kubeconfig=server.kubeconfig)
        for path, value in fields:
            try:
                found = _at(obj, path)
            except (KeyError, IndexError, TypeError):
                found = "<missing>"
            if found != value:
                problems.append(f"{resource}/{name} {path}: {found!r} != {value!r}")
    assert not problems, "\n".join(problems)


def test_updates_are_defaulted_again(server: ServerProcess) -> None:
    """kube defaults every decoded body: a patch that removes a defaulted field gets the default back."""
    namespace = "defaults-update"
    kubectl("create", "namespace", namespace, kubeconfig=server.kubeconfig)
    manifest = (GOLDEN / "input" / "deployment.yaml").read_text()
    kubectl("create", "-n", namespace, "-f", "-", kubeconfig=server.kubeconfig, input=manifest)
    removals = [
        {"op": "remove", "path": "/spec/strategy"},
        {"op": "remove", "path": "/spec/revisionHistoryLimit"},
        {"op": "remove", "path": "/spec/template/spec/containers/0/imagePullPolicy"},
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx"},
    ]
    kubectl(
        "patch",
        "-n",
        namespace,
        "deployment",
        "web",
        "--type=json",
        "-p",
        json.dumps(removals),
        kubeconfig=server.kubeconfig,
    )
    obj = kubectl_get("-n", namespace, "deployment", "web", kubeconfig=server.kubeconfig)
    assert obj["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert obj["spec"]["revisionHistoryLimit"] == 10
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
