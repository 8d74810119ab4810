"""Request classification, checked against k8s.io/apiserver's RequestInfoFactory behaviour."""

from __future__ import annotations

import pytest

from gardener.apiserver import errors
from gardener.apiserver.rbac import RequestAttributes, UserInfo
from gardener.apiserver.requestinfo import RequestInfo, parse_request_info, request_attributes

# (method, path, query) -> (verb, api_prefix, api_group, api_version, namespace, resource, subresource, name, parts)
RESOURCE_CASES: list[
    tuple[str, str, dict[str, str], tuple[str, str, str, str, str, str, str, str, tuple[str, ...]]]
] = [
    ("GET", "/api/v1/namespaces", {}, ("list", "api", "", "v1", "", "namespaces", "", "", ("namespaces",))),
    (
        "GET",
        "/api/v1/namespaces/other",
        {},
        ("get", "api", "", "v1", "other", "namespaces", "", "other", ("namespaces", "other")),
    ),
    (
        "PUT",
        "/api/v1/namespaces/other/finalize",
        {},
        ("update", "api", "", "v1", "other", "namespaces", "finalize", "other", ("namespaces", "other", "finalize")),
    ),
    (
        "PATCH",
        "/api/v1/namespaces/other/status",
        {},
        ("patch", "api", "", "v1", "other", "namespaces", "status", "other", ("namespaces", "other", "status")),
    ),
    ("GET", "/api/v1/namespaces/other/pods", {}, ("list", "api", "", "v1", "other", "pods", "", "", ("pods",))),
    (
        "GET",
        "/api/v1/namespaces/other/pods/foo",
        {},
        ("get", "api", "", "v1", "other", "pods", "", "foo", ("pods", "foo")),
    ),
    (
        "HEAD",
        "/api/v1/namespaces/other/pods/foo",
        {},
        ("get", "api", "", "v1", "other", "pods", "", "foo", ("pods", "foo")),
    ),
    (
        "GET",
        "/api/v1/namespaces/other/pods/foo/status",
        {},
        ("get", "api", "", "v1", "other", "pods", "status", "foo", ("pods", "foo", "status")),
    ),
    (
        "GET",
        "/api/v1/namespaces/other/pods/foo/proxy/a/b",
        {},
        ("get", "api", "", "v1", "other", "pods", "proxy", "foo", ("pods", "foo", "proxy", "a", "b")),
    ),
    ("GET", "/api/v1/pods", {}, ("list", "api", "", "v1", "", "pods", "", "", ("pods",))),
    ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "api", "", "v1", "", "pods", "", "", ("pods",))),
    ("GET", "/api/v1/pods", {"watch": "1"}, ("watch", "api", "", "v1", "", "pods", "", "", ("pods",))),
    ("GET", "/api/v1/pods", {"watch": "False"}, ("list", "api", "", "v1", "", "pods", "", "", ("pods",))),
    ("GET", "/api/v1/pods", {"watch": "0"}, ("list", "api", "", "v1", "", "pods", "", "", ("pods",))),
    (
        "GET",
        "/api/v1/namespaces/other/pods/foo",
        {"watch": "true"},
        ("get", "api", "", "v1", "other", "pods", "", "foo", ("pods", "foo")),
    ),
    ("GET", "/api/v1/watch/pods", {}, ("watch", "api", "", "v1", "", "pods", "", "", ("pods",))),
    (
        "GET",
        "/api/v1/watch/namespaces/other/pods",
        {},
        ("watch", "api", "", "v1", "other", "pods", "", "", ("pods",)),
    ),
    (
        "GET",
        "/api/v1/watch/namespaces/other/pods/foo",
        {},
        ("watch", "api", "", "v1", "other", "pods", "", "foo", ("pods", "foo")),
    ),
    (
        "GET",
        "/api/v1/proxy/namespaces/other/pods/foo/some/path",
        {},
        ("proxy", "api", "", "v1", "other", "pods", "", "foo", ("pods", "foo", "some", "path")),
    ),
    (
        "POST",
        "/api/v1/namespaces/other/configmaps",
        {},
        ("create", "api", "", "v1", "other", "configmaps", "", "", ("configmaps",)),
    ),
    ("POST", "/api/v1/namespaces", {}, ("create", "api", "", "v1", "", "namespaces", "", "", ("namespaces",))),
    (
        "PUT",
        "/api/v1/namespaces/other/configmaps/c",
        {},
        ("update", "api", "", "v1", "other", "configmaps", "", "c", ("configmaps", "c")),
    ),
    (
        "DELETE",
        "/api/v1/namespaces/other/configmaps/c",
        {},
        ("delete", "api", "", "v1", "other", "configmaps", "", "c", ("configmaps", "c")),
    ),
    (
        "DELETE",
        "/api/v1/namespaces/other/configmaps",
        {},
        ("deletecollection", "api", "", "v1", "other", "configmaps", "", "", ("configmaps",)),
    ),
    (
        "DELETE",
        "/api/v1/namespaces/other",
        {},
        ("delete", "api", "", "v1", "other", "namespaces", "", "other", ("namespaces", "other")),
    ),
    ("OPTIONS", "/api/v1/pods", {}, ("", "api", "", "v1", "", "pods", "", "", ("pods",))),
    (
        "GET",
        "/apis/core.gardener.cloud/v1beta1/namespaces/garden-dev/shoots",
        {},
        ("list", "apis", "core.gardener.cloud", "v1beta1", "garden-dev", "shoots", "", "", ("shoots",)),
    ),
    (
        "PATCH",
        "/apis/core.gardener.cloud/v1beta1/namespaces/garden-dev/shoots/s1/status",
        {},
        (
            "patch",
            "apis",
            "core.gardener.cloud",
            "v1beta1",
            "garden-dev",
            "shoots",
            "status",
            "s1",
            ("shoots", "s1", "status"),
        ),
    ),
    (
        "GET",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        {"watch": "true", "resourceVersion": "10"},
        (
            "watch",
            "apis",
            "apiextensions.k8s.io",
            "v1",
            "",
            "customresourcedefinitions",
            "",
            "",
            ("customresourcedefinitions",),
        ),
    ),
    (
        "GET",
        "/apis/apps/v1/namespaces/a/deployments/d/scale",
        {},
        ("get", "apis", "apps", "v1", "a", "deployments", "scale", "d", ("deployments", "d", "scale")),
    ),
    (
        "GET",
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin",
        {},
        ("get", "apis", "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", "admin", ("clusterroles", "admin")),
    ),
    # a list or watch pinned to one name by fieldSelector carries that name
    (
        "GET",
        "/api/v1/namespaces/other/configmaps",
        {"fieldSelector": "metadata.name=cm1", "watch": "true", "resourceVersion": "0"},
        ("watch", "api", "", "v1", "other", "configmaps", "", "cm1", ("configmaps",)),
    ),
    (
        "GET",
        "/api/v1/namespaces/other/configmaps",
        {"fieldSelector": "metadata.namespace=other,metadata.name==cm1"},
        ("list", "api", "", "v1", "other", "configmaps", "", "cm1", ("configmaps",)),
    ),
    (
        "GET",
        "/api/v1/namespaces/other/configmaps",
        {"fieldSelector": "metadata.name!=cm1"},
        ("list", "api", "", "v1", "other", "configmaps", "", "", ("configmaps",)),
    ),
    (
        "GET",
        "/api/v1/namespaces/other/configmaps",
        {"fieldSelector": "metadata.name=a/b"},
        ("list", "api", "", "v1", "other", "configmaps", "", "", ("configmaps",)),
    ),
    (
        "GET",
        "/api/v1/namespaces/other/configmaps",
        {"fieldSelector": "metadata.name=..", "watch": "true"},
        ("watch", "api", "", "v1", "other", "configmaps", "", "", ("configmaps",)),
    ),
    # undecodable list options: the verb survives, the name does not
    (
        "GET",
        "/api/v1/namespaces/other/configmaps",
        {"fieldSelector": "metadata.name=cm1", "limit": "many", "watch": "yes"},
        ("watch", "api", "", "v1", "other", "configmaps", "", "", ("configmaps",)),
    ),
    (
        "GET",
        "/api/v1/namespaces/other/configmaps",
        {"fieldSelector": "metadata.name=cm1", "labelSelector": "a b"},
        ("list", "api", "", "v1", "other", "configmaps", "", "", ("configmaps",)),
    ),
    (
        "GET",
        "/api/v1/namespaces/other/configmaps",
        {"fieldSelector": "metadata.name"},
        ("list", "api", "", "v1", "other", "configmaps", "", "", ("configmaps",)),
    ),
    # a name from a fieldSelector does not turn deletecollection into delete
    (
        "DELETE",
        "/api/v1/namespaces/other/configmaps",
        {"fieldSelector": "metadata.name=cm1"},
        ("deletecollection", "api", "", "v1", "other", "configmaps", "", "", ("configmaps",)),
    ),
    (
        "GET",
        "/api/v1/namespaces/other/pods/",
        {},
        ("list", "api", "", "v1", "other", "pods", "", "", ("pods",)),
    ),
]


