"""The kubelet API (`KubeletServer`) against a real API server: its serving certificate comes through a
kubelet-serving CSR, callers are authenticated by client certificate or TokenReview and authorized by
SubjectAccessReview under RBAC, and the pods it serves are real host processes run by the node agent's
`ContainerRunner` (a container that crashed once, so it has a previous log; one whose image the node cannot run).
Clients are aiohttp over HTTPS and WebSockets, verifying the kubelet's certificate against the cluster CA.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import ssl
import stat
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
import pytest_asyncio
from cryptography import x509

from extensions.provider_local.nodeagent.channels import ExecLaunch
from extensions.provider_local.nodeagent.container import Backoff, ContainerRunner, Launch
from extensions.provider_local.nodeagent.images import ImageTable, default_rules
from extensions.provider_local.nodeagent.kubeletapi import KubeletServer
from extensions.provider_local.nodeagent.kubeletauth import KubeletAuth
from extensions.provider_local.nodeagent.probes import ProbeTarget
from extensions.provider_local.nodeagent.servingcert import CSRS, ServingCertificate, fits
from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.errors import Conflict
from gardener.runtime.pki import KeyPair, issue_client_cert, sign_csr
from tests.helpers import ServerProcess, kubectl, module_server

ONE_BACKEND = True
server = module_server("kubelet-api")
pytestmark = pytest.mark.asyncio(loop_scope="module")

NODE, NS, POD = "node-a", "kubelet-api", "web"
T = TypeVar("T")

# Instance 1 says three lines and crashes; later instances say three lines, then whatever appears in `say`.
APP = """
import pathlib, sys, time
count = pathlib.Path("count")
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
for i in (1, 2, 3):
    print(f"instance {n} line {i}", flush=True)
if n == 1:
    sys.exit(1)
say = pathlib.Path("say")
while True:
    if say.exists():
        print(say.read_text(), flush=True)
        say.unlink()
    time.sleep(0.02)
"""


async def until(check: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = "condition") -> T:
    """Poll an async check until it returns a value (the async twin of tests.helpers.eventually)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.05)


