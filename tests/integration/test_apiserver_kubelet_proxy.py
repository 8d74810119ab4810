"""The API server reaches kubelets: pods/log, exec and nodes/proxy relayed, graceful pod deletion, kubelet CSRs.

A stand-in kubelet (an aiohttp HTTPS server on a thread of this process, its serving certificate signed by the API
server's CA, client certificates verified against that CA) answers `/containerLogs` with the query it got, `/exec`
with a v5 channel session over a WebSocket (or an echo after `101` for `Upgrade: SPDY/3.1`) and anything else with
`ok`. A Node points at it; the real kubectl drives the rest. It is a test peer: the server under test is the real
process.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gardener.runtime.pki import KeyPair, issue_serving_cert
from tests.helpers import KUBECTL, ServerProcess, eventually, kubectl, kubectl_get, module_server

ONE_BACKEND = True
NS = "kubelet-proxy"
V5 = "v5.channel.k8s.io"
KUBELET_CLIENT = "system:kube-apiserver:kubelet"

server = module_server("kubelet-proxy")


class _Echo:
    """The bytes after the stand-in's `101` (the parser interface aiohttp's connection feeds)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.transport.write(data)
        return False, b""

    def feed_eof(self) -> None:
        self.transport.close()


@dataclass
class StandInKubelet:
    ca: KeyPair
    workdir: Path
    port: int = 0
    #: the same app over plain HTTP, standing in for a pod's server
    pod_port: int = 0
    #: (path, raw query, client certificate's common name) of every request
    seen: list[tuple[str, str, str]] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)
    #: set by the test once it saw the first line of a followed log
    follow_gate: threading.Event = field(default_factory=threading.Event)

    def _record(self, request: web.Request) -> None:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        names = [value for rdn in (peer or {}).get("subject", ()) for key, value in rdn if key == "commonName"]
        self.seen.append((request.path, request.rel_url.raw_query_string, names[0] if names else ""))

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        out = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await out.prepare(request)
        await out.write(f"query={request.rel_url.raw_query_string}\nfirst\n".encode())
        if request.query.get("follow") == "true":
            # the test opens the gate once it has seen "first": a relay that buffers gets "timed out" instead
            opened = await asyncio.get_running_loop().run_in_executor(None, self.follow_gate.wait, 20)
            await out.write(b"second\n" if opened else b"timed out\n")
        await out.write_eof()
        return out

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        if request.headers.get("Upgrade", "").lower() == "spdy/3.1":
            headers = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io"}
            out = web.StreamResponse(status=101, headers=headers)
            assert request.transport is not None
            request.protocol.set_parser(_Echo(request.transport))  # type: ignore[arg-type]
            await out.prepare(request)
            await asyncio.sleep(5)  # the client closes first
            return out
        ws = web.WebSocketResponse(protocols=(V5, "v4.channel.k8s.io"))
        await ws.prepare(request)
        self.protocols.append(ws.ws_protocol or "")
        command = request.query.getall("command", [])
        status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        if command == ["echo", "42"] and request.query.get("output") == "1":
            await ws.send_bytes(b"\x0142\n")
        elif command[:2] == ["sh", "-c"] and command[2].startswith("exit "):
            code = command[2].split()[1]
            status = {
                "metadata": {},
                "status": "Failure",
                "message": f"command terminated with non-zero exit code: exit status {code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code}]},
            }
        else:
            status = {"metadata": {}, "status": "Failure", "message": f"unexpected query {request.query_string}"}
        await ws.send_bytes(b"\x03" + json.dumps(status).encode())
        await ws.close()
        return ws

    async def _other(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(text="ok" if request.path == "/healthz" else f"path={request.path}")

    @contextmanager
    def serve(self) -> Iterator[StandInKubelet]:
        pair = issue_serving_cert(self.ca, common_name="system:node:n1", dns_names=["n1"], ip_addresses=["127.0.0.1"])
        (self.workdir / "tls.crt").write_bytes(pair.cert_pem)
        (self.workdir / "tls.key").write_bytes(pair.key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=self.ca.cert_pem.decode())
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(self.workdir / "tls.crt", self.workdir / "tls.key")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="stand-in-kubelet", daemon=True)
        thread.start()
        app = web.Application()
        # no keep-alive: the API server's pooled connections would outlive this server's event loop
        app.on_response_prepare.append(_no_keepalive)
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self._logs)
        app.router.add_route("*", "/exec/{ns}/{pod}/{container}", self._exec)
        app.router.add_route("*", "/{tail:.*}", self._other)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)

        async def start() -> None:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
            plain = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            await plain.start()
            assert site._server is not None and plain._server is not None
            self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
            self.pod_port = int(plain._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

        try:
            asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
            yield self
        finally:
            self.follow_gate.set()
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()


async def _no_keepalive(request: web.Request, response: web.StreamResponse) -> None:
    response.force_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def k(server: ServerProcess, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return kubectl(*args, kubeconfig=server.kubeconfig, **kw)


def apply(server: ServerProcess, obj: dict[str, Any]) -> None:
    k(server, "apply", "-f", "-", input=json.dumps(obj))


def node_status(server: ServerProcess, name: str, port: int) -> None:
    status = {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
    }
    k(server, "patch", "node", name, "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}))


def pod(name: str, node_name: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node_name:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": spec}


@pytest.fixture(scope="module")
def kubelet(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandInKubelet]:
    pki = server.data_dir / "pki"
    ca = KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())
    stand_in = StandInKubelet(ca=ca, workdir=tmp_path_factory.mktemp("stand-in-kubelet"))
    with stand_in.serve() as running:
        objects = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            *({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}} for n in ("n1", "n2")),
            pod("web", "n1"),
            pod("lost", "n2"),
        ]
        apply(server, {"apiVersion": "v1", "kind": "List", "items": objects})
        node_status(server, "n1", running.port)
        node_status(server, "n2", closed_port())
        yield running


def test_logs_reach_the_kubelet_with_kubes_query(server: ServerProcess, kubelet: StandInKubelet) -> None:
    assert k(server, "logs", "-n", NS, "web").stdout == "query=\nfirst\n"
    out = k(server, "logs", "-n", NS, "web", "--tail=1", "--timestamps", "--since-time=2026-01-02T03:04:05.6+01:00")
    assert out.stdout.splitlines()[0] == "query=sinceTime=2026-01-02T02%3A04%3A05Z&tailLines=1&timestamps=true"
    assert {cn for path, _, cn in kubelet.seen if path.startswith("/containerLogs/")} == {KUBELET_CLIENT}
    # followed: the first line arrives while the kubelet still holds the stream open
    env_args = [KUBECTL, "--kubeconfig", str(server.kubeconfig), "logs", "-f", "-n", NS, "web"]
    with subprocess.Popen(env_args, stdout=subprocess.PIPE, text=True) as follow:
        assert follow.stdout is not None
        assert follow.stdout.readline() == "query=follow=true\n"
        assert follow.stdout.readline() == "first\n"
        kubelet.follow_gate.set()
        assert follow.stdout.read() == "second\n"
        assert follow.wait(timeout=30) == 0


def test_exec_goes_through_the_websocket_relay(server: ServerProcess, kubelet: StandInKubelet) -> None:
    done = k(server, "exec", "-n", NS, "web", "--", "echo", "42")
    assert (done.returncode, done.stdout) == (0, "42\n")
    failed = k(server, "exec", "-n", NS, "web", "--", "sh", "-c", "exit 3", check=False)
    assert failed.returncode == 3, failed.stderr
    assert kubelet.protocols == [V5, V5]
    queries = [query for path, query, _ in kubelet.seen if path == f"/exec/{NS}/web/c"]
    assert queries[0] == "command=echo&command=42&error=1&output=1"


def test_other_upgrades_are_relayed_byte_for_byte(server: ServerProcess, kubelet: StandInKubelet) -> None:
    config = yaml.safe_load(server.kubeconfig.read_text())
    user = config["users"][0]["user"]
    tmp = server.data_dir / "upgrade-client"
    tmp.mkdir(exist_ok=True)
    (tmp / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
    (tmp / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    context = ssl.create_default_context(cadata=ca)
    context.load_cert_chain(tmp / "c.crt", tmp / "c.key")
    request = (
        f"POST /api/v1/namespaces/{NS}/pods/web/exec?command=cat&stdin=true&stdout=true HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
    )
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=20) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += tls.recv(4096)
        head, _, rest = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert b"X-Stream-Protocol-Version: v4.channel.k8s.io" in head
        tls.sendall(b"\x80\x03 frames pass as they are")
        while len(rest) < 26:
            rest += tls.recv(4096)
        assert rest == b"\x80\x03 frames pass as they are"
    assert ("/exec/kubelet-proxy/web/c", "command=cat&input=1&output=1") in [(p, q) for p, q, _ in kubelet.seen]


def test_nodes_proxy_and_the_kubelet_client_role(server: ServerProcess, kubelet: StandInKubelet) -> None:
    assert k(server, "get", "--raw", "/api/v1/nodes/n1/proxy/healthz").stdout == "ok"
    assert k(server, "get", "--raw", "/api/v1/nodes/n1/proxy/metrics/cadvisor").stdout == "path=/metrics/cadvisor"
    for verb in ("get", "create"):
        allowed = k(
            server, "auth", "can-i", verb, "nodes", "--subresource=proxy", "-A", "--as=" + KUBELET_CLIENT, check=False
        )
        assert allowed.stdout.strip() == "yes", allowed


def test_pod_and_service_proxies_reach_the_pod(server: ServerProcess, kubelet: StandInKubelet) -> None:
    status = {"status": {"podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}}
    k(server, "patch", "pod", "-n", NS, "web", "--subresource=status", "--type=merge", "-p", json.dumps(status))
    base = f"/api/v1/namespaces/{NS}"
    assert k(server, "get", "--raw", f"{base}/pods/web:{kubelet.pod_port}/proxy/hello").stdout == "path=/hello"
    service = {"ports": [{"port": 80, "targetPort": kubelet.pod_port}]}
    apply(
        server, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "site", "namespace": NS}, "spec": service}
    )
    address = {"ip": "127.0.0.1", "targetRef": {"kind": "Pod", "namespace": NS, "name": "web"}}
    subsets = [{"addresses": [address], "ports": [{"port": kubelet.pod_port}]}]
    apply(
        server,
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "site", "namespace": NS}, "subsets": subsets},
    )
    assert k(server, "get", "--raw", f"{base}/services/site:80/proxy/hello").stdout == "path=/hello"
    wrong = k(server, "get", "--raw", f"{base}/services/site:81/proxy/", check=False)
    assert wrong.stderr.strip() == 'Error from server (ServiceUnavailable): no service port 81 found for service "site"'


