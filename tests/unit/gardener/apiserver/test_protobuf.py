"""Unit tests for gardener.apiserver.protobuf: Kubernetes protobuf request bodies decoded to JSON-shaped dicts.

The fixtures in fixtures/protobuf/ are real request bodies captured from kubectl 1.37 against a recording HTTP
server (discovery only, every POST/PUT body saved). For each `<name>.bin` with a `<name>.json` beside it, the JSON
is kubectl's own rendering of the very same object (`<same command> --dry-run=client -o json`, with the `null`s
Go writes for zero times and nil non-omitempty slices removed), so those tests compare the decoder against
apimachinery's JSON encoding rather than against expectations written by hand. Commands without a client-side
dry run (create token, auth can-i/whoami, certificate approve) have their expectations below.

`job_from_rich_cronjob` is `kubectl create job jr --from=cronjob/rich`: kubectl GETs a CronJob (served as JSON
with nearly every PodSpec field set) and re-encodes its template as protobuf, which exercises volumes, probes,
security contexts, affinity, negative and 64-bit integers, pointer zeros, ownerReferences and managedFields.

The last test repeats the capture live with whatever kubectl is installed, to catch drift when it is upgraded.
"""

from __future__ import annotations

import http.server
import json
import os
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from gardener.apiserver.protobuf import SUPPORTED_KINDS, ProtobufError, decode_k8s_protobuf

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "protobuf"
ORACLE_FIXTURES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.bin").read_bytes()


# --- a minimal protobuf encoder for hand-built bodies --------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vfield(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def lfield(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes, *, encoding: str = "", content_type: str = "") -> bytes:
    body = lfield(1, lfield(1, api_version) + lfield(2, kind)) + lfield(2, raw)
    if encoding:
        body += lfield(3, encoding)
    if content_type:
        body += lfield(4, content_type)
    return b"k8s\x00" + body


def meta(name: str, *extra: bytes) -> bytes:
    return lfield(1, lfield(1, name) + b"".join(extra))


# --- real kubectl bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ORACLE_FIXTURES)
def test_matches_kubectls_json_for_the_same_object(name: str) -> None:
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    assert decode_k8s_protobuf(fixture(name)) == expected


def test_fixture_set_covers_the_typed_kubectl_commands() -> None:
    assert {
        "namespace",
        "configmap",
        "secret_generic",
        "serviceaccount",
        "role",
        "rolebinding",
        "clusterrole",
        "clusterrolebinding",
        "deployment",
        "job",
    } <= set(ORACLE_FIXTURES)


def test_create_namespace() -> None:
    assert decode_k8s_protobuf(fixture("namespace")) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "x"},
        "spec": {},
        "status": {},
    }


def test_secret_and_configmap_bytes_are_base64() -> None:
    secret = decode_k8s_protobuf(fixture("secret_generic"))
    assert secret["data"] == {"user": "YWRtaW4=", "pw": "czNjcjN0", "empty": ""}
    binary = decode_k8s_protobuf(fixture("configmap_binary"))
    assert binary["binaryData"] == {"bin": "AAEC//5CSU4="}
    assert binary["data"] == {"text": "hello"}


def test_deployment_keeps_pointer_zero_and_drops_omitempty_zero() -> None:
    zero = decode_k8s_protobuf(fixture("deployment_zero_replicas"))
    assert zero["spec"]["replicas"] == 0
    assert "minReadySeconds" not in zero["spec"] and "paused" not in zero["spec"]
    deployment = decode_k8s_protobuf(fixture("deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container == {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}], "resources": {}}


def test_create_token() -> None:
    assert decode_k8s_protobuf(fixture("token")) == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {},
        "spec": {
            "audiences": ["aud1", "aud2"],
            "expirationSeconds": 3600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p1", "uid": "1234"},
        },
        "status": {"token": ""},
    }


def test_auth_can_i() -> None:
    assert decode_k8s_protobuf(fixture("auth_can_i")) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "metadata": {},
        "spec": {
            "resourceAttributes": {
                "namespace": "kube-system",
                "verb": "create",
                "resource": "pods",
                "subresource": "exec",
            }
        },
        "status": {"allowed": False},
    }
    nonresource = decode_k8s_protobuf(fixture("auth_can_i_nonresource"))
    assert nonresource["spec"] == {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}
    assert decode_k8s_protobuf(fixture("auth_can_i_list")) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "metadata": {},
        "spec": {"namespace": "default"},
        "status": {"incomplete": False},
    }


