"""The worker's event-loop lag, measured all the time rather than only when asked.

Everything a worker does runs on one event loop (:mod:`agents.loop_share` says why a query
needs many turns of it), so a callback that holds the loop delays everything else: a
``top_degree`` scan of a large partition, a garbage collection, a large chunk's validation.
``/healthz`` times one callback when it is called; :func:`measure_loop_lag` sleeps
``interval`` again and again and reports how much later than asked each wake-up came, so the
``engine_event_loop_lag_seconds`` histogram shows the stalls between two scrapes too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["LAG_INTERVAL_S", "measure_loop_lag"]

LAG_INTERVAL_S = 0.25


async def measure_loop_lag(
    observe: Callable[[float], None],
    interval: float = LAG_INTERVAL_S,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """Observe, every ``interval`` seconds until cancelled, how late the loop woke us."""
    if interval <= 0:
        raise ValueError("interval must be positive")
    while True:
        start = clock()
        await asyncio.sleep(interval)
        observe(max(0.0, clock() - start - interval))
