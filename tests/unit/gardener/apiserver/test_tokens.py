"""Tests for gardener.apiserver.tokens: service-account JWTs and the static token file."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from gardener.apiserver.authn import service_account_extra
from gardener.apiserver.tokens import (
    BoundObject,
    ServiceAccountClaims,
    ServiceAccountTokenSigner,
    StaticTokenUser,
    load_token_file,
)
from gardener.runtime.pki import load_or_create_server_pki

NOW = 1_700_000_000.0


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signer(ec_key: ec.EllipticCurvePrivateKey) -> ServiceAccountTokenSigner:
    return ServiceAccountTokenSigner(private_key_pem=_pem(ec_key))


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    header, payload, signature = token.split(".")
    return json.loads(_b64d(header)), json.loads(_b64d(payload)), _b64d(signature)


def _issue(signer: ServiceAccountTokenSigner, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "namespace": "kube-system",
        "name": "gardenlet",
        "uid": "0b9a5c7e-1111-2222-3333-444455556666",
        "audiences": ["https://kubernetes.default.svc.cluster.local", "gardener"],
        "expiration_seconds": 3600,
        "now": NOW,
    }
    args.update(overrides)
    return signer.issue(**args)


# --------------------------------------------------------------------------------------------------------------------
# Issue and verify


def test_es256_token_has_kube_shape_and_a_jose_signature(
    signer: ServiceAccountTokenSigner, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    token = _issue(signer)
    header, claims, signature = _decode(token)
    public_der = ec_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert header == {"alg": "ES256", "kid": _b64e(hashlib.sha256(public_der).digest())}
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["sub"] == "system:serviceaccount:kube-system:gardenlet"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local", "gardener"]
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (int(NOW), int(NOW), int(NOW) + 3600)
    assert claims["kubernetes.io"] == {
        "namespace": "kube-system",
        "serviceaccount": {"name": "gardenlet", "uid": "0b9a5c7e-1111-2222-3333-444455556666"},
    }
    # JWS ES256 signatures are raw r || s, 32 bytes each (RFC 7518 3.4), not DER.
    assert len(signature) == 64
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    signing_input = token.rsplit(".", 1)[0].encode()
    ec_key.public_key().verify(der, signing_input, ec.ECDSA(hashes.SHA256()))

    assert signer.verify(token, now=NOW + 10) == ServiceAccountClaims(
        namespace="kube-system",
        name="gardenlet",
        uid="0b9a5c7e-1111-2222-3333-444455556666",
        audiences=("https://kubernetes.default.svc.cluster.local", "gardener"),
        expires_at=NOW + 3600,
        jti=claims["jti"],
    )


def test_rs256_token(rsa_key: rsa.RSAPrivateKey) -> None:
    signer = ServiceAccountTokenSigner(private_key_pem=_pem(rsa_key), issuer="https://issuer.example.test")
    token = _issue(signer)
    header, claims, signature = _decode(token)
    assert header["alg"] == "RS256" and claims["iss"] == "https://issuer.example.test"
    rsa_key.public_key().verify(signature, token.rsplit(".", 1)[0].encode(), padding.PKCS1v15(), hashes.SHA256())
    verified = signer.verify(token, now=NOW)
    assert verified is not None and verified.name == "gardenlet"


def test_token_expiry_and_not_before(signer: ServiceAccountTokenSigner) -> None:
    token = _issue(signer, expiration_seconds=600)
    assert signer.verify(token, now=NOW) is not None
    assert signer.verify(token, now=NOW + 599) is not None
    assert signer.verify(token, now=NOW + 600) is None
    assert signer.verify(token, now=NOW + 10**6) is None
    assert signer.verify(token, now=NOW - 1) is None
    assert signer.verify(_issue(signer, now=None, expiration_seconds=60)) is not None


def test_token_from_another_key_or_issuer_is_rejected(
    signer: ServiceAccountTokenSigner, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    other_key = ServiceAccountTokenSigner(private_key_pem=_pem(ec.generate_private_key(ec.SECP256R1())))
    assert signer.verify(_issue(other_key), now=NOW) is None
    other_issuer = ServiceAccountTokenSigner(private_key_pem=_pem(ec_key), issuer="https://elsewhere.test")
    token = _issue(other_issuer)
    assert other_issuer.verify(token, now=NOW) is not None
    assert signer.verify(token, now=NOW) is None


def test_tampered_tokens_are_rejected(signer: ServiceAccountTokenSigner, ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = _issue(signer)
    header_part, payload_part, signature_part = token.split(".")
    _, claims, signature = _decode(token)

    escalated = dict(claims, sub="system:serviceaccount:kube-system:admin")
    escalated["kubernetes.io"] = {"namespace": "kube-system", "serviceaccount": {"name": "admin", "uid": "x"}}
    forged_payload = _b64e(json.dumps(escalated).encode())
    assert signer.verify(f"{header_part}.{forged_payload}.{signature_part}", now=NOW) is None

    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert signer.verify(f"{header_part}.{payload_part}.{_b64e(flipped)}", now=NOW) is None
    assert signer.verify(f"{header_part}.{payload_part}.", now=NOW) is None
    assert signer.verify(f"{header_part}.{payload_part}.{signature_part}=", now=NOW) is None

    none_header = _b64e(json.dumps({"alg": "none"}).encode())
    assert signer.verify(f"{none_header}.{payload_part}.", now=NOW) is None

    # Algorithm confusion: an HMAC "signed" with the public key must not pass.
    hs_header = _b64e(json.dumps({"alg": "HS256", "kid": signer.key_id}).encode())
    public_pem = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mac = hmac.new(public_pem, f"{hs_header}.{payload_part}".encode(), hashlib.sha256).digest()
    assert signer.verify(f"{hs_header}.{payload_part}.{_b64e(mac)}", now=NOW) is None


def _sign_raw(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], claims: dict[str, Any] | bytes) -> str:
    """Sign arbitrary claims with the signer's own key, to test claim validation behind a good signature."""
    payload = claims if isinstance(claims, bytes) else json.dumps(claims).encode()
    signing_input = f"{_b64e(json.dumps(header).encode())}.{_b64e(payload)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64e(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def test_well_signed_but_inconsistent_claims_are_rejected(
    signer: ServiceAccountTokenSigner, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    header, claims, _ = _decode(_issue(signer))
    assert signer.verify(_sign_raw(ec_key, header, claims), now=NOW) is not None  # the helper itself is sound
    assert signer.verify(_sign_raw(ec_key, header, dict(claims, aud="single")), now=NOW) is not None
    bad_variants: list[dict[str, Any]] = [
        dict(claims, sub="system:serviceaccount:kube-system:admin"),
        dict(claims, exp="never"),
        dict(claims, exp=True),
        {k: v for k, v in claims.items() if k != "exp"},
        dict(claims, aud=[]),
        dict(claims, aud=[1]),
        dict(claims, **{"kubernetes.io": "nope"}),
        {k: v for k, v in claims.items() if k != "kubernetes.io"},
    ]
    for variant in bad_variants:
        assert signer.verify(_sign_raw(ec_key, header, variant), now=NOW) is None, variant
    assert signer.verify(_sign_raw(ec_key, dict(header, crit=["exp"]), claims), now=NOW) is None
    assert signer.verify(_sign_raw(ec_key, dict(header, kid="other"), claims), now=NOW) is None
    infinite = json.dumps(claims).replace(str(int(NOW) + 3600), "Infinity").encode()
    assert b"Infinity" in infinite
    assert signer.verify(_sign_raw(ec_key, header, infinite), now=NOW) is None
    assert signer.verify(_sign_raw(ec_key, header, b"[" * 10_000), now=NOW) is None  # RecursionError inside
    assert signer.verify(_sign_raw(ec_key, header, b"\xff"), now=NOW) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b.c.d",
        "not a token",
        "eyJ.eyJ.sig",
        "ünïcödé.x.y",
        "x" * 100_000,
        _b64e(b"[" * 100_000) + ".e30.AA",
        _b64e(b"[" * 10_000) + ".e30.AA",
        _b64e(b"null") + ".e30.AA",
        _b64e(b'{"alg":"ES256"}') + "." + _b64e(b"\xff\xfe") + ".AA",
    ],
)
def test_garbage_never_raises(signer: ServiceAccountTokenSigner, garbage: str) -> None:
    assert signer.verify(garbage, now=NOW) is None


