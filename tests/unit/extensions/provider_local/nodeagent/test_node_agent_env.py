"""The node agent's container environments: `$(VAR)` expansion, env sources, service variables."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from extensions.provider_local.nodeagent.expand import (
    ConfigError,
    PodFields,
    container_env,
    expand,
    field_value,
    service_env,
)

VARS = {"VAR_A": "A", "VAR_B": "B", "VAR_EMPTY": "", "POD_IP": "127.1.0.7"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_B)", "A-B"),
        ("--bind=$(POD_IP):8080", "--bind=127.1.0.7:8080"),
        ("$(VAR_EMPTY)", ""),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$$$$(VAR_A)", "$$(VAR_A)"),
        ("$(VAR_A", "$(VAR_A"),
        ("$VAR_A", "$VAR_A"),
        ("foo$", "foo$"),
        ("$()", "$()"),
        ("$(VAR_A)$(VAR_A)", "AA"),
        ("no variables", "no variables"),
    ],
)
def test_expand_follows_kubernetes(text: str, expected: str) -> None:
    assert expand(text, VARS.get) == expected


def _svc(name: str, ip: str, ports: list[dict[str, Any]], kind: str = "ClusterIP") -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"type": kind, "clusterIP": ip, "ports": ports}}


def test_service_env_matches_kubelet_names() -> None:
    env = service_env(
        [
            _svc("etcd-main-client", "127.2.0.3", [{"name": "client", "port": 2379, "protocol": "TCP"}]),
            _svc("headless", "None", [{"port": 80}]),
            _svc("external", "", [{"port": 80}], kind="ExternalName"),
        ]
    )
    assert env == {
        "ETCD_MAIN_CLIENT_SERVICE_HOST": "127.2.0.3",
        "ETCD_MAIN_CLIENT_SERVICE_PORT": "2379",
        "ETCD_MAIN_CLIENT_SERVICE_PORT_CLIENT": "2379",
        "ETCD_MAIN_CLIENT_PORT": "tcp://127.2.0.3:2379",
        "ETCD_MAIN_CLIENT_PORT_2379_TCP": "tcp://127.2.0.3:2379",
        "ETCD_MAIN_CLIENT_PORT_2379_TCP_PROTO": "tcp",
        "ETCD_MAIN_CLIENT_PORT_2379_TCP_PORT": "2379",
        "ETCD_MAIN_CLIENT_PORT_2379_TCP_ADDR": "127.2.0.3",
    }


POD = PodFields(
    name="web-0",
    namespace="shoot--p--s",
    uid="u-1",
    pod_ip="127.1.0.9",
    node_name="local",
    labels={"app": "web"},
    annotations={"a": "b"},
)
SECRET = {"metadata": {"name": "creds"}, "data": {"password": base64.b64encode(b"s3cret").decode()}}
CONFIGMAP = {"metadata": {"name": "settings"}, "data": {"mode": "fast", "level": "3"}}


def _env(container: dict[str, Any], services: dict[str, str] | None = None) -> dict[str, str]:
    return container_env(
        container,
        pod=POD,
        secret={"creds": SECRET}.get,
        configmap={"settings": CONFIGMAP}.get,
        services=services or {},
    )


def test_env_sources_and_expansion_in_order() -> None:
    env = _env(
        {
            "env": [
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
                {"name": "URL", "value": "http://$(POD_IP):8080/$(LATER)"},
                {"name": "LATER", "value": "x"},
                {"name": "ETCD", "value": "$(DB_SERVICE_HOST):$(DB_SERVICE_PORT)"},
            ]
        },
        services={"DB_SERVICE_HOST": "127.2.0.1", "DB_SERVICE_PORT": "2379"},
    )
    assert env["POD_IP"] == "127.1.0.9"
    assert env["POD_NAME"] == "web-0"
    assert env["NS"] == "shoot--p--s"
    assert env["PASSWORD"] == "s3cret"
    assert env["MODE"] == "fast"
    assert env["URL"] == "http://127.1.0.9:8080/$(LATER)", "only earlier variables expand"
    assert env["ETCD"] == "127.2.0.1:2379"
    assert env["DB_SERVICE_HOST"] == "127.2.0.1"


def test_env_from_with_prefix_and_container_env_winning() -> None:
    env = _env(
        {
            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}, {"secretRef": {"name": "creds"}}],
            "env": [{"name": "CFG_level", "value": "9"}],
        }
    )
    assert env["CFG_mode"] == "fast"
    assert env["CFG_level"] == "9"
    assert env["password"] == "s3cret"


@pytest.mark.parametrize(
    "source",
    [
        {"secretKeyRef": {"name": "missing", "key": "k"}},
        {"secretKeyRef": {"name": "creds", "key": "missing"}},
        {"configMapKeyRef": {"name": "missing", "key": "k"}},
        {"fieldRef": {"fieldPath": "spec.unknownField"}},
    ],
)
def test_missing_references_block_the_container(source: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        _env({"env": [{"name": "X", "valueFrom": source}]})


def test_optional_references_are_left_out() -> None:
    env = _env(
        {
            "env": [
                {"name": "X", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k", "optional": True}}},
                {"name": "Y", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "no", "optional": True}}},
            ],
            "envFrom": [{"secretRef": {"name": "missing", "optional": True}}],
        }
    )
    assert "X" not in env and "Y" not in env


def test_downward_api_fields() -> None:
    assert field_value("metadata.labels['app']", POD) == "web"
    assert field_value("metadata.annotations", POD) == 'a="b"'
    assert field_value("spec.nodeName", POD) == "local"
    assert field_value("status.hostIP", POD) == "127.0.0.1"