def test_an_unreachable_kubelet_is_kubes_error(server: ServerProcess, kubelet: StandInKubelet) -> None:
    port = kubectl_get("node", "n2", kubeconfig=server.kubeconfig)["status"]["daemonEndpoints"]["kubeletEndpoint"]
    refused = f"dial tcp 127.0.0.1:{port['Port']}: connect: connection refused"
    logs = k(server, "logs", "-n", NS, "lost", check=False)
    url = f"https://127.0.0.1:{port['Port']}/containerLogs/{NS}/lost/c"
    assert (logs.returncode, logs.stderr.strip()) == (1, f'Error from server: Get "{url}": {refused}')
    exec_ = k(server, "exec", "-n", NS, "lost", "--", "true", check=False)
    # kubectl falls back from the WebSocket to SPDY on the 500 and words it as against kube
    assert (exec_.returncode, exec_.stderr.strip()) == (
        1,
        f"error: unable to upgrade connection: error dialing backend: {refused}",
    )
    proxied = k(server, "get", "--raw", "/api/v1/nodes/n2/proxy/healthz", check=False)
    assert proxied.stderr.strip() == f"Error from server (ServiceUnavailable): error trying to reach service: {refused}"
    assert "Traceback" not in (server.data_dir / "apiserver.log").read_text()