class RunnerPods:
    """A PodSource over real containers: `ContainerRunner`s, wired the way the kubelet's pod workers wire them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uid = "0b7c3c2e-1111-4a4a-9c9c-000000000001"
        self.images = ImageTable([r for r in default_rules() if r.name == "python"])
        self.spec: list[dict[str, Any]] = [
            {"name": "app", "image": "python:3.11", "command": ["python3", "-c", APP]},
            {"name": "sidecar", "image": "registry.example/odd:1", "command": ["sleep-forever"]},
        ]
        self.runners = [
            ContainerRunner(
                c,
                directory=root / "containers" / c["name"],
                launcher=self._launch,
                restart=lambda code: True,
                backoff=Backoff(base=0.2, limit=0.2),
                on_change=lambda: None,
                pod=f"{NS}/{POD}",
            )
            for c in self.spec
        ]
        self.tasks: list[asyncio.Task[Any]] = []

    def _env(self) -> dict[str, str]:
        return {"PATH": os.environ["PATH"], "HOME": str(self.root), "HOSTNAME": POD, "LC_ALL": "C"}

    def _launch(self, container: dict[str, Any]) -> Launch:
        directory = self.root / "containers" / container["name"]
        script = APP if container["name"] == "app" else "import time\nwhile True: time.sleep(1)"
        target = ProbeTarget(host="127.0.0.1", ports={}, env=self._env(), cwd=str(directory), argv=list)
        return Launch(argv=[sys.executable, "-c", script], env=self._env(), cwd=directory, probe_target=target)

    def start(self) -> None:
        self.tasks = [asyncio.create_task(r.run()) for r in self.runners]

    async def stop(self) -> None:
        await asyncio.gather(*(r.stop(1.0) for r in self.runners))
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _pod(self) -> dict[str, Any]:
        return {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": POD, "namespace": NS, "uid": self.uid},
            "spec": {"nodeName": NODE, "containers": self.spec},
            "status": {
                "phase": "Running",
                "podIP": "127.0.0.1",
                "containerStatuses": [r.status() for r in self.runners],
            },
        }

    def pods(self) -> list[dict[str, Any]]:
        return [self._pod()]

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._pod() if (namespace, name) == (NS, POD) else None

    def container_dir(self, namespace: str, name: str, container: str) -> Path | None:
        known = (namespace, name) == (NS, POD) and any(c["name"] == container for c in self.spec)
        return self.root / "containers" / container if known else None

    def exec_launch(self, namespace: str, name: str, container: str, command: Sequence[str]) -> ExecLaunch:
        spec = next(c for c in self.spec if c["name"] == container)
        argv = self.images.helper_argv(spec["image"], list(command), {"python": sys.executable})
        return ExecLaunch(argv=tuple(argv), env=self._env(), cwd=self.root / "containers" / container)


@dataclass
class Kubelet:
    url: str
    ca: KeyPair
    pods: RunnerPods
    csr: dict[str, Any]
    cert_file: Path
    client: AsyncKube  # the kubelet's own identity
    admin: AsyncKube

    def client_ssl(self, user: str, groups: tuple[str, ...] = ()) -> ssl.SSLContext:
        return _client_ssl(self.ca, user, groups)


def _ca(server: ServerProcess) -> KeyPair:
    pki = server.data_dir / "pki"
    return KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())


async def _approve_and_sign(client: AsyncKube, ca: KeyPair, *, known: Sequence[str] = ()) -> dict[str, Any]:
    """What a cluster's approver and kubelet-serving signer do, unless the API server already did it, for the
    first kubelet-serving request not in `known`."""

    async def pending() -> dict[str, Any] | None:
        items = (await client.request("GET", CSRS))["items"]
        found = [
            c
            for c in items
            if c["spec"]["signerName"] == "kubernetes.io/kubelet-serving" and c["metadata"]["name"] not in known
        ]
        return found[0] if found else None

    csr = await until(pending, what="the kubelet's CSR")
    path = f"{CSRS}/{csr['metadata']['name']}"
    while not (csr.get("status") or {}).get("certificate"):
        conditions = (csr.get("status") or {}).get("conditions") or []
        try:
            if not any(c["type"] == "Approved" for c in conditions):
                approved = {"type": "Approved", "status": "True", "reason": "Test", "message": "test approval"}
                csr["status"] = {**(csr.get("status") or {}), "conditions": [*conditions, approved]}
                await client.replace(f"{path}/approval", csr)
            else:
                pem = base64.b64decode(csr["spec"]["request"])
                signed = sign_csr(ca, pem, usages=csr["spec"]["usages"], valid_seconds=3600)
                csr["status"]["certificate"] = base64.b64encode(signed).decode()
                await client.replace(f"{path}/status", csr)
        except Conflict:
            pass  # a signer of the API server's own was faster: look again
        csr = await client.request("GET", path)
    return csr


def _client_ssl(ca: KeyPair, user: str, groups: tuple[str, ...] = ()) -> ssl.SSLContext:
    """Trusts the cluster CA; with a user, presents a client certificate the CA issued for it."""
    ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
    if user:
        pair = issue_client_cert(ca, user=user, groups=groups, valid_days=1)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "tls.crt").write_bytes(pair.cert_pem)
            (Path(tmp) / "tls.key").write_bytes(pair.key_pem)
            ctx.load_cert_chain(Path(tmp) / "tls.crt", Path(tmp) / "tls.key")
    return ctx


@pytest.fixture(scope="module")
def cluster(server: ServerProcess) -> dict[str, str]:
    """The Node with the addresses its serving certificate names, the node's own rights (what kube's Node
    authorizer grants), bob's (system:kubelet-api-admin) and carol's (nodes/metrics only); alice and the service
    account get none. Returns the service account's token."""
    kc = server.kubeconfig
    kubectl("create", "namespace", NS, kubeconfig=kc)
    kubectl("apply", "-f", "-", kubeconfig=kc, input=f"apiVersion: v1\nkind: Node\nmetadata:\n  name: {NODE}\n")
    addresses = [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": "localhost"}]
    patch = json.dumps({"status": {"addresses": addresses}})
    kubectl("patch", "node", NODE, "--subresource=status", "--type=merge", "-p", patch, kubeconfig=kc)
    for name, role, user in (
        ("node-a", "system:node", f"system:node:{NODE}"),
        ("bob-kubelet", "system:kubelet-api-admin", "bob"),
    ):
        kubectl("create", "clusterrolebinding", name, f"--clusterrole={role}", f"--user={user}", kubeconfig=kc)
    kubectl("create", "clusterrole", "node-metrics", "--verb=get", "--resource=nodes/metrics", kubeconfig=kc)
    kubectl("create", "clusterrolebinding", "carol", "--clusterrole=node-metrics", "--user=carol", kubeconfig=kc)
    kubectl("create", "serviceaccount", "viewer", "-n", NS, kubeconfig=kc)
    return {"token": kubectl("create", "token", "viewer", "-n", NS, kubeconfig=kc).stdout.strip()}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def kubelet(
    server: ServerProcess, cluster: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Kubelet]:
    root = tmp_path_factory.mktemp("kubelet")
    ca = _ca(server)
    # the kubelet's own client identity, as its bootstrap gives it
    client = AsyncKube(server=server.url, ssl_context=_client_ssl(ca, f"system:node:{NODE}", ("system:nodes",)))
    admin = AsyncKube.from_kubeconfig(server.kubeconfig)
    cert = ServingCertificate(
        client,
        node_name=NODE,
        hosts=["127.0.0.1", "localhost"],
        pki_dir=root / "pki",
        client_ca_pem=ca.cert_pem,
        poll=0.1,
    )
    signer = asyncio.create_task(_approve_and_sign(admin, ca))
    context = await asyncio.wait_for(cert.ensure(), 30)
    csr = await signer
    # a certificate that fits is kept: no second request
    assert await asyncio.wait_for(cert.ensure(), 5) is context
    assert len((await admin.request("GET", CSRS))["items"]) == 1
    pods = RunnerPods(root / "pods" / f"{NS}_{POD}")
    pods.start()
    kubelet = KubeletServer(pods, auth=KubeletAuth(client, node_name=NODE))
    port = await kubelet.start(host="127.0.0.1", port=0, ssl_context=context)
    try:
        yield Kubelet(f"https://127.0.0.1:{port}", ca, pods, csr, cert.path, client, admin)
    finally:
        await kubelet.stop()
        await pods.stop()
        await client.close()
        await admin.close()


async def _get(
    kubelet: Kubelet, path: str, *, user: str = "bob", headers: dict[str, str] | None = None
) -> tuple[int, str]:
    ctx = kubelet.client_ssl(user, ())
    async with aiohttp.ClientSession() as session, session.get(kubelet.url + path, ssl=ctx, headers=headers) as resp:
        return resp.status, await resp.text()


async def test_serving_certificate_comes_from_a_kubelet_serving_csr(kubelet: Kubelet, tmp_path: Path) -> None:
    spec = kubelet.csr["spec"]
    assert kubelet.csr["metadata"]["name"].startswith("csr-")
    assert spec["signerName"] == "kubernetes.io/kubelet-serving"
    assert spec["usages"] == ["digital signature", "server auth"]  # key encipherment is for RSA keys only
    request = x509.load_pem_x509_csr(base64.b64decode(spec["request"]))
    assert request.subject.rfc4514_string() == "CN=system:node:node-a,O=system:nodes"
    san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert stat.S_IMODE(kubelet.cert_file.stat().st_mode) == 0o600
    pem = kubelet.cert_file.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=50)

    # reused while more than 20% of its validity is left, renewed after
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    at = {share: cert.not_valid_before_utc + lifetime * share for share in (0.79, 0.81)}
    assert fits(pem, node_name=NODE, hosts=["127.0.0.1", "localhost"], now=at[0.79])
    assert not fits(pem, node_name=NODE, hosts=["127.0.0.1", "localhost", "node-a.local"], now=at[0.79])
    later = tmp_path / "pki"
    later.mkdir()
    (later / kubelet.cert_file.name).write_bytes(pem)
    renewing = ServingCertificate(
        kubelet.client,
        node_name=NODE,
        hosts=["127.0.0.1", "localhost"],
        pki_dir=later,
        client_ca_pem=kubelet.ca.cert_pem,
        poll=0.1,
        now=lambda: at[0.81],
    )
    signer = asyncio.create_task(_approve_and_sign(kubelet.admin, kubelet.ca, known=[kubelet.csr["metadata"]["name"]]))
    await asyncio.wait_for(renewing.ensure(), 30)
    renewed = await signer
    assert renewed["metadata"]["name"] != kubelet.csr["metadata"]["name"]
    assert (later / kubelet.cert_file.name).read_bytes() != pem


