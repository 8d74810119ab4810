"""Actuators for kinds provider-local has nothing to do for on this machine: they succeed and say so."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extensions.library.reconciler import BaseActuator, Context
from extensions.provider_local.controllers import PROVIDER_API_VERSION


class NoOpActuator(BaseActuator):
    """Succeeds at once; with `status_kind`, reports a providerStatus of that kind."""

    def __init__(self, status_kind: str | None = None) -> None:
        self.status_kind = status_kind

    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        if self.status_kind is None:
            return None
        return {"providerStatus": {"apiVersion": PROVIDER_API_VERSION, "kind": self.status_kind}}

    def delete(self, ctx: Context) -> None:
        """Reconcile made nothing outside the resource itself, so nothing is left to remove."""
        return None

    def migrate(self, ctx: Context) -> None:
        """Nothing lives on this seed but the resource itself, which the new seed gets restored."""
        return None
