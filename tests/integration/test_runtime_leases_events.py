"""The runtime's Lease leader election and event recorder against a real API server."""

from __future__ import annotations

import asyncio
import json

from gardener.runtime.aiokube import AsyncKube
from gardener.runtime.events import WARNING, EventRecorder
from gardener.runtime.kube import LEASES
from gardener.runtime.leaderelection import LeaderElection
from tests.helpers import ServerProcess, kubectl, module_server

server = module_server("leases-events")


def _election(client: AsyncKube, identity: str) -> LeaderElection:
    return LeaderElection(
        client=client,
        namespace="kube-system",
        name="test-lock",
        identity=identity,
        lease_duration=5.0,
        renew_deadline=3.0,
        retry_period=0.2,
    )


async def test_one_leader_at_a_time_and_a_clean_stop_hands_over(server: ServerProcess) -> None:
    client = AsyncKube.from_kubeconfig(server.kubeconfig)
    try:
        first_leading, first_done, second_leading = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def first_work() -> None:
            first_leading.set()
            await first_done.wait()

        async def second_work() -> None:
            second_leading.set()

        first = asyncio.create_task(_election(client, "a").lead(first_work))
        await asyncio.wait_for(first_leading.wait(), 10)
        second = asyncio.create_task(_election(client, "b").lead(second_work))
        await asyncio.sleep(1.0)  # several retry periods: b must not lead while a renews
        assert not second_leading.is_set()
        lease = await client.get(LEASES.path("kube-system", "test-lock"))
        assert lease is not None and lease["spec"]["holderIdentity"] == "a"
        first_done.set()
        await asyncio.wait_for(first, 10)
        # a released the lease on its way out: b takes it well before a's 5 s would have expired
        await asyncio.wait_for(second, 4)
        lease = await client.get(LEASES.path("kube-system", "test-lock"))
        assert lease is not None
        assert lease["spec"]["leaseTransitions"] >= 1 and lease["spec"]["acquireTime"]
    finally:
        await client.close()


async def test_repeated_events_fold_into_one_with_a_count(server: ServerProcess) -> None:
    kubectl("create", "namespace", "ev", kubeconfig=server.kubeconfig)
    kubectl("create", "configmap", "cm", "-n", "ev", kubeconfig=server.kubeconfig)
    client = AsyncKube.from_kubeconfig(server.kubeconfig)
    try:
        cm = await client.get("/api/v1/namespaces/ev/configmaps/cm")
        assert cm is not None
        recorder = EventRecorder(client, component="test-controller", host="h1")
        for _ in range(3):
            await recorder.event(cm, WARNING, "Broken", "it broke")
        await recorder.event(cm, WARNING, "Other", "something else")
        v1 = EventRecorder(client, component="default-scheduler", new_api=True)
        await v1.event(cm, WARNING, "FailedScheduling", "0/0 nodes are available")
    finally:
        await client.close()
    events = json.loads(kubectl("get", "events", "-n", "ev", "-o", "json", kubeconfig=server.kubeconfig).stdout)
    by_reason = {e["reason"]: e for e in events["items"]}
    assert by_reason["Broken"]["count"] == 3 and by_reason["Other"]["count"] == 1
    assert by_reason["Broken"]["source"] == {"component": "test-controller", "host": "h1"}
    assert by_reason["Broken"]["involvedObject"]["kind"] == "ConfigMap"
    assert by_reason["FailedScheduling"]["message"] == "0/0 nodes are available"
    described = kubectl("describe", "configmap", "cm", "-n", "ev", kubeconfig=server.kubeconfig).stdout
    assert "Broken" in described and "FailedScheduling" in described