def test_auth_whoami() -> None:
    assert decode_k8s_protobuf(fixture("auth_whoami")) == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
        "metadata": {},
        "status": {"userInfo": {}},
    }


def test_certificate_approve_puts_the_whole_csr() -> None:
    csr = decode_k8s_protobuf(fixture("certificate_approve"))
    assert csr["metadata"] == {"name": "csr1", "uid": "u2", "resourceVersion": "7"}
    assert csr["spec"] == {
        "request": "aGVsbG8=",
        "signerName": "kubernetes.io/kube-apiserver-client",
        "usages": ["client auth"],
        "username": "bob",
        "groups": ["g1"],
    }
    [condition] = csr["status"]["conditions"]
    assert condition["type"] == "Approved" and condition["status"] == "True"
    assert condition["reason"] == "KubectlApprove"
    assert condition["lastUpdateTime"].endswith("Z") and "lastTransitionTime" not in condition  # zero Time


def test_rich_pod_template_details() -> None:
    job = decode_k8s_protobuf(fixture("job_from_rich_cronjob"))
    assert job["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "CronJob", "name": "rich", "uid": "cj-uid-1", "controller": True}
    ]
    assert job["spec"]["activeDeadlineSeconds"] == 9999999999
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["suspend"] is False
    template = job["spec"]["template"]
    assert template["metadata"]["creationTimestamp"] == "2024-05-06T07:08:09Z"
    assert template["metadata"]["managedFields"][0]["fieldsV1"] == {"f:metadata": {"f:labels": {".": {}, "f:a": {}}}}
    spec = template["spec"]
    assert spec["priority"] == -5
    assert spec["terminationGracePeriodSeconds"] == 0
    assert spec["securityContext"]["supplementalGroups"] == [1, 2, 3]
    assert spec["volumes"][0] == {"name": "v-empty", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
    assert spec["volumes"][3]["configMap"] == {
        "name": "cm1",
        "items": [{"key": "a", "path": "a.txt"}],
        "optional": True,
    }
    main = spec["containers"][0]
    assert main["livenessProbe"]["httpGet"]["port"] == "http"
    assert main["readinessProbe"] == {"tcpSocket": {"port": 8080}}
    assert main["env"][1] == {"name": "EMPTY"}
    assert main["env"][4]["valueFrom"] == {"configMapKeyRef": {"name": "cm1", "key": "a", "optional": True}}


# --- hand-built bodies: semantics --------------------------------------------------------------


def test_unknown_fields_are_skipped() -> None:
    plain = envelope("v1", "ConfigMap", meta("cm") + lfield(2, lfield(1, "k") + lfield(2, "v")))
    noisy = envelope(
        "v1",
        "ConfigMap",
        meta("cm", vfield(99, 7), lfield(98, "x"))
        + vfield(200, 1)
        + lfield(2, lfield(1, "k") + lfield(2, "v") + lfield(9, "z"))
        + varint(77 << 3 | 1)
        + b"\x00" * 8
        + varint(76 << 3 | 5)
        + b"\x00" * 4,
    )
    assert decode_k8s_protobuf(noisy) == decode_k8s_protobuf(plain)
    assert decode_k8s_protobuf(plain) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm"},
        "data": {"k": "v"},
    }


def pod_security_context(groups: bytes) -> Any:
    spec = lfield(14, groups)  # PodSpec.securityContext
    return decode_k8s_protobuf(envelope("v1", "Pod", meta("p") + lfield(2, spec)))["spec"]["securityContext"]


def test_repeated_scalars_packed_or_not() -> None:
    unpacked = vfield(4, 1) + vfield(4, 2) + vfield(4, 1 << 40)
    packed = lfield(4, varint(1) + varint(2) + varint(1 << 40))
    assert pod_security_context(unpacked) == {"supplementalGroups": [1, 2, 1 << 40]}
    assert pod_security_context(packed) == {"supplementalGroups": [1, 2, 1 << 40]}


