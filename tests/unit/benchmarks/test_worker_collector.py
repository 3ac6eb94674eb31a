"""The pure core runs under the worker's collector settings, and the process gets its own back."""

from __future__ import annotations

import gc

from agents.consumer_tuning import GC_THRESHOLDS
from benchmarks.baselines import worker_collector


def test_the_worker_collector_applies_inside_the_block_and_is_undone_after() -> None:
    before, callbacks = gc.get_threshold(), list(gc.callbacks)
    with worker_collector():
        assert gc.get_threshold() == GC_THRESHOLDS
        assert len(gc.callbacks) == len(callbacks) + 1
    assert gc.get_threshold() == before
    assert gc.callbacks == callbacks
    gc.unfreeze()  # what the block's collections froze goes back under the collector
