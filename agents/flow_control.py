"""Flow control of the app's stream queues that never drops a message being delivered.

Faust gates every agent's input queue with one ``FlowControlEvent`` (``app.flow_control``).
Its ``resume()`` also empties every queue, meant for messages left from before a rebalance.
But at the end of table recovery Faust first resumes the stream partitions and seeks them
to their committed offsets, and only then calls ``resume()`` on a flow that recovery had
already resumed: messages fetched in between sit in the agents' queues and are emptied
away, never processed and never acknowledged. When exactly one message of a partition is
dropped like that, Faust's commit bookkeeping moves the committed offset past it once the
following messages are acknowledged, so the message is lost for good; with more, the
partition's commits stop.

:class:`KeepQueuedOnResume` empties the queues on ``resume()`` only when the flow was
actually suspended (a rebalance suspends it and empties the queues itself, so nothing it
guards against is given up). :func:`install` puts it in place of the app's own before any
queue exists.
"""

from __future__ import annotations

from typing import Any

from mode.utils.queues import FlowControlEvent

__all__ = ["KeepQueuedOnResume", "install"]


class KeepQueuedOnResume(FlowControlEvent):
    """A ``FlowControlEvent`` whose ``resume()`` keeps the queues when flow was not stopped."""

    def resume(self) -> None:
        was_suspended = not self.is_active()
        self._suspend.clear()
        self._resume.set()
        if was_suspended:
            self.clear()


def install(app: Any) -> KeepQueuedOnResume:
    """Give ``app`` this flow control; call right after creating the app (no queues yet)."""
    flow = KeepQueuedOnResume(loop=app.loop)
    app.__dict__["flow_control"] = flow  # the slot Faust's cached property reads
    return flow
