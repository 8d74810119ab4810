"""Thin helpers over the official `kubernetes` client, shared by the garden-side components (controller-manager,
scheduler, admission controller, CLI, local bring-up): create-or-update, and object access by path."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException


class Kube:
    """Generic object access through the dynamic-free CustomObjects and Core APIs."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api = api_client
        self.core = client.CoreV1Api(api_client)
        self.rbac = client.RbacAuthorizationV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    def raw(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json") -> Any:
        """A JSON request to the API server; returns the decoded body (None for 404 on GET)."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        m, url, hdrs, data, post = self.api.param_serialize(
            method=method, resource_path=path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        response = self.api.call_api(m, url, hdrs, data, post)
        response.read()  # type: ignore[no-untyped-call]
        payload: bytes = response.data or b""
        if response.status == 404 and method == "GET":
            return None
        if response.status >= 400:
            raise ApiException(status=response.status, reason=response.reason, body=payload.decode(errors="replace"))
        return json.loads(payload) if payload else None

    def apply(self, path: str, obj: dict[str, Any]) -> Any:
        """Create the object at collection `path`, or merge-patch it to match if it exists."""
        name = obj["metadata"]["name"]
        current = self.raw("GET", f"{path}/{name}")
        if current is None:
            try:
                return self.raw("POST", path, obj)
            except ApiException as exc:
                if exc.status != 409:
                    raise
        return self.raw("PATCH", f"{path}/{name}", obj, content_type="application/merge-patch+json")

    def delete(self, path: str, *, propagation: str = "Background") -> bool:
        """Delete; False if it was already gone."""
        try:
            self.raw("DELETE", path, {"propagationPolicy": propagation})
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True
