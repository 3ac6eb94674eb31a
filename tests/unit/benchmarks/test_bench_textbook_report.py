"""The report's textbook Faust comparison: the ratio, its verdict line and the JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.report import (
    CORE,
    ENGINE,
    TEXTBOOK,
    TEXTBOOK_TARGET,
    TRANSPORT,
    Measurement,
    Report,
    target_verdict,
)


def _report(textbook_seconds: float | None) -> Report:
    report = Report(machine={"cores": 2}, params={})
    report.add(Measurement("core_codec", "core codec", 1_000, 0.2))
    if textbook_seconds is not None:
        report.add(Measurement(TEXTBOOK, "textbook", 1_000, textbook_seconds))
    report.add(Measurement(CORE, "core", 1_000, 0.1))
    report.add(Measurement(TRANSPORT, "transport", 1_000, 0.01))
    report.add(Measurement(ENGINE, "engine", 10_000, 0.5))  # 20,000/s
    return report


def _textbook_line(report: Report) -> str:
    [line] = [x for x in report.summary_lines() if x.startswith("engine / textbook Faust")]
    return line


def test_engine_vs_textbook_divides_the_throughputs() -> None:
    ratio = _report(textbook_seconds=1.0).ratios()["engine_vs_textbook"]  # 20,000 / 1,000
    assert ratio == pytest.approx(20.0)


def test_a_ratio_at_the_target_is_met() -> None:
    line = _textbook_line(_report(textbook_seconds=1.0))
    assert line == "engine / textbook Faust = 20.000x   (target >= 20x: met)"


def test_a_ratio_under_the_target_is_missed() -> None:
    line = _textbook_line(_report(textbook_seconds=0.5))  # 20,000 / 2,000 = 10x
    assert line == "engine / textbook Faust = 10.000x   (target >= 20x: MISSED)"


def test_without_a_textbook_run_there_is_no_verdict() -> None:
    report = _report(textbook_seconds=None)
    assert report.ratios()["engine_vs_textbook"] is None
    assert _textbook_line(report) == "engine / textbook Faust = -   (target >= 20x: n/a)"


def test_verdicts_respect_the_direction_of_the_target() -> None:
    assert target_verdict(1.5, 1.5, at_most=True) == "met"
    assert target_verdict(1.6, 1.5, at_most=True) == "MISSED"
    assert target_verdict(19.9, 20.0, at_most=False) == "MISSED"
    assert target_verdict(25.0, 20.0, at_most=False) == "met"
    assert target_verdict(None, 20.0, at_most=False) == "n/a"


def test_textbook_row_comes_after_engine_transport_and_core() -> None:
    keys = [m.key for m in _report(textbook_seconds=1.0).ordered()]
    assert keys == [ENGINE, TRANSPORT, CORE, TEXTBOOK, "core_codec"]


def test_table_row_shows_how_much_faster_the_engine_is() -> None:
    table = _report(textbook_seconds=1.0).table()
    [row] = [line for line in table.splitlines() if line.startswith("textbook")]
    assert row.split()[-2:] == ["0.010", "20.000"]  # ÷transport, engine÷


def test_json_carries_the_textbook_ratio_and_target(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    _report(textbook_seconds=1.0).write_json(out)
    doc = json.loads(out.read_text())
    assert doc["ratios"]["engine_vs_textbook"] == pytest.approx(20.0)
    assert doc["textbook_target"] == TEXTBOOK_TARGET == 20.0
    assert TEXTBOOK in [m["key"] for m in doc["measurements"]]
