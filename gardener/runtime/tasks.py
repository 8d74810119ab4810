"""Ending the background tasks our long-running parts start (loops, watches, repairs).

Cancelling a task is not enough: its owner has to wait until it has run its `finally` blocks, and the
`CancelledError` it ends with is the expected outcome, not a failure. Anything of ours may import it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` (None: nothing runs) and wait until it has ended."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
