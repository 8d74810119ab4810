"""cancel_task ends a background task and waits for its cleanup."""

from __future__ import annotations

import asyncio

from gardener.runtime.tasks import cancel_task


def test_cancel_task_waits_for_the_cleanup_and_accepts_none() -> None:
    cleaned: list[bool] = []

    async def loop() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.append(True)

    async def main() -> None:
        task = asyncio.create_task(loop())
        await asyncio.sleep(0)
        await cancel_task(task)
        assert task.cancelled()
        await cancel_task(None)

    asyncio.run(main())
    assert cleaned == [True]
