"""Go-style durations ("720h", "1h30m", "90s", "250ms"), as Kubernetes and Gardener objects and configs write them."""

from __future__ import annotations

import re

__all__ = ["parse_duration", "parse_duration_or"]

_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: str | float) -> float:
    """Seconds of a Go duration or of a plain number; ValueError for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration such as 720h, 30m or 90s")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def parse_duration_or(value: str | float | None, default: float) -> float:
    """Seconds of a duration field an object may leave out or get wrong: `default` then, rather than a crash."""
    if value is None or value == "":
        return default
    try:
        return parse_duration(value)
    except ValueError:
        return default
