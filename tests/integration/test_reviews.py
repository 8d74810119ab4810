"""The review APIs (TokenReview, SelfSubjectReview, *SubjectAccessReview, SelfSubjectRulesReview) through the real
kubectl (`auth whoami`, `auth can-i`) and raw requests, against a real server."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from tests.helpers import ServerProcess, create_namespace, eventually, kubectl
from tests.integration.test_auth import _user_kubeconfig
from tests.integration.test_impersonation import Client, _apply, _role, _user

#: request handling, validation, admission and auth sit above storage: one backend says it all
ONE_BACKEND = True

AUTHN = "/apis/authentication.k8s.io/v1"
AUTHZ = "/apis/authorization.k8s.io/v1"
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _table(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_auth_whoami(apiserver: ServerProcess) -> None:
    admin = apiserver.kubeconfig
    assert kubectl("auth", "whoami", kubeconfig=admin).stdout == _table(
        """
        ATTRIBUTE   VALUE
        Username    system:admin
        Groups      [system:masters system:authenticated]
        """
    )
    impersonated = kubectl("auth", "whoami", "--as=jane", "--as-group=devs", "--as-uid=u-1", kubeconfig=admin)
    assert impersonated.stdout == _table(
        """
        ATTRIBUTE   VALUE
        Username    jane
        UID         u-1
        Groups      [devs system:authenticated]
        """
    )
    status, review = Client(admin).call("POST", f"{AUTHN}/selfsubjectreviews", {"kind": "SelfSubjectReview"})
    assert status == 201 and review["kind"] == "SelfSubjectReview"
    assert review["apiVersion"] == "authentication.k8s.io/v1" and review["metadata"]["creationTimestamp"]


def _grant_jane(admin: Path, namespace: str) -> None:
    rules = [
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create", "get", "list"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app-config"], "verbs": ["get"]},
    ]
    _apply(admin, *_role(namespace, "jane-apps", rules, {"kind": "User", "name": "jane"}))


def test_auth_can_i(apiserver: ServerProcess, tmp_path: Path) -> None:
    admin = apiserver.kubeconfig
    create_namespace("rv-a", kubeconfig=admin)
    _grant_jane(admin, "rv-a")

    yes = kubectl("auth", "can-i", "create", "deployments", "--namespace", "rv-a", kubeconfig=admin)
    assert (yes.returncode, yes.stdout) == (0, "yes\n")
    eventually(
        lambda: (
            kubectl("auth", "can-i", "create", "deployments", "-n", "rv-a", "--as=jane", kubeconfig=admin).stdout
            == "yes\n"
        ),
        what="jane's Role takes effect",
    )
    no = kubectl("auth", "can-i", "create", "deployments", "-n", "default", "--as=jane", kubeconfig=admin, check=False)
    assert (no.returncode, no.stdout) == (1, "no\n")
    named = kubectl("auth", "can-i", "get", "configmaps/app-config", "-n", "rv-a", "--as=jane", kubeconfig=admin)
    assert named.stdout == "yes\n"
    other = kubectl(
        "auth", "can-i", "get", "configmaps/other", "-n", "rv-a", "--as=jane", kubeconfig=admin, check=False
    )
    assert (other.returncode, other.stdout) == (1, "no\n")
    # a non-resource URL, and kubectl's own user asking for itself without impersonation
    assert kubectl("auth", "can-i", "get", "/healthz", "--as=jane", kubeconfig=admin).stdout == "yes\n"
    plain = _user(apiserver, tmp_path, "rv-plain")
    denied = kubectl("auth", "can-i", "list", "secrets", "-n", "rv-a", kubeconfig=plain, check=False)
    assert (denied.returncode, denied.stdout) == (1, "no\n")


def test_auth_can_i_list(apiserver: ServerProcess) -> None:
    admin = apiserver.kubeconfig
    create_namespace("rv-b", kubeconfig=admin)
    _grant_jane(admin, "rv-b")
    expected = _table(
        """
        Resources                                       Non-Resource URLs   Resource Names   Verbs
        deployments.apps                                []                  []               [create get list]
        selfsubjectreviews.authentication.k8s.io        []                  []               [create]
        selfsubjectaccessreviews.authorization.k8s.io   []                  []               [create]
        selfsubjectrulesreviews.authorization.k8s.io    []                  []               [create]
                                                        [/api/*]            []               [get]
                                                        [/api]              []               [get]
                                                        [/apis/*]           []               [get]
                                                        [/apis]             []               [get]
                                                        [/healthz]          []               [get]
                                                        [/healthz]          []               [get]
                                                        [/livez]            []               [get]
                                                        [/livez]            []               [get]
                                                        [/openapi/*]        []               [get]
                                                        [/openapi]          []               [get]
                                                        [/readyz]           []               [get]
                                                        [/readyz]           []               [get]
                                                        [/version/]         []               [get]
                                                        [/version/]         []               [get]
                                                        [/version]          []               [get]
                                                        [/version]          []               [get]
        configmaps                                      []                  [app-config]     [get]
        """
    )

    def listed() -> str:
        return kubectl("auth", "can-i", "--list", "--as=jane", "-n", "rv-b", kubeconfig=admin).stdout

    assert eventually(lambda: listed() == expected, what="jane's rules listed")
    # in another namespace the Role does not apply
    other = kubectl("auth", "can-i", "--list", "--as=jane", "-n", "default", kubeconfig=admin).stdout
    assert "deployments.apps" not in other and "selfsubjectrulesreviews.authorization.k8s.io" in other

    status, review = Client(admin).call(
        "POST", f"{AUTHZ}/selfsubjectrulesreviews", {"kind": "SelfSubjectRulesReview", "spec": {"namespace": "rv-b"}}
    )
    assert status == 201
    assert review["status"]["incomplete"] is False and "evaluationError" not in review["status"]
    assert {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} in review["status"]["resourceRules"]
    status, problem = Client(admin).call("POST", f"{AUTHZ}/selfsubjectrulesreviews", {"spec": {}})
    assert (status, problem["reason"], problem["message"]) == (400, "BadRequest", "no namespace on request")


def test_rules_of_a_gardenlet_are_incomplete(apiserver: ServerProcess, tmp_path: Path) -> None:
    """What the seed authorizer allows a gardenlet is decided per object and cannot be listed as rules."""
    issued = _user_kubeconfig(apiserver, tmp_path, "gardener.cloud:system:seed:rv", ("gardener.cloud:system:seeds",))
    seed = issued.rename(tmp_path / "seed.kubeconfig")  # KUBECONFIG is a colon-separated list
    status, review = Client(seed).call(
        "POST", f"{AUTHZ}/selfsubjectrulesreviews", {"kind": "SelfSubjectRulesReview", "spec": {"namespace": "garden"}}
    )
    assert status == 201
    assert review["status"]["incomplete"] is True
    assert review["status"]["evaluationError"] == "seed authorizer does not support user rule resolution"
    listed = kubectl("auth", "can-i", "--list", "-n", "garden", kubeconfig=seed)
    assert "Warning: the list may be incomplete: seed authorizer does not support user rule resolution" in listed.stderr


def _sar(spec: dict[str, Any], *, kind: str = "SubjectAccessReview", namespace: str = "") -> dict[str, Any]:
    review: dict[str, Any] = {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "spec": spec}
    if namespace:
        review["metadata"] = {"namespace": namespace}
    return review


def test_subject_access_reviews(apiserver: ServerProcess, tmp_path: Path) -> None:
    admin = Client(apiserver.kubeconfig)
    create_namespace("rv-c", kubeconfig=apiserver.kubeconfig)
    _grant_jane(apiserver.kubeconfig, "rv-c")
    attributes = {"namespace": "rv-c", "verb": "list", "group": "apps", "resource": "deployments"}

    def allowed() -> Any:
        status, review = admin.call(
            "POST", f"{AUTHZ}/subjectaccessreviews", _sar({"user": "jane", "resourceAttributes": attributes})
        )
        assert status == 201 and review["status"]["allowed"] is True, review
        return review

    review = eventually(allowed, what="jane's Role takes effect")
    assert review["spec"]["resourceAttributes"] == attributes and review["kind"] == "SubjectAccessReview"
    assert review["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by RoleBinding "jane-apps/rv-c" of Role "jane-apps" to User "jane"',
    }
    status, review = admin.call(
        "POST",
        f"{AUTHZ}/subjectaccessreviews",
        _sar({"user": "jane", "resourceAttributes": {**attributes, "verb": "delete"}}),
    )
    assert status == 201 and review["status"] == {"allowed": False}
    status, review = admin.call(
        "POST",
        f"{AUTHZ}/subjectaccessreviews",
        _sar({"groups": ["system:authenticated"], "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}),
    )
    assert status == 201 and review["status"]["allowed"] is True

    status, problem = admin.call("POST", f"{AUTHZ}/subjectaccessreviews", _sar({}))
    assert (status, problem["reason"]) == (422, "Invalid")
    # kube brackets a message of several causes
    assert problem["message"] == (
        'SubjectAccessReview.authorization.k8s.io "" is invalid: [spec.resourceAttributes: Invalid value: "null": '
        "exactly one of nonResourceAttributes or resourceAttributes must be specified, spec.user: Invalid value: "
        '"": at least one of user or group must be specified]'
    )
    assert problem["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be '
            "specified",
            "field": "spec.resourceAttributes",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "": at least one of user or group must be specified',
            "field": "spec.user",
        },
    ]
    status, problem = admin.call(
        "POST",
        f"{AUTHZ}/subjectaccessreviews",
        _sar(
            {"user": "jane", "resourceAttributes": attributes, "nonResourceAttributes": {"path": "/x", "verb": "get"}}
        ),
    )
    assert status == 422 and problem["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: authorization.NonResourceAttributes{Path:"/x", Verb:"get"}: cannot be specified '
            "in combination with resourceAttributes",
            "field": "spec.nonResourceAttributes",
        }
    ]
    status, problem = admin.call("POST", f"{AUTHZ}/subjectaccessreviews", {"spec": {"user": 7}})
    assert status == 400 and problem["message"] == (
        'SubjectAccessReview in version "v1" cannot be handled as a SubjectAccessReview: json: cannot unmarshal '
        "number into Go struct field SubjectAccessReviewSpec.spec.user of type string"
    )

    # LocalSubjectAccessReview: the namespace of the URL is the only one it may ask about
    local = "/apis/authorization.k8s.io/v1/namespaces/rv-c/localsubjectaccessreviews"
    status, review = admin.call(
        "POST", local, _sar({"user": "jane", "resourceAttributes": attributes}, kind="LocalSubjectAccessReview")
    )
    assert status == 201 and review["status"]["allowed"] is True and review["metadata"]["namespace"] == "rv-c"
    status, problem = admin.call(
        "POST",
        local,
        _sar(
            {"user": "jane", "resourceAttributes": {**attributes, "namespace": "other"}},
            kind="LocalSubjectAccessReview",
        ),
    )
    assert status == 422 and problem["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "other": must match metadata.namespace',
            "field": "spec.resourceAttributes.namespace",
        }
    ]

    # asking about others needs create on subjectaccessreviews; asking about oneself does not
    plain = Client(_user(apiserver, tmp_path, "rv-c-plain"))
    status, problem = plain.call(
        "POST", f"{AUTHZ}/subjectaccessreviews", _sar({"user": "jane", "resourceAttributes": attributes})
    )
    assert status == 403 and problem["message"] == (
        'subjectaccessreviews.authorization.k8s.io is forbidden: User "rv-c-plain" cannot create resource '
        '"subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope'
    )
    status, review = plain.call(
        "POST",
        f"{AUTHZ}/selfsubjectaccessreviews",
        _sar({"resourceAttributes": attributes}, kind="SelfSubjectAccessReview"),
    )
    assert status == 201 and review["status"] == {"allowed": False}
    status, problem = plain.call(
        "POST", f"{AUTHZ}/selfsubjectaccessreviews", _sar({"user": "x"}, kind="SelfSubjectAccessReview")
    )
    assert status == 422 and [c["field"] for c in problem["details"]["causes"]] == ["spec.resourceAttributes"]


def _service_account_token(admin: Client, namespace: str, name: str, audiences: list[str] | None = None) -> str:
    status, _ = admin.call("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": name}})
    assert status in (201, 409)
    spec: dict[str, Any] = {"expirationSeconds": 3600}
    if audiences:
        spec["audiences"] = audiences
    status, request = admin.call("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", {"spec": spec})
    assert status == 201, request
    return str(request["status"]["token"])


def _token_review(client: Client, token: str, audiences: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"token": token}
    if audiences is not None:
        spec["audiences"] = audiences
    status, review = client.call(
        "POST", f"{AUTHN}/tokenreviews", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    )
    assert status == 201, review
    return review["status"]  # type: ignore[no-any-return]


def test_token_review(apiserver: ServerProcess) -> None:
    admin = Client(apiserver.kubeconfig)
    create_namespace("rv-d", kubeconfig=apiserver.kubeconfig)
    token = _service_account_token(admin, "rv-d", "robot")
    status = _token_review(admin, token)
    assert status["authenticated"] is True and status["audiences"] == [ISSUER]
    assert status["user"]["username"] == "system:serviceaccount:rv-d:robot" and status["user"]["uid"]
    assert status["user"]["groups"] == ["system:serviceaccounts", "system:serviceaccounts:rv-d", "system:authenticated"]

    assert _token_review(admin, "not-a-token") == {"user": {}, "error": "invalid bearer token"}
    assert _token_review(admin, token, ["vault"]) == {
        "user": {},
        "error": f'token audiences ["{ISSUER}"] is invalid for the target audiences ["vault"]',
    }
    # a token for another audience is reviewed for it, and is no credential for the API itself
    vault = _service_account_token(admin, "rv-d", "robot", ["vault"])
    assert _token_review(admin, vault, ["vault"])["audiences"] == ["vault"]
    assert "invalid for the target audiences" in _token_review(admin, vault)["error"]
    code, body = Client.with_token(apiserver, vault).call("GET", "/api/v1/namespaces/rv-d/configmaps")
    assert (code, body["reason"]) == (401, "Unauthorized")

    # bootstrap tokens are reviewed by their Secret in kube-system
    bootstrap = {
        "metadata": {"name": "bootstrap-token-rvd123", "namespace": "kube-system"},
        "type": "bootstrap.kubernetes.io/token",
        "stringData": {
            "token-id": "rvd123",
            "token-secret": "0123456789abcdef",
            "usage-bootstrap-authentication": "true",
        },
    }
    code, _ = admin.call("POST", "/api/v1/namespaces/kube-system/secrets", bootstrap)
    assert code in (201, 409)
    reviewed = eventually(
        lambda: _token_review(admin, "rvd123.0123456789abcdef").get("user"), what="bootstrap token known"
    )
    assert reviewed == {
        "username": "system:bootstrap:rvd123",
        "groups": ["system:bootstrappers", "system:authenticated"],
    }
    assert _token_review(admin, "rvd123.fedcba9876543210") == {"user": {}, "error": "invalid bearer token"}

    code, problem = admin.call("POST", f"{AUTHN}/tokenreviews", {"spec": {}})
    assert (code, problem["message"]) == (400, "token is required for TokenReview in authentication")


def test_token_review_of_static_tokens(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('s3cret-reviewer,reviewer,r-1,"system:masters"\ns3cret-jane,jane,u-jane,"devs,ops"\n')
    server = ServerProcess(data_dir=tmp_path / "srv", extra_args=["--token-auth-file", str(tokens)]).start()
    try:
        reviewer = Client.with_token(server, "s3cret-reviewer")
        assert _token_review(reviewer, "s3cret-jane") == {
            "authenticated": True,
            "user": {"username": "jane", "uid": "u-jane", "groups": ["devs", "ops", "system:authenticated"]},
            "audiences": [ISSUER],
        }
        # a static token carries no audience: it is good for the API's only
        assert _token_review(reviewer, "s3cret-jane", ["vault"]) == {"user": {}, "error": "invalid bearer token"}
        status, review = Client.with_token(server, "s3cret-jane").call("POST", f"{AUTHN}/selfsubjectreviews", {})
        assert status == 201
        assert review["status"]["userInfo"] == {
            "username": "jane",
            "uid": "u-jane",
            "groups": ["devs", "ops", "system:authenticated"],
        }
        assert "s3cret" not in (server.data_dir / "apiserver.log").read_text()
    finally:
        server.stop()
