"""Table rendering for `kubectl get`: columns and cells as kube-apiserver prints them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gardener.apiserver.resources import BUILTIN, PrinterColumn, ResourceInfo
from gardener.apiserver.tables import (
    evaluate_json_path,
    format_label_selector,
    format_labels,
    human_duration,
    parse_table_accept,
    to_table,
)

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def builtin(group: str, kind: str) -> ResourceInfo:
    return next(i for i in BUILTIN if i.group == group and i.kind == kind)


def meta(name: str = "x", **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(minutes=5), **extra}


def table(info: ResourceInfo, *objects: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return to_table(info, list(objects), now=NOW, **kwargs)


def columns(t: dict[str, Any]) -> list[str]:
    return [c["name"] for c in t["columnDefinitions"]]


def cells(info: ResourceInfo, obj: dict[str, Any]) -> list[Any]:
    cells: list[Any] = table(info, obj)["rows"][0]["cells"]
    return cells


def crd(columns: tuple[PrinterColumn, ...] = ()) -> ResourceInfo:
    return ResourceInfo(
        group="core.gardener.cloud",
        version="v1beta1",
        kind="Shoot",
        plural="shoots",
        singular="shoot",
        namespaced=True,
        crd_name="shoots.core.gardener.cloud",
        printer_columns=columns,
    )


# -- human_duration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (10 * 60 + 59, "10m"),
        (3 * 3600 - 1, "179m"),
        (4 * 3600, "4h"),
        (4 * 3600 + 120, "4h2m"),
        (30 * 3600, "30h"),
        (2 * 86400 + 3 * 3600, "2d3h"),
        (3 * 86400, "3d"),
        (8 * 86400, "8d"),
        (800 * 86400, "2y70d"),
        (3 * 365 * 86400, "3y"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(timedelta(seconds=seconds)) == text


# -- Accept header -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
            "application/json",
            (True, "meta.k8s.io/v1"),
        ),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json", (True, "meta.k8s.io/v1beta1")),
        ("application/json; as=Table; g=meta.k8s.io; v=v1", (True, "meta.k8s.io/v1")),
        ("application/json", (False, "")),
        ("", (False, "")),
        ("*/*", (False, "")),
        ("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io", (False, "")),
        ("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", (False, "")),
        ("application/json;as=Table;v=v1;g=other.io", (False, "")),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", (False, "")),
        ("application/json;as=Table;v=v1;g=meta.k8s.io;q=0", (False, "")),
        ("application/json;q=0.9,application/json;as=Table;v=v1;g=meta.k8s.io", (True, "meta.k8s.io/v1")),
        ("application/json,application/json;as=Table;v=v1;g=meta.k8s.io;q=0.5", (False, "")),
    ],
)
def test_parse_table_accept(accept: str, expected: tuple[bool, str]) -> None:
    assert parse_table_accept(accept) == expected


# -- JSONPath ----------------------------------------------------------------------------------------

DOC = {
    "metadata": {"name": "n", "labels": {"foo": "bar", "a.b/c": "dotted"}},
    "spec": {"replicas": 3, "a.b": "esc", "list": [1, 2, 3], "empty": None},
    "status": {
        "conditions": [
            {"type": "Progressing", "status": "True", "n": 1},
            {"type": "Ready", "status": "False", "n": 2},
        ]
    },
    "items": [{"name": "first"}, {"name": "second"}],
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (".spec.replicas", 3),
        ("{.spec.replicas}", 3),
        ("$.spec.replicas", 3),
        (".metadata.labels.foo", "bar"),
        ('.status.conditions[?(@.type=="Ready")].status', "False"),
        (".status.conditions[?(@.type=='Ready')].status", "False"),
        ('.status.conditions[?(@.type!="Ready")].type', "Progressing"),
        (".status.conditions[?(@.n>1)].type", "Ready"),
        (".status.conditions[?(@.n<=1)].type", "Progressing"),
        ('.status.conditions[?("Ready"==@.type)].n', 2),
        (".status.conditions[?(@.missing)].type", None),
        (".status.conditions[?(@.n)].type", "Progressing"),
        ('.status.conditions[?(@.type=="Nope")].status', None),
        (".items[0]", {"name": "first"}),
        (".items[1].name", "second"),
        (".items[-1].name", "second"),
        (".items[5].name", None),
        (".items[*].name", "first"),
        (".spec.list[1:]", 2),
        (".spec.a\\.b", "esc"),
        (".spec['a.b']", "esc"),
        ('.metadata.labels["a.b/c"]', "dotted"),
        (".metadata.labels.a\\.b/c", "dotted"),
        (".spec.missing", None),
        (".spec.replicas.deeper", None),
        (".spec.empty", None),
        ("..name", "n"),
        (".metadata.*", "n"),
        (".", DOC),
    ],
)
def test_evaluate_json_path(path: str, value: Any) -> None:
    assert evaluate_json_path(DOC, path) == value


@pytest.mark.parametrize("path", [".spec[", ".spec.[0", ".a[?(@.x=)]x", ".a..", "spec#", ".a[?(x)]", ".a[1:2:3:4]"])
def test_evaluate_json_path_rejects_malformed_paths(path: str) -> None:
    with pytest.raises(ValueError, match="JSONPath"):
        evaluate_json_path(DOC, path)


# -- the Table envelope ------------------------------------------------------------------------------


def test_table_envelope_and_partial_object_metadata() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cm"), "data": {"a": "1"}}
    t = table(builtin("", "ConfigMap"), cm, resource_version="42", continue_token="tok")
    assert t["kind"] == "Table"
    assert t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {"resourceVersion": "42", "continue": "tok"}
    assert t["columnDefinitions"][0] == {
        "name": "Name",
        "type": "string",
        "format": "name",
        "description": t["columnDefinitions"][0]["description"],
        "priority": 0,
    }
    assert t["columnDefinitions"][0]["description"].startswith("Name must be unique")
    for column in t["columnDefinitions"]:
        assert set(column) == {"name", "type", "format", "description", "priority"}
    row = t["rows"][0]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": cm["metadata"],
    }
    assert "conditions" not in row


def test_table_include_object_and_version() -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cm")}
    info = builtin("", "ConfigMap")
    assert table(info, cm, include_object="Object")["rows"][0]["object"] is cm
    assert "object" not in table(info, cm, include_object="None")["rows"][0]
    beta = table(info, cm, api_version="meta.k8s.io/v1beta1", remaining_item_count=3)
    assert beta["apiVersion"] == "meta.k8s.io/v1beta1"
    assert beta["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    assert beta["metadata"] == {"resourceVersion": "", "remainingItemCount": 3}
    watch_event = table(info, cm, headers=False)
    assert watch_event["columnDefinitions"] == []
    assert watch_event["rows"][0]["cells"][0] == "cm"


def test_empty_list_keeps_columns() -> None:
    t = table(builtin("", "Namespace"))
    assert t["rows"] == []
    assert columns(t) == ["Name", "Status", "Age"]


def test_default_now_is_current_time() -> None:
    cm = {"metadata": {"name": "c", "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}}
    age = to_table(builtin("", "ConfigMap"), [cm])["rows"][0]["cells"][2]
    assert age in ("0s", "1s", "2s")


# -- built-in kinds ----------------------------------------------------------------------------------


def test_namespace_configmap_secret_serviceaccount() -> None:
    ns = {"metadata": {"name": "prod", "creationTimestamp": ago(hours=26)}, "status": {"phase": "Active"}}
    assert cells(builtin("", "Namespace"), ns) == ["prod", "Active", "26h"]
    cm = {"metadata": meta("cm"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert columns(table(builtin("", "ConfigMap"))) == ["Name", "Data", "Age"]
    assert cells(builtin("", "ConfigMap"), cm) == ["cm", 3, "5m"]
    secret = {"metadata": meta("s"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}
    assert columns(table(builtin("", "Secret"))) == ["Name", "Type", "Data", "Age"]
    assert cells(builtin("", "Secret"), secret) == ["s", "kubernetes.io/tls", 2, "5m"]
    sa = {"metadata": meta("default"), "secrets": [{"name": "t"}]}
    assert columns(table(builtin("", "ServiceAccount"))) == ["Name", "Secrets", "Age"]
    assert cells(builtin("", "ServiceAccount"), sa) == ["default", 1, "5m"]


def test_missing_creation_timestamp_is_unknown() -> None:
    assert cells(builtin("", "ConfigMap"), {"metadata": {"name": "c"}}) == ["c", 0, "<unknown>"]


def test_service_columns_and_cells() -> None:
    info = builtin("", "Service")
    t = table(info)
    assert columns(t) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert [c["priority"] for c in t["columnDefinitions"]] == [0, 0, 0, 0, 0, 0, 1]
    cluster_ip = {
        "metadata": meta("web"),
        "spec": {
            "type": "ClusterIP",
            "clusterIPs": ["10.0.0.1"],
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            "selector": {"app": "web", "tier": "fe"},
        },
    }
    assert cells(info, cluster_ip) == [
        "web",
        "ClusterIP",
        "10.0.0.1",
        "<none>",
        "80/TCP,53/UDP",
        "5m",
        "app=web,tier=fe",
    ]
    node_port = {
        "metadata": meta("np"),
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.0.0.2",
            "externalIPs": ["1.2.3.4"],
            "ports": [{"port": 80, "nodePort": 30080}],
        },
    }
    assert cells(info, node_port)[1:5] == ["NodePort", "10.0.0.2", "1.2.3.4", "80:30080/TCP"]
    lb = {"metadata": meta("lb"), "spec": {"type": "LoadBalancer"}}
    assert cells(info, lb)[2:5] == ["<none>", "<pending>", "<none>"]
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}]}}
    assert cells(info, lb)[3] == "5.6.7.8,lb.example.com"
    ext = {"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "example.com"}}
    assert cells(info, ext)[1:4] == ["ExternalName", "<none>", "example.com"]
    assert cells(info, {"metadata": meta("bare")})[1:5] == ["ClusterIP", "<none>", "<none>", "<none>"]


def test_endpoints() -> None:
    info = builtin("", "Endpoints")
    assert cells(info, {"metadata": meta("e")})[1] == "<none>"
    ep = {
        "metadata": meta("e"),
        "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": [{"ip": "fd00::1"}]},
        ],
    }
    assert cells(info, ep)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more..."
    v6 = {"metadata": meta("e"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}
    assert cells(info, v6)[1] == "[fd00::1]:80"


def test_core_event() -> None:
    info = builtin("", "Event")
    t = table(info)
    assert columns(t) == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Subobject",
        "Source",
        "Message",
        "First Seen",
        "Count",
        "Name",
    ]
    assert [c["priority"] for c in t["columnDefinitions"]] == [0, 0, 0, 0, 1, 1, 0, 1, 1, 1]
    assert t["columnDefinitions"][-1]["format"] == "name"
    event = {
        "metadata": meta("web.123"),
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{c}"},
        "type": "Warning",
        "reason": "BackOff",
        "message": " restarting \n",
        "firstTimestamp": ago(hours=1),
        "lastTimestamp": ago(seconds=30),
        "count": 4,
        "source": {"component": "kubelet", "host": "node-a"},
    }
    assert cells(info, event) == [
        "30s",
        "Warning",
        "BackOff",
        "pod/web",
        "spec.containers{c}",
        "kubelet, node-a",
        "restarting",
        "60m",
        4,
        "web.123",
    ]
    kopf = {
        "metadata": meta("kopf-event-x"),
        "involvedObject": {"kind": "Shoot"},
        "eventTime": ago(minutes=2),
        "reportingComponent": "kopf",
        "message": "done",
    }
    assert cells(info, kopf) == ["2m", "", "", "shoot", "", "kopf", "done", "2m", 1, "kopf-event-x"]
    series = {**event, "series": {"count": 9, "lastObservedTime": ago(seconds=3)}}
    assert cells(info, series)[0] == "3s"
    assert cells(info, series)[8] == 9


def test_events_k8s_io_event_uses_core_printer() -> None:
    info = builtin("events.k8s.io", "Event")
    assert columns(table(info)) == columns(table(builtin("", "Event")))
    event = {
        "metadata": meta("e1"),
        "regarding": {"kind": "Node", "name": "n1"},
        "note": "hello",
        "reason": "Started",
        "type": "Normal",
        "eventTime": ago(minutes=1),
        "reportingController": "ctrl",
        "reportingInstance": "ctrl-1",
    }
    assert cells(info, event) == ["60s", "Normal", "Started", "node/n1", "", "ctrl, ctrl-1", "hello", "60s", 1, "e1"]


def test_node() -> None:
    info = builtin("", "Node")
    assert columns(table(info)) == [
        "Name",
        "Status",
        "Roles",
        "Age",
        "Version",
        "Internal-IP",
        "External-IP",
        "OS-Image",
        "Kernel-Version",
        "Container-Runtime",
    ]
    node = {
        "metadata": {
            "name": "n1",
            "creationTimestamp": ago(days=3),
            "labels": {"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "", "x": "y"},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.31.0", "osImage": "Garden Linux"},
            "addresses": [{"type": "InternalIP", "address": "10.1.1.1"}],
        },
    }
    assert cells(info, node) == [
        "n1",
        "Ready,SchedulingDisabled",
        "control-plane,worker",
        "3d",
        "v1.31.0",
        "10.1.1.1",
        "<none>",
        "Garden Linux",
        "<unknown>",
        "<unknown>",
    ]
    bare = {"metadata": {"name": "n2", "labels": {"kubernetes.io/role": "master"}}, "status": {}}
    assert cells(info, bare)[1:3] == ["Unknown", "master"]
    not_ready = {"metadata": {"name": "n3"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    assert cells(info, not_ready)[1:3] == ["NotReady", "<none>"]


def pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": meta("p"),
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-a"},
        "status": {"phase": "Running", **status},
    }


def running(name: str, *, ready: bool = True, restarts: int = 0, finished: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {}}}
    if finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": finished}}
    return status


def test_pod_columns() -> None:
    t = table(builtin("", "Pod"))
    assert columns(t) == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]
    assert [c["priority"] for c in t["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_pod_running_with_restarts() -> None:
    p = pod(
        podIPs=[{"ip": "10.0.0.9"}],
        containerStatuses=[running("a", restarts=2, finished=ago(seconds=70)), running("b", ready=False)],
        conditions=[{"type": "Ready", "status": "False"}],
    )
    assert cells(builtin("", "Pod"), p) == [
        "p",
        "1/2",
        "Running",
        "2 (70s ago)",
        "5m",
        "10.0.0.9",
        "node-a",
        "<none>",
        "<none>",
    ]


def test_pod_waiting_and_terminated_reasons() -> None:
    info = builtin("", "Pod")
    waiting = pod(
        containerStatuses=[{"name": "a", "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
    )
    assert cells(info, waiting)[1:4] == ["0/2", "CrashLoopBackOff", "1"]
    signal = pod(containerStatuses=[{"name": "a", "state": {"terminated": {"signal": 9}}}])
    assert cells(info, signal)[2] == "Signal:9"
    exit_code = pod(containerStatuses=[{"name": "a", "state": {"terminated": {"exitCode": 3}}}])
    assert cells(info, exit_code)[2] == "ExitCode:3"
    completed_but_running = pod(
        containerStatuses=[running("a"), {"name": "b", "state": {"terminated": {"reason": "Completed"}}}],
        conditions=[{"type": "Ready", "status": "True"}],
    )
    assert cells(info, completed_but_running)[2] == "Running"
    gated = pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}])
    assert cells(info, gated)[2] == "SchedulingGated"
    evicted = pod(phase="Failed", reason="Evicted")
    assert cells(info, evicted)[2] == "Evicted"


def test_pod_init_containers() -> None:
    info = builtin("", "Pod")
    p = pod(
        phase="Pending", initContainerStatuses=[{"name": "init", "state": {"waiting": {"reason": "PodInitializing"}}}]
    )
    p["spec"]["initContainers"] = [{"name": "init"}, {"name": "init2"}]
    assert cells(info, p)[2] == "Init:0/2"
    p["status"]["initContainerStatuses"] = [
        {"name": "init", "state": {"terminated": {"exitCode": 0}}},
        {"name": "init2", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
    ]
    assert cells(info, p)[2] == "Init:ImagePullBackOff"
    p["status"]["initContainerStatuses"][1] = {"name": "init2", "state": {"terminated": {"exitCode": 2}}}
    assert cells(info, p)[2] == "Init:ExitCode:2"
    p["status"]["initContainerStatuses"][1] = {
        "name": "init2",
        "state": {"terminated": {"exitCode": 2, "reason": "Error"}},
    }
    assert cells(info, p)[2] == "Init:Error"


def test_pod_sidecar_counts_towards_ready() -> None:
    p = pod(
        initContainerStatuses=[
            {"name": "sidecar", "started": True, "ready": True, "restartCount": 1, "state": {"running": {}}}
        ],
        containerStatuses=[running("a"), running("b")],
    )
    p["spec"]["initContainers"] = [{"name": "sidecar", "restartPolicy": "Always"}]
    assert cells(builtin("", "Pod"), p)[1:4] == ["3/3", "Running", "1"]


def test_pod_terminating_completed_and_gates() -> None:
    info = builtin("", "Pod")
    p = pod(containerStatuses=[running("a"), running("b")])
    p["metadata"]["deletionTimestamp"] = ago(seconds=1)
    assert cells(info, p)[2] == "Terminating"
    lost = pod(reason="NodeLost")
    lost["metadata"]["deletionTimestamp"] = ago(seconds=1)
    assert cells(info, lost)[2] == "Unknown"
    done = pod(
        phase="Succeeded",
        containerStatuses=[{"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
    )
    row = table(info, done)["rows"][0]
    assert row["cells"][2] == "Completed"
    assert row["conditions"] == [
        {"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}
    ]
    assert table(info, pod(phase="Failed"))["rows"][0]["conditions"][0]["reason"] == "Failed"
    gated = pod(conditions=[{"type": "example.com/ready", "status": "True"}, {"type": "other", "status": "False"}])
    gated["spec"]["readinessGates"] = [{"conditionType": "example.com/ready"}, {"conditionType": "other"}]
    assert cells(info, gated)[8] == "1/2"
    legacy_ip = pod(podIP="10.9.9.9", nominatedNodeName="n2")
    assert cells(info, legacy_ip)[5:8] == ["10.9.9.9", "node-a", "n2"]


def test_pvc() -> None:
    info = builtin("", "PersistentVolumeClaim")
    assert columns(table(info)) == [
        "Name",
        "Status",
        "Volume",
        "Capacity",
        "Access Modes",
        "StorageClass",
        "VolumeAttributesClass",
        "Age",
        "VolumeMode",
    ]
    bound = {
        "metadata": meta("data"),
        "spec": {"volumeName": "pv-1", "storageClassName": "fast", "volumeMode": "Filesystem"},
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
        },
    }
    assert cells(info, bound) == ["data", "Bound", "pv-1", "10Gi", "RWO,RWX", "fast", "<unset>", "5m", "Filesystem"]
    pending = {
        "metadata": meta("p", annotations={"volume.beta.kubernetes.io/storage-class": "old"}),
        "status": {"phase": "Pending"},
    }
    assert cells(info, pending) == ["p", "Pending", "", "", "", "old", "<unset>", "5m", "<unset>"]


def template(*containers: tuple[str, str]) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": n, "image": i} for n, i in containers]}}


def test_deployment() -> None:
    info = builtin("apps", "Deployment")
    t = table(info)
    assert columns(t) == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
    assert [c["priority"] for c in t["columnDefinitions"]][-3:] == [1, 1, 1]
    d = {
        "metadata": meta("web"),
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}],
            },
            "template": template(("nginx", "nginx:1"), ("side", "busybox")),
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert cells(info, d) == ["web", "2/3", 3, 2, "5m", "nginx,side", "nginx:1,busybox", "app=web,env in (dev,prod)"]
    assert cells(info, {"metadata": meta("d")}) == ["d", "0/1", 0, 0, "5m", "", "", ""]


def test_statefulset_replicaset_daemonset() -> None:
    sts = builtin("apps", "StatefulSet")
    assert columns(table(sts)) == ["Name", "Ready", "Age", "Containers", "Images"]
    s = {
        "metadata": meta("db"),
        "spec": {"replicas": 2, "template": template(("pg", "postgres"))},
        "status": {"readyReplicas": 1},
    }
    assert cells(sts, s) == ["db", "1/2", "5m", "pg", "postgres"]

    rs = builtin("apps", "ReplicaSet")
    assert columns(table(rs)) == ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"]
    r = {"metadata": meta("rs"), "spec": {"replicas": 0, "selector": {"matchLabels": {"a": "b"}}}, "status": {}}
    assert cells(rs, r) == ["rs", 0, 0, 0, "5m", "", "", "a=b"]
    assert table(rs)["columnDefinitions"][1]["type"] == "integer"

    ds = builtin("apps", "DaemonSet")
    assert columns(table(ds)) == [
        "Name",
        "Desired",
        "Current",
        "Ready",
        "Up-to-date",
        "Available",
        "Node Selector",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    d = {
        "metadata": meta("ds"),
        "spec": {
            "selector": {
                "matchExpressions": [{"key": "x", "operator": "Exists"}, {"key": "y", "operator": "DoesNotExist"}]
            },
            "template": {"spec": {"nodeSelector": {"os": "linux"}, "containers": [{"name": "c", "image": "i"}]}},
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 1,
            "numberAvailable": 2,
        },
    }
    assert cells(ds, d) == ["ds", 3, 3, 2, 1, 2, "os=linux", "5m", "c", "i", "x,!y"]


def test_job() -> None:
    info = builtin("batch", "Job")
    assert columns(table(info)) == [
        "Name",
        "Status",
        "Completions",
        "Duration",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    complete = {
        "metadata": meta("j"),
        "spec": {"completions": 3, "template": template(("c", "i"))},
        "status": {
            "succeeded": 3,
            "startTime": ago(minutes=4),
            "completionTime": ago(minutes=1),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    assert cells(info, complete) == ["j", "Complete", "3/3", "3m", "5m", "c", "i", "<none>"]
    running_job = {"metadata": meta("r"), "spec": {"parallelism": 2}, "status": {"startTime": ago(seconds=30)}}
    assert cells(info, running_job)[1:4] == ["Running", "0/1 of 2", "30s"]
    assert cells(info, {"metadata": meta("n")})[1:4] == ["Running", "0/1", ""]
    failed = {"metadata": meta("f"), "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    assert cells(info, failed)[1] == "Failed"
    suspended = {"metadata": meta("s"), "status": {"conditions": [{"type": "Suspended", "status": "True"}]}}
    assert cells(info, suspended)[1] == "Suspended"
    terminating = {"metadata": meta("t", deletionTimestamp=ago(seconds=1))}
    assert cells(info, terminating)[1] == "Terminating"


def test_lease_bindings_csr() -> None:
    lease = builtin("coordination.k8s.io", "Lease")
    assert columns(table(lease)) == ["Name", "Holder", "Age"]
    assert cells(lease, {"metadata": meta("l"), "spec": {"holderIdentity": "me"}}) == ["l", "me", "5m"]
    assert cells(lease, {"metadata": meta("l")}) == ["l", "", "5m"]

    rb = builtin("rbac.authorization.k8s.io", "RoleBinding")
    assert columns(table(rb)) == ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
    binding = {
        "metadata": meta("b"),
        "roleRef": {"kind": "ClusterRole", "name": "admin"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "User", "name": "bob"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "namespace": "ns", "name": "sa"},
        ],
    }
    assert cells(rb, binding) == ["b", "ClusterRole/admin", "5m", "alice, bob", "devs", "ns/sa"]
    crb = builtin("rbac.authorization.k8s.io", "ClusterRoleBinding")
    assert cells(crb, binding)[:2] == ["b", "ClusterRole/admin"]

    csr = builtin("certificates.k8s.io", "CertificateSigningRequest")
    assert columns(table(csr)) == ["Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"]
    req = {
        "metadata": {"name": "c", "creationTimestamp": ago(minutes=1)},
        "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice", "expirationSeconds": 3600},
        "status": {"conditions": [{"type": "Approved"}, {"type": "Failed"}], "certificate": "Zm9v"},
    }
    assert cells(csr, req) == [
        "c",
        "60s",
        "kubernetes.io/kube-apiserver-client",
        "alice",
        "60m",
        "Approved,Failed,Issued",
    ]
    assert cells(csr, {"metadata": {"name": "p"}, "spec": {}}) == ["p", "<unknown>", "<none>", "", "<none>", "Pending"]
    denied = {"metadata": {"name": "d"}, "status": {"conditions": [{"type": "Approved"}, {"type": "Denied"}]}}
    assert cells(csr, denied)[-1] == "Denied"


@pytest.mark.parametrize(
    ("group", "kind"),
    [
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ],
)
def test_kinds_without_printer_get_name_and_created_at(group: str, kind: str) -> None:
    info = builtin(group, kind)
    t = table(info, {"metadata": {"name": "r", "creationTimestamp": "2024-03-01T10:00:00Z"}})
    assert columns(t) == ["Name", "Created At"]
    assert t["columnDefinitions"][1]["type"] == "date"
    assert t["rows"][0]["cells"] == ["r", "2024-03-01T10:00:00Z"]
    assert table(info, {"metadata": {"name": "r"}})["rows"][0]["cells"] == ["r", "0001-01-01T00:00:00Z"]


def test_every_builtin_renders_a_sparse_object() -> None:
    for info in BUILTIN:
        t = table(info, {"metadata": {"name": "n"}}, {})
        for row in t["rows"]:
            assert len(row["cells"]) == len(t["columnDefinitions"]), info.kind


# -- custom resources --------------------------------------------------------------------------------


def test_custom_resource_without_columns_has_name_and_age() -> None:
    t = table(crd(), {"metadata": {"name": "s", "creationTimestamp": ago(days=2, hours=3)}})
    assert columns(t) == ["Name", "Age"]
    assert t["columnDefinitions"][1]["type"] == "date"
    assert t["rows"][0]["cells"] == ["s", "2d3h"]


def test_custom_resource_printer_columns() -> None:
    info = crd(
        (
            PrinterColumn("Region", "string", ".spec.region"),
            PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', description="ready?"),
            PrinterColumn("Replicas", "integer", ".spec.replicas"),
            PrinterColumn("Ratio", "number", ".spec.ratio", format="float"),
            PrinterColumn("Hibernated", "boolean", ".spec.hibernation.enabled", priority=1),
            PrinterColumn("Labels", "string", ".metadata.labels"),
            PrinterColumn("Created", "date", ".metadata.creationTimestamp"),
        )
    )
    t = table(
        info,
        {
            "metadata": {"name": "s", "creationTimestamp": ago(hours=5), "labels": {"b": "<2>", "a": "1"}},
            "spec": {"region": "eu", "replicas": 3.0, "ratio": 2, "hibernation": {"enabled": True}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        },
    )
    assert columns(t) == ["Name", "Region", "Ready", "Replicas", "Ratio", "Hibernated", "Labels", "Created"]
    defs = {c["name"]: c for c in t["columnDefinitions"]}
    assert defs["Region"]["description"] == "Custom resource definition column (in JSONPath format): .spec.region"
    assert defs["Ready"]["description"] == "ready?"
    assert defs["Ratio"]["format"] == "float"
    assert defs["Hibernated"]["priority"] == 1
    assert defs["Replicas"]["type"] == "integer"
    assert t["rows"][0]["cells"] == ["s", "eu", "True", 3, 2.0, True, '{"a":"1","b":"\\u003c2\\u003e"}', "5h"]


def test_custom_resource_cells_of_missing_or_mistyped_values() -> None:
    info = crd(
        (
            PrinterColumn("S", "string", ".spec.s"),
            PrinterColumn("I", "integer", ".spec.i"),
            PrinterColumn("N", "number", ".spec.n"),
            PrinterColumn("B", "boolean", ".spec.b"),
            PrinterColumn("D", "date", ".spec.d"),
            PrinterColumn("Bad", "string", ".spec[["),
        )
    )
    assert cells(info, {"metadata": {"name": "x"}}) == ["x", None, None, None, None, None, None]
    mistyped = {"metadata": {"name": "x"}, "spec": {"s": None, "i": "3", "n": True, "b": "yes", "d": 5}}
    assert cells(info, mistyped) == ["x", None, None, None, None, None, None]
    scalars = {"metadata": {"name": "x"}, "spec": {"s": 1.5, "i": True, "n": 7, "b": False, "d": "not a date"}}
    assert cells(info, scalars) == ["x", "1.5", None, 7.0, False, "<invalid>", None]
    assert cells(info, {"metadata": {"name": "x"}, "spec": {"s": True, "d": ""}})[1:6] == [
        "true",
        None,
        None,
        None,
        "<unknown>",
    ]
    assert cells(info, {"metadata": {"name": "x"}, "spec": {"s": 1e6, "i": 2.9}})[1:3] == ["1e+06", 2]
    assert cells(info, {"metadata": {"name": "x"}, "spec": {"s": [1, "a"]}})[1] == '[1,"a"]'


def test_custom_resource_ignores_builtin_printer_of_same_kind() -> None:
    info = ResourceInfo(
        group="",
        version="v1",
        kind="Pod",
        plural="pods",
        singular="pod",
        namespaced=True,
        crd_name="weird",
    )
    assert columns(table(info)) == ["Name", "Age"]


# -- selectors ---------------------------------------------------------------------------------------


def test_format_helpers() -> None:
    assert format_labels({}) == "<none>"
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_label_selector(None) == "<none>"
    assert format_label_selector({}, empty="") == ""
    selector = {
        "matchLabels": {"z": "1"},
        "matchExpressions": [
            {"key": "a", "operator": "NotIn", "values": ["y", "x"]},
            {"key": "m", "operator": "Exists"},
        ],
    }
    assert format_label_selector(selector) == "a notin (x,y),m,z=1"
    assert format_label_selector({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}) == "<error>"


# -- kinds added with the whole built-in API (tables_builtin) ----------------------------------------


def test_cronjob() -> None:
    info = builtin("batch", "CronJob")
    obj = {
        "metadata": meta("nightly"),
        "spec": {
            "schedule": "0 3 * * *",
            "suspend": False,
            "jobTemplate": {
                "spec": {
                    "selector": {"matchLabels": {"job": "n"}},
                    "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}},
                }
            },
        },
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(minutes=3)},
    }
    t = table(info, obj)
    assert columns(t) == [
        "Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age", "Containers", "Images",
        "Selector",
    ]  # fmt: skip
    assert t["rows"][0]["cells"] == ["nightly", "0 3 * * *", "<none>", "False", 1, "3m", "5m", "c", "busybox", "job=n"]
    bare = cells(info, {"metadata": meta("b"), "spec": {"schedule": "@hourly", "timeZone": "Etc/UTC"}})
    assert bare[1:6] == ["@hourly", "Etc/UTC", "<unset>", 0, "<none>"]


def test_ingress_and_ingressclass() -> None:
    info = builtin("networking.k8s.io", "Ingress")
    obj = {
        "metadata": meta("web"),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [{"host": f"h{i}.example.com"} for i in range(5)],
            "tls": [{"hosts": ["h0.example.com"]}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}, {"hostname": "lb.example.com"}]}},
    }
    t = table(info, obj)
    assert columns(t) == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert t["rows"][0]["cells"] == [
        "web",
        "nginx",
        "h0.example.com,h1.example.com,h2.example.com + 2 more...",
        "10.0.0.9,lb.example.com",
        "80, 443",
        "5m",
    ]
    assert cells(info, {"metadata": meta("w"), "spec": {"rules": [{"http": {}}]}})[1:5] == ["<none>", "*", "", "80"]
    klass = builtin("networking.k8s.io", "IngressClass")
    obj = {
        "metadata": meta("nginx"),
        "spec": {
            "controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "P", "name": "p"},
        },
    }
    assert cells(klass, obj) == ["nginx", "k8s.io/ingress-nginx", "P.k8s.example.com/p", "5m"]


def test_pdb_priorityclass_quota() -> None:
    pdb = builtin("policy", "PodDisruptionBudget")
    obj = {"metadata": meta("p"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 2}}
    t = table(pdb, obj)
    assert columns(t) == ["Name", "Min Available", "Max Unavailable", "Allowed Disruptions", "Age"]
    assert t["rows"][0]["cells"] == ["p", "50%", "N/A", 2, "5m"]
    assert cells(pdb, {"metadata": meta("q"), "spec": {"maxUnavailable": 1}})[1:4] == ["N/A", "1", 0]

    pc = builtin("scheduling.k8s.io", "PriorityClass")
    t = table(pc, {"metadata": meta("high"), "value": 1000, "preemptionPolicy": "Never"})
    assert columns(t) == ["Name", "Value", "Global-Default", "Age", "PreemptionPolicy"]
    assert t["columnDefinitions"][4]["priority"] == 1
    assert t["rows"][0]["cells"] == ["high", 1000, False, "5m", "Never"]

    quota = builtin("", "ResourceQuota")
    obj = {
        "metadata": meta("q"),
        "status": {
            "hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "2Gi"},
            "used": {"pods": "3", "limits.memory": "512Mi"},
        },
    }
    t = table(quota, obj)
    assert columns(t) == ["Name", "Request", "Limit", "Age"]
    assert t["rows"][0]["cells"] == ["q", "pods: 3/10, requests.cpu: 0/1", "limits.memory: 512Mi/2Gi", "5m"]


def test_hpa_targets() -> None:
    info = builtin("autoscaling", "HorizontalPodAutoscaler")
    obj = {
        "metadata": meta("h"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                },
                {
                    "type": "Pods",
                    "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}},
                },
                {"type": "External", "external": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "5"}}},
            ],
        },
        "status": {
            "currentReplicas": 3,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}
            ],
        },
    }
    t = table(info, obj)
    assert columns(t) == ["Name", "Reference", "Targets", "MinPods", "MaxPods", "Replicas", "Age"]
    assert t["rows"][0]["cells"] == ["h", "Deployment/web", "cpu: 35%/80%, <unknown>/1k + 1 more...", "2", 10, 3, "5m"]
    v1 = {"metadata": meta("o"), "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "a"}, "maxReplicas": 3,
                                          "targetCPUUtilizationPercentage": 50}}  # fmt: skip
    assert cells(info, v1)[2:4] == ["cpu: <unknown>/50%", "<unset>"]
    assert cells(info, {"metadata": meta("n"), "spec": {}})[2] == "<none>"


def test_core_replication_controller_podtemplate_pv_componentstatus() -> None:
    rc = builtin("", "ReplicationController")
    obj = {
        "metadata": meta("rc"),
        "spec": {
            "replicas": 3,
            "selector": {"app": "a"},
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    t = table(rc, obj)
    assert columns(t) == ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"]
    assert t["rows"][0]["cells"] == ["rc", 3, 2, 1, "5m", "c", "i", "app=a"]

    pt = builtin("", "PodTemplate")
    obj = {
        "metadata": meta("t"),
        "template": {"metadata": {"labels": {"b": "2", "a": "1"}}, "spec": {"containers": []}},
    }
    t = table(pt, obj)
    assert columns(t) == ["Name", "Containers", "Images", "Pod Labels"]
    assert t["rows"][0]["cells"] == ["t", "", "", "a=1,b=2"]

    pv = builtin("", "PersistentVolume")
    obj = {
        "metadata": meta("pv1"),
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "ns", "name": "data"},
            "storageClassName": "fast",
        },
        "status": {"phase": "Bound"},
    }
    t = table(pv, obj)
    assert columns(t) == [
        "Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
        "VolumeAttributesClass", "Reason", "Age", "VolumeMode",
    ]  # fmt: skip
    assert t["rows"][0]["cells"] == [
        "pv1",
        "1Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "ns/data",
        "fast",
        "<unset>",
        "",
        "5m",
        "<unset>",
    ]

    cs = builtin("", "ComponentStatus")
    obj = {"metadata": {"name": "etcd-0"}, "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]}
    t = table(cs, obj)
    assert columns(t) == ["Name", "Status", "Message", "Error"]
    assert t["rows"][0]["cells"] == ["etcd-0", "Healthy", "ok", ""]
    down = {"metadata": {"name": "s"}, "conditions": [{"type": "Healthy", "status": "Unknown", "error": "no"}]}
    assert cells(cs, down) == ["s", "Unhealthy", "", "no"]
    assert cells(cs, {"metadata": {"name": "x"}}) == ["x", "Unknown", "", ""]


def test_netpol_endpointslice_controllerrevision_limitrange() -> None:
    netpol = builtin("networking.k8s.io", "NetworkPolicy")
    assert cells(netpol, {"metadata": meta("n"), "spec": {"podSelector": {}}}) == ["n", "<none>", "5m"]
    assert cells(netpol, {"metadata": meta("n"), "spec": {"podSelector": {"matchLabels": {"a": "b"}}}})[1] == "a=b"

    eps = builtin("discovery.k8s.io", "EndpointSlice")
    obj = {
        "metadata": meta("s"),
        "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": "x"}, {}, {"port": 9}],
        "endpoints": [{"addresses": ["10.0.0.1", "10.0.0.2"]}, {"addresses": ["10.0.0.3", "10.0.0.4"]}],
    }
    t = table(eps, obj)
    assert columns(t) == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    assert t["rows"][0]["cells"] == [
        "s", "IPv4", "80,x,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "5m",
    ]  # fmt: skip
    assert cells(eps, {"metadata": meta("e"), "addressType": "IPv4"})[2:4] == ["<unset>", "<unset>"]

    cr = builtin("apps", "ControllerRevision")
    owned = {
        "metadata": meta(
            "r", ownerReferences=[{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": True}]
        ),
        "revision": 4,
    }
    assert cells(cr, owned) == ["r", "daemonset.apps/ds", 4, "5m"]
    assert cells(cr, {"metadata": meta("r"), "revision": 1})[1] == "<none>"

    limits = builtin("", "LimitRange")
    assert columns(table(limits, {"metadata": meta("l")})) == ["Name", "Created At"]


def test_storage_and_node_kinds() -> None:
    sc = builtin("storage.k8s.io", "StorageClass")
    obj = {
        "metadata": meta("std", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
        "provisioner": "csi.example.com",
    }
    t = table(sc, obj)
    assert columns(t) == ["Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"]
    assert t["rows"][0]["cells"] == ["std (default)", "csi.example.com", "Delete", "Immediate", False, "5m"]
    driver = builtin("storage.k8s.io", "CSIDriver")
    assert cells(driver, {"metadata": meta("d"), "spec": {}}) == [
        "d",
        True,
        False,
        False,
        "<unset>",
        False,
        "<none>",
        "5m",
    ]
    node = builtin("storage.k8s.io", "CSINode")
    assert cells(node, {"metadata": meta("n"), "spec": {"drivers": [{}, {}]}}) == ["n", 2, "5m"]
    va = builtin("storage.k8s.io", "VolumeAttachment")
    obj = {
        "metadata": meta("va"),
        "spec": {"attacher": "a", "nodeName": "n1", "source": {"persistentVolumeName": "pv"}},
    }
    assert cells(va, obj) == ["va", "a", "pv", "n1", False, "5m"]
    cap = builtin("storage.k8s.io", "CSIStorageCapacity")
    assert cells(cap, {"metadata": meta("c"), "storageClassName": "sc"}) == ["c", "sc", "<unset>"]
    rc = builtin("node.k8s.io", "RuntimeClass")
    assert cells(rc, {"metadata": meta("gvisor"), "handler": "runsc"}) == ["gvisor", "runsc", "5m"]


def test_flowcontrol_admission_and_apiservice() -> None:
    fs = builtin("flowcontrol.apiserver.k8s.io", "FlowSchema")
    obj = {
        "metadata": meta("f"),
        "spec": {"priorityLevelConfiguration": {"name": "global"}, "matchingPrecedence": 500},
        "status": {"conditions": [{"type": "Dangling", "status": "False"}]},
    }
    assert cells(fs, obj) == ["f", "global", 500, "<none>", "5m", "False"]
    plc = builtin("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration")
    limited = {
        "metadata": meta("p"),
        "spec": {
            "type": "Limited",
            "limited": {
                "nominalConcurrencyShares": 30,
                "limitResponse": {"type": "Queue", "queuing": {"queues": 64, "handSize": 6, "queueLengthLimit": 50}},
            },
        },
    }
    assert cells(plc, limited) == ["p", "Limited", 30, 64, 6, 50, "5m"]
    assert cells(plc, {"metadata": meta("e"), "spec": {"type": "Exempt"}})[1:6] == ["Exempt", *["<none>"] * 4]

    hooks = builtin("admissionregistration.k8s.io", "ValidatingWebhookConfiguration")
    assert cells(hooks, {"metadata": meta("v"), "webhooks": [{}, {}]}) == ["v", 2, "5m"]
    vap = builtin("admissionregistration.k8s.io", "ValidatingAdmissionPolicy")
    obj = {"metadata": meta("v"), "spec": {"validations": [{}], "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}}}
    assert cells(vap, obj) == ["v", 1, "v1/ConfigMap", "5m"]
    vapb = builtin("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding")
    assert cells(vapb, {"metadata": meta("b"), "spec": {"policyName": "v", "paramRef": {"name": "p"}}}) == [
        "b", "v", "*/p", "5m",
    ]  # fmt: skip
    api = builtin("apiregistration.k8s.io", "APIService")
    local = {"metadata": meta("v1.apps"), "status": {"conditions": [{"type": "Available", "status": "True"}]}}
    assert cells(api, local) == ["v1.apps", "Local", "True", "5m"]
    remote = {
        "metadata": meta("v1beta1.metrics.k8s.io"),
        "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
        "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]},
    }
    assert cells(api, remote)[1:3] == ["kube-system/metrics-server", "False (MissingEndpoints)"]
