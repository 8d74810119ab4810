"""The scheduler's settings: upstream's flags and the `KubeSchedulerConfiguration` file behind `--config`.

The file (kubescheduler.config.k8s.io/v1) gives profiles (one per `schedulerName`, each with kube's default
plugin set), `percentageOfNodesToScore`, the pod backoff bounds, `clientConnection.kubeconfig` and
`leaderElection`. Plugin sets and plugin arguments, extenders and the other tuning fields are read, reported as
ignored and otherwise left alone, so an upstream configuration file starts this scheduler unchanged. As in
kube, leader-election flags given on the command line win over the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gardener.runtime.durations import parse_duration

__all__ = ["API_VERSION", "Config", "ConfigError", "LeaderElectionConfig", "load_file"]

API_VERSION = "kubescheduler.config.k8s.io/v1"
DEFAULT_SCHEDULER = "default-scheduler"
_TOP = {
    "apiVersion",
    "kind",
    "clientConnection",
    "leaderElection",
    "percentageOfNodesToScore",
    "podInitialBackoffSeconds",
    "podMaxBackoffSeconds",
    "profiles",
}
_PROFILE = {"schedulerName", "percentageOfNodesToScore"}
_LEADER = {
    "leaderElect",
    "leaseDuration",
    "renewDeadline",
    "retryPeriod",
    "resourceNamespace",
    "resourceName",
    "resourceLock",
}


class ConfigError(ValueError):
    """A configuration file kube would refuse."""


@dataclass(frozen=True)
class LeaderElectionConfig:
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    namespace: str = "kube-system"
    name: str = "kube-scheduler"


@dataclass(frozen=True)
class Config:
    kubeconfig: Path | None = None
    #: scheduler name -> percentageOfNodesToScore (0: kube's adaptive default)
    profiles: Mapping[str, int] = field(default_factory=lambda: {DEFAULT_SCHEDULER: 0})
    pod_initial_backoff: float = 1.0
    pod_max_backoff: float = 10.0
    leader_election: LeaderElectionConfig = field(default_factory=LeaderElectionConfig)
    #: dotted paths of the fields read but not acted upon
    ignored: tuple[str, ...] = ()


def _percentage(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ConfigError(f"{where}: Invalid value: {value!r}: not in valid range [0-100]")
    return value


def _seconds(value: Any, default: float, where: str) -> float:
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _unknown(section: Mapping[str, Any], known: set[str], prefix: str) -> list[str]:
    return [f"{prefix}{key}" for key in section if key not in known]


def load_file(path: Path) -> Config:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"could not read {path}: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path}: not a KubeSchedulerConfiguration")
    if doc.get("apiVersion") != API_VERSION or doc.get("kind") != "KubeSchedulerConfiguration":
        raise ConfigError(
            f'{path}: no kind "{doc.get("kind")}" is registered for version "{doc.get("apiVersion")}" '
            f"(want {API_VERSION} KubeSchedulerConfiguration)"
        )
    ignored = _unknown(doc, _TOP, "")
    client = doc.get("clientConnection") or {}
    ignored += _unknown(client, {"kubeconfig"}, "clientConnection.")
    kubeconfig = Path(client["kubeconfig"]) if client.get("kubeconfig") else None
    le = doc.get("leaderElection") or {}
    ignored += _unknown(le, _LEADER, "leaderElection.")
    leader = LeaderElectionConfig(
        leader_elect=bool(le.get("leaderElect", True)),
        lease_duration=_seconds(le.get("leaseDuration"), 15.0, "leaderElection.leaseDuration"),
        renew_deadline=_seconds(le.get("renewDeadline"), 10.0, "leaderElection.renewDeadline"),
        retry_period=_seconds(le.get("retryPeriod"), 2.0, "leaderElection.retryPeriod"),
        namespace=str(le.get("resourceNamespace") or "kube-system"),
        name=str(le.get("resourceName") or "kube-scheduler"),
    )
    default_percentage = _percentage(doc.get("percentageOfNodesToScore"), "percentageOfNodesToScore")
    profiles: dict[str, int] = {}
    for i, profile in enumerate(doc.get("profiles") or [{}]):
        if not isinstance(profile, Mapping):
            raise ConfigError(f"profiles[{i}]: not an object")
        name = str(profile.get("schedulerName") or DEFAULT_SCHEDULER)
        if name in profiles:
            raise ConfigError(f'profiles[{i}].schedulerName: Duplicate value: "{name}"')
        ignored += _unknown(profile, _PROFILE, f"profiles[{i}].")
        where = f"profiles[{i}].percentageOfNodesToScore"
        profiles[name] = _percentage(profile.get("percentageOfNodesToScore"), where) or default_percentage
    initial = float(doc.get("podInitialBackoffSeconds") or 1)
    maximum = float(doc.get("podMaxBackoffSeconds") or 10)
    if initial <= 0 or maximum < initial:
        raise ConfigError("podInitialBackoffSeconds must be > 0 and podMaxBackoffSeconds >= podInitialBackoffSeconds")
    return Config(
        kubeconfig=kubeconfig,
        profiles=profiles,
        pod_initial_backoff=initial,
        pod_max_backoff=maximum,
        leader_election=leader,
        ignored=tuple(ignored),
    )
