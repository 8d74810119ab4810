#!/usr/bin/env python3
"""Fuzz the API server with requests generated from its own OpenAPI v3 documents, and print ONE JSON line.

Starts its own API server (SQLite, garden admission in-process, the garden CRDs and a fuzz CRD installed)
on loopback in a temporary directory, reads /openapi/v3 as admin over TLS with the client certificate
of the kubeconfig the server writes, and sends requests that schemathesis (hypothesis underneath) builds
from the documents' operations, parameters and requestBody schemas:

* the embedded API: every namespaced kind of the core group, apps/v1, batch/v1, coordination, events,
  rbac and the fuzz CRD group, in namespaces this run creates;
* the garden API: core.gardener.cloud/v1beta1 and seedmanagement.gardener.cloud/v1alpha1 (admission
  in-process), namespaced kinds in a project namespace this run creates, and the cluster-scoped kinds of
  those groups under the fuzz names only.

Only get, list, create, update, patch, delete and deletecollection (never watch) of objects named
fuzz-a/b/c (negative cases may name anything else in reads only); writes are drawn more often than reads.
Bodies are positive (valid per schema) or negative (schemathesis breaks the schema); half the writes of a
kind instead send a valid seed object of it (the examples in hack/examples, a Widget, or type metadata and
a name) with a few random changes, or a JSON patch of a few operations on it, so requests get past the
first checks; one body in eight is mangled on the wire (cut short, or random bytes). A 5xx answer, a
request without an answer within --timeout seconds (a hang) and a connection that breaks (dropped) are
failures, reported with the server's tracebacks. tests/integration/test_fuzz.py runs the same generation
(derandomized) with fewer requests.

    .venv/bin/python hack/fuzz.py [--requests 20000] [--seed 1] [--timeout 30] [--target embedded|garden|all]
                                  [--storage sqlite|etcd] [--keep]

The line: {"requests", "seconds", "seed", "statuses": {code: count}, "5xx", "hangs", "dropped",
"server_survived", "failures": [each distinct failure: count, one reproduction and the server's traceback],
"targets": {name: figures}}. Progress goes to stderr. Exits 1 if there was a failure.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import copy
import itertools
import json
import re
import shutil
import socket
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: the only names the fuzzer uses: objects of these names are its own
NAMES = ("fuzz-a", "fuzz-b", "fuzz-c")
EMBEDDED_NAMESPACES = ("fuzz-1", "fuzz-2")
GARDEN_PROJECT = "fuzz"
GARDEN_NAMESPACE = "garden-fuzz"
EXAMPLES = ROOT / "hack" / "examples"

#: operations the fuzzer sends (OpenAPI methods); watch is a list with watch=true, whose parameter goes
METHODS = ("get", "post", "put", "patch", "delete")
WATCH_PARAMS = frozenset({"watch", "allowWatchBookmarks", "sendInitialEvents", "timeoutSeconds"})
STRATEGIC = "application/strategic-merge-patch+json"

FUZZ_GROUP = "fuzz.example.com"
FUZZ_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{FUZZ_GROUP}"},
    "spec": {
        "group": FUZZ_GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wdg"]},
        "versions": [
            {
                "name": version,
                "served": True,
                "storage": version == "v1",
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "required": ["spec"],
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 0, "maximum": 100},
                                    "replicas": {"type": "integer", "format": "int32"},
                                    "color": {"type": "string", "enum": ["red", "green", "blue"]},
                                    "label": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 10},
                                    "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                                    "when": {"type": "string", "format": "date-time"},
                                    "port": {"x-kubernetes-int-or-string": True},
                                    "tags": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                        "maxItems": 5,
                                        "x-kubernetes-list-type": "set",
                                    },
                                    "ports": {
                                        "type": "array",
                                        "x-kubernetes-list-type": "map",
                                        "x-kubernetes-list-map-keys": ["name"],
                                        "items": {
                                            "type": "object",
                                            "required": ["name"],
                                            "properties": {
                                                "name": {"type": "string"},
                                                "port": {"type": "integer"},
                                            },
                                        },
                                    },
                                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                    "settings": {
                                        "type": "object",
                                        "x-kubernetes-map-type": "atomic",
                                        "properties": {"a": {"type": "string"}, "b": {"type": "boolean"}},
                                    },
                                    "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                    "template": {
                                        "type": "object",
                                        "x-kubernetes-embedded-resource": True,
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                    "nullable": {"type": "string", "nullable": True},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer", "format": "int32"},
                                    "selector": {"type": "string"},
                                    "phase": {"type": "string"},
                                },
                            },
                        },
                    }
                },
            }
            for version in ("v1", "v1beta1")
        ],
    },
}
WIDGET: dict[str, Any] = {
    "apiVersion": f"{FUZZ_GROUP}/v1",
    "kind": "Widget",
    "metadata": {"name": NAMES[0], "labels": {"app": "fuzz"}},
    "spec": {
        "size": 3,
        "replicas": 1,
        "color": "red",
        "label": "abc",
        "ratio": 0.5,
        "when": "2024-01-01T00:00:00Z",
        "port": "http",
        "tags": ["a", "b"],
        "ports": [{"name": "http", "port": 80}],
        "labels": {"k": "v"},
        "settings": {"a": "x", "b": True},
        "raw": {"anything": [1, "two", {"three": None}]},
        "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t"}},
    },
}


# --------------------------------------------------------------------------------------------------
# Talking to the server
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """The admin's TLS credentials from a kubeconfig, as files requests can load."""

    server: str
    ca: str
    cert: tuple[str, str]

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path, workdir: Path) -> Client:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        workdir.mkdir(parents=True, exist_ok=True)
        files = {
            "ca.crt": cluster["certificate-authority-data"],
            "admin.crt": user["client-certificate-data"],
            "admin.key": user["client-key-data"],
        }
        for name, data in files.items():
            (workdir / name).write_bytes(base64.b64decode(data))
        return cls(
            server=cluster["server"],
            ca=str(workdir / "ca.crt"),
            cert=(str(workdir / "admin.crt"), str(workdir / "admin.key")),
        )

    def session(self) -> requests.Session:
        session = requests.Session()
        # REQUESTS_CA_BUNDLE and proxies from the environment would win over the session's settings
        session.trust_env = False
        session.verify = self.ca
        session.cert = self.cert
        return session

    def must(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201)) -> Any:
        with self.session() as session:
            response = session.request(method, self.server + path, json=body, timeout=30)
        if response.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def create(self, path: str, obj: dict[str, Any]) -> None:
        """Create, or leave as it is (409): set-up is idempotent."""
        self.must("POST", path, obj, ok=(200, 201, 409))


