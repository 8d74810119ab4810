"""A provider extension defined inside the test suite: type `contract`, to prove the extension contract.

Nothing of it is known to the gardenlet. It is registered through a ControllerRegistration and installed on the
seed by the gardenlet like any extension; it brings its own actuators (Infrastructure, ControlPlane, Worker as a
delegate of the library's generic actuator, OperatingSystemConfig for its machine image `contract-os`, Network
`contract-net`, DNSRecord of the seed's DNS provider) and its own machine driver, registered in the machine
controller manager's driver registry: a "machine" is a Node object it registers in the shoot, with the labels and
taints of the machine's node template.

`python -m tests.integration.contract_provider --kubeconfig SEED` runs the extension controllers; the machine
controller manager loads the driver with `--driver-module tests.integration.contract_provider --provider contract`.
"""

from __future__ import annotations

import argparse
import base64
from collections.abc import Mapping
from typing import Any

from extensions.library.genericworker import GenericWorkerActuator, MachineClassSpec, Wanted, WorkerContext
from extensions.library.reconciler import (
    CONTROLPLANES,
    DNSRECORDS,
    INFRASTRUCTURES,
    NETWORKS,
    OPERATINGSYSTEMCONFIGS,
    WORKERS,
    BaseActuator,
    Context,
    register_all,
)
from extensions.mcm.driver import VM, DriverError, DriverOptions, MachineRequest, register_driver
from gardener.apis.extensions.machine import SHOOT_ACCESS_KEY
from gardener.apis.extensions.v1alpha1 import OSC_SECRET_DATA_KEY, InfrastructureSpec, OperatingSystemConfigSpec
from gardener.runtime import logs
from gardener.runtime.controller import Manager
from gardener.runtime.errors import ApiError
from gardener.runtime.kube import NODES, SECRETS, Kube

TYPE = "contract"
OS_TYPE = "contract-os"
NETWORK_TYPE = "contract-net"
API_VERSION = "contract.provider.extensions.gardener.cloud/v1alpha1"


class Infrastructure(BaseActuator):
    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        spec = ctx.spec_as(InfrastructureSpec)
        return {"providerStatus": {"apiVersion": API_VERSION, "kind": "InfrastructureStatus", "region": spec.region}}

    def delete(self, ctx: Context) -> None:
        return None

    def migrate(self, ctx: Context) -> None:
        return None


class Nothing(BaseActuator):
    """ControlPlane, Network and DNSRecord: nothing exists outside the resource for them."""

    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        return None

    def delete(self, ctx: Context) -> None:
        return None

    def migrate(self, ctx: Context) -> None:
        return None


class OperatingSystemConfig(BaseActuator):
    """The user data: the unit names, one a line, in a Secret the status names."""

    def reconcile(self, ctx: Context) -> Mapping[str, Any] | None:
        spec = ctx.spec_as(OperatingSystemConfigSpec)
        data = "\n".join(u.name for u in spec.units or []).encode()
        name = f"{ctx.name}-contract"
        ctx.kube.ensure(
            SECRETS.path(ctx.namespace),
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": ctx.namespace},
                "data": {OSC_SECRET_DATA_KEY: base64.b64encode(data).decode()},
            },
        )
        return {"cloudConfig": {"secretRef": {"name": name, "namespace": ctx.namespace}}}

    def delete(self, ctx: Context) -> None:
        ctx.kube.delete(SECRETS.path(ctx.namespace, f"{ctx.name}-contract"))

    def migrate(self, ctx: Context) -> None:
        return None


class WorkerDelegate:
    driver = TYPE

    def machine_class(self, worker: WorkerContext, wanted: Wanted) -> MachineClassSpec:
        return MachineClassSpec(
            provider_spec={"apiVersion": API_VERSION, "kind": "MachineProviderConfig", "zone": wanted.zone},
            capacity={"cpu": "1", "gpu": "0", "memory": "1Gi"},
        )

    def provider_status(self, worker: WorkerContext) -> Mapping[str, Any] | None:
        return {"apiVersion": API_VERSION, "kind": "WorkerStatus"}


class NodeDriver:
    """A machine is a Node object in the shoot: created Ready with its node template's labels and taints."""

    def _shoot(self, req: MachineRequest) -> Kube:
        kubeconfig = req.secret.get(SHOOT_ACCESS_KEY)
        if not kubeconfig:
            raise DriverError("the machine class's secrets have no shoot kubeconfig")
        return Kube.from_kubeconfig_text(kubeconfig.decode())

    def _vm(self, req: MachineRequest) -> VM:
        return VM(provider_id=f"{TYPE}:///{req.namespace}/{req.name}", node_name=req.name)

    def create_machine(self, req: MachineRequest) -> VM:
        template = (req.machine.get("spec") or {}).get("nodeTemplate") or {}
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": req.name,
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
            },
            "spec": {
                "providerID": self._vm(req).provider_id,
                "taints": (template.get("spec") or {}).get("taints") or [],
            },
        }
        shoot = self._shoot(req)
        try:
            try:
                shoot.create(NODES.path(), node)
            except ApiError as exc:
                if exc.status != 409:
                    raise
            ready = {"type": "Ready", "status": "True", "reason": "ContractReady", "message": "contract machine"}
            shoot.patch(NODES.path(name=req.name, subresource="status"), {"status": {"conditions": [ready]}})
        finally:
            shoot.close()
        return self._vm(req)

    def get_machine_status(self, req: MachineRequest) -> VM | None:
        shoot = self._shoot(req)
        try:
            return self._vm(req) if shoot.get(NODES.path(name=req.name)) is not None else None
        finally:
            shoot.close()

    def delete_machine(self, req: MachineRequest) -> None:
        shoot = self._shoot(req)
        try:
            shoot.delete(NODES.path(name=req.name))
        finally:
            shoot.close()


def _driver(options: DriverOptions) -> NodeDriver:
    return NodeDriver()


register_driver(TYPE, _driver)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="contract-provider")
    p.add_argument("--kubeconfig", required=True)
    args = p.parse_args(argv)
    logs.setup_logging()
    kube = Kube.from_kubeconfig(args.kubeconfig)
    manager = Manager(kube)
    register_all(
        manager,
        TYPE,
        {
            INFRASTRUCTURES: Infrastructure(),
            CONTROLPLANES: Nothing(),
            WORKERS: GenericWorkerActuator(WorkerDelegate()),
        },
    )
    register_all(manager, OS_TYPE, {OPERATINGSYSTEMCONFIGS: OperatingSystemConfig()})
    register_all(manager, NETWORK_TYPE, {NETWORKS: Nothing()})
    register_all(manager, "local", {DNSRECORDS: Nothing()})  # the seed's DNS provider type
    manager.run()
    kube.close()


if __name__ == "__main__":
    main()
