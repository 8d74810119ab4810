"""Upstream defaulting of built-in kinds (gardener.apiserver.builtin.defaulting), called directly.

Expected values are kube-apiserver 1.32's (pkg/apis/*/v1*/defaults.go and the generated defaulters).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gardener.apiserver.builtin.defaulting import DEFAULTERS, apply_defaults
from gardener.apiserver.builtin.defaulting.core import image_pull_policy
from gardener.apiserver.builtin.defaulting.quantity import canonical


def defaulted(group: str, version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    apply_defaults(group=group, version=version, kind=kind, obj=obj)
    return obj


def container(**extra: Any) -> dict[str, Any]:
    return {"name": "c", "image": "nginx:1.27", **extra}


DEFAULTED_CONTAINER = {
    "name": "c",
    "image": "nginx:1.27",
    "imagePullPolicy": "IfNotPresent",
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
    "resources": {},
}
DEFAULTED_POD_SPEC = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
}


def template(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [container()], **spec}}


def defaulted_template(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": "a"}},
        "spec": {"containers": [DEFAULTED_CONTAINER], **DEFAULTED_POD_SPEC, **spec},
    }


# --- pods, containers and what nests in them ---------------------------------------------------------------


def test_pod_gets_pod_and_pod_spec_defaults() -> None:
    pod = defaulted("", "v1", "Pod", {"metadata": {"name": "p"}, "spec": {"containers": [container()]}})
    assert pod["spec"] == {"containers": [DEFAULTED_CONTAINER], "enableServiceLinks": True, **DEFAULTED_POD_SPEC}


def test_explicit_values_are_kept() -> None:
    spec = {
        "containers": [container(imagePullPolicy="Never", terminationMessagePolicy="FallbackToLogsOnError")],
        "dnsPolicy": "Default",
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "enableServiceLinks": False,
        "securityContext": {"runAsUser": 1000},
        "schedulerName": "mine",
    }
    pod = defaulted("", "v1", "Pod", {"spec": spec})
    assert pod["spec"]["terminationGracePeriodSeconds"] == 0
    assert pod["spec"]["enableServiceLinks"] is False
    assert pod["spec"]["dnsPolicy"] == "Default"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["securityContext"] == {"runAsUser": 1000}
    assert pod["spec"]["schedulerName"] == "mine"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["terminationMessagePolicy"] == "FallbackToLogsOnError"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry.local:5000/team/nginx", "Always"),
        ("registry.local:5000/team/nginx:2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("", "IfNotPresent"),
        (None, "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image: Any, policy: str) -> None:
    assert image_pull_policy(image) == policy


def test_every_container_list_is_defaulted() -> None:
    spec = {
        "initContainers": [container(name="i")],
        "containers": [container(name="c", image="busybox")],
        "ephemeralContainers": [container(name="e", image="busybox:latest")],
    }
    pod = defaulted("", "v1", "Pod", {"spec": spec})
    for key, policy in (
        ("initContainers", "IfNotPresent"),
        ("containers", "Always"),
        ("ephemeralContainers", "Always"),
    ):
        c = pod["spec"][key][0]
        assert c["imagePullPolicy"] == policy, key
        assert c["terminationMessagePath"] == "/dev/termination-log", key
        assert c["terminationMessagePolicy"] == "File", key


def test_ports_probes_lifecycle_and_env() -> None:
    c = container(
        ports=[{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
        livenessProbe={"httpGet": {"port": 80}},
        readinessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 3, "timeoutSeconds": 0},
        startupProbe={"grpc": {"port": 9000}},
        lifecycle={"preStop": {"httpGet": {"port": 80, "path": "/stop"}}, "postStart": {"exec": {"command": ["x"]}}},
        env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}, {"name": "V", "value": "1"}],
    )
    out = defaulted("", "v1", "Pod", {"spec": {"containers": [c]}})["spec"]["containers"][0]
    assert out["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP"}]
    probe_defaults = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert out["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, **probe_defaults}
    assert out["readinessProbe"] == {"tcpSocket": {"port": 80}, **probe_defaults, "periodSeconds": 3}
    assert out["startupProbe"] == {"grpc": {"port": 9000, "service": ""}, **probe_defaults}
    assert out["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/stop", "scheme": "HTTP"}
    assert out["lifecycle"]["postStart"] == {"exec": {"command": ["x"]}}
    assert out["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "metadata.name", "apiVersion": "v1"}
    assert out["env"][1] == {"name": "V", "value": "1"}


def test_volumes() -> None:
    volumes = [
        {"name": "plain"},
        {"name": "secret", "secret": {"secretName": "s"}},
        {"name": "cm", "configMap": {"name": "c", "defaultMode": 256}},
        {"name": "dapi", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {
            "name": "proj",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"path": "token"}},
                    {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                ]
            },
        },
        {"name": "host", "hostPath": {"path": "/data"}},
        {"name": "rbd", "rbd": {"monitors": ["m"], "image": "i"}},
        {"name": "iscsi", "iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0}},
        {"name": "azure", "azureDisk": {"diskName": "d", "diskURI": "u"}},
        {
            "name": "eph",
            "ephemeral": {"volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "1024Mi"}}}}},
        },
        {"name": "ed", "emptyDir": {"sizeLimit": "0.5Gi"}},
    ]
    out = {
        v["name"]: v
        for v in defaulted("", "v1", "Pod", {"spec": {"containers": [container()], "volumes": volumes}})["spec"][
            "volumes"
        ]
    }
    assert out["plain"] == {"name": "plain", "emptyDir": {}}
    assert out["secret"]["secret"] == {"secretName": "s", "defaultMode": 420}
    assert out["cm"]["configMap"]["defaultMode"] == 256
    assert out["dapi"]["downwardAPI"] == {
        "defaultMode": 420,
        "items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}],
    }
    projected = out["proj"]["projected"]
    assert projected["defaultMode"] == 420
    assert projected["sources"][0]["serviceAccountToken"] == {"path": "token", "expirationSeconds": 3600}
    assert projected["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert out["host"]["hostPath"] == {"path": "/data", "type": ""}
    assert out["rbd"]["rbd"] == {
        "monitors": ["m"],
        "image": "i",
        "pool": "rbd",
        "user": "admin",
        "keyring": "/etc/ceph/keyring",
    }
    assert out["iscsi"]["iscsi"]["iscsiInterface"] == "default"
    assert out["azure"]["azureDisk"] == {
        "diskName": "d",
        "diskURI": "u",
        "cachingMode": "ReadWrite",
        "kind": "Shared",
        "fsType": "ext4",
        "readOnly": False,
    }
    assert out["eph"]["ephemeral"]["volumeClaimTemplate"]["spec"] == {
        "resources": {"requests": {"storage": "1Gi"}},
        "volumeMode": "Filesystem",
    }
    assert out["ed"]["emptyDir"] == {"sizeLimit": "512Mi"}


def test_pod_requests_default_to_limits_but_not_in_templates() -> None:
    resources = {"limits": {"cpu": "0.5", "memory": "1Gi"}, "requests": {"memory": "512Mi"}}
    pod = defaulted("", "v1", "Pod", {"spec": {"containers": [container(resources=resources)]}})
    assert pod["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "500m", "memory": "512Mi"},
    }
    deploy = defaulted(
        "apps", "v1", "Deployment", {"spec": {"template": template(containers=[container(resources=resources)])}}
    )
    assert deploy["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"memory": "512Mi"},
    }
    assert "enableServiceLinks" not in deploy["spec"]["template"]["spec"]


def test_host_network_copies_container_ports_to_host_ports() -> None:
    c = container(ports=[{"containerPort": 8080}, {"containerPort": 9090, "hostPort": 9091}])
    pod = defaulted("", "v1", "Pod", {"spec": {"hostNetwork": True, "containers": [c]}})
    assert [p["hostPort"] for p in pod["spec"]["containers"][0]["ports"]] == [8080, 9091]
    pod = defaulted("", "v1", "Pod", {"spec": {"containers": [c]}})
    assert "hostPort" not in pod["spec"]["containers"][0]["ports"][0]


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("0.5", "500m"),
        ("1000m", "1"),
        ("1.0", "1"),
        ("2000", "2k"),
        ("1500", "1500"),
        ("0.0001", "1m"),
        ("1024Mi", "1Gi"),
        ("1536Mi", "1536Mi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("1e3", "1e3"),
        ("129M", "129M"),
        (2, "2"),
        ("not-a-quantity", "not-a-quantity"),
    ],
)
def test_resource_quantities_are_canonical(written: Any, shown: str) -> None:
    assert canonical(written, round_milli=True) == shown


# --- workloads ---------------------------------------------------------------------------------------------


def test_deployment() -> None:
    out = defaulted(
        "apps", "v1", "Deployment", {"spec": {"selector": {"matchLabels": {"app": "a"}}, "template": template()}}
    )
    assert out["spec"] == {
        "selector": {"matchLabels": {"app": "a"}},
        "template": defaulted_template(),
        "replicas": 1,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }


def test_deployment_recreate_gets_no_rolling_update() -> None:
    out = defaulted("apps", "v1", "Deployment", {"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert out["spec"]["replicas"] == 0


def test_daemon_set() -> None:
    out = defaulted("apps", "v1", "DaemonSet", {"spec": {"template": template()}})
    assert out["spec"] == {
        "template": defaulted_template(),
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        "revisionHistoryLimit": 10,
    }


def test_stateful_set() -> None:
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    out = defaulted("apps", "v1", "StatefulSet", {"spec": {"template": template(), "volumeClaimTemplates": [claim]}})
    assert out["spec"] == {
        "template": defaulted_template(),
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "replicas": 1,
        "revisionHistoryLimit": 10,
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {**claim["spec"], "volumeMode": "Filesystem"},
                "status": {"phase": "Pending"},
            }
        ],
    }
    on_delete = defaulted("apps", "v1", "StatefulSet", {"spec": {"updateStrategy": {"type": "OnDelete"}}})
    assert on_delete["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_replica_set_and_replication_controller() -> None:
    assert defaulted("apps", "v1", "ReplicaSet", {"spec": {}})["spec"] == {"replicas": 1}
    rc = defaulted("", "v1", "ReplicationController", {"metadata": {"name": "r"}, "spec": {"template": template()}})
    assert rc["spec"] == {"template": defaulted_template(), "selector": {"app": "a"}, "replicas": 1}
    assert rc["metadata"]["labels"] == {"app": "a"}


def test_pod_template_kind() -> None:
    out = defaulted("", "v1", "PodTemplate", {"template": template()})
    assert out["template"] == defaulted_template()


# --- batch -------------------------------------------------------------------------------------------------


def test_job() -> None:
    out = defaulted(
        "batch", "v1", "Job", {"metadata": {"name": "j"}, "spec": {"template": template(restartPolicy="Never")}}
    )
    assert out["spec"] == {
        "template": defaulted_template(restartPolicy="Never"),
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 6,
        "completionMode": "NonIndexed",
        "suspend": False,
        "podReplacementPolicy": "TerminatingOrFailed",
        "manualSelector": False,
    }
    assert out["metadata"]["labels"] == {"app": "a"}


def test_job_parallelism_completions_and_policies() -> None:
    only_parallelism = defaulted("batch", "v1", "Job", {"spec": {"parallelism": 3}})["spec"]
    assert only_parallelism["parallelism"] == 3
    assert "completions" not in only_parallelism
    only_completions = defaulted("batch", "v1", "Job", {"spec": {"completions": 5}})["spec"]
    assert (only_completions["completions"], only_completions["parallelism"]) == (5, 1)
    per_index = defaulted("batch", "v1", "Job", {"spec": {"backoffLimitPerIndex": 1, "completionMode": "Indexed"}})
    assert per_index["spec"]["backoffLimit"] == 2147483647
    assert per_index["spec"]["completionMode"] == "Indexed"
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    with_policy = defaulted(
        "batch", "v1", "Job", {"spec": {"podFailurePolicy": policy, "suspend": True, "manualSelector": True}}
    )
    assert with_policy["spec"]["podReplacementPolicy"] == "Failed"
    assert with_policy["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"] == [
        {"type": "DisruptionTarget", "status": "True"}
    ]
    assert with_policy["spec"]["suspend"] is True
    assert with_policy["spec"]["manualSelector"] is True


def test_job_keeps_its_own_labels() -> None:
    out = defaulted("batch", "v1", "Job", {"metadata": {"labels": {"mine": "1"}}, "spec": {"template": template()}})
    assert out["metadata"]["labels"] == {"mine": "1"}


def test_cron_job_defaults_only_the_pod_template_of_its_job_template() -> None:
    job_template = {"spec": {"template": template(restartPolicy="OnFailure")}}
    out = defaulted("batch", "v1", "CronJob", {"spec": {"schedule": "* * * * *", "jobTemplate": job_template}})
    assert out["spec"] == {
        "schedule": "* * * * *",
        "jobTemplate": {"spec": {"template": defaulted_template(restartPolicy="OnFailure")}},
        "concurrencyPolicy": "Allow",
        "suspend": False,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
    }
    kept = {
        "concurrencyPolicy": "Forbid",
        "suspend": True,
        "successfulJobsHistoryLimit": 0,
        "failedJobsHistoryLimit": 0,
    }
    assert defaulted("batch", "v1", "CronJob", {"spec": dict(kept)})["spec"] == kept


# --- core kinds besides pods -------------------------------------------------------------------------------


def test_service_cluster_ip() -> None:
    out = defaulted(
        "", "v1", "Service", {"spec": {"ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}
    )
    assert out["spec"] == {
        "ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"port": 53, "protocol": "UDP", "targetPort": "dns"},
        ],
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster",
    }


def test_service_node_port_load_balancer_and_external_name() -> None:
    node_port = defaulted("", "v1", "Service", {"spec": {"type": "NodePort", "ports": [{"port": 80}]}})["spec"]
    assert node_port["externalTrafficPolicy"] == "Cluster"
    assert node_port["internalTrafficPolicy"] == "Cluster"
    assert "allocateLoadBalancerNodePorts" not in node_port
    lb = defaulted(
        "",
        "v1",
        "Service",
        {
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "h"}]}},
        },
    )
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True
    assert lb["status"]["loadBalancer"]["ingress"] == [{"ip": "1.2.3.4", "ipMode": "VIP"}, {"hostname": "h"}]
    external = defaulted("", "v1", "Service", {"spec": {"type": "ExternalName", "externalName": "x.example"}})["spec"]
    assert "internalTrafficPolicy" not in external
    assert "externalTrafficPolicy" not in external
    external_ips = defaulted("", "v1", "Service", {"spec": {"externalIPs": ["1.1.1.1"]}})["spec"]
    assert external_ips["externalTrafficPolicy"] == "Cluster"


def test_service_session_affinity() -> None:
    client_ip = defaulted("", "v1", "Service", {"spec": {"sessionAffinity": "ClientIP"}})["spec"]
    assert client_ip["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    none = defaulted("", "v1", "Service", {"spec": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}})[
        "spec"
    ]
    assert "sessionAffinityConfig" not in none


def test_other_core_kinds() -> None:
    assert defaulted("", "v1", "Secret", {})["type"] == "Opaque"
    assert defaulted("", "v1", "Secret", {"type": "kubernetes.io/tls"})["type"] == "kubernetes.io/tls"
    ns = defaulted("", "v1", "Namespace", {"metadata": {"name": "team"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert ns["status"] == {"phase": "Active"}
    pv = defaulted(
        "", "v1", "PersistentVolume", {"spec": {"capacity": {"storage": "1024Mi"}, "hostPath": {"path": "/x"}}}
    )
    assert pv["spec"] == {
        "capacity": {"storage": "1Gi"},
        "hostPath": {"path": "/x", "type": ""},
        "persistentVolumeReclaimPolicy": "Retain",
        "volumeMode": "Filesystem",
    }
    assert pv["status"] == {"phase": "Pending"}
    pvc = defaulted("", "v1", "PersistentVolumeClaim", {"spec": {"resources": {"requests": {"storage": "1Gi"}}}})
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["status"] == {"phase": "Pending"}
    ep = defaulted("", "v1", "Endpoints", {"subsets": [{"ports": [{"port": 80}]}]})
    assert ep["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    node = defaulted("", "v1", "Node", {"status": {"capacity": {"cpu": "4", "memory": "8192Mi"}}})
    assert node["status"] == {"capacity": {"cpu": "4", "memory": "8Gi"}, "allocatable": {"cpu": "4", "memory": "8Gi"}}
    quota = defaulted("", "v1", "ResourceQuota", {"spec": {"hard": {"requests.cpu": "0.5", "pods": "10"}}})
    assert quota["spec"]["hard"] == {"requests.cpu": "500m", "pods": "10"}


def test_limit_range_container_items() -> None:
    item = {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}, "default": {"memory": "256Mi"}}
    out = defaulted("", "v1", "LimitRange", {"spec": {"limits": [item, {"type": "Pod", "max": {"cpu": "4"}}]}})
    container_item, pod_item = out["spec"]["limits"]
    assert container_item["default"] == {"memory": "256Mi", "cpu": "2"}
    assert container_item["defaultRequest"] == {"cpu": "2", "memory": "256Mi"}
    assert pod_item == {"type": "Pod", "max": {"cpu": "4"}}


# --- the other groups --------------------------------------------------------------------------------------


def test_hpa_v1_and_v2_differ() -> None:
    v1 = defaulted("autoscaling", "v1", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 5}})
    assert v1["spec"] == {"maxReplicas": 5, "minReplicas": 1}
    v2 = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 5}})
    assert v2["spec"] == {
        "maxReplicas": 5,
        "minReplicas": 1,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ],
    }


def test_hpa_v2_behavior_is_completed() -> None:
    spec = {
        "maxReplicas": 5,
        "metrics": [{"type": "Pods"}],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
    }
    out = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": spec})["spec"]
    assert out["metrics"] == [{"type": "Pods"}]
    assert out["behavior"] == {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 60,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
    }


def test_hpa_v2_metric_quantities_are_canonical() -> None:
    metric = {
        "type": "Pods",
        "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "0.5"}},
    }
    out = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 2, "metrics": [metric]}})
    assert out["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "500m"


def test_hpa_v2_behavior_of_the_wrong_type_is_left_for_validation() -> None:
    spec = {"maxReplicas": 5, "behavior": {"scaleUp": "fast"}}
    out = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": spec})["spec"]
    assert out["behavior"]["scaleUp"] == "fast"
    assert out["behavior"]["scaleDown"]["selectPolicy"] == "Max"


def test_networking() -> None:
    ingress_only = defaulted(
        "networking.k8s.io", "v1", "NetworkPolicy", {"spec": {"ingress": [{"ports": [{"port": 80}]}]}}
    )
    assert ingress_only["spec"]["policyTypes"] == ["Ingress"]
    assert ingress_only["spec"]["ingress"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    with_egress = defaulted("networking.k8s.io", "v1", "NetworkPolicy", {"spec": {"egress": [{}]}})
    assert with_egress["spec"]["policyTypes"] == ["Ingress", "Egress"]
    explicit = defaulted("networking.k8s.io", "v1", "NetworkPolicy", {"spec": {"policyTypes": ["Egress"]}})
    assert explicit["spec"]["policyTypes"] == ["Egress"]
    ic = defaulted("networking.k8s.io", "v1", "IngressClass", {"spec": {"parameters": {"kind": "K", "name": "n"}}})
    assert ic["spec"]["parameters"]["scope"] == "Cluster"
    assert defaulted("networking.k8s.io", "v1", "IngressClass", {"spec": {}})["spec"] == {}


def test_scheduling_discovery_storage() -> None:
    assert (
        defaulted("scheduling.k8s.io", "v1", "PriorityClass", {"value": 1})["preemptionPolicy"]
        == "PreemptLowerPriority"
    )
    slice_ = defaulted("discovery.k8s.io", "v1", "EndpointSlice", {"ports": [{"port": 80}]})
    assert slice_["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    sc = defaulted("storage.k8s.io", "v1", "StorageClass", {"provisioner": "p"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    driver = defaulted("storage.k8s.io", "v1", "CSIDriver", {"spec": {}})
    assert driver["spec"] == {
        "attachRequired": True,
        "podInfoOnMount": False,
        "storageCapacity": False,
        "fsGroupPolicy": "ReadWriteOnceWithFSType",
        "volumeLifecycleModes": ["Persistent"],
        "requiresRepublish": False,
        "seLinuxMount": False,
    }


def test_rbac_bindings() -> None:
    binding = {
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "u"},
            {"kind": "Group", "name": "g"},
            {"kind": "ServiceAccount", "name": "s", "namespace": "n"},
        ],
    }
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        out = defaulted("rbac.authorization.k8s.io", "v1", kind, binding)
        assert out["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
        assert [s.get("apiGroup") for s in out["subjects"]] == [
            "rbac.authorization.k8s.io",
            "rbac.authorization.k8s.io",
            None,
        ]


def test_flowcontrol() -> None:
    fs = defaulted(
        "flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", {"spec": {"priorityLevelConfiguration": {"name": "x"}}}
    )
    assert fs["spec"]["matchingPrecedence"] == 1000
    limited = {"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}}
    out = defaulted("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", {"spec": limited})["spec"]
    assert out["limited"] == {
        "nominalConcurrencyShares": 30,
        "lendablePercent": 0,
        "limitResponse": {"type": "Queue", "queuing": {"handSize": 8, "queues": 64, "queueLengthLimit": 50}},
    }
    zero = defaulted(
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "PriorityLevelConfiguration",
        {"spec": {"limited": {"nominalConcurrencyShares": 0}}},
    )
    assert zero["spec"]["limited"]["nominalConcurrencyShares"] == 0
    exempt = defaulted(
        "flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", {"spec": {"type": "Exempt", "exempt": {}}}
    )
    assert exempt["spec"]["exempt"] == {"nominalConcurrencyShares": 0, "lendablePercent": 0}


def test_admission_registration() -> None:
    hook = {
        "name": "h.example.com",
        "clientConfig": {"service": {"name": "s", "namespace": "n"}},
        "rules": [{"operations": ["CREATE"]}],
    }
    validating = defaulted(
        "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", {"webhooks": [hook]}
    )["webhooks"][0]
    assert validating == {
        **hook,
        "clientConfig": {"service": {"name": "s", "namespace": "n", "port": 443}},
        "rules": [{"operations": ["CREATE"], "scope": "*"}],
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "namespaceSelector": {},
        "objectSelector": {},
        "timeoutSeconds": 10,
    }
    mutating = defaulted("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", {"webhooks": [hook]})[
        "webhooks"
    ][0]
    assert mutating["reinvocationPolicy"] == "Never"
    policy = defaulted(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicy",
        {"spec": {"matchConstraints": {"resourceRules": [{}]}}},
    )
    assert policy["spec"] == {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [{"scope": "*"}],
            "matchPolicy": "Equivalent",
            "namespaceSelector": {},
            "objectSelector": {},
        },
    }


def test_certificate_signing_request_conditions() -> None:
    csr = defaulted(
        "certificates.k8s.io", "v1", "CertificateSigningRequest", {"status": {"conditions": [{"type": "Approved"}]}}
    )
    assert csr["status"]["conditions"] == [{"type": "Approved", "status": "True"}]


def test_kinds_without_defaulters_are_untouched() -> None:
    for group, version, kind in [
        ("", "v1", "ConfigMap"),
        ("policy", "v1", "PodDisruptionBudget"),
        ("coordination.k8s.io", "v1", "Lease"),
        ("node.k8s.io", "v1", "RuntimeClass"),
        ("example.com", "v1", "Widget"),
    ]:
        obj = {"spec": {"x": 1}, "data": None}
        assert defaulted(group, version, kind, obj) == obj


# --- robustness: defaulting runs before validation -----------------------------------------------------------

WRONG_TYPES: list[Any] = [None, "x", 1, True, [], [1, "a", None], {"a": None}]


@pytest.mark.parametrize(("group", "version", "kind"), sorted(DEFAULTERS))
def test_wrong_json_types_never_raise(group: str, version: str, kind: str) -> None:
    shapes: list[dict[str, Any]] = [{}, {"metadata": None}]
    for bad in WRONG_TYPES:
        shapes += [
            {"spec": bad},
            {"status": bad, "spec": {"type": bad}},
            {"spec": {"template": bad, "jobTemplate": {"spec": {"template": bad}}}},
            {"spec": {"template": {"metadata": {"labels": bad}, "spec": {"containers": bad, "volumes": bad}}}},
            {
                "spec": {
                    "containers": [
                        bad,
                        {"ports": bad, "env": [bad], "resources": {"limits": bad}, "livenessProbe": bad},
                    ]
                }
            },
            {"spec": {"volumes": [bad, {"name": "v", "projected": {"sources": [bad]}, "downwardAPI": bad}]}},
            {
                "spec": {
                    "strategy": bad,
                    "updateStrategy": bad,
                    "behavior": {"scaleUp": bad},
                    "limits": [bad],
                    "ports": [bad],
                }
            },
            {"webhooks": [bad], "subjects": [bad], "roleRef": bad, "ports": [bad], "subsets": [{"ports": bad}]},
        ]
    for shape in shapes:
        apply_defaults(group=group, version=version, kind=kind, obj=copy.deepcopy(shape))


@pytest.mark.parametrize(("group", "version", "kind"), sorted(DEFAULTERS))
def test_defaulting_is_idempotent(group: str, version: str, kind: str) -> None:
    obj = {
        "metadata": {"name": "n"},
        "spec": {"template": template(), "ports": [{"port": 1}]},
        "webhooks": [{"name": "w"}],
    }
    once = defaulted(group, version, kind, obj)
    assert defaulted(group, version, kind, once) == once
