"""The gardenlet's ControllerInstallation controller: installs on its seed the extensions the garden decided it needs.

The gardener-controller-manager creates a ControllerInstallation for each (ControllerRegistration, Seed) pair
the seed's shoots need; this controller, for the installations of its own seed, deploys the extension into the
seed and reports on the installation in the garden with Gardener's conditions: `Valid` (the registration
exists and says how to deploy it), `Installed` (its objects are applied), `Healthy` (its Deployment has every
replica available) and `Progressing` (True while it rolls out). A deleted installation is uninstalled (its
namespace goes) before its finalizer is removed.

Deployment format. Gardener deploys extensions from Helm charts named by a ControllerDeployment. Here the
registration carries the deployment itself, in `spec.deployment.providerConfig` (the inline form older Gardener
versions had):

```yaml
spec:
  deployment:
    policy: OnDemand
    providerConfig:
      image: python:3                 # default for every container
      containers:
      - name: provider-local
        command: [python, -m, extensions.provider_local.controllers.main]
        args: [--kubeconfig=/var/run/secrets/gardener/seed/kubeconfig, --network-type=calico]
        env: {KEY: value}
```

It becomes one Deployment `<registration>` in namespace `extension-<registration>` of the seed, one container per
entry. The seed's kubeconfig is mounted in every container at `SEED_KUBECONFIG` (a Secret in that namespace):
the extension reaches the seed with the gardenlet's own seed credentials, as a cluster-admin chart would; a
ServiceAccount with the RBAC a registration asks for is not built yet. On a local seed the node agent runs the
Deployment's containers as host processes, through its image table (the `python` image runs our interpreter).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gardener.runtime.errors import ApiError
from gardener.runtime.kube import Kube

log = logging.getLogger("gardenlet.controllerinstallation")

CORE = "/apis/core.gardener.cloud/v1beta1"
INSTALLATIONS = f"{CORE}/controllerinstallations"
REGISTRATIONS = f"{CORE}/controllerregistrations"
FINALIZER = "core.gardener.cloud/controllerinstallation"
SEED_KUBECONFIG_DIR = "/var/run/secrets/gardener/seed"
SEED_KUBECONFIG = f"{SEED_KUBECONFIG_DIR}/kubeconfig"
KUBECONFIG_SECRET = "gardener-seed-kubeconfig"
DEFAULT_IMAGE = "python:3"
LABEL = "controllerinstallation.core.gardener.cloud/name"

Obj = dict[str, Any]


class InvalidDeployment(ValueError):
    """The registration does not say how to deploy the extension."""


@dataclass(frozen=True, kw_only=True)
class Container:
    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidDeployment(f"{what} must be a list of strings")
    return tuple(value)


def containers_of(registration: Mapping[str, Any]) -> list[Container]:
    """The containers a registration's `spec.deployment.providerConfig` asks for (see the module docstring)."""
    config = ((registration.get("spec") or {}).get("deployment") or {}).get("providerConfig")
    if not isinstance(config, dict):
        raise InvalidDeployment("spec.deployment.providerConfig is missing: nothing says how to deploy it")
    image = config.get("image") or DEFAULT_IMAGE
    items = config.get("containers")
    if not isinstance(items, list) or not items:
        raise InvalidDeployment("spec.deployment.providerConfig.containers must list at least one container")
    out = []
    for i, item in enumerate(items):
        where = f"spec.deployment.providerConfig.containers[{i}]"
        if not isinstance(item, dict) or not item.get("name") or not item.get("command"):
            raise InvalidDeployment(f"{where} needs a name and a command")
        env = item.get("env") or {}
        if not isinstance(env, dict):
            raise InvalidDeployment(f"{where}.env must map names to values")
        out.append(
            Container(
                name=str(item["name"]),
                image=str(item.get("image") or image),
                command=_strings(item["command"], f"{where}.command"),
                args=_strings(item.get("args"), f"{where}.args"),
                env={str(k): str(v) for k, v in env.items()},
            )
        )
    return out


