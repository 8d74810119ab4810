"""The Terraformer pod's contract, shared by the extension (`pod`) and the program in the pod (`main`).

Names and keys are Gardener's (`extensions/pkg/terraformer`, gardener/terraformer): the configuration ConfigMap
`<name>.<purpose>.tf-config` (`main.tf`, `variables.tf`), the variables Secret `<name>.<purpose>.tf-vars`
(`terraform.tfvars`), the state ConfigMap `<name>.<purpose>.tf-state` (`terraform.tfstate`), the labels
`terraformer.gardener.cloud/name|purpose`, the finalizer `gardener.cloud/terraformer`, the ServiceAccount
`terraformer` with the Role and RoleBinding `gardener.cloud:system:terraformer`, and the pod running
`/terraformer <command> --configuration-configmap-name=... --state-configmap-name=... --variables-secret-name=...`.
What is ours: the result line the program ends with (`RunResult`), and the pod's credentials volume.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extensions.terraformer.terraformer import Config
from gardener.runtime.errors import PermanentError
from gardener.runtime.kube import SERVICEACCOUNTS, Obj, Resource

ROLES = Resource("rbac.authorization.k8s.io", "v1", "roles", "Role")
ROLEBINDINGS = Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding")

LABEL_NAME = "terraformer.gardener.cloud/name"
LABEL_PURPOSE = "terraformer.gardener.cloud/purpose"
#: marks the Secret that hands a pod its token, so that one left by a vanished pod is found and deleted
LABEL_TOKEN = "terraformer.gardener.cloud/token"
#: what a pod was started with (a digest of its configuration and variables): a pod that applied an older one
#: is followed by another
CHECKSUM_ANNOTATION = "terraformer.gardener.cloud/configuration-checksum"
#: on the configuration, variables and state while a Terraformer works with them; gone after a destroy
FINALIZER = "gardener.cloud/terraformer"
MAIN_KEY, VARIABLES_KEY, TFVARS_KEY, STATE_KEY = "main.tf", "variables.tf", "terraform.tfvars", "terraform.tfstate"
SERVICE_ACCOUNT = "terraformer"
RBAC_NAME = "gardener.cloud:system:terraformer"
CONTAINER = "terraform"
DEFAULT_IMAGE = "europe-docker.pkg.dev/gardener-project/releases/gardener/terraformer"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: names the credentials directory in the pod's environment too: without a mount namespace (provider-local's
#: node agent) only paths in args and env are mapped to the pod's own directories
SERVICE_ACCOUNT_DIR_ENV = "TERRAFORMER_SERVICE_ACCOUNT_DIR"
#: the program's exit codes: 1 comes with a result that says why (2 is argparse's for bad flags); from 128 on, a
#: signal stopped it (killed, or interrupted before Terraform finished), so the command runs again from the state
EXIT_FAILED, KILLED = 1, 128
#: what the Secret handing a pod its credentials holds (projected where a service account's are looked for)
TOKEN_KEYS = ("token", "ca.crt")
#: Gardener's network policy labels for the pod (DNS, private and public networks, the runtime API server)
NETWORK_LABELS = {
    f"networking.gardener.cloud/{to}": "allowed"
    for to in ("to-dns", "to-private-networks", "to-public-networks", "to-runtime-apiserver")
}


@dataclass(frozen=True)
class Names:
    """Where a configuration lives: Gardener's prefix `<name>.<purpose>` names every object of it."""

    namespace: str
    name: str
    purpose: str

    @classmethod
    def of(cls, cfg: Config) -> Names:
        """`Config.name` is the prefix `<name>.<purpose>` (`apps.infra`)."""
        name, dot, purpose = cfg.name.rpartition(".")
        return cls(cfg.namespace, name if dot else cfg.name, purpose if dot else "")

    @property
    def prefix(self) -> str:
        return f"{self.name}.{self.purpose}" if self.purpose else self.name

    @property
    def config(self) -> str:
        return f"{self.prefix}.tf-config"

    @property
    def variables(self) -> str:
        return f"{self.prefix}.tf-vars"

    @property
    def state(self) -> str:
        return f"{self.prefix}.tf-state"

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_NAME: self.name, LABEL_PURPOSE: self.purpose}

    @property
    def selector(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.labels.items())


@dataclass(frozen=True)
class RunResult:
    """The program's last line: what the extension learns from a pod besides its exit code."""

    command: str
    success: bool
    outputs: Mapping[str, Any] | None = None
    error: str = ""
    codes: tuple[str, ...] = ()
    retryable: bool = True
    delay: float = 0.0

    def line(self) -> str:
        doc: dict[str, Any] = {"command": self.command, "success": self.success}
        if self.success:
            doc["outputs"] = dict(self.outputs or {})
        else:
            doc.update(error=self.error, codes=list(self.codes), retryable=self.retryable, delay=self.delay)
        return json.dumps(doc, separators=(",", ":"), sort_keys=True)

    @classmethod
    def find(cls, text: str) -> RunResult | None:
        """The result in a log or termination message: its last line that is one."""
        for line in reversed(text.strip().splitlines()):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "command" in doc and "success" in doc:
                return cls(
                    command=str(doc["command"]),
                    success=bool(doc["success"]),
                    outputs=doc.get("outputs"),
                    error=str(doc.get("error") or ""),
                    codes=tuple(str(c) for c in doc.get("codes") or ()),
                    retryable=bool(doc.get("retryable", True)),
                    delay=float(doc.get("delay") or 0.0),
                )
        return None