def test_non_string_token_is_rejected(signer: ServiceAccountTokenSigner) -> None:
    assert signer.verify(cast(str, None)) is None
    assert signer.verify(cast(str, b"a.b.c")) is None


def test_issue_validates_arguments(signer: ServiceAccountTokenSigner) -> None:
    with pytest.raises(TypeError):
        _issue(signer, audiences="gardener")
    with pytest.raises(ValueError, match="audiences"):
        _issue(signer, audiences=[])
    with pytest.raises(ValueError, match="expiration_seconds"):
        _issue(signer, expiration_seconds=0)
    with pytest.raises(ValueError, match="namespace and name"):
        _issue(signer, namespace="")
    with pytest.raises(ValueError, match="namespace and name"):
        _issue(signer, name="a:b")


def test_signer_rejects_unusable_keys_without_echoing_them() -> None:
    secret = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ValueError) as excinfo:
        ServiceAccountTokenSigner(private_key_pem=secret)
    assert "c2VjcmV0" not in str(excinfo.value) and excinfo.value.__cause__ is None
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="too small"):
        ServiceAccountTokenSigner(private_key_pem=_pem(small))
    with pytest.raises(ValueError, match="curve"):
        ServiceAccountTokenSigner(private_key_pem=_pem(ec.generate_private_key(ec.SECP256K1())))


def test_es384_key(signer: ServiceAccountTokenSigner) -> None:
    es384 = ServiceAccountTokenSigner(private_key_pem=_pem(ec.generate_private_key(ec.SECP384R1())))
    token = _issue(es384)
    header, _, signature = _decode(token)
    assert header["alg"] == "ES384" and len(signature) == 96
    assert es384.verify(token, now=NOW) is not None
    assert signer.verify(token, now=NOW) is None