async def test_callers_are_authenticated_and_authorized_as_upstream(kubelet: Kubelet, cluster: dict[str, str]) -> None:
    assert await _get(kubelet, "/healthz", user="") == (401, "Unauthorized")
    assert await _get(kubelet, "/pods", user="alice") == (
        403,
        "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[proxy])\n",
    )
    status, body = await _get(kubelet, "/healthz", user="", headers={"Authorization": f"Bearer {cluster['token']}"})
    assert (status, body) == (
        403,
        f"Forbidden (user=system:serviceaccount:{NS}:viewer, verb=get, resource=nodes, subresource(s)=[proxy])\n",
    )
    assert await _get(kubelet, "/healthz", user="", headers={"Authorization": "Bearer not-a-token"}) == (
        401,
        "Unauthorized",
    )
    assert await _get(kubelet, "/healthz") == (200, "ok")
    status, body = await _get(kubelet, "/pods")
    pod_list = json.loads(body)
    assert (status, pod_list["kind"], pod_list["apiVersion"]) == (200, "PodList", "v1")
    assert [p["metadata"]["name"] for p in pod_list["items"]] == [POD]
    # nodes/metrics is enough for /metrics, not for anything else
    assert (await _get(kubelet, "/metrics", user="carol"))[0] == 200
    assert (await _get(kubelet, "/pods", user="carol"))[1].endswith("subresource(s)=[proxy])\n")


