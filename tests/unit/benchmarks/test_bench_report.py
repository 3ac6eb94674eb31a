"""The benchmark report: ratio arithmetic, the printed table and the JSON document."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.report import (
    CORE,
    ENGINE,
    TRANSPORT,
    Measurement,
    Report,
    growth_pair,
    hub_pair,
    machine_info,
)


def _report() -> Report:
    report = Report(machine={"cores": 2, "python": "3.11"}, params={"edges": 1000})
    report.add(Measurement(CORE, "core", 1_000, 0.1))  # 10,000/s
    report.add(Measurement(TRANSPORT, "transport", 1_000, 0.01))  # 100,000/s
    report.add(Measurement(ENGINE, "engine", 1_000, 0.5))  # 2,000/s
    report.add(Measurement("hub_core_small", "hub small", 10_000, 0.2, hub=True))
    report.add(Measurement("hub_core_large", "hub large", 10_000, 0.25, hub=True))
    report.cost_pairs.append(hub_pair("core", "hub_core_small", "hub_core_large"))
    return report


def test_measurement_rates() -> None:
    m = Measurement("x", "x", 2_000, 0.5)
    assert m.per_second == 4_000
    assert m.micros_per_item == 250
    assert math.isinf(Measurement("x", "x", 5, 0.0).per_second)
    assert math.isnan(Measurement("x", "x", 0, 1.0).micros_per_item)


def test_ratios_compare_throughputs_and_hub_costs() -> None:
    ratios = _report().ratios()
    assert ratios["engine_vs_transport"] == pytest.approx(0.02)
    assert ratios["engine_vs_core"] == pytest.approx(0.2)
    assert ratios["core_vs_transport"] == pytest.approx(0.1)
    assert ratios["hub_core_large_vs_small"] == pytest.approx(1.25)


def test_missing_measurements_give_no_ratio() -> None:
    report = Report(machine={}, params={})
    report.add(Measurement(ENGINE, "engine", 10, 1.0))
    assert report.ratios()["engine_vs_transport"] is None
    assert report.cost_ratio("a", "b") is None


def test_table_lists_engine_transport_core_first_with_ratios() -> None:
    table = _report().table()
    lines = table.splitlines()
    assert lines[0].split()[0] == "measurement"
    assert [line.split()[0] for line in lines[2:5]] == ["engine", "transport", "core"]
    engine_row = lines[2].split()
    assert engine_row[-2:] == ["0.020", "1.000"]  # ÷transport, engine÷engine
    core_row = lines[4].split()
    assert core_row[-2:] == ["0.100", "0.200"]
    assert "hub cost per edge, large hub / small hub (core) = 1.250x" in table
    assert "target <= 1.50x: met" in table


def test_a_hub_ratio_over_the_target_is_reported_as_missed() -> None:
    report = _report()
    report.measurements[-1] = Measurement("hub_core_large", "hub large", 10_000, 0.4, hub=True)
    assert "(target <= 1.50x: MISSED)" in report.table()


def test_a_cost_pair_without_its_rows_has_no_ratio_and_no_verdict() -> None:
    report = _report()
    pair = growth_pair("engine", "growth_engine_10000", "growth_engine_1000000", "10^4", "10^6")
    report.cost_pairs.append(pair)
    assert report.ratios()["growth_engine_large_vs_small"] is None
    expected = (
        "cost per chunk, graph 10^6 / graph 10^4 (engine) = -   (target: flat, <= 1.50x: n/a)"
    )
    assert expected in report.table()
    assert "hub cost per edge, large hub / small hub (core) = 1.250x" in report.table()


def test_json_document_is_plain_json(tmp_path: Path) -> None:
    report = _report()
    report.add(Measurement("instant", "instant", 5, 0.0))
    out = tmp_path / "deep" / "ingest.json"
    report.write_json(out)
    doc = json.loads(out.read_text())
    assert doc["params"] == {"edges": 1000}
    assert doc["measurements"][0]["key"] == ENGINE
    assert doc["measurements"][0]["items_per_second"] == pytest.approx(2_000)
    instant = next(m for m in doc["measurements"] if m["key"] == "instant")
    assert instant["items_per_second"] is None
    assert doc["ratios"]["engine_vs_core"] == pytest.approx(0.2)


def test_machine_info_names_the_versions() -> None:
    info = machine_info("4.4.0")
    assert info["kafka"] == "4.4.0"
    assert info["cores"] >= 1 and info["python"].startswith("3.")
    assert info["aiokafka"] != "not installed"
    json.dumps(info)
