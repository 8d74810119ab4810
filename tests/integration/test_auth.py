"""Authentication and RBAC: 401 without credentials, 403 without rights, 200 once bound."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gardener.apiserver.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.runtime.pki import KeyPair, issue_client_cert
from tests.helpers import ServerProcess, create_namespace, eventually, kubectl


def _ca(server: ServerProcess) -> KeyPair:
    pki = server.data_dir / "pki"
    return KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())


def _user_kubeconfig(server: ServerProcess, tmp: Path, user: str, groups: tuple[str, ...] = ()) -> Path:
    ca = _ca(server)
    cert = issue_client_cert(ca, user=user, groups=groups)
    path = tmp / f"{user}.kubeconfig"
    write_kubeconfig(
        path,
        build_kubeconfig(
            server=server.url, ca_pem=ca.cert_pem, user=user, client_cert_pem=cert.cert_pem, client_key_pem=cert.key_pem
        ),
    )
    return path


def _get(server: ServerProcess, path: str, *, token: str | None = None) -> tuple[int, dict[str, object] | str]:
    ctx = ssl.create_default_context(cafile=str(server.data_dir / "pki" / "ca.crt"))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(server.url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            body = resp.read().decode()
            return resp.status, json.loads(body) if body.startswith("{") else body
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/version"])
def test_public_endpoints_need_no_credentials(apiserver: ServerProcess, path: str) -> None:
    code, _ = _get(apiserver, path)
    assert code == 200


def test_no_credentials_is_401_status(apiserver: ServerProcess) -> None:
    code, body = _get(apiserver, "/api/v1/namespaces")
    assert code == 401
    assert isinstance(body, dict) and body["kind"] == "Status" and body["reason"] == "Unauthorized"
    code, _ = _get(apiserver, "/api/v1/namespaces", token="not-a-valid-token")
    assert code == 401


def test_rbac_forbids_then_rolebinding_grants(apiserver: ServerProcess, tmp_path: Path) -> None:
    admin = apiserver.kubeconfig
    create_namespace("rbac-a", kubeconfig=admin)
    bob = _user_kubeconfig(apiserver, tmp_path, "bob", ("developers",))

    denied = kubectl("get", "configmaps", "-n", "rbac-a", kubeconfig=bob, check=False)
    assert denied.returncode != 0
    assert 'User "bob" cannot list resource "configmaps" in API group "" in the namespace "rbac-a"' in denied.stderr

    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "bob-view", "namespace": "rbac-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "developers"}],
    }
    kubectl("apply", "-f", "-", kubeconfig=admin, input=json.dumps(binding))
    allowed = eventually(
        lambda: kubectl("get", "configmaps", "-n", "rbac-a", kubeconfig=bob, check=False).returncode == 0,
        what="RoleBinding takes effect",
    )
    assert allowed
    # view is read-only, and only in that namespace.
    write = kubectl(
        "apply",
        "-f",
        "-",
        kubeconfig=bob,
        check=False,
        input=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "rbac-a"}}),
    )
    assert write.returncode != 0 and "forbidden" in write.stderr
    other = kubectl("get", "configmaps", "-n", "default", kubeconfig=bob, check=False)
    assert other.returncode != 0 and "forbidden" in other.stderr


def test_static_token_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('s3cret-token-value,carol,1001,"system:masters"\n')
    server = ServerProcess(data_dir=tmp_path / "srv", extra_args=["--token-auth-file", str(tokens)]).start()
    try:
        code, body = _get(server, "/api/v1/namespaces", token="s3cret-token-value")
        assert code == 200 and isinstance(body, dict) and body["kind"] == "NamespaceList"
        log = (server.data_dir / "apiserver.log").read_text()
        assert "s3cret-token-value" not in log
    finally:
        server.stop()


def test_service_account_token(apiserver: ServerProcess, tmp_path: Path) -> None:
    from tests.integration.test_durability import _client, _request

    admin = apiserver.kubeconfig
    create_namespace("sa-ns", kubeconfig=admin)
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot", "namespace": "sa-ns"}}
    kubectl("apply", "-f", "-", kubeconfig=admin, input=json.dumps(sa))
    base, ctx = _client(apiserver)
    code, req = _request(
        base,
        ctx,
        "POST",
        "/api/v1/namespaces/sa-ns/serviceaccounts/robot/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
    )
    assert code == 201, req
    token = req["status"]["token"]
    code, body = _get(apiserver, "/api/v1/namespaces/sa-ns/configmaps", token=token)
    assert code == 403
    assert isinstance(body, dict)
    assert 'User "system:serviceaccount:sa-ns:robot" cannot list resource "configmaps"' in str(body["message"])
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "robot-view", "namespace": "sa-ns"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "sa-ns"}],
    }
    kubectl("apply", "-f", "-", kubeconfig=admin, input=json.dumps(binding))
    eventually(lambda: _get(apiserver, "/api/v1/namespaces/sa-ns/configmaps", token=token)[0] == 200, what="SA bound")
    # Deleting the ServiceAccount invalidates its tokens.
    kubectl("delete", "serviceaccount", "robot", "-n", "sa-ns", kubeconfig=admin)
    eventually(
        lambda: _get(apiserver, "/api/v1/namespaces/sa-ns/configmaps", token=token)[0] == 401, what="token revoked"
    )


def _bind_cluster_role(admin: Path, namespace: str, role: str, user: str) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": f"{user}-{role}", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    kubectl("apply", "-f", "-", kubeconfig=admin, input=json.dumps(binding))


def test_edit_and_view_cover_the_workload_kinds(apiserver: ServerProcess, tmp_path: Path) -> None:
    """kube 1.32's aggregated edit/view roles: an editor runs CronJobs, Ingresses and PDBs but grants nothing; a
    viewer lists them but reads no Secrets."""
    admin = apiserver.kubeconfig
    create_namespace("rbac-edit", kubeconfig=admin)
    _bind_cluster_role(admin, "rbac-edit", "edit", "erin")
    _bind_cluster_role(admin, "rbac-edit", "view", "victor")
    erin = _user_kubeconfig(apiserver, tmp_path, "erin")
    victor = _user_kubeconfig(apiserver, tmp_path, "victor")
    eventually(
        lambda: (
            kubectl(
                "auth", "can-i", "create", "cronjobs", "-n", "rbac-edit", kubeconfig=erin, check=False
            ).stdout.strip()
            == "yes"
        ),
        what="the edit binding takes effect",
    )

    ns = ("-n", "rbac-edit")
    kubectl("create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *", *ns, kubeconfig=erin)
    kubectl("create", "ingress", "web", "--rule=example.test/=web:80", *ns, kubeconfig=erin)
    kubectl("create", "pdb", "web", "--selector=app=web", "--min-available=1", *ns, kubeconfig=erin)
    kubectl("create", "secret", "generic", "s", "--from-literal=k=v", *ns, kubeconfig=erin)
    role = kubectl("create", "role", "r", "--verb=get", "--resource=pods", *ns, kubeconfig=erin, check=False)
    assert role.returncode != 0
    assert (
        'roles.rbac.authorization.k8s.io is forbidden: User "erin" cannot create resource "roles" in API group '
        '"rbac.authorization.k8s.io" in the namespace "rbac-edit"' in role.stderr
    )

    eventually(
        lambda: kubectl("get", "cronjobs", *ns, kubeconfig=victor, check=False).returncode == 0,
        what="the view binding takes effect",
    )
    for kind, name in (("cronjobs.batch", "nightly"), ("ingresses.networking.k8s.io", "web"), ("pdb", "web")):
        listed = kubectl("get", kind, *ns, "-o", "name", kubeconfig=victor)
        assert name in listed.stdout
    secrets = kubectl("get", "secrets", *ns, kubeconfig=victor, check=False)
    assert secrets.returncode != 0
    assert 'User "victor" cannot list resource "secrets" in API group "" in the namespace "rbac-edit"' in secrets.stderr
    delete = kubectl("delete", "cronjob", "nightly", *ns, kubeconfig=victor, check=False)
    assert delete.returncode != 0 and "forbidden" in delete.stderr
