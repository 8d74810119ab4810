"""Encryption at rest with --encryption-provider-config: what lands in the SQLite files, and key rotation.

Each test runs a server of its own on a data directory of its own, and reads the raw bytes of DATA_DIR/state.db and
its write-ahead log, where every recent write is.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ServerProcess, eventually, kubectl

GROUP = "enc.test.gardener.dev"


def _key(name: str, raw: bytes) -> dict[str, str]:
    return {"name": name, "secret": base64.b64encode(raw).decode()}


def _write_config(path: Path, entries: list[dict[str, Any]]) -> Path:
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration", "resources": entries}
    path.write_text(yaml.safe_dump(doc))
    return path


def _raw_store(data_dir: Path) -> bytes:
    """Everything SQLite holds on disk: the database file and its write-ahead log (when there is one)."""
    return b"".join(p.read_bytes() for p in (data_dir / "state.db", data_dir / "state.db-wal") if p.exists())


def _stored_value(data_dir: Path, key: str) -> bytes:
    conn = sqlite3.connect(f"file:{data_dir / 'state.db'}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM objects WHERE key=?", (key,)).fetchone()
    finally:
        conn.close()
    assert row is not None, key
    return bytes(row[0])


def _secret_value(server: ServerProcess, namespace: str, name: str, field: str = "password") -> str:
    out = kubectl(
        "get", "secret", name, "-n", namespace, "-o", f"jsonpath={{.data.{field}}}", kubeconfig=server.kubeconfig
    ).stdout
    return base64.b64decode(out).decode()


def _apply(server: ServerProcess, doc: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input=json.dumps(doc), kubeconfig=server.kubeconfig)


@pytest.fixture
def servers() -> Iterator[list[ServerProcess]]:
    """Servers a test starts; each one still running at the end is killed."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill()


def _start(servers: list[ServerProcess], data_dir: Path, config: Path, *, timeout: float = 30.0) -> ServerProcess:
    server = ServerProcess(data_dir=data_dir, extra_args=["--encryption-provider-config", str(config)])
    servers.append(server)
    try:
        return server.start(timeout=timeout)
    except AssertionError as exc:
        if "apiserver exited" in str(exc):
            raise RuntimeError(f"the apiserver did not start: {server.log_tail(3)}") from None
        raise


def test_secrets_are_encrypted_on_disk_and_readable_through_the_api(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    data_dir = tmp_path / "srv"
    config = _write_config(
        tmp_path / "enc.yaml",
        [
            {
                "resources": ["secrets", f"widgets.{GROUP}"],
                "providers": [{"aescbc": {"keys": [_key("key1", os.urandom(32))]}}, {"identity": {}}],
            }
        ],
    )
    server = _start(servers, data_dir, config)
    plaintext = f"s3cr3t-{uuid.uuid4().hex}"
    visible = f"visible-{uuid.uuid4().hex}"
    _apply(
        server,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": "default"},
            "stringData": {"password": plaintext},
        },
    )
    _apply(
        server,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm", "namespace": "default"},
            "data": {"v": visible},
        },
    )
    assert _secret_value(server, "default", "db") == plaintext

    raw = _raw_store(data_dir)
    assert plaintext.encode() not in raw
    assert base64.b64encode(plaintext.encode()) not in raw
    assert b"k8s:enc:aescbc:v1:key1:" in raw
    assert _stored_value(data_dir, "/registry/core/secrets/default/db").startswith(b"k8s:enc:aescbc:v1:key1:")
    # Resources the config does not list are stored as they are.
    assert visible.encode() in raw
    assert _stored_value(data_dir, "/registry/core/configmaps/default/cm").startswith(b"{")

    # A custom resource named group-qualified in the config is encrypted too.
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    _apply(server, crd)
    widget_text = f"widget-{uuid.uuid4().hex}"
    widget = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "default"}}
    widget["spec"] = {"text": widget_text}
    eventually(
        lambda: kubectl("apply", "-f", "-", input=json.dumps(widget), kubeconfig=server.kubeconfig),
        what="widget created",
    )
    out = kubectl(
        "get", f"widgets.{GROUP}", "w1", "-n", "default", "-o", "jsonpath={.spec.text}", kubeconfig=server.kubeconfig
    )
    assert out.stdout == widget_text
    assert widget_text.encode() not in _raw_store(data_dir)
    assert _stored_value(data_dir, f"/registry/{GROUP}/widgets/default/w1").startswith(b"k8s:enc:aescbc:v1:key1:")


