"""A gardenlet may keep the Secrets it publishes beside its Shoots (`<shoot>.kubeconfig`), and no others."""

from __future__ import annotations

from typing import Any

import pytest

from gardener.apiserver.rbac import RequestAttributes, UserInfo
from gardener.apiserver.seedauthorizer import authorize_seed

SEED_A = UserInfo(name="gardener.cloud:system:seed:a", groups=("gardener.cloud:system:seeds",))


class Shoots:
    def __init__(self) -> None:
        self.items = {
            ("garden-dev", "mine"): {
                "metadata": {"namespace": "garden-dev", "name": "mine"},
                "spec": {"seedName": "a"},
            },
            ("garden-dev", "theirs"): {
                "metadata": {"namespace": "garden-dev", "name": "theirs"},
                "spec": {"seedName": "b"},
            },
        }

    async def get(self, group: str, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.items.get((namespace, name)) if resource == "shoots" else None

    async def list(self, group: str, resource: str, namespace: str) -> list[dict[str, Any]]:
        return [o for (ns, _), o in self.items.items() if resource == "shoots" and namespace in ("", ns)]


def _secret(verb: str, name: str, *, namespace: str = "garden-dev") -> RequestAttributes:
    return RequestAttributes(
        user=SEED_A,
        verb=verb,
        namespace=namespace,
        api_group="",
        resource="secrets",
        name=name,
        is_resource_request=True,
        path=f"/api/v1/namespaces/{namespace}/secrets/{name}",
    )


@pytest.mark.parametrize("verb", ["get", "patch", "update", "delete"])
async def test_kubeconfig_of_an_own_shoot(verb: str) -> None:
    decision = await authorize_seed(_secret(verb, "mine.kubeconfig"), "a", Shoots())
    assert decision is not None and decision.allowed


@pytest.mark.parametrize(
    ("verb", "name", "namespace"),
    [
        ("patch", "theirs.kubeconfig", "garden-dev"),  # a Shoot of another seed
        ("patch", "gone.kubeconfig", "garden-dev"),  # no such Shoot
        ("patch", "mine.kubeconfig", "garden-other"),  # a same-named Shoot elsewhere does not exist
        ("patch", ".kubeconfig", "garden-dev"),
        ("patch", "mine", "garden-dev"),  # not a published secret
    ],
)
async def test_other_secrets_stay_out_of_reach(verb: str, name: str, namespace: str) -> None:
    decision = await authorize_seed(_secret(verb, name, namespace=namespace), "a", Shoots())
    assert decision is not None and not decision.allowed
