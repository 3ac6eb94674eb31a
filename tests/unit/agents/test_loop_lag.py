"""The loop-lag probe reports how late its timed wake-ups came, stalls included."""

from __future__ import annotations

import asyncio
import time

import pytest

from agents.loop_lag import measure_loop_lag


def _hold_the_loop(seconds: float) -> None:
    """A long synchronous callback."""
    time.sleep(seconds)


async def _observed(seconds: float, interval: float, stall: float | None = None) -> list[float]:
    seen: list[float] = []
    probe = asyncio.create_task(measure_loop_lag(seen.append, interval))
    await asyncio.sleep(interval / 2)
    if stall is not None:
        asyncio.get_running_loop().call_soon(_hold_the_loop, stall)
    await asyncio.sleep(seconds)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    return seen


async def test_an_idle_loop_shows_wake_ups_on_time() -> None:
    seen = await _observed(0.2, 0.02)
    assert len(seen) >= 5
    assert all(lag >= 0 for lag in seen)
    assert sorted(seen)[len(seen) // 2] < 0.015


async def test_a_stalled_loop_shows_the_stall_as_lag() -> None:
    seen = await _observed(0.1, 0.02, stall=0.15)
    assert max(seen) >= 0.12  # the wake-up due 10 ms into the stall came about 140 ms late


async def test_a_non_positive_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        await measure_loop_lag(lambda _: None, 0)
