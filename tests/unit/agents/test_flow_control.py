"""The app's flow control keeps queued messages when flow is resumed without being stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mode.utils.queues import FlowControlEvent, FlowControlQueue

from agents.app import build_engine
from agents.flow_control import KeepQueuedOnResume, install
from schemas.settings import Settings


def _queue_with(flow: FlowControlEvent, *items: int) -> FlowControlQueue:
    queue: FlowControlQueue = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    for item in items:
        queue.put_nowait(item)
    return queue


def test_faust_default_flow_control_drops_queued_messages_on_a_second_resume() -> None:
    # The behaviour the replacement exists for: recovery resumes flow, messages are
    # queued, and the resume at the end of recovery empties the queue.
    flow = FlowControlEvent()
    flow.resume()
    queue = _queue_with(flow, 46, 47, 48)
    flow.resume()
    assert queue.qsize() == 0


def test_resume_of_an_active_flow_keeps_queued_messages() -> None:
    flow = KeepQueuedOnResume()
    flow.resume()
    queue = _queue_with(flow, 46, 47, 48)
    flow.resume()
    assert [queue.get_nowait() for _ in range(queue.qsize())] == [46, 47, 48]
    assert flow.is_active()


def test_resume_after_suspend_still_empties_the_queues() -> None:
    flow = KeepQueuedOnResume()
    flow.resume()
    queue = _queue_with(flow, 1, 2)
    flow.suspend()
    assert not flow.is_active()
    flow.resume()
    assert queue.qsize() == 0
    assert flow.is_active()


async def test_put_blocked_by_a_suspended_flow_goes_through_after_resume() -> None:
    flow = KeepQueuedOnResume()  # starts suspended, as Faust's does
    queue: FlowControlQueue = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    put = asyncio.ensure_future(queue.put(7))
    await asyncio.sleep(0.01)
    assert not put.done()
    flow.resume()
    await asyncio.wait_for(put, 1)
    assert queue.get_nowait() == 7


def test_engine_app_uses_the_replacement_for_every_agent_queue(tmp_path: Path) -> None:
    settings = Settings.load({"bootstrap": "127.0.0.1:1", "data_dir": str(tmp_path)}, env={})
    engine = build_engine(settings)
    app = engine.app
    assert isinstance(app.flow_control, KeepQueuedOnResume)
    queues = [agent.channel.queue for agent in app.agents.values()]
    assert queues
    assert all(q._flow_control is app.flow_control for q in queues)


def test_install_replaces_the_flow_control_the_app_hands_out() -> None:
    import faust

    app = faust.App("flow-control-install", broker="kafka://127.0.0.1:1")
    flow = install(app)
    assert app.flow_control is flow
