"""Pure parts of the node agent around objects: volumes and path rewriting, template hashes, endpoints,
selectors, conditions and merge patches."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest

from extensions.provider_local.nodeagent.expand import ConfigError, PodFields
from extensions.provider_local.nodeagent.objects import matches_selector, merge_patch, set_condition
from extensions.provider_local.nodeagent.volumes import Mount, prepare_volumes, rewriter, write_payload


def test_mount_paths_are_rewritten_at_path_boundaries() -> None:
    rewrite = rewriter(
        [
            Mount("/var/etcd/data", "/agent/pvc/ns/data-etcd-0"),
            Mount("/var/etcd", "/agent/pods/p/volumes/etc"),
            Mount("/srv/tls", "/agent/pods/p/volumes/tls"),
        ]
    )
    assert rewrite("--data-dir=/var/etcd/data/new.etcd") == "--data-dir=/agent/pvc/ns/data-etcd-0/new.etcd"
    assert rewrite("/var/etcd/config.yaml") == "/agent/pods/p/volumes/etc/config.yaml"
    assert rewrite("--cert=/srv/tls/tls.crt,--key=/srv/tls/tls.key") == (
        "--cert=/agent/pods/p/volumes/tls/tls.crt,--key=/agent/pods/p/volumes/tls/tls.key"
    )
    assert rewrite("/srv/tlsx/file") == "/srv/tlsx/file", "only whole path components match"
    assert rewrite("/opt/srv/tls") == "/opt/srv/tls", "only paths from the root match"


def test_payload_swaps_atomically_and_drops_removed_keys(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert write_payload(target, {"a": (b"1", 0o600), "dir/b": (b"2", 0o644)})
    assert (target / "a").read_bytes() == b"1"
    assert (target / "dir" / "b").read_bytes() == b"2"
    assert not write_payload(target, {"a": (b"1", 0o600), "dir/b": (b"2", 0o644)}), "unchanged payload"
    assert write_payload(target, {"a": (b"3", 0o600)})
    assert (target / "a").read_bytes() == b"3"
    assert not (target / "dir").exists()
    assert len([p for p in target.iterdir() if p.name.startswith("..") and p.is_dir() and not p.is_symlink()]) == 1


def _pod(volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"volumes": volumes}}


def test_secret_and_configmap_volumes(tmp_path: Path) -> None:
    secret = {"metadata": {"name": "tls"}, "data": {"tls.key": base64.b64encode(b"KEY").decode()}}
    configmap = {"metadata": {"name": "cfg"}, "data": {"a.yaml": "x: 1", "b.yaml": "y: 2"}}
    paths = prepare_volumes(
        _pod(
            [
                {"name": "tls", "secret": {"secretName": "tls"}},
                {"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "a.yaml", "path": "conf/a.yaml"}]}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}},
                {"name": "scratch", "emptyDir": {}},
            ]
        ),
        pod_dir=tmp_path / "pod",
        pvc_root=tmp_path / "pvc",
        fields=PodFields(name="p", namespace="ns"),
        secret={"tls": secret}.get,
        configmap={"cfg": configmap}.get,
    )
    key = paths["tls"] / "tls.key"
    assert key.read_bytes() == b"KEY"
    assert stat.S_IMODE(key.resolve().stat().st_mode) == 0o600
    assert (paths["cfg"] / "conf" / "a.yaml").read_text() == "x: 1"
    assert not (paths["cfg"] / "b.yaml").exists()
    assert paths["data"] == tmp_path / "pvc" / "ns" / "data-db-0" and paths["data"].is_dir()
    assert paths["scratch"].is_dir()


def test_missing_secret_blocks_the_pod_unless_optional(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {
        "pod_dir": tmp_path,
        "pvc_root": tmp_path,
        "fields": PodFields(name="p", namespace="ns"),
        "secret": {}.get,
        "configmap": {}.get,
    }
    with pytest.raises(ConfigError):
        prepare_volumes(_pod([{"name": "s", "secret": {"secretName": "nope"}}]), **kwargs)
    paths = prepare_volumes(_pod([{"name": "s", "secret": {"secretName": "nope", "optional": True}}]), **kwargs)
    assert list(paths["s"].glob("[!.]*")) == []


def test_label_selectors() -> None:
    labels = {"app": "web", "tier": "front"}
    assert matches_selector(labels, {"matchLabels": {"app": "web"}})
    assert not matches_selector(labels, {"matchLabels": {"app": "db"}})
    assert matches_selector(labels, {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]})
    assert not matches_selector(labels, {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]})
    assert not matches_selector(labels, {}), "an empty workload selector selects nothing here"


def test_conditions_keep_transition_times() -> None:
    first = set_condition([], "Ready", False, reason="Starting")
    old_time = first[0]["lastTransitionTime"]
    first[0]["lastTransitionTime"] = "2000-01-01T00:00:00Z"
    same = set_condition(first, "Ready", False, reason="Starting")
    assert same[0]["lastTransitionTime"] == "2000-01-01T00:00:00Z"
    flipped = set_condition(same, "Ready", True)
    assert flipped[0]["status"] == "True" and flipped[0]["lastTransitionTime"] >= old_time


def test_merge_patch_nulls_what_went_away() -> None:
    old = {"phase": "Running", "message": "x", "nested": {"a": 1, "b": 2}, "list": [1]}
    new = {"phase": "Running", "nested": {"a": 1, "c": 3}, "list": [1, 2]}
    assert merge_patch(old, new) == {"message": None, "nested": {"b": None, "c": 3}, "list": [1, 2]}
    assert merge_patch(new, new) == {}