async def _running_again(kubelet: Kubelet) -> bool:
    app = kubelet.pods.runners[0]
    return app.restart_count >= 1 and "running" in app.state and (app.dir / "log").exists()


async def test_container_logs(kubelet: Kubelet, cluster: dict[str, str]) -> None:
    await until(lambda: _running_again(kubelet), what="app crashed once and runs again")
    logs = f"/containerLogs/{NS}/{POD}/app"
    await until(lambda: _lines(kubelet, logs, 3), what="instance 2 started")
    assert await _get(kubelet, f"{logs}?tailLines=2") == (200, "instance 2 line 2\ninstance 2 line 3\n")
    assert await _get(kubelet, f"{logs}?previous=true") == (
        200,
        "instance 1 line 1\ninstance 1 line 2\ninstance 1 line 3\n",
    )
    status, stamped = await _get(kubelet, f"{logs}?timestamps=true&limitBytes=300")
    stamp, _, text = stamped.splitlines()[0].partition(" ")
    started = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert (status, text, len(stamp)) == (200, "instance 2 line 1", len("2026-01-01T00:00:00.000000000Z"))
    assert abs(dt.datetime.now(dt.UTC) - started) < dt.timedelta(minutes=1)
    since = (started + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (await _get(kubelet, f"{logs}?sinceTime={since}"))[1] == ""  # nothing new since

    # follow: what the container says later arrives on the open response
    async with aiohttp.ClientSession() as session:
        url = f"{kubelet.url}{logs}?follow=true&tailLines=0"
        async with session.get(url, ssl=kubelet.client_ssl("bob", ())) as resp:
            assert resp.status == 200
            (kubelet.pods.runners[0].dir / "say").write_text("followed")
            assert await asyncio.wait_for(resp.content.readline(), 10) == b"followed\n"

    assert await _get(kubelet, f"/containerLogs/{NS}/nope/app") == (404, 'pod "nope" does not exist')
    assert await _get(kubelet, f"{logs[:-3]}db") == (404, 'container "db" not found in pod "web"')
    assert await _get(kubelet, f"/containerLogs/{NS}/{POD}/sidecar?previous=true") == (
        400,
        'previous terminated container "sidecar" in pod "web" not found',
    )
    assert await _get(kubelet, f"{logs}?tailLines=-1") == (422, '{"message": "Invalid request."}')


async def _lines(kubelet: Kubelet, path: str, count: int) -> bool:
    status, body = await _get(kubelet, path)
    return status == 200 and len(body.splitlines()) >= count


async def _exec(
    kubelet: Kubelet, path: str, protocol: str, *, send: Sequence[bytes] = (), until_text: bytes = b""
) -> tuple[str, dict[int, bytes]]:
    out: dict[int, bytes] = {}
    async with aiohttp.ClientSession() as session:
        url = kubelet.url + path
        async with session.ws_connect(url, protocols=[protocol], ssl=kubelet.client_ssl("bob", ())) as ws:
            for frame in send:
                await ws.send_bytes(frame)
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    data = bytes(msg.data)
                    out[data[0]] = out.get(data[0], b"") + data[1:]
                    if until_text and until_text in out.get(1, b""):
                        break
            return ws.protocol or "", out


async def test_exec_and_attach(kubelet: Kubelet, cluster: dict[str, str]) -> None:
    await until(lambda: _running_again(kubelet), what="app runs")
    base = f"/exec/{NS}/{POD}/app?command=python3&command=-c"
    protocol, out = await _exec(kubelet, f"{base}&command=print(42)&output=1&error=1", "v5.channel.k8s.io")
    assert (protocol, out[1], out[3]) == ("v5.channel.k8s.io", b"42\n", b'{"metadata":{},"status":"Success"}')
    with_uid = f"/exec/{NS}/{POD}/{kubelet.pods.uid}/app?command=sh&command=-c&command=exit%207&output=1"
    _, out = await _exec(kubelet, with_uid, "v4.channel.k8s.io")
    assert json.loads(out[3]) == {
        "metadata": {},
        "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command [sh -c exit 7], exit code 7",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "7"}]},
    }
    # stdin, in the container's directory and environment
    stdin = (
        f"/exec/{NS}/{POD}/app?command=sh&command=-c&command=read%20x%3Becho%20$x%20$HOSTNAME%3Bpwd&input=1&output=1"
    )
    _, out = await _exec(kubelet, stdin, "v5.channel.k8s.io", send=[b"\x00hi\n", b"\xff\x00"])
    assert out[1] == f"hi {POD}\n{kubelet.pods.runners[0].dir}\n".encode()
    # a terminal that follows resizes
    tty = f"/exec/{NS}/{POD}/app?command=sh&command=-c&command=read%20x%3Bstty%20size&input=1&output=1&tty=1"
    _, out = await _exec(kubelet, tty, "v5.channel.k8s.io", send=[b'\x04{"Width":101,"Height":33}', b"\x00\n"])
    assert b"33 101" in out[1]
    # an image this node has no program for: the error stream says so
    _, out = await _exec(kubelet, f"/exec/{NS}/{POD}/sidecar?command=ls&output=1", "v5.channel.k8s.io")
    status = json.loads(out[3])
    assert (status["reason"], status["code"]) == ("InternalError", 500)
    assert status["message"] == (
        "Internal error occurred: error executing command in container: "
        "no program is known for image 'registry.example/odd:1'"
    )
    assert await _get(kubelet, f"/exec/{NS}/{POD}/app?command=ls") == (
        400,
        "you must specify at least 1 of stdin, stdout, stderr",
    )
    assert await _get(kubelet, f"/exec/{NS}/nope/app?command=ls&output=1") == (404, "pod does not exist")
    assert await _get(kubelet, f"/exec/{NS}/{POD}/db?command=ls&output=1") == (500, 'container not found ("db")')
    assert await _get(kubelet, f"/portForward/{NS}/nope") == (404, "pod does not exist")

    # attach: what the container writes from now on
    async def say() -> None:
        await asyncio.sleep(0.3)
        (kubelet.pods.runners[0].dir / "say").write_text("attached")

    speaker = asyncio.create_task(say())
    _, out = await _exec(kubelet, f"/attach/{NS}/{POD}/app?output=1", "v5.channel.k8s.io", until_text=b"attached\n")
    await speaker
    assert out[1] == b"attached\n"


