"""Encryption at rest: kube-apiserver's EncryptionConfiguration (`--encryption-provider-config`).

The file is kube's own (`apiVersion: apiserver.config.k8s.io/v1`, `kind: EncryptionConfiguration`; the legacy
`apiVersion: v1` / `kind: EncryptionConfig` is accepted too). Each entry of `resources` names resources
(`secrets`, `configmaps`, `widgets.demo.example.com`, `*.apps`, `*.` for the core group, `*.*` for everything) and an
ordered list of providers: `aescbc`, `aesgcm`, `secretbox` (each with `keys: [{name, secret}]`, the secret base64)
and `identity`.

Values are written with the first provider's first key, prefixed like kube's: `k8s:enc:<provider>:v1:<key name>:`,
then the provider's own wire format (kube's too):

* aescbc: a random 16-byte IV, then AES-CBC of the PKCS#7-padded value;
* aesgcm: a random 12-byte nonce, then AES-GCM of the value with the storage key as additional authenticated data
  (so a value copied under another key does not decrypt);
* secretbox: a random 24-byte nonce, then XSalsa20-Poly1305 (NaCl secretbox) of the value.

A value is read with the provider and key its prefix names, provided the configuration still lists them; an unprefixed
(plaintext) value only when `identity` is listed. Resources no entry matches are stored as they are, and an encrypted
value of such a resource fails to read, as in kube. A value that cannot be read raises `DecryptionError`, a
`StorageError` naming the storage key and the provider (never the key or the value), so a request that reads that
object, or a list that includes it, fails with a 500.

Key rotation works as in kube: put the new key first and keep the old one second; old values still read, every write
uses the new key, and `EncryptionTransformer.is_stale` tells which stored values a re-write would change. The API
server skips writes that change nothing, so until its update path consults `is_stale` a value is re-encrypted by a real
change, e.g. `kubectl annotate secret NAME encryption-rotated=<time> --overwrite`.

Key material never appears in exception messages or logs: messages name fields, key names and lengths only.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from gardener.apiserver.storage.interface import StorageError

__all__ = [
    "DecryptionError",
    "EncryptionTransformer",
    "load_encryption_config",
    "parse_encryption_config",
]

log = logging.getLogger("gardener.apiserver.encryption")

API_VERSIONS = ("apiserver.config.k8s.io/v1", "v1")
KINDS = ("EncryptionConfiguration", "EncryptionConfig")
ENCRYPTED_PREFIX = b"k8s:enc:"
_AES_KEY_SIZES = (16, 24, 32)
_SECRETBOX_KEY_SIZES = (32,)
_KEY_SIZES = {"aescbc": _AES_KEY_SIZES, "aesgcm": _AES_KEY_SIZES, "secretbox": _SECRETBOX_KEY_SIZES}
_PROVIDERS = ("aescbc", "aesgcm", "secretbox", "identity", "kms")
_NOT_STORED = ("apiserveripinfo", "serviceipallocations", "servicenodeportallocations")
_AES_BLOCK = 16
_GCM_NONCE = 12
_SECRETBOX_NONCE = 24


class DecryptionError(StorageError):
    """A stored value that no configured provider can read; names the storage key and provider, never key material."""

    def __init__(self, key: str, provider: str, reason: str) -> None:
        super().__init__(f"cannot decrypt {key} ({provider}): {reason}")
        self.key = key
        self.provider = provider
        self.reason = reason


class _Failed(Exception):
    """One provider could not read a value; the reason is safe to show."""


# ---- providers ----


class _Provider:
    """One provider with one key: a storage prefix, and how to seal and open what follows it."""

    kind = "identity"

    def __init__(self, key_name: str = "") -> None:
        self.key_name = key_name
        self.prefix = f"k8s:enc:{self.kind}:v1:{key_name}:".encode() if key_name else b""

    @property
    def label(self) -> str:
        return f"{self.kind} key {self.key_name!r}" if self.key_name else self.kind

    def seal(self, key: str, value: bytes) -> bytes:
        return value

    def open(self, key: str, data: bytes) -> bytes:
        if data.startswith(ENCRYPTED_PREFIX):
            raise _Failed("the identity provider cannot read encrypted data")
        return data


class _AESCBC(_Provider):
    kind = "aescbc"

    def __init__(self, key_name: str, secret: bytes) -> None:
        super().__init__(key_name)
        self._algorithm = algorithms.AES(secret)

    def seal(self, key: str, value: bytes) -> bytes:
        iv = os.urandom(_AES_BLOCK)
        padder = padding.PKCS7(_AES_BLOCK * 8).padder()
        padded = padder.update(value) + padder.finalize()
        encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        return iv + encryptor.update(padded) + encryptor.finalize()

    def open(self, key: str, data: bytes) -> bytes:
        if len(data) < 2 * _AES_BLOCK:
            raise _Failed("the stored data is shorter than an IV and one block")
        if len(data) % _AES_BLOCK:
            raise _Failed("the stored data is not a multiple of the block size")
        decryptor = Cipher(self._algorithm, modes.CBC(data[:_AES_BLOCK])).decryptor()
        padded = decryptor.update(data[_AES_BLOCK:]) + decryptor.finalize()
        unpadder = padding.PKCS7(_AES_BLOCK * 8).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise _Failed("invalid PKCS#7 padding (wrong key?)") from None


class _AESGCM(_Provider):
    kind = "aesgcm"

    def __init__(self, key_name: str, secret: bytes) -> None:
        super().__init__(key_name)
        self._aead = AESGCM(secret)

    def seal(self, key: str, value: bytes) -> bytes:
        nonce = os.urandom(_GCM_NONCE)
        return nonce + self._aead.encrypt(nonce, value, key.encode())

    def open(self, key: str, data: bytes) -> bytes:
        if len(data) < _GCM_NONCE + 16:
            raise _Failed("the stored data is shorter than a nonce and a tag")
        try:
            return self._aead.decrypt(data[:_GCM_NONCE], data[_GCM_NONCE:], key.encode())
        except InvalidTag:
            raise _Failed("authentication failed (wrong key, or the value was stored under another key)") from None


class _SecretBox(_Provider):
    kind = "secretbox"

    def __init__(self, key_name: str, secret: bytes) -> None:
        super().__init__(key_name)
        self._box = SecretBox(secret)

    def seal(self, key: str, value: bytes) -> bytes:
        # nonce + ciphertext (MAC first), like Go's secretbox.Seal after kube's nonce.
        return bytes(self._box.encrypt(value, os.urandom(_SECRETBOX_NONCE)))

    def open(self, key: str, data: bytes) -> bytes:
        if len(data) < _SECRETBOX_NONCE + 16:
            raise _Failed("the stored data is shorter than a nonce and a tag")
        try:
            return self._box.decrypt(data)
        except CryptoError:
            raise _Failed("authentication failed (wrong key?)") from None


_FACTORIES: dict[str, Callable[[str, bytes], _Provider]] = {
    "aescbc": _AESCBC,
    "aesgcm": _AESGCM,
    "secretbox": _SecretBox,
}


class _Chain:
    """The providers of one resource, flattened to one per key, in configuration order; the first one writes."""

    def __init__(self, providers: Sequence[_Provider]) -> None:
        self.providers = tuple(providers)
        self.writer = self.providers[0]

    def describe(self) -> str:
        return ", ".join(p.label for p in self.providers)

    def read(self, key: str, value: bytes) -> tuple[bytes, bool]:
        reasons: list[str] = []
        for i, provider in enumerate(self.providers):
            if not value.startswith(provider.prefix):
                continue
            try:
                plain = provider.open(key, value[len(provider.prefix) :])
            except _Failed as exc:
                if provider.prefix:
                    reasons.append(f"{provider.label}: {exc}")
                continue
            return plain, i != 0
        raise DecryptionError(key, _stored_provider(value), "; ".join(reasons) or self._no_match(value))

    def _no_match(self, value: bytes) -> str:
        if value.startswith(ENCRYPTED_PREFIX):
            return f"stored with {_stored_label(value)}, which the encryption configuration does not list"
        return "the value is not encrypted and the identity provider is not configured for this resource"


def _stored_fields(value: bytes) -> list[str]:
    """provider and key name of an encrypted value (both non-secret), or [] for a plain one."""
    if not value.startswith(ENCRYPTED_PREFIX):
        return []
    parts = value[len(ENCRYPTED_PREFIX) : len(ENCRYPTED_PREFIX) + 256].split(b":", 3)
    if len(parts) < 4:
        return [parts[0].decode("ascii", "replace")[:32]]
    return [parts[0].decode("ascii", "replace")[:32], parts[2].decode("utf-8", "replace")[:128]]


def _stored_provider(value: bytes) -> str:
    fields = _stored_fields(value)
    return fields[0] if fields else "identity"


def _stored_label(value: bytes) -> str:
    fields = _stored_fields(value)
    return f"{fields[0]} key {fields[1]!r}" if len(fields) == 2 else f"provider {fields[0]!r}"


_IDENTITY_CHAIN = _Chain([_Provider()])


# ---- the transformer ----


def _parse_group_resource(name: str) -> tuple[str, str]:
    """kube's schema.ParseGroupResource: `secrets` -> ("", "secrets"), `a.b.c` -> ("b.c", "a"), `*.` -> ("", "*")."""
    resource, _, group = name.partition(".")
    return group, resource


