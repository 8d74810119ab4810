"""`python -m extensions.terraformer.main apply|destroy|validate --configuration-configmap-name=... ...`: the
program a Terraformer pod runs (gardener/terraformer's flags).

It reads `main.tf` and `variables.tf` from the configuration ConfigMap and `terraform.tfvars` from the variables
Secret, takes credentials from its `TF_VAR_*` environment, and runs Terraform with the in-process machinery
(`extensions.terraformer.terraformer`), whose state store here is the state ConfigMap: the state is written there
while Terraform runs and once more at its end. Its last line on stdout is a one-line JSON result (a kubelet hands
it to the extension as the termination message, `FallbackToLogsOnError`), and its exit code is 0 (done), 1
(failed, see the result), 2 (bad flags) or 143 (stopped by a signal before it could finish).

It reaches the API with `--kubeconfig` (or `$KUBECONFIG`), else as its pod's service account:
`KUBERNETES_SERVICE_HOST`/`_PORT` and the token, CA and namespace in `$TERRAFORMER_SERVICE_ACCOUNT_DIR`, by
default the standard `/var/run/secrets/kubernetes.io/serviceaccount`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from extensions.terraformer import tfvars
from extensions.terraformer.podspec import (
    EXIT_FAILED,
    FINALIZER,
    SERVICE_ACCOUNT_DIR,
    SERVICE_ACCOUNT_DIR_ENV,
    STATE_KEY,
    TFVARS_KEY,
    RunResult,
)
from extensions.terraformer.state import StateStore, StoredState
from extensions.terraformer.terraformer import Config, Terraformer
from gardener.runtime import logs
from gardener.runtime.errors import ApiError, PermanentError, TemporaryError, classify, retryable
from gardener.runtime.kube import CONFIGMAPS, SECRETS, Kube, finalizer_patch, secret_data

log = logging.getLogger("extensions.terraformer.main")

COMMANDS = ("apply", "destroy", "validate")
EXIT_INTERRUPTED = 128 + signal.SIGTERM


@dataclass(frozen=True)
class Options:
    command: str
    namespace: str
    configuration: str
    state: str
    variables: str


class ConfigMapStateStore(StateStore):
    """The state in the ConfigMap `--state-configmap-name` (key `terraform.tfstate`), guarded by its
    resourceVersion like the Secret store. An empty state reads as none; deleting one empties it, because the
    ConfigMap itself goes with the configuration, which the extension deletes after a destroy."""

    def __init__(self, kube: Kube, namespace: str, name: str) -> None:
        super().__init__(kube, namespace, name)
        self.secret_name = name

    @property
    def path(self) -> str:
        return CONFIGMAPS.path(self.namespace, self.secret_name)

    def load(self) -> StoredState | None:
        cm = self.kube.get(self.path)
        text = str(((cm or {}).get("data") or {}).get(STATE_KEY) or "")
        return StoredState(text.encode(), cm["metadata"].get("resourceVersion")) if cm and text else None

    def save(self, data: bytes, current: StoredState | None) -> StoredState:
        version = current.resource_version if current is not None else None
        if version is None:
            cm = self.kube.get(self.path)
            if cm is None:
                meta = {"name": self.secret_name, "namespace": self.namespace, "finalizers": [FINALIZER]}
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {STATE_KEY: data.decode()}}
                created = self.kube.create(CONFIGMAPS.path(self.namespace), body)
                return StoredState(data, created["metadata"]["resourceVersion"])
            if (cm.get("data") or {}).get(STATE_KEY):
                raise TemporaryError(f"terraform state {self.namespace}/{self.secret_name} changed concurrently")
            version = cm["metadata"]["resourceVersion"]
        try:
            patched = self.kube.patch(
                self.path, {"metadata": {"resourceVersion": version}, "data": {STATE_KEY: data.decode()}}
            )
        except ApiError as exc:
            if exc.status == 409:
                raise TemporaryError(
                    f"terraform state {self.namespace}/{self.secret_name} changed concurrently", delay=2.0
                ) from exc
            raise
        return StoredState(data, patched["metadata"]["resourceVersion"])

    def delete(self) -> None:
        if self.kube.get(self.path) is not None:
            self.kube.patch(self.path, {"data": {STATE_KEY: ""}})


class _PodRun(Terraformer):
    """The in-process Terraformer with its state in the state ConfigMap."""

    def __init__(self, kube: Kube, *, state: str, timeout: float) -> None:
        super().__init__(kube, timeout=timeout)
        self.state_name = state

    def store(self, cfg: Config) -> StateStore:
        return ConfigMapStateStore(self.kube, cfg.namespace, self.state_name)


def parse_args(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="terraformer", description="Run Terraform with configuration and state in the API")
    p.add_argument("command", choices=COMMANDS)
    p.add_argument("--kubeconfig", default="", help="kubeconfig (default: $KUBECONFIG, else the pod's account)")
    p.add_argument("-n", "--namespace", default="", help="namespace of the objects (default: $NAMESPACE, the pod's)")
    p.add_argument("--configuration-configmap-name", required=True, help="ConfigMap with main.tf and variables.tf")
    p.add_argument("--state-configmap-name", required=True, help="ConfigMap the terraform.tfstate is kept in")
    p.add_argument("--variables-secret-name", required=True, help="Secret with terraform.tfvars")
    p.add_argument("--zap-log-level", default="info", help="debug, info or error (gardener/terraformer's flag)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds one terraform command may take")
    args = p.parse_args(argv)
    options = Options(
        command=args.command,
        namespace=args.namespace or os.environ.get("NAMESPACE", ""),
        configuration=args.configuration_configmap_name,
        state=args.state_configmap_name,
        variables=args.variables_secret_name,
    )
    return options, args


def connect(kubeconfig: str, namespace: str) -> tuple[Kube, str]:
    """A client and the namespace to work in: from a kubeconfig, else as the pod's service account."""
    path = kubeconfig or os.environ.get("KUBECONFIG", "")
    if path:
        if not namespace:
            raise PermanentError("--namespace (or $NAMESPACE) is needed with a kubeconfig")
        return Kube.from_kubeconfig(path, field_manager="terraformer"), namespace
    account = Path(os.environ.get(SERVICE_ACCOUNT_DIR_ENV) or SERVICE_ACCOUNT_DIR)
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise PermanentError("no kubeconfig, and KUBERNETES_SERVICE_HOST/PORT are not set")
    missing = [name for name in ("token", "ca.crt") if not (account / name).is_file()]
    if missing:
        raise PermanentError(f"no kubeconfig, and no service account {' and '.join(missing)} in {account}")
    if not namespace and (account / "namespace").is_file():
        namespace = (account / "namespace").read_text().strip()
    if not namespace:
        raise PermanentError(f"no namespace given and none in {account}")
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    # the in-cluster configuration, as a kubeconfig (the runtime's client reads those); the token stays in its file
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "in-cluster", "cluster": {"server": server, "certificate-authority": str(account / "ca.crt")}}
        ],
        "users": [{"name": "service-account", "user": {"tokenFile": str(account / "token")}}],
        "contexts": [{"name": "in-cluster", "context": {"cluster": "in-cluster", "user": "service-account"}}],
        "current-context": "in-cluster",
    }
    return Kube.from_kubeconfig_text(json.dumps(config), field_manager="terraformer"), namespace