def _wait_established(client: Client, names: list[str], *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            crd = client.must("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conditions = (crd.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {name} not Established after {timeout:.0f}s")
            time.sleep(0.05)


def _install_crds(client: Client, crds: list[dict[str, Any]]) -> None:
    for crd in crds:
        client.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    _wait_established(client, [crd["metadata"]["name"] for crd in crds])


# --------------------------------------------------------------------------------------------------
# Targets: which documents, in which namespaces, seeded with which valid objects
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    #: /openapi/v3/<document> for each group-version fuzzed
    documents: tuple[str, ...]
    namespaces: tuple[str, ...]
    #: fuzz cluster-scoped kinds of these documents too (under the fuzz names only)
    cluster_scoped: bool = False
    #: valid objects by the components.schemas name of their kind: writes often send one, changed a little
    seeds: dict[str, dict[str, Any]] = field(default_factory=dict)


def prepare_embedded(client: Client) -> Target:
    """Namespaces and the fuzz CRD; the target covers core, apps, batch, coordination, events, rbac and the CRD."""
    for namespace in EMBEDDED_NAMESPACES:
        client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    _install_crds(client, [FUZZ_CRD])
    seeds = {
        "com.example.fuzz.v1.Widget": WIDGET,
        "com.example.fuzz.v1beta1.Widget": {**WIDGET, "apiVersion": f"{FUZZ_GROUP}/v1beta1"},
        "io.k8s.api.core.v1.ConfigMap": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": NAMES[0]},
            "data": {"a": "b"},
            "binaryData": {"c": "ZA=="},
        },
        "io.k8s.api.apps.v1.Deployment": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": NAMES[0]},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "fuzz"}},
                "template": {
                    "metadata": {"labels": {"app": "fuzz"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}]},
                },
            },
        },
    }
    return Target(
        name="embedded",
        documents=(
            "api/v1",
            "apis/apps/v1",
            "apis/batch/v1",
            "apis/coordination.k8s.io/v1",
            "apis/events.k8s.io/v1",
            "apis/rbac.authorization.k8s.io/v1",
            f"apis/{FUZZ_GROUP}/v1",
            f"apis/{FUZZ_GROUP}/v1beta1",
        ),
        namespaces=EMBEDDED_NAMESPACES,
        seeds=seeds,
    )


