"""Upstream validation of built-in kinds: valid objects pass, each rule answers kube's field path and message."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gardener.apiserver import strategies
from gardener.apiserver.builtin.validation import VALIDATORS, formats, quantities, validate

RFC1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
MISMATCH = 'Invalid value: map[string]string{"app":"b"}: `selector` does not match template `labels`'
POD_UPDATE = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
    "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def causes(group: str, kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, str]:
    """field -> message (the last one per field; tests look at fields with one problem)."""
    return {c.field: c.message for c in validate(group=group, version="v1", kind=kind, obj=obj, old=old)}


def container(name: str = "app", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": "nginx:1.27",
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePolicy": "File",
        **extra,
    }


def pod_spec(**extra: Any) -> dict[str, Any]:
    return {"containers": [container()], "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", **extra}


def pod(**extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": pod_spec(**extra)}


def deployment(*, selector: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector if selector is not None else {"app": "web"}},
            "template": {"metadata": {"labels": labels if labels is not None else {"app": "web"}}, "spec": pod_spec()},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }


def service(**spec: Any) -> dict[str, Any]:
    base = {
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
        "selector": {"app": "web"},
    }
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {**base, **spec}}


# ---- generic formats ----


def test_formats_answer_kubes_messages() -> None:
    assert formats.dns1123_label("Bad_Name") == [RFC1123_LABEL]
    assert formats.dns1123_label("a" * 64) == ["must be no more than 63 characters"]
    assert formats.dns1123_subdomain("x.example.com") == []
    assert (
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'"
        in (formats.dns1123_subdomain("A")[0])
    )
    assert formats.dns1035_label("1abc")[0].startswith("a DNS-1035 label must consist of lower case")
    assert formats.qualified_name("example.com/my-key") == []
    assert formats.qualified_name("/x") == ["prefix part must be non-empty"]
    assert formats.qualified_name("a/b/c")[0].startswith("a qualified name must consist of")
    # kube's IsQualifiedName reports an empty name part both as empty and as not matching
    empty_name = formats.qualified_name("example.com/")
    assert empty_name[0] == "name part must be non-empty"
    assert empty_name[1].startswith("name part must consist of alphanumeric characters")
    assert formats.label_value("") == []
    assert formats.label_value("-x")[0].startswith("a valid label must be an empty string or consist of")
    assert formats.port_number(99999) == ["must be between 1 and 65535, inclusive"]
    assert formats.port_name("http--x") == ["must not contain consecutive hyphens"]
    assert formats.port_name("1234") == ["must contain at least one letter (a-z)"]


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("500m", 0.5), ("1Gi", 2**30), ("2k", 2000), ("1e3", 1000), ("0.5", 0.5), ("-1", -1)],
)
def test_quantities_parse(text: str, value: float) -> None:
    assert quantities.parse(text) == value


def test_quantities_refuse_garbage() -> None:
    assert quantities.parse("1 apple") is None
    assert quantities.parse("") is None


# ---- pods ----


def test_valid_pod_has_no_causes() -> None:
    assert causes("", "Pod", pod()) == {}


def test_pod_container_name_must_be_a_dns_label() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["name"] = "Bad_Name"
    assert causes("", "Pod", obj) == {"spec.containers[0].name": f'Invalid value: "Bad_Name": {RFC1123_LABEL}'}


def test_pod_rules_name_kubes_fields() -> None:
    obj = pod(restartPolicy="Sometimes", activeDeadlineSeconds=0, nodeSelector={"ok": "-bad-"})
    obj["spec"]["containers"] = [
        container(ports=[{"containerPort": 99999, "protocol": "TCP"}, {"containerPort": 80, "protocol": "ICMP"}]),
        container(image="", env=[{"name": ""}], volumeMounts=[{"name": "missing", "mountPath": "/data"}]),
    ]
    got = causes("", "Pod", obj)
    assert (
        got["spec.restartPolicy"] == 'Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"'
    )
    assert got["spec.activeDeadlineSeconds"] == "Invalid value: 0: must be between 1 and 2147483647, inclusive"
    assert (
        got["spec.containers[0].ports[0].containerPort"]
        == "Invalid value: 99999: must be between 1 and 65535, inclusive"
    )
    assert (
        got["spec.containers[0].ports[1].protocol"]
        == 'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'
    )
    assert got["spec.containers[1].name"] == 'Duplicate value: "app"'
    assert got["spec.containers[1].image"] == "Required value"
    assert got["spec.containers[1].env[0].name"] == "Required value"
    assert got["spec.containers[1].volumeMounts[0].name"] == 'Not found: "missing"'
    assert got["spec.nodeSelector"].startswith('Invalid value: "-bad-": a valid label must be an empty string')


def test_pod_needs_containers() -> None:
    obj = pod()
    obj["spec"]["containers"] = []
    assert causes("", "Pod", obj) == {"spec.containers": "Required value"}


def test_pod_requests_may_not_exceed_limits() -> None:
    obj = pod()
    obj["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}, "requests": {"cpu": "1500m"}}
    assert causes("", "Pod", obj) == {
        "spec.containers[0].resources.requests[cpu]": (
            'Invalid value: "1500m": must be less than or equal to cpu limit of 1'
        )
    }


def test_pod_volumes_need_a_source_and_unique_names() -> None:
    obj = pod(volumes=[{"name": "data", "emptyDir": {}}, {"name": "data"}])
    got = causes("", "Pod", obj)
    assert got == {
        "spec.volumes[1].name": 'Duplicate value: "data"',
        "spec.volumes[1]": "Required value: must specify a volume type",
    }


def test_pod_update_may_change_only_images_and_a_few_more() -> None:
    old = pod(terminationGracePeriodSeconds=30, tolerations=[{"key": "a", "operator": "Exists"}])
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    new["spec"]["activeDeadlineSeconds"] = 60
    new["spec"]["tolerations"].append({"key": "b", "operator": "Exists"})
    assert causes("", "Pod", new, old) == {}
    new["spec"]["restartPolicy"] = "Never"
    message = causes("", "Pod", new, old)["spec"]
    assert message.startswith(POD_UPDATE + "\n")
    assert '"Always"' in message and '"Never"' in message


def test_pod_update_may_not_drop_tolerations_or_raise_the_deadline() -> None:
    old = pod(activeDeadlineSeconds=60, tolerations=[{"key": "a", "operator": "Exists"}])
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 120
    new["spec"]["tolerations"] = []
    got = causes("", "Pod", new, old)
    assert got == {"spec.activeDeadlineSeconds": "Invalid value: 120: must be less than or equal to previous value"}
    new["spec"]["activeDeadlineSeconds"] = 30
    assert causes("", "Pod", new, old) == {
        "spec.tolerations[0]": "Forbidden: existing toleration can not be modified except its tolerationSeconds"
    }


def test_pod_update_may_not_add_containers_or_scheduling_gates() -> None:
    old = pod(schedulingGates=[{"name": "a"}])
    new = copy.deepcopy(old)
    new["spec"]["schedulingGates"] = [{"name": "b"}]
    assert causes("", "Pod", new, old) == {
        "spec.schedulingGates[0].name": "Forbidden: only deletion is allowed, but found new scheduling gate 'b'"
    }
    new["spec"]["schedulingGates"] = []
    assert causes("", "Pod", new, old) == {}
    new["spec"]["containers"].append(container("second"))
    assert causes("", "Pod", new, old) == {"spec.containers": "Forbidden: pod updates may not add or remove containers"}


@pytest.mark.parametrize(
    "spec",
    ["nope", {"containers": "x"}, {"containers": [1, {"name": 5, "ports": [{"containerPort": "a"}]}]}],
)
def test_wrong_json_types_are_causes_not_exceptions(spec: Any) -> None:
    got = validate(group="", version="v1", kind="Pod", obj={"metadata": {"name": "p"}, "spec": spec}, old=None)
    assert got
    assert any(c.reason == "FieldValueTypeInvalid" for c in got)
    assert len(got) == len(set(got))


@pytest.mark.parametrize(("group", "kind"), sorted(VALIDATORS))
def test_every_validator_survives_garbage(group: str, kind: str) -> None:
    for junk in ("x", 1, [1], {"spec": 1, "metadata": []}, {"spec": {"template": "x", "selector": []}}):
        obj = junk if isinstance(junk, dict) else {"spec": junk, "data": junk, "rules": junk, "subsets": junk}
        validate(group=group, version="v1", kind=kind, obj=copy.deepcopy(obj), old=copy.deepcopy(obj))


# ---- apps ----


def test_valid_deployment_has_no_causes() -> None:
    assert causes("apps", "Deployment", deployment()) == {}


def test_deployment_selector_must_match_template_labels() -> None:
    got = causes("apps", "Deployment", deployment(selector={"app": "a"}, labels={"app": "b"}))
    assert got == {"spec.template.metadata.labels": MISMATCH}


def test_deployment_container_name_path() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["name"] = "Bad_Name"
    assert causes("apps", "Deployment", obj) == {
        "spec.template.spec.containers[0].name": f'Invalid value: "Bad_Name": {RFC1123_LABEL}'
    }


def test_deployment_rules() -> None:
    obj = deployment()
    spec = obj["spec"]
    spec["replicas"] = -1
    spec["template"]["spec"]["restartPolicy"] = "Never"
    spec["strategy"] = {"type": "Recreate", "rollingUpdate": {}}
    spec["minReadySeconds"] = 700
    got = causes("apps", "Deployment", obj)
    assert got["spec.replicas"] == "Invalid value: -1: must be greater than or equal to 0"
    assert got["spec.template.spec.restartPolicy"] == 'Unsupported value: "Never": supported values: "Always"'
    assert got["spec.strategy.rollingUpdate"] == "Forbidden: may not be specified when strategy `type` is 'Recreate'"
    assert got["spec.progressDeadlineSeconds"] == "Invalid value: 600: must be greater than minReadySeconds"


def test_deployment_selector_required_and_not_empty() -> None:
    obj = deployment()
    del obj["spec"]["selector"]
    assert causes("apps", "Deployment", obj) == {"spec.selector": "Required value"}
    obj["spec"]["selector"] = {}
    assert causes("apps", "Deployment", obj) == {
        "spec.selector": "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
    }


def test_deployment_selector_is_immutable() -> None:
    old = deployment()
    new = deployment(selector={"app": "web", "tier": "x"}, labels={"app": "web", "tier": "x"})
    assert causes("apps", "Deployment", new, old) == {
        "spec.selector": 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    }


def test_label_selector_expressions() -> None:
    obj = deployment()
    obj["spec"]["selector"] = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "a", "operator": "In"},
            {"key": "b", "operator": "Exists", "values": ["x"]},
            {"key": "c", "operator": "Near", "values": ["x"]},
        ],
    }
    got = causes("apps", "Deployment", obj)
    assert got == {
        "spec.selector.matchExpressions[0].values": (
            "Required value: must be specified when `operator` is 'In' or 'NotIn'"
        ),
        "spec.selector.matchExpressions[1].values": (
            "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
        ),
        "spec.selector.matchExpressions[2].operator": 'Invalid value: "Near": not a valid selector operator',
    }


def test_statefulset_update_may_change_only_some_fields() -> None:
    old: dict[str, Any] = deployment()
    old["spec"] = {
        **{k: v for k, v in old["spec"].items() if k in ("selector", "template", "replicas")},
        "serviceName": "web",
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
    }
    assert causes("apps", "StatefulSet", old) == {}
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    assert causes("apps", "StatefulSet", new, old) == {}
    new["spec"]["serviceName"] = "other"
    assert causes("apps", "StatefulSet", new, old)["spec"].startswith(
        "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template'"
    )


def test_statefulset_mounts_may_name_claim_templates() -> None:
    obj = deployment()
    spec = obj["spec"]
    del spec["strategy"], spec["progressDeadlineSeconds"]
    spec["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    spec["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]
    assert causes("apps", "StatefulSet", obj) == {}
    spec["template"]["spec"]["restartPolicy"] = "Never"
    assert causes("apps", "StatefulSet", obj) == {
        "spec.template.spec.restartPolicy": 'Unsupported value: "Never": supported values: "Always"'
    }


def test_daemonset_and_replicaset() -> None:
    obj = deployment(selector={"app": "a"}, labels={"app": "b"})
    del obj["spec"]["strategy"]
    for kind in ("DaemonSet", "ReplicaSet"):
        assert "spec.template.metadata.labels" in causes("apps", kind, obj)


# ---- core ----


def test_valid_service_has_no_causes() -> None:
    assert causes("", "Service", service()) == {}


def test_service_rules() -> None:
    obj = service(
        type="ClusterIP",
        ports=[
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080},
            {"port": 0, "protocol": "TCP", "targetPort": "Bad_Port"},
        ],
        sessionAffinity="Sticky",
    )
    got = causes("", "Service", obj)
    assert got["spec.ports[0].nodePort"] == "Forbidden: may not be used when `type` is 'ClusterIP'"
    assert got["spec.ports[1].name"] == "Required value"
    assert got["spec.ports[1].port"] == "Invalid value: 0: must be between 1 and 65535, inclusive"
    assert got["spec.ports[1].targetPort"].startswith('Invalid value: "Bad_Port": must contain only alpha-numeric')
    assert got["spec.sessionAffinity"] == 'Unsupported value: "Sticky": supported values: "ClientIP", "None"'


def test_service_type_and_external_name() -> None:
    assert causes("", "Service", service(type="Magic"))["spec.type"] == (
        'Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'
    )
    assert causes("", "Service", service(type="ExternalName", ports=[])) == {"spec.externalName": "Required value"}


def test_service_duplicate_ports() -> None:
    obj = service(ports=[{"name": "a", "port": 80, "protocol": "TCP"}, {"name": "b", "port": 80, "protocol": "TCP"}])
    assert causes("", "Service", obj) == {
        "spec.ports[1]": 'Duplicate value: core.ServicePort{Name:"b", Protocol:"TCP", AppProtocol:(*string)(nil), '
        'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    }


def test_service_cluster_ip_may_not_change() -> None:
    old = service(clusterIP="10.0.0.10", clusterIPs=["10.0.0.10"])
    new = service(clusterIP="10.0.0.11", clusterIPs=["10.0.0.11"])
    assert causes("", "Service", new, old) == {
        "spec.clusterIPs[0]": 'Invalid value: []string{"10.0.0.11"}: may not change once set'
    }
    assert causes("", "Service", service(clusterIP="not-an-ip"))["spec.clusterIPs[0]"] == (
        'Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'
    )


def test_configmap_keys_size_and_immutability() -> None:
    assert causes("", "ConfigMap", {"data": {"a.b": "x"}, "binaryData": {"c": "eA=="}}) == {}
    got = causes("", "ConfigMap", {"data": {"bad key": "x", "k": "v"}, "binaryData": {"k": "eA=="}})
    assert got["data[bad key]"].startswith('Invalid value: "bad key": a valid config key must consist of')
    assert got["binaryData[k]"] == 'Invalid value: "k": duplicate of key present in data'
    old = {"data": {"k": "v"}, "immutable": True}
    assert causes("", "ConfigMap", {"data": {"k": "w"}, "immutable": True}, old) == {
        "data": "Forbidden: field is immutable when `immutable` is set"
    }
    assert causes("", "ConfigMap", {"data": {"k": "x" * (1024 * 1024 + 1)}}) == {
        "": "Too long: may not be more than 1048576 bytes"
    }


def test_secret_type_rules_and_immutability() -> None:
    tls = {"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}
    assert causes("", "Secret", tls) == {"data[tls.key]": "Required value"}
    old = {"metadata": {"name": "s"}, "type": "Opaque", "data": {}}
    assert causes("", "Secret", {**old, "type": "kubernetes.io/basic-auth"}, old) == {
        "type": 'Invalid value: "kubernetes.io/basic-auth": field is immutable'
    }


def test_pvc_rules() -> None:
    pvc = {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    assert causes("", "PersistentVolumeClaim", pvc) == {}
    got = causes("", "PersistentVolumeClaim", {"spec": {"accessModes": ["Sometimes"], "resources": {}}})
    assert got["spec.accessModes"].startswith('Unsupported value: "Sometimes"')
    assert got["spec.resources[storage]"] == "Required value"
    changed = copy.deepcopy(pvc)
    changed["spec"]["accessModes"] = ["ReadWriteMany"]
    assert causes("", "PersistentVolumeClaim", changed, pvc) == {
        "spec": "Forbidden: spec is immutable after creation except resources.requests for bound claims"
    }


def test_replicationcontroller_selector_matches_template() -> None:
    rc = {
        "spec": {
            "replicas": 1,
            "selector": {"app": "a"},
            "template": {"metadata": {"labels": {"app": "b"}}, "spec": pod_spec()},
        }
    }
    assert causes("", "ReplicationController", rc) == {"spec.template.metadata.labels": MISMATCH}


def test_limitrange_and_quota_quantities() -> None:
    limits = {"spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}
    assert causes("", "LimitRange", limits) == {
        "spec.limits[0].min[cpu]": 'Invalid value: "2": min value 2 is greater than max value 1'
    }
    assert causes("", "ResourceQuota", {"spec": {"hard": {"pods": "-1"}}}) == {
        "spec.hard[pods]": 'Invalid value: "-1": must be greater than or equal to 0'
    }


# ---- batch ----


def job(**spec: Any) -> dict[str, Any]:
    uid = "5b1f0f46-5f0e-4c4a-9d3c-2f0c3f2f3a10"
    labels = {"batch.kubernetes.io/controller-uid": uid}
    return {
        "metadata": {"name": "pi", "uid": uid},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec(restartPolicy="Never")},
            "completionMode": "NonIndexed",
            **spec,
        },
    }


def test_job_rules() -> None:
    assert causes("batch", "Job", job()) == {}
    bad = job(backoffLimit=-1)
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    got = causes("batch", "Job", bad)
    assert (
        got["spec.template.spec.restartPolicy"] == 'Unsupported value: "Always": supported values: "OnFailure", "Never"'
    )
    assert got["spec.backoffLimit"] == "Invalid value: -1: must be greater than or equal to 0"
    other = job()
    other["spec"]["selector"] = {"matchLabels": {"app": "x"}}
    assert "`selector` not auto-generated" in causes("batch", "Job", other)["spec.selector"]


def test_job_template_is_immutable_once_started() -> None:
    old = job()
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox"
    assert causes("batch", "Job", new, old)["spec.template"].endswith(": field is immutable")


def test_cronjob_rules() -> None:
    cron = {
        "metadata": {"name": "c"},
        "spec": {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Allow",
            "jobTemplate": {"spec": {"template": {"spec": pod_spec(restartPolicy="OnFailure")}}},
        },
    }
    assert causes("batch", "CronJob", cron) == {}
    cron["spec"]["schedule"] = "every minute"
    assert causes("batch", "CronJob", cron) == {
        "spec.schedule": 'Invalid value: "every minute": expected exactly 5 fields, found 2: [every minute]'
    }
    cron["spec"]["schedule"] = "61 * * * *"
    assert causes("batch", "CronJob", cron)["spec.schedule"].startswith('Invalid value: "61 * * * *": end of range')
    cron["metadata"]["name"] = "c" * 53
    assert causes("batch", "CronJob", cron)["metadata.name"].endswith("must be no more than 52 characters")


# ---- other groups ----


def test_ingress_rules() -> None:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    good = {
        "spec": {
            "rules": [
                {"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}
            ]
        }
    }
    assert causes("networking.k8s.io", "Ingress", good) == {}
    bad = copy.deepcopy(good)
    rule = bad["spec"]["rules"][0]
    rule["host"] = "10.0.0.1"
    rule["http"]["paths"][0].update(path="x", pathType="Exact", backend={"service": {"name": "web", "port": {}}})
    got = causes("networking.k8s.io", "Ingress", bad)
    assert got["spec.rules[0].host"] == 'Invalid value: "10.0.0.1": must be a DNS name, not an IP address'
    assert got["spec.rules[0].http.paths[0].path"] == 'Invalid value: "x": must be an absolute path'
    assert got["spec.rules[0].http.paths[0].backend"] == "Required value: port name or number is required"
    assert causes("networking.k8s.io", "Ingress", {"spec": {}})["spec"].endswith(
        "either `defaultBackend` or `rules` must be specified"
    )


def test_networkpolicy_peers() -> None:
    policy = {
        "spec": {
            "podSelector": {},
            "ingress": [{"from": [{}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}],
            "policyTypes": ["Ingress", "Sideways"],
        }
    }
    got = causes("networking.k8s.io", "NetworkPolicy", policy)
    assert got["spec.ingress[0].from[0]"] == "Required value: must specify a peer"
    assert (
        got["spec.ingress[0].from[1].ipBlock.except[0]"]
        == 'Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`'
    )
    assert got["spec.policyTypes[1]"] == 'Unsupported value: "Sideways": supported values: "Egress", "Ingress"'


def test_pdb_priorityclass_hpa_endpointslice_storageclass_lease() -> None:
    assert causes("policy", "PodDisruptionBudget", {"spec": {"minAvailable": 1, "maxUnavailable": "150%"}}) == {
        "spec": (
            'Invalid value: {"maxUnavailable":"150%","minAvailable":1}: '
            "minAvailable and maxUnavailable cannot be both set"
        ),
        "spec.maxUnavailable": 'Invalid value: "150%": must not be greater than 100%',
    }
    assert causes("scheduling.k8s.io", "PriorityClass", {"metadata": {"name": "high"}, "value": 2_000_000_000}) == {
        "value": "Forbidden: maximum allowed value of a user defined priority is 1000000000"
    }
    old_pc = {"metadata": {"name": "high"}, "value": 10, "preemptionPolicy": "Never"}
    assert causes("scheduling.k8s.io", "PriorityClass", {**old_pc, "value": 11}, old_pc) == {
        "value": "Forbidden: may not be changed in an update."
    }
    hpa = {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 3, "maxReplicas": 2}}
    assert causes("autoscaling", "HorizontalPodAutoscaler", hpa) == {
        "spec.maxReplicas": "Invalid value: 2: must be greater than or equal to `minReplicas`"
    }
    slice_ = {
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["fe80::1"]}],
        "ports": [{"port": 80, "protocol": "TCP"}],
    }
    assert causes("discovery.k8s.io", "EndpointSlice", slice_) == {
        "endpoints[0].addresses[0]": 'Invalid value: "fe80::1": must be a valid IPv4 address'
    }
    assert causes("discovery.k8s.io", "EndpointSlice", {**slice_, "addressType": "IPv6"}, slice_) == {
        "addressType": 'Invalid value: "IPv6": field is immutable'
    }
    sc = {"provisioner": "kubernetes.io/no-provisioner", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}
    assert causes("storage.k8s.io", "StorageClass", sc) == {}
    assert causes("storage.k8s.io", "StorageClass", {**sc, "parameters": {"a": "b"}}, sc) == {
        "parameters": "Forbidden: updates to parameters are forbidden."
    }
    assert causes("coordination.k8s.io", "Lease", {"spec": {"leaseDurationSeconds": 0}}) == {
        "spec.leaseDurationSeconds": "Invalid value: 0: must be greater than 0"
    }


def test_rbac_rules_and_bindings() -> None:
    rbac = "rbac.authorization.k8s.io"
    role = {
        "rules": [
            {"verbs": [], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
        ]
    }
    assert causes(rbac, "Role", role) == {
        "rules[0].verbs": "Required value: verbs must contain at least one value",
        "rules[1].nonResourceURLs": (
            'Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs'
        ),
    }
    assert causes(rbac, "ClusterRole", {"rules": role["rules"][1:]}) == {}
    binding = {
        "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "r"},
        "subjects": [{"kind": "ServiceAccount", "name": "default"}, {"kind": "Robot", "name": "x"}],
    }
    assert causes(rbac, "RoleBinding", binding) == {
        "subjects[1].kind": 'Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"'
    }
    got = causes(rbac, "ClusterRoleBinding", {**binding, "subjects": binding["subjects"][:1]})
    assert got == {
        "roleRef.kind": 'Unsupported value: "Role": supported values: "ClusterRole"',
        "subjects[0].namespace": "Required value",
    }
    changed = {**binding, "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "other"}}
    assert causes(rbac, "RoleBinding", changed, binding)["roleRef"] == (
        'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: '
        "cannot change roleRef"
    )


def test_kinds_without_rules_answer_nothing() -> None:
    assert validate(group="example.com", version="v1", kind="Widget", obj={"spec": 1}, old=None) == []


# ---- REST strategy facts ----


@pytest.mark.parametrize(
    ("group", "kind", "custom", "keeps"),
    [
        ("apps", "Deployment", False, True),
        ("batch", "Job", False, True),
        ("networking.k8s.io", "NetworkPolicy", False, True),
        ("", "ConfigMap", False, False),
        ("", "Secret", False, False),
        ("", "Service", False, False),
        ("", "Pod", False, False),
        ("rbac.authorization.k8s.io", "Role", False, False),
        ("core.gardener.cloud", "Shoot", False, True),
        ("example.com", "Widget", True, True),
    ],
)
def test_which_kinds_keep_generation(group: str, kind: str, custom: bool, keeps: bool) -> None:
    assert strategies.keeps_generation(group=group, kind=kind, custom=custom) is keeps


def test_deployment_generation_counts_spec_and_annotations_not_labels() -> None:
    old = deployment()
    old["metadata"]["generation"] = 4

    def generation(new: dict[str, Any]) -> int | None:
        return strategies.next_generation(
            group="apps", kind="Deployment", custom=False, has_status=True, obj=new, old=old
        )

    labelled = copy.deepcopy(old)
    labelled["metadata"]["labels"] = {"x": "y"}
    assert generation(labelled) == 4
    annotated = copy.deepcopy(old)
    annotated["metadata"]["annotations"] = {"x": "y"}
    assert generation(annotated) == 5
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 3
    assert generation(scaled) == 5
    status_only = copy.deepcopy(old)
    status_only["status"] = {"replicas": 3}
    assert generation(status_only) == 4


def test_pod_qos_class() -> None:
    assert strategies.qos_class(pod_spec()) == "BestEffort"
    burstable = pod_spec(containers=[container(resources={"requests": {"cpu": "100m"}})])
    assert strategies.qos_class(burstable) == "Burstable"
    both = {"cpu": "1", "memory": "1Gi"}
    guaranteed = pod_spec(containers=[container(resources={"limits": both, "requests": dict(both)})])
    assert strategies.qos_class(guaranteed) == "Guaranteed"
    only_limits = pod_spec(containers=[container(resources={"limits": both})])
    assert strategies.qos_class(only_limits) == "Guaranteed"


def test_initial_status() -> None:
    assert strategies.initial_status(group="apps", kind="Deployment") == {}
    assert strategies.initial_status(group="", kind="Service") == {"loadBalancer": {}}
    assert strategies.initial_status(group="apiextensions.k8s.io", kind="CustomResourceDefinition") is None
    sent = {"phase": "Running"}
    assert strategies.initial_status(group="", kind="Pod", sent=sent) == {}
    node_status = {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}
    assert strategies.initial_status(group="", kind="Node", sent=node_status) == node_status


def test_system_priority_classes_are_reserved() -> None:
    group = "scheduling.k8s.io"
    system = {"metadata": {"name": "system-node-critical"}, "value": 2000001000}
    assert causes(group, "PriorityClass", system) == {}
    assert causes(group, "PriorityClass", {"metadata": {"name": "system-mine"}, "value": 1}) == {
        "metadata.name": "Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: system-mine is not a known system priority class"
    }


def test_hpa_target_names_are_path_segments() -> None:
    hpa = {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "a/b"}, "minReplicas": 1, "maxReplicas": 2}}
    assert causes("autoscaling", "HorizontalPodAutoscaler", hpa) == {
        "spec.scaleTargetRef.name": "Invalid value: \"a/b\": may not contain '/'"
    }
