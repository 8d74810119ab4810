"""The seed authorizer's decisions and SeedRestriction, over objects held in memory."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gardener.apiserver.errors import StatusError
from gardener.apiserver.rbac import RequestAttributes, UserInfo
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import AdmissionRequest
from gardener.apiserver.seedauthorizer import Authorizer, authorize_seed, seed_of, seed_restriction

CORE = "core.gardener.cloud"
SEED_A = UserInfo(name="gardener.cloud:system:seed:a", groups=("gardener.cloud:system:seeds", "system:authenticated"))
Object = dict[str, Any]


def _csr_request(cn: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gardener.cloud:system:seeds"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def _shoot(ns: str, name: str, *, seed: str | None = None, status_seed: str | None = None) -> Object:
    return {
        "metadata": {"namespace": ns, "name": name},
        "spec": {"seedName": seed, "secretBindingName": "creds"},
        "status": {"seedName": status_seed} if status_seed else {},
    }


class Objects:
    """SeedObjects over a dict keyed by (group, resource, namespace, name)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str, str], Object] = {}

    def add(self, group: str, resource: str, obj: Object) -> None:
        m = obj["metadata"]
        self.items[(group, resource, m.get("namespace", ""), m["name"])] = obj

    async def get(self, group: str, resource: str, namespace: str, name: str) -> Object | None:
        return self.items.get((group, resource, namespace, name))

    async def list(self, group: str, resource: str, namespace: str) -> list[Object]:
        return [o for (g, r, ns, _), o in self.items.items() if (g, r) == (group, resource) and namespace in ("", ns)]


@pytest.fixture
def objects() -> Objects:
    o = Objects()
    o.add(CORE, "shoots", _shoot("garden-dev", "mine", seed="a"))
    o.add(CORE, "shoots", _shoot("garden-dev", "migrating", seed="b", status_seed="a"))
    o.add(CORE, "shoots", _shoot("garden-other", "theirs", seed="b"))
    o.add(
        CORE,
        "secretbindings",
        {
            "metadata": {"namespace": "garden-dev", "name": "creds"},
            "secretRef": {"name": "shared", "namespace": "garden-creds"},
        },
    )
    o.add(CORE, "controllerinstallations", {"metadata": {"name": "ext-a"}, "spec": {"seedRef": {"name": "a"}}})
    o.add(CORE, "controllerinstallations", {"metadata": {"name": "ext-b"}, "spec": {"seedRef": {"name": "b"}}})
    o.add(
        "certificates.k8s.io",
        "certificatesigningrequests",
        {
            "metadata": {"name": "boot"},
            "spec": {"username": "system:bootstrap:abcdef", "request": _csr_request("gardener.cloud:system:seed:a")},
        },
    )
    o.add(
        "certificates.k8s.io",
        "certificatesigningrequests",
        {
            "metadata": {"name": "boot-b"},
            "spec": {"username": "system:bootstrap:bbbbbb", "request": _csr_request("gardener.cloud:system:seed:b")},
        },
    )
    o.add(
        "certificates.k8s.io",
        "certificatesigningrequests",
        {"metadata": {"name": "renew"}, "spec": {"username": SEED_A.name}},
    )
    return o


def _attrs(verb: str, group: str, resource: str, *, ns: str = "", name: str = "", sub: str = "") -> RequestAttributes:
    return RequestAttributes(
        user=SEED_A,
        verb=verb,
        is_resource_request=True,
        api_group=group,
        api_version="v1beta1" if group == CORE else "v1",
        resource=resource,
        subresource=sub,
        namespace=ns,
        name=name,
    )