def test_negative_integers() -> None:
    spec = vfield(25, -7) + vfield(4, -1)  # PodSpec.priority (int32), terminationGracePeriodSeconds (int64)
    pod = decode_k8s_protobuf(envelope("v1", "Pod", lfield(2, spec)))
    assert pod["spec"] == {"priority": -7, "terminationGracePeriodSeconds": -1}


def test_int_or_string_and_quantity() -> None:
    int_port = lfield(1, vfield(3, 80) + lfield(4, vfield(1, 0) + vfield(2, 8080)))
    named_port = lfield(1, vfield(3, 443) + lfield(4, vfield(1, 1) + lfield(3, "https")))
    service = decode_k8s_protobuf(envelope("v1", "Service", lfield(2, int_port + named_port)))
    assert service["spec"]["ports"] == [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": "https"}]
    hard = lfield(1, lfield(1, "cpu") + lfield(2, lfield(1, "500m"))) + lfield(1, lfield(1, "pods") + lfield(2, b""))
    quota = decode_k8s_protobuf(envelope("v1", "ResourceQuota", lfield(2, hard)))
    assert quota["spec"] == {"hard": {"cpu": "500m", "pods": "0"}}


def test_times() -> None:
    def created(timestamp: bytes) -> Any:
        body = envelope("v1", "Namespace", lfield(1, lfield(8, timestamp)))
        return decode_k8s_protobuf(body)["metadata"]

    assert created(vfield(1, 1714979289) + vfield(2, 5)) == {"creationTimestamp": "2024-05-06T07:08:09Z"}
    assert created(b"") == {}  # zero time.Time: JSON null
    assert created(vfield(1, -62135596800)) == {}
    with pytest.raises(ProtobufError):
        created(vfield(1, 1) + vfield(2, 2_000_000_000))
    with pytest.raises(ProtobufError):
        created(vfield(1, 1 << 50))


def test_map_entry_without_value_and_message_merge() -> None:
    cm = envelope("v1", "ConfigMap", lfield(1, lfield(1, "a")) + lfield(1, lfield(3, "ns")) + lfield(2, lfield(1, "k")))
    assert decode_k8s_protobuf(cm) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "ns"},
        "data": {"k": ""},
    }


def test_inline_structs_merge_into_their_parent() -> None:
    key_ref = lfield(1, lfield(1, "cm")) + lfield(2, "key")  # ConfigMapKeySelector{LocalObjectReference, key}
    env = lfield(1, "E") + lfield(3, lfield(3, key_ref))
    container = lfield(1, "c") + lfield(7, env)
    volume = lfield(1, "v") + lfield(2, lfield(2, b""))  # Volume{name, VolumeSource{emptyDir: {}}}
    pod = decode_k8s_protobuf(envelope("v1", "Pod", lfield(2, lfield(2, container) + lfield(1, volume))))
    assert pod["spec"] == {
        "containers": [
            {"name": "c", "env": [{"name": "E", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "key"}}}]}
        ],
        "volumes": [{"name": "v", "emptyDir": {}}],
    }


def test_strings_keep_invalid_utf8_like_go() -> None:
    body = envelope("v1", "Namespace", meta("x", lfield(11, lfield(1, "k") + lfield(2, b"\xff"))))
    assert decode_k8s_protobuf(body)["metadata"]["labels"] == {"k": "\ufffd"}


def test_raw_extension_must_be_json() -> None:
    entry = lfield(7, lfield(1, b"{not json"))  # ManagedFieldsEntry.fieldsV1
    with pytest.raises(ProtobufError, match="neither JSON"):
        decode_k8s_protobuf(envelope("v1", "Namespace", lfield(1, lfield(17, entry))))


def test_delete_options() -> None:
    options = vfield(1, 0) + lfield(2, lfield(1, "uid-1")) + lfield(4, "Foreground") + lfield(5, "All")
    assert decode_k8s_protobuf(envelope("meta.k8s.io/v1", "DeleteOptions", options)) == {
        "apiVersion": "meta.k8s.io/v1",
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "uid-1"},
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }


