"""Impersonation (`kubectl --as`, `--as-group`, `Impersonate-*` headers) against a real server and the real kubectl."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import ServerProcess, create_namespace, eventually, kubectl, kubectl_get
from tests.integration.test_auth import _user_kubeconfig

#: request handling, validation, admission and auth sit above storage: one backend says it all
ONE_BACKEND = True

IMPERSONATE_ALL = [
    {"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["uids", "userextras/scopes"], "verbs": ["impersonate"]},
]


class Client:
    """Raw HTTPS requests as a kubeconfig's client-certificate user or with a bearer token, for what kubectl cannot
    send (headers, repeated ones too, and hand-made bodies)."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        user = config["users"][0]["user"]
        tmp = Path(tempfile.mkdtemp(dir=kubeconfig.parent))
        (tmp / "ca.crt").write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
        (tmp / "c.crt").write_bytes(base64.b64decode(user["client-certificate-data"]))
        (tmp / "c.key").write_bytes(base64.b64decode(user["client-key-data"]))
        self._connect(config["clusters"][0]["cluster"]["server"], tmp / "ca.crt")
        self.ctx.load_cert_chain(str(tmp / "c.crt"), str(tmp / "c.key"))
        self.token = ""

    @classmethod
    def with_token(cls, server: ServerProcess, token: str) -> Client:
        client = cls.__new__(cls)
        client._connect(server.url, server.data_dir / "pki" / "ca.crt")
        client.token = token
        return client

    def _connect(self, url: str, ca: Path) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 443
        self.ctx = ssl.create_default_context(cafile=str(ca))

    def call(
        self, method: str, path: str, body: Any = None, *, headers: list[tuple[str, str]] | None = None
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        sent = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(headers or [])]
        if self.token:
            sent.append(("Authorization", f"Bearer {self.token}"))
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=10)
        try:
            conn.putrequest(method, path)
            for name, value in sent:
                conn.putheader(name, value)
            conn.endheaders(data or None)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()


def _user(server: ServerProcess, tmp: Path, name: str) -> Path:
    """A client-certificate user whose discovery cache is warm: kubectl discovers as the impersonated user too, and
    its discovery client reports a refused impersonation as "unknown" (it never decodes the Status)."""
    kubeconfig = _user_kubeconfig(server, tmp, name)
    kubectl("api-resources", kubeconfig=kubeconfig)
    return kubeconfig


def _apply(kubeconfig: Path, *objs: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, input="\n---\n".join(json.dumps(o) for o in objs))


def _cluster_role(name: str, rules: list[dict[str, Any]], user: str) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io"
    return [
        {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules},
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": rbac, "kind": "User", "name": user}],
        },
    ]


def _role(namespace: str, name: str, rules: list[dict[str, Any]], subject: dict[str, str]) -> list[dict[str, Any]]:
    rbac = "rbac.authorization.k8s.io"
    return [
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": rules,
        },
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": name},
            "subjects": [subject],
        },
    ]


def _csr_pem(common_name: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM)


def _whoami(kubeconfig: Path, *args: str) -> dict[str, Any]:
    out = kubectl("auth", "whoami", "-o", "json", *args, kubeconfig=kubeconfig)
    review: dict[str, Any] = json.loads(out.stdout)
    assert review["kind"] == "SelfSubjectReview"
    return review["status"]["userInfo"]  # type: ignore[no-any-return]


def test_as_is_forbidden_without_the_impersonate_verb(apiserver: ServerProcess, tmp_path: Path) -> None:
    create_namespace("imp-a", kubeconfig=apiserver.kubeconfig)
    plain = _user(apiserver, tmp_path, "imp-plain")
    denied = kubectl("get", "secrets", "-n", "imp-a", "--as=nobody", kubeconfig=plain, check=False)
    assert denied.returncode == 1
    assert (
        'Error from server (Forbidden): users "nobody" is forbidden: User "imp-plain" cannot impersonate resource '
        '"users" in API group "" at the cluster scope' in denied.stderr
    )
    sa = kubectl(
        "get", "secrets", "-n", "imp-a", "--as=system:serviceaccount:imp-a:robot", kubeconfig=plain, check=False
    )
    assert (
        'serviceaccounts "robot" is forbidden: User "imp-plain" cannot impersonate resource "serviceaccounts" in API '
        'group "" in the namespace "imp-a"' in sa.stderr
    )
    status, body = Client(plain).call(
        "GET", "/api/v1/namespaces/imp-a/secrets", headers=[("Impersonate-User", "nobody")]
    )
    assert status == 403
    assert body["reason"] == "Forbidden" and body["details"] == {"name": "nobody", "kind": "users"}