def _key_group_resource(key: str) -> tuple[str, str] | None:
    """("group", "plural") of a storage key `/registry/<group or core>/<plural>/...`."""
    parts = key.split("/")
    try:
        i = parts.index("registry")
    except ValueError:
        return None
    if len(parts) < i + 3:
        return None
    group, plural = parts[i + 1], parts[i + 2]
    return ("" if group == "core" else group), plural


class EncryptionTransformer:
    """The ValueTransformer for an EncryptionConfiguration: per resource, write with the first provider, read any."""

    def __init__(self, rules: Mapping[tuple[str, str], Sequence[_Provider]]) -> None:
        self._rules = {gr: _Chain(providers) for gr, providers in rules.items()}
        self._cache: dict[tuple[str, str], _Chain] = {}

    def _chain(self, key: str) -> _Chain:
        gr = _key_group_resource(key)
        if gr is None:
            return self._rules.get(("*", "*")) or _IDENTITY_CHAIN
        chain = self._cache.get(gr)
        if chain is None:
            group = gr[0]
            chain = (
                self._rules.get(gr) or self._rules.get((group, "*")) or self._rules.get(("*", "*")) or _IDENTITY_CHAIN
            )
            self._cache[gr] = chain
        return chain

    def describe(self, key: str) -> str:
        """The providers that apply to `key`, writer first (key names only)."""
        return self._chain(key).describe()

    def summary(self) -> dict[str, str]:
        """Each configured resource pattern and its providers, writer first (key names only)."""
        return {_gr_text(*gr): chain.describe() for gr, chain in self._rules.items()}

    def to_storage(self, key: str, value: bytes) -> bytes:
        writer = self._chain(key).writer
        return writer.prefix + writer.seal(key, value)

    def from_storage(self, key: str, value: bytes) -> bytes:
        return self._chain(key).read(key, value)[0]

    def read(self, key: str, value: bytes) -> tuple[bytes, bool]:
        """The plain value and whether it is stale: read by other than the writing provider/key, so a re-write would
        re-encrypt it (kube's `stale` from TransformFromStorage)."""
        return self._chain(key).read(key, value)

    def is_stale(self, key: str, value: bytes) -> bool:
        """Whether the stored `value` was written other than by the current writer (cheap: looks at the prefix only)."""
        writer = self._chain(key).writer
        if not writer.prefix:
            return value.startswith(ENCRYPTED_PREFIX)
        return not value.startswith(writer.prefix)


