"""The worker's operational web endpoints: ``/metrics``, ``/healthz`` and ``/readyz``.

They are served by Faust's web server (on ``settings.web_host``:``settings.web_port``), which
runs in a thread of its own (``web_in_thread``), so they answer while the streams are busy.

- ``/metrics``: the worker's Prometheus registry (:mod:`agents.metrics`) in the text format.
- ``/healthz``: 200 while the process is alive and the worker's event loop runs a callback
  within :data:`LOOP_ANSWER_TIMEOUT` seconds; 503 otherwise.
- ``/readyz``: 200 once the worker holds its partitions and table recovery (including the
  rebuild of local graph state) has finished; 503 with ``{"ready": false, "reason": ...}``
  before that, during a rebalance or recovery, and while stopping.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from agents.loop_lag import measure_loop_lag
from agents.metrics import EngineMetrics, attach_metrics

__all__ = ["LOOP_ANSWER_TIMEOUT", "loop_answers", "readiness", "register_web"]

#: Seconds the worker's event loop may take to run a callback before ``/healthz`` fails.
#: Nothing a worker does holds its loop that long: a rebuild from stored records and the
#: scans of whole partitions give it turns; a snapshot loads in one go, about 0.4 s per
#: 10^6 edges.
LOOP_ANSWER_TIMEOUT = 5.0

HTTP_OK = 200
HTTP_UNAVAILABLE = 503


def readiness(app: Any) -> tuple[bool, str]:
    """Whether the worker should receive traffic, and why not.

    Faust starts its web server before the first rebalance, so "not rebalancing and not
    recovering" alone would be true too early: the first recovery must also have completed
    (``tables.recovery.completed`` is set at its very end, after the streams resume).

    Runs in the web server's thread: it reads only what already exists and never touches a
    lazily created Faust object (creating one here would bind it to the wrong event loop).
    """
    if getattr(app, "should_stop", False):
        return False, "stopping"
    tables = vars(app).get("tables")  # a cached property: present once the app has tables
    recovery = getattr(tables, "_recovery", None)  # created when the tables start
    completed = getattr(recovery, "completed", None)
    if completed is None or not completed.is_set():
        return False, "waiting for partition assignment and table recovery"
    if getattr(app, "rebalancing", False):
        return False, "rebalancing"
    if getattr(app, "in_recovery", False):
        return False, "recovering tables from changelogs"
    return True, "ready"


async def loop_answers(loop: asyncio.AbstractEventLoop, timeout: float) -> float | None:
    """Seconds ``loop`` took to run a callback scheduled from here; ``None`` past ``timeout``."""
    start = time.perf_counter()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        await asyncio.sleep(0)
        return time.perf_counter() - start
    answered: concurrent.futures.Future[float] = concurrent.futures.Future()

    def _answer() -> None:
        if not answered.done():
            answered.set_result(time.perf_counter() - start)

    try:
        loop.call_soon_threadsafe(_answer)
        return await asyncio.wait_for(asyncio.wrap_future(answered), timeout)
    except (RuntimeError, TimeoutError):  # loop closed, or did not answer in time
        return None


def register_web(engine: Any, loop_timeout: float = LOOP_ANSWER_TIMEOUT) -> EngineMetrics:
    """Add the three views to ``engine.app`` and attach the worker's metrics."""
    app = engine.app
    loop = app.loop  # the worker's loop; read here, in the thread that will run it
    metrics = attach_metrics(engine)

    async def metrics_page(view: Any, request: Any) -> Any:
        return view.bytes(metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(view: Any, request: Any) -> Any:
        delay = await loop_answers(loop, loop_timeout)
        if delay is None:
            reason = f"event loop did not answer within {loop_timeout:g} s"
            return view.json({"alive": False, "reason": reason}, status=HTTP_UNAVAILABLE)
        return view.json({"alive": True, "loop_delay_seconds": round(delay, 6)})

    async def readyz(view: Any, request: Any) -> Any:
        ready, reason = readiness(app)
        status = HTTP_OK if ready else HTTP_UNAVAILABLE
        return view.json({"ready": ready, "reason": reason}, status=status)

    @app.task  # type: ignore[untyped-decorator]
    async def loop_lag() -> None:
        await measure_loop_lag(metrics.observe_loop_lag)

    app.page("/metrics", name="metrics")(metrics_page)
    app.page("/healthz", name="healthz")(healthz)
    app.page("/readyz", name="readyz")(readyz)
    return metrics
