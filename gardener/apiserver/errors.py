"""Kubernetes `Status` errors raised anywhere in the API server and rendered by the HTTP layer.

Every failure a client can cause ends up as one of these, with the HTTP code, the
`reason` clients classify on, and `details.causes` naming the fields to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldCause:
    """One problem with one field; `reason` is a Kubernetes CauseType such as FieldValueInvalid."""

    reason: str
    message: str
    field: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class StatusError(Exception):
    """An API error. `retryable` tells callers inside the server whether trying again may help.

    `details` mirrors kube's `*StatusDetails`: None sends no `details`, `{}` sends `"details": {}` (a 404 for a
    path no resource serves carries that, and clients such as `kubectl debug` read `details.name` of every 404).
    """

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None
    causes: tuple[FieldCause, ...] = ()
    retryable: bool = False
    retry_after_seconds: int | None = None

    def __str__(self) -> str:
        return self.message

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:  # StatusReasonUnknown: kube's JSON omits the empty field
            del status["reason"]
        details = dict(self.details or {})
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds is not None:
            details["retryAfterSeconds"] = self.retry_after_seconds
        if details or self.details is not None:
            status["details"] = details
        return status


def _details(*, name: str | None, group: str, kind: str) -> dict[str, Any]:
    d: dict[str, Any] = {"group": group, "kind": kind}
    if name:
        d["name"] = name
    return d


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(*, resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        _details(name=name, group=group, kind=resource),
    )


def no_route() -> StatusError:
    """kube's 404 for a path no resource or subresource serves: NotFound with empty (but present) details."""
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(*, resource: str, group: str, name: str) -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        _details(name=name, group=group, kind=resource),
    )


def conflict(*, resource: str, group: str, name: str, why: str | None = None) -> StatusError:
    message = why or "the object has been modified; please apply your changes to the latest version and try again"
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {message}',
        _details(name=name, group=group, kind=resource),
        retryable=True,
    )


def invalid(*, kind: str, group: str, name: str, causes: list[FieldCause] | tuple[FieldCause, ...]) -> StatusError:
    """kube's NewInvalid: `<Kind>.<group> "<name>" is invalid: <causes>`, the causes as `field.ErrorList.ToAggregate`
    prints them: `<field>: <message>` each (the colon stays when the field is empty), duplicates dropped, one as is,
    several in brackets."""
    qualified = f"{kind}.{group}" if group else kind
    message = f"{qualified} {go_quote(name)} is invalid"
    summaries = list(dict.fromkeys(f"{c.field}: {c.message}" for c in causes))
    if len(summaries) == 1:
        message += f": {summaries[0]}"
    elif summaries:
        message += ": [" + ", ".join(summaries) + "]"
    return StatusError(422, "Invalid", message, _details(name=name, group=group, kind=kind), causes=tuple(causes))


def go_quote(s: str) -> str:
    """Go's %q (strconv.Quote), close enough: kube quotes names and string values in messages with it."""
    return json.dumps(s, ensure_ascii=False)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str, *, details: dict[str, Any] | None = None) -> StatusError:
    return StatusError(403, "Forbidden", message, details or {})


def method_not_allowed(message: str) -> StatusError:
    """405 with empty details, as kube answers a method no route serves (NewGenericServerResponse)."""
    return StatusError(405, "MethodNotAllowed", message, {})


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def unsupported_media_type(content_type: str, supported: list[str]) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(supported)}",
    )


def internal(message: str) -> StatusError:
    """kube's NewInternalError carries the cause's message in details.causes as well."""
    return StatusError(500, "InternalError", message, {"causes": [{"message": message}]}, retryable=True)


def too_many_requests(message: str, *, retry_after: int = 1) -> StatusError:
    return StatusError(429, "TooManyRequests", message, retryable=True, retry_after_seconds=retry_after)


def request_entity_too_large(limit: int) -> StatusError:
    """kube-apiserver's answer to a body over its limit (3 MiB): the client must send less, retrying cannot help."""
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def request_uri_too_long(limit: int) -> StatusError:
    """A request line over the limit. Reason BadRequest: kube has no reason of its own for it, and client-go's
    IsBadRequest is the right classification (the client has to change the request)."""
    return StatusError(414, "BadRequest", f"Request-URI too long: limit is {limit} bytes")


def request_header_fields_too_large(message: str) -> StatusError:
    """Header fields over the limit (Go's net/http, under kube-apiserver, answers 431 too); reason as for 414."""
    return StatusError(431, "BadRequest", f"Request header fields too large: {message}")


def service_unavailable(message: str, *, retry_after: int = 1) -> StatusError:
    """Storage that may come back (etcd unreachable): 503 with Retry-After, which client-go retries on its own."""
    return StatusError(503, "ServiceUnavailable", message, retryable=True, retry_after_seconds=retry_after)


def forbidden_object(*, resource: str, group: str, name: str, why: str) -> StatusError:
    """kube's NewForbidden for one object: `namespaces "default" is forbidden: <why>`, as admission plugins answer."""
    return StatusError(
        403,
        "Forbidden",
        f'{_qualified(resource, group)} "{name}" is forbidden: {why}',
        _details(name=name, group=group, kind=resource),
    )


def invalid_options(kind: str, causes: list[FieldCause] | tuple[FieldCause, ...]) -> StatusError:
    """kube's answer to bad request options (ListOptions, DeleteOptions, CreateOptions ...): 422 in meta.k8s.io."""
    return invalid(kind=kind, group="meta.k8s.io", name="", causes=causes)


def invalid_patch_result(document: str, problem: str) -> StatusError:
    """kube's answer when a patched document does not decode into the object's type: 422 on the field `patch`.

    `document` is the patched JSON (kube quotes all of it into the cause), `problem` the decoder's message.
    """
    cause = FieldCause(
        "FieldValueInvalid", f"Invalid value: {json.dumps(document, ensure_ascii=False)}: {problem}", "patch"
    )
    return invalid(kind="", group="", name="", causes=[cause])
