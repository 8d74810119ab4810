"""Run a real kopf operator (tests/integration/kopf_operator.py) as a subprocess against the server.

kopf is a demanding client: discovery, LIST + WATCH with bookmarks and resourceVersions, JSON Patch with a
`test` op for finalizers, merge patches of annotations and of the status subresource, Events, and relisting
after an expired watch or a lost connection, rescanning discovery when a CRD appears. The tests walk one
object through create, update and delete (checking Events and `kubectl describe`), restart the server while
kopf runs, serve a namespace pattern with sendInitialEvents watches, and pick up a CRD created after kopf.
Every test ends by checking kopf's own log for warnings, errors and tracebacks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
import pytest

from tests.helpers import ServerProcess, eventually, kubectl

OPERATOR = Path(__file__).with_name("kopf_operator.py")
GROUP = "kopf.gardener.test"
PLURAL = "kopfexamples"
CRD_NAME = f"{PLURAL}.{GROUP}"
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"
LAST_HANDLED = "kopf.zalando.org/last-handled-configuration"
TIMEOUT = 60.0

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": CRD_NAME},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "kopfexample", "kind": "KopfExample", "shortNames": ["kex"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"field": {"type": "string"}}},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


@dataclass
class KopfProcess:
    """`kopf run` as a child process; its stdout and stderr go to one log file."""

    kubeconfig: Path
    workdir: Path
    #: how kopf picks namespaces: ["--all-namespaces"] or e.g. ["--namespace", "team-*"]
    scope: tuple[str, ...] = ("--all-namespaces",)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "kopf.log"

    @property
    def gate_dir(self) -> Path:
        return self.workdir / "gates"

    def start(self) -> KopfProcess:
        self.gate_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        env.update(KUBECONFIG=str(self.kubeconfig), KOPF_TEST_GATE_DIR=str(self.gate_dir), PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        args = [sys.executable, "-m", "kopf", "run", "--standalone", *self.scope, "--verbose", str(OPERATOR)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def assert_running(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"kopf exited with {self.proc.returncode}:\n{self.log_tail()}")

    def release(self, name: str) -> None:
        """Let the operator's delete handler for `name` finish (and kopf remove its finalizer)."""
        (self.gate_dir / f"{name}.release").touch()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


def problems_in_log(text: str, *, allow: tuple[str, ...] = ()) -> list[str]:
    """kopf's lines at WARNING or above and traceback lines, minus those containing an allowed fragment."""
    bad = []
    for line in text.splitlines():
        if not any(marker in line for marker in ("[WARNING", "[ERROR", "[CRITICAL", "Traceback (most recent call")):
            continue
        if any(fragment in line for fragment in allow):
            continue
        bad.append(line)
    return bad


# ---- kubectl and client helpers ----


def apply(server: ServerProcess, obj: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", kubeconfig=server.kubeconfig, input=json.dumps(obj))


def setup_crd_and_namespace(server: ServerProcess, namespace: str) -> None:
    apply(server, CRD)
    kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=30s", kubeconfig=server.kubeconfig)
    # `kubectl create namespace` would do, but apply exercises the same JSON path as everything else here.
    apply(server, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})


def example(namespace: str, name: str, field: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "KopfExample",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"field": field},
    }


def get_example(server: ServerProcess, namespace: str, name: str) -> dict[str, Any]:
    out = kubectl("get", f"{PLURAL}.{GROUP}", name, "-n", namespace, "-o", "json", kubeconfig=server.kubeconfig)
    obj: dict[str, Any] = json.loads(out.stdout)
    return obj


def example_is_gone(server: ServerProcess, namespace: str, name: str) -> bool:
    out = kubectl(
        "get", f"{PLURAL}.{GROUP}", name, "-n", namespace, "-o", "name", kubeconfig=server.kubeconfig, check=False
    )
    assert out.returncode != 0, f"{name} still exists"
    assert "NotFound" in out.stderr, out.stderr
    return True


def wait_handled_create(
    server: ServerProcess, kopf: KopfProcess, namespace: str, name: str, field: str
) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        kopf.assert_running()
        obj = get_example(server, namespace, name)
        assert FINALIZER in (obj["metadata"].get("finalizers") or []), obj["metadata"]
        assert (obj.get("status") or {}).get("create_fn") == {"message": f"hello {field}"}, obj.get("status")
        assert json.loads(obj["metadata"]["annotations"][LAST_HANDLED]) == {"spec": {"field": field}}
        return obj

    return eventually(check, timeout=TIMEOUT, interval=0.2, what=f"kopf handled the creation of {name}")


