"""One pod on this node: its directory, address, volumes, init and app containers, and status.

A worker runs from the moment the pod is bound here until its containers are stopped. Its pod
directory `<data-dir>/pods/<namespace>_<name>_<uid>` holds the volumes, one directory per
container (pid file and log) and `pod.json`, which lets a restarted agent find what it ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from extensions.provider_local.nodeagent.container import ContainerRunner, Launch
from extensions.provider_local.nodeagent.expand import ConfigError, PodFields, container_env, expand_all, service_env
from extensions.provider_local.nodeagent.images import ImageTable, base_variables
from extensions.provider_local.nodeagent.objects import merge_patch, now_rfc3339, set_condition
from extensions.provider_local.nodeagent.probes import ProbeTarget
from extensions.provider_local.nodeagent.process import stop_recorded
from extensions.provider_local.nodeagent.runtime import Node
from extensions.provider_local.nodeagent.tokens import key_for
from extensions.provider_local.nodeagent.volumes import container_mounts, prepare_volumes, rewriter
from gardener.runtime.events import EventRecorder

log = logging.getLogger("provider_local.nodeagent.pod")

Obj = dict[str, Any]
VOLUME_RETRY_SECONDS = 2.0
STATUS_COALESCE_SECONDS = 0.05
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


#: put first on every pod's PYTHONPATH
POD_NET_SHIM = Path(__file__).resolve().parent / "podnet"
POD_IP_ENV = "GARDENER_LOCAL_POD_IP"


def pod_dir_name(namespace: str, name: str, uid: str) -> str:
    return f"{namespace}_{name}_{uid}"


def grace_of(pod: Obj, cap: float) -> float:
    """The grace a deletion gave (`deletionGracePeriodSeconds`, e.g. `kubectl delete --grace-period`), else the
    pod's `terminationGracePeriodSeconds`, as upstream's kubelet; capped by the node's `--max-grace-period`."""
    value = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
    if value is None:
        value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return float(min(30 if value is None else max(int(value), 0), cap))


