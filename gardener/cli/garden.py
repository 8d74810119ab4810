"""gardenctl's view of a garden: Gardener objects by name, as objects or server-side Tables."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from gardener.runtime.errors import ApiError, Unreachable
from gardener.runtime.kube import Kube

GROUP_PATH = "/apis/core.gardener.cloud/v1beta1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class GardenError(Exception):
    """A problem to show the user in one line."""


def unreachable(server: str, exc: BaseException) -> GardenError:
    """A connection problem, named by the URL that failed and the cause a user can act on (not urllib3's class)."""
    return GardenError(f"cannot reach the garden at {server}: {connection_problem(exc)}")


def connection_problem(exc: BaseException) -> str:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or any(e is s for s in seen):
            continue
        seen.append(e)
        reason = getattr(e, "reason", None)  # urllib3's MaxRetryError wraps the last error here
        todo += [reason if isinstance(reason, BaseException) else None, e.__cause__, e.__context__]
    for e in seen:
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "unknown host"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"the server's certificate is not trusted ({e.verify_message})"
        if isinstance(e, ssl.SSLError):
            return f"TLS failed ({e.reason or e})"
        if isinstance(e, TimeoutError | socket.timeout):
            return "timed out"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror.lower()
    return str(seen[-1]) or seen[-1].__class__.__name__


class GardenClient:
    """Reads through the runtime's client; every failure becomes one line for the user."""

    def __init__(self, kubeconfig: str) -> None:
        try:
            self._kube = Kube.from_kubeconfig(kubeconfig, field_manager="gardenctl")
        except Exception as exc:  # the kubernetes client raises many types for a bad kubeconfig
            raise GardenError(f"cannot use kubeconfig {kubeconfig}: {exc}") from None

    def _request(self, path: str, *, accept: str = "application/json") -> Any:
        try:
            return self._kube.request("GET", path, accept=accept)
        except Unreachable as exc:
            raise unreachable(str(self._kube.api.configuration.host), exc) from None
        except ApiError as exc:
            raise GardenError(exc.message or exc.reason or str(exc.status)) from None

    @staticmethod
    def _path(resource: str, name: str | None, namespace: str | None) -> str:
        path = f"{GROUP_PATH}/namespaces/{namespace}/{resource}" if namespace else f"{GROUP_PATH}/{resource}"
        return f"{path}/{name}" if name else path

    def get(self, resource: str, name: str, *, namespace: str | None) -> Any:
        return self._request(self._path(resource, name, namespace))

    def list(self, resource: str, *, namespace: str | None) -> Any:
        return self._request(self._path(resource, None, namespace))

    def table(self, resource: str, name: str | None, *, namespace: str | None) -> Any:
        return self._request(self._path(resource, name, namespace), accept=TABLE)

    def project_namespace(self, project: str) -> str:
        obj = self.get("projects", project, namespace=None)
        return str((obj.get("spec") or {}).get("namespace") or f"garden-{project}")


__all__ = ["GardenClient", "GardenError", "unreachable"]
