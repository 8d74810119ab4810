"""Bearer tokens: service-account JWTs signed and verified like kube-apiserver's, and the static token file.

JWTs are compact JWS with kube's claims, ES256/ES384/ES512 for ECDSA keys and RS256 for RSA keys, with kube's
`kid` (base64url SHA-256 of the public key's DER). Tokens and keys never appear in logs or exception messages.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

__all__ = [
    "DEFAULT_ISSUER",
    "BoundObject",
    "ServiceAccountClaims",
    "ServiceAccountTokenSigner",
    "StaticTokenUser",
    "load_token_file",
]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_SUBJECT_PREFIX = "system:serviceaccount:"
# Larger bearer tokens are rejected before any parsing; kube's own tokens are around 1 KiB.
_MAX_TOKEN_LENGTH = 16 * 1024
# JWS algorithm and hash per ECDSA curve (RFC 7518 section 3.4).
_EC_ALGORITHMS: dict[str, tuple[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]]] = {
    "secp256r1": ("ES256", hashes.SHA256),
    "secp384r1": ("ES384", hashes.SHA384),
    "secp521r1": ("ES512", hashes.SHA512),
}


@dataclass(frozen=True)
class BoundObject:
    """An object a token is bound to (kube's `kubernetes.io` claims `pod` and `node`)."""

    name: str
    uid: str


@dataclass(frozen=True)
class ServiceAccountClaims:
    """What a valid service-account token says about its bearer."""

    namespace: str
    name: str
    uid: str
    audiences: tuple[str, ...]
    expires_at: float
    #: the token's own id (`jti`), which kube reports as the credential id
    jti: str = ""
    #: the pod the token is bound to, and the node that pod ran on when the token was issued
    pod: BoundObject | None = None
    node: BoundObject | None = None


@dataclass(frozen=True)
class StaticTokenUser:
    """One user of the static token file (--token-auth-file)."""

    name: str
    uid: str
    groups: tuple[str, ...]


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url, as JWS requires; raises ValueError on anything else."""
    if "=" in text or len(text) % 4 == 1:
        raise ValueError("bad base64url")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in JSON")


def _json_object(data: bytes) -> dict[str, Any]:
    value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    if not isinstance(value, dict):
        raise ValueError("JSON value is not an object")
    return value


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_name(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value) and ":" not in value


class ServiceAccountTokenSigner:
    """Issues and verifies service-account tokens with one private key (ECDSA P-256/384/521 or RSA >= 2048 bits)."""

    def __init__(self, *, private_key_pem: bytes, issuer: str = DEFAULT_ISSUER) -> None:
        if not issuer:
            raise ValueError("issuer must not be empty")
        try:
            key = serialization.load_pem_private_key(private_key_pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError("service-account signing key is not a readable unencrypted PEM private key") from None
        if isinstance(key, ec.EllipticCurvePrivateKey):
            if key.curve.name not in _EC_ALGORITHMS:
                raise ValueError(f"service-account signing key uses unsupported curve {key.curve.name}")
            self._algorithm, hash_type = _EC_ALGORITHMS[key.curve.name]
            self._hash: hashes.SHA256 | hashes.SHA384 | hashes.SHA512 = hash_type()
            self._coordinate_size = (key.curve.key_size + 7) // 8
        elif isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < 2048:
                raise ValueError(f"service-account RSA signing key is too small ({key.key_size} bits, need 2048)")
            self._algorithm, self._hash, self._coordinate_size = "RS256", hashes.SHA256(), 0
        else:
            raise ValueError("service-account signing key must be an ECDSA or RSA key")
        self._key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = key
        self._public_key = key.public_key()
        public_der = self._public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._key_id = _b64url_encode(hashlib.sha256(public_der).digest())
        self._issuer = issuer

    def __repr__(self) -> str:
        return f"ServiceAccountTokenSigner(issuer={self._issuer!r}, alg={self._algorithm}, kid={self._key_id!r})"

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def key_id(self) -> str:
        """The `kid` header value: base64url SHA-256 of the public key's DER, like kube-apiserver."""
        return self._key_id

    @property
    def algorithm(self) -> str:
        return self._algorithm

    def public_key_pem(self) -> bytes:
        """The verification key as a PEM SubjectPublicKeyInfo."""
        return self._public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def issue(
        self,
        *,
        namespace: str,
        name: str,
        uid: str,
        audiences: Sequence[str],
        expiration_seconds: int,
        now: float | None = None,
        pod: BoundObject | None = None,
        node: BoundObject | None = None,
    ) -> str:
        """Sign a token for service account `namespace/name` that expires `expiration_seconds` from `now`,
        bound to `pod` (running on `node`) when given."""
        if not _is_name(namespace) or not _is_name(name):
            raise ValueError("namespace and name must be non-empty and contain no ':'")
        if isinstance(audiences, str):
            raise TypeError("audiences must be a sequence of strings, not a single string")
        auds = list(audiences)
        if not auds or not all(isinstance(a, str) and a for a in auds):
            raise ValueError("audiences must be a non-empty list of non-empty strings")
        if expiration_seconds <= 0:
            raise ValueError("expiration_seconds must be positive")
        issued_at = int(time.time() if now is None else now)
        kube: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
        for key, bound in (("pod", pod), ("node", node)):
            if bound is not None:
                kube[key] = {"name": bound.name, "uid": bound.uid}
        claims = {
            "aud": auds,
            "exp": issued_at + int(expiration_seconds),
            "iat": issued_at,
            "iss": self._issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": kube,
            "nbf": issued_at,
            "sub": f"{_SUBJECT_PREFIX}{namespace}:{name}",
        }
        header = {"alg": self._algorithm, "kid": self._key_id}
        signing_input = (
            _b64url_encode(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
        )
        return signing_input + "." + _b64url_encode(self._sign(signing_input.encode("ascii")))

    def verify(self, token: str, *, now: float | None = None) -> ServiceAccountClaims | None:
        """The claims of a token this signer issued that is valid at `now`; None for anything else. Never raises."""
        try:
            return self._verify(token, time.time() if now is None else now)
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError, InvalidSignature, binascii.Error):
            return None

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), self._hash)
        r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(self._hash)))
        return r.to_bytes(self._coordinate_size, "big") + s.to_bytes(self._coordinate_size, "big")

    def _check_signature(self, data: bytes, signature: bytes) -> None:
        """Raise InvalidSignature unless `signature` is ours over `data`."""
        if isinstance(self._public_key, rsa.RSAPublicKey):
            self._public_key.verify(signature, data, padding.PKCS1v15(), self._hash)
            return
        size = self._coordinate_size
        if len(signature) != 2 * size:
            raise InvalidSignature()
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        self._public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(self._hash))

    def _verify(self, token: object, now: float) -> ServiceAccountClaims | None:
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        header = _json_object(_b64url_decode(parts[0]))
        # The algorithm is fixed by our key; a token naming another one (e.g. "none", "HS256") is never accepted.
        if header.get("alg") != self._algorithm or header.get("kid", self._key_id) != self._key_id:
            return None
        if "crit" in header:
            return None
        self._check_signature(f"{parts[0]}.{parts[1]}".encode("ascii"), _b64url_decode(parts[2]))

        claims = _json_object(_b64url_decode(parts[1]))
        if claims.get("iss") != self._issuer:
            return None
        exp, nbf, iat = claims.get("exp"), claims.get("nbf", now), claims.get("iat", now)
        if not (_is_number(exp) and _is_number(nbf) and _is_number(iat)):
            return None
        if now >= exp or now < nbf:
            return None
        aud = claims.get("aud")
        audiences = (aud,) if isinstance(aud, str) else tuple(aud) if isinstance(aud, list) else ()
        if not audiences or not all(isinstance(a, str) for a in audiences):
            return None
        kube = claims.get("kubernetes.io")
        if not isinstance(kube, dict):
            return None
        namespace, sa = kube.get("namespace"), kube.get("serviceaccount")
        if not isinstance(sa, dict):
            return None
        name, uid = sa.get("name"), sa.get("uid")
        if not (_is_name(namespace) and _is_name(name) and isinstance(uid, str)):
            return None
        if claims.get("sub") != f"{_SUBJECT_PREFIX}{namespace}:{name}":
            return None
        jti = claims.get("jti", "")
        if not isinstance(jti, str):
            return None
        bound: dict[str, BoundObject | None] = {}
        for key in ("pod", "node"):
            ref = kube.get(key)
            if ref is None:
                bound[key] = None
                continue
            if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not isinstance(ref.get("uid"), str):
                return None
            bound[key] = BoundObject(ref["name"], ref["uid"])
        return ServiceAccountClaims(
            namespace=namespace,
            name=name,
            uid=uid,
            audiences=audiences,
            expires_at=float(exp),
            jti=jti,
            pod=bound["pod"],
            node=bound["node"],
        )


