"""Errors that say whether trying again can help, with Gardener's error codes.

The codes travel into `status.lastErrors[].codes`, so a user sees at a glance whether a failure is theirs to
fix (credentials, quota, configuration) or heals by itself (rate limits, dependencies not ready yet).
"""

from __future__ import annotations

from collections.abc import Iterable

from gardener.apis.core.errorcodes import ErrorCode as ErrorCode


class CodedError(Exception):
    """Base of both families: a message for people, codes for machines."""

    def __init__(self, message: str, *, codes: Iterable[ErrorCode] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.codes: tuple[ErrorCode, ...] = tuple(dict.fromkeys(codes))


class TemporaryError(CodedError):
    """Trying again later may succeed: a dependency not ready yet, a conflict, a rate limit.

    `delay` is the least time to wait before the next attempt (a Retry-After, say); 0 leaves the pace to the
    task's retry policy.
    """

    def __init__(self, message: str, *, delay: float = 0.0, codes: Iterable[ErrorCode] = ()) -> None:
        if delay < 0:
            raise ValueError(f"delay must not be negative, got {delay}")
        super().__init__(message, codes=codes)
        self.delay = delay


class PermanentError(CodedError):
    """Trying again cannot help until someone changes something: credentials, quota, the Shoot spec."""


def describe(exc: BaseException) -> str:
    """What a user reads in `status.lastErrors[].description`: our messages as they are, foreign ones typed."""
    if isinstance(exc, CodedError):
        return exc.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def codes_of(exc: BaseException) -> tuple[ErrorCode, ...]:
    return exc.codes if isinstance(exc, CodedError) else ()
