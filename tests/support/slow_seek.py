"""Imported into a worker process to reproduce one race deterministically.

At the end of a recovery that replayed changelog records, Faust's fetcher is already
running when it resumes the input partitions and seeks them to their committed offsets;
messages fetched during that seek reach the agents' queues before Faust resumes its flow
control. Here the fetcher is made to run at that point whatever the recovery did, and the
seek takes a few seconds longer (after the real seek, which is unchanged), so the window is
wide enough to hit every time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer

DELAY_SECONDS = 3.0

_perform_seek = Consumer.perform_seek
_on_recovery_completed = Recovery.on_recovery_completed


async def _perform_seek_then_wait(self: Any) -> None:
    await _perform_seek(self)
    await asyncio.sleep(DELAY_SECONDS)


async def _with_fetcher_running(self: Any, generation_id: int = 0) -> None:
    await self.app._fetcher.maybe_start()
    await _on_recovery_completed(self, generation_id)


Consumer.perform_seek = _perform_seek_then_wait  # type: ignore[method-assign]
Recovery.on_recovery_completed = _with_fetcher_running  # type: ignore[method-assign]
