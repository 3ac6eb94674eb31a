"""Offsets seen per input partition: consecutive and repeated offsets pass, skips are flagged."""

from __future__ import annotations

from agents.offset_continuity import OffsetContinuity


def test_first_and_consecutive_offsets_follow() -> None:
    seen = OffsetContinuity()
    assert all(seen.follows(2, offset) for offset in (46, 47, 48))


def test_forward_jump_is_a_skip() -> None:
    seen = OffsetContinuity()
    seen.follows(2, 46)
    seen.follows(2, 47)
    assert not seen.follows(2, 49)
    assert seen.follows(2, 50)


def test_redelivery_after_a_seek_is_not_a_skip() -> None:
    seen = OffsetContinuity()
    seen.follows(0, 1007)
    assert seen.follows(0, 1007)
    assert seen.follows(0, 1000)


def test_partitions_are_tracked_apart() -> None:
    seen = OffsetContinuity()
    seen.follows(0, 5)
    assert seen.follows(1, 900)
    assert seen.follows(0, 6)
    assert not seen.follows(1, 902)
