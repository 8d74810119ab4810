"""gardenctl's configuration (gardens by name) and current target, as YAML files in $GCTL_HOME (as gardenctl-v2;
$GARDENCTL_HOME, this project's earlier name, still counts when GCTL_HOME is unset), else ~/.garden."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml


def home() -> Path:
    return Path(os.environ.get("GCTL_HOME") or os.environ.get("GARDENCTL_HOME") or Path.home() / ".garden")


@dataclass(frozen=True)
class Target:
    garden: str = ""
    project: str = ""
    shoot: str = ""

    def with_garden(self, name: str) -> Target:
        return Target(garden=name)

    def with_project(self, name: str) -> Target:
        return replace(self, project=name, shoot="")

    def with_shoot(self, name: str) -> Target:
        return replace(self, shoot=name)


@dataclass(frozen=True)
class Config:
    gardens: dict[str, str] = field(default_factory=dict)  # name -> kubeconfig path


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return data


def load_config() -> Config:
    data = _load(home() / "gardenctl-v2.yaml")
    gardens = {str(g["identity"]): str(g["kubeconfig"]) for g in data.get("gardens") or [] if isinstance(g, dict)}
    return Config(gardens=gardens)


def save_config(config: Config) -> None:
    home().mkdir(parents=True, exist_ok=True)
    doc = {"gardens": [{"identity": k, "kubeconfig": v} for k, v in sorted(config.gardens.items())]}
    (home() / "gardenctl-v2.yaml").write_text(yaml.safe_dump(doc))


def load_target() -> Target:
    data = _load(home() / "target.yaml")
    return Target(
        garden=str(data.get("garden") or ""), project=str(data.get("project") or ""), shoot=str(data.get("shoot") or "")
    )


def save_target(target: Target) -> None:
    home().mkdir(parents=True, exist_ok=True)
    doc = {k: v for k, v in {"garden": target.garden, "project": target.project, "shoot": target.shoot}.items() if v}
    (home() / "target.yaml").write_text(yaml.safe_dump(doc))