# ---- configuration ----


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


def _mapping(value: Any, path: str, errors: _Errors, *, allowed: Sequence[str]) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        errors.add(path, f"must be a mapping, not {type(value).__name__}")
        return None
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        errors.add(path, f"unknown field(s) {', '.join(unknown)} (expected {', '.join(allowed)})")
    return value


def _list(value: Any, path: str, errors: _Errors, what: str) -> list[Any]:
    if value is None:
        errors.add(path, f"at least one {what} is required")
        return []
    if not isinstance(value, list):
        errors.add(path, f"must be a list, not {type(value).__name__}")
        return []
    if not value:
        errors.add(path, f"at least one {what} is required")
    return value


def _check_resources(names: list[Any], path: str, errors: _Errors) -> list[tuple[str, str]]:
    """kube's validateResourceNames and validateResourceOverlap."""
    parsed: list[tuple[str, str]] = []
    for j, name in enumerate(names):
        p = f"{path}[{j}]"
        if not isinstance(name, str) or not name:
            errors.add(p, "must be a non-empty string")
            continue
        group, resource = _parse_group_resource(name)
        if name.lower() != name:
            errors.add(p, f"{name!r}: resource name should not contain capital letters")
        elif name == "*":
            errors.add(p, "'*' is not valid: use '*.' to encrypt all resources of the core group or '*.*' for all")
        elif "/" in name or not resource or any(c.isspace() for c in name):
            errors.add(p, f"{name!r}: expected <resource> or <resource>.<group>, without a version")
        elif name in _NOT_STORED:
            errors.add(p, f"{name!r}: resources which do not have REST APIs cannot be encrypted")
        elif group == "events.k8s.io":
            errors.add(p, f"{name!r}: events.k8s.io events are stored as core 'events'; use 'events'")
        elif group == "extensions":
            errors.add(p, f"{name!r}: the 'extensions' group has been removed and cannot be used for encryption")
        elif group == "*" and resource != "*":
            errors.add(p, f"{name!r}: encrypting the same resource across groups is not supported")
        else:
            parsed.append((group, resource))
    if len(set(parsed)) != len(parsed):
        errors.add(path, "the same resource cannot be specified multiple times")
    wildcards = {g for g, r in parsed if r == "*"}
    if len(parsed) > 1 and (("*", "*") in parsed or any(g in wildcards for g, r in parsed if r != "*")):
        errors.add(path, "overlapping resources such as 'secrets' and '*.' in the same list are not allowed")
    return parsed


