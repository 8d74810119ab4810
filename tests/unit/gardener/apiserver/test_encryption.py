"""Tests for gardener.apiserver.encryption: kube's EncryptionConfiguration providers, prefixes, rotation, validation."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.secret import SecretBox

from gardener.apiserver.encryption import (
    DecryptionError,
    EncryptionTransformer,
    load_encryption_config,
    parse_encryption_config,
)
from gardener.apiserver.storage.interface import StorageError
from gardener.apiserver.storage.sqlite import SQLiteBackend

SECRET_KEY = "/registry/core/secrets/ns1/s1"
CONFIGMAP_KEY = "/registry/core/configmaps/ns1/c1"
VALUE = b'{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}'
K16, K24, K32, K32B = os.urandom(16), os.urandom(24), os.urandom(32), os.urandom(32)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _provider(kind: str, *keys: tuple[str, bytes]) -> dict[str, Any]:
    if kind == "identity":
        return {"identity": {}}
    return {kind: {"keys": [{"name": name, "secret": _b64(secret)} for name, secret in keys]}}


def _config(*providers: dict[str, Any], resources: tuple[str, ...] = ("secrets",)) -> dict[str, Any]:
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": list(resources), "providers": list(providers)}],
    }


def _transformer(*providers: dict[str, Any], resources: tuple[str, ...] = ("secrets",)) -> EncryptionTransformer:
    return parse_encryption_config(_config(*providers, resources=resources))


# ---- providers and wire format ----


@pytest.mark.parametrize(
    ("kind", "secret"),
    [("aescbc", K16), ("aescbc", K24), ("aescbc", K32), ("aesgcm", K16), ("aesgcm", K32), ("secretbox", K32)],
)
def test_round_trip_and_prefix(kind: str, secret: bytes) -> None:
    t = _transformer(_provider(kind, ("key1", secret)))
    stored = t.to_storage(SECRET_KEY, VALUE)
    prefix = f"k8s:enc:{kind}:v1:key1:".encode()
    assert stored.startswith(prefix)
    assert VALUE not in stored and b"aHVudGVyMg" not in stored
    assert t.from_storage(SECRET_KEY, stored) == VALUE
    assert t.to_storage(SECRET_KEY, VALUE) != stored  # a fresh IV/nonce each time
    assert not t.is_stale(SECRET_KEY, stored)


def test_aescbc_wire_format_is_kubes() -> None:
    t = _transformer(_provider("aescbc", ("k", K32)))
    body = t.to_storage(SECRET_KEY, VALUE).removeprefix(b"k8s:enc:aescbc:v1:k:")
    iv, ciphertext = body[:16], body[16:]
    assert len(ciphertext) % 16 == 0
    decryptor = Cipher(algorithms.AES(K32), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    assert unpadder.update(padded) + unpadder.finalize() == VALUE


def test_aesgcm_wire_format_is_kubes_with_the_key_as_authenticated_data() -> None:
    t = _transformer(_provider("aesgcm", ("k", K16)))
    stored = t.to_storage(SECRET_KEY, VALUE)
    body = stored.removeprefix(b"k8s:enc:aesgcm:v1:k:")
    assert AESGCM(K16).decrypt(body[:12], body[12:], SECRET_KEY.encode()) == VALUE
    # The same bytes under another object's key do not decrypt.
    with pytest.raises(DecryptionError):
        t.from_storage("/registry/core/secrets/ns1/other", stored)


def test_secretbox_wire_format_is_kubes() -> None:
    t = _transformer(_provider("secretbox", ("k", K32)))
    body = t.to_storage(SECRET_KEY, VALUE).removeprefix(b"k8s:enc:secretbox:v1:k:")
    assert len(body) == 24 + 16 + len(VALUE)
    assert SecretBox(K32).decrypt(body[24:], body[:24]) == VALUE


def test_tampered_values_fail_with_a_storage_error_naming_key_and_provider() -> None:
    for kind, secret in (("aesgcm", K32), ("secretbox", K32)):
        t = _transformer(_provider(kind, ("k", secret)))
        stored = bytearray(t.to_storage(SECRET_KEY, VALUE))
        stored[-1] ^= 1
        with pytest.raises(DecryptionError) as exc:
            t.from_storage(SECRET_KEY, bytes(stored))
        assert isinstance(exc.value, StorageError) and not exc.value.retryable
        assert exc.value.key == SECRET_KEY and exc.value.provider == kind
        assert SECRET_KEY in str(exc.value) and kind in str(exc.value)
        assert _b64(secret) not in str(exc.value)


def test_wrong_aescbc_key_with_the_same_name_is_an_error_not_garbage() -> None:
    old = _transformer(_provider("aescbc", ("k", K32)))
    new = _transformer(_provider("aescbc", ("k", K32B)))
    failures = 0
    for _ in range(20):
        try:
            plain = new.from_storage(SECRET_KEY, old.to_storage(SECRET_KEY, VALUE))
        except DecryptionError as exc:
            failures += 1
            assert "aescbc" in str(exc) and _b64(K32B) not in str(exc)
        else:
            assert plain != VALUE  # CBC has no MAC: padding may happen to check out, the bytes are still wrong
    assert failures >= 15


# ---- resources ----


def test_unlisted_resources_pass_through() -> None:
    t = _transformer(_provider("aesgcm", ("k", K32)))
    assert t.to_storage(CONFIGMAP_KEY, VALUE) == VALUE
    assert t.from_storage(CONFIGMAP_KEY, VALUE) == VALUE
    # ...and an encrypted value of an unlisted resource is an error, as in kube (identity never reads k8s:enc:).
    with pytest.raises(DecryptionError, match="does not list"):
        t.from_storage(CONFIGMAP_KEY, t.to_storage(SECRET_KEY, VALUE))


@pytest.mark.parametrize(
    ("resources", "encrypted", "plain"),
    [
        (("secrets",), ["/registry/core/secrets/a/b"], ["/registry/core/configmaps/a/b", "/registry/apps/secrets/a/b"]),
        (("configmaps", "secrets"), ["/registry/core/secrets/a/b", "/registry/core/configmaps/a/b"], []),
        (
            ("widgets.demo.example.com",),
            ["/registry/demo.example.com/widgets/a/b", "/registry/demo.example.com/widgets/cluster-scoped"],
            ["/registry/example.com/widgets/a/b", "/registry/core/widgets/a/b"],
        ),
        (("*.",), ["/registry/core/secrets/a/b", "/registry/core/namespaces/a"], ["/registry/apps/deployments/a/b"]),
        (("*.apps",), ["/registry/apps/deployments/a/b"], ["/registry/core/secrets/a/b"]),
        (("*.*",), ["/registry/core/secrets/a/b", "/registry/demo.example.com/widgets/a/b"], []),
    ],
)
def test_resource_matching(resources: tuple[str, ...], encrypted: list[str], plain: list[str]) -> None:
    t = _transformer(_provider("aescbc", ("k", K32)), resources=resources)
    for key in encrypted:
        assert t.to_storage(key, VALUE).startswith(b"k8s:enc:aescbc:v1:k:"), key
    for key in plain:
        assert t.to_storage(key, VALUE) == VALUE, key


def test_exact_rules_win_over_later_wildcards() -> None:
    config = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {"resources": ["secrets"], "providers": [_provider("secretbox", ("sb", K32))]},
            {"resources": ["*.apps"], "providers": [_provider("aesgcm", ("gcm", K16))]},
            {"resources": ["*.*"], "providers": [_provider("aescbc", ("cbc", K32))]},
        ],
    }
    t = parse_encryption_config(config)
    assert t.to_storage("/registry/core/secrets/a/b", VALUE).startswith(b"k8s:enc:secretbox:v1:sb:")
    assert t.to_storage("/registry/apps/deployments/a/b", VALUE).startswith(b"k8s:enc:aesgcm:v1:gcm:")
    assert t.to_storage("/registry/core/configmaps/a/b", VALUE).startswith(b"k8s:enc:aescbc:v1:cbc:")
    assert t.summary() == {"secrets": "secretbox key 'sb'", "*.apps": "aesgcm key 'gcm'", "*.*": "aescbc key 'cbc'"}


def test_legacy_kind_is_accepted() -> None:
    config = _config(_provider("aescbc", ("k", K32)))
    config.update(apiVersion="v1", kind="EncryptionConfig")
    assert parse_encryption_config(config).to_storage(SECRET_KEY, VALUE).startswith(b"k8s:enc:aescbc:")


# ---- identity and rotation ----


def test_identity_listed_second_reads_plaintext_and_flags_it_stale() -> None:
    t = _transformer(_provider("aesgcm", ("k", K32)), _provider("identity"))
    assert t.read(SECRET_KEY, VALUE) == (VALUE, True)
    assert t.is_stale(SECRET_KEY, VALUE)
    stored = t.to_storage(SECRET_KEY, VALUE)
    assert t.read(SECRET_KEY, stored) == (VALUE, False)


def test_plaintext_is_refused_without_identity() -> None:
    t = _transformer(_provider("aesgcm", ("k", K32)))
    with pytest.raises(DecryptionError, match="identity provider is not configured") as exc:
        t.from_storage(SECRET_KEY, VALUE)
    assert b"hunter" not in str(exc.value).encode() and "aHVudGVyMg" not in str(exc.value)


def test_identity_first_writes_plaintext_and_still_reads_encrypted_values() -> None:
    """Decrypting everything: identity first, the old key second, then re-write."""
    old = _transformer(_provider("aescbc", ("k", K32)))
    t = _transformer(_provider("identity"), _provider("aescbc", ("k", K32)))
    encrypted = old.to_storage(SECRET_KEY, VALUE)
    assert t.read(SECRET_KEY, encrypted) == (VALUE, True)
    assert t.is_stale(SECRET_KEY, encrypted)
    assert t.to_storage(SECRET_KEY, VALUE) == VALUE
    assert not t.is_stale(SECRET_KEY, VALUE)


def test_rotation_reads_old_keys_and_writes_the_new_one() -> None:
    old = _transformer(_provider("aescbc", ("old", K32)))
    rotated = _transformer(_provider("aescbc", ("new", K32B), ("old", K32)))
    old_value = old.to_storage(SECRET_KEY, VALUE)
    assert rotated.read(SECRET_KEY, old_value) == (VALUE, True)
    assert rotated.is_stale(SECRET_KEY, old_value)
    new_value = rotated.to_storage(SECRET_KEY, VALUE)
    assert new_value.startswith(b"k8s:enc:aescbc:v1:new:")
    assert rotated.read(SECRET_KEY, new_value) == (VALUE, False)
    # Once the old key is dropped, values still under it fail clearly (naming the key name, not the key).
    dropped = _transformer(_provider("aescbc", ("new", K32B)))
    with pytest.raises(DecryptionError, match="aescbc key 'old'"):
        dropped.from_storage(SECRET_KEY, old_value)


def test_rotation_across_providers() -> None:
    old = _transformer(_provider("aescbc", ("cbc1", K32)))
    new = _transformer(_provider("secretbox", ("sb1", K32B)), _provider("aescbc", ("cbc1", K32)))
    assert new.from_storage(SECRET_KEY, old.to_storage(SECRET_KEY, VALUE)) == VALUE
    assert new.to_storage(SECRET_KEY, VALUE).startswith(b"k8s:enc:secretbox:v1:sb1:")


def test_key_names_that_share_a_prefix_do_not_collide() -> None:
    t = _transformer(_provider("aesgcm", ("a", K16), ("ab", K32)))
    ab_only = _transformer(_provider("aesgcm", ("ab", K32)))
    assert t.read(SECRET_KEY, ab_only.to_storage(SECRET_KEY, VALUE)) == (VALUE, True)


# ---- validation ----


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update(kind="Secret"), "kind: must be EncryptionConfiguration"),
        (lambda c: c.update(apiVersion="apiserver.config.k8s.io/v2"), "apiVersion: must be"),
        (lambda c: c.update(resources=[]), "resources: at least one resources entry is required"),
        (lambda c: c["resources"][0].update(providers=[]), "resources[0].providers: at least one provider"),
        (lambda c: c["resources"][0].pop("providers"), "resources[0].providers: at least one provider"),
        (lambda c: c["resources"][0].update(resources=[]), "resources[0].resources: at least one resource"),
        (lambda c: c["resources"][0].update(resources=["Secrets"]), "should not contain capital letters"),
        (lambda c: c["resources"][0].update(resources=["*"]), "use '*.'"),
        (lambda c: c["resources"][0].update(resources=["secrets", "secrets"]), "cannot be specified multiple times"),
        (lambda c: c["resources"][0].update(resources=["*.", "secrets"]), "overlapping"),
        (lambda c: c["resources"][0].update(resources=["*.*", "deployments.apps"]), "overlapping"),
        (lambda c: c["resources"][0].update(resources=["secrets.*"]), "across groups"),
        (lambda c: c["resources"][0].update(resources=["events.events.k8s.io"]), "use 'events'"),
        (lambda c: c["resources"][0].update(resources=["v1/secrets"]), "without a version"),
        (lambda c: c["resources"][0]["providers"].append({"aes": {}}), "unknown provider(s) aes"),
        (lambda c: c["resources"][0]["providers"].append({}), "does not contain any of the expected providers"),
        (
            lambda c: c["resources"][0]["providers"].append({"identity": {}, "aescbc": {"keys": []}}),
            "more than one provider",
        ),
        (lambda c: c["resources"][0]["providers"].append({"kms": {"name": "x"}}), "kms provider is not supported"),
        (lambda c: c["resources"][0]["providers"].append({"identity": {"keys": []}}), "identity takes no settings"),
        (lambda c: c["resources"][0]["providers"][0]["aescbc"].update(keys=[]), "at least one key is required"),
        (lambda c: c["resources"][0]["providers"][0]["aescbc"]["keys"][0].pop("name"), "name is a mandatory field"),
        (lambda c: c["resources"][0]["providers"][0]["aescbc"]["keys"][0].update(name="a:b"), "must not contain ':'"),
        (lambda c: c["resources"][0]["providers"][0]["aescbc"]["keys"][0].pop("secret"), "secret is a mandatory"),
        (
            lambda c: c["resources"][0]["providers"][0]["aescbc"]["keys"].append({"name": "k", "secret": _b64(K16)}),
            "duplicate aescbc key name 'k'",
        ),
        (
            lambda c: c["resources"][0]["providers"][0]["aescbc"]["keys"][0].update(secret="not base64!"),
            "keys[0].secret: secrets must be base64 encoded",
        ),
        (
            lambda c: c["resources"][0]["providers"][0]["aescbc"]["keys"][0].update(secret=_b64(os.urandom(20))),
            "aescbc key must be 16 or 24 or 32 bytes, got 20 bytes",
        ),
        (
            lambda c: c["resources"][0]["providers"][0]["aescbc"]["keys"][0].update(secrte="x"),
            "unknown field(s) secrte",
        ),
    ],
)
def test_bad_configs_are_refused_clearly(mutate: Any, message: str) -> None:
    config = _config(_provider("aescbc", ("k", K32)), _provider("identity"))
    mutate(config)
    with pytest.raises(ValueError) as exc:
        parse_encryption_config(config)
    assert message in str(exc.value)
    assert _b64(K32) not in str(exc.value)


def test_key_lengths_per_provider() -> None:
    with pytest.raises(ValueError, match="secretbox key must be 32 bytes, got 16 bytes"):
        _transformer(_provider("secretbox", ("k", K16)))
    with pytest.raises(ValueError, match="aesgcm key must be 16 or 24 or 32 bytes, got 31 bytes"):
        _transformer(_provider("aesgcm", ("k", os.urandom(31))))


def test_a_wildcard_in_an_earlier_entry_masks_later_ones() -> None:
    config = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {"resources": ["*."], "providers": [_provider("identity")]},
            {"resources": ["secrets"], "providers": [_provider("aescbc", ("k", K32))]},
        ],
    }
    with pytest.raises(ValueError, match=r"resource 'secrets' is masked by earlier rule '\*\.'"):
        parse_encryption_config(config)


def test_every_problem_is_reported_at_once() -> None:
    config = _config({"aescbc": {"keys": [{"name": "a", "secret": "%%"}, {"name": "", "secret": _b64(K16)}]}})
    with pytest.raises(ValueError) as exc:
        parse_encryption_config(config)
    assert "keys[0].secret: secrets must be base64" in str(exc.value)
    assert "keys[1].name: name is a mandatory field" in str(exc.value)


def test_load_from_file_and_yaml_errors_do_not_quote_keys(tmp_path: Path) -> None:
    good = tmp_path / "enc.yaml"
    good.write_text(yaml.safe_dump(_config(_provider("secretbox", ("k", K32)))))
    assert load_encryption_config(good).to_storage(SECRET_KEY, VALUE).startswith(b"k8s:enc:secretbox:v1:k:")
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"kind: EncryptionConfiguration\nresources:\n- secret: {_b64(K32)}: [\n")
    with pytest.raises(ValueError) as exc:
        load_encryption_config(bad)
    assert "not valid YAML at line" in str(exc.value) and _b64(K32) not in str(exc.value)
    with pytest.raises(ValueError, match="cannot read"):
        load_encryption_config(tmp_path / "missing.yaml")


# ---- through the SQLite backend ----


async def test_sqlite_backend_stores_ciphertext_and_fails_one_object_cleanly(tmp_path: Path) -> None:
    t = _transformer(_provider("aesgcm", ("k1", K32)))
    backend = SQLiteBackend(tmp_path / "s.db", synchronous="NORMAL", transformer=t)
    await backend.start()
    try:
        secret = {"metadata": {"name": "s1", "namespace": "ns1"}, "data": {"password": "aHVudGVyMg=="}}
        await backend.create(SECRET_KEY, secret)
        await backend.create(CONFIGMAP_KEY, {"metadata": {"name": "c1"}, "data": {"x": "visible"}})
        got = await backend.get(SECRET_KEY)
        assert got is not None and orjson.loads(got.value)["data"] == secret["data"]
        raw = dict(sqlite3.connect(tmp_path / "s.db").execute("SELECT key, value FROM objects").fetchall())
        assert raw[SECRET_KEY].startswith(b"k8s:enc:aesgcm:v1:k1:") and b"aHVudGVyMg" not in raw[SECRET_KEY]
        assert b"visible" in raw[CONFIGMAP_KEY]
    finally:
        await backend.close()
    other = _transformer(_provider("aesgcm", ("k2", K32B)))
    backend = SQLiteBackend(tmp_path / "s.db", synchronous="NORMAL", transformer=other)
    await backend.start()
    try:
        with pytest.raises(DecryptionError, match=f"{SECRET_KEY}.*aesgcm key 'k1'"):
            await backend.get(SECRET_KEY)
        with pytest.raises(DecryptionError):
            await backend.update(SECRET_KEY, {"metadata": {"name": "s1"}}, expected_rv=0)
        cm = await backend.get(CONFIGMAP_KEY)
        assert cm is not None and b"visible" in cm.value
    finally:
        await backend.close()
