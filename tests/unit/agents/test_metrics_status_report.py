"""``project-engine status``: reading workers' /metrics and the group's assignment."""

from __future__ import annotations

import json
import zlib
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from agents.local_state import LocalGraphs
from agents.metrics import EngineMetrics
from pipeline.result_cache import ResultCache
from project_engine.commands.status import decode_member, parse_metrics, quantile, summarize
from schemas.settings import Settings


def idle_engine() -> Any:
    counters: dict[str, int] = {}

    def count(name: str, amount: int = 1) -> None:
        counters[name] = counters.get(name, 0) + amount

    return SimpleNamespace(
        settings=Settings.load({"partitions": "2"}, env={}),
        graphs=LocalGraphs(2),
        cache=ResultCache(0),
        app=None,
        counters=counters,
        count=count,
    )


def test_quantile_interpolates_inside_the_bucket_like_prometheus() -> None:
    buckets = [(0.01, 50.0), (0.1, 90.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.01)
    assert quantile(0.7, buckets) == pytest.approx(0.01 + 0.09 * 0.5)
    assert quantile(0.99, buckets) == pytest.approx(0.1 + 0.9 * 0.9)
    assert quantile(0.5, [(0.1, 0.0), (float("inf"), 0.0)]) is None
    assert quantile(0.99, [(0.1, 1.0), (float("inf"), 10.0)]) == pytest.approx(0.1)


def test_summary_from_two_scrapes_gives_rates_and_window_percentiles() -> None:
    engine = idle_engine()
    metrics = EngineMetrics(engine)
    for _ in range(100):
        metrics.observe_apply(0.5)  # before the window: must not affect its percentiles
    first = parse_metrics(metrics.render().decode())
    engine.count("items_routed", 5000)
    engine.count("parts_applied", 40)
    for _ in range(40):
        metrics.observe_apply(0.003)
    metrics.observe_query("node", 0.002)
    last = parse_metrics(metrics.render().decode())
    text = "\n".join(summarize(first, last, seconds=2.0))
    assert "items/s 2500.0" in text and "parts applied/s 20.0" in text
    apply_line = next(line for line in text.splitlines() if line.startswith("chunk part apply"))
    assert "p50 3." in apply_line and "n=40, last interval" in apply_line
    assert any(line.startswith("query node: p50 ") for line in text.splitlines())


def test_summary_from_one_scrape_has_totals_and_lifetime_percentiles() -> None:
    metrics = EngineMetrics(idle_engine())
    metrics.observe_apply(0.02)
    text = "\n".join(summarize(None, parse_metrics(metrics.render().decode()), 0.0))
    assert "rates" not in text and "since start" in text


def test_member_from_a_faust_assignment() -> None:
    info = {
        "assignment": {
            "actives": {"e-graph-input": [0, 1], "e-__assignor-__leader": [0]},
            "standbys": {"e-graph-changelog": [2], "e-graph-input": []},
        },
        "url": "http://127.0.0.1:6066",
    }
    raw = ConsumerProtocolMemberAssignment(
        4,
        [("e-graph-input", [0, 1]), ("e-__assignor-__leader", [0])],
        zlib.compress(json.dumps(info).encode()),
    ).encode()
    member = decode_member("m-1", "/127.0.0.1", b"", raw)
    assert member.url == "http://127.0.0.1:6066"
    assert member.actives == {"e-graph-input": [0, 1]}
    assert member.standbys == {"e-graph-changelog": [2]}


def test_member_without_assignment_yet() -> None:
    member = decode_member("m-2", "/10.0.0.2", b"", b"")
    assert member.actives == {} and member.url is None
