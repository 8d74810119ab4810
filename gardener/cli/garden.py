"""gardenctl's view of a garden: Gardener objects by name, as objects or server-side Tables."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import config
from kubernetes.client.exceptions import ApiException

GROUP_PATH = "/apis/core.gardener.cloud/v1beta1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class GardenError(Exception):
    """A problem to show the user in one line."""


class GardenClient:
    def __init__(self, kubeconfig: str) -> None:
        try:
            self._api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        except Exception as exc:  # the kubernetes client raises many types for a bad kubeconfig
            raise GardenError(f"cannot use kubeconfig {kubeconfig}: {exc}") from None

    def _request(self, path: str, *, accept: str = "application/json") -> Any:
        m, url, headers, body, post = self._api.param_serialize(
            method="GET", resource_path=path, header_params={"Accept": accept}, auth_settings=["BearerToken"]
        )
        try:
            response = self._api.call_api(m, url, headers, body, post)
        except Exception as exc:  # urllib3 connection errors
            raise GardenError(f"cannot reach the garden: {exc.__class__.__name__}") from None
        response.read()
        payload: bytes = response.data or b""
        if response.status >= 400:
            try:
                message = json.loads(payload).get("message") or response.reason
            except ValueError:
                message = response.reason
            raise GardenError(str(message))
        return json.loads(payload)

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


__all__ = ["ApiException", "GardenClient", "GardenError"]
