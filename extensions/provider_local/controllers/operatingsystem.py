"""OperatingSystemConfig of type local (the machine image `local`): units and files rendered into user data.

Like an operating system extension of Gardener, the actuator turns the units and files the gardenlet asks for
into what a new machine boots with: a cloud-config document (files written, units installed and started) in a
Secret that `status.cloudConfig.secretRef` names, under the key `cloud_config`. The Worker hands that Secret to
the machine classes; the local driver keeps it beside each machine process.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import yaml

from extensions.library.reconciler import BaseActuator, Context
from gardener.apis.extensions.v1alpha1 import OSC_SECRET_DATA_KEY, File, OperatingSystemConfigSpec
from gardener.runtime.errors import TemporaryError
from gardener.runtime.kube import SECRETS, Kube, secret_data

SYSTEMD = "/etc/systemd/system"


def result_secret_name(osc_name: str) -> str:
    return f"{osc_name}-user-data"


def _content(kube: Kube, namespace: str, file: File) -> bytes:
    inline, ref = file.content.inline, file.content.secretRef
    if inline is not None:
        return base64.b64decode(inline.data) if inline.encoding in ("b64", "base64") else inline.data.encode()
    if ref is not None:
        secret = kube.get(SECRETS.path(namespace, ref.name))
        if secret is None:
            raise TemporaryError(f"secret {namespace}/{ref.name} with the content of {file.path} not found")
        value = secret_data(secret).get(ref.dataKey)
        if value is None:
            raise TemporaryError(f"secret {namespace}/{ref.name} has no key {ref.dataKey!r} for {file.path}")
        return value
    raise TemporaryError(f"file {file.path} has neither inline content nor a secretRef")


def render(kube: Kube, namespace: str, spec: OperatingSystemConfigSpec) -> bytes:
    """The cloud-config document: every file and unit (with drop-ins) written, then the units started."""
    files: list[dict[str, Any]] = []

    def add(path: str, data: bytes, permissions: int | None) -> None:
        files.append(
            {
                "path": path,
                "permissions": f"0{permissions or 0o644:o}",
                "encoding": "b64",
                "content": base64.b64encode(data).decode(),
            }
        )

    for file in spec.files or []:
        add(file.path, _content(kube, namespace, file), file.permissions)
    commands = ["systemctl daemon-reload"]
    for unit in spec.units or []:
        if unit.content is not None:
            add(f"{SYSTEMD}/{unit.name}", unit.content.encode(), 0o644)
        for drop_in in unit.dropIns or []:
            add(f"{SYSTEMD}/{unit.name}.d/{drop_in.name}", drop_in.content.encode(), 0o644)
        for file in unit.files or []:
            add(file.path, _content(kube, namespace, file), file.permissions)
        if unit.enable:
            commands.append(f"systemctl enable {unit.name}")
        if unit.command:
            commands.append(f"systemctl {unit.command} {unit.name}")
    document: dict[str, Any] = {"write_files": files, "runcmd": commands}
    if spec.criConfig is not None:
        document["gardener"] = {"containerRuntime": spec.criConfig.name}
    return ("#cloud-config\n" + yaml.safe_dump(document, sort_keys=False)).encode()


class OperatingSystemConfigActuator(BaseActuator):
    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        spec = ctx.spec_as(OperatingSystemConfigSpec)
        data = render(ctx.kube, ctx.namespace, spec)
        name = result_secret_name(ctx.name)
        ctx.kube.ensure(
            SECRETS.path(ctx.namespace),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": ctx.namespace,
                    "labels": {"worker.gardener.cloud/osc": ctx.name},
                },
                "type": "Opaque",
                "data": {OSC_SECRET_DATA_KEY: base64.b64encode(data).decode()},
            },
        )
        unit_files = [f.path for u in spec.units or [] for f in u.files or []]
        return {
            "cloudConfig": {"secretRef": {"name": name, "namespace": ctx.namespace}},
            "units": [u.name for u in spec.units or []],
            "files": [f.path for f in spec.files or []] + unit_files,
        }

    def delete(self, ctx: Context) -> None:
        ctx.kube.delete(SECRETS.path(ctx.namespace, result_secret_name(ctx.name)))

    def migrate(self, ctx: Context) -> None:
        """The user data Secret is an object of the shoot's namespace: it goes with the namespace's content."""
        return None