def wait_handled_update(
    server: ServerProcess, kopf: KopfProcess, namespace: str, name: str, field: str
) -> dict[str, Any]:
    def check() -> dict[str, Any]:
        kopf.assert_running()
        obj = get_example(server, namespace, name)
        assert (obj.get("status") or {}).get("updateSeen") == field, obj.get("status")
        assert json.loads(obj["metadata"]["annotations"][LAST_HANDLED]) == {"spec": {"field": field}}
        return obj

    return eventually(check, timeout=TIMEOUT, interval=0.2, what=f"kopf handled the update of {name}")


def wait_gone(server: ServerProcess, kopf: KopfProcess, namespace: str, name: str) -> None:
    def check() -> bool:
        kopf.assert_running()
        return example_is_gone(server, namespace, name)

    eventually(check, timeout=TIMEOUT, interval=0.2, what=f"{name} is deleted once kopf removed its finalizer")


@pytest.fixture
def core_v1(apiserver: ServerProcess) -> Iterator[kubernetes.client.CoreV1Api]:
    client = kubernetes.config.new_client_from_config(config_file=str(apiserver.kubeconfig))  # type: ignore[no-untyped-call]
    try:
        yield kubernetes.client.CoreV1Api(client)
    finally:
        client.close()


@pytest.fixture
def start_kopf(tmp_path: Path) -> Iterator[Callable[..., KopfProcess]]:
    """Start kopf against a server; whatever is still running is stopped at teardown."""
    started: list[KopfProcess] = []

    def start(server: ServerProcess, **options: Any) -> KopfProcess:
        workdir = tmp_path / f"kopf-{len(started)}"
        workdir.mkdir(parents=True)
        kopf = KopfProcess(kubeconfig=server.kubeconfig, workdir=workdir, **options).start()
        started.append(kopf)
        return kopf

    yield start
    for kopf in started:
        kopf.stop()


# ---- tests ----


def test_kopf_operator_lifecycle(
    apiserver: ServerProcess,
    core_v1: kubernetes.client.CoreV1Api,
    start_kopf: Callable[..., KopfProcess],
) -> None:
    ns = "kopf-lifecycle"
    name = "example-1"
    kind = f"{PLURAL}.{GROUP}"
    setup_crd_and_namespace(apiserver, ns)
    kopf = start_kopf(apiserver)

    # Create: kopf adds its finalizer (JSON Patch with a `test` op), runs create_fn, stores the result in
    # status.create_fn (PATCH .../status) and its diff-base in an annotation (merge patch).
    apply(apiserver, example(ns, name, "one"))
    created = wait_handled_create(apiserver, kopf, ns, name, "one")
    uid = created["metadata"]["uid"]
    assert created["metadata"]["generation"] == 1

    # Events: kopf.info() from the handler, and kopf's own per-object log lines posted as Events.
    def events() -> list[Any]:
        found: list[Any] = core_v1.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items
        reasons = {e.reason for e in found}
        assert {"Greeting", "Logging"} <= reasons, reasons
        return found

    found = eventually(events, timeout=TIMEOUT, interval=0.2, what="kopf's events are listed")
    greeting = next(e for e in found if e.reason == "Greeting")
    assert greeting.message == "created with field=one"
    assert greeting.type == "Normal"
    assert greeting.source.component == "kopf"
    assert greeting.involved_object.uid == uid
    assert greeting.involved_object.kind == "KopfExample"
    assert greeting.involved_object.api_version == f"{GROUP}/v1"
    assert greeting.metadata.name.startswith("kopf-event-")
    assert any(e.message == "Handler 'create_fn' succeeded." for e in found), [e.message for e in found]
    assert core_v1.list_namespaced_event(ns, field_selector="involvedObject.name=no-such-object").items == []

    described = kubectl("describe", kind, name, "-n", ns, kubeconfig=apiserver.kubeconfig).stdout
    assert "Greeting" in described and "created with field=one" in described, described
    assert "Handler 'create_fn' succeeded." in described, described

    # Update: a spec change bumps the generation and kopf runs update_fn, which patches the status.
    patch = '{"spec":{"field":"two"}}'
    kubectl("patch", kind, name, "-n", ns, "--type=merge", "-p", patch, kubeconfig=apiserver.kubeconfig)
    updated = wait_handled_update(apiserver, kopf, ns, name, "two")
    assert updated["metadata"]["generation"] == 2
    assert updated["metadata"]["uid"] == uid
    assert updated["status"]["create_fn"] == {"message": "hello one"}

    # Delete: the finalizer holds the object while delete_fn runs (it waits for the test's release file).
    kubectl("delete", kind, name, "-n", ns, "--wait=false", kubeconfig=apiserver.kubeconfig)

    def held() -> dict[str, Any]:
        kopf.assert_running()
        obj = get_example(apiserver, ns, name)
        assert obj["metadata"].get("deletionTimestamp"), obj["metadata"]
        assert FINALIZER in (obj["metadata"].get("finalizers") or [])
        assert f"[{ns}/{name}] Handler 'delete_fn' is invoked." in kopf.log()
        return obj

    deleting = eventually(held, timeout=TIMEOUT, interval=0.2, what="delete_fn runs while the finalizer holds")
    assert deleting["metadata"]["uid"] == uid
    # kopf has seen the deletion, yet the object stays until the finalizer is removed.
    assert get_example(apiserver, ns, name)["metadata"]["uid"] == uid

    kopf.release(name)
    kubectl(
        "wait", "--for=delete", f"{kind}/{name}", "-n", ns, "--timeout=60s", kubeconfig=apiserver.kubeconfig, timeout=90
    )
    wait_gone(apiserver, kopf, ns, name)
    eventually(
        lambda: f"[{ns}/{name}] Deleted, really deleted, and we are notified." in kopf.log(),
        timeout=TIMEOUT,
        what="kopf saw the DELETED event",
    )
    kopf.assert_running()
    kopf.stop()
    kubectl("delete", "namespace", ns, "--wait=false", kubeconfig=apiserver.kubeconfig)

    problems = problems_in_log(kopf.log())
    assert not problems, "kopf logged problems:\n" + "\n".join(problems) + "\n--- log tail ---\n" + kopf.log_tail()


