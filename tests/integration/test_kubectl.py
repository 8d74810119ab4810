"""Drive the API server with the real kubectl binary and check what a user would see.

One server is shared by the whole module (session fixture `apiserver`); every test works in a
namespace of its own, and the custom resource definitions are created once per module.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import KUBECTL, ServerProcess, eventually, kubectl

GROUP = "kubectl.test.gardener.dev"
WIDGETS = f"widgets.{GROUP}"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": WIDGETS},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "string", "jsonPath": ".spec.size", "description": "How big it is"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "description": "A Widget is a thing made by the widget factory.",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "description": "WidgetSpec is the desired state of a Widget.",
                                "required": ["size"],
                                "properties": {
                                    "size": {
                                        "type": "string",
                                        "enum": ["small", "medium", "large"],
                                        "description": "Size of the widget in three steps.",
                                    },
                                    "replicas": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "maximum": 10,
                                        "description": "How many copies to make.",
                                    },
                                    "color": {
                                        "type": "string",
                                        "maxLength": 10,
                                        "default": "blue",
                                        "description": "Paint colour of the widget.",
                                    },
                                    "tags": {"type": "array", "maxItems": 3, "items": {"type": "string"}},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer"},
                                    "selector": {"type": "string"},
                                    "observedGeneration": {"type": "integer"},
                                    "conditions": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "type": {"type": "string"},
                                                "status": {"type": "string"},
                                                "reason": {"type": "string"},
                                                "message": {"type": "string"},
                                                "lastTransitionTime": {"type": "string", "format": "date-time"},
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


@dataclass
class Kube:
    """kubectl bound to one server."""

    kubeconfig: Path

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return kubectl(*args, kubeconfig=self.kubeconfig, input=input, check=check, timeout=timeout)

    def apply(
        self, *objs: dict[str, Any], args: tuple[str, ...] = (), check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self("apply", *args, "-f", "-", input=manifests(*objs), check=check)

    def create(
        self, *objs: dict[str, Any], args: tuple[str, ...] = (), check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self("create", *args, "-f", "-", input=manifests(*objs), check=check)

    def get_json(self, *args: str) -> Any:
        return json.loads(self("get", *args, "-o", "json").stdout)

    def popen(self, *args: str, stdout: Path) -> subprocess.Popen[bytes]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.kubeconfig.parent)}
        with open(stdout, "wb") as out:
            return subprocess.Popen([KUBECTL, *args], stdout=out, stderr=subprocess.STDOUT, env=env)


@pytest.fixture(scope="module")
def kube(apiserver: ServerProcess) -> Kube:
    return Kube(apiserver.kubeconfig)


@pytest.fixture(scope="module")
def widgets(kube: Kube) -> str:
    """The Widget CRD, applied with kubectl and waited for with `kubectl wait --for=condition=Established`."""
    out = kube.apply(WIDGET_CRD).stdout
    assert f"customresourcedefinition.apiextensions.k8s.io/{WIDGETS} created" in out
    waited = kube("wait", "--for=condition=Established", f"crd/{WIDGETS}", "--timeout=30s")
    assert "condition met" in waited.stdout
    return WIDGETS


@pytest.fixture
def ns(kube: Kube, request: pytest.FixtureRequest) -> Iterator[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))[:40].strip("-")
    name = f"kc-{slug}-{uuid.uuid4().hex[:5]}"
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kube("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def configmap(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def deployment(name: str, containers: list[dict[str, Any]], replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}},
        },
    }


def event_for(obj: dict[str, Any], *, name: str, reason: str, message: str) -> dict[str, Any]:
    m = obj["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": m["namespace"]},
        "involvedObject": {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": m["name"],
            "namespace": m["namespace"],
            "uid": m["uid"],
        },
        "reason": reason,
        "message": message,
        "type": "Warning",
        "source": {"component": "pytest"},
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:00:00Z",
        "count": 1,
    }


def manifests(*objs: dict[str, Any]) -> str:
    """A multi-document stream of JSON documents: no YAML 1.1 surprises (`y` is a boolean to kubectl)."""
    return "\n---\n".join(json.dumps(obj) for obj in objs)


def table(out: str) -> tuple[list[str], list[list[str]]]:
    """Split kubectl's table output into a header and rows, cutting cells at the header's column offsets."""
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, f"no table in {out!r}"
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\s\s))\S", lines[0])]
    bounds = [*starts[1:], None]

    def cells(line: str) -> list[str]:
        return [line[a:b].strip() for a, b in zip(starts, bounds, strict=True)]

    return cells(lines[0]), [cells(line) for line in lines[1:]]


def names(out: str) -> set[str]:
    return {line.strip() for line in out.splitlines() if line.strip()}


# ---- apply / get ----


def test_apply_reports_created_unchanged_configured(kube: Kube, ns: str) -> None:
    cm = configmap("app-config", {"a": "1", "b": "2"})
    assert kube.apply(cm, args=("-n", ns)).stdout.strip() == "configmap/app-config created"
    assert kube.apply(cm, args=("-n", ns)).stdout.strip() == "configmap/app-config unchanged"
    changed = configmap("app-config", {"a": "10", "c": "3"})
    assert kube.apply(changed, args=("-n", ns)).stdout.strip() == "configmap/app-config configured"
    got = kube.get_json("-n", ns, "configmap", "app-config")
    # three-way merge: "b" was in the last applied configuration and is gone from the manifest
    assert got["data"] == {"a": "10", "c": "3"}
    last = json.loads(got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == {"a": "10", "c": "3"}


def test_apply_custom_resource_twice(kube: Kube, ns: str, widgets: str) -> None:
    w = widget("w1", size="small", replicas=1, tags=["x", "y"])
    assert kube.apply(w, args=("-n", ns)).stdout.strip() == f"widget.{GROUP}/w1 created"
    assert kube.apply(w, args=("-n", ns)).stdout.strip() == f"widget.{GROUP}/w1 unchanged"
    w2 = widget("w1", size="large", replicas=2)
    assert kube.apply(w2, args=("-n", ns)).stdout.strip() == f"widget.{GROUP}/w1 configured"
    got = kube.get_json("-n", ns, "widget", "w1")
    # "tags" was removed from the manifest; "color" comes from the schema default
    assert got["spec"] == {"size": "large", "replicas": 2, "color": "blue"}
    assert got["metadata"]["generation"] == 2


def test_server_side_dry_run_and_diff(kube: Kube, ns: str) -> None:
    dep = deployment("web", [{"name": "app", "image": "nginx:1.25"}])
    out = kube.apply(dep, args=("-n", ns, "--dry-run=server")).stdout
    assert out.strip() == "deployment.apps/web created (server dry run)"
    assert kube("-n", ns, "get", "deployments", "-o", "name").stdout.strip() == ""
    kube.apply(dep, args=("-n", ns))
    assert kube("-n", ns, "diff", "-f", "-", input=manifests(dep), check=False).returncode == 0
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    diff = kube("-n", ns, "diff", "-f", "-", input=manifests(dep), check=False)
    assert diff.returncode == 1, diff.stderr
    assert re.search(r"^-\s+- image: nginx:1\.25$", diff.stdout, re.M), diff.stdout
    assert re.search(r"^\+\s+- image: nginx:1\.27$", diff.stdout, re.M), diff.stdout
    live = kube.get_json("-n", ns, "deployment", "web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert live["metadata"]["generation"] == 1


def test_get_output_yaml_json_wide(kube: Kube, ns: str, widgets: str) -> None:
    kube.apply(configmap("cm1", {"k": "v"}, {"app": "demo"}), widget("w1", size="medium", color="red"), args=("-n", ns))
    as_yaml = yaml.safe_load(kube("-n", ns, "get", "configmap", "cm1", "-o", "yaml").stdout)
    as_json = kube.get_json("-n", ns, "configmap", "cm1")
    for doc in (as_yaml, as_json):
        assert doc["kind"] == "ConfigMap"
        assert doc["apiVersion"] == "v1"
        assert doc["data"] == {"k": "v"}
        assert doc["metadata"]["namespace"] == ns
        assert doc["metadata"]["labels"] == {"app": "demo"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["metadata"]["creationTimestamp"])
        assert doc["metadata"]["uid"] and doc["metadata"]["resourceVersion"].isdigit()
    assert as_yaml["metadata"]["uid"] == as_json["metadata"]["uid"]

    listed = kube.get_json("-n", ns, "configmaps")
    assert listed["kind"] == "List"
    assert [item["metadata"]["name"] for item in listed["items"]] == ["cm1"]

    header, rows = table(kube("-n", ns, "get", "widgets").stdout)
    assert header == ["NAME", "SIZE", "REPLICAS", "AGE"]
    header, rows = table(kube("-n", ns, "get", "widgets", "-o", "wide").stdout)
    assert header == ["NAME", "SIZE", "REPLICAS", "COLOR", "AGE"]
    assert rows[0][:4] == ["w1", "medium", "", "red"]
    assert kube("-n", ns, "get", "widget", "w1", "-o", "jsonpath={.spec.color}").stdout == "red"
    assert kube("-n", ns, "get", "widgets", "-o", "name").stdout.strip() == f"widget.{GROUP}/w1"


def _watch_lines(path: Path) -> list[list[str]]:
    return [re.split(r"\s+", line.strip()) for line in path.read_text().splitlines() if line.strip()]


def test_get_watch_output_watch_events(kube: Kube, ns: str, tmp_path: Path) -> None:
    kube.apply(configmap("before", {"a": "1"}), args=("-n", ns))
    out = tmp_path / "watch.out"
    proc = kube.popen("-n", ns, "get", "configmaps", "-w", "--output-watch-events", stdout=out)
    try:
        eventually(lambda: any(line[:2] == ["ADDED", "before"] for line in _watch_lines(out)), what="initial ADDED")
        kube.apply(configmap("during", {"a": "1"}), args=("-n", ns))
        eventually(lambda: ["ADDED", "during"] in [line[:2] for line in _watch_lines(out)], what="ADDED during")
        kube("-n", ns, "label", "configmap", "during", "x=y")
        eventually(lambda: ["MODIFIED", "during"] in [line[:2] for line in _watch_lines(out)], what="MODIFIED")
        kube("-n", ns, "delete", "configmap", "during")
        eventually(lambda: ["DELETED", "during"] in [line[:2] for line in _watch_lines(out)], what="DELETED")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    events = [line[:2] for line in _watch_lines(out) if line[0] != "EVENT"]
    assert (
        events.index(["ADDED", "during"]) < events.index(["MODIFIED", "during"]) < events.index(["DELETED", "during"])
    )
    assert ["DELETED", "before"] not in events


def test_get_watch_rows_keep_the_table_columns(kube: Kube, ns: str, tmp_path: Path) -> None:
    """kubectl asks the watch for Table objects too (Accept: ...;as=Table); kube-apiserver sends them,
    so the event rows keep the DATA column of the initial list."""
    kube.apply(configmap("before", {"a": "1"}), args=("-n", ns))
    out = tmp_path / "watch.out"
    proc = kube.popen("-n", ns, "get", "configmaps", "-w", stdout=out)
    try:
        eventually(lambda: any(line[:1] == ["before"] for line in _watch_lines(out)), what="initial row")
        kube.apply(configmap("during", {"a": "1", "b": "2"}), args=("-n", ns))
        eventually(lambda: any(line[:1] == ["during"] for line in _watch_lines(out)), what="watched row")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    lines = _watch_lines(out)
    assert lines[0] == ["NAME", "DATA", "AGE"]
    headers = [line for line in lines if line[0] == "NAME"]
    assert headers == [["NAME", "DATA", "AGE"]], f"the header changed during the watch: {out.read_text()}"
    during = next(line for line in lines if line[0] == "during")
    assert during[1] == "2", out.read_text()


# ---- describe ----


def test_describe_configmap_shows_its_events(kube: Kube, ns: str) -> None:
    kube.apply(configmap("described", {"greeting": "hello"}, {"app": "d"}), configmap("other"), args=("-n", ns))
    cm = kube.get_json("-n", ns, "configmap", "described")
    other = kube.get_json("-n", ns, "configmap", "other")
    kube.create(
        event_for(cm, name="described.1", reason="Greeted", message="said hello to the configmap"),
        event_for(other, name="other.1", reason="Ignored", message="belongs to another object"),
        args=("-n", ns),
    )
    out = kube("-n", ns, "describe", "configmap", "described").stdout
    assert re.search(r"^Name:\s+described$", out, re.M)
    assert re.search(rf"^Namespace:\s+{ns}$", out, re.M)
    assert re.search(r"^Labels:\s+app=d$", out, re.M)
    assert re.search(r"^greeting:\n-+\nhello$", out, re.M), out
    events = out[out.index("Events:") :]
    assert re.search(r"Warning\s+Greeted\s+\S+\s+pytest\s+said hello to the configmap", events), out
    assert "Ignored" not in events


def test_describe_custom_resource_shows_its_events(kube: Kube, ns: str, widgets: str) -> None:
    kube.apply(widget("described", size="small", replicas=2), args=("-n", ns))
    w = kube.get_json("-n", ns, "widget", "described")
    kube.create(event_for(w, name="described.1", reason="Polished", message="the widget shines"), args=("-n", ns))
    out = kube("-n", ns, "describe", "widget", "described").stdout
    assert re.search(rf"^API Version:\s+{re.escape(GROUP)}/v1$", out, re.M), out
    assert re.search(r"^Kind:\s+Widget$", out, re.M)
    assert re.search(r"^\s+Size:\s+small$", out, re.M)
    assert re.search(r"^\s+Color:\s+blue$", out, re.M)
    events = out[out.index("Events:") :]
    assert re.search(r"Warning\s+Polished\s+\S+\s+pytest\s+the widget shines", events), out


# ---- delete / wait ----


def test_delete(kube: Kube, ns: str) -> None:
    kube.apply(
        configmap("one"),
        configmap("two", labels={"batch": "b"}),
        configmap("three", labels={"batch": "b"}),
        args=("-n", ns),
    )
    out = kube("-n", ns, "delete", "configmap", "one").stdout
    assert 'configmap "one" deleted' in out
    missing = kube("-n", ns, "get", "configmap", "one", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): configmaps "one" not found' in missing.stderr
    out = kube("-n", ns, "delete", "configmaps", "-l", "batch=b").stdout
    assert 'configmap "two" deleted' in out and 'configmap "three" deleted' in out
    assert kube("-n", ns, "get", "configmaps", "-o", "name").stdout.strip() == ""
    again = kube("-n", ns, "delete", "configmap", "one", check=False)
    assert again.returncode == 1 and "NotFound" in again.stderr


def test_wait_for_condition_on_custom_resource(kube: Kube, ns: str, widgets: str, tmp_path: Path) -> None:
    kube.apply(widget("waited", size="small"), args=("-n", ns))
    out = tmp_path / "wait.out"
    proc = kube.popen("-n", ns, "wait", "--for=condition=Ready", "widget/waited", "--timeout=30s", stdout=out)
    try:
        time.sleep(1.0)
        assert proc.poll() is None, f"kubectl wait returned before the condition was set: {out.read_text()}"
        status = {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Built",
                        "message": "all parts present",
                        "lastTransitionTime": "2024-01-01T00:00:00Z",
                    }
                ]
            }
        }
        patched = kube(
            "-n", ns, "patch", "widget", "waited", "--subresource=status", "--type=merge", "-p", json.dumps(status)
        )
        assert "patched" in patched.stdout
        assert proc.wait(timeout=30) == 0, out.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert f"widget.{GROUP}/waited condition met" in out.read_text()
    got = kube.get_json("-n", ns, "widget", "waited")
    assert got["status"]["conditions"][0]["reason"] == "Built"
    assert got["metadata"]["generation"] == 1, "a status change must not bump generation"
    # already true: returns at once
    assert "condition met" in kube("-n", ns, "wait", "--for=condition=ready", "widget/waited", "--timeout=5s").stdout


def test_wait_for_established_crd_and_default_age_column(kube: Kube, ns: str) -> None:
    name = f"gizmos.{GROUP}"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": GROUP,
            "scope": "Cluster",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    kube.apply(crd)
    try:
        assert "condition met" in kube("wait", "--for=condition=Established", f"crd/{name}", "--timeout=30s").stdout
        got = kube.get_json("crd", name)
        conditions = {c["type"]: c["status"] for c in got["status"]["conditions"]}
        assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
        assert got["status"]["acceptedNames"]["kind"] == "Gizmo"
        kube.apply(
            {"apiVersion": f"{GROUP}/v1", "kind": "Gizmo", "metadata": {"name": f"g-{ns}"}, "anything": {"goes": 1}}
        )
        header, rows = table(kube("get", "gizmos", f"g-{ns}").stdout)
        assert header == ["NAME", "AGE"]
        assert rows[0][0] == f"g-{ns}" and re.fullmatch(r"\d+s", rows[0][1])
        assert kube.get_json("gizmo", f"g-{ns}")["anything"] == {"goes": 1}
    finally:
        kube("delete", "crd", name, "--timeout=60s", check=False)
    served = json.loads(kube("get", "--raw", f"/apis/{GROUP}/v1").stdout)
    assert "gizmos" not in [r["name"] for r in served["resources"]]
    assert kube("get", "--raw", f"/apis/{GROUP}/v1/gizmos", check=False).returncode != 0


# ---- label / annotate / patch ----


def test_label_and_annotate(kube: Kube, ns: str, widgets: str) -> None:
    kube.apply(configmap("cm"), widget("w", size="small"), args=("-n", ns))
    assert kube("-n", ns, "label", "configmap", "cm", "env=dev", "team=a").stdout.strip() == "configmap/cm labeled"
    refused = kube("-n", ns, "label", "configmap", "cm", "env=prod", check=False)
    assert refused.returncode != 0 and "already has a value (dev)" in refused.stderr
    kube("-n", ns, "label", "configmap", "cm", "env=prod", "--overwrite")
    kube("-n", ns, "label", "configmap", "cm", "team-")
    assert kube.get_json("-n", ns, "configmap", "cm")["metadata"]["labels"] == {"env": "prod"}

    assert kube("-n", ns, "annotate", "configmap", "cm", "note=hello world").stdout.strip() == "configmap/cm annotated"
    kube("-n", ns, "annotate", "configmap", "cm", "note=bye", "--overwrite")
    kube("-n", ns, "annotate", "configmap", "cm", "other=1")
    kube("-n", ns, "annotate", "configmap", "cm", "other-")
    annotations = kube.get_json("-n", ns, "configmap", "cm")["metadata"]["annotations"]
    assert annotations.get("note") == "bye" and "other" not in annotations

    assert kube("-n", ns, "label", "widget", "w", "tier=gold").stdout.strip() == f"widget.{GROUP}/w labeled"
    kube("-n", ns, "annotate", "widget", "w", "reviewed=yes")
    got = kube.get_json("-n", ns, "widget", "w")
    assert got["metadata"]["labels"] == {"tier": "gold"}
    assert got["metadata"]["annotations"]["reviewed"] == "yes"
    assert got["metadata"]["generation"] == 1, "metadata changes must not bump generation"


def test_patch_configmap_merge_json_strategic(kube: Kube, ns: str) -> None:
    kube.apply(configmap("p", {"a": "1", "b": "2"}), args=("-n", ns))
    out = kube("-n", ns, "patch", "configmap", "p", "--type=merge", "-p", '{"data":{"b":null,"c":"3"}}').stdout
    assert out.strip() == "configmap/p patched"
    assert kube.get_json("-n", ns, "configmap", "p")["data"] == {"a": "1", "c": "3"}
    ops = [{"op": "replace", "path": "/data/a", "value": "one"}, {"op": "remove", "path": "/data/c"}]
    kube("-n", ns, "patch", "configmap", "p", "--type=json", "-p", json.dumps(ops))
    assert kube.get_json("-n", ns, "configmap", "p")["data"] == {"a": "one"}
    kube("-n", ns, "patch", "configmap", "p", "--type=strategic", "-p", '{"data":{"d":"4"}}')
    assert kube.get_json("-n", ns, "configmap", "p")["data"] == {"a": "one", "d": "4"}
    # the default type is strategic
    kube("-n", ns, "patch", "configmap", "p", "-p", '{"data":{"e":"5"}}')
    assert kube.get_json("-n", ns, "configmap", "p")["data"] == {"a": "one", "d": "4", "e": "5"}
    # a no-op patch keeps the resourceVersion
    rv = kube.get_json("-n", ns, "configmap", "p")["metadata"]["resourceVersion"]
    assert "(no change)" in kube("-n", ns, "patch", "configmap", "p", "-p", '{"data":{"e":"5"}}').stdout
    assert kube.get_json("-n", ns, "configmap", "p")["metadata"]["resourceVersion"] == rv
    test = '[{"op":"test","path":"/data/a","value":"x"}]'
    failed = kube("-n", ns, "patch", "configmap", "p", "--type=json", "-p", test, check=False)
    assert failed.returncode != 0 and "is invalid" in failed.stderr


def test_patch_strategic_merges_deployment_containers_by_name(kube: Kube, ns: str) -> None:
    containers = [{"name": "app", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox:1.36"}]
    kube.apply(deployment("web", containers), args=("-n", ns))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}}}}
    assert (
        kube("-n", ns, "patch", "deployment", "web", "-p", json.dumps(patch)).stdout.strip()
        == "deployment.apps/web patched"
    )
    got = kube.get_json("-n", ns, "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in got] == [("app", "nginx:1.25"), ("sidecar", "busybox:1.37")]
    delete = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    kube("-n", ns, "patch", "deployment", "web", "--type=strategic", "-p", json.dumps(delete))
    got = kube.get_json("-n", ns, "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in got] == [("app", "nginx:1.25")]
    # a JSON merge patch replaces the whole list
    merge = {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "alpine:3"}]}}}}
    kube("-n", ns, "patch", "deployment", "web", "--type=merge", "-p", json.dumps(merge))
    got = kube.get_json("-n", ns, "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in got] == [("only", "alpine:3")]


def test_patch_strategic_on_custom_resource_is_415(kube: Kube, ns: str, widgets: str) -> None:
    kube.apply(widget("w", size="small"), args=("-n", ns))
    failed = kube("-n", ns, "patch", "widget", "w", "-v=6", "-p", '{"spec":{"size":"large"}}', check=False)
    assert failed.returncode != 0
    assert 'status="415 Unsupported Media Type"' in failed.stderr
    assert f"application/strategic-merge-patch+json is not supported by {GROUP}/v1, Kind=Widget" in failed.stderr
    assert "application/merge-patch+json" in failed.stderr
    assert kube.get_json("-n", ns, "widget", "w")["spec"]["size"] == "small"
    kube("-n", ns, "patch", "widget", "w", "--type=merge", "-p", '{"spec":{"size":"large"}}')
    kube("-n", ns, "patch", "widget", "w", "--type=json", "-p", '[{"op":"add","path":"/spec/replicas","value":3}]')
    got = kube.get_json("-n", ns, "widget", "w")
    assert (got["spec"]["size"], got["spec"]["replicas"], got["metadata"]["generation"]) == ("large", 3, 3)


# ---- explain / tables ----


def test_explain_custom_resource(kube: Kube, widgets: str) -> None:
    out = kube("explain", "widgets").stdout
    assert re.search(r"^KIND:\s+Widget$", out, re.M)
    assert re.search(rf"^GROUP:\s+{re.escape(GROUP)}$", out, re.M)
    assert "A Widget is a thing made by the widget factory." in out
    assert re.search(r"^\s+spec\s+<Object>\n\s+WidgetSpec is the desired state of a Widget\.", out, re.M), out
    out = kube("explain", "widgets.spec").stdout
    assert re.search(r"^\s+size\s+<string> -required-", out, re.M), out
    assert "Size of the widget in three steps." in out
    assert re.search(r"^\s+replicas\s+<integer>\n\s+How many copies to make\.", out, re.M), out
    assert re.search(r"^\s+tags\s+<\[\]string>", out, re.M), out
    out = kube("explain", "widgets.spec.color").stdout
    assert re.search(r"^FIELD:\s+color <string>", out, re.M) and "Paint colour of the widget." in out
    missing = kube("explain", "widgets.spec.nope", check=False)
    assert missing.returncode != 0 and 'field "nope" does not exist' in missing.stderr


def test_explain_builtin(kube: Kube) -> None:
    out = kube("explain", "configmaps.data").stdout
    assert re.search(r"^FIELD:\s+data <map\[string\]string>", out, re.M), out
    # Built-in kinds publish top-level fields only; nested built-in fields (deployments.spec.replicas)
    # are a known gap of the loose built-in schemas.
    out = kube("explain", "deployments.spec").stdout
    assert re.search(r"^FIELD:\s+spec <DeploymentSpec>", out, re.M), out


def test_custom_resource_printer_columns(kube: Kube, ns: str, widgets: str) -> None:
    kube.apply(widget("a", size="small", replicas=2), widget("b", size="large", color="green"), args=("-n", ns))
    header, rows = table(kube("-n", ns, "get", "widgets").stdout)
    assert header == ["NAME", "SIZE", "REPLICAS", "AGE"]
    # a column whose JSONPath finds nothing is a null cell, which kubectl leaves blank
    assert [r[:3] for r in rows] == [["a", "small", "2"], ["b", "large", ""]]
    assert all(re.fullmatch(r"\d+s", r[3]) for r in rows), rows
    header, rows = table(kube("-n", ns, "get", "widgets", "-o", "wide").stdout)
    # priority > 0 columns appear with -o wide, in the order the CRD lists them
    assert header == ["NAME", "SIZE", "REPLICAS", "COLOR", "AGE"]
    assert [r[3] for r in rows] == ["blue", "green"]
    # the server-side table for one object and with --show-labels
    header, rows = table(kube("-n", ns, "get", "widget", "a", "--show-labels").stdout)
    assert header == ["NAME", "SIZE", "REPLICAS", "AGE", "LABELS"] and rows[0][-1] == "<none>"
    raw = json.loads(kube("get", "--raw", f"/apis/{GROUP}/v1/namespaces/{ns}/widgets", "-v=0").stdout)
    assert raw["kind"] == "WidgetList"


def test_builtin_table_columns(kube: Kube, ns: str) -> None:
    header, rows = table(kube("get", "namespace", ns).stdout)
    assert header == ["NAME", "STATUS", "AGE"] and rows[0][:2] == [ns, "Active"]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"u": "x", "p": "y"}}
    tls = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "t"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "", "tls.key": ""},
    }
    kube.apply(secret, tls, configmap("c", {"k": "v"}), args=("-n", ns))
    header, rows = table(kube("-n", ns, "get", "secrets").stdout)
    assert header == ["NAME", "TYPE", "DATA", "AGE"]
    assert [r[:3] for r in rows] == [["s", "Opaque", "2"], ["t", "kubernetes.io/tls", "2"]]
    header, rows = table(kube("-n", ns, "get", "configmaps").stdout)
    assert header == ["NAME", "DATA", "AGE"] and rows[0][:2] == ["c", "1"]
    kube.apply(deployment("web", [{"name": "app", "image": "nginx:1.25"}], replicas=2), args=("-n", ns))
    header, rows = table(kube("-n", ns, "get", "deployments").stdout)
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[0][:4] == ["web", "0/2", "0", "0"]
    header, rows = table(kube("-n", ns, "get", "deployments", "-o", "wide").stdout)
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert rows[0][5:] == ["app", "nginx:1.25", "app=web"]
    # several kinds in one get print one table per kind
    out = kube("-n", ns, "get", "configmaps,secrets").stdout
    assert "configmap/c" in out and "secret/s" in out


def test_label_and_field_selectors(kube: Kube, ns: str) -> None:
    kube.apply(
        configmap("front", labels={"tier": "front", "env": "prod"}),
        configmap("back", labels={"tier": "back", "env": "dev"}),
        configmap("db", labels={"tier": "db"}),
        configmap("plain"),
        args=("-n", ns),
    )

    def get(*selector: str) -> set[str]:
        return names(kube("-n", ns, "get", "configmaps", "-o", "name", *selector).stdout)

    assert get("-l", "tier=front") == {"configmap/front"}
    assert get("-l", "tier==back") == {"configmap/back"}
    assert get("-l", "tier!=front") == {"configmap/back", "configmap/db", "configmap/plain"}
    assert get("-l", "tier in (front,back)") == {"configmap/front", "configmap/back"}
    assert get("-l", "tier notin (front,back)") == {"configmap/db", "configmap/plain"}
    assert get("-l", "tier") == {"configmap/front", "configmap/back", "configmap/db"}
    assert get("-l", "!tier") == {"configmap/plain"}
    assert get("-l", "tier,env=dev") == {"configmap/back"}
    assert get("--field-selector", "metadata.name=db") == {"configmap/db"}
    assert get("--field-selector", "metadata.name!=db", "-l", "tier") == {"configmap/front", "configmap/back"}
    assert get("--field-selector", f"metadata.namespace={ns}", "-l", "env=prod") == {"configmap/front"}
    bad = kube("-n", ns, "get", "configmaps", "--field-selector", "data.k=v", check=False)
    assert bad.returncode != 0 and "field label not supported: data.k" in bad.stderr
    bad = kube("-n", ns, "get", "configmaps", "-l", "tier in (front", check=False)
    assert bad.returncode != 0


def test_field_selector_on_name_across_all_namespaces(kube: Kube, ns: str) -> None:
    """`kubectl get -A --field-selector metadata.name=x` lists /api/v1/configmaps?fieldSelector=metadata.name=x."""
    kube.apply(configmap("findme"), args=("-n", ns))
    out = kube("get", "configmaps", "-A", "--field-selector", "metadata.name=findme", check=False)
    assert out.returncode == 0, out.stderr
    _, rows = table(out.stdout)
    assert [r[:2] for r in rows] == [[ns, "findme"]]


def test_get_chunk_size_paginates(kube: Kube, ns: str) -> None:
    kube.apply(*[configmap(f"cm-{i}") for i in range(5)], args=("-n", ns))
    result = kube("-n", ns, "get", "configmaps", "--chunk-size=2", "-v=6")
    _, rows = table(result.stdout)
    assert [r[0] for r in rows] == [f"cm-{i}" for i in range(5)]
    requests = re.findall(r'"Response" verb="GET" url="([^"]+/configmaps\?[^"]*)" status="200 OK"', result.stderr)
    assert len(requests) == 3, requests
    assert "continue=" not in requests[0] and all("continue=" in url for url in requests[1:])
    assert all("limit=2" in url for url in requests)
    listed = json.loads(kube("-n", ns, "get", "configmaps", "--chunk-size=2", "-o", "json").stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == [f"cm-{i}" for i in range(5)]


def test_get_chunk_size_exact_multiple_needs_no_empty_page(kube: Kube, ns: str) -> None:
    """With 4 objects and --chunk-size=2, kube-apiserver leaves `continue` empty on the second page."""
    kube.apply(*[configmap(f"cm-{i}") for i in range(4)], args=("-n", ns))
    result = kube("-n", ns, "get", "configmaps", "--chunk-size=2", "-v=6")
    requests = re.findall(r'"Response" verb="GET" url="([^"]+/configmaps\?[^"]*)"', result.stderr)
    assert len(requests) == 2, requests


def test_scale_deployment_and_custom_resource(kube: Kube, ns: str, widgets: str) -> None:
    kube.apply(deployment("web", [{"name": "app", "image": "nginx:1.25"}], replicas=1), args=("-n", ns))
    assert kube("-n", ns, "scale", "deployment", "web", "--replicas=3").stdout.strip() == "deployment.apps/web scaled"
    assert kube.get_json("-n", ns, "deployment", "web")["spec"]["replicas"] == 3
    refused = kube("-n", ns, "scale", "deployment", "web", "--current-replicas=2", "--replicas=5", check=False)
    assert refused.returncode != 0 and "Expected replicas to be 2, was 3" in refused.stderr
    assert kube.get_json("-n", ns, "deployment", "web")["spec"]["replicas"] == 3

    kube.apply(widget("w", size="small", replicas=1), args=("-n", ns))
    kube(
        "-n", ns, "patch", "widget", "w", "--subresource=status", "--type=merge",
        "-p", '{"status":{"replicas":1,"selector":"app=w"}}',
    )  # fmt: skip
    assert kube("-n", ns, "scale", "widget", "w", "--replicas=4").stdout.strip() == f"widget.{GROUP}/w scaled"
    got = kube.get_json("-n", ns, "widget", "w")
    assert got["spec"]["replicas"] == 4 and got["status"]["replicas"] == 1
    scale = json.loads(kube("get", "--raw", f"/apis/{GROUP}/v1/namespaces/{ns}/widgets/w/scale").stdout)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 4}
    assert scale["status"] == {"replicas": 1, "selector": "app=w"}
    too_many = kube("-n", ns, "scale", "widget", "w", "--replicas=11", check=False)
    assert too_many.returncode != 0 and "spec.replicas" in too_many.stderr
    assert kube.get_json("-n", ns, "widget", "w")["spec"]["replicas"] == 4


def test_delete_namespace_removes_its_content(kube: Kube, widgets: str) -> None:
    name = f"kc-doomed-{uuid.uuid4().hex[:5]}"
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}}
    kept = widget("kept", size="small")
    kept["metadata"]["finalizers"] = ["test.gardener.dev/hold"]
    kube.apply(configmap("c"), secret, widget("w", size="small"), kept, args=("-n", name))

    out = kube("delete", "namespace", name, "--wait=false").stdout
    assert f'namespace "{name}" deleted' in out
    eventually(lambda: kube.get_json("namespace", name)["status"]["phase"] == "Terminating", what="Terminating")
    refused = kube.apply(configmap("late"), args=("-n", name), check=False)
    assert refused.returncode != 0
    assert "Forbidden" in refused.stderr and "because it is being terminated" in refused.stderr
    # the namespace controller deletes what it can; the finalizer holds the widget, the widget the namespace
    eventually(lambda: kube.get_json("-n", name, "widget", "kept")["metadata"].get("deletionTimestamp"), what="kept")
    eventually(
        lambda: (
            names(kube("-n", name, "get", "configmaps,secrets,widgets", "-o", "name").stdout)
            == {f"widget.{GROUP}/kept"}
        ),
        what="content deleted",
    )
    assert kube.get_json("namespace", name)["status"]["phase"] == "Terminating"
    kube("-n", name, "patch", "widget", "kept", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers"}]')
    kube("wait", "--for=delete", f"namespace/{name}", "--timeout=60s")
    missing = kube("get", "namespace", name, check=False)
    assert missing.returncode == 1 and "NotFound" in missing.stderr
    # recreating the namespace does not bring anything back
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        left = kube("-n", name, "get", "configmaps,secrets,widgets", "-o", "name").stdout
        assert left.strip() == ""
    finally:
        kube("delete", "namespace", name, "--wait=false")


# ---- errors ----


def test_replace_with_stale_resource_version_conflicts(kube: Kube, ns: str) -> None:
    kube.apply(configmap("c", {"v": "1"}), args=("-n", ns))
    stale = kube.get_json("-n", ns, "configmap", "c")
    kube("-n", ns, "patch", "configmap", "c", "--type=merge", "-p", '{"data":{"v":"2"}}')
    stale["data"] = {"v": "stale"}
    failed = kube("-n", ns, "replace", "-f", "-", input=json.dumps(stale), check=False)
    assert failed.returncode == 1
    assert "Error from server (Conflict)" in failed.stderr
    assert (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
        "please apply your changes to the latest version and try again" in failed.stderr
    )
    assert kube.get_json("-n", ns, "configmap", "c")["data"] == {"v": "2"}
    fresh = kube.get_json("-n", ns, "configmap", "c")
    fresh["data"] = {"v": "3"}
    assert kube("-n", ns, "replace", "-f", "-", input=json.dumps(fresh)).stdout.strip() == "configmap/c replaced"


def test_schema_violation_names_every_bad_field(kube: Kube, ns: str, widgets: str) -> None:
    bad = widget("bad", size="huge", replicas=20, color="ultraviolet-ish", tags=["a", "b", "c", "d"])
    failed = kube.apply(bad, args=("-n", ns), check=False)
    assert failed.returncode == 1
    assert 'The Widget "bad" is invalid' in failed.stderr
    for field, message in [
        ("spec.size", 'Unsupported value: "huge"'),
        ("spec.replicas", "Invalid value: 20"),
        ("spec.color", "Too long"),
        ("spec.tags", "Too many"),
    ]:
        assert re.search(rf"\* {re.escape(field)}: {re.escape(message)}", failed.stderr), (field, failed.stderr)
    missing = kube.apply(widget("bad", replicas=1), args=("-n", ns), check=False)
    assert missing.returncode == 1 and "spec.size: Required value" in missing.stderr
    wrong_type = kube.apply(widget("bad", size="small", replicas="three"), args=("-n", ns), check=False)
    assert wrong_type.returncode == 1 and "spec.replicas" in wrong_type.stderr
    assert kube("-n", ns, "get", "widgets", "-o", "name").stdout.strip() == ""
    # the same rules apply to updates
    kube.apply(widget("good", size="small"), args=("-n", ns))
    failed = kube("-n", ns, "patch", "widget", "good", "--type=merge", "-p", '{"spec":{"replicas":-1}}', check=False)
    assert failed.returncode == 1 and "spec.replicas" in failed.stderr and "Invalid" in failed.stderr


def test_unknown_fields_pruned_warned_or_rejected(kube: Kube, ns: str, widgets: str) -> None:
    w = widget("w", size="small", bogus=1)
    strict = kube.apply(w, args=("-n", ns), check=False)  # kubectl's default is --validate=strict
    assert strict.returncode == 1
    assert 'strict decoding error: unknown field "spec.bogus"' in strict.stderr
    strict = kube.apply(w, args=("-n", ns, "--validate=strict"), check=False)
    assert strict.returncode == 1 and 'unknown field "spec.bogus"' in strict.stderr
    assert kube("-n", ns, "get", "widgets", "-o", "name").stdout.strip() == ""

    warned = kube.apply(w, args=("-n", ns, "--validate=warn"))
    assert "spec.bogus" in warned.stderr and warned.stderr.startswith("Warning:")
    assert kube.get_json("-n", ns, "widget", "w")["spec"] == {"size": "small", "color": "blue"}

    ignored = kube.apply(widget("w2", size="small", bogus=1), args=("-n", ns, "--validate=false"))
    assert "bogus" not in ignored.stderr
    assert "bogus" not in kube.get_json("-n", ns, "widget", "w2")["spec"]


def test_patch_with_unknown_field_warns_and_prunes(kube: Kube, ns: str, widgets: str) -> None:
    """kubectl patch sends no fieldValidation, so the server default (Warn) applies: pruned, with a warning."""
    kube.apply(widget("w", size="small"), args=("-n", ns))
    patched = kube("-n", ns, "patch", "widget", "w", "--type=merge", "-p", '{"spec":{"bogus":2,"replicas":2}}')
    assert patched.stdout.strip() == f"widget.{GROUP}/w patched"
    assert patched.stderr.startswith("Warning:") and "spec.bogus" in patched.stderr
    assert kube.get_json("-n", ns, "widget", "w")["spec"] == {"size": "small", "replicas": 2, "color": "blue"}


def test_unknown_field_warning_text_matches_kube(kube: Kube, ns: str, widgets: str) -> None:
    """kube-apiserver's Warning header escapes quotes, so kubectl prints `unknown field "spec.bogus"`."""
    warned = kube.apply(widget("w", size="small", bogus=1), args=("-n", ns, "--validate=warn"))
    assert 'Warning: unknown field "spec.bogus"' in warned.stderr, warned.stderr