CASES: list[tuple[str, RequestAttributes, bool]] = [
    # its own Seed, and every Seed through lists
    ("get own seed", _attrs("get", CORE, "seeds", name="a"), True),
    ("patch own seed status", _attrs("patch", CORE, "seeds", name="a", sub="status"), True),
    ("update own seed", _attrs("update", CORE, "seeds", name="a"), True),
    ("create a seed (name checked by admission)", _attrs("create", CORE, "seeds"), True),
    ("list seeds", _attrs("list", CORE, "seeds"), True),
    ("watch seeds", _attrs("watch", CORE, "seeds"), True),
    ("get another seed", _attrs("get", CORE, "seeds", name="b"), False),
    ("patch another seed's status", _attrs("patch", CORE, "seeds", name="b", sub="status"), False),
    ("delete own seed", _attrs("delete", CORE, "seeds", name="a"), False),
    # shoots: lists yes, named requests only for its own
    ("list shoots", _attrs("list", CORE, "shoots"), True),
    ("watch shoots in a namespace", _attrs("watch", CORE, "shoots", ns="garden-dev"), True),
    ("get own shoot", _attrs("get", CORE, "shoots", ns="garden-dev", name="mine"), True),
    ("get shoot migrating away", _attrs("get", CORE, "shoots", ns="garden-dev", name="migrating"), True),
    ("watch one own shoot", _attrs("watch", CORE, "shoots", ns="garden-dev", name="mine"), True),
    ("patch own shoot status", _attrs("patch", CORE, "shoots", ns="garden-dev", name="mine", sub="status"), True),
    ("update own shoot status", _attrs("update", CORE, "shoots", ns="garden-dev", name="mine", sub="status"), True),
    ("get another seed's shoot", _attrs("get", CORE, "shoots", ns="garden-other", name="theirs"), False),
    ("watch another seed's shoot", _attrs("watch", CORE, "shoots", ns="garden-other", name="theirs"), False),
    (
        "patch another's shoot status",
        _attrs("patch", CORE, "shoots", ns="garden-other", name="theirs", sub="status"),
        False,
    ),
    ("get a missing shoot", _attrs("get", CORE, "shoots", ns="garden-dev", name="nope"), False),
    ("delete own shoot", _attrs("delete", CORE, "shoots", ns="garden-dev", name="mine"), False),
    ("create a shoot", _attrs("create", CORE, "shoots", ns="garden-dev"), False),
    ("bind a shoot", _attrs("update", CORE, "shoots", ns="garden-dev", name="mine", sub="binding"), False),
    # what every seed reads
    ("get cloudprofile", _attrs("get", CORE, "cloudprofiles", name="local"), True),
    ("list projects", _attrs("list", CORE, "projects"), True),
    ("watch secretbindings", _attrs("watch", CORE, "secretbindings", ns="garden-dev"), True),
    ("list controllerregistrations", _attrs("list", CORE, "controllerregistrations"), True),
    ("update cloudprofile", _attrs("update", CORE, "cloudprofiles", name="local"), False),
    ("create project", _attrs("create", CORE, "projects"), False),
    # controller installations of its seed
    ("list controllerinstallations", _attrs("list", CORE, "controllerinstallations"), True),
    ("get own controllerinstallation", _attrs("get", CORE, "controllerinstallations", name="ext-a"), True),
    (
        "patch own installation status",
        _attrs("patch", CORE, "controllerinstallations", name="ext-a", sub="status"),
        True,
    ),
    ("get another's controllerinstallation", _attrs("get", CORE, "controllerinstallations", name="ext-b"), False),
    # its heartbeat Lease
    ("create lease", _attrs("create", "coordination.k8s.io", "leases", ns="gardener-system-seed-lease"), True),
    ("get own lease", _attrs("get", "coordination.k8s.io", "leases", ns="gardener-system-seed-lease", name="a"), True),
    (
        "update own lease",
        _attrs("update", "coordination.k8s.io", "leases", ns="gardener-system-seed-lease", name="a"),
        True,
    ),
    (
        "watch own lease",
        _attrs("watch", "coordination.k8s.io", "leases", ns="gardener-system-seed-lease", name="a"),
        True,
    ),
    (
        "update another's lease",
        _attrs("update", "coordination.k8s.io", "leases", ns="gardener-system-seed-lease", name="b"),
        False,
    ),
    ("create lease elsewhere", _attrs("create", "coordination.k8s.io", "leases", ns="kube-system"), False),
    (
        "delete own lease",
        _attrs("delete", "coordination.k8s.io", "leases", ns="gardener-system-seed-lease", name="a"),
        False,
    ),
    # certificate requests
    ("create csr", _attrs("create", "certificates.k8s.io", "certificatesigningrequests"), True),
    ("get own csr", _attrs("get", "certificates.k8s.io", "certificatesigningrequests", name="renew"), True),
    ("get another's csr", _attrs("get", "certificates.k8s.io", "certificatesigningrequests", name="boot"), False),
    ("list csrs", _attrs("list", "certificates.k8s.io", "certificatesigningrequests"), False),
    (
        "approve csr",
        _attrs("update", "certificates.k8s.io", "certificatesigningrequests", name="renew", sub="approval"),
        False,
    ),
    # events anywhere
    ("create event", _attrs("create", "", "events", ns="anywhere"), True),
    ("patch events.k8s.io event", _attrs("patch", "events.k8s.io", "events", ns="garden-dev", name="x"), True),
    ("list events", _attrs("list", "", "events", ns="garden-dev"), False),
    # secrets and configmaps of its shoots' namespaces, and the credentials of their SecretBindings
    ("get secret of a shoot namespace", _attrs("get", "", "secrets", ns="garden-dev", name="x"), True),
    ("watch secrets of a shoot namespace", _attrs("watch", "", "secrets", ns="garden-dev"), True),
    ("get secretbinding credentials", _attrs("get", "", "secrets", ns="garden-creds", name="shared"), True),
    (
        "get other secret of the credentials namespace",
        _attrs("get", "", "secrets", ns="garden-creds", name="other"),
        False,
    ),
    ("list secrets of the credentials namespace", _attrs("list", "", "secrets", ns="garden-creds"), False),
    ("get secret of another seed's namespace", _attrs("get", "", "secrets", ns="garden-other", name="x"), False),
    ("list all secrets", _attrs("list", "", "secrets"), False),
    ("create secret", _attrs("create", "", "secrets", ns="garden-dev"), False),
    ("get configmap of a shoot namespace", _attrs("get", "", "configmaps", ns="garden-dev", name="x"), True),
    ("get cluster identity", _attrs("get", "", "configmaps", ns="kube-system", name="cluster-identity"), True),
    ("get other configmap", _attrs("get", "", "configmaps", ns="kube-system", name="other"), False),
    ("get shoot namespace", _attrs("get", "", "namespaces", ns="garden-dev", name="garden-dev"), True),
    ("get other namespace", _attrs("get", "", "namespaces", ns="kube-system", name="kube-system"), False),
    # its own bootstrap token only
    (
        "delete own bootstrap token",
        _attrs("delete", "", "secrets", ns="kube-system", name="bootstrap-token-abcdef"),
        True,
    ),
    (
        "delete another's bootstrap token",
        _attrs("delete", "", "secrets", ns="kube-system", name="bootstrap-token-bbbbbb"),
        False,
    ),
    (
        "delete unknown bootstrap token",
        _attrs("delete", "", "secrets", ns="kube-system", name="bootstrap-token-zzzzzz"),
        False,
    ),
    # everything else: no opinion or denied
    ("get pods", _attrs("get", "", "pods", ns="garden-dev", name="x"), False),
    ("get clusterroles", _attrs("get", "rbac.authorization.k8s.io", "clusterroles", name="x"), False),
]


