"""One error family for every controller: whether trying again can help, and Gardener's error codes.

Codes travel into `status.lastErrors[].codes` (Shoots) and `status.lastError.codes` (extension resources), so a
user sees at a glance whether a failure is theirs to fix or heals by itself. API failures are typed by what they
mean (`NotFound`, `Conflict` ...) rather than by a status number callers must remember.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from gardener.apis.core.errorcodes import ErrorCode as ErrorCode
from gardener.apis.extensions.v1alpha1 import NON_RETRYABLE_CODES

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "CodedError",
    "Conflict",
    "ErrorCode",
    "Forbidden",
    "Gone",
    "Invalid",
    "NotFound",
    "PermanentError",
    "RequeueAfter",
    "ServerError",
    "TemporaryError",
    "TooManyRequests",
    "Unauthorized",
    "Unreachable",
    "api_error",
    "classify",
    "codes_of",
    "describe",
    "retryable",
]


class CodedError(Exception):
    """Base of both families: a message for people, codes for machines."""

    def __init__(self, message: str, *, codes: Iterable[ErrorCode] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.codes: tuple[ErrorCode, ...] = tuple(dict.fromkeys(codes))


class TemporaryError(CodedError):
    """Trying again later may succeed: a dependency not ready yet, a conflict, a rate limit.

    `delay` is the least time to wait before the next attempt (a Retry-After, say); 0 leaves the pace to the
    caller's backoff policy.
    """

    def __init__(self, message: str, *, delay: float = 0.0, codes: Iterable[ErrorCode] = ()) -> None:
        if delay < 0:
            raise ValueError(f"delay must not be negative, got {delay}")
        super().__init__(message, codes=codes)
        self.delay = delay


class PermanentError(CodedError):
    """Trying again cannot help until someone changes something: credentials, quota, the spec.

    Without codes it is a configuration problem, so that the codes a user reads always say not to retry blindly.
    """

    def __init__(self, message: str, *, codes: Iterable[ErrorCode] = ()) -> None:
        super().__init__(message, codes=tuple(codes) or (ErrorCode.CONFIGURATION_PROBLEM,))


class RequeueAfter(Exception):
    """The operation is under way and waits for something (machines to join ...); look again after `delay`.

    Not a failure: the object stays `Processing` with `description`.
    """

    def __init__(self, description: str, *, delay: float = 2.0, progress: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.delay = delay
        self.progress = progress


def retryable(codes: Iterable[str]) -> bool:
    """Whether an error with these codes may heal by trying again (no non-retryable code among them)."""
    return not any(code in NON_RETRYABLE_CODES for code in codes)


def describe(exc: BaseException) -> str:
    """What a user reads in a status: our messages as they are, foreign ones prefixed with their type."""
    if isinstance(exc, CodedError):
        return exc.message
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def codes_of(exc: BaseException) -> tuple[ErrorCode, ...]:
    return exc.codes if isinstance(exc, CodedError) else ()


def classify(exc: BaseException) -> CodedError:
    """Any exception as one of ours: foreign ones are temporary, so a crash never leaves an object stuck for good."""
    if isinstance(exc, CodedError):
        return exc
    if isinstance(exc, TooManyRequests):
        return TemporaryError(describe(exc), delay=exc.retry_after, codes=[ErrorCode.INFRA_RATE_LIMITS_EXCEEDED])
    return TemporaryError(describe(exc))


# ---- API errors ----


class ApiError(ApiException):
    """An API request failed. `status` is the HTTP code (0 when the server was not reached), `reason` the
    Kubernetes Status reason (`NotFound`, `AlreadyExists`, `Conflict` ...), `status_doc` the Status itself.

    It is the official client's `ApiException` too, so code written against that client keeps working.
    """

    def __init__(
        self, status: int, message: str, *, reason: str = "", status_doc: Mapping[str, Any] | None = None
    ) -> None:
        doc = status_doc or {}
        super().__init__(status=status, reason=reason, body=json.dumps(doc) if doc else message)
        self.status: int = status
        self.reason: str = reason
        self.message = message
        self.status_doc: Mapping[str, Any] = doc

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}" if self.reason else f"{self.status}: {self.message}"


class Unreachable(ApiError):
    """The server could not be reached or the connection broke."""


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """The object changed since it was read (optimistic concurrency): read it again and retry."""


class AlreadyExists(ApiError):
    pass


class Gone(ApiError):
    """The resourceVersion asked for is too old (a watch must list again)."""


class Invalid(ApiError):
    pass


class TooManyRequests(ApiError):
    @property
    def retry_after(self) -> float:
        details = self.status_doc.get("details") or {}
        try:
            return float(details.get("retryAfterSeconds") or 1)
        except (TypeError, ValueError):
            return 1.0


class ServerError(ApiError):
    pass


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def api_error(status: int, payload: bytes | str | Mapping[str, Any]) -> ApiError:
    """The typed error of a failed request, from its status code and its (Status) body."""
    doc: Mapping[str, Any] = {}
    if isinstance(payload, Mapping):
        doc = payload
    else:
        raw = payload.encode() if isinstance(payload, str) else payload
        try:
            loaded = json.loads(raw) if raw else {}
            doc = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            doc = {"message": raw.decode(errors="replace")[:500]}
    reason = str(doc.get("reason") or "")
    message = str(doc.get("message") or "")
    cls: type[ApiError]
    if status == 409 and reason == "AlreadyExists":
        cls = AlreadyExists
    elif status >= 500:
        cls = ServerError
    elif status == 0:
        cls = Unreachable
    else:
        cls = _BY_STATUS.get(status, ApiError)
    return cls(status, message, reason=reason, status_doc=doc)