@pytest.mark.parametrize(("method", "path", "query", "expected"), RESOURCE_CASES)
def test_resource_requests(
    method: str,
    path: str,
    query: dict[str, str],
    expected: tuple[str, str, str, str, str, str, str, str, tuple[str, ...]],
) -> None:
    verb, prefix, group, version, namespace, resource, subresource, name, parts = expected
    assert parse_request_info(method=method, path=path, query=query) == RequestInfo(
        is_resource_request=True,
        path=path,
        verb=verb,
        api_prefix=prefix,
        api_group=group,
        api_version=version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
        parts=parts,
    )


@pytest.mark.parametrize(
    ("method", "path", "verb"),
    [
        ("GET", "/", "get"),
        ("GET", "", "get"),
        ("GET", "/healthz", "get"),
        ("GET", "/readyz/etcd", "get"),
        ("GET", "/version", "get"),
        ("GET", "/openapi/v3", "get"),
        ("GET", "/openapi/v3/apis/apps/v1", "get"),
        ("GET", "/api", "get"),
        ("GET", "/api/v1", "get"),
        ("GET", "/api/v1/", "get"),
        ("GET", "/apis", "get"),
        ("GET", "/apis/core.gardener.cloud", "get"),
        ("GET", "/apis/core.gardener.cloud/v1beta1", "get"),
        ("POST", "/metrics", "post"),
        ("PUT", "/foo/bar/baz/qux", "put"),
    ],
)
def test_non_resource_requests(method: str, path: str, verb: str) -> None:
    assert parse_request_info(method=method, path=path, query={"watch": "true"}) == RequestInfo(
        is_resource_request=False, path=path, verb=verb
    )


@pytest.mark.parametrize("path", ["/api/v1/watch", "/api/v1/proxy", "/apis/apps/v1/watch/"])
def test_special_verb_without_resource(path: str) -> None:
    with pytest.raises(errors.StatusError) as exc:
        parse_request_info(method="GET", path=path, query={})
    assert exc.value.code == 400
    assert "unable to determine kind and namespace from url" in exc.value.message


def test_request_attributes() -> None:
    user = UserInfo("bob", ("system:authenticated",))
    info = parse_request_info(method="PATCH", path="/apis/apps/v1/namespaces/a/deployments/d/scale", query={})
    assert request_attributes(info, user) == RequestAttributes(
        user=user,
        verb="patch",
        is_resource_request=True,
        path="/apis/apps/v1/namespaces/a/deployments/d/scale",
        api_group="apps",
        api_version="v1",
        resource="deployments",
        subresource="scale",
        namespace="a",
        name="d",
    )
    info = parse_request_info(method="GET", path="/healthz", query={})
    assert request_attributes(info, user) == RequestAttributes(
        user=user, verb="get", is_resource_request=False, path="/healthz"
    )