def _check_keys(kind: str, body: Any, path: str, errors: _Errors, seen: set[tuple[str, str]]) -> list[_Provider]:
    config = _mapping(body, path, errors, allowed=("keys",))
    if config is None:
        return []
    providers: list[_Provider] = []
    for k, item in enumerate(_list(config.get("keys"), f"{path}.keys", errors, "key")):
        p = f"{path}.keys[{k}]"
        entry = _mapping(item, p, errors, allowed=("name", "secret"))
        if entry is None:
            continue
        name, secret = entry.get("name"), entry.get("secret")
        if not isinstance(name, str) or not name:
            errors.add(f"{p}.name", "name is a mandatory field for a key")
            name = None
        elif ":" in name or any(c.isspace() for c in name):
            errors.add(f"{p}.name", f"key name {name!r} must not contain ':' or whitespace")
            name = None
        elif (kind, name) in seen:
            errors.add(f"{p}.name", f"duplicate {kind} key name {name!r}")
            name = None
        else:
            seen.add((kind, name))
        if not isinstance(secret, str) or not secret:
            errors.add(f"{p}.secret", "secret is a mandatory field for a key (a base64 string)")
            continue
        try:
            raw = base64.b64decode(secret.strip(), validate=True)
        except (binascii.Error, ValueError):
            errors.add(f"{p}.secret", "secrets must be base64 encoded")
            continue
        sizes = _KEY_SIZES[kind]
        if len(raw) not in sizes:
            expected = " or ".join(str(s) for s in sizes)
            errors.add(f"{p}.secret", f"a {kind} key must be {expected} bytes, got {len(raw)} bytes")
            continue
        if name is not None:
            providers.append(_FACTORIES[kind](name, raw))
    return providers