def configuration(module: Path) -> dict[str, str]:
    """The configuration ConfigMap's data: `variables.tf`, and every other `.tf` file of the module in `main.tf`
    (Terraform reads blocks, not files, so they may share one)."""
    if not module.is_dir():
        raise PermanentError(f"terraform module {module} does not exist")
    files = sorted(p for p in module.iterdir() if p.is_file())
    if any(p.name.endswith(".tf.json") for p in files):
        raise PermanentError(f"terraform module {module} has .tf.json files, which the Terraformer cannot carry")
    main = [f"# {p.name}\n{p.read_text()}" for p in files if p.suffix == ".tf" and p.name != VARIABLES_KEY]
    variables = module / VARIABLES_KEY
    return {MAIN_KEY: "\n".join(main), VARIABLES_KEY: variables.read_text() if variables.is_file() else ""}


def state_outputs(state: str) -> dict[str, Any]:
    """The outputs recorded in a state (format 4, or 2 and 3 with their root module), name -> value."""
    if not state.strip():
        return {}
    doc = json.loads(state)
    version = doc.get("version")
    outputs = doc.get("outputs") if version == 4 else ((doc.get("modules") or [{}])[0].get("outputs"))
    if version not in (2, 3, 4):
        raise PermanentError(f"the terraform state has format version {version}, which is not supported")
    return {name: (item or {}).get("value") for name, item in (outputs or {}).items()}


def command_of(pod: Obj) -> str:
    """The Terraformer command a pod runs (`/terraformer <command> ...`), as Gardener reads it."""
    containers = (pod.get("spec") or {}).get("containers") or []
    command = (containers[0].get("command") or []) if len(containers) == 1 else []
    return str(command[1]) if len(command) > 1 else ""


def pod_manifest(
    *,
    names: Names,
    pod_name: str,
    command: str,
    image: str,
    token_secret: str,
    credentials: tuple[str, ...],
    checksum: str,
    grace: int,
    log_level: str,
) -> Obj:
    """The Terraformer pod: Gardener's spec, with its credentials projected from `token_secret`."""
    env: list[dict[str, Any]] = [{"name": SERVICE_ACCOUNT_DIR_ENV, "value": SERVICE_ACCOUNT_DIR}]
    env += [
        {"name": f"TF_VAR_{var}", "valueFrom": {"secretKeyRef": {"name": names.variables, "key": f"TF_VAR_{var}"}}}
        for var in credentials
    ]
    namespace_item = {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": names.namespace,
            "labels": {**names.labels, **NETWORK_LABELS},
            "annotations": {CHECKSUM_ANNOTATION: checksum},
        },
        "spec": {
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": [
                        "/terraformer",
                        command,
                        f"--zap-log-level={log_level}",
                        f"--configuration-configmap-name={names.config}",
                        f"--state-configmap-name={names.state}",
                        f"--variables-secret-name={names.variables}",
                    ],
                    "env": env,
                    "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False},
                    # the program's last line says what happened; a kubelet hands it over as the message
                    "terminationMessagePolicy": "FallbackToLogsOnError",
                    "volumeMounts": [{"name": "credentials", "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True}],
                }
            ],
            "restartPolicy": "Never",
            "serviceAccountName": SERVICE_ACCOUNT,
            "terminationGracePeriodSeconds": grace,
            "volumes": [
                {
                    "name": "credentials",
                    "projected": {
                        "defaultMode": 0o644,
                        "sources": [
                            {"secret": {"name": token_secret, "items": [{"key": k, "path": k} for k in TOKEN_KEYS]}},
                            {"downwardAPI": {"items": [namespace_item]}},
                        ],
                    },
                }
            ],
        },
    }


def rbac_manifests(namespace: str) -> list[tuple[Resource, Obj]]:
    """The ServiceAccount `terraformer` and what it may do: the namespace's ConfigMaps and Secrets, no more."""
    meta = {"namespace": namespace}
    return [
        (
            SERVICEACCOUNTS,
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {**meta, "name": SERVICE_ACCOUNT},
                # its token is requested for each pod instead (Gardener's projected token mount)
                "automountServiceAccountToken": False,
            },
        ),
        (
            ROLES,
            {
                "apiVersion": ROLES.api_version,
                "kind": "Role",
                "metadata": {**meta, "name": RBAC_NAME},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps", "secrets"],
                        "verbs": ["create", "get", "list", "watch", "patch", "update"],
                    }
                ],
            },
        ),
        (
            ROLEBINDINGS,
            {
                "apiVersion": ROLEBINDINGS.api_version,
                "kind": "RoleBinding",
                "metadata": {**meta, "name": RBAC_NAME},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": RBAC_NAME},
                "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}],
            },
        ),
    ]