def _example(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def _renamespaced(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    text = json.dumps(obj).replace('"garden-dev"', json.dumps(namespace))
    out: dict[str, Any] = json.loads(text)
    return out


def prepare_garden(client: Client) -> Target:
    """The garden CRDs, a project with its namespace, the local CloudProfile and a SecretBinding, as the examples."""
    from gardener.apis.crds import all_crds

    _install_crds(client, all_crds())
    client.create(
        "/api/v1/namespaces",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": GARDEN_NAMESPACE, "labels": {"project.gardener.cloud/name": GARDEN_PROJECT}},
        },
    )
    project = _example("00-project.yaml")[0]
    project["metadata"]["name"] = GARDEN_PROJECT
    project["spec"]["namespace"] = GARDEN_NAMESPACE
    client.create("/apis/core.gardener.cloud/v1beta1/projects", project)
    cloudprofile = _example("10-cloudprofile-local.yaml")[0]
    client.create("/apis/core.gardener.cloud/v1beta1/cloudprofiles", cloudprofile)
    secret, binding = (_renamespaced(d, GARDEN_NAMESPACE) for d in _example("30-secretbinding-local.yaml"))
    client.create(f"/api/v1/namespaces/{GARDEN_NAMESPACE}/secrets", secret)
    client.create(f"/apis/core.gardener.cloud/v1beta1/namespaces/{GARDEN_NAMESPACE}/secretbindings", binding)
    seeds: dict[str, dict[str, Any]] = {}
    for example, schema in (
        ("40-shoot-workerless.yaml", "cloud.gardener.core.v1beta1.Shoot"),
        ("50-shoot-workers.yaml", "cloud.gardener.core.v1beta1.Shoot"),
        ("30-secretbinding-local.yaml", "cloud.gardener.core.v1beta1.SecretBinding"),
        ("10-cloudprofile-local.yaml", "cloud.gardener.core.v1beta1.CloudProfile"),
        ("20-seed-local.yaml", "cloud.gardener.core.v1beta1.Seed"),
        ("00-project.yaml", "cloud.gardener.core.v1beta1.Project"),
    ):
        for doc in _example(example):
            if schema.endswith("." + doc["kind"]):
                key = schema if schema not in seeds else f"{schema}#2"
                seeds[key] = _renamespaced(doc, GARDEN_NAMESPACE)
    return Target(
        name="garden",
        documents=("apis/core.gardener.cloud/v1beta1", "apis/seedmanagement.gardener.cloud/v1alpha1"),
        namespaces=(GARDEN_NAMESPACE,),
        cluster_scoped=True,
        seeds=seeds,
    )


# --------------------------------------------------------------------------------------------------
# The served documents, narrowed to what the fuzzer may touch
# --------------------------------------------------------------------------------------------------

#: query parameters whose valid values are few (kube's documents name none): positive cases take these, negative
#: ones anything
_QUERY_VALUES: dict[str, list[str]] = {
    "dryRun": ["All"],
    "fieldValidation": ["Ignore", "Warn", "Strict"],
    "propagationPolicy": ["Orphan", "Background", "Foreground"],
    "resourceVersionMatch": ["NotOlderThan", "Exact"],
    "resourceVersion": ["0", "1"],
    "labelSelector": ["app=fuzz", "app!=fuzz", "app in (fuzz,x)", "!app", "app", "a=b,c notin (d)"],
    "fieldSelector": [f"metadata.name={NAMES[0]}", "metadata.namespace!=x", "status.phase=Running"],
    "pretty": ["true", "false"],
    "fieldManager": ["fuzz", "kubectl-client-side-apply"],
}


def _param_schema(name: str, where: str, schema: dict[str, Any], namespaces: tuple[str, ...]) -> dict[str, Any]:
    if where == "path" and name == "namespace":
        return {"type": "string", "enum": list(namespaces)}
    if where == "path" and name == "name":
        return {"type": "string", "enum": list(NAMES)}
    if name in _QUERY_VALUES:
        return {"type": "string", "enum": _QUERY_VALUES[name]}
    return {k: v for k, v in schema.items() if k != "uniqueItems"}


def narrow(document: dict[str, Any], target: Target, *, strategic: bool) -> dict[str, Any]:
    """A copy of a served document with only the fuzzer's operations, names, namespaces and type metadata.

    Bodies name the kind's own apiVersion and kind, and metadata.name/namespace one of the fuzzer's (the
    negative mode still breaks them); `strategic` adds strategic merge patches (of the kind's schema) to
    PATCH, which the server takes for built-ins but does not list (see gardener.apiserver.openapi).
    """
    doc = copy.deepcopy(document)
    schemas: dict[str, Any] = doc["components"]["schemas"]
    for schema in schemas.values():
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        props = schema.get("properties")
        if gvks and isinstance(props, dict) and "kind" in props and "apiVersion" in props:
            gvk = gvks[0]
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            props["apiVersion"] = {"type": "string", "enum": [api_version]}
            props["kind"] = {"type": "string", "enum": [gvk["kind"]]}
            if "metadata" in props:
                schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    meta = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    meta["properties"]["name"] = {"type": "string", "enum": list(NAMES)}
    meta["properties"]["namespace"] = {"type": "string", "enum": list(target.namespaces)}
    meta["required"] = ["name"]
    paths: dict[str, Any] = {}
    for path, item in document["paths"].items():
        namespaced = "/namespaces/{namespace}/" in path
        if not namespaced and not (target.cluster_scoped and "{namespace}" not in path):
            continue
        collection = not path.endswith("{name}") and "{name}/" not in path
        operations: dict[str, Any] = {}
        for method in METHODS:
            op = copy.deepcopy(item.get(method))
            if op is None:
                continue
            if not namespaced and collection and method == "delete":
                continue  # deletecollection of a cluster-scoped kind reaches the set-up's objects
            op["parameters"] = [
                {**p, "schema": _param_schema(p["name"], p["in"], p.get("schema") or {}, target.namespaces)}
                for p in op.get("parameters", [])
                if p["name"] not in WATCH_PARAMS
            ]
            content = (op.get("requestBody") or {}).get("content") or {}
            if "*/*" in content:
                # the server decodes JSON and YAML (and 415s the rest, which schemathesis would mostly pick)
                anything = content.pop("*/*")
                content.update({"application/json": anything, "application/yaml": copy.deepcopy(anything)})
            if strategic and method == "patch" and "application/merge-patch+json" in content:
                content[STRATEGIC] = copy.deepcopy(content["application/merge-patch+json"])
            if method == "patch":
                # apply patches need one; the other patch types take it as well
                for param in op["parameters"]:
                    param["required"] = bool(param.get("required")) or param["name"] == "fieldManager"
            operations[method] = op
        if operations:
            operations["parameters"] = [
                {**p, "schema": _param_schema(p["name"], p["in"], p.get("schema") or {}, target.namespaces)}
                for p in item.get("parameters", [])
            ]
            paths[path] = operations
    doc["paths"] = paths
    return doc


# --------------------------------------------------------------------------------------------------
# Generating and sending
# --------------------------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request and what came of it: a status, or "hang"/"dropped" with the error."""

    operation: str
    method: str
    url: str
    content_type: str
    body: str
    status: int | None = None
    response: str = ""
    error: str = ""

    @property
    def kind(self) -> str:
        if self.status is None:
            return "hang" if self.error.startswith("timeout") else "dropped"
        return "5xx" if self.status >= 500 else ""

    def signature(self) -> tuple[str, str, str, str]:
        """Distinct failures: by kind, operation, content type and the server's message without names."""
        message = self.error or self.response
        with contextlib.suppress(ValueError, AttributeError):
            message = str(json.loads(self.response).get("message", message))
        message = re.sub(r"\d+", "N", message)[:120]
        media = self.content_type.split(";")[0]
        return (self.kind, self.operation, media, message)

    def reproduction(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "operation": self.operation,
            "method": self.method,
            "url": self.url,
            "content_type": self.content_type,
            "body": self.body[:2000],
            "status": self.status,
            "response": (self.response or self.error)[:500],
        }


@dataclass
class Report:
    target: str
    requests: int = 0
    seconds: float = 0.0
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[Exchange] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        kinds = collections.Counter(f.kind for f in self.failures)
        return {"5xx": kinds["5xx"], "hangs": kinds["hang"], "dropped": kinds["dropped"]}

    def distinct(self) -> dict[tuple[str, str, str, str], list[Exchange]]:
        groups: dict[tuple[str, str, str, str], list[Exchange]] = {}
        for failure in self.failures:
            groups.setdefault(failure.signature(), []).append(failure)
        return groups

    def figures(self, server_log: str = "") -> dict[str, Any]:
        tracebacks = server_tracebacks(server_log)
        distinct = []
        for failures in self.distinct().values():
            first = failures[0]
            entry = {**first.reproduction(), "count": len(failures)}
            path = urllib.parse.unquote(urllib.parse.urlsplit(first.url).path)
            for line, text in tracebacks:
                if f"method={first.method} path={path[:60]}" in text or (
                    first.kind == "dropped" and "path=" not in line
                ):
                    entry["traceback"] = text[-3000:]
                    break
            distinct.append(entry)
        return {
            "target": self.target,
            "requests": self.requests,
            "seconds": round(self.seconds, 1),
            "statuses": dict(sorted(self.statuses.items())),
            **self.counts,
            "failures": distinct,
        }

    def describe(self, server_log: str = "") -> str:
        """For an assertion message: counts, then each distinct failure with a reproduction and traceback."""
        figures = self.figures(server_log)
        lines = [
            f"{self.target}: {self.requests} requests, {figures['5xx']} 5xx, {figures['hangs']} hangs, "
            f"{figures['dropped']} dropped; {len(figures['failures'])} distinct:"
        ]
        for entry in figures["failures"]:
            lines.append(
                f"- {entry['kind']} x{entry['count']} {entry['method']} {entry['url']}\n"
                f"  Content-Type: {entry['content_type']}\n  body: {entry['body'][:600]}\n"
                f"  -> {entry['status']} {entry['response'][:300]}"
            )
            if "traceback" in entry:
                lines.append("  " + entry["traceback"][-1500:].replace("\n", "\n  "))
        return "\n".join(lines)


_RECORD = re.compile(r"^\d\d:\d\d:\d\d [A-Z] ", re.MULTILINE)


def server_tracebacks(log: str) -> list[tuple[str, str]]:
    """(first line, whole record) of each record of the server's text log with a traceback."""
    starts = [m.start() for m in _RECORD.finditer(log)] + [len(log)]
    records = (log[a:b] for a, b in itertools.pairwise(starts))
    return [(r.split("\n", 1)[0], r.strip()) for r in records if "Traceback (most recent call last)" in r]


def _timed_out(exc: BaseException) -> bool:
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        error = stack.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, requests.Timeout | socket.timeout | TimeoutError) or "timed out" in str(error).lower():
            return True
        stack.extend(e for e in (error.__cause__, error.__context__) if e is not None)
        stack.extend(a for a in error.args if isinstance(a, BaseException))
    return False


