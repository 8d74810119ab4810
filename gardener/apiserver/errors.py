"""Kubernetes `Status` errors raised anywhere in the API server and rendered by the HTTP layer.

Every failure a client can cause ends up as one of these, with the HTTP code, the
`reason` clients classify on, and `details.causes` naming the fields to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """An API error. `retryable` tells callers inside the server whether trying again may help."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
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
        details = dict(self.details)
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds is not None:
            details["retryAfterSeconds"] = self.retry_after_seconds
        if details:
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
    summary = ", ".join(f"{c.field}: {c.message}" if c.field else c.message for c in causes)
    return StatusError(
        422,
        "Invalid",
        f'{kind}.{group} "{name}" is invalid: {summary}' if group else f'{kind} "{name}" is invalid: {summary}',
        _details(name=name, group=group, kind=kind),
        causes=tuple(causes),
    )


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str, *, details: dict[str, Any] | None = None) -> StatusError:
    return StatusError(403, "Forbidden", message, details or {})


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def unsupported_media_type(content_type: str, supported: list[str]) -> StatusError:
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(supported)}",
        {},
    )


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", message, retryable=True)


def too_many_requests(message: str, *, retry_after: int = 1) -> StatusError:
    return StatusError(429, "TooManyRequests", message, retryable=True, retry_after_seconds=retry_after)
