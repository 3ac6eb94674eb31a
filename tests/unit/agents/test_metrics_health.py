"""Readiness and liveness decisions behind ``/readyz`` and ``/healthz``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import faust
import pytest

from agents.web import loop_answers, readiness


def app_state(**changes: object) -> SimpleNamespace:
    """The attributes readiness reads, as a started and recovered worker has them."""
    completed = asyncio.Event()
    completed.set()
    tables = SimpleNamespace(_recovery=SimpleNamespace(completed=completed))
    state = {"should_stop": False, "rebalancing": False, "in_recovery": False, "tables": tables}
    return SimpleNamespace(**(state | changes))


def test_ready_only_after_recovery_and_outside_rebalances() -> None:
    assert readiness(app_state()) == (True, "ready")
    assert readiness(app_state(rebalancing=True)) == (False, "rebalancing")
    assert readiness(app_state(in_recovery=True))[0] is False
    assert readiness(app_state(should_stop=True)) == (False, "stopping")
    never_recovered = SimpleNamespace(_recovery=SimpleNamespace(completed=asyncio.Event()))
    ready, reason = readiness(app_state(tables=never_recovered))
    assert not ready and "recovery" in reason


def test_an_unstarted_faust_app_is_not_ready_and_is_left_untouched() -> None:
    app = faust.App("readiness-test", autodiscover=False)
    ready, reason = readiness(app)
    assert not ready and "waiting" in reason
    assert "tables" not in vars(app)  # nothing lazily created from the web thread


@pytest.fixture
def other_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


async def test_a_running_loop_answers(other_loop: asyncio.AbstractEventLoop) -> None:
    delay = await loop_answers(other_loop, timeout=5)
    assert delay is not None and delay < 1
    assert await loop_answers(asyncio.get_running_loop(), timeout=5) is not None


async def test_a_blocked_loop_does_not_answer(other_loop: asyncio.AbstractEventLoop) -> None:
    other_loop.call_soon_threadsafe(time.sleep, 1.0)  # holds the loop like a stuck agent
    await asyncio.sleep(0.05)
    assert await loop_answers(other_loop, timeout=0.2) is None


async def test_a_closed_loop_does_not_answer() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    assert await loop_answers(loop, timeout=0.2) is None