_POINTER_ESCAPES = str.maketrans({"~": "~0", "/": "~1"})
#: seeds of kinds without one of their own in the target, by components.schemas name
_DEFAULT_SEEDS: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions": {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Background",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"},
    },
    "io.k8s.api.autoscaling.v1.Scale": {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": NAMES[0]},
        "spec": {"replicas": 2},
    },
    "io.k8s.api.authentication.v1.TokenRequest": {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": ["fuzz"], "expirationSeconds": 3600},
    },
}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every value inside `value` (itself too), apiVersion and kind left alone."""
    if path[:1] in (("apiVersion",), ("kind",)):
        return []
    found = [path]
    if isinstance(value, dict):
        for key, sub in value.items():
            found += _leaves(sub, (*path, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += _leaves(sub, (*path, index))
    return found


def _pointer(path: tuple[Any, ...]) -> str:
    return "".join("/" + str(part).translate(_POINTER_ESCAPES) for part in path)


def _values() -> Any:
    """A strategy of JSON values, odd ones often: what a changed field of a seed becomes."""
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**64),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(["", "0", "-1", "1.5", "true", "null", "a" * 300, "1Gi", "2024-01-01T00:00:00Z", "ünï"]),
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    )


def _from_seed(seed: dict[str, Any], *, name: str, json_patch: bool, rnd: Any, draw: Callable[[], Any]) -> Any:
    """The seed object (named `name`) with a few random changes, or a JSON patch of a few operations on it."""
    obj = copy.deepcopy(seed)
    if isinstance(obj.get("metadata"), dict):
        obj["metadata"]["name"] = name
    leaves = _leaves(obj)
    if json_patch:
        ops: list[dict[str, Any]] = []
        for _ in range(rnd.randint(1, 3)):
            op = {"op": rnd.choice(["add", "remove", "replace", "test", "move", "copy"])}
            op["path"] = _pointer(rnd.choice(leaves)) + rnd.choice(["", "", "", "/-", "/new", "/0"])
            if op["op"] in ("add", "replace", "test"):
                op["value"] = draw()
            if op["op"] in ("move", "copy"):
                op["from"] = _pointer(rnd.choice(leaves))
            ops.append(op)
        return ops
    for _ in range(rnd.choice([0, 1, 1, 1, 2, 3])):
        path = rnd.choice(_leaves(obj))
        if not path:
            continue
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        if rnd.random() < 0.3:
            parent.pop(path[-1]) if isinstance(parent, list) else parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw()
    return obj


@dataclass
class _Operation:
    label: str
    operation: Any  # schemathesis APIOperation
    #: valid objects of the kinds its body may be
    seeds: tuple[dict[str, Any], ...]
    strategies: dict[str, Any] = field(default_factory=dict)


def _kind_seeds(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A minimal object of every kind the document describes: type metadata and a name."""
    seeds: dict[str, dict[str, Any]] = {}
    for key, schema in doc["components"]["schemas"].items():
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        props = schema.get("properties") or {}
        if len(gvks) == 1 and "metadata" in props and "kind" in props and not key.endswith("List"):
            gvk = gvks[0]
            seeds[key] = {
                "apiVersion": f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"],
                "kind": gvk["kind"],
                "metadata": {"name": NAMES[0], "labels": {"app": "fuzz"}},
            }
    return seeds


