"""Latency statistics of the query benchmark: percentiles, summaries, ratios, samples."""

from __future__ import annotations

import statistics

import pytest

from benchmarks.query_stats import Samples, percentile, ratio, summarize


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)


def test_percentile_agrees_with_inclusive_quantiles() -> None:
    values = sorted((i * 7919) % 1000 / 7 for i in range(1, 501))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for q in (50, 95, 99):
        assert percentile(values, q) == pytest.approx(cuts[q - 1])


def test_percentile_of_one_sample_is_that_sample() -> None:
    assert percentile([0.25], 99) == 0.25


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_rejects_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], q)


def test_percentile_needs_samples() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_summarize_sorts_and_counts() -> None:
    summary = summarize([0.003, 0.001, 0.002, 0.010])
    assert summary is not None
    assert summary.count == 4
    assert (summary.min, summary.max) == (0.001, 0.010)
    assert summary.p50 == pytest.approx(0.0025)
    assert summary.mean == pytest.approx(0.004)
    assert summary.to_json()["p50_ms"] == 2.5
    assert summarize([]) is None


def test_ratio_is_none_when_undefined() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None
    assert ratio(float("inf"), 1.0) is None


def test_samples_count_errors_and_rate() -> None:
    s = Samples.empty()
    s.latencies += [0.01, 0.02]
    s.add_error("limit_exceeded", 0.5)
    s.add_error("no_answer")
    s.seconds = 2.0
    assert s.error_count == 2
    assert s.per_second == 1.5  # two answers and one error answer in two seconds
    out = s.to_json()
    assert out["count"] == 2
    assert out["errors"] == {"limit_exceeded": 1, "no_answer": 1}
    assert out["error_answers"]["count"] == 1
    assert out["per_second"] == 1.5


def test_empty_samples_have_no_summary_or_rate() -> None:
    s = Samples.empty()
    assert s.summary() is None
    assert s.per_second is None
    assert s.to_json() == {"count": 0, "errors": {}}
