"""Network and DNSRecord on a local seed: what they mean here, reported, and nothing pretended.

A local shoot's machines are processes of this host that register Nodes; no kubelet runs the shoot's pods on them,
so there is no pod network for a CNI (calico or any other) to program. The Network actuator succeeds and says
exactly that in its providerStatus, with the ranges the shoot reserves. Likewise there is no DNS server for
shoots on this machine: a DNSRecord is recorded (zone `local`) and clients reach the API server at the address
their kubeconfig names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extensions.library.reconciler import BaseActuator, Context
from extensions.provider_local.controllers import PROVIDER_API_VERSION
from gardener.apis.extensions.v1alpha1 import DNSRecordSpec, NetworkSpec


class NetworkActuator(BaseActuator):
    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        spec = ctx.spec_as(NetworkSpec)
        return {
            "ipFamilies": list(spec.ipFamilies or ["IPv4"]),
            "providerStatus": {
                "apiVersion": PROVIDER_API_VERSION,
                "kind": "NetworkStatus",
                "mode": "none",
                "description": (
                    f"No {spec.type} agents run on a local seed: machines are host processes that run no pods, so "
                    f"there is no pod network to program; pods {spec.podCIDR} and services {spec.serviceCIDR} "
                    "stay reserved for the shoot"
                ),
            },
        }

    def delete(self, ctx: Context) -> None:
        """Reconcile set nothing up outside this resource."""
        return None

    def migrate(self, ctx: Context) -> None:
        """Nothing lives on this seed but the resource itself."""
        return None


class DNSRecordActuator(BaseActuator):
    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        spec = ctx.spec_as(DNSRecordSpec)
        return {
            "zone": spec.zone or "local",
            "providerStatus": {
                "apiVersion": PROVIDER_API_VERSION,
                "kind": "DNSRecordStatus",
                "description": (
                    f"{spec.name} {spec.recordType} {', '.join(spec.values)} is recorded here only: no DNS server "
                    "serves local shoots, clients use the address in their kubeconfig"
                ),
            },
        }

    def delete(self, ctx: Context) -> None:
        """No DNS server holds the record: there is nothing to remove."""
        return None

    def migrate(self, ctx: Context) -> None:
        return None