async def test_metrics(kubelet: Kubelet, cluster: dict[str, str]) -> None:
    await until(lambda: _running_again(kubelet), what="app runs")
    status, text = await _get(kubelet, "/metrics")
    assert status == 200
    assert "# HELP kubelet_running_pods [ALPHA] Number of pods that have a running pod sandbox\n" in text
    assert "\nkubelet_running_pods 1\n" in text
    assert 'kubelet_running_containers{container_state="running"} 2\n' in text
    assert (
        'kubelet_http_requests_total{long_running="false",method="GET",path="metrics",server_type="readwrite"}' in text
    )
    status, text = await _get(kubelet, "/metrics/resource")
    assert status == 200
    rows = {line.split(" ")[0]: line.split(" ")[1:] for line in text.splitlines() if not line.startswith("#")}
    app = f'{{container="app",namespace="{NS}",pod="{POD}"}}'
    assert float(rows[f"container_cpu_usage_seconds_total{app}"][0]) > 0
    assert float(rows[f"container_memory_working_set_bytes{app}"][0]) > 1_000_000  # a Python interpreter
    assert float(rows[f'pod_memory_working_set_bytes{{namespace="{NS}",pod="{POD}"}}'][0]) > float(
        rows[f"container_memory_working_set_bytes{app}"][0]
    )
    assert float(rows["node_cpu_usage_seconds_total"][0]) > 0
    assert rows["resource_scrape_error"] == ["0"]