def test_graceful_pod_deletion(server: ServerProcess, kubelet: StandInKubelet) -> None:
    apply(server, {"apiVersion": "v1", "kind": "List", "items": [pod("bound", "n1"), pod("unbound")]})
    k(server, "delete", "pod", "-n", NS, "bound", "--wait=false")
    first = kubectl_get("pod", "-n", NS, "bound", kubeconfig=server.kubeconfig)["metadata"]
    assert first["deletionGracePeriodSeconds"] == 30 and first["deletionTimestamp"]
    k(server, "delete", "pod", "-n", NS, "bound", "--wait=false", "--grace-period=60")  # never lengthened
    assert kubectl_get("pod", "-n", NS, "bound", kubeconfig=server.kubeconfig)["metadata"] == first
    k(server, "delete", "pod", "-n", NS, "bound", "--wait=false", "--grace-period=5")
    shorter = kubectl_get("pod", "-n", NS, "bound", kubeconfig=server.kubeconfig)["metadata"]
    assert shorter["deletionGracePeriodSeconds"] == 5 and shorter["deletionTimestamp"] < first["deletionTimestamp"]
    k(server, "delete", "pod", "-n", NS, "bound", "--grace-period=0", "--force")
    k(server, "delete", "pod", "-n", NS, "unbound", "--wait=false")
    left = k(server, "get", "pods", "-n", NS, "-o", "name").stdout.split()
    assert "pod/bound" not in left and "pod/unbound" not in left and "pod/web" in left