def test_supported_kinds() -> None:
    assert {
        ("v1", "Namespace"),
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "ServiceAccount"),
        ("v1", "Pod"),
        ("authentication.k8s.io/v1", "TokenRequest"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("apps/v1", "Deployment"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
    } <= SUPPORTED_KINDS


# --- hand-built bodies: errors -----------------------------------------------------------------


def test_unknown_kind_is_415() -> None:
    with pytest.raises(ProtobufError, match=r"example\.com/v1, Kind=Widget") as caught:
        decode_k8s_protobuf(envelope("example.com/v1", "Widget", b""))
    assert caught.value.code == 415


def test_unsupported_envelope_encoding_is_415() -> None:
    with pytest.raises(ProtobufError) as caught:
        decode_k8s_protobuf(envelope("v1", "Namespace", b"", encoding="gzip"))
    assert caught.value.code == 415
    with pytest.raises(ProtobufError) as caught:
        decode_k8s_protobuf(envelope("v1", "Namespace", b"", content_type="application/json"))
    assert caught.value.code == 415
    plain = envelope("v1", "Namespace", b"", content_type="application/vnd.kubernetes.protobuf")
    assert decode_k8s_protobuf(plain) == {"apiVersion": "v1", "kind": "Namespace"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "magic prefix"),
        (b'{"kind": "Namespace"}', "magic prefix"),
        (b"k8s\x01" + lfield(2, b""), "magic prefix"),
        (b"k8s\x00", "no apiVersion/kind"),
        (b"k8s\x00" + lfield(2, meta("x")), "no apiVersion/kind"),
        (b"k8s\x00\x0a\x05ab", "truncated"),
        (b"k8s\x00\x0a", "truncated"),
        (b"k8s\x00" + b"\x80" * 11, "varint"),
        (b"k8s\x00\x0b", "wire type 3"),
        (b"k8s\x00\x00\x00", "field number 0"),
        (envelope("v1", "Namespace", vfield(1, 5)), "expected length-delimited"),
        (envelope("v1", "Namespace", lfield(1, lfield(7, "x"))), "expected varint"),
        (envelope("v1", "Namespace", lfield(1, b"\x0a\x09abc")), "truncated"),
        (envelope("v1", "Namespace", varint(9 << 3 | 5) + b"\x00\x00"), "runs past the end"),
    ],
)
def test_malformed_bodies_are_400(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message) as caught:
        decode_k8s_protobuf(body)
    assert caught.value.code == 400


def test_truncations_and_mutations_only_ever_raise_protobuf_error() -> None:
    rng = random.Random(1337)
    bodies = [fixture(name) for name in ("deployment", "job_from_rich_cronjob", "certificate_approve", "token")]
    candidates: list[bytes] = []
    for body in bodies:
        candidates.extend(body[:cut] for cut in range(len(body)))
        for _ in range(400):
            mutated = bytearray(body)
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(4, len(mutated))] = rng.randrange(256)
            candidates.append(bytes(mutated))
    for candidate in candidates:
        try:
            result = decode_k8s_protobuf(candidate)
        except ProtobufError:
            continue
        assert isinstance(result, dict) and "kind" in result
        json.dumps(result)  # whatever comes out is plain JSON


def test_deep_nesting_is_refused() -> None:
    raw = b""
    for _ in range(80):  # RawExtension holding an envelope holding ... (ManagedFieldsEntry.fieldsV1)
        inner = envelope("v1", "Namespace", lfield(1, lfield(17, lfield(7, lfield(1, raw))))) if raw else b"{}"
        raw = inner
    with pytest.raises(ProtobufError, match="nested too deeply"):
        decode_k8s_protobuf(raw)


# --- live: the installed kubectl against a recording server ------------------------------------


def _kubectl() -> str | None:
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.is_file() else shutil.which("kubectl")