def test_server_pki_service_account_key_signs_tokens(tmp_path: Path) -> None:
    pki = load_or_create_server_pki(tmp_path, hosts=[])
    signer = ServiceAccountTokenSigner(private_key_pem=pki.service_account_key_pem)
    again = ServiceAccountTokenSigner(
        private_key_pem=load_or_create_server_pki(tmp_path, hosts=[]).service_account_key_pem
    )
    assert again.verify(_issue(signer), now=NOW) is not None  # tokens survive a restart


def test_repr_shows_no_key(signer: ServiceAccountTokenSigner) -> None:
    assert "PRIVATE" not in repr(signer) and signer.key_id in repr(signer)
    assert signer.public_key_pem().startswith(b"-----BEGIN PUBLIC KEY-----")


# --------------------------------------------------------------------------------------------------------------------
# Static token file


def test_load_token_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(
        "\ufeff"
        'tok-admin,admin,uid-1,"system:masters, ops"\n'
        "\n"
        "tok-bob,bob,uid-2\n"
        "tok-carol,carol,uid-3,\n"
        '"tok,with,commas",dave,uid-4,"a,b,,c",extra-column-ignored\r\n'
        "tok-eve,eve,\n",
        encoding="utf-8",
    )
    assert load_token_file(path) == {
        "tok-admin": StaticTokenUser(name="admin", uid="uid-1", groups=("system:masters", "ops")),
        "tok-bob": StaticTokenUser(name="bob", uid="uid-2", groups=()),
        "tok-carol": StaticTokenUser(name="carol", uid="uid-3", groups=()),
        "tok,with,commas": StaticTokenUser(name="dave", uid="uid-4", groups=("a", "b", "c")),
        "tok-eve": StaticTokenUser(name="eve", uid="", groups=()),
    }
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert load_token_file(empty) == {}


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("ok-token,alice,1\nsecret-token-xyz,bob\n", 2, "at least 3 columns"),
        ("ok-token,alice,1\n\n\nsecret-token-xyz\n", 4, "at least 3 columns"),
        (",alice,1\n", 1, "token is empty"),
        ("secret-token-xyz,,1\n", 1, "user name is empty"),
        ("secret-token-xyz,alice,1\nok,b,2\nsecret-token-xyz,bob,2\n", 3, "same as on line 1"),
        ('ok,"multi\nline user",1\nsecret-token-xyz,bob\n', 3, "at least 3 columns"),
        ('secret-token-xyz,"bob"x,1\n', 1, "malformed CSV"),
    ],
)
def test_load_token_file_errors_name_the_line_not_the_token(
    tmp_path: Path, content: str, line: int, message: str
) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as excinfo:
        load_token_file(path)
    assert f"line {line}:" in str(excinfo.value)
    assert "secret-token-xyz" not in str(excinfo.value)


def test_pod_bound_token_names_pod_and_node(signer: ServiceAccountTokenSigner) -> None:
    pod, node = BoundObject("web-0", "pod-uid"), BoundObject("worker-1", "node-uid")
    token = _issue(signer, pod=pod, node=node)
    _, claims, _ = _decode(token)
    assert claims["kubernetes.io"]["pod"] == {"name": "web-0", "uid": "pod-uid"}
    assert claims["kubernetes.io"]["node"] == {"name": "worker-1", "uid": "node-uid"}
    verified = signer.verify(token, now=NOW + 10)
    assert verified is not None and (verified.pod, verified.node) == (pod, node)


@pytest.mark.parametrize(
    "bad",
    [{"pod": "web-0"}, {"pod": {"name": "web-0"}}, {"node": {"name": 1, "uid": "u"}}],
)
def test_malformed_bound_object_claims_are_rejected(
    signer: ServiceAccountTokenSigner, ec_key: ec.EllipticCurvePrivateKey, bad: dict[str, Any]
) -> None:
    header, claims, _ = _decode(_issue(signer))
    claims["kubernetes.io"].update(bad)
    assert signer.verify(_sign_raw(ec_key, header, claims), now=NOW + 10) is None


def test_service_account_extra_like_kube() -> None:
    """kube 1.32's ServiceAccountInfo.UserInfo: credential id from the jti, pod and node of a bound token."""
    plain = ServiceAccountClaims("ns", "sa", "u", ("api",), NOW, jti="abc")
    assert service_account_extra(plain) == {"authentication.kubernetes.io/credential-id": ["JTI=abc"]}
    bound = ServiceAccountClaims(
        "ns", "sa", "u", ("api",), NOW, jti="abc", pod=BoundObject("p", "pu"), node=BoundObject("n", "")
    )
    assert service_account_extra(bound) == {
        "authentication.kubernetes.io/pod-name": ["p"],
        "authentication.kubernetes.io/pod-uid": ["pu"],
        "authentication.kubernetes.io/credential-id": ["JTI=abc"],
        "authentication.kubernetes.io/node-name": ["n"],
    }
    assert service_account_extra(ServiceAccountClaims("ns", "sa", "u", ("api",), NOW)) == {}