def _operations(client: Client, target: Target) -> list[_Operation]:
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.core.result import Err

    found: list[_Operation] = []
    with client.session() as session:
        for name in target.documents:
            response = session.get(f"{client.server}/openapi/v3/{name}", timeout=30)
            response.raise_for_status()
            strategic = name.startswith("api/") or ".k8s.io/" in name or "." not in name
            doc = narrow(response.json(), target, strategic=strategic)
            seeds = {**_kind_seeds(doc), **_DEFAULT_SEEDS}
            # an explicit config: never one discovered from the working directory
            schema = schemathesis.openapi.from_dict(doc, config=SchemathesisConfig())
            for result in schema.get_all_operations():
                if isinstance(result, Err):
                    raise RuntimeError(f"/openapi/v3/{name}: schemathesis cannot use an operation: {result.err()}")
                operation = result.ok()
                raw = doc["paths"][operation.path][operation.method.lower()]
                refs = {
                    media["schema"].get("$ref", "").rsplit("/", 1)[-1]
                    for media in ((raw.get("requestBody") or {}).get("content") or {}).values()
                }
                own = [obj for key, obj in target.seeds.items() if key.split("#")[0] in refs]
                generic = [seeds[ref] for ref in sorted(refs) if ref in seeds]
                label = f"{operation.method.upper()} {operation.path}"
                found.append(_Operation(label, operation, tuple(own or generic)))
    found.sort(key=lambda o: o.label)
    return found