def test_as_runs_the_request_as_the_impersonated_user(apiserver: ServerProcess, tmp_path: Path) -> None:
    admin = apiserver.kubeconfig
    create_namespace("imp-b", kubeconfig=admin)
    _apply(admin, *_cluster_role("imp-b-impersonator", IMPERSONATE_ALL, "imp-b-user"))
    imp = _user(apiserver, tmp_path, "imp-b-user")

    def forbidden_as_nobody() -> str:
        result = kubectl("get", "secrets", "-n", "imp-b", "--as=nobody", kubeconfig=imp, check=False)
        assert "cannot impersonate" not in result.stderr, result.stderr
        return result.stderr

    # the request itself runs as nobody, who may not list secrets: the 403 names nobody, not the caller
    stderr = eventually(forbidden_as_nobody, what="impersonation allowed")
    assert 'User "nobody" cannot list resource "secrets" in API group "" in the namespace "imp-b"' in stderr
    # the caller itself may not list secrets either, so a success below is nobody's own right
    assert kubectl("get", "secrets", "-n", "imp-b", kubeconfig=imp, check=False).returncode == 1

    _apply(
        admin,
        *_role(
            "imp-b",
            "nobody-secrets",
            [{"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["*"]}],
            {"kind": "User", "name": "nobody"},
        ),
    )
    eventually(
        lambda: kubectl("get", "secrets", "-n", "imp-b", "--as=nobody", kubeconfig=imp, check=False).returncode == 0,
        what="nobody may list secrets",
    )
    # what admission records of the user is nobody's: a CertificateSigningRequest's spec.username, groups, uid
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "imp-b-csr"},
        "spec": {
            "request": base64.b64encode(_csr_pem("nobody")).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
        },
    }
    kubectl(
        "create",
        "-f",
        "-",
        "--as=nobody",
        "--as-group=system:masters",
        "--as-uid=u-7",
        kubeconfig=imp,
        input=json.dumps(csr),
    )
    stored = kubectl_get("csr", "imp-b-csr", kubeconfig=admin)
    assert (stored["spec"]["username"], stored["spec"]["groups"], stored["spec"]["uid"]) == (
        "nobody",
        ["system:masters", "system:authenticated"],
        "u-7",
    )

    assert _whoami(imp, "--as=nobody") == {"username": "nobody", "groups": ["system:authenticated"]}
    assert _whoami(imp, "--as=system:serviceaccount:imp-b:robot") == {
        "username": "system:serviceaccount:imp-b:robot",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:imp-b", "system:authenticated"],
    }


def test_as_group(apiserver: ServerProcess, tmp_path: Path) -> None:
    admin = apiserver.kubeconfig
    create_namespace("imp-c", kubeconfig=admin)
    users_only = [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}]
    _apply(admin, *_cluster_role("imp-c-users", users_only, "imp-c-user"))
    imp = _user(apiserver, tmp_path, "imp-c-user")

    def group_refused() -> str:
        result = kubectl(
            "get", "secrets", "-n", "imp-c", "--as=nobody", "--as-group=admins", kubeconfig=imp, check=False
        )
        assert 'impersonate resource "groups"' in result.stderr, result.stderr
        return result.stderr

    stderr = eventually(group_refused, what="users impersonation allowed")
    assert (
        'groups "admins" is forbidden: User "imp-c-user" cannot impersonate resource "groups" in API group "" at '
        "the cluster scope" in stderr
    )

    _apply(admin, *_cluster_role("imp-c-all", IMPERSONATE_ALL, "imp-c-user"))
    eventually(
        lambda: (
            kubectl(
                "get", "secrets", "-n", "imp-c", "--as=nobody", "--as-group=system:masters", kubeconfig=imp, check=False
            ).returncode
            == 0
        ),
        what="a group's rights through --as-group",
    )
    info = _whoami(imp, "--as=nobody", "--as-group=g1", "--as-group=g2")
    assert info == {"username": "nobody", "groups": ["g1", "g2", "system:authenticated"]}
    # an explicit system:authenticated is not added twice; the anonymous user gets system:unauthenticated
    assert _whoami(imp, "--as=nobody", "--as-group=system:authenticated")["groups"] == ["system:authenticated"]
    anonymous = _whoami(imp, "--as=system:anonymous", "--as-group=system:masters")
    assert anonymous["groups"] == ["system:masters", "system:unauthenticated"]