def test_unknown_fields_in_builtin_objects(kube: Kube, ns: str) -> None:
    """Built-in kinds decode into typed structs: unknown fields fail Strict and are dropped otherwise."""
    cm = configmap("c", {"a": "b"})
    cm["bogus"] = 1
    strict = kube.create(cm, args=("-n", ns), check=False)
    assert strict.returncode == 1, f"created despite fieldValidation=Strict: {strict.stdout}"
    assert 'strict decoding error: unknown field "bogus"' in strict.stderr
    kube.create(cm, args=("-n", ns, "--validate=false"))
    assert "bogus" not in kube.get_json("-n", ns, "configmap", "c")


def test_create_in_missing_namespace_is_404(kube: Kube) -> None:
    missing = f"kc-missing-{uuid.uuid4().hex[:5]}"
    failed = kube.create(configmap("c"), args=("-n", missing, "-v=6"), check=False)
    assert failed.returncode == 1
    assert 'status="404 Not Found"' in failed.stderr
    assert (
        f'Error from server (NotFound): error when creating "STDIN": namespaces "{missing}" not found' in failed.stderr
    )


def test_invalid_name_is_422(kube: Kube, ns: str, widgets: str) -> None:
    failed = kube.create(configmap("Bad_Name"), args=("-n", ns, "-v=6"), check=False)
    assert failed.returncode == 1
    assert 'status="422 Unprocessable Entity"' in failed.stderr
    assert (
        'The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'
        " must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" in failed.stderr
    )
    failed = kube.create(widget("-nope-", size="small"), args=("-n", ns), check=False)
    assert failed.returncode == 1 and 'The Widget "-nope-" is invalid: metadata.name: Invalid value' in failed.stderr
    failed = kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x.y"}}, check=False)
    assert failed.returncode == 1
    assert (
        'The Namespace "x.y" is invalid: metadata.name: Invalid value: "x.y": a lowercase RFC 1123 label must '
        "consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character "
        "(e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    ) in failed.stderr
    # upstream names Services by DNS-1035 (a leading digit is refused) and RBAC objects by URL path segment
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}
    failed = kube.create(service, args=("-n", ns), check=False)
    assert failed.returncode == 1
    assert (
        'The Service "1web" is invalid: metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower '
        "case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric "
        "character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    ) in failed.stderr
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "a%b"}, "rules": []}
    failed = kube.create(role, args=("-n", ns), check=False)
    assert failed.returncode == 1
    assert 'The Role "a%b" is invalid: metadata.name: Invalid value: "a%b": may not contain \'%\'' in failed.stderr


def test_imperative_create_commands(kube: Kube, ns: str) -> None:
    """`kubectl create namespace|configmap|secret|deployment` use client-go's typed clients, which send
    protobuf bodies (Content-Type: application/vnd.kubernetes.protobuf); kube-apiserver accepts them."""
    created = f"kc-imperative-{uuid.uuid4().hex[:5]}"
    try:
        result = kube("create", "namespace", created, check=False)
        assert result.stdout.strip() == f"namespace/{created} created", result.stderr
    finally:
        kube("delete", "namespace", created, "--wait=false", "--ignore-not-found", check=False)
    result = kube("-n", ns, "create", "configmap", "cm", "--from-literal=a=b", check=False)
    assert result.stdout.strip() == "configmap/cm created", result.stderr
    result = kube("-n", ns, "create", "secret", "generic", "s", "--from-literal=a=b", check=False)
    assert result.stdout.strip() == "secret/s created", result.stderr
    result = kube("-n", ns, "create", "deployment", "d", "--image=nginx", check=False)
    assert result.stdout.strip() == "deployment.apps/d created", result.stderr