def _set_finalizers(kube: Kube, paths: list[str], *, present: bool) -> None:
    """Gardener's terraformer finalizer on its objects: set while it works, removed after a destroy."""
    for path in paths:
        obj = kube.get(path)
        patch = finalizer_patch(obj, FINALIZER, present=present) if obj is not None else None
        if patch is not None:
            kube.patch(path, patch)


def load_config(kube: Kube, options: Options, workdir: Path) -> Config:
    """The module (written to `workdir`), variables and credentials of this run."""
    cm = kube.get(CONFIGMAPS.path(options.namespace, options.configuration))
    if cm is None:
        raise TemporaryError(f"configuration ConfigMap {options.namespace}/{options.configuration} not found")
    for key, text in (cm.get("data") or {}).items():
        if key.endswith(".tf") and "/" not in key:
            (workdir / key).write_text(str(text))
    secret = kube.get(SECRETS.path(options.namespace, options.variables))
    if secret is None:
        raise TemporaryError(f"variables Secret {options.namespace}/{options.variables} not found")
    try:
        variables = tfvars.parse(secret_data(secret).get(TFVARS_KEY, b"").decode())
    except ValueError as exc:
        raise PermanentError(str(exc)) from None
    credentials = {k.removeprefix("TF_VAR_"): v for k, v in os.environ.items() if k.startswith("TF_VAR_")}
    return Config(
        name=options.state,
        namespace=options.namespace,
        module=workdir,
        variables=variables,
        secret_variables=credentials,
    )


