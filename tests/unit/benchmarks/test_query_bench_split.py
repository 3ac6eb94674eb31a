"""Splitting round trips where the worker sent the answer (times given, no broker)."""

from __future__ import annotations

import pytest

from benchmarks.query_split import split_round_trips


def test_split_measures_both_parts_of_matched_round_trips() -> None:
    marks = {
        "a": (100.000, 100.010),  # sent, answered
        "b": (200.000, 200.050),
        "lost": (300.0, 300.1),  # its answer record was not seen
    }
    created = {"a": 100.004, "b": 200.045, "other": 5.0}
    out = split_round_trips(marks, created)
    assert out["matched"] == 2
    assert out["to_answer"]["count"] == 2
    assert out["to_answer"]["min_ms"] == pytest.approx(4.0)
    assert out["to_answer"]["max_ms"] == pytest.approx(45.0)
    assert out["answer_to_client"]["min_ms"] == pytest.approx(5.0)
    assert out["answer_to_client"]["max_ms"] == pytest.approx(6.0)


def test_clock_rounding_never_gives_negative_parts() -> None:
    out = split_round_trips({"a": (10.0005, 10.0030)}, {"a": 10.000})  # ms-rounded record time
    assert out["to_answer"]["max_ms"] == 0.0
    assert out["answer_to_client"]["max_ms"] == pytest.approx(3.0)


def test_nothing_matched_gives_no_summaries() -> None:
    assert split_round_trips({"a": (1.0, 2.0)}, {}) == {
        "matched": 0,
        "to_answer": None,
        "answer_to_client": None,
    }