@contextlib.contextmanager
def _without_local_constants() -> Iterator[None]:
    """Keep hypothesis from mixing in constants found in the source of the modules this process imported.

    Those depend on what ran before (a test alone, or the whole suite) and on every edit of the tree, so a
    seed would not give the same requests twice. Private hypothesis API: if it moves, generation goes on
    with the constants.
    """
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if original is None or not isinstance(cache, dict):
        yield
        return
    empty = Constants()
    providers._get_local_constants = lambda: empty
    cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


def _weight(label: str) -> int:
    method, path = label.split(" ", 1)
    if method == "DELETE":
        return 2 if path.endswith("}") else 1
    return {"POST": 4, "PUT": 3, "PATCH": 3}.get(method, 2)


def _strategy(op: _Operation, mode: str, media_type: str = "") -> Any:
    """schemathesis' cases of an operation: positive, negative, or "seeded" (a placeholder body of `media_type`)."""
    from schemathesis import GenerationMode

    key = f"{mode} {media_type}"
    if key not in op.strategies:
        if mode == "seeded":
            # the body comes from a seed: generating one of a large schema only to drop it costs most of the time
            strategy = op.operation.as_strategy(body={}, media_type=media_type)
        else:
            generation = GenerationMode.NEGATIVE if mode == "negative" else GenerationMode.POSITIVE
            strategy = op.operation.as_strategy(generation_mode=generation)
        op.strategies[key] = strategy
    return op.strategies[key]


