"""Structured logging for every binary: fixed messages, fields kept as fields, logfmt or JSON lines by a flag.

Fields come from `extra=` and from the current context (`fields(key=...)`): the controller loop binds the key of
the object it reconciles, so every line logged during that reconcile, in any module and in threads started with
`asyncio.to_thread`, names the object without each call site passing it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any, Literal

__all__ = ["FORMATS", "JSONFormatter", "LogfmtFormatter", "bound_fields", "fields", "setup", "setup_logging"]

#: "text" is logfmt: `key=value` pairs a person reads and a machine parses; "json" is one object per line
Format = Literal["text", "json"]
FORMATS: tuple[Format, ...] = ("text", "json")

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("log_fields", default=None)


@contextlib.contextmanager
def fields(**values: Any) -> Iterator[None]:
    """Add `values` to every record logged in this context (nested contexts add to the outer ones)."""
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **values})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bound_fields() -> dict[str, Any]:
    return dict(_CONTEXT.get() or {})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    own = {k: v for k, v in vars(record).items() if k not in _STANDARD}
    return {**(_CONTEXT.get() or {}), **own}


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def _logfmt_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str) if value is not None else ""
    if text and not any(c in text for c in ' ="\\\n\t'):
        return text
    return json.dumps(text)


class LogfmtFormatter(logging.Formatter):
    """`ts=... level=info logger=... msg="..." key=ns/name`: one line per record, quoted where needed."""

    def format(self, record: logging.LogRecord) -> str:
        pairs: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            pairs["error"] = self.formatException(record.exc_info)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in pairs.items())


def setup_logging(*, log_format: str = "text", verbose: bool = False) -> None:
    """Log to stderr in `log_format` at INFO (DEBUG when `verbose`); chatty client libraries only warn."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("urllib3", "kubernetes", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def setup(*, verbose: bool = False, json_format: bool = False) -> None:
    """`setup_logging` for callers that hold the choice as a boolean."""
    setup_logging(log_format="json" if json_format else "text", verbose=verbose)
