"""The shoot's namespace in the seed, `shoot--<project>--<name>`: everything of its control plane lives there.

Deleting it deletes whatever is left of the control plane (claims, Secrets, pods), so the deletion flow waits
for it to be gone before the Shoot may go.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gardener.runtime.kube import resource_path
from gardenlet.components.base import ChartComponent


@dataclass(frozen=True, kw_only=True)
class NamespaceValues:
    name: str
    labels: dict[str, str] = field(default_factory=dict)


class Namespace(ChartComponent):
    chart = "namespace"
    values: NamespaceValues

    async def problem(self) -> str | None:
        namespace = await self.kube.aget(resource_path("v1", "Namespace", name=self.values.name))
        if namespace is None:
            return f"namespace {self.values.name} does not exist"
        phase = (namespace.get("status") or {}).get("phase", "Active")
        return None if phase == "Active" else f"namespace {self.values.name} is {phase}"
