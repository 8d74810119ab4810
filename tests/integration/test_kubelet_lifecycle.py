"""Container lifecycle hooks in the node agent's kubelet, on real host processes run by `ContainerRunner`.

preStop runs before SIGTERM and within the grace period (a container's SIGTERM handler sees what the hook wrote;
a sleep hook holds SIGTERM back; a hook that outlasts the grace is abandoned and the container still gets two
seconds between SIGTERM and SIGKILL); postStart runs before the container counts as running, and a failing one
kills the container, which restarts per its policy with upstream's status and events. The handlers themselves
(exec, httpGet, sleep, the unsupported tcpSocket) are checked against a real HTTP server.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from extensions.provider_local.nodeagent.container import Backoff, ContainerRunner, Launch
from extensions.provider_local.nodeagent.probes import HandlerError, ProbeTarget, run_handler
from tests.helpers import aeventually

POD_DESC = "web_lifecycle(0b7c3c2e-2222-4a4a-9c9c-000000000002)"

# A container that reports each SIGTERM (a line: when it came, and whether the preStop hook's file was there).
APP = """
import os, pathlib, signal, sys, time
def on_term(*_):
    with open("term", "a") as term:
        term.write(f"{time.time()} {pathlib.Path('prestop').exists()}\\n")
    if not os.environ.get("IGNORE_TERM"):
        sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
pathlib.Path("ready").write_text("1")
while True:
    if pathlib.Path("poststart").exists() and not pathlib.Path("saw").exists():
        pathlib.Path("saw").write_text(pathlib.Path("poststart").read_text())
    time.sleep(0.02)
"""

Event = tuple[str, str, str]


class Container:
    """One `ContainerRunner` over APP, wired as a pod worker wires it, with every status and event it reports."""

    def __init__(self, root: Path, lifecycle: dict[str, Any], *, env: dict[str, str] | None = None) -> None:
        self.dir = root / "containers" / "app"
        self.events: list[Event] = []
        self.states: list[dict[str, Any]] = []
        #: whether postStart's file existed when the container first showed as running
        self.poststart_when_running: bool | None = None
        self._env = {"PATH": os.environ["PATH"], "HOME": str(root), "LC_ALL": "C", **(env or {})}
        self.runner = ContainerRunner(
            {"name": "app", "image": "python:3.11", "lifecycle": lifecycle},
            directory=self.dir,
            launcher=self._launch,
            restart=lambda code: True,
            backoff=Backoff(base=0.2, limit=0.2),
            on_change=self._changed,
            pod="lifecycle/web",
            pod_desc=POD_DESC,
            on_event=lambda *event: self.events.append(event),
        )
        self.task: asyncio.Task[int | None] | None = None

    def _launch(self, container: dict[str, Any]) -> Launch:
        target = ProbeTarget(host="127.0.0.1", ports={}, env=self._env, cwd=str(self.dir), argv=list)
        return Launch(argv=[sys.executable, "-c", APP], env=self._env, cwd=self.dir, probe_target=target)

    def _changed(self) -> None:
        status = self.runner.status()
        if not self.states or self.states[-1] != status:
            self.states.append(status)
        if "running" in status["state"] and self.poststart_when_running is None:
            self.poststart_when_running = (self.dir / "poststart").exists()

    def file(self, name: str) -> str:
        path = self.dir / name
        return path.read_text() if path.exists() else ""

    async def start(self) -> None:
        self.task = asyncio.create_task(self.runner.run())
        await aeventually(lambda: self.file("ready"), what="the container is up")

    async def stop(self, grace: float) -> tuple[float, int | None]:
        """Stop it; when SIGTERM came, counted from the stop, and the exit code."""
        assert self.task is not None
        began = time.time()
        await self.runner.stop(grace)
        code = await self.task
        return float(self.file("term").splitlines()[-1].split()[0]) - began, code


Make = Callable[..., Container]


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Make]:
    """Containers under tmp_path; whatever a failed test leaves running is stopped."""
    made: list[Container] = []

    def new(name: str, lifecycle: dict[str, Any], **kwargs: Any) -> Container:
        made.append(Container(tmp_path / name, lifecycle, **kwargs))
        return made[-1]

    yield new
    for container in made:
        if container.task is not None and not container.task.done():
            await container.runner.stop(0)
            await container.task


async def test_pre_stop_runs_before_sigterm_within_the_grace_period(make: Make) -> None:
    # exec: the hook's file is there when SIGTERM comes
    app = make("exec", {"preStop": {"exec": {"command": ["sh", "-c", "echo bye > prestop"]}}})
    await app.start()
    _, code = await app.stop(30)
    assert app.file("term").split()[1] == "True", "the container saw the preStop hook's file at SIGTERM"
    assert code == 0 and app.runner.state["terminated"]["reason"] == "Completed"
    assert app.events == []

    # sleep: SIGTERM waits for it
    app = make("sleep", {"preStop": {"sleep": {"seconds": 1}}})
    await app.start()
    term_after, code = await app.stop(30)
    assert term_after >= 1.0, f"SIGTERM came {term_after:.2f}s after the stop, before the 1s preStop sleep ended"
    assert code == 0

    # a failing hook: a Warning event with upstream's message, and the container stops all the same
    app = make("fails", {"preStop": {"exec": {"command": ["sh", "-c", "exit 7"]}}})
    await app.start()
    _, code = await app.stop(30)
    assert code == 0 and app.file("term")
    assert app.events == [("Warning", "FailedPreStopHook", "PreStopHook failed")]

    # a hook that outlasts the grace period is abandoned at its end; the container that ignores SIGTERM then has
    # upstream's minimum of two seconds before SIGKILL
    app = make("long", {"preStop": {"sleep": {"seconds": 60}}}, env={"IGNORE_TERM": "1"})
    await app.start()
    began = time.time()
    term_after, code = await app.stop(1)
    killed_after = time.time() - began
    assert term_after >= 1.0, "SIGTERM waited for the grace period"
    assert killed_after - term_after >= 2.0, "SIGKILL came less than two seconds after SIGTERM"
    assert code == -9 and app.runner.state["terminated"]["exitCode"] == 137
    assert app.events == []


async def test_post_start_runs_before_the_container_counts_as_running(make: Make) -> None:
    hook = {"exec": {"command": ["sh", "-c", "sleep 0.3; echo hello > poststart"]}}
    app = make("app", {"postStart": hook})
    await app.start()
    await aeventually(lambda: "running" in app.runner.state, what="the container runs")
    assert app.poststart_when_running is True, "the container showed as running before its postStart hook ended"
    await aeventually(lambda: app.file("saw") == "hello\n", what="the container read what postStart wrote")
    assert app.runner.restart_count == 0 and app.events == []
    await app.stop(5)


async def test_a_failing_post_start_kills_the_container_and_it_restarts(make: Make) -> None:
    # the hook fails once its container handles SIGTERM (each instance writes `ready` when it does)
    script = "while [ ! -e ready ]; do sleep 0.02; done; rm ready; echo nope; echo broken >&2; exit 3"
    hook = {"exec": {"command": ["sh", "-c", script]}}
    app = make("app", {"postStart": hook, "preStop": {"exec": {"command": ["touch", "prestop"]}}})
    app.task = asyncio.create_task(app.runner.run())
    await aeventually(lambda: app.runner.restart_count >= 2, what="the container restarts twice")
    await app.runner.stop(5)
    await app.task

    waiting = [s["state"]["waiting"] for s in app.states if "waiting" in s["state"]]
    assert {
        "reason": "PostStartHookError",
        "message": (
            f'Exec lifecycle hook ([sh -c {script}]) for Container "app" in Pod "{POD_DESC}" failed'
            f" - error: command 'sh -c {script}' exited with 3: broken\n, message: \"nope\\nbroken\\n\""
        ),
    } in waiting
    assert any(w["reason"] == "CrashLoopBackOff" for w in waiting), "repeated failures back off"
    assert not any("running" in s["state"] for s in app.states), "a container whose postStart failed never ran"
    # killed as upstream kills it: preStop first, then SIGTERM, which this container answers by exiting 0
    crashed = [s["lastState"]["terminated"] for s in app.states if s["lastState"]]
    assert crashed and all(t["exitCode"] == 0 and t["reason"] == "Completed" for t in crashed)
    terms = app.file("term").splitlines()
    assert len(terms) >= 2 and all(t.endswith(" True") for t in terms), "preStop ran before each SIGTERM"
    assert set(app.events) == {("Warning", "FailedPostStartHook", "PostStartHook failed")}


@pytest.fixture
async def http_server() -> AsyncIterator[tuple[int, list[str]]]:
    """An HTTP server that answers 500 and remembers each request's path and User-Agent."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.path} {request.headers.get('User-Agent')} {request.headers.get('X-Hook')}")
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield int(runner.addresses[0][1]), seen
    await runner.cleanup()