def _resource(name: str, kind: str, *, namespaced: bool = True) -> dict[str, Any]:
    verbs = ["create", "get", "list"]
    return {"name": name, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": verbs}


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Minimal discovery; every POST body is decoded and echoed back as JSON (201) and recorded."""

    GROUPS: ClassVar[dict[str, list[dict[str, Any]]]] = {
        "v1": [
            _resource("namespaces", "Namespace", namespaced=False),
            _resource("configmaps", "ConfigMap"),
            _resource("secrets", "Secret"),
            _resource("serviceaccounts", "ServiceAccount"),
            _resource("pods", "Pod"),
            {
                "name": "serviceaccounts/token",
                "singularName": "",
                "namespaced": True,
                "group": "authentication.k8s.io",
                "version": "v1",
                "kind": "TokenRequest",
                "verbs": ["create"],
            },
        ],
        "apps/v1": [_resource("deployments", "Deployment")],
        "batch/v1": [_resource("jobs", "Job"), _resource("cronjobs", "CronJob")],
        "rbac.authorization.k8s.io/v1": [
            _resource("roles", "Role"),
            _resource("rolebindings", "RoleBinding"),
            _resource("clusterroles", "ClusterRole", namespaced=False),
        ],
    }
    bodies: ClassVar[list[tuple[str, bytes]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, document: Any) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/api":
            self._json(200, {"kind": "APIVersions", "versions": ["v1"]})
        elif path == "/apis":
            groups = []
            for group_version in self.GROUPS:
                if "/" in group_version:
                    version = {"groupVersion": group_version, "version": group_version.split("/")[1]}
                    groups.append(
                        {"name": group_version.split("/")[0], "versions": [version], "preferredVersion": version}
                    )
            self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        elif path == "/api/v1" or path.removeprefix("/apis/") in self.GROUPS:
            group_version = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
            resources = self.GROUPS[group_version]
            self._json(200, {"kind": "APIResourceList", "groupVersion": group_version, "resources": resources})
        else:
            self._json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.bodies.append((self.headers.get("Content-Type", ""), body))
        try:
            created = decode_k8s_protobuf(body)
        except ProtobufError as exc:
            self._json(exc.code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": str(exc)})
            return
        if created["kind"] == "TokenRequest":
            created["status"] = {"token": "issued", "expirationTimestamp": "2030-01-01T00:00:00Z"}
        self._json(201, created)  # a JSON answer to a protobuf request, as our server gives


@pytest.fixture
def recording_server() -> Iterator[str]:
    _RecordingHandler.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RecordingHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


LIVE_COMMANDS = [
    ["create", "namespace", "live"],
    ["create", "configmap", "cm", "--from-literal=a=b"],
    ["create", "secret", "generic", "s", "--from-literal=k=v"],
    ["create", "serviceaccount", "sa"],
    ["create", "role", "r", "--verb=get", "--resource=pods"],
    ["create", "rolebinding", "rb", "--role=r", "--user=u"],
    ["create", "clusterrole", "cr", "--verb=get", "--non-resource-url=/x"],
    ["create", "deployment", "d", "--image=nginx", "--replicas=2", "--port=80"],
    ["create", "job", "j", "--image=busybox", "--", "true"],
    ["create", "cronjob", "cj", "--image=busybox", "--schedule=* * * * *"],
]


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strip_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_strip_nulls(item) for item in value]
    return value


@pytest.mark.skipif(_kubectl() is None, reason="kubectl not installed")
def test_live_kubectl_bodies_decode_to_its_json(recording_server: str, tmp_path: Path) -> None:
    kubectl = _kubectl()
    assert kubectl is not None
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": recording_server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "default"}}],
                "current-context": "c",
            }
        )
    )
    base = [kubectl, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache")]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}

    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(base + args, capture_output=True, text=True, timeout=60, env=env, check=False)

    for args in LIVE_COMMANDS:
        before = len(_RecordingHandler.bodies)
        result = run(args)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        [(content_type, body)] = _RecordingHandler.bodies[before:]
        assert content_type == "application/vnd.kubernetes.protobuf", args
        split = args.index("--") if "--" in args else len(args)
        dry = run([*args[:split], "--dry-run=client", "-o", "json", *args[split:]])
        assert dry.returncode == 0, dry.stderr
        assert decode_k8s_protobuf(body) == _strip_nulls(json.loads(dry.stdout)), args

    result = run(["create", "token", "sa", "--audience=a", "--duration=10m"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "issued"
    token = decode_k8s_protobuf(_RecordingHandler.bodies[-1][1])
    assert token["kind"] == "TokenRequest" and token["spec"] == {"audiences": ["a"], "expirationSeconds": 600}