def test_rotation_reads_old_values_and_rewrites_with_the_new_key(tmp_path: Path, servers: list[ServerProcess]) -> None:
    data_dir = tmp_path / "srv"
    old_key, new_key = _key("old", os.urandom(32)), _key("new", os.urandom(32))
    first = _write_config(
        tmp_path / "enc1.yaml", [{"resources": ["secrets"], "providers": [{"aescbc": {"keys": [old_key]}}]}]
    )
    server = _start(servers, data_dir, first)
    plaintext = f"rotate-me-{uuid.uuid4().hex}"
    for name in ("a", "b"):
        _apply(
            server,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": "default"},
                "stringData": {"password": plaintext},
            },
        )
    key_a, key_b = "/registry/core/secrets/default/a", "/registry/core/secrets/default/b"
    assert _stored_value(data_dir, key_a).startswith(b"k8s:enc:aescbc:v1:old:")
    server.stop()

    # New key first (another provider, even), the old one second: old values read, every write uses the new key.
    second = _write_config(
        tmp_path / "enc2.yaml",
        [
            {
                "resources": ["secrets"],
                "providers": [{"secretbox": {"keys": [new_key]}}, {"aescbc": {"keys": [old_key]}}],
            }
        ],
    )
    server = _start(servers, data_dir, second)
    assert _secret_value(server, "default", "a") == plaintext
    assert _secret_value(server, "default", "b") == plaintext
    # A real change re-writes the object, and so re-encrypts it (a no-op write is skipped, see encryption.py).
    kubectl(
        "annotate", "secret", "a", "-n", "default", "encryption-rotated=1", "--overwrite", kubeconfig=server.kubeconfig
    )
    assert _stored_value(data_dir, key_a).startswith(b"k8s:enc:secretbox:v1:new:")
    assert b"k8s:enc:secretbox:v1:new:" in _raw_store(data_dir)
    assert _stored_value(data_dir, key_b).startswith(b"k8s:enc:aescbc:v1:old:")
    assert _secret_value(server, "default", "a") == plaintext
    listed = json.loads(kubectl("get", "secrets", "-n", "default", "-o", "json", kubeconfig=server.kubeconfig).stdout)
    assert {i["metadata"]["name"] for i in listed["items"]} >= {"a", "b"}
    assert plaintext.encode() not in _raw_store(data_dir)


def test_a_secret_no_configured_key_can_read_fails_alone(tmp_path: Path, servers: list[ServerProcess]) -> None:
    data_dir = tmp_path / "srv"
    old_key, new_key = _key("old", os.urandom(32)), _key("new", os.urandom(32))
    first = _write_config(
        tmp_path / "enc1.yaml", [{"resources": ["secrets"], "providers": [{"aesgcm": {"keys": [old_key]}}]}]
    )
    server = _start(servers, data_dir, first)
    _apply(
        server,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "lost", "namespace": "default"},
            "data": {"p": "eA=="},
        },
    )
    server.stop()
    # The old key is gone from the config: that one Secret answers 500, everything else works.
    second = _write_config(
        tmp_path / "enc2.yaml", [{"resources": ["secrets"], "providers": [{"aesgcm": {"keys": [new_key]}}]}]
    )
    server = _start(servers, data_dir, second, timeout=10)
    _apply(
        server,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "kept", "namespace": "default"},
            "data": {"p": "eA=="},
        },
    )
    assert _secret_value(server, "default", "kept", "p") == "x"
    lost = kubectl("get", "secret", "lost", "-n", "default", kubeconfig=server.kubeconfig, check=False)
    assert lost.returncode != 0
    assert "InternalError" in lost.stderr or "internal error" in lost.stderr
    kubectl("get", "configmaps", "-A", kubeconfig=server.kubeconfig)