async def test_handlers_as_upstream_runs_them(tmp_path: Path, http_server: tuple[int, list[str]]) -> None:
    port, seen = http_server
    target = ProbeTarget(host="127.0.0.1", ports={"web": port}, env={"PATH": os.environ["PATH"]}, cwd="/", argv=list)

    async def run(handler: dict[str, Any]) -> str:
        try:
            await run_handler(handler, target, container="app", pod=POD_DESC)
        except HandlerError as exc:
            return str(exc)
        return ""

    where = f'for Container "app" in Pod "{POD_DESC}"'
    # httpGet: any answer will do (upstream ignores the status code); a refused connection fails
    headers = [{"name": "X-Hook", "value": "pre-stop"}]
    assert await run({"httpGet": {"path": "drain", "port": "web", "httpHeaders": headers}}) == ""
    assert seen == ["/drain kube-lifecycle/1.32 pre-stop"]
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    closed = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    failed = await run({"httpGet": {"path": "/drain", "port": closed}})
    assert failed.startswith(
        f'HTTP lifecycle hook (/drain) {where} failed - error: Get "http://127.0.0.1:{closed}/drain": '
    )
    assert (await run({"httpGet": {"path": "/x", "port": "nope"}})).endswith("failed - error: unknown port 'nope'")
    # exec
    assert await run({"exec": {"command": ["true"]}}) == ""
    assert await run({"exec": {"command": ["/no/such/program"]}}) == (
        f"Exec lifecycle hook ([/no/such/program]) {where} failed - error: cannot execute '/no/such/program':"
        ' No such file or directory, message: ""'
    )
    # sleep; and tcpSocket, which upstream's handler runner does not run
    assert await run({"sleep": {"seconds": 0}}) == ""
    assert (await run({"tcpSocket": {"port": port}})).startswith("Cannot run handler: invalid handler: ")
