"""The contract every storage backend fulfils, and the values it hands back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from gardener.apiserver.storage.events import EventWindow


@dataclass(frozen=True, slots=True)
class Stored:
    """One object as stored: its key, revision and JSON bytes (with metadata.resourceVersion set).

    Slotted: the watch cache and the event window hold one per object, so every byte counts.
    """

    key: str
    rv: int
    value: bytes


@dataclass(frozen=True)
class ListResult:
    revision: int
    items: list[Stored]
    #: key of the last item returned when more remain (for a continue token), else ""
    next_key: str = ""


class StorageError(Exception):
    """Base of storage failures; `retryable` says whether the same call may succeed later."""

    retryable = False


class KeyExists(StorageError):
    pass


class KeyNotFound(StorageError):
    pass


class RevisionMismatch(StorageError):
    """The object changed since the revision the caller based its write on."""

    def __init__(self, current: Stored | None) -> None:
        super().__init__("revision mismatch")
        self.current = current


class Unavailable(StorageError):
    retryable = True


class Unserializable(StorageError):
    """The object cannot be written as JSON (a value JSON lacks, or nested past what the encoder takes).

    Raised before the write is queued, so nothing was stored. Request bodies are reduced to JSON values
    on the way in (httputil.read_body), so this means the server itself built something it cannot store.
    """


class ValueTransformer(Protocol):
    """Turns object bytes into what the store holds and back (encryption at rest)."""

    def to_storage(self, key: str, value: bytes) -> bytes: ...

    def from_storage(self, key: str, value: bytes) -> bytes: ...


class IdentityTransformer:
    def to_storage(self, key: str, value: bytes) -> bytes:
        return value

    def from_storage(self, key: str, value: bytes) -> bytes:
        return value


class Backend(Protocol):
    events: EventWindow

    async def get(self, key: str) -> Stored | None: ...

    async def list_range(self, prefix: str, *, after_key: str = "", limit: int = 0, at_revision: int = 0) -> ListResult:
        """Objects under `prefix` after `after_key`; with `at_revision`, as they were then (TooOld if unknowable)."""
        ...

    async def create(self, key: str, obj: dict[str, Any]) -> Stored: ...

    async def update(self, key: str, obj: dict[str, Any], *, expected_rv: int) -> Stored: ...

    async def delete(self, key: str, *, expected_rv: int, last: dict[str, Any]) -> Stored:
        """Remove `key`; `last` is the object as it was, stamped with the deletion revision in the result."""
        ...

    def current_revision(self) -> int: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