def namespace_of(registration: str) -> str:
    return f"extension-{registration}"


def manifests(registration: str, installation: str, containers: list[Container], seed_kubeconfig: bytes) -> list[Obj]:
    """Namespace, kubeconfig Secret and Deployment of one installed extension."""
    ns = namespace_of(registration)
    labels = {LABEL: installation, "app.kubernetes.io/name": registration}
    checksum = hashlib.sha256(
        json.dumps([c.__dict__ for c in containers], sort_keys=True, default=dict).encode() + seed_kubeconfig
    ).hexdigest()[:16]
    pod_containers = [
        {
            "name": c.name,
            "image": c.image,
            "command": list(c.command),
            "args": list(c.args),
            "env": [{"name": k, "value": v} for k, v in sorted(c.env.items())],
            "volumeMounts": [{"name": "seed-kubeconfig", "mountPath": SEED_KUBECONFIG_DIR, "readOnly": True}],
        }
        for c in containers
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {**labels, "gardener.cloud/role": "extension"}},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": KUBECONFIG_SECRET, "namespace": ns, "labels": labels},
            "type": "Opaque",
            "data": {"kubeconfig": base64.b64encode(seed_kubeconfig).decode()},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": registration, "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": registration}},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"checksum/deployment": checksum}},
                    "spec": {
                        "containers": pod_containers,
                        "volumes": [{"name": "seed-kubeconfig", "secret": {"secretName": KUBECONFIG_SECRET}}],
                    },
                },
            },
        },
    ]


