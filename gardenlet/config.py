"""The gardenlet's configuration file (a GardenletConfiguration, with Gardener's field names where they exist).

```yaml
apiVersion: gardenlet.config.gardener.cloud/v1alpha1
kind: GardenletConfiguration
gardenClientConnection:
  kubeconfig: gardenlet.kubeconfig            # written by the gardenlet; relative paths are relative to this file
  bootstrapKubeconfig: bootstrap.kubeconfig   # used once, then removed
  kubeconfigValidity: {validity: 720h}        # optional: the lifetime the certificate is asked for
seedClientConnection:
  kubeconfig: seed.kubeconfig                 # the seed cluster; `--seed-kubeconfig` overrides it
seedConfig: {metadata: {name: local}, spec: {...}}
dataDir: .
controllers: {seed: {leaseResyncSeconds: 2}}
resources: {capacity: {shoots: 250}}
server: {metrics: {bindAddress: 127.0.0.1, port: 0}}   # port 0: no /metrics and /healthz
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gardener.runtime import durations

DEFAULT_SHOOT_CAPACITY = 250
#: the field manager of every server-side apply of the gardenlet, in the garden and in the seed
FIELD_MANAGER = "gardenlet"


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the field."""


@dataclass(frozen=True)
class GardenletConfig:
    kubeconfig: Path
    bootstrap_kubeconfig: Path | None
    #: the Seed manifest to register: metadata (name, labels, annotations) and spec
    seed: dict[str, Any]
    data_dir: Path
    kubeconfig_validity_seconds: int | None = None
    lease_resync_seconds: float = 2.0
    shoot_capacity: int = DEFAULT_SHOOT_CAPACITY
    metrics_bind_address: str = "127.0.0.1"
    metrics_port: int = 0
    #: how long to wait for a requested certificate
    csr_timeout_seconds: float = 300.0
    #: seedClientConnection.kubeconfig: the seed cluster the gardenlet builds shoots in
    seed_kubeconfig: Path | None = None

    @property
    def seed_name(self) -> str:
        return str(self.seed["metadata"]["name"])


def parse_duration(value: Any, *, field: str) -> float:
    """A Go duration ("720h", "1h30m", "90s") or a number of seconds; a ConfigError names `field`."""
    try:
        return durations.parse_duration(value)
    except ValueError:
        raise ConfigError(f"{field}: {value!r} is not a duration such as 720h, 30m or 90s") from None


def _mapping(doc: dict[str, Any], key: str, *, path: str) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}{key}: must be a mapping")
    return value


def _path(base: Path, value: Any) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base / path


def load_config(path: Path) -> GardenletConfig:
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path} must hold a GardenletConfiguration mapping")
    base = path.resolve().parent
    connection = _mapping(doc, "gardenClientConnection", path="")
    if not connection.get("kubeconfig"):
        raise ConfigError("gardenClientConnection.kubeconfig: required (where the gardenlet keeps its credentials)")
    seed = _mapping(doc, "seedConfig", path="")
    name = (seed.get("metadata") or {}).get("name")
    if not name or not isinstance(name, str):
        raise ConfigError("seedConfig.metadata.name: required")
    if not isinstance(seed.get("spec"), dict):
        raise ConfigError("seedConfig.spec: required")
    validity = _mapping(connection, "kubeconfigValidity", path="gardenClientConnection.").get("validity")
    seed_client = _mapping(doc, "seedClientConnection", path="").get("kubeconfig")
    seed_controller = _mapping(_mapping(doc, "controllers", path=""), "seed", path="controllers.")
    capacity = _mapping(_mapping(doc, "resources", path=""), "capacity", path="resources.")
    metrics = _mapping(_mapping(doc, "server", path=""), "metrics", path="server.")
    resync = parse_duration(seed_controller.get("leaseResyncSeconds", 2), field="controllers.seed.leaseResyncSeconds")
    if resync <= 0:
        raise ConfigError("controllers.seed.leaseResyncSeconds: must be positive")
    try:
        shoots = int(capacity.get("shoots", DEFAULT_SHOOT_CAPACITY))
        port = int(metrics.get("port", 0))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"resources.capacity.shoots and server.metrics.port must be integers: {exc}") from None
    bootstrap = connection.get("bootstrapKubeconfig")
    return GardenletConfig(
        kubeconfig=_path(base, connection["kubeconfig"]),
        bootstrap_kubeconfig=_path(base, bootstrap) if bootstrap else None,
        seed=seed,
        data_dir=_path(base, doc.get("dataDir") or "."),
        kubeconfig_validity_seconds=int(parse_duration(validity, field="gardenClientConnection.kubeconfigValidity"))
        if validity
        else None,
        lease_resync_seconds=resync,
        shoot_capacity=shoots,
        metrics_bind_address=str(metrics.get("bindAddress") or "127.0.0.1"),
        metrics_port=port,
        seed_kubeconfig=_path(base, seed_client) if seed_client else None,
    )


def resolve_seed_kubeconfig(config: GardenletConfig, flag: Path | None, *, config_path: Path) -> Path:
    """The seed cluster's kubeconfig (the flag wins over seedClientConnection.kubeconfig); a gardenlet without one
    would register a seed that cannot build a single shoot, so this refuses instead."""
    path = flag or config.seed_kubeconfig
    if path is None:
        raise ConfigError(
            f"no seed kubeconfig: pass --seed-kubeconfig FILE (the kubeconfig of the seed cluster) "
            f"or set seedClientConnection.kubeconfig in {config_path}"
        )
    if not path.is_file():
        raise ConfigError(f"seed kubeconfig {path} does not exist")
    return path