@pytest.mark.parametrize(
    ("stop_signal", "freeze_kopf"),
    # a frozen operator sees the server die hard; a live one sees it stop cleanly (the two other pairings add
    # nothing these two do not cover, and each costs a server restart)
    [(signal.SIGKILL, True), (signal.SIGTERM, False)],
    ids=["sigkill-kopf-frozen", "sigterm-kopf-live"],
)
def test_kopf_recovers_after_server_restart(
    fresh_apiserver: ServerProcess,
    start_kopf: Callable[..., KopfProcess],
    stop_signal: signal.Signals,
    freeze_kopf: bool,
) -> None:
    """kopf reconnects to a server restarted on the same port and data dir, and catches up.

    Frozen: kopf is stopped (SIGSTOP) across the restart, and an unrelated write moves the revision on before the
    server goes down, so kopf re-watches with a resourceVersion older than the new server's watch window: a correct
    server answers with an in-stream 410 ERROR (or serves it from storage), and kopf relists. Objects created,
    changed and deleted while kopf was away must all be handled. Live: kopf sees the connections drop, retries
    until the server is back and resumes from its last resourceVersion.
    """
    server = fresh_apiserver
    ns = "kopf-restart"
    kind = f"{PLURAL}.{GROUP}"
    setup_crd_and_namespace(server, ns)
    kopf = start_kopf(server)
    apply(server, example(ns, "before", "one"))
    apply(server, example(ns, "doomed", "one"))
    wait_handled_create(server, kopf, ns, "before", "one")
    wait_handled_create(server, kopf, ns, "doomed", "one")

    if freeze_kopf:
        kopf.pause()
    apply(server, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bump", "namespace": ns}})
    assert server.proc is not None
    os.killpg(server.proc.pid, stop_signal)
    # kube-apiserver ends open watches at shutdown (--shutdown-watch-termination-grace-period defaults to 0s).
    eventually(
        lambda: server.proc is not None and server.proc.poll() is not None,
        timeout=20,
        interval=0.1,
        what=f"apiserver exits after {stop_signal.name} while kopf's watches are open",
    )
    server.start()

    # While kopf is away (or reconnecting): a new object, a spec change, and a deletion held by kopf's finalizer.
    apply(server, example(ns, "during", "new"))
    apply(server, example(ns, "before", "changed"))
    kopf.release("doomed")
    kubectl("delete", kind, "doomed", "-n", ns, "--wait=false", kubeconfig=server.kubeconfig)
    if freeze_kopf:
        assert get_example(server, ns, "doomed")["metadata"].get("deletionTimestamp")
        kopf.resume()

    wait_handled_create(server, kopf, ns, "during", "new")
    wait_handled_update(server, kopf, ns, "before", "changed")
    wait_gone(server, kopf, ns, "doomed")

    # And kopf keeps working normally on the restarted server.
    apply(server, example(ns, "after", "late"))
    wait_handled_create(server, kopf, ns, "after", "late")
    for name in ("before", "during", "after"):
        kopf.release(name)
        kubectl("delete", kind, name, "-n", ns, "--wait=false", kubeconfig=server.kubeconfig)
    for name in ("before", "during", "after"):
        wait_gone(server, kopf, ns, name)
    kopf.assert_running()
    kopf.stop()

    # kopf logs its connection retries while the server is down at ERROR level; those are expected here.
    problems = problems_in_log(kopf.log(), allow=("failed; will retry",))
    assert not problems, "kopf logged problems:\n" + "\n".join(problems) + "\n--- log tail ---\n" + kopf.log_tail()


def test_kopf_namespace_pattern_with_initial_streaming(
    apiserver: ServerProcess, start_kopf: Callable[..., KopfProcess]
) -> None:
    """`--namespace 'kopf-glob-*'`: kopf watches Namespaces and runs one watch per matching namespace, started
    with sendInitialEvents=true (no LIST); an object that existed before kopf started, and one in a namespace
    created later, are handled; an object in a namespace that does not match is left alone."""
    kind = f"{PLURAL}.{GROUP}"
    early, late, other = "kopf-glob-early", "kopf-glob-late", "kopf-outside"
    setup_crd_and_namespace(apiserver, early)
    apply(apiserver, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}})
    apply(apiserver, example(early, "existing", "old"))
    apply(apiserver, example(other, "ignored", "old"))

    kopf = start_kopf(apiserver, scope=("--namespace", "kopf-glob-*"), extra_env={"KOPF_TEST_INITIAL_STREAMING": "1"})
    wait_handled_create(apiserver, kopf, early, "existing", "old")
    apply(apiserver, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": late}})
    apply(apiserver, example(late, "fresh", "new"))
    wait_handled_create(apiserver, kopf, late, "fresh", "new")
    log = kopf.log()
    assert f"Starting the watch-stream for {PLURAL}.v1.{GROUP} in '{early}'." in log
    assert f"Starting the watch-stream for {PLURAL}.v1.{GROUP} in '{late}'." in log
    assert f"in '{other}'" not in log
    ignored = get_example(apiserver, other, "ignored")
    assert "finalizers" not in ignored["metadata"] and "status" not in ignored, ignored

    for ns, name in ((early, "existing"), (late, "fresh")):
        kopf.release(name)
        kubectl("delete", kind, name, "-n", ns, "--wait=false", kubeconfig=apiserver.kubeconfig)
    for ns, name in ((early, "existing"), (late, "fresh")):
        wait_gone(apiserver, kopf, ns, name)
    kopf.assert_running()
    kopf.stop()
    for ns in (early, late, other):
        kubectl("delete", "namespace", ns, "--wait=false", kubeconfig=apiserver.kubeconfig)

    problems = problems_in_log(kopf.log())
    assert not problems, "kopf logged problems:\n" + "\n".join(problems) + "\n--- log tail ---\n" + kopf.log_tail()


def test_kopf_serves_a_crd_created_after_it_started(
    fresh_apiserver: ServerProcess, start_kopf: Callable[..., KopfProcess]
) -> None:
    """kopf starts before the CRD exists; the CRD's watch event makes it rescan discovery and start serving."""
    server = fresh_apiserver
    ns = "kopf-late-crd"
    kopf = start_kopf(server)
    unresolved = "Unresolved resources cannot be served"
    eventually(lambda: unresolved in kopf.log(), timeout=TIMEOUT, what="kopf noticed the missing resource")
    setup_crd_and_namespace(server, ns)
    apply(server, example(ns, "late", "z"))
    wait_handled_create(server, kopf, ns, "late", "z")
    kopf.release("late")
    kubectl("delete", f"{PLURAL}.{GROUP}", "late", "-n", ns, "--wait=false", kubeconfig=server.kubeconfig)
    wait_gone(server, kopf, ns, "late")
    kopf.assert_running()
    kopf.stop()

    problems = problems_in_log(kopf.log(), allow=(unresolved,))
    assert not problems, "kopf logged problems:\n" + "\n".join(problems) + "\n--- log tail ---\n" + kopf.log_tail()
