"""The pure parts of seed registration: bootstrap tokens, CSR rules, approval, lifecycle, gardenlet and CLI helpers."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gardener.apis.core import conditions as cond
from gardener.apis.core.validation import validate_seed
from gardener.apiserver import certificates
from gardener.apiserver.bootstraptokens import BootstrapTokens, token_from_secret
from gardener.apiserver.controllers.csrsigning import client_usage_problem, needs_signing, validity_seconds
from gardener.apiserver.errors import StatusError
from gardener.apiserver.rbac import UserInfo
from gardener.apiserver.resources import Registry
from gardener.apiserver.rest import AdmissionRequest
from gardener.apiserver.storage.sqlite import SQLiteBackend
from gardener.cli import register
from gardener.controllermanager import csrapprover
from gardener.controllermanager.seedlifecycle import LifecycleConfig, check_seed, unknown_shoot_status
from gardenlet import bootstrap
from gardenlet.config import ConfigError, load_config, parse_duration
from gardenlet.heartbeat import desired_seed, desired_status
from gardenlet.seedcare import Observed

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
SEED_USER = "gardener.cloud:system:seed:a"
SEEDS = "gardener.cloud:system:seeds"


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def _token_secret(**data: str) -> dict[str, Any]:
    values = {"token-id": "abcdef", "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true"}
    values.update(data)
    return {
        "metadata": {"name": f"bootstrap-token-{values['token-id']}", "namespace": "kube-system"},
        "type": "bootstrap.kubernetes.io/token",
        "data": {k: _b64(v) for k, v in values.items() if v},
    }


# ---- bootstrap tokens ----


def test_token_secret_rules() -> None:
    parsed = token_from_secret(_token_secret(**{"auth-extra-groups": "system:bootstrappers:gardener"}))
    assert parsed is not None and parsed[0] == "abcdef"
    assert parsed[1].groups == ("system:bootstrappers", "system:bootstrappers:gardener")
    assert "0123456789abcdef" not in repr(parsed[1])
    assert token_from_secret(_token_secret(**{"usage-bootstrap-authentication": "false"})) is None
    assert token_from_secret(_token_secret(**{"auth-extra-groups": "system:masters"})) is None
    assert token_from_secret(_token_secret(**{"token-secret": "short"})) is None
    assert token_from_secret({**_token_secret(), "type": "Opaque"}) is None
    renamed = _token_secret()
    renamed["metadata"]["name"] = "bootstrap-token-zzzzzz"
    assert token_from_secret(renamed) is None
    deleting = _token_secret()
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert token_from_secret(deleting) is None


async def test_bootstrap_tokens_follow_their_secrets(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "s.db", synchronous="NORMAL")
    await backend.start()
    clock = [NOW]
    tokens = BootstrapTokens(backend, clock=lambda: clock[0])
    key = "/registry/core/secrets/kube-system/bootstrap-token-abcdef"
    try:
        await tokens.start()
        created = await backend.create(key, _token_secret(expiration="2026-01-02T00:00:00Z"))

        async def user_of(token: str) -> UserInfo | None:
            await asyncio.sleep(0)  # let the informer see the change
            return tokens.authenticate(token)

        user = None
        for _ in range(100):
            user = await user_of("abcdef.0123456789abcdef")
            if user is not None:
                break
        assert user is not None and user.name == "system:bootstrap:abcdef"
        assert user.groups == ("system:bootstrappers", "system:authenticated")
        assert tokens.authenticate("abcdef.0123456789abcdee") is None
        assert tokens.authenticate("zzzzzz.0123456789abcdef") is None
        clock[0] = NOW + dt.timedelta(days=1)
        assert tokens.authenticate("abcdef.0123456789abcdef") is None  # expired
        clock[0] = NOW
        await backend.delete(key, expected_rv=created.rv, last=_token_secret())
        for _ in range(100):
            if await user_of("abcdef.0123456789abcdef") is None:
                break
        assert tokens.authenticate("abcdef.0123456789abcdef") is None
    finally:
        await tokens.stop()
        await backend.close()


# ---- certificate requests ----


def _request(
    cn: str = SEED_USER, orgs: tuple[str, ...] = (SEEDS,), *, san: bool = False, key: Any = None
) -> tuple[str, ec.EllipticCurvePrivateKey]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([*names, x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("evil.example.com")]), False)
    pem = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    return base64.b64encode(pem).decode(), key


def _csr(
    *,
    username: str = "system:bootstrap:abcdef",
    groups: tuple[str, ...] = ("system:bootstrappers",),
    request: str | None = None,
    usages: tuple[str, ...] = ("digital signature", "client auth"),
    signer: str = "kubernetes.io/kube-apiserver-client",
    conditions: list[dict[str, Any]] | None = None,
    certificate: str = "",
) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": conditions or []}
    if certificate:
        status["certificate"] = certificate
    return {
        "metadata": {"name": "csr"},
        "spec": {
            "request": request or _request()[0],
            "signerName": signer,
            "usages": list(usages),
            "username": username,
            "groups": list(groups),
        },
        "status": status,
    }


APPROVED = [{"type": "Approved", "status": "True", "lastUpdateTime": "2026-01-01T00:00:00Z"}]

REVIEWS: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    ("bootstrap user asks for a seed certificate", lambda: _csr(), csrapprover.APPROVE),
    (
        "key encipherment is fine",
        lambda: _csr(usages=("digital signature", "key encipherment", "client auth")),
        csrapprover.APPROVE,
    ),
    ("seed renews its own", lambda: _csr(username=SEED_USER, groups=(SEEDS,)), csrapprover.APPROVE),
    (
        "seed asks for another seed",
        lambda: _csr(username="gardener.cloud:system:seed:b", groups=(SEEDS,)),
        csrapprover.DENY,
    ),
    ("wrong organization", lambda: _csr(request=_request(orgs=("system:masters",))[0]), csrapprover.DENY),
    ("extra organization", lambda: _csr(request=_request(orgs=(SEEDS, "system:masters"))[0]), csrapprover.DENY),
    ("not a seed user", lambda: _csr(request=_request(cn="admin")[0]), csrapprover.DENY),
    ("empty seed name", lambda: _csr(request=_request(cn="gardener.cloud:system:seed:")[0]), csrapprover.DENY),
    ("subject alternative names", lambda: _csr(request=_request(san=True)[0]), csrapprover.DENY),
    ("server usage", lambda: _csr(usages=("digital signature", "server auth")), csrapprover.DENY),
    ("other signer", lambda: _csr(signer="kubernetes.io/kubelet-serving"), csrapprover.DENY),
    ("someone else's request", lambda: _csr(username="alice", groups=()), csrapprover.IGNORE),
    ("seed name without the seeds group", lambda: _csr(username=SEED_USER, groups=()), csrapprover.IGNORE),
    ("already approved", lambda: _csr(conditions=APPROVED), csrapprover.IGNORE),
    ("already denied", lambda: _csr(conditions=[{"type": "Denied", "status": "True"}]), csrapprover.IGNORE),
]


@pytest.mark.parametrize(("what", "make", "verdict"), REVIEWS, ids=[r[0] for r in REVIEWS])
def test_csr_review(what: str, make: Callable[[], dict[str, Any]], verdict: str) -> None:
    assert csrapprover.review(make()).verdict == verdict


def test_used_bootstrap_token_is_named_only_once_issued() -> None:
    assert csrapprover.bootstrap_token_secret(_csr(conditions=APPROVED, certificate="Y2VydA==")) == (
        "bootstrap-token-abcdef"
    )
    assert csrapprover.bootstrap_token_secret(_csr(conditions=APPROVED)) is None
    assert csrapprover.bootstrap_token_secret(_csr(username=SEED_USER, conditions=APPROVED, certificate="x")) is None


def test_signing_rules() -> None:
    approved = _csr(conditions=APPROVED)
    assert needs_signing(approved)
    assert not needs_signing(_csr())
    assert not needs_signing(_csr(conditions=[*APPROVED, {"type": "Failed", "status": "True"}]))
    assert not needs_signing(_csr(conditions=APPROVED, certificate="eA=="))
    assert not needs_signing(_csr(conditions=APPROVED, signer="example.com/other"))
    year = dt.timedelta(days=365)
    assert validity_seconds(approved, year) == int(year.total_seconds())
    approved["spec"]["expirationSeconds"] = 3600
    assert validity_seconds(approved, year) == 3600
    approved["spec"]["expirationSeconds"] = 10 * 365 * 86400
    assert validity_seconds(approved, year) == int(year.total_seconds())
    assert client_usage_problem(["digital signature", "client auth"]) is None
    assert client_usage_problem(["digital signature"]) is not None
    assert client_usage_problem(["client auth", "server auth"]) is not None


def _admission(operation: str, obj: dict[str, Any], old: dict[str, Any] | None, sub: str = "") -> AdmissionRequest:
    info = Registry().get("certificates.k8s.io", "v1", "certificatesigningrequests")
    assert info is not None
    return AdmissionRequest(
        operation=operation,
        info=info,
        namespace="",
        name="csr",
        subresource=sub,
        obj=obj,
        old=old,
        user=UserInfo(name="system:bootstrap:abcdef", groups=("system:bootstrappers", "system:authenticated")),
        dry_run=False,
    )


async def test_csr_strategy_records_the_requester_and_keeps_approval() -> None:
    forged = _csr(username="gardener.cloud:system:seed:a", groups=(SEEDS,))
    forged["spec"]["extra"] = {"x": ["y"]}
    await certificates.mutate(_admission("CREATE", forged, None))
    assert forged["spec"]["username"] == "system:bootstrap:abcdef"
    assert forged["spec"]["groups"] == ["system:bootstrappers", "system:authenticated"]
    assert "extra" not in forged["spec"]
    await certificates.validate(_admission("CREATE", forged, None))

    old = _csr(conditions=APPROVED)
    status_update = _csr(username="changed", conditions=[{"type": "Failed", "status": "True"}])
    await certificates.mutate(_admission("UPDATE", status_update, old, "status"))
    assert status_update["spec"] == old["spec"]
    assert [c["type"] for c in status_update["status"]["conditions"]] == ["Approved", "Failed"]

    with pytest.raises(StatusError) as exc:
        await certificates.validate(_admission("UPDATE", _csr(), old, "approval"))
    assert 'may not remove a condition of type "Approved"' in exc.value.causes[0].message
    both = _csr(conditions=[*APPROVED, {"type": "Denied", "status": "True"}])
    with pytest.raises(StatusError):
        await certificates.validate(_admission("UPDATE", both, _csr(), "approval"))
    issued = _csr(conditions=APPROVED, certificate="YQ==")
    with pytest.raises(StatusError):
        await certificates.validate(
            _admission("UPDATE", _csr(conditions=APPROVED, certificate="Yg=="), issued, "status")
        )


async def test_csr_create_validation() -> None:
    bad = _csr(usages=())
    bad["spec"]["request"] = _b64("not a csr")
    bad["spec"]["expirationSeconds"] = 60
    with pytest.raises(StatusError) as exc:
        await certificates.validate(_admission("CREATE", bad, None))
    assert {c.field for c in exc.value.causes} == {"spec.request", "spec.usages", "spec.expirationSeconds"}


# ---- seed lifecycle ----

CONFIG = LifecycleConfig(monitor_period=40, shoot_monitor_period=200)


def _seed(status: str = "True", since: dt.datetime = NOW) -> dict[str, Any]:
    ready = {
        "type": "GardenletReady",
        "status": status,
        "reason": "GardenletReady",
        "message": "m",
        "lastTransitionTime": cond.format_time(since),
        "lastUpdateTime": cond.format_time(since),
    }
    return {"metadata": {"name": "a"}, "status": {"conditions": [ready]}}


def _lease(renewed: dt.datetime) -> dict[str, Any]:
    return {"spec": {"renewTime": cond.format_micro_time(renewed)}}


def test_lifecycle_leaves_fresh_and_new_seeds_alone() -> None:
    assert check_seed(_seed(), _lease(NOW - dt.timedelta(seconds=39)), now=NOW, config=CONFIG).condition is None
    new_seed = {"metadata": {"name": "a"}, "status": {}}
    assert check_seed(new_seed, None, now=NOW, config=CONFIG) == check_seed(
        new_seed, _lease(NOW), now=NOW, config=CONFIG
    )
    assert check_seed(new_seed, None, now=NOW, config=CONFIG).condition is None


def test_lifecycle_turns_silent_seed_unknown_then_its_shoots() -> None:
    verdict = check_seed(_seed(), _lease(NOW - dt.timedelta(seconds=41)), now=NOW, config=CONFIG)
    assert verdict.condition is not None and not verdict.shoots_unknown
    assert verdict.condition["status"] == "Unknown" and verdict.condition["reason"] == "SeedStatusUnknown"
    assert verdict.condition["message"] == "Gardenlet stopped posting seed status."
    assert verdict.condition["lastTransitionTime"] == cond.format_time(NOW)
    assert check_seed(_seed(), None, now=NOW, config=CONFIG).condition is not None  # no lease at all
    unknown = _seed("Unknown", NOW - dt.timedelta(seconds=199))
    unknown["status"]["conditions"][0].update(
        reason="SeedStatusUnknown", message="Gardenlet stopped posting seed status."
    )
    stale = _lease(NOW - dt.timedelta(hours=1))
    assert check_seed(unknown, stale, now=NOW, config=CONFIG) == check_seed(unknown, stale, now=NOW, config=CONFIG)
    assert not check_seed(unknown, stale, now=NOW, config=CONFIG).shoots_unknown
    unknown["status"]["conditions"][0]["lastTransitionTime"] = cond.format_time(NOW - dt.timedelta(seconds=200))
    verdict = check_seed(unknown, stale, now=NOW, config=CONFIG)
    assert verdict.shoots_unknown and verdict.condition is None


def test_shoot_status_unknown_covers_standard_and_existing_types_once() -> None:
    shoot = {
        "status": {
            "conditions": [
                {
                    "type": "Custom",
                    "status": "True",
                    "reason": "x",
                    "message": "y",
                    "lastTransitionTime": "2025-01-01T00:00:00Z",
                }
            ]
        }
    }
    patch = unknown_shoot_status(shoot, now=NOW)
    assert patch is not None
    assert [c["type"] for c in patch["conditions"]] == ["Custom", *cond.SHOOT_CONDITIONS]
    assert {c["status"] for c in patch["conditions"] + patch["constraints"]} == {"Unknown"}
    assert {c["type"] for c in patch["constraints"]} == set(cond.SHOOT_CONSTRAINTS)
    assert patch["conditions"][0]["lastTransitionTime"] == cond.format_time(NOW)
    shoot["status"].update(patch)
    assert unknown_shoot_status(shoot, now=NOW + dt.timedelta(minutes=5)) is None


def test_updated_condition_moves_times_only_on_change() -> None:
    first = cond.updated_condition(None, ctype="X", status="True", reason="R", message="M", now=NOW)
    later = NOW + dt.timedelta(minutes=1)
    assert cond.updated_condition(first, ctype="X", status="True", reason="R", message="M", now=later) == first
    reworded = cond.updated_condition(first, ctype="X", status="True", reason="R", message="N", now=later)
    assert reworded["lastTransitionTime"] == first["lastTransitionTime"]
    assert reworded["lastUpdateTime"] == cond.format_time(later)
    flipped = cond.updated_condition(first, ctype="X", status="False", reason="R", message="M", now=later)
    assert flipped["lastTransitionTime"] == cond.format_time(later)
    assert cond.merge_conditions([first, {"type": "Y"}], flipped) == [flipped, {"type": "Y"}]


# ---- gardenlet and CLI ----


def _write_config(tmp_path: Path, **extra: Any) -> Path:
    seed = register.SeedRegistration(name="a", provider="local", region="local", zones=("local-a",))
    doc = register.gardenlet_config(seed, output_dir=Path("seed-a"))
    doc["gardenClientConnection"]["kubeconfig"] = "gardenlet.kubeconfig"
    doc.update(extra)
    path = tmp_path / "gardenlet.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_gardenlet_config(tmp_path: Path) -> None:
    config = load_config(_write_config(tmp_path))
    assert config.seed_name == "a"
    assert config.kubeconfig == tmp_path / "gardenlet.kubeconfig"
    assert config.bootstrap_kubeconfig == tmp_path / "seed-a" / "bootstrap.kubeconfig"
    assert config.shoot_capacity == 250 and config.metrics_port == 0 and config.lease_resync_seconds == 2
    assert parse_duration("1h30m", field="x") == 5400 and parse_duration(90, field="x") == 90
    with pytest.raises(ConfigError):
        parse_duration("soon", field="x")
    with pytest.raises(ConfigError, match=r"seedConfig\.spec"):
        load_config(_write_config(tmp_path, seedConfig={"metadata": {"name": "a"}}))


def test_registered_seed_is_valid_and_token_is_well_formed() -> None:
    seed = register.SeedRegistration(name="a", provider="local", region="local", zones=("local-a", "local-b"))
    manifest = {"apiVersion": "core.gardener.cloud/v1beta1", "kind": "Seed", **register.seed_config(seed)}
    assert validate_seed(manifest, None) == []
    token_id, secret = register.new_token()
    parsed = token_from_secret(register.token_secret("a", token_id, secret, now=NOW))
    assert parsed is not None and parsed[0] == token_id and parsed[1].expires == NOW + dt.timedelta(hours=24)


def test_gardenlet_status_and_seed_spec(tmp_path: Path) -> None:
    config = load_config(_write_config(tmp_path))
    existing = {"metadata": {"name": "a", "labels": {"keep": "me"}, "generation": 3}, "spec": {"old": True}}
    seed = desired_seed(existing, config)
    assert seed["metadata"]["labels"] == {"keep": "me", "seed.gardener.cloud/region": "local"}
    assert seed["spec"] == config.seed["spec"] and existing["spec"] == {"old": True}
    reached = Observed(kubernetes_version="1.31.0")
    status = desired_status(seed, config, now=NOW, identity="host-a", observed=reached)
    ready = cond.get_condition(status["conditions"], "GardenletReady")
    assert ready is not None and ready["status"] == "True" and ready["reason"] == "GardenletReady"
    assert status["capacity"] == status["allocatable"] == {"shoots": "250"}
    assert status["observedGeneration"] == 3 and status["gardener"]["version"]
    assert status["kubernetesVersion"] == "1.31.0" and status["lastOperation"]["state"] == "Succeeded"
    seed["status"] = status
    later = NOW + dt.timedelta(minutes=1)
    assert desired_status(seed, config, now=later, identity="host-a", observed=reached) == status
    unreachable = desired_status(seed, config, now=later, identity="host-a", observed=Observed(error="gone"))
    ready = cond.get_condition(unreachable["conditions"], "GardenletReady")
    assert ready is not None and ready["status"] == "False" and ready["message"].endswith("gone")


def test_gardenlet_certificate_request_and_renewal_time() -> None:
    key = bootstrap.new_key()
    csr = x509.load_pem_x509_csr(bootstrap.certificate_request(key, "a"))
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == SEED_USER
    assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [SEEDS]
    assert (
        csrapprover.review(_csr(request=base64.b64encode(bootstrap.certificate_request(key, "a")).decode())).verdict
        == csrapprover.APPROVE
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(csr.subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=10))
        .sign(key, hashes.SHA256())
    )
    assert bootstrap.renew_at(cert) == NOW + dt.timedelta(days=8)