def _check_providers(items: list[Any], path: str, errors: _Errors) -> list[_Provider]:
    flat: list[_Provider] = []
    seen: set[tuple[str, str]] = set()
    for j, item in enumerate(items):
        p = f"{path}[{j}]"
        if not isinstance(item, dict):
            errors.add(p, "must be a mapping with one of " + ", ".join(_PROVIDERS))
            continue
        unknown = sorted(str(k) for k in item if k not in _PROVIDERS)
        if unknown:
            errors.add(p, f"unknown provider(s) {', '.join(unknown)} (expected one of {', '.join(_PROVIDERS)})")
            continue
        kinds = list(item)
        if not kinds:
            errors.add(p, "provider does not contain any of the expected providers: " + ", ".join(_PROVIDERS))
            continue
        if len(kinds) > 1:
            errors.add(p, "more than one provider specified in a single element, should split into different elements")
            continue
        kind = kinds[0]
        body = item[kind]
        if kind == "kms":
            errors.add(f"{p}.kms", "the kms provider is not supported by this API server")
        elif kind == "identity":
            if body not in (None, {}):
                errors.add(f"{p}.identity", "identity takes no settings: write `identity: {}`")
            else:
                flat.append(_Provider())
        else:
            flat.extend(_check_keys(kind, body, f"{p}.{kind}", errors, seen))
    return flat


def parse_encryption_config(doc: Any, *, source: str = "encryption provider config") -> EncryptionTransformer:
    """Validate a decoded EncryptionConfiguration and build its transformer; ValueError lists every problem."""
    errors = _Errors()
    rules: dict[tuple[str, str], list[_Provider]] = {}
    top = _mapping(doc, "config", errors, allowed=("apiVersion", "kind", "resources"))
    if top is not None:
        if top.get("apiVersion") not in API_VERSIONS:
            errors.add("apiVersion", f"must be {API_VERSIONS[0]} (or the legacy v1), got {top.get('apiVersion')!r}")
        if top.get("kind") not in KINDS:
            errors.add("kind", f"must be {KINDS[0]} (or the legacy {KINDS[1]}), got {top.get('kind')!r}")
        for i, entry in enumerate(_list(top.get("resources"), "resources", errors, "resources entry")):
            p = f"resources[{i}]"
            body = _mapping(entry, p, errors, allowed=("resources", "providers"))
            if body is None:
                continue
            r, pp = f"{p}.resources", f"{p}.providers"
            names = _check_resources(_list(body.get("resources"), r, errors, "resource"), r, errors)
            providers = _check_providers(_list(body.get("providers"), pp, errors, "provider"), pp, errors)
            earlier = set(rules)
            for group, resource in names:
                # kube's loadConfig: a resource that an earlier entry's wildcard covers would never use this entry.
                masks = [m for m in ((group, "*"), ("*", "*")) if m != (group, resource) and m in earlier]
                if masks:
                    errors.add(
                        r, f"resource {_gr_text(group, resource)!r} is masked by earlier rule {_gr_text(*masks[0])!r}"
                    )
                elif providers:
                    rules.setdefault((group, resource), []).extend(providers)
    if errors.items:
        raise ValueError(f"{source} is invalid: " + "; ".join(errors.items))
    transformer = EncryptionTransformer(rules)
    log.info("Encryption at rest configured", extra={"rules": transformer.summary()})
    return transformer


def _gr_text(group: str, resource: str) -> str:
    """A (group, resource) as the config spells it: `secrets`, `deployments.apps`, `*.`, `*.*`."""
    return f"{resource}.{group}" if group else f"{resource}." if resource == "*" else resource


def load_encryption_config(path: Path) -> EncryptionTransformer:
    """Read, validate and build `--encryption-provider-config`; ValueError (never with key material) if invalid."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ValueError(f"cannot read encryption provider config {path}: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # A YAML error's own text quotes the offending line, which may hold a key: report the position only.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ValueError(f"encryption provider config {path} is not valid YAML{where}") from None
    return parse_encryption_config(doc, source=f"encryption provider config {path}")
