"""Turn an HTTP request into kube's RequestInfo: resource or not, verb, group/version, namespace, resource, name.

Mirrors k8s.io/apiserver's RequestInfoFactory (API prefixes `api` and `apis`, `api` groupless), so that
authorization, audit and routing see requests the way kube-apiserver does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gardener.apiserver import errors
from gardener.apiserver.rbac import RequestAttributes, UserInfo
from gardener.apiserver.selectors import parse_field_selector, parse_label_selector

API_PREFIXES = frozenset({"api", "apis"})
GROUPLESS_API_PREFIXES = frozenset({"api"})
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_SPECIAL_VERBS_NO_SUBRESOURCES = frozenset({"proxy"})
# subresources of a namespace, as opposed to namespaced resources below /namespaces/<ns>/
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_INT_LIST_PARAMS = ("limit", "timeoutSeconds")


@dataclass(frozen=True)
class RequestInfo:
    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


def is_true(value: str) -> bool:
    """kube's query bool conversion: anything but `0` and `false` (any case) is true."""
    return value.lower() not in ("false", "0")


def _valid_path_segment(name: str) -> bool:
    return name not in (".", "..") and "/" not in name and "%" not in name


def _list_name(query: Mapping[str, str]) -> str:
    """The name a list/watch pins with `fieldSelector=metadata.name=<n>`, if the list options decode cleanly."""
    selector = query.get("fieldSelector", "")
    if not selector:
        return ""
    try:
        for param in _INT_LIST_PARAMS:
            value = query.get(param)
            digits = value[1:] if value and value[0] in "+-" else value
            if digits is not None and not (digits.isascii() and digits.isdigit()):
                return ""  # strconv.ParseInt fails: kube's decode fails, and the list stays unnamed
        parse_label_selector(query.get("labelSelector", ""))
        name = parse_field_selector(selector, allowed=None).value_for("metadata.name")
    except (ValueError, errors.StatusError):
        return ""
    return name if name is not None and _valid_path_segment(name) else ""


def parse_request_info(*, method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    """Classify a request as kube-apiserver does; `query` holds the first value of each query parameter."""
    http_verb = method.lower()
    stripped = path.strip("/")
    parts = stripped.split("/") if stripped else []
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return RequestInfo(is_resource_request=False, path=path, verb=http_verb)
    api_prefix, rest = parts[0], parts[1:]
    api_group = ""
    if api_prefix not in GROUPLESS_API_PREFIXES:
        if len(rest) < 3:
            return RequestInfo(is_resource_request=False, path=path, verb=http_verb)
        api_group, rest = rest[0], rest[1:]
    api_version, rest = rest[0], rest[1:]

    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            raise errors.bad_request(f"unable to determine kind and namespace from url, {path}")
        verb, rest = rest[0], rest[1:]
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")

    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        # /namespaces/<ns>/<resource>/...: the resource is the next segment unless it is a namespace subresource
        if len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
            rest = rest[2:]

    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    subresource = rest[2] if len(rest) >= 3 and verb not in _SPECIAL_VERBS_NO_SUBRESOURCES else ""

    if not name and verb == "get":
        watch = query.get("watch")
        verb = "watch" if watch is not None and is_true(watch) else "list"
        name = _list_name(query)
    if not name and verb == "delete":
        verb = "deletecollection"

    return RequestInfo(
        is_resource_request=True,
        path=path,
        verb=verb,
        api_prefix=api_prefix,
        api_group=api_group,
        api_version=api_version,
        namespace=namespace,
        resource=resource,
        subresource=subresource,
        name=name,
        parts=tuple(rest),
    )


def request_attributes(info: RequestInfo, user: UserInfo) -> RequestAttributes:
    """The authorization attributes for a parsed request."""
    return RequestAttributes(
        user=user,
        verb=info.verb,
        is_resource_request=info.is_resource_request,
        path=info.path,
        api_group=info.api_group,
        api_version=info.api_version,
        resource=info.resource,
        subresource=info.subresource,
        namespace=info.namespace,
        name=info.name,
    )