def _csr(name: str, ips: list[str]) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"), x509.NameAttribute(NameOID.COMMON_NAME, name)]
    )
    sans = [x509.DNSName("n1"), *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips)]
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = request.public_bytes(serialization.Encoding.PEM)
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": "kubernetes.io/kubelet-serving",
            "usages": ["digital signature", "server auth"],
        },
    }


def test_kubelet_serving_csrs_are_approved_and_signed_for_the_nodes_own_addresses(
    server: ServerProcess, kubelet: StandInKubelet
) -> None:
    # what kube's Node authorizer grants kubelets; this server authorizes them through RBAC
    k(server, "create", "clusterrolebinding", "kubelets", "--clusterrole=system:node", "--group=system:nodes")
    as_node = ("--as=system:node:n1", "--as-group=system:nodes")
    names = {}
    for case, ips in (("own", ["127.0.0.1"]), ("foreign", ["127.0.0.1", "10.9.9.9"])):
        created = k(server, "create", "-o", "name", "-f", "-", *as_node, input=json.dumps(_csr("system:node:n1", ips)))
        names[case] = created.stdout.strip()

    def decided(case: str) -> dict[str, Any]:
        csr = kubectl_get(names[case], kubeconfig=server.kubeconfig)
        conditions = {c["type"]: c for c in csr.get("status", {}).get("conditions", [])}
        assert conditions, csr
        if "Approved" in conditions:
            assert csr["status"].get("certificate")
        return {"conditions": conditions, "certificate": csr["status"].get("certificate")}

    own = eventually(lambda: decided("own"), what="the node's own CSR signed")
    assert own["conditions"]["Approved"]["reason"] == "RequestApproved"
    assert own["conditions"]["Approved"]["message"] == "Approving kubelet server certificate CSR (all checks passed)"
    cert = x509.load_pem_x509_certificate(base64.b64decode(own["certificate"]))
    assert cert.subject.rfc4514_string() == "CN=system:node:n1,O=system:nodes"
    assert x509.ExtendedKeyUsageOID.SERVER_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    foreign = eventually(lambda: decided("foreign"), what="the CSR with a foreign IP decided")
    assert set(foreign["conditions"]) == {"Denied"} and foreign["certificate"] is None
    assert foreign["conditions"]["Denied"]["message"] == (
        "Denying kubelet server certificate CSR (IP addresses in CSR do not match addresses of type 'InternalIP' or "
        "'ExternalIP' in node object)"
    )
