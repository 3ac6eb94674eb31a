"""The query benchmark's report: rows, ratios to the floor, the printed tables, the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.query_report import FLOOR, LatencyRow, LoadRow, QueryReport
from benchmarks.query_stats import Samples


def _samples(ms: list[float], seconds: float = 0.0, **errors: int) -> Samples:
    return Samples([m / 1000 for m in ms], dict(errors), seconds)


def _report() -> QueryReport:
    report = QueryReport(machine={"cores": 2, "python": "3.11", "kafka": "4.4.0"}, params={})
    report.latency.append(LatencyRow(FLOOR, "floor", _samples([10.0] * 99 + [20.0]), floor=True))
    report.latency.append(
        LatencyRow(
            "node",
            "node",
            _samples([12.0] * 100),
            _samples([4.0] * 100),
            cache_served=100,
            worker_cold=0.0008,
            worker_cached=0.0002,
            client_cached=_samples([0.05] * 100),
            client_served=100,
        )
    )
    report.latency.append(
        LatencyRow("shortest_path", "shortest_path", _samples([30.0], limit_exceeded=2))
    )
    report.loads.append(LoadRow("floor_concurrent", "floor, 8", "8 callers",
                                _samples([5.0] * 10, 1.0), "floor_concurrent"))  # fmt: skip
    report.loads.append(
        LoadRow(
            "concurrent",
            "node, 8",
            "8 callers",
            _samples([50.0] * 10, 2.0),
            "floor_concurrent",
            {
                "worker_mean_ms": {"node": 0.4, "neighbors": None},
                "split": {"to_answer": {"p50_ms": 30.0}, "answer_to_client": None},
            },
        )
    )
    report.cpu["node, 8"] = {"worker": 0.9, "broker": 0.4, "other processes": None}
    report.notes.append("a note")
    return report


def test_floor_p99_comes_from_a_latency_or_a_load_row() -> None:
    report = _report()
    assert report.floor_p99() == pytest.approx(0.0101)  # 1% of the way from 10 to 20 ms
    assert report.floor_p99("floor_concurrent") == pytest.approx(0.005)
    assert report.floor_p99("missing") is None


def test_json_ratios_compare_with_the_floor_and_the_cache() -> None:
    ratios = _report().to_json()["ratios"]
    assert ratios["node"]["cold_p99_vs_floor_p99"] == pytest.approx(12 / 10.1, abs=1e-3)
    assert ratios["node"]["cached_p99_vs_floor_p99"] == pytest.approx(4 / 10.1, abs=1e-3)
    assert ratios["node"]["cold_p50_vs_cached_p50"] == 3.0
    assert ratios["node"]["cold_p50_vs_client_cached_p50"] == 240.0
    assert ratios["shortest_path"]["cold_p50_vs_client_cached_p50"] is None
    assert ratios["shortest_path"]["cached_p99_vs_floor_p99"] is None
    assert ratios["concurrent"]["p99_vs_floor_p99"] == 10.0


def test_latency_table_has_a_row_per_kind_with_ratios_and_errors() -> None:
    lines = _report().latency_table().splitlines()
    assert lines[0].split()[:2] == ["query", "n"]
    assert set(lines[1]) == {"-"}
    node = next(line for line in lines if line.startswith("node"))
    cells = node.split()
    assert cells[1:8] == ["100", "12.00", "12.00", "12.00", "4.00", "4.00", "4.00"]
    assert "3.00x" in cells  # cold p50 / cached p50
    # worker ms; from the worker's cache; SDK cache p50 (hits), cold / it; errors
    assert cells[-7:] == ["0.80", "0.20", "100/100", "0.050", "(100/100)", "240.0x", "0"]
    path = next(line for line in lines if line.startswith("shortest_path"))
    assert path.endswith("2 limit_exceeded")


def test_load_table_shows_rates_and_ratio_to_its_floor() -> None:
    lines = _report().load_table().splitlines()
    floor = next(line for line in lines if line.startswith("floor, 8"))
    node = next(line for line in lines if line.startswith("node, 8"))
    assert floor.split()[-5:] == ["-", "-", "-", "-", "0"]  # no ratio of the floor to itself
    assert "10.00x" in node.split()
    cells = node.split()  # "node," "8" "8" "callers" seconds answers answers/s ...
    assert cells[4:7] == ["2.0", "10", "5"]  # ten answers in two seconds
    assert cells[-4:-1] == ["0.40/-", "30.00", "-"]  # worker ms; p50 to answer, to client


def test_table_names_the_machine_and_lists_notes_and_cpu() -> None:
    text = _report().table()
    assert "machine: 2 cores" in text
    assert "Kafka 4.4.0" in text
    assert "a note" in text
    assert "  node, 8: worker 0.90, broker 0.40" in text


def test_json_round_trips_through_a_file(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "queries.json"
    _report().write_json(out)
    data = json.loads(out.read_text())
    assert data["latency"]["node"]["cached_served_from_cache"] == 100
    assert data["latency"]["node"]["worker_mean_ms"] == {"cold": 0.8, "cached": 0.2}
    assert data["latency"]["node"]["cold"]["p99_ms"] == 12.0
    assert data["load"]["concurrent"]["per_second"] == 5.0
    assert data["cpu_share_of_one_core"]["node, 8"]["worker"] == 0.9
    assert data["notes"] == ["a note"]