def load_token_file(path: Path) -> dict[str, StaticTokenUser]:
    """Parse kube's --token-auth-file CSV: `token,user,uid[,"group1,group2"]` per line; blank lines are skipped.

    Raises ValueError naming the line (never the token) for malformed CSV, a short line, an empty token or user name,
    or a token that appears twice.
    """
    users: dict[str, StaticTokenUser] = {}
    first_line: dict[str, int] = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, strict=True)
        while True:
            line = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                raise ValueError(f"{path}: line {line}: malformed CSV: {e}") from None
            if not record or all(not field.strip() for field in record):
                continue
            if len(record) < 3:
                raise ValueError(
                    f"{path}: line {line}: expected at least 3 columns (token, user name, uid), found {len(record)}"
                )
            token, user, uid = (field.strip() for field in record[:3])
            if not token:
                raise ValueError(f"{path}: line {line}: the token is empty")
            if not user:
                raise ValueError(f"{path}: line {line}: the user name is empty")
            if token in users:
                raise ValueError(f"{path}: line {line}: the token is the same as on line {first_line[token]}")
            groups = tuple(g.strip() for g in record[3].split(",") if g.strip()) if len(record) > 3 else ()
            users[token] = StaticTokenUser(name=user, uid=uid, groups=groups)
            first_line[token] = line
    return users
