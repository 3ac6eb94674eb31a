"""The pure core runs under the worker's collector settings, and the process gets its own back."""

from __future__ import annotations

import gc

from agents import consumer_tuning
from agents.consumer_tuning import GC_THRESHOLDS
from benchmarks.baselines import worker_collector


def test_the_worker_collector_applies_inside_the_block_and_is_undone_after() -> None:
    saved_thresholds, saved_callbacks = gc.get_threshold(), list(gc.callbacks)
    freeze = consumer_tuning._freeze_survivors
    gc.callbacks[:] = [cb for cb in saved_callbacks if cb is not freeze]  # as in a fresh process
    gc.set_threshold(700, 10, 10)
    try:
        with worker_collector():
            assert gc.get_threshold() == GC_THRESHOLDS
            assert freeze in gc.callbacks
        assert gc.get_threshold() == (700, 10, 10)
        assert freeze not in gc.callbacks
    finally:
        gc.set_threshold(*saved_thresholds)
        gc.callbacks[:] = saved_callbacks
        gc.unfreeze()  # what the block's collections froze goes back under the collector
