"""What every component shares: the DeployWaiter verbs, chart rendering and bounded waiting.

Charts live in `charts/<component>/*.yaml.j2` at the top of the tree; a component renders every template of its
chart with its values (a frozen dataclass, turned into a dict) and applies the result with server-side apply.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jinja2
import yaml

from gardener.assets import charts_dir
from gardener.runtime.kube import Kube, object_path, resource_path
from gardenlet.components.health import deployment_problem
from gardenlet.flow import TemporaryError

Obj = dict[str, Any]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

CHARTS_DIR = charts_dir()


class DeployWaiter(Protocol):
    """The four verbs of a component. `wait_ready` returns only once a check has seen the component ready: a
    component that has no such check raises NotImplementedError rather than report success it has not seen."""

    async def deploy(self) -> None: ...

    async def wait_ready(self) -> None: ...

    async def destroy(self) -> None: ...

    async def wait_gone(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """How long `wait_ready` and `wait_gone` wait, and how often they look."""

    ready: float = 300.0
    gone: float = 300.0
    interval: float = 0.5


DEFAULT_TIMEOUTS = Timeouts()


def _quote(value: Any) -> str:
    """A YAML scalar that keeps its type and text exactly (JSON is YAML)."""
    return json.dumps(value)


def _environment(charts_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(charts_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = _quote
    return env


def render(chart: str, values: Any, *, charts_dir: Path = CHARTS_DIR) -> list[Obj]:
    """Every object of every template of `chart`, in template name order; `values` is a dataclass or a mapping."""
    context = (
        dataclasses.asdict(values)
        if dataclasses.is_dataclass(values) and not isinstance(values, type)
        else dict(values)
    )
    directory = charts_dir / chart
    if not directory.is_dir():
        raise FileNotFoundError(f"no chart {chart!r} in {charts_dir}")
    env = _environment(charts_dir)
    objects: list[Obj] = []
    for template in sorted(p.name for p in directory.glob("*.yaml.j2")):
        text = env.get_template(f"{chart}/{template}").render(**context)
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return objects


async def wait_for(
    check: Callable[[], Awaitable[str | None]],
    *,
    what: str,
    timeout: float,
    interval: float,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Poll `check` (None when done, else why not yet) until done; TemporaryError naming the last reason."""
    deadline = clock() + timeout
    while True:
        reason = await check()
        if reason is None:
            return
        if clock() >= deadline:
            raise TemporaryError(f"{what} not done after {timeout:g}s: {reason}")
        await sleep(interval)


class ChartComponent:
    """A component whose objects all come from one chart; subclasses say what "ready" means (`problem`)."""

    chart: str = ""

    def __init__(
        self,
        kube: Kube,
        values: Any,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        charts_dir: Path = CHARTS_DIR,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.kube = kube
        self.values = values
        self.timeouts = timeouts
        self.charts_dir = charts_dir
        self.clock = clock
        self.sleep = sleep

    def context(self) -> dict[str, Any]:
        """What the chart's templates see: the values' fields, plus what subclasses derive from them."""
        return dataclasses.asdict(self.values)

    @property
    def what(self) -> str:
        """The component in messages."""
        return self.chart

    def manifests(self) -> list[Obj]:
        return render(self.chart, self.context(), charts_dir=self.charts_dir)

    async def deploy(self) -> None:
        for obj in self.manifests():
            await self.kube.aserver_side_apply(obj)

    async def wait_ready(self) -> None:
        await self._wait(self.problem, what=f"{self.what} ready", timeout=self.timeouts.ready)

    async def problem(self) -> str | None:
        """Why the component is not ready yet; None when it is.

        No default: a component that cannot say what "ready" means must not be reported ready.
        """
        raise NotImplementedError(f"{type(self).__name__} has no readiness check")

    async def destroy(self) -> None:
        for obj in reversed(self.manifests()):
            await self.kube.adelete(object_path(obj))

    async def wait_gone(self) -> None:
        paths = [object_path(obj) for obj in self.manifests()]

        async def left() -> str | None:
            for path in paths:
                if await self.kube.aget(path) is not None:
                    return f"{path} still exists"
            return None

        await self._wait(left, what=f"{self.what} gone", timeout=self.timeouts.gone)

    async def _wait(self, check: Callable[[], Awaitable[str | None]], *, what: str, timeout: float) -> None:
        await wait_for(
            check, what=what, timeout=timeout, interval=self.timeouts.interval, clock=self.clock, sleep=self.sleep
        )


def labels_selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


async def pods_left(kube: Kube, namespace: str, selector: Mapping[str, str]) -> str | None:
    """Which pods of a workload still exist (their processes may still run); None when none do."""
    pods = await kube.araw(
        "GET", resource_path("v1", "Pod", namespace), params={"labelSelector": labels_selector(selector)}
    )
    names = [p["metadata"]["name"] for p in (pods or {}).get("items") or []]
    return f"pods {', '.join(names)} still exist" if names else None


async def deployment_problem_or_pods_left(
    kube: Kube, *, namespace: str, name: str, selector: Mapping[str, str], replicas: int
) -> str | None:
    """Why a control-plane Deployment is not ready; scaled to zero, it is ready once none of its pods is left."""
    deployment = await kube.aget(resource_path("apps/v1", "Deployment", namespace, name))
    if deployment is None:
        return f"deployment {name} does not exist"
    if (problem := deployment_problem(deployment)) is not None:
        return problem
    return await pods_left(kube, namespace, selector) if replicas == 0 else None