def run(
    client: Client,
    target: Target,
    *,
    requests_: int,
    seed: int | None = None,
    timeout: float = 30.0,
    progress: Callable[[Report, Exchange], None] | None = None,
) -> Report:
    """Send `requests_` generated requests to the target; deterministic for a seed (None: derandomized)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    operations = _operations(client, target)
    # writes more often than reads, so that objects exist to read, change and delete; deletecollection seldom
    weighted = [op for op in operations for _ in range(_weight(op.label))]
    values = _values()
    report = Report(target=target.name)
    sessions: list[requests.Session] = [client.session()]
    started = time.monotonic()

    def send(op: _Operation, case: Any, data: Any, rnd: Any, seeded: bool) -> None:
        if case.method.upper() != "GET":
            # negative cases break path parameters too: only reads may leave the fuzzer's namespaces and names
            allowed = {"namespace": target.namespaces, "name": NAMES}
            for key, value in (case.path_parameters or {}).items():
                if key in allowed and value not in allowed[key]:
                    case.path_parameters[key] = rnd.choice(allowed[key])
        path_name = (case.path_parameters or {}).get("name")
        metadata = case.body.get("metadata") if isinstance(case.body, dict) else None
        if isinstance(metadata, dict) and path_name and rnd.random() < 0.8:
            metadata["name"] = path_name  # mostly the object the URL names: past the first check
        if "apply-patch" not in (case.media_type or "") and "force" in (case.query or {}) and rnd.random() < 0.9:
            del case.query["force"]  # 422 unless an apply patch: keep most patches past it
        kwargs = case.as_transport_kwargs(base_url=client.server)
        kwargs.pop("method", None)
        prepared = requests.Request(case.method.upper(), **kwargs).prepare()
        body: bytes | None = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body  # type: ignore[assignment]
        content_type = str(prepared.headers.get("Content-Type", ""))
        if seeded:
            obj = _from_seed(
                rnd.choice(op.seeds),
                name=(case.path_parameters or {}).get("name") or rnd.choice(NAMES),
                json_patch="json-patch" in content_type,
                rnd=rnd,
                draw=lambda: data.draw(values, label="value"),
            )
            body = (yaml.safe_dump(obj) if "yaml" in content_type else json.dumps(obj)).encode()
        if body is not None and rnd.random() < 1 / 8:
            if rnd.random() < 0.7:
                body = body[: rnd.randrange(max(len(body), 1))]
            else:
                body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64)))
        if body is not None:
            prepared.headers.pop("Content-Length", None)
            prepared.prepare_body(data=body, files=None)
        exchange = Exchange(
            operation=op.label,
            method=prepared.method or "",
            url=prepared.url or "",
            content_type=content_type,
            body=(body or b"").decode(errors="replace"),
        )
        try:
            response = sessions[0].send(prepared, timeout=timeout, verify=client.ca, cert=client.cert)
            exchange.status = response.status_code
            exchange.response = response.text[:2000]
        except requests.RequestException as exc:
            exchange.error = f"{'timeout' if _timed_out(exc) else 'dropped'}: {exc}"
            sessions[0].close()
            sessions[0] = client.session()
        report.requests += 1
        report.statuses[str(exchange.status) if exchange.status is not None else exchange.kind] += 1
        if exchange.kind:
            report.failures.append(exchange)
        if progress is not None:
            progress(report, exchange)

    @settings(
        max_examples=requests_,
        derandomize=seed is None,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(data=st.data())
    def fuzz(data: Any) -> None:
        op = data.draw(st.sampled_from(weighted), label="operation")
        # hypothesis favours the ends of ranges; these choices want their plain probabilities
        rnd = data.draw(st.randoms(use_true_random=True), label="random")
        media_types = [body.media_type for body in op.operation.body]
        seeded = bool(op.seeds and media_types) and rnd.random() < 0.5
        if seeded:
            case = data.draw(_strategy(op, "seeded", rnd.choice(media_types)), label="case")
        else:
            case = data.draw(_strategy(op, "negative" if rnd.random() < 0.25 else "positive"), label="case")
        send(op, case, data, rnd, seeded)

    if seed is not None:
        fuzz = hypothesis_seed(seed)(fuzz)
    try:
        with _without_local_constants():
            fuzz()
    finally:
        sessions[0].close()
        report.seconds = time.monotonic() - started
    return report


# --------------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=20000, help="generated requests in all (split over targets)")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: derandomized)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds without an answer that make a hang")
    parser.add_argument("--target", choices=["embedded", "garden", "all"], default="all")
    parser.add_argument("--storage", choices=["sqlite", "etcd"], default="sqlite")
    parser.add_argument("--keep", action="store_true", help="keep the server's data directory (and log)")
    args = parser.parse_args(argv)

    from tests.helpers import ServerProcess

    workdir = Path(tempfile.mkdtemp(prefix="fuzz-"))
    extra: list[str] = []
    etcd = None
    if args.storage == "etcd":
        from tests.etcd import EtcdProcess

        etcd = EtcdProcess(data_dir=workdir / "etcd").start()
        extra = ["--storage", "etcd", "--etcd-servers", etcd.url]
    server = ServerProcess(data_dir=workdir / "apiserver", extra_args=extra).start()
    started = time.monotonic()
    reports: list[Report] = []
    try:
        client = Client.from_kubeconfig(server.kubeconfig, workdir / "client")
        names = ["embedded", "garden"] if args.target == "all" else [args.target]
        prepare = {"embedded": prepare_embedded, "garden": prepare_garden}
        targets = [prepare[name](client) for name in names]
        for target in targets:

            def tick(report: Report, _: Exchange) -> None:
                if report.requests % 500 == 0:
                    print(f"{report.target}: {report.requests} requests, {report.counts}", file=sys.stderr)

            reports.append(
                run(
                    client,
                    target,
                    requests_=args.requests // len(targets),
                    seed=args.seed,
                    timeout=args.timeout,
                    progress=tick,
                )
            )
        alive = server.proc is not None and server.proc.poll() is None
    finally:
        server.stop()
        if etcd is not None:
            etcd.stop()
    log = (server.data_dir / "apiserver.log").read_text(errors="replace")
    figures = [report.figures(log) for report in reports]
    statuses: collections.Counter[str] = collections.Counter()
    for report in reports:
        statuses.update(report.statuses)
    line = {
        "requests": sum(r.requests for r in reports),
        "seconds": round(time.monotonic() - started, 1),
        "seed": args.seed,
        "statuses": dict(sorted(statuses.items())),
        "5xx": sum(f["5xx"] for f in figures),
        "hangs": sum(f["hangs"] for f in figures),
        "dropped": sum(f["dropped"] for f in figures),
        "server_survived": alive,
        "failures": [entry for f in figures for entry in f["failures"]],
        "targets": {
            f["target"]: {k: f[k] for k in ("requests", "seconds", "5xx", "hangs", "dropped")} for f in figures
        },
    }
    if args.keep:
        line["data_dir"] = str(workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(line))
    return 0 if not (line["5xx"] or line["hangs"] or line["dropped"]) and alive else 1


if __name__ == "__main__":
    sys.exit(main())