@pytest.mark.parametrize(("what", "attrs", "allowed"), CASES, ids=[c[0] for c in CASES])
async def test_seed_decisions(objects: Objects, what: str, attrs: RequestAttributes, allowed: bool) -> None:
    decision = await authorize_seed(attrs, "a", objects)
    assert (decision is not None and decision.allowed) is allowed


async def test_denials_say_why(objects: Objects) -> None:
    decision = await authorize_seed(_attrs("get", CORE, "shoots", ns="garden-other", name="theirs"), "a", objects)
    assert decision is not None and decision.reason == "no relationship found between seed 'a' and this object"
    decision = await authorize_seed(_attrs("delete", CORE, "seeds", name="a"), "a", objects)
    assert decision is not None
    assert (
        decision.reason
        == "only the following verbs are allowed for this resource type: [create get list watch update patch]"
    )
    assert await authorize_seed(_attrs("get", "", "pods", ns="x", name="y"), "a", objects) is None


def test_seed_identity_needs_name_and_group() -> None:
    assert seed_of(SEED_A) == "a"
    assert seed_of(UserInfo(name="gardener.cloud:system:seed:a", groups=("system:authenticated",))) is None
    assert seed_of(UserInfo(name="alice", groups=("gardener.cloud:system:seeds",))) is None
    assert seed_of(UserInfo(name="gardener.cloud:system:seed:", groups=("gardener.cloud:system:seeds",))) is None


