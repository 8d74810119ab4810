"""Every built-in group of Kubernetes 1.32, driven with the real kubectl against a real server.

The kinds kubectl users reach for first (`create cronjob|ingress|pdb|priorityclass|quota`, app
bundles with NetworkPolicy, LimitRange, EndpointSlice, HPA and ReplicationController), the
subresources with behaviour of their own (eviction, binding, ephemeralcontainers), the computed
componentstatuses and the `kubernetes` Service that points at the server itself.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ServerProcess, create_namespace, eventually, kubectl, kubectl_get


def _kubectl(server: ServerProcess, *args: str, input: str | None = None, check: bool = True) -> Any:
    return kubectl(*args, kubeconfig=server.kubeconfig, input=input, check=check)


def _json(server: ServerProcess, *args: str) -> Any:
    return kubectl_get(*args, kubeconfig=server.kubeconfig)


@pytest.fixture
def namespace(apiserver: ServerProcess) -> str:
    name = f"b-{uuid.uuid4().hex[:8]}"
    create_namespace(name, kubeconfig=apiserver.kubeconfig)
    return name


def _row(rows: list[list[str]], prefix: str) -> list[str]:
    return next(r for r in rows if r and r[0].startswith(prefix))


def _table(server: ServerProcess, *args: str) -> list[list[str]]:
    out = _kubectl(server, "get", *args).stdout
    return [line.split() for line in out.splitlines()]


def test_kubectl_create_the_kinds_users_reach_for_first(apiserver: ServerProcess, namespace: str) -> None:
    ns = ("-n", namespace)
    _kubectl(apiserver, "create", "cronjob", "nightly", "--image=busybox", "--schedule=*/5 * * * *", *ns)
    _kubectl(apiserver, "create", "ingress", "web", "--rule=foo.example.com/bar=svc1:8080", *ns)
    _kubectl(apiserver, "create", "pdb", "budget", "--selector=app=x", "--min-available=1", *ns)
    _kubectl(apiserver, "create", "quota", "q", "--hard=pods=10,cpu=2", *ns)
    pc = f"pc-{namespace}"
    _kubectl(apiserver, "create", "priorityclass", pc, "--value=1000", "--description=test")
    try:
        rows = _table(apiserver, "cronjobs,ingress,pdb,quota", *ns)
        assert rows[0][:4] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND"]
        assert rows[1][:3] == ["cronjob.batch/nightly", "*/5", "*"]
        assert _row(rows, "ingress")[:4] == ["ingress.networking.k8s.io/web", "<none>", "foo.example.com", "80"]
        assert _row(rows, "poddisruptionbudget")[:4] == [
            "poddisruptionbudget.policy/budget",
            "1",
            "N/A",
            "0",
        ]
        assert any(r and r[0] == "resourcequota/q" for r in rows)
        assert _json(apiserver, "priorityclass", pc)["value"] == 1000
        classes = {r[0]: r[1] for r in _table(apiserver, "pc")[1:]}
        assert classes["system-cluster-critical"] == "2000000000"
        assert classes["system-node-critical"] == "2000001000"
    finally:
        _kubectl(apiserver, "delete", "priorityclass", pc)


def _bundle(namespace: str) -> str:
    labels = {"app": "x"}
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "deny", "namespace": namespace, "labels": labels},
            "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"]},
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "limits", "namespace": namespace, "labels": labels},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "ext",
                "namespace": namespace,
                "labels": {**labels, "kubernetes.io/service-name": "ext"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.1.2.3"]}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": namespace, "labels": labels},
            "spec": {
                "scaleTargetRef": {"apiVersion": "v1", "kind": "ReplicationController", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 3,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                    }
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "web", "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 2,
                "selector": labels,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        },
    ]
    return yaml.safe_dump_all(objects)


def test_apply_a_bundle_of_the_new_kinds_and_prune_it(apiserver: ServerProcess, namespace: str) -> None:
    bundle = _bundle(namespace)
    out = _kubectl(apiserver, "apply", "-f", "-", input=bundle).stdout
    for created in (
        "networkpolicy.networking.k8s.io/deny created",
        "limitrange/limits created",
        "endpointslice.discovery.k8s.io/ext created",
        "horizontalpodautoscaler.autoscaling/web created",
        "replicationcontroller/web created",
    ):
        assert created in out
    rows = _table(apiserver, "hpa,netpol,limits,endpointslices,rc", "-n", namespace)
    assert _row(rows, "horizontalpodautoscaler")[:2] == [
        "horizontalpodautoscaler.autoscaling/web",
        "ReplicationController/web",
    ]
    assert _row(rows, "networkpolicy")[:2] == [
        "networkpolicy.networking.k8s.io/deny",
        "app=x",
    ]
    assert _row(rows, "endpointslice")[:4] == [
        "endpointslice.discovery.k8s.io/ext",
        "IPv4",
        "80",
        "10.1.2.3",
    ]
    assert _row(rows, "replicationcontroller")[:2] == [
        "replicationcontroller/web",
        "2",
    ]
    # the autoscaling/v1 view of the same object comes from the same storage
    v1 = _json(apiserver, "horizontalpodautoscalers.v1.autoscaling", "web", "-n", namespace)
    assert v1["apiVersion"] == "autoscaling/v1" and v1["metadata"]["name"] == "web"
    # scale the ReplicationController through its scale subresource
    _kubectl(apiserver, "scale", "rc", "web", "--replicas=3", "-n", namespace)
    assert _json(apiserver, "rc", "web", "-n", namespace)["spec"]["replicas"] == 3

    # applying only the NetworkPolicy with --prune deletes the rest of the labelled bundle
    only_netpol = [d for d in yaml.safe_load_all(bundle) if d["kind"] == "NetworkPolicy"]
    out = _kubectl(
        apiserver,
        "apply",
        "--prune",
        "-l",
        "app=x",
        "-n",
        namespace,
        "--prune-allowlist=core/v1/LimitRange",
        "--prune-allowlist=core/v1/ReplicationController",
        "--prune-allowlist=discovery.k8s.io/v1/EndpointSlice",
        "--prune-allowlist=autoscaling/v2/HorizontalPodAutoscaler",
        "--prune-allowlist=networking.k8s.io/v1/NetworkPolicy",
        "-f",
        "-",
        input=yaml.safe_dump_all(only_netpol),
    ).stdout
    for pruned in (
        "limitrange/limits pruned",
        "endpointslice.discovery.k8s.io/ext pruned",
        "horizontalpodautoscaler.autoscaling/web pruned",
        "replicationcontroller/web pruned",
    ):
        assert pruned in out
    left = _kubectl(apiserver, "get", "netpol,limits,endpointslices,hpa,rc", "-n", namespace, "-o", "name").stdout
    assert left.split() == ["networkpolicy.networking.k8s.io/deny"]


def test_componentstatuses_say_what_the_server_knows(apiserver: ServerProcess) -> None:
    rows = _table(apiserver, "componentstatuses")
    assert rows[0] == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    by_name = {r[0]: r for r in rows[1:]}
    assert set(by_name) == {"controller-manager", "etcd-0", "scheduler"}
    assert by_name["etcd-0"][1:3] == ["Healthy", "ok"]
    assert by_name["scheduler"][1] == "Unhealthy"
    one = _json(apiserver, "cs", "scheduler")
    assert one["kind"] == "ComponentStatus"
    assert one["conditions"][0]["status"] == "Unknown"
    warned = _kubectl(apiserver, "get", "cs", "etcd-0")
    assert "Warning: v1 ComponentStatus is deprecated in v1.19+" in warned.stderr
    missing = _kubectl(apiserver, "get", "cs", "nope", check=False)
    assert 'componentstatuses "nope" not found' in missing.stderr
    refused = _kubectl(apiserver, "delete", "cs", "scheduler", check=False)
    assert "MethodNotAllowed" in refused.stderr or "not allow" in refused.stderr


def test_describe_service_kubernetes_shows_its_endpoints(apiserver: ServerProcess) -> None:
    def described() -> str:
        out: str = _kubectl(apiserver, "describe", "service", "kubernetes", "-n", "default").stdout
        assert f"127.0.0.1:{apiserver.port}" in out
        return out

    out = eventually(described, what="kubernetes Service with its endpoints")
    assert "IP:                       10.0.0.1" in out
    assert f"TargetPort:               {apiserver.port}/TCP" in out
    slice_ = _json(apiserver, "endpointslice", "kubernetes", "-n", "default")
    assert slice_["endpoints"][0]["addresses"] == ["127.0.0.1"]
    assert slice_["ports"][0]["port"] == apiserver.port


def _running_pod(server: ServerProcess, namespace: str, name: str, *, ready: bool = True) -> None:
    _kubectl(server, "run", name, "--image=busybox", "--labels=app=guarded", "-n", namespace)
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    _kubectl(
        server,
        "patch",
        "pod",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def _evict(server: ServerProcess, namespace: str, name: str, tmp_path: Path) -> Any:
    body = tmp_path / f"evict-{name}.json"
    body.write_text(
        json.dumps({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}})
    )
    return _kubectl(
        server, "create", "--raw", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", "-f", str(body), check=False
    )


def test_eviction_honours_a_pod_disruption_budget(apiserver: ServerProcess, namespace: str, tmp_path: Path) -> None:
    _running_pod(apiserver, namespace, "guarded")
    _kubectl(apiserver, "create", "pdb", "keep", "--selector=app=guarded", "--min-available=1", "-n", namespace)

    # no disruption controller has looked at the budget yet: kube answers 429 and asks to retry
    refused = _evict(apiserver, namespace, "guarded", tmp_path)
    assert refused.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in refused.stderr

    status = {"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1}
    patch = json.dumps({"status": {**status, "expectedPods": 1}})
    _kubectl(apiserver, "patch", "pdb", "keep", "-n", namespace, "--subresource=status", "--type=merge", "-p", patch)
    refused = _evict(apiserver, namespace, "guarded", tmp_path)
    assert "TooManyRequests" in refused.stderr
    assert _json(apiserver, "pod", "guarded", "-n", namespace)["metadata"]["name"] == "guarded"

    patch = json.dumps({"status": {"disruptionsAllowed": 1, "currentHealthy": 2, "expectedPods": 2}})
    _kubectl(apiserver, "patch", "pdb", "keep", "-n", namespace, "--subresource=status", "--type=merge", "-p", patch)
    allowed = _evict(apiserver, namespace, "guarded", tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["status"] == "Success"
    budget = _json(apiserver, "pdb", "keep", "-n", namespace)["status"]
    assert budget["disruptionsAllowed"] == 0
    assert "guarded" in budget["disruptedPods"]
    assert "NotFound" in _kubectl(apiserver, "get", "pod", "guarded", "-n", namespace, check=False).stderr


def test_eviction_of_a_pending_pod_ignores_budgets(apiserver: ServerProcess, namespace: str, tmp_path: Path) -> None:
    _kubectl(apiserver, "run", "waiting", "--image=busybox", "--labels=app=guarded", "-n", namespace)
    _kubectl(apiserver, "create", "pdb", "keep", "--selector=app=guarded", "--min-available=1", "-n", namespace)
    evicted = _evict(apiserver, namespace, "waiting", tmp_path)
    assert evicted.returncode == 0, evicted.stderr
    assert "NotFound" in _kubectl(apiserver, "get", "pod", "waiting", "-n", namespace, check=False).stderr


def test_binding_sets_the_node_once(apiserver: ServerProcess, namespace: str, tmp_path: Path) -> None:
    _kubectl(apiserver, "run", "unbound", "--image=busybox", "-n", namespace)
    body = tmp_path / "binding.json"
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "unbound"}, "target": {"name": "node-1"}}
    body.write_text(json.dumps(binding))
    url = f"/api/v1/namespaces/{namespace}/pods/unbound/binding"
    done = _kubectl(apiserver, "create", "--raw", url, "-f", str(body))
    assert json.loads(done.stdout)["status"] == "Success"
    pod = _json(apiserver, "pod", "unbound", "-n", namespace)
    assert pod["spec"]["nodeName"] == "node-1"
    assert {"type": "PodScheduled", "status": "True"}.items() <= pod["status"]["conditions"][0].items()

    again = _kubectl(
        apiserver, "create", "--raw", f"/api/v1/namespaces/{namespace}/bindings", "-f", str(body), check=False
    )
    assert (
        'Operation cannot be fulfilled on pods/binding "unbound": pod unbound is already assigned to node "node-1"'
        in (again.stderr)
    )
    body.write_text(json.dumps({**binding, "target": {"kind": "Service", "name": "x"}}))
    wrong = _kubectl(apiserver, "create", "--raw", url, "-f", str(body), check=False)
    assert 'target.kind: Unsupported value: "Service"' in wrong.stderr


def test_eviction_and_binding_bodies_that_do_not_decode_get_kubes_words(
    apiserver: ServerProcess, namespace: str, tmp_path: Path
) -> None:
    _kubectl(apiserver, "run", "undecodable", "--image=busybox", "-n", namespace)
    body = tmp_path / "body.json"
    body.write_text(
        json.dumps({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "undecodable"}, "target": "n"})
    )
    url = f"/api/v1/namespaces/{namespace}/pods/undecodable/binding"
    refused = _kubectl(apiserver, "create", "--raw", url, "-f", str(body), check=False)
    assert (
        'Binding in version "v1" cannot be handled as a Binding: json: cannot unmarshal string into Go struct field '
        "Binding.target of type v1.ObjectReference" in refused.stderr
    )
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "undecodable"}, "deleteOptions": 1}
    body.write_text(json.dumps(eviction))
    url = f"/api/v1/namespaces/{namespace}/pods/undecodable/eviction"
    refused = _kubectl(apiserver, "create", "--raw", url, "-f", str(body), check=False)
    assert (
        'Eviction in version "v1" cannot be handled as a Eviction: json: cannot unmarshal number into Go struct field '
        "Eviction.deleteOptions of type v1.DeleteOptions" in refused.stderr
    )


def test_ephemeral_containers_change_only_through_their_subresource(apiserver: ServerProcess, namespace: str) -> None:
    _kubectl(apiserver, "run", "target", "--image=busybox", "-n", namespace)
    _kubectl(apiserver, "debug", "target", "-n", namespace, "--image=busybox", "-c", "debugger", "--attach=false")
    pod = _json(apiserver, "pod", "target", "-n", namespace)
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["debugger"]
    sub = _kubectl(apiserver, "get", "--raw", f"/api/v1/namespaces/{namespace}/pods/target/ephemeralcontainers").stdout
    assert json.loads(sub)["kind"] == "Pod"
    removal = json.dumps({"spec": {"ephemeralContainers": None}})
    removed = _kubectl(
        apiserver,
        "patch",
        "pod",
        "target",
        "-n",
        namespace,
        "--subresource=ephemeralcontainers",
        "--type=merge",
        "-p",
        removal,
        check=False,
    )
    assert 'existing ephemeral containers "debugger" may not be removed' in removed.stderr


def test_validating_admission_policies_are_refused_clearly(apiserver: ServerProcess) -> None:
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "max-replicas"},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["apps"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["deployments"],
                    }
                ]
            },
            "validations": [{"expression": "object.spec.replicas <= 5"}],
        },
    }
    refused = _kubectl(apiserver, "apply", "-f", "-", input=yaml.safe_dump(policy), check=False)
    assert refused.returncode != 0
    assert "MethodNotAllowed" in refused.stderr
    assert "does not evaluate CEL expressions" in refused.stderr
    assert "No resources found" in _kubectl(apiserver, "get", "validatingadmissionpolicies").stderr


def test_api_resources_lists_every_group(apiserver: ServerProcess) -> None:
    out = _kubectl(apiserver, "api-resources", "-o", "name").stdout.split()
    for name in (
        "bindings",
        "componentstatuses",
        "limitranges",
        "persistentvolumes",
        "podtemplates",
        "replicationcontrollers",
        "resourcequotas",
        "apiservices.apiregistration.k8s.io",
        "controllerrevisions.apps",
        "selfsubjectreviews.authentication.k8s.io",
        "tokenreviews.authentication.k8s.io",
        "localsubjectaccessreviews.authorization.k8s.io",
        "subjectaccessreviews.authorization.k8s.io",
        "horizontalpodautoscalers.autoscaling",
        "cronjobs.batch",
        "endpointslices.discovery.k8s.io",
        "flowschemas.flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io",
        "ingressclasses.networking.k8s.io",
        "ingresses.networking.k8s.io",
        "networkpolicies.networking.k8s.io",
        "runtimeclasses.node.k8s.io",
        "poddisruptionbudgets.policy",
        "priorityclasses.scheduling.k8s.io",
        "csidrivers.storage.k8s.io",
        "csinodes.storage.k8s.io",
        "csistoragecapacities.storage.k8s.io",
        "storageclasses.storage.k8s.io",
        "volumeattachments.storage.k8s.io",
        "validatingadmissionpolicies.admissionregistration.k8s.io",
        "validatingadmissionpolicybindings.admissionregistration.k8s.io",
    ):
        assert name in out
    wide = _kubectl(apiserver, "api-resources", "--api-group=autoscaling", "-o", "wide").stdout
    assert "autoscaling/v2" in wide and "all" in wide
    assert "hpa" in wide


def test_kubernetes_endpoints_follow_the_port_across_a_restart(fresh_apiserver: ServerProcess) -> None:
    server = fresh_apiserver

    def endpoint_port() -> int:
        ep = _json(server, "endpoints", "kubernetes", "-n", "default")
        port: int = ep["subsets"][0]["ports"][0]["port"]
        assert port == server.port
        return port

    first = eventually(endpoint_port, what="kubernetes Endpoints on the first port")
    server.stop()
    server.port = 0  # a new free port
    server.start()
    assert server.port != first
    eventually(endpoint_port, what="kubernetes Endpoints on the new port")
    service = _json(server, "service", "kubernetes", "-n", "default")
    assert service["spec"]["ports"][0]["targetPort"] == server.port


def test_kubectl_drain_evicts_the_pods_of_a_node(apiserver: ServerProcess, namespace: str, tmp_path: Path) -> None:
    node = f"node-{namespace}"
    _kubectl(
        apiserver,
        "create",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}),
    )
    try:
        _running_pod(apiserver, namespace, "worker")
        body = tmp_path / "bind.json"
        body.write_text(
            json.dumps(
                {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "worker"}, "target": {"name": node}}
            )
        )
        _kubectl(apiserver, "create", "--raw", f"/api/v1/namespaces/{namespace}/pods/worker/binding", "-f", str(body))
        # no kubelet runs here to finish a graceful deletion: the evictions ask for none
        out = _kubectl(apiserver, "drain", node, "--force", "--grace-period=0", "--timeout=30s").stdout
        assert "pod/worker evicted" in out and f"node/{node} drained" in out
        assert _json(apiserver, "node", node)["spec"]["unschedulable"] is True
        assert "NotFound" in _kubectl(apiserver, "get", "pod", "worker", "-n", namespace, check=False).stderr
    finally:
        _kubectl(apiserver, "delete", "node", node)


def test_an_unready_pod_is_evicted_while_the_budget_is_healthy(
    apiserver: ServerProcess, namespace: str, tmp_path: Path
) -> None:
    _running_pod(apiserver, namespace, "sick", ready=False)
    _kubectl(apiserver, "create", "pdb", "keep", "--selector=app=guarded", "--min-available=1", "-n", namespace)
    status = {"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1}
    patch = json.dumps({"status": {**status, "expectedPods": 2}})
    _kubectl(apiserver, "patch", "pdb", "keep", "-n", namespace, "--subresource=status", "--type=merge", "-p", patch)
    evicted = _evict(apiserver, namespace, "sick", tmp_path)
    assert evicted.returncode == 0, evicted.stderr
    assert _json(apiserver, "pdb", "keep", "-n", namespace)["status"]["disruptionsAllowed"] == 0
    assert "NotFound" in _kubectl(apiserver, "get", "pod", "sick", "-n", namespace, check=False).stderr


def test_a_horizontal_pod_autoscaler_is_served_in_both_versions(apiserver: ServerProcess, namespace: str) -> None:
    v1 = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 5,
            "targetCPUUtilizationPercentage": 70,
        },
    }
    _kubectl(apiserver, "create", "-f", "-", input=json.dumps(v1))
    as_v2 = _json(apiserver, "horizontalpodautoscalers.v2.autoscaling", "web", "-n", namespace)
    assert as_v2["apiVersion"] == "autoscaling/v2"
    assert "targetCPUUtilizationPercentage" not in as_v2["spec"]
    assert as_v2["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    ]
    as_v1 = _json(apiserver, "horizontalpodautoscalers.v1.autoscaling", "web", "-n", namespace)
    assert as_v1["apiVersion"] == "autoscaling/v1"
    assert as_v1["spec"]["targetCPUUtilizationPercentage"] == 70
    assert "metrics" not in as_v1["spec"]
    # an update through v1 lands in the stored v2 object
    _kubectl(
        apiserver,
        "patch",
        "horizontalpodautoscalers.v1.autoscaling",
        "web",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"targetCPUUtilizationPercentage": 55}}',
    )
    as_v2 = _json(apiserver, "horizontalpodautoscalers.v2.autoscaling", "web", "-n", namespace)
    assert as_v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 55
