"""Shorthands for declaring API fields with their descriptions."""

from __future__ import annotations

import dataclasses
from typing import Any

from gardener.apis.openapi import doc


def req(text: str, **schema: Any) -> Any:
    """A required field."""
    return dataclasses.field(metadata=doc(text, **schema))


def opt(text: str, **schema: Any) -> Any:
    """An optional field (None when unset)."""
    return dataclasses.field(default=None, metadata=doc(text, **schema))
