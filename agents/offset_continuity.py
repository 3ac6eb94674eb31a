"""Watching the offsets one agent sees per input partition, so a skipped message is visible.

Faust delivers each partition's messages in offset order; after a start, a rebalance or a
seek the next offset may legitimately differ (a redelivery goes back, transactional control
records leave holes). Every first message of a partition and every jump is logged with both
offsets, which is what it takes to tell a skipped message from a normal restart; forward
jumps are also counted (``input_offset_skips``).
"""

from __future__ import annotations

import structlog

__all__ = ["OffsetContinuity"]

log = structlog.get_logger(__name__)


class OffsetContinuity:
    """The last offset seen per partition of one topic, in this process."""

    def __init__(self) -> None:
        self.last: dict[int, int] = {}

    def follows(self, partition: int, offset: int) -> bool:
        """Record ``offset``; False (and a warning) when offsets after the last were skipped.

        Going back (a redelivery after a seek) is logged but is not a skip."""
        last = self.last.get(partition)
        self.last[partition] = offset
        if last is None:
            log.info("first input message of partition", partition=partition, offset=offset)
            return True
        if offset == last + 1:
            return True
        if offset <= last:
            log.info("input delivered again", partition=partition, previous=last, offset=offset)
            return True
        log.warning("input offsets skipped", partition=partition, previous=last, offset=offset)
        return False
