"""Running Terraform: one command at a time, in a fresh work directory, with the state from the seed.

Every run copies the module into a temporary directory, writes the state it loaded from the seed next to it,
runs `terraform init` and the command with `-input=false -no-color`, and writes the state back to the seed
while the command runs (whenever the file changes) and when it ends, failed or not. Terraform never asks, never
reads a user's CLI configuration and uses no plugin cache; credentials come in as `TF_VAR_` environment
variables and are never logged or put on a command line.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from extensions.terraformer.errors import classify
from extensions.terraformer.state import StateStore, StoredState
from gardener.runtime.errors import PermanentError, TemporaryError
from gardener.runtime.kube import Kube

log = logging.getLogger("extensions.terraformer")

RUNS = Counter("terraformer_runs_total", "Terraform commands run, by command and result.", ["command", "result"])

STATE_FILE = "terraform.tfstate"
VARS_FILE = "terraform.tfvars.json"
#: environment passed through to Terraform; everything else of ours stays out
PASS_ENV = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR")


def find_terraform() -> str | None:
    """/usr/local/bin/terraform, else `terraform` on PATH."""
    if os.access("/usr/local/bin/terraform", os.X_OK):
        return "/usr/local/bin/terraform"
    return shutil.which("terraform")


@dataclass(frozen=True)
class Config:
    """One Terraform configuration of one resource."""

    #: names the state Secret `<name>.tf-state`
    name: str
    namespace: str
    module: Path
    #: plain inputs, written to terraform.tfvars.json
    variables: Mapping[str, Any] = field(default_factory=dict)
    #: sensitive inputs, passed as TF_VAR_<name> environment variables only
    secret_variables: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: ownerReference for the state Secret
    owner: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr: str
    exit_code: int

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Terraformer:
    def __init__(
        self, kube: Kube, *, binary: str | None = None, timeout: float = 600.0, sync_interval: float = 1.0
    ) -> None:
        self._binary = binary
        self.kube = kube
        self.timeout = timeout
        self.sync_interval = sync_interval

    @property
    def binary(self) -> str:
        """Found when first needed, so an extension without Terraform still serves its other kinds."""
        found = self._binary or find_terraform()
        if not found:
            raise PermanentError("terraform is not installed (looked for /usr/local/bin/terraform and PATH)")
        return found

    def store(self, cfg: Config) -> StateStore:
        return StateStore(self.kube, cfg.namespace, cfg.name, owner=cfg.owner)

    # ---- verbs ----

    def apply(self, cfg: Config) -> dict[str, Any]:
        """Create or update what the module describes; its outputs (name -> value)."""
        with _Workdir(self, cfg) as wd:
            wd.run("apply", ["apply", "-input=false", "-no-color", "-auto-approve", f"-var-file={VARS_FILE}"])
            return wd.outputs()

    def plan(self, cfg: Config) -> bool:
        """Whether applying would change anything (`plan -detailed-exitcode`)."""
        with _Workdir(self, cfg) as wd:
            result = wd.run(
                "plan",
                ["plan", "-input=false", "-no-color", "-lock=false", "-detailed-exitcode", f"-var-file={VARS_FILE}"],
                ok=(0, 2),
                save=False,
            )
            return result.exit_code == 2

    def outputs(self, cfg: Config) -> dict[str, Any]:
        with _Workdir(self, cfg) as wd:
            return wd.outputs()

    def destroy(self, cfg: Config) -> None:
        """Destroy everything in the state, then delete the state Secret; nothing to do without a state."""
        store = self.store(cfg)
        if store.load() is None:
            return
        with _Workdir(self, cfg) as wd:
            wd.run("destroy", ["destroy", "-input=false", "-no-color", "-auto-approve", f"-var-file={VARS_FILE}"])
            if wd.resources_left():
                raise TemporaryError("terraform destroy left resources in the state", delay=5.0)
        store.delete()
        log.info("Deleted terraform state", extra={"namespace": cfg.namespace, "state": store.secret_name})

    def state_exists(self, cfg: Config) -> bool:
        return self.store(cfg).load() is not None


class _Workdir:
    """A temporary directory with the module, the variables and the state; gone afterwards."""

    def __init__(self, tf: Terraformer, cfg: Config) -> None:
        self.tf = tf
        self.cfg = cfg
        self.store = tf.store(cfg)
        self.dir = Path(tempfile.mkdtemp(prefix=f"terraformer-{cfg.name}-"))
        self._stored: StoredState | None = None
        self._initialized = False
        self._lock = threading.Lock()

    def __enter__(self) -> _Workdir:
        if not self.cfg.module.is_dir():
            raise PermanentError(f"terraform module {self.cfg.module} does not exist")
        for item in self.cfg.module.iterdir():
            if item.is_file() and (item.suffix == ".tf" or item.name.endswith(".tf.json")):
                shutil.copy2(item, self.dir / item.name)
        (self.dir / VARS_FILE).write_text(json.dumps(dict(self.cfg.variables)))
        (self.dir / ".terraformrc").write_text("")
        self._stored = self.store.load()
        if self._stored is not None and self._stored.data:
            (self.dir / STATE_FILE).write_bytes(self._stored.data)
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.update(
            {
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "TF_CLI_CONFIG_FILE": str(self.dir / ".terraformrc"),
                "TF_DATA_DIR": str(self.dir / ".terraform"),
                "CHECKPOINT_DISABLE": "1",
            }
        )
        for name, value in self.cfg.secret_variables.items():
            env[f"TF_VAR_{name}"] = value
        return env

    def _exec(self, args: Sequence[str]) -> Result:
        try:
            proc = subprocess.run(
                [self.tf.binary, *args],
                cwd=self.dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.tf.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TemporaryError(f"terraform {args[0]} did not finish within {self.tf.timeout:.0f}s") from exc
        except OSError as exc:
            raise PermanentError(f"cannot run terraform: {exc.strerror}") from exc
        return Result(proc.stdout, proc.stderr, proc.returncode)

    def _init(self) -> None:
        if self._initialized:
            return
        result = self._exec(["init", "-input=false", "-no-color", "-backend=false"])
        if result.exit_code != 0:
            RUNS.labels("init", "error").inc()
            raise classify("init", result.output)
        self._initialized = True

    def run(self, command: str, args: Sequence[str], *, ok: Sequence[int] = (0,), save: bool = True) -> Result:
        """Run a command; keep pushing the state to the seed while it runs, and once more at its end."""
        self._init()
        log.info(
            "Running terraform", extra={"command": command, "namespace": self.cfg.namespace, "state": self.cfg.name}
        )
        stop = threading.Event()
        syncer = threading.Thread(target=self._sync_loop, args=(stop,), daemon=True) if save else None
        if syncer:
            syncer.start()
        try:
            result = self._exec(args)
        finally:
            stop.set()
            if syncer:
                syncer.join()
        if save:
            self._sync()
        if result.exit_code not in ok:
            RUNS.labels(command, "error").inc()
            raise classify(command, result.output)
        RUNS.labels(command, "success").inc()
        return result

    def _sync_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.tf.sync_interval):
            try:
                self._sync()
            except Exception as exc:  # the final sync after the command reports errors
                log.warning("Could not store terraform state yet", extra={"error": repr(exc)[:300]})

    def _sync(self) -> None:
        path = self.dir / STATE_FILE
        with self._lock:
            if not path.exists():
                return
            data = path.read_bytes()
            if self._stored is not None and self._stored.data == data:
                return
            self._stored = self.store.save(data, self._stored)

    def outputs(self) -> dict[str, Any]:
        if not (self.dir / STATE_FILE).exists():
            return {}
        self._init()
        result = self._exec(["output", "-no-color", "-json"])
        if result.exit_code != 0:
            raise classify("output", result.output)
        doc = json.loads(result.stdout or "{}")
        return {name: item.get("value") for name, item in doc.items()}

    def resources_left(self) -> bool:
        path = self.dir / STATE_FILE
        if not path.exists():
            return False
        doc = json.loads(path.read_text() or "{}")
        return bool(doc.get("resources"))