class PodWorker:
    def __init__(self, node: Node, pod: Obj) -> None:
        self.node = node
        self.pod = pod
        m = pod["metadata"]
        self.namespace, self.name, self.uid = str(m["namespace"]), str(m["name"]), str(m["uid"])
        self.dir = node.pods_dir / pod_dir_name(self.namespace, self.name, self.uid)
        spec = pod.get("spec") or {}
        self.restart_policy = str(spec.get("restartPolicy") or "Always")
        self.ip = ""
        self.volumes: dict[str, Path] = {}
        self.volume_error = ""
        self.init_runners: list[ContainerRunner] = []
        self.runners: list[ContainerRunner] = []
        self.initialized = False
        self.init_failed = False
        self.finished = asyncio.Event()
        self._written: Obj | None = pod.get("status")
        self._dirty = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._terminate_task: asyncio.Task[None] | None = None
        #: made at the first event: most pods never have one to post
        self._recorder: EventRecorder | None = None
        previous = pod.get("status") or {}
        self._start_time = str(previous.get("startTime") or now_rfc3339())
        self._conditions: list[Obj] = list(previous.get("conditions") or [])
        self._previous = {
            str(s.get("name")): dict(s)
            for s in (previous.get("containerStatuses") or []) + (previous.get("initContainerStatuses") or [])
        }
        self._was_initialized = any(
            c.get("type") == "Initialized" and c.get("status") == "True" for c in self._conditions
        ) or any(self._container_dir(str(c.get("name"))).joinpath("pid").exists() for c in spec.get("containers") or [])

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    @property
    def terminating(self) -> bool:
        return self._stopping

    def _container_dir(self, name: str) -> Path:
        return self.dir / "containers" / name

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"pod-{self.namespace}/{self.name}"),
            asyncio.create_task(self._status_loop(), name=f"pod-status-{self.namespace}/{self.name}"),
        ]

    def update(self, pod: Obj) -> None:
        """A newer version of the pod: refresh volumes, and restore our status if someone replaced it."""
        self.pod = pod
        if self.ip and not self._stopping:
            with contextlib.suppress(ConfigError, OSError):
                self.volumes = self._prepare_volumes()
        if pod.get("status") != self._written:
            self._written = pod.get("status")
            self.changed()

    def changed(self) -> None:
        self._dirty.set()

    # ---- life cycle ----

    async def _run(self) -> None:
        try:
            await self._run_pod()
        except Exception:
            # Unexpected: leave the containers as they are; status shows what is known.
            log.exception("Pod worker failed", extra={"pod": f"{self.namespace}/{self.name}"})

    async def _run_pod(self) -> None:
        if (self.pod.get("spec") or {}).get("hostNetwork"):
            self.ip = self.node.host_ip
        else:
            self.ip = self.node.pod_ips.allocate(
                f"{self.namespace}/{self.name}", preferred=(self.pod.get("status") or {}).get("podIP")
            )
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        meta = {"namespace": self.namespace, "name": self.name, "uid": self.uid, "grace": self.grace}
        (self.dir / "pod.json").write_text(json.dumps(meta))
        self.changed()
        while not self._stopping:
            try:
                self.volumes = self._prepare_volumes()
                self.volume_error = ""
                break
            except (ConfigError, OSError) as exc:
                if self.volume_error != str(exc):
                    log.warning("Volumes not ready", extra={"pod": f"{self.namespace}/{self.name}", "error": str(exc)})
                self.volume_error = str(exc)
                self.changed()
                await asyncio.sleep(VOLUME_RETRY_SECONDS)
        spec = self.pod.get("spec") or {}
        if not self._was_initialized:
            for container in spec.get("initContainers") or []:
                runner = self._runner(container, restart=lambda code: self.restart_policy != "Never" and code != 0)
                self.init_runners.append(runner)
                if self._stopping:
                    return
                code = await runner.run()
                if code != 0:
                    self.init_failed = not self._stopping
                    self.changed()
                    return
        self.initialized = True
        self.runners = [self._runner(c, restart=self._restart) for c in spec.get("containers") or []]
        self.changed()
        if not self._stopping:
            await asyncio.gather(*(r.run() for r in self.runners))
        self.changed()

    def _restart(self, code: int | None) -> bool:
        if self.restart_policy == "Always":
            return True
        return self.restart_policy == "OnFailure" and code != 0

    def _runner(self, container: Obj, *, restart: Callable[[int | None], bool]) -> ContainerRunner:
        name = str(container["name"])
        return ContainerRunner(
            container,
            directory=self._container_dir(name),
            launcher=self.launch,
            restart=restart,
            backoff=self.node.backoff,
            on_change=self.changed,
            restart_count=int(self._previous.get(name, {}).get("restartCount") or 0),
            previous=self._previous.get(name),
            on_restart=self.node.metrics.container_restarts.inc,
            grace=self.grace,
            pod=f"{self.namespace}/{self.name}",
            pod_desc=f"{self.name}_{self.namespace}({self.uid})",
            on_event=self._event,
        )

    def _event(self, type_: str, reason: str, message: str) -> None:
        """Post an event about this pod as upstream's kubelet does (source `kubelet`, host this node)."""
        if self._recorder is None:
            self._recorder = EventRecorder(self.node.client, component="kubelet", host=self.node.name)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": self.pod.get("metadata") or {}}
        self._recorder.emit(pod, type_, reason, message)

    @property
    def grace(self) -> float:
        return grace_of(self.pod, self.node.max_grace)

    def _prepare_volumes(self) -> dict[str, Path]:
        return prepare_volumes(
            self.pod,
            pod_dir=self.dir,
            pvc_root=self.node.pvc_root,
            fields=self._fields(),
            secret=lambda name: self.node.secrets.get(self.namespace, name),
            configmap=lambda name: self.node.configmaps.get(self.namespace, name),
            token=self._token,
        )

    def _token(self, audience: str, expiration: int) -> str | None:
        tokens = self.node.tokens
        return None if tokens is None else tokens.get(key_for(self.pod, audience, expiration))

    def _fields(self) -> PodFields:
        return PodFields.of(self.pod, pod_ip=self.ip, host_ip=self.node.host_ip)

    def launch(self, container: Obj) -> Launch:
        """The host command of a container: environment, volume paths, `$(VAR)` expansion, image table (an exec
        runs beside it with the same environment)."""
        spec = self.pod.get("spec") or {}
        links = spec.get("enableServiceLinks", True) is not False
        env = container_env(
            container,
            pod=self._fields(),
            secret=lambda name: self.node.secrets.get(self.namespace, name),
            configmap=lambda name: self.node.configmaps.get(self.namespace, name),
            services={
                **(
                    service_env(self.node.services.items(self.namespace), address=self.node.service_address)
                    if links
                    else {}
                ),
                # the API server at its own address (which its certificate names), also in `default`, where the
                # `kubernetes` Service's variables would name a node-local alias
                **self.node.api_service_env(),
            },
        )
        rewrite = rewriter(container_mounts(container, self.volumes, env))
        env = {k: rewrite(v) for k, v in env.items()}
        command = [rewrite(a) for a in expand_all(container.get("command") or [], env)]
        args = [rewrite(a) for a in expand_all(container.get("args") or [], env)]
        variables = self._variables()
        images: ImageTable = self.node.images
        image = str(container.get("image") or "")
        host = images.launch(image, command=command, args=args, variables=variables)
        cwd = self._container_dir(str(container["name"]))
        working = container.get("workingDir")
        if working and os.path.isdir(rewrite(str(working))):
            cwd = Path(rewrite(str(working)))
        hostname = str(spec.get("hostname") or self.name)
        base = {"PATH": os.environ.get("PATH", DEFAULT_PATH), "HOME": str(self.dir), "HOSTNAME": hostname}
        full_env = {**base, **host.env, **env}
        # Python programs bind the pod's address for a wildcard (see podnet/sitecustomize.py)
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(POD_NET_SHIM), full_env.get("PYTHONPATH"))))
        full_env[POD_IP_ENV] = self.ip
        ports = {str(p["name"]): int(p["containerPort"]) for p in container.get("ports") or [] if p.get("name")}
        target = ProbeTarget(
            host=self.ip,
            ports=ports,
            env=full_env,
            cwd=str(cwd),
            argv=lambda cmd: images.helper_argv(image, [rewrite(c) for c in cmd], variables),
        )
        return Launch(argv=list(host.argv), env=full_env, cwd=cwd, probe_target=target)

    def _variables(self) -> dict[str, str]:
        return {
            **base_variables(data_dir=self.node.data_dir, node_name=self.node.name),
            "pod_ip": self.ip,
            "host_ip": self.node.host_ip,
            "pod_dir": str(self.dir),
            "pod_name": self.name,
            "namespace": self.namespace,
        }

    def begin_termination(self, *, remove_dir: bool) -> None:
        """Stop every container (SIGTERM, SIGKILL after the grace period); `finished` is set when done."""
        if self._terminate_task is None:
            self._stopping = True
            self._terminate_task = asyncio.create_task(self._terminate(remove_dir=remove_dir))

    async def _terminate(self, *, remove_dir: bool) -> None:
        grace = self.grace
        log.info("Stopping pod", extra={"pod": f"{self.namespace}/{self.name}", "grace": grace})
        try:
            await asyncio.gather(*(r.stop(grace) for r in self.init_runners + self.runners))
            run, status = self._tasks
            await asyncio.wait({run}, timeout=5)
            run.cancel()
            await asyncio.gather(run, return_exceptions=True)
            await self._flush_status()
            status.cancel()
            await asyncio.gather(status, return_exceptions=True)
        finally:
            # Whatever happened, nothing of the pod may keep running.
            for pid_file in self.dir.glob("containers/*/pid"):
                await stop_recorded(pid_file, 0)
            if remove_dir:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.finished.set()

    async def detach(self) -> None:
        """Stop watching over the containers but leave them running, for the next agent to adopt."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- status ----

    def status(self) -> Obj:
        spec = self.pod.get("spec") or {}
        statuses = {r.name: r.status() for r in self.runners}
        containers = [statuses.get(str(c["name"])) or self._waiting(c) for c in spec.get("containers") or []]
        init_statuses = {r.name: r.status() for r in self.init_runners}
        init = [init_statuses.get(str(c["name"])) or self._waiting(c) for c in spec.get("initContainers") or []]
        if self._was_initialized:
            init = [self._done(c) for c in spec.get("initContainers") or []]
        ready = bool(self.runners) and all(r.ready for r in self.runners) and not self._stopping
        conditions = self._conditions
        conditions = set_condition(conditions, "PodScheduled", True)
        conditions = set_condition(conditions, "Initialized", self.initialized)
        conditions = set_condition(conditions, "ContainersReady", ready)
        conditions = set_condition(conditions, "Ready", ready)
        self._conditions = conditions
        order = {"PodScheduled": 0, "Initialized": 1, "ContainersReady": 2, "Ready": 3}
        status: Obj = {
            "phase": self._phase(),
            "conditions": sorted(conditions, key=lambda c: order.get(str(c.get("type")), 9)),
            "hostIP": self.node.host_ip,
            "hostIPs": [{"ip": self.node.host_ip}],
            "startTime": self._start_time,
            "containerStatuses": containers,
            "qosClass": "BestEffort",
        }
        if self.ip:
            status["podIP"] = self.ip
            status["podIPs"] = [{"ip": self.ip}]
        if init:
            status["initContainerStatuses"] = init
        return status

    def _waiting(self, container: Obj) -> Obj:
        waiting: Obj = {"reason": "PodInitializing" if self.runners or self.init_runners else "ContainerCreating"}
        if self.volume_error:
            waiting["message"] = self.volume_error
        return {
            "name": container["name"],
            "image": container.get("image", ""),
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": int(self._previous.get(str(container["name"]), {}).get("restartCount") or 0),
            "state": {"waiting": waiting},
            "lastState": {},
        }

    def _done(self, container: Obj) -> Obj:
        return {**self._waiting(container), "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}

    def _phase(self) -> str:
        if self.init_failed:
            return "Failed"
        if not self.initialized or any(not r.ever_started for r in self.runners):
            return "Pending"
        if self.restart_policy == "Always" or any("terminated" not in r.state for r in self.runners):
            return "Running"
        return "Succeeded" if all(r.exit_code == 0 for r in self.runners) else "Failed"

    async def _status_loop(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(STATUS_COALESCE_SECONDS)
            self._dirty.clear()
            await self._flush_status()

    async def _flush_status(self) -> None:
        status = self.status()
        if status == self._written:
            return
        ok = await self.node.write_pod_status(self.namespace, self.name, self.uid, merge_patch(self._written, status))
        if ok:
            self._written = status
        elif ok is None:
            # A transient failure: try again shortly.
            asyncio.get_running_loop().call_later(1.0, self._dirty.set)
