"""Deciding from worker acks when a chunk is fully applied or rejected (pure logic).

A chunk is applied when acks for parts ``"0"`` .. ``parts-1`` have arrived and every part
id named in any ack's ``spawned`` list has arrived too. Acks may repeat and arrive in any
order. A ``rejected`` ack ends the chunk at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from project_engine.sdk.errors import ChunkRejected

__all__ = ["AckState", "AckWaiter"]


@dataclass
class AckState:
    """What is known about one chunk from the acks seen so far."""

    chunk_id: str
    parts: int | None = None
    arrived: set[str] = field(default_factory=set)
    spawned: set[str] = field(default_factory=set)
    rejection: ChunkRejected | None = None
    ignored: int = 0

    def add(self, ack: Mapping[str, Any]) -> None:
        """Fold one ack map in; malformed acks are counted in ``ignored``, not raised."""
        if self.rejection is not None:
            return
        status = ack.get("status")
        if status == "rejected":
            self.rejection = _rejection(self.chunk_id, ack.get("error"))
            return
        if status != "applied":
            self.ignored += 1
            return
        part = ack.get("part")
        parts = ack.get("parts")
        if part is None or not isinstance(parts, int) or isinstance(parts, bool) or parts < 1:
            self.ignored += 1
            return
        self.arrived.add(str(part))
        # Parts should agree; if they ever differ, wait for the larger set.
        self.parts = parts if self.parts is None else max(self.parts, parts)
        spawned = ack.get("spawned") or ()
        if isinstance(spawned, list | tuple):
            self.spawned.update(str(s) for s in spawned)

    @property
    def missing(self) -> set[str]:
        """Part ids still awaited (empty before the first applied ack is meaningless)."""
        expected = {str(i) for i in range(self.parts or 0)} | self.spawned
        return expected - self.arrived

    @property
    def applied(self) -> bool:
        return self.rejection is None and self.parts is not None and not self.missing

    @property
    def done(self) -> bool:
        return self.rejection is not None or self.applied


def _rejection(chunk_id: str, error: Any) -> ChunkRejected:
    if not isinstance(error, Mapping):
        return ChunkRejected(chunk_id, "rejected", "no error details", None)
    index = error.get("item_index")
    return ChunkRejected(
        chunk_id,
        str(error.get("code", "rejected")),
        str(error.get("message", "")),
        index if isinstance(index, int) and not isinstance(index, bool) else None,
    )


class AckWaiter:
    """Folds the acks of one chunk and resolves ``future`` once the chunk is done."""

    def __init__(self, chunk_id: str) -> None:
        self.state = AckState(chunk_id)
        self.future: asyncio.Future[AckState] = asyncio.get_running_loop().create_future()

    def feed(self, value: Mapping[str, Any]) -> None:
        self.state.add(value)
        if self.state.done and not self.future.done():
            self.future.set_result(self.state)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)
