"""The Terraformer as Gardener runs it: a Pod in the resource's namespace, with configuration and state in the seed.

`PodTerraformer` is the extension's side (Gardener's `extensions/pkg/terraformer`): it writes the configuration
ConfigMap `<name>.<purpose>.tf-config` (`main.tf`, `variables.tf`), the variables Secret `<name>.<purpose>.tf-vars`
(`terraform.tfvars`, plus the credentials as `TF_VAR_*` keys that the pod gets through `secretKeyRef`s) and an
empty state ConfigMap `<name>.<purpose>.tf-state`, makes sure the namespace has the ServiceAccount `terraformer`
with its Role and RoleBinding, and starts the pod `<name>.<purpose>.tf-<command>-<suffix>` that runs
`/terraformer <command>` (`extensions.terraformer.main`). It never blocks a worker thread on Terraform: while the
pod runs it raises `RequeueAfter`, and the next reconcile looks at the pod again. A pod that finished is deleted
(its outcome read from its termination message or log first); a pod that was killed or vanished is replaced by a
new one that goes on from the stored state; a pod that does not start in time is an error that says why; a pod
that applied an older configuration than the one asked for now (its checksum annotation) is followed by another.
A state the in-process Terraformer kept in the Secret `<name>.<purpose>.tf-state` moves to the ConfigMap.

The pod authenticates as `terraformer` with a token this side requests for it before the pod exists, bound to the
Secret `<pod>-token` that hands it over (kube-apiserver invalidates it with that Secret, which goes with the pod),
projected with the namespace where client libraries look for a service account's credentials; Gardener's resource
manager plays that part upstream.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import urllib3

from extensions.terraformer import tfvars
from extensions.terraformer.podspec import (
    CHECKSUM_ANNOTATION,
    CONTAINER,
    DEFAULT_IMAGE,
    FINALIZER,
    KILLED,
    LABEL_TOKEN,
    SERVICE_ACCOUNT,
    STATE_KEY,
    TFVARS_KEY,
    Names,
    RunResult,
    command_of,
    configuration,
    pod_manifest,
    rbac_manifests,
    state_outputs,
)
from extensions.terraformer.state import StateStore
from extensions.terraformer.terraformer import Config
from gardener.apis.extensions.v1alpha1 import ErrorCode
from gardener.runtime.errors import (
    ApiError,
    PermanentError,
    RequeueAfter,
    TemporaryError,
    Unreachable,
    api_error,
    retryable,
)
from gardener.runtime.kube import CONFIGMAPS, PODS, SECRETS, SERVICEACCOUNTS, Kube, Obj

__all__ = ["DEFAULT_IMAGE", "PodTerraformer"]

log = logging.getLogger("extensions.terraformer.pod")

#: the characters of kube's generated name suffixes
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def _timestamp(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text)).timestamp() if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class _Inputs:
    """What a pod gets: the configuration ConfigMap's data and the rendered variables, and their digest (the
    credentials count by name only: a digest of a secret is no place to keep it)."""

    config: dict[str, str]
    tfvars: str
    checksum: str

    @classmethod
    def of(cls, cfg: Config, names: Names) -> _Inputs:
        config = configuration(cfg.module)
        try:
            rendered = tfvars.render(cfg.variables)
        except ValueError as exc:
            raise PermanentError(f"terraform variables of {names.prefix}: {exc}") from None
        doc = json.dumps([config, rendered, sorted(cfg.secret_variables)], sort_keys=True)
        return cls(config, rendered, hashlib.sha256(doc.encode()).hexdigest()[:16])


class PodTerraformer:
    """`apply`, `destroy`, `outputs` and `state_exists` as the in-process `Terraformer` has them, run in pods.

    `apply` and `destroy` raise `RequeueAfter` until their pod has finished: call them again (each reconcile
    does) and they go on from what the seed shows, whichever replica of the extension calls.
    """

    def __init__(
        self,
        kube: Kube,
        *,
        image: str = DEFAULT_IMAGE,
        poll_interval: float = 2.0,
        pending_timeout: float = 300.0,
        run_timeout: float = 1200.0,
        grace: int = 3600,
        log_level: str = "info",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.image = image
        self.poll_interval = poll_interval
        self.pending_timeout = pending_timeout
        self.run_timeout = run_timeout
        self.grace = grace
        self.log_level = log_level
        self._clock = clock
        self._rng = random.Random()

    # ---- verbs ----

    def apply(self, cfg: Config) -> dict[str, Any]:
        """Create or update what the module describes; its outputs, read from the stored state."""
        self._execute(cfg, "apply")
        return self.outputs(cfg)

    def destroy(self, cfg: Config) -> None:
        """Destroy everything in the state, then delete the configuration, variables and state."""
        names = Names.of(cfg)
        if self._pods(names) or self._state_text(names):
            self._execute(cfg, "destroy")
        self._clean_up(names)

    def outputs(self, cfg: Config) -> dict[str, Any]:
        return state_outputs(self._state_text(Names.of(cfg)))

    def state_exists(self, cfg: Config) -> bool:
        return bool(self._state_text(Names.of(cfg)))

    # ---- one command in one pod ----

    def _execute(self, cfg: Config, command: str) -> None:
        """Return once a pod ran `command` to success; raise RequeueAfter while one runs, or its error."""
        names = Names.of(cfg)
        inputs = _Inputs.of(cfg, names)
        pods = self._pods(names)
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        mine = [p for p in live if command_of(p) == command][:1]
        stale = [p for p in live if p not in mine]
        for pod in stale:
            log.info("Deleting an old Terraformer pod", extra={"pod": self._key(pod), "command": command_of(pod)})
            self._delete_pod(pod)
        if len(pods) > len(mine):
            # never two Terraform runs on one state: wait until every other pod is gone from the API
            others = ", ".join(p["metadata"]["name"] for p in pods if p not in mine)
            raise RequeueAfter(f"Waiting for the old Terraformer pod(s) {others} to be gone", delay=self.poll_interval)
        if not mine:
            self._prepare(cfg, names, inputs)
            for leftover in self.kube.list(
                SECRETS.path(names.namespace), label_selector=f"{names.selector},{LABEL_TOKEN}"
            ):
                self.kube.delete(SECRETS.path(names.namespace, leftover["metadata"]["name"]))
            started = self._start(names, command, inputs=inputs, credentials=tuple(sorted(cfg.secret_variables)))
            raise RequeueAfter(
                f"Terraformer pod {started} runs terraform {command}", delay=self.poll_interval, progress=30
            )
        self._finish(mine[0], command)
        applied = (mine[0]["metadata"].get("annotations") or {}).get(CHECKSUM_ANNOTATION)
        if command == "apply" and applied != inputs.checksum:
            # the spec changed while the pod ran: what it applied is not what is asked for now
            raise RequeueAfter(
                f"The configuration changed while the Terraformer pod {mine[0]['metadata']['name']} ran; terraform "
                f"{command} runs again",
                delay=self.poll_interval,
            )

    def _finish(self, pod: Obj, command: str) -> None:
        """Act on what the pod's status says: done, failed, killed, still starting or still running."""
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        phase = status.get("phase") or "Pending"
        terminated = self._terminated(pod)
        if phase == "Succeeded":
            log.info("Terraformer pod finished successfully", extra={"pod": self._key(pod), "command": command})
            self._delete_pod(pod)
            return
        if phase == "Failed":
            code = terminated.get("exitCode") if terminated else None
            if isinstance(code, int) and code < KILLED:
                error = self._error(pod, command, code=code, message=str(terminated.get("message") or ""))
                self._delete_pod(pod)
                raise error
            log.warning("Terraformer pod was killed", extra={"pod": self._key(pod), "exitCode": code})
            self._delete_pod(pod)
            what = f"exit code {code}" if code is not None else str(status.get("reason") or "no exit code")
            raise RequeueAfter(
                f"Terraformer pod {name} was stopped ({what}); terraform {command} runs again from the stored state",
                delay=self.poll_interval,
            )
        now = self._clock()
        if phase == "Pending":
            created = _timestamp(pod["metadata"].get("creationTimestamp")) or now
            if now - created > self.pending_timeout:
                self._delete_pod(pod)
                raise TemporaryError(
                    f"Terraformer pod {self._key(pod)} did not start within {self.pending_timeout:.0f}s: "
                    f"{self._why_pending(pod)}",
                    delay=self.poll_interval,
                )
            raise RequeueAfter(f"Waiting for the Terraformer pod {name} to start", delay=self.poll_interval)
        started = _timestamp(status.get("startTime")) or now
        if now - started > self.run_timeout:
            self._delete_pod(pod)
            raise TemporaryError(
                f"Terraform execution for command '{command}' could not be completed: the Terraformer pod "
                f"{self._key(pod)} did not finish within {self.run_timeout:.0f}s",
                delay=self.poll_interval,
            )
        raise RequeueAfter(f"Waiting for the Terraformer pod {name} to complete", delay=self.poll_interval)

    @staticmethod
    def _terminated(pod: Obj) -> dict[str, Any]:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") == CONTAINER:
                return dict((status.get("state") or {}).get("terminated") or {})
        return {}

    @staticmethod
    def _why_pending(pod: Obj) -> str:
        status = pod.get("status") or {}
        for container in status.get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                return f"{waiting['reason']}: {waiting.get('message') or 'no message'}"
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") != "True":
                return f"{condition.get('reason') or 'Unschedulable'}: {condition.get('message') or 'no message'}"
        return "it was not scheduled to a node" if not (pod.get("spec") or {}).get("nodeName") else "it is Pending"

    def _error(self, pod: Obj, command: str, *, code: int, message: str) -> Exception:
        """The failure the pod reports in its termination message, else in its log; a plain one without either."""
        head = f"Terraform execution for command '{command}' could not be completed"
        result = RunResult.find(message) if message else None
        if result is None:
            try:
                result = RunResult.find(self._log_tail(pod))
            except ApiError as exc:
                return TemporaryError(
                    f"{head}: the Terraformer pod {pod['metadata']['name']} exited with code {code} and its log "
                    f"could not be read ({exc.message or exc.reason})",
                    delay=self.poll_interval,
                )
        if result is None or result.success:
            return TemporaryError(f"{head}: the Terraformer pod exited with code {code} without saying why")
        known = {c.value for c in ErrorCode}
        codes = [ErrorCode(c) for c in result.codes if c in known]
        text = f"{head}: {result.error}"
        if not result.retryable or not retryable(codes):
            return PermanentError(text, codes=codes)
        return TemporaryError(text, codes=codes, delay=result.delay)

    def _log_tail(self, pod: Obj) -> str:
        """The last lines of the pod's log (`pods/log` answers text, which the JSON client does not read)."""
        meta = pod["metadata"]
        params = [("container", CONTAINER), ("tailLines", "20")]
        api = self.kube.api
        method, url, headers, body, post = api.param_serialize(
            method="GET",
            resource_path=PODS.path(meta["namespace"], meta["name"], "log"),
            query_params=params,
            header_params={"Accept": "text/plain"},
            auth_settings=["BearerToken"],
        )
        try:
            response = api.call_api(method, url, headers, body, post, _request_timeout=(10.0, 30.0))
            response.read()  # type: ignore[no-untyped-call]
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(0, f"GET pods/log: {exc!r}") from exc
        if response.status >= 300:
            raise api_error(response.status, response.data or b"")
        return bytes(response.data or b"").decode(errors="replace")

    # ---- objects ----

    def _pods(self, names: Names) -> list[Obj]:
        return self.kube.list(PODS.path(names.namespace), label_selector=names.selector)

    def _prepare(self, cfg: Config, names: Names, inputs: _Inputs) -> None:
        """Configuration, variables and state as the pod reads them, and the account it runs as."""
        owner = [dict(cfg.owner)] if cfg.owner else None

        def meta(name: str) -> dict[str, Any]:
            m: dict[str, Any] = {"name": name, "namespace": names.namespace, "labels": names.labels}
            return {**m, "ownerReferences": owner} if owner else m

        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(names.config), "data": inputs.config}
        self.kube.ensure(CONFIGMAPS.path(names.namespace), config)
        data = {TFVARS_KEY: _b64(inputs.tfvars)} | {f"TF_VAR_{k}": _b64(v) for k, v in cfg.secret_variables.items()}
        variables = {"apiVersion": "v1", "kind": "Secret", "metadata": meta(names.variables), "type": "Opaque"}
        self.kube.ensure(SECRETS.path(names.namespace), {**variables, "data": data})
        if self.kube.get(CONFIGMAPS.path(names.namespace, names.state)) is None:
            self._create_state(names, meta(names.state))
        for resource, manifest in rbac_manifests(names.namespace):
            self.kube.ensure(resource.path(names.namespace), manifest)

    def _create_state(self, names: Names, meta: dict[str, Any]) -> None:
        """An empty state, or the one the in-process Terraformer kept in the Secret of the same name (moved)."""
        legacy = StateStore(self.kube, names.namespace, names.prefix)
        stored = legacy.load()
        text = stored.data.decode() if stored is not None else ""
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {STATE_KEY: text}}
        try:
            self.kube.create(CONFIGMAPS.path(names.namespace), body)
        except ApiError as exc:
            if exc.status != 409:
                raise
        if stored is not None:
            log.info(
                "Moved terraform state to its ConfigMap", extra={"namespace": names.namespace, "state": names.state}
            )
            legacy.delete()

    def _start(self, names: Names, command: str, *, inputs: _Inputs, credentials: tuple[str, ...]) -> str:
        """Create the pod's credentials (a token bound to the Secret that holds it), then the pod."""
        suffix = "".join(self._rng.choices(_SUFFIX_ALPHABET, k=5))
        pod_name = f"{names.prefix}.tf-{command}-{suffix}"
        token_secret = f"{pod_name}-token"
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": token_secret,
                "namespace": names.namespace,
                "labels": {**names.labels, LABEL_TOKEN: "pod"},
            },
            "type": "Opaque",
            "data": {"ca.crt": _b64(self._ca(names.namespace))},
        }
        holder = self.kube.create(SECRETS.path(names.namespace), secret)
        bound = {"apiVersion": "v1", "kind": "Secret", "name": token_secret, "uid": holder["metadata"]["uid"]}
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": int(self.pending_timeout + self.run_timeout + 600), "boundObjectRef": bound},
        }
        issued = self.kube.create(SERVICEACCOUNTS.path(names.namespace, SERVICE_ACCOUNT, "token"), request)
        secret_path = SECRETS.path(names.namespace, token_secret)
        self.kube.patch(secret_path, {"data": {"token": _b64(str(issued["status"]["token"]))}})
        manifest = pod_manifest(
            names=names,
            pod_name=pod_name,
            command=command,
            image=self.image,
            token_secret=token_secret,
            credentials=credentials,
            checksum=inputs.checksum,
            grace=self.grace,
            log_level=self.log_level,
        )
        pod = self.kube.create(PODS.path(names.namespace), manifest)
        log.info("Created Terraformer pod", extra={"pod": self._key(pod), "command": command})
        # the credentials go with the pod (a token bound to its Secret dies with that Secret)
        owner = {"apiVersion": "v1", "kind": "Pod", "name": pod_name, "uid": pod["metadata"]["uid"]}
        self.kube.patch(secret_path, {"metadata": {"ownerReferences": [owner]}})
        return pod_name

    def _ca(self, namespace: str) -> bytes:
        """The CA this extension trusts for the API server, else the namespace's `kube-root-ca.crt`."""
        path = getattr(self.kube.api.configuration, "ssl_ca_cert", None)
        if path and Path(path).is_file():
            return Path(path).read_bytes()
        root = self.kube.get(CONFIGMAPS.path(namespace, "kube-root-ca.crt")) or {}
        ca = str((root.get("data") or {}).get("ca.crt") or "")
        if not ca:
            raise PermanentError("no CA is known to verify the API server with from a Terraformer pod")
        return ca.encode()

    def _delete_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        self.kube.delete(SECRETS.path(meta["namespace"], f"{meta['name']}-token"))
        self.kube.delete(PODS.path(meta["namespace"], meta["name"]))

    def _state_text(self, names: Names) -> str:
        state = self.kube.get(CONFIGMAPS.path(names.namespace, names.state))
        if state is not None:
            return str((state.get("data") or {}).get(STATE_KEY) or "")
        legacy = StateStore(self.kube, names.namespace, names.prefix).load()
        return legacy.data.decode() if legacy is not None else ""

    def _clean_up(self, names: Names) -> None:
        """Gardener's CleanupConfiguration: state, variables and configuration go (their finalizers first)."""
        for resource, name in ((CONFIGMAPS, names.state), (SECRETS, names.variables), (CONFIGMAPS, names.config)):
            path = resource.path(names.namespace, name)
            obj = self.kube.get(path)
            if obj is None:
                continue
            finalizers = obj["metadata"].get("finalizers") or []
            if FINALIZER in finalizers:
                rest = [f for f in finalizers if f != FINALIZER] or None
                meta = {"finalizers": rest, "resourceVersion": obj["metadata"]["resourceVersion"]}
                self.kube.patch(path, {"metadata": meta})
            self.kube.delete(path)
        StateStore(self.kube, names.namespace, names.prefix).delete()
        log.info("Cleaned up terraform configuration", extra={"namespace": names.namespace, "prefix": names.prefix})

    @staticmethod
    def _key(pod: Obj) -> str:
        return f"{pod['metadata'].get('namespace')}/{pod['metadata'].get('name')}"
