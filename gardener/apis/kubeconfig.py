"""The kubeconfig format (clientcmd v1 `Config`): build the document, and write it privately and atomically.

Shared by everything that hands out or stores credentials: the API server, the gardenlet, the CLI.

Credentials are embedded as base64 `*-data` fields, so a kubeconfig is self-contained; the file is created with
mode 0600 before any byte of it is written.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["build_kubeconfig", "read_current", "write_kubeconfig"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def build_kubeconfig(
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
    context: str = "default",
    namespace: str | None = None,
) -> dict[str, Any]:
    """A v1 Config with one cluster (named after the context), one user and one context, which is current.

    Credentials are a client certificate and key (both or neither) and/or a bearer token.
    """
    if not server.startswith("https://"):
        raise ValueError(f"server must be an https:// URL, got {server!r}")
    if not user:
        raise ValueError("user must not be empty")
    if not context:
        raise ValueError("context must not be empty")
    if (client_cert_pem is None) != (client_key_pem is None):
        raise ValueError("client_cert_pem and client_key_pem must be given together")
    if token is not None and (not token or any(c.isspace() for c in token)):
        raise ValueError("token must be non-empty and contain no whitespace")

    credentials: dict[str, str] = {}
    if client_cert_pem is not None and client_key_pem is not None:
        credentials["client-certificate-data"] = _b64(client_cert_pem)
        credentials["client-key-data"] = _b64(client_key_pem)
    if token is not None:
        credentials["token"] = token

    context_body: dict[str, str] = {"cluster": context, "user": user}
    if namespace:
        context_body["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context, "context": context_body}],
        "current-context": context,
        "preferences": {},
    }


def _plain(value: Any) -> Any:
    """Turn mappings and sequences into dicts and lists so yaml.safe_dump accepts them."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_kubeconfig(path: Path, config: Mapping[str, Any]) -> None:
    """Write `config` as YAML to `path` (mode 0600) via a temporary file and rename; creates the parent directory."""
    path = Path(path)
    data = yaml.safe_dump(_plain(config), sort_keys=False, default_flow_style=False).encode("utf-8")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(path, data, mode=0o600)


def write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Replace `path` with `data` durably; the file has `mode` from the moment it exists (keys never show)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have removed bits we want (0644 for public files)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _named(doc: Mapping[str, Any], section: str, name: str) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            value = entry.get(section[:-1])
            return dict(value) if isinstance(value, Mapping) else {}
    return {}


def read_current(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(cluster, user) of the current context of the kubeconfig at `path`; ValueError when it is unusable.

    The cluster's `certificate-authority` file, if any, is read into `certificate-authority-data`.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read kubeconfig {path}: {exc.__class__.__name__}") from None
    if not isinstance(doc, Mapping):
        raise ValueError(f"{path} is not a kubeconfig")
    context = _named(doc, "contexts", str(doc.get("current-context") or ""))
    cluster = _named(doc, "clusters", str(context.get("cluster") or ""))
    if not cluster.get("server"):
        raise ValueError(f"kubeconfig {path} has no current context with a server")
    if not cluster.get("certificate-authority-data") and cluster.get("certificate-authority"):
        try:
            cluster["certificate-authority-data"] = _b64((path.parent / cluster["certificate-authority"]).read_bytes())
        except OSError as exc:
            raise ValueError(f"cannot read the certificate authority of {path}: {exc.strerror}") from None
    return cluster, _named(doc, "users", str(context.get("user") or ""))