def test_impersonation_headers(apiserver: ServerProcess, tmp_path: Path) -> None:
    admin = apiserver.kubeconfig
    _apply(admin, *_cluster_role("imp-d-all", IMPERSONATE_ALL, "imp-d-user"))
    client = Client(_user(apiserver, tmp_path, "imp-d-user"))
    whoami = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}

    status, body = client.call("POST", whoami, review, headers=[("Impersonate-Group", "admins")])
    assert status == 400 and body["reason"] == "BadRequest"
    assert body["message"] == "requested [{Group  admins    }] without impersonating a user"

    headers = [
        ("Impersonate-User", "jane"),
        ("Impersonate-Uid", "u-42"),
        ("Impersonate-Group", "g1"),
        ("Impersonate-Group", "g2"),
        ("Impersonate-Extra-Scopes", "view"),
        ("Impersonate-Extra-Scopes", "edit"),
    ]

    def allowed() -> Any:
        status, body = client.call("POST", whoami, review, headers=headers)
        assert status == 201, body
        return body

    body = eventually(allowed, what="impersonation allowed")
    assert body["status"]["userInfo"] == {
        "username": "jane",
        "uid": "u-42",
        "groups": ["g1", "g2", "system:authenticated"],
        "extra": {"scopes": ["view", "edit"]},
    }
    # each extra key is a resource of its own; its name in the header is percent-decoded
    status, body = client.call(
        "POST", whoami, review, headers=[("Impersonate-User", "jane"), ("Impersonate-Extra-Example.com%2fteam", "a")]
    )
    assert status == 403
    assert body["message"] == (
        'userextras.authentication.k8s.io "a" is forbidden: User "imp-d-user" cannot impersonate resource '
        '"userextras/example.com/team" in API group "authentication.k8s.io" at the cluster scope'
    )
    log = (apiserver.data_dir / "apiserver.log").read_text()
    assert "msg=Impersonating" in log and "user=imp-d-user" in log and "as=jane" in log


@pytest.mark.parametrize("header", ["Impersonate-Uid", "Impersonate-Extra-Scopes"])
def test_uid_or_extra_without_user_is_400(apiserver: ServerProcess, header: str) -> None:
    status, body = Client(apiserver.kubeconfig).call("GET", "/api/v1/namespaces", headers=[(header, "x")])
    assert status == 400 and body["message"].endswith("] without impersonating a user")


def test_csr_records_the_requesters_extra(apiserver: ServerProcess, tmp_path: Path) -> None:
    """kube's CSR strategy copies user.Info's Extra into spec.extra, like username, uid and groups."""
    _apply(apiserver.kubeconfig, *_cluster_role("imp-e-all", IMPERSONATE_ALL, "imp-e-user"))
    client = Client(_user(apiserver, tmp_path, "imp-e-user"))
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "imp-e-csr"},
        "spec": {
            "request": base64.b64encode(_csr_pem("jane")).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
            "extra": {"forged": ["by-the-client"]},
        },
    }
    headers = [
        ("Impersonate-User", "jane"),
        ("Impersonate-Group", "system:masters"),
        ("Impersonate-Extra-Scopes", "view"),
        ("Impersonate-Extra-Scopes", "edit"),
    ]

    def created() -> Any:
        status, body = client.call(
            "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", csr, headers=headers
        )
        assert status == 201, body
        return body

    body = eventually(created, what="impersonation allowed")
    assert body["spec"]["username"] == "jane"
    assert body["spec"]["extra"] == {"scopes": ["view", "edit"]}