class NoRBAC:
    def cluster_role(self, name: str) -> Mapping[str, Any] | None:
        return None

    def role(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return None

    def cluster_role_bindings(self) -> list[Mapping[str, Any]]:
        return []

    def role_bindings(self, namespace: str) -> list[Mapping[str, Any]]:
        return []


class AdminRBAC(NoRBAC):
    """RBAC that lets the group of seeds do anything: the chain must still ask the seed authorizer first."""

    def cluster_role(self, name: str) -> Mapping[str, Any] | None:
        return {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}

    def cluster_role_bindings(self) -> list[Mapping[str, Any]]:
        return [
            {
                "metadata": {"name": "all"},
                "roleRef": {"kind": "ClusterRole", "name": "all"},
                "subjects": [{"kind": "Group", "name": "gardener.cloud:system:seeds"}],
            }
        ]


async def test_chain_falls_through_to_rbac(objects: Objects) -> None:
    other = _attrs("get", CORE, "shoots", ns="garden-other", name="theirs")
    denied = await Authorizer(objects=objects, rbac_source=NoRBAC()).authorize(other)
    assert not denied.allowed and "no relationship found" in denied.reason
    granted = await Authorizer(objects=objects, rbac_source=AdminRBAC()).authorize(other)
    assert granted.allowed
    alice = RequestAttributes(user=UserInfo(name="alice"), verb="get", is_resource_request=True, resource="pods")
    plain = await Authorizer(objects=objects, rbac_source=NoRBAC()).authorize(alice)
    assert not plain.allowed and plain.reason == ""


def _admission(group: str, plural: str, *, name: str, namespace: str = "", user: UserInfo = SEED_A) -> AdmissionRequest:
    info = next(i for i in Registry().all() if (i.group, i.plural) == (group, plural))
    return AdmissionRequest(
        operation="CREATE",
        info=info,
        namespace=namespace,
        name=name,
        subresource="",
        obj={"metadata": {"name": name}},
        old=None,
        user=user,
        dry_run=False,
    )


async def test_seed_restriction_on_leases() -> None:
    await seed_restriction(
        _admission("coordination.k8s.io", "leases", name="a", namespace="gardener-system-seed-lease")
    )
    with pytest.raises(StatusError) as exc:
        await seed_restriction(
            _admission("coordination.k8s.io", "leases", name="b", namespace="gardener-system-seed-lease")
        )
    assert exc.value.code == 403 and "may only create its own Lease" in exc.value.message
    with pytest.raises(StatusError):
        await seed_restriction(_admission("coordination.k8s.io", "leases", name="a", namespace="default"))
    await seed_restriction(
        _admission("coordination.k8s.io", "leases", name="b", namespace="default", user=UserInfo(name="admin"))
    )