def run(kube: Kube, options: Options, *, timeout: float) -> RunResult:
    """One Terraformer command, start to end; failures come back as a result, not raised."""
    tf = _PodRun(kube, state=options.state, timeout=timeout)
    objects = [
        CONFIGMAPS.path(options.namespace, options.configuration),
        SECRETS.path(options.namespace, options.variables),
        CONFIGMAPS.path(options.namespace, options.state),
    ]
    try:
        with tempfile.TemporaryDirectory(prefix="terraformer-config-") as workdir:
            cfg = load_config(kube, options, Path(workdir))
            store = tf.store(cfg)
            if options.command == "destroy" and store.load() is None:
                _set_finalizers(kube, objects, present=False)
                return RunResult(options.command, success=True, outputs={})
            _set_finalizers(kube, objects, present=True)
            if options.command == "validate":
                tf.plan(cfg)
                return RunResult(options.command, success=True, outputs={})
            if options.command == "destroy":
                tf.destroy(cfg)
                _set_finalizers(kube, objects, present=False)
                return RunResult(options.command, success=True, outputs={})
            outputs = tf.apply(cfg)
            stored = store.load()
            return RunResult(options.command, success=True, outputs=_shown(outputs, stored))
    except Exception as exc:
        err = classify(exc)
        log.warning("Terraformer failed", extra={"command": options.command, "error": err.message})
        return RunResult(
            options.command,
            success=False,
            error=err.message,
            codes=tuple(str(c) for c in err.codes),
            retryable=not isinstance(err, PermanentError) and retryable(err.codes),
            delay=err.delay if isinstance(err, TemporaryError) else 0.0,
        )


def _shown(outputs: dict[str, Any], state: StoredState | None) -> dict[str, Any]:
    """Outputs fit for a log: those the state does not mark sensitive."""
    recorded = json.loads(state.data or b"{}").get("outputs") if state is not None else {}
    return {k: v for k, v in outputs.items() if not ((recorded or {}).get(k) or {}).get("sensitive")}


class _Interrupts:
    """SIGTERM and SIGINT are noted, not obeyed at once: Terraform stops gracefully on its own interrupt, and its
    state must still be stored. A host runtime signals the whole process group, Terraform included; a container
    runtime signals only its first process, which then passes the interrupt on, once (a second one would make
    Terraform stop at once, as gardener/terraformer knows)."""

    def __init__(self) -> None:
        self.received: int | None = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._note)

    def _note(self, signum: int, _: FrameType | None) -> None:
        if self.received is not None:
            return
        self.received = signum
        log.info("Interrupt received, waiting for terraform to stop", extra={"signal": signum})
        if os.getpid() == 1:
            os.killpg(0, signal.SIGINT)


def main(argv: list[str] | None = None) -> None:
    options, args = parse_args(argv)
    logs.setup_logging(verbose=args.zap_log_level == "debug")
    interrupts = _Interrupts()
    log.info("Terraformer started", extra={"command": options.command, "state": options.state})
    try:
        kube, namespace = connect(args.kubeconfig, options.namespace)
    except PermanentError as exc:
        result = RunResult(options.command, success=False, error=exc.message, retryable=False)
    else:
        result = run(kube, dataclasses.replace(options, namespace=namespace), timeout=args.timeout)
        kube.close()
    sys.stderr.flush()
    print(result.line(), flush=True)
    if result.success:
        sys.exit(0)
    sys.exit(EXIT_INTERRUPTED if interrupts.received is not None else EXIT_FAILED)


if __name__ == "__main__":
    main()
