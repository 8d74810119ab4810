"""Errors that say whether trying again can help, with Gardener's error codes.

Actuators raise these; the reconciler turns them into `status.lastError` and decides when to try again. Any
other exception counts as temporary: a crash must not leave an extension resource stuck for good.
"""

from __future__ import annotations

from collections.abc import Iterable

from gardener.apis.extensions.v1alpha1 import NON_RETRYABLE_CODES, ErrorCode

DEFAULT_RETRY = 5.0


class CodedError(Exception):
    """Base of both families: a message for people, codes for machines."""

    def __init__(self, message: str, *, codes: Iterable[ErrorCode] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.codes: tuple[ErrorCode, ...] = tuple(dict.fromkeys(codes))


class TemporaryError(CodedError):
    """Trying again after `delay` seconds may succeed: a dependency not ready yet, a conflict, a rate limit."""

    def __init__(self, message: str, *, delay: float = DEFAULT_RETRY, codes: Iterable[ErrorCode] = ()) -> None:
        if delay < 0:
            raise ValueError(f"delay must not be negative, got {delay}")
        super().__init__(message, codes=codes)
        self.delay = delay


class PermanentError(CodedError):
    """Trying again cannot help until someone changes something: credentials, quota, the spec.

    Without codes it is a configuration problem, so that `lastError.codes` always tells the gardenlet not to
    retry blindly.
    """

    def __init__(self, message: str, *, codes: Iterable[ErrorCode] = ()) -> None:
        super().__init__(message, codes=tuple(codes) or (ErrorCode.CONFIGURATION_PROBLEM,))


class RequeueAfter(Exception):
    """The operation is under way and waits for something (machines to join ...); look again after `delay`.

    The resource stays `Processing` with `description`, instead of turning `Error`.
    """

    def __init__(self, description: str, *, delay: float = 2.0, progress: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.delay = delay
        self.progress = progress


def retryable(codes: Iterable[str]) -> bool:
    """Whether an error with these codes may heal by trying again (no non-retryable code among them)."""
    return not any(code in NON_RETRYABLE_CODES for code in codes)


def classify(exc: BaseException) -> CodedError:
    """Any exception as one of ours, foreign ones temporary and described by their type."""
    if isinstance(exc, CodedError):
        return exc
    text = str(exc).strip()
    return TemporaryError(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