def deployment_health(deployment: Mapping[str, Any] | None) -> tuple[bool, str]:
    """(healthy, why) of an extension's Deployment."""
    if deployment is None:
        return False, "the Deployment does not exist"
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    want = int(spec.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if int(status.get("observedGeneration") or 0) < int(deployment["metadata"].get("generation") or 0):
        return False, "the Deployment's newest generation is not rolled out yet"
    if available < want:
        return False, f"{available}/{want} replicas of the Deployment are available"
    return True, f"all {want} replicas of the Deployment are available"


def condition(ctype: str, ok: bool, reason: str, message: str, *, previous: list[Obj], now: str) -> Obj:
    status = "True" if ok else "False"
    old = next((c for c in previous if c.get("type") == ctype), {})
    since = old.get("lastTransitionTime") if old.get("status") == status else now
    return {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since or now,
        "lastUpdateTime": now,
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ControllerInstallations:
    """Installs, checks and uninstalls the ControllerInstallations of one seed."""

    def __init__(self, *, garden: Kube, seed: Kube, seed_name: str, seed_kubeconfig: bytes) -> None:
        self.garden = garden
        self.seed = seed
        self.seed_name = seed_name
        self.seed_kubeconfig = seed_kubeconfig

    def mine(self) -> list[Obj]:
        items = (self.garden.raw("GET", INSTALLATIONS) or {}).get("items") or []
        return [i for i in items if ((i.get("spec") or {}).get("seedRef") or {}).get("name") == self.seed_name]

    def _report(self, obj: Obj, conditions: list[tuple[str, bool, str, str]]) -> None:
        previous = list(((obj.get("status") or {}).get("conditions")) or [])
        now = _now()
        new = {c["type"]: c for c in previous}
        for ctype, ok, reason, message in conditions:
            new[ctype] = condition(ctype, ok, reason, message, previous=previous, now=now)
        if [{k: v for k, v in c.items() if k != "lastUpdateTime"} for c in new.values()] == [
            {k: v for k, v in c.items() if k != "lastUpdateTime"} for c in previous
        ]:
            return
        path = f"{INSTALLATIONS}/{obj['metadata']['name']}/status"
        self.garden.merge_patch(path, {"status": {"conditions": list(new.values())}})

    def _finalizer(self, obj: Obj, *, present: bool) -> None:
        finalizers = list(obj["metadata"].get("finalizers") or [])
        if (FINALIZER in finalizers) == present:
            return
        finalizers = [*finalizers, FINALIZER] if present else [f for f in finalizers if f != FINALIZER]
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": obj["metadata"]["resourceVersion"]}}
        self.garden.merge_patch(f"{INSTALLATIONS}/{obj['metadata']['name']}", patch)

    def reconcile(self, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        registration_name = str(((obj.get("spec") or {}).get("registrationRef") or {}).get("name") or "")
        if obj["metadata"].get("deletionTimestamp"):
            self.uninstall(obj, registration_name)
            return
        registration = self.garden.get(f"{REGISTRATIONS}/{registration_name}") if registration_name else None
        if registration is None:
            self._report(
                obj,
                [
                    (
                        "Valid",
                        False,
                        "RegistrationNotFound",
                        f"ControllerRegistration {registration_name!r} does not exist",
                    )
                ],
            )
            return
        try:
            containers = containers_of(registration)
        except InvalidDeployment as exc:
            self._report(
                obj,
                [("Valid", False, "InvalidDeployment", str(exc)), ("Installed", False, "InvalidDeployment", str(exc))],
            )
            return
        self._finalizer(obj, present=True)
        try:
            for manifest in manifests(registration_name, name, containers, self.seed_kubeconfig):
                self.seed.server_side_apply(manifest)
        except ApiError as exc:
            self._report(
                obj,
                [
                    ("Valid", True, "RegistrationValid", "the registration says how to deploy it"),
                    ("Installed", False, "InstallationFailed", str(exc)[:500]),
                ],
            )
            return
        deployment = self.seed.get(
            f"/apis/apps/v1/namespaces/{namespace_of(registration_name)}/deployments/{registration_name}"
        )
        healthy, why = deployment_health(deployment)
        self._report(
            obj,
            [
                ("Valid", True, "RegistrationValid", "the registration says how to deploy it"),
                (
                    "Installed",
                    True,
                    "InstallationSuccessful",
                    f"installed in namespace {namespace_of(registration_name)}",
                ),
                ("Healthy", healthy, "ControllerHealthy" if healthy else "ControllerNotHealthy", why),
                # Gardener's fourth condition: True while the Deployment rolls out, False once it is done.
                ("Progressing", not healthy, "ControllerNotRolledOut" if not healthy else "ControllerRolledOut", why),
            ],
        )

    def uninstall(self, obj: Obj, registration_name: str) -> None:
        ns = namespace_of(registration_name)
        path = f"/api/v1/namespaces/{ns}"
        if self.seed.get(path) is not None:
            self.seed.delete(path)
            self._report(obj, [("Installed", False, "DeletionPending", f"namespace {ns} is being deleted")])
            return
        self._finalizer(obj, present=False)

    def sync(self) -> None:
        for obj in self.mine():
            try:
                self.reconcile(obj)
            except ApiError as exc:
                log.warning(
                    "ControllerInstallation not reconciled",
                    extra={"installation": obj["metadata"]["name"], "error": str(exc)[:300]},
                )


async def run_controller_installations(
    *, garden_kubeconfig: Path | str, seed_kubeconfig: Path | str, seed_name: str, period: float = 5.0
) -> None:
    """Reconcile the seed's ControllerInstallations every `period` seconds until cancelled."""
    while True:
        garden = seed = None
        try:
            garden = Kube.from_kubeconfig(garden_kubeconfig, field_manager="gardenlet")
            seed = Kube.from_kubeconfig(seed_kubeconfig, field_manager="gardenlet")
            installations = ControllerInstallations(
                garden=garden, seed=seed, seed_name=seed_name, seed_kubeconfig=Path(seed_kubeconfig).read_bytes()
            )
            while True:
                await asyncio.to_thread(installations.sync)
                await asyncio.sleep(period)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ControllerInstallation controller failed, restarting")
        finally:
            for client in (garden, seed):
                if client is not None:
                    client.close()
        await asyncio.sleep(period)
