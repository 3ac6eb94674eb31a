"""The state benchmark's pure parts: arguments, per-edge arithmetic, verdicts, rows and table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.harness import bench_settings
from benchmarks.state import parse_args
from benchmarks.state_report import (
    GIB,
    MET,
    MIB,
    MISSED,
    NOT_APPLICABLE,
    Row,
    ScaleFigures,
    StateReport,
    StoreFigures,
    Target,
    bytes_per_edge,
    extrapolated_rss,
    format_bytes,
    format_seconds,
    format_table,
)
from benchmarks.state_rows import (
    LARGE_PHASE,
    combined_runs,
    scale_ceiling,
    scale_notes,
    scale_order,
    scale_rows,
    store_notes,
    store_rows,
)
from benchmarks.state_workers import StoreWorker, parse_status_bytes, process_memory


def test_full_run_defaults_to_a_million_edges_over_a_tenth_as_many_nodes() -> None:
    sizes, json_out, quick = parse_args([])
    assert (sizes.edges, sizes.nodes, sizes.scale_edges) == (1_000_000, 100_000, 1_000_000)
    assert (sizes.partitions, sizes.scale_partitions, sizes.chunk_size) == (4, 8, 1000)
    assert sizes.phases == ("memory", "rocksdb", "rocksdb-large", "scale")
    assert sizes.large_edges == 10_000_000  # the RocksDB memory target's size, measured
    assert sizes.scale_rounds == 2
    assert sizes.recovery_timeout >= 900  # a slow memory-store replay is reported, not cut
    assert json_out == Path("bench-results/state.json")
    assert not quick


def test_quick_run_uses_fifty_thousand_edges_and_shorter_limits() -> None:
    sizes, _, quick = parse_args(["--quick"])
    full, _, _ = parse_args([])
    assert quick
    assert (sizes.edges, sizes.nodes, sizes.scale_edges) == (50_000, 5_000, 50_000)
    assert sizes.large_edges == 200_000
    assert sizes.scale_rounds == 1
    assert sizes.time_limit < full.time_limit
    assert sizes.settle < full.settle


def test_explicit_sizes_and_phases_override_the_defaults() -> None:
    argv = ["--quick", "--edges", "7000", "--scale-edges", "9000", "--phase", "scale"]
    sizes, json_out, _ = parse_args([*argv, "--phase", "memory", "--json-out", "out.json"])
    assert (sizes.edges, sizes.nodes, sizes.scale_edges) == (7000, 700, 9000)
    assert sizes.phases == ("memory", "scale")  # always in run order
    assert json_out == Path("out.json")
    assert parse_args(["--large-edges", "1234"])[0].large_edges == 1234


@pytest.mark.parametrize(
    "argv",
    [
        ["--edges", "0"],
        ["--large-edges", "0"],
        ["--chunk-size", "20000"],
        ["--scale-rounds", "0"],
        ["--settle", "-1"],
        ["--phase", "disk"],
    ],
)
def test_invalid_arguments_stop_with_a_usage_error(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2


def test_bytes_per_edge_is_the_rss_growth_divided_by_the_edges() -> None:
    assert bytes_per_edge(400 * MIB, 100 * MIB, 1_000_000) == pytest.approx(300 * MIB / 1e6)
    assert bytes_per_edge(90, 100, 10) == -1.0  # a shrinking RSS is reported as it is
    with pytest.raises(ValueError):
        bytes_per_edge(1, 0, 0)


def test_extrapolated_rss_grows_linearly_from_the_empty_worker() -> None:
    assert extrapolated_rss(100 * MIB, 50.0, 10_000_000) == 100 * MIB + 500_000_000


def test_upper_limits_are_met_at_or_below_the_limit_and_missed_above() -> None:
    target = Target("<=", 300, "<= 300 B/edge")
    assert target.verdict(300) == MET
    assert target.verdict(301) == MISSED
    assert target.verdict(None) == NOT_APPLICABLE
    strict = Target("<", GIB, "< 1 GiB")
    assert strict.verdict(GIB) == MISSED
    assert strict.verdict(GIB - 1) == MET


def test_a_target_for_a_larger_graph_can_be_missed_but_not_met_on_a_smaller_one() -> None:
    target = Target("<=", 15.0, "<= 15 s at 10^6 edges", at_edges=1_000_000)
    assert target.verdict(4.0, edges=50_000) == NOT_APPLICABLE
    assert target.verdict(20.0, edges=50_000) == MISSED
    assert target.verdict(14.0, edges=1_000_000) == MET


def test_a_wait_that_gave_up_misses_a_limit_below_it_and_decides_nothing_otherwise() -> None:
    target = Target("<=", 15.0, "<= 15 s")
    assert target.verdict(1800.0, lower_bound=True) == MISSED
    assert target.verdict(10.0, lower_bound=True) == NOT_APPLICABLE


def test_lower_limits_are_met_at_or_above_the_limit() -> None:
    target = Target(">=", 1.6, ">= 1.6x")
    assert target.verdict(1.6) == MET
    assert target.verdict(1.2) == MISSED


def test_figures_are_printed_in_readable_units() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(300 * MIB) == "300.0 MiB"
    assert format_bytes(1.5 * GIB) == "1.50 GiB"
    assert format_bytes(None) == "-"
    assert format_seconds(2.345) == "2.35 s"
    assert format_seconds(123.45) == "123.5 s"


def test_table_aligns_its_four_columns_under_a_header_and_a_rule() -> None:
    rows = [Row("a", "short", "1 B", "-", "n/a"), Row("b", "a longer name", "22 B", "<= 3", MET)]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["measurement", "figure", "target", "verdict"]
    assert set(lines[1]) == {"-"}
    column = lines[0].index("figure")
    assert lines[2][column:].startswith("1 B") and lines[3][column:].startswith("22 B")


def _memory_figures(**changes: object) -> StoreFigures:
    figures = StoreFigures("memory", 1_000_000, 999_950, 100_000)
    figures.rss_empty, figures.rss_loaded = 100 * MIB, 100 * MIB + 250 * 999_950
    figures.recovered_seconds = 12.0
    for name, value in changes.items():
        setattr(figures, name, value)
    return figures


def test_memory_store_rows_judge_bytes_per_edge_and_recovery_at_the_target_size() -> None:
    rows = {r.key: r for r in store_rows(_memory_figures())}
    assert rows["memory_bytes_per_edge"].figure == "250 B/edge"
    assert rows["memory_bytes_per_edge"].verdict == MET
    assert rows["memory_recovery_seconds"].verdict == MET  # a million upserts: the target size


def test_a_recovery_that_gave_up_shows_a_lower_bound_and_misses() -> None:
    figures = _memory_figures(recovered_seconds=None, recovery_gave_up_after=1800.0)
    row = {r.key: r for r in store_rows(figures)}["memory_recovery_seconds"]
    assert row.figure.startswith("> 1800.0 s")
    assert row.verdict == MISSED


def test_rocksdb_rows_extrapolate_to_ten_million_edges_and_say_so() -> None:
    figures = StoreFigures("rocksdb", 50_000, 50_000, 5_000, rss_empty=80 * MIB)
    figures.rss_loaded = 80 * MIB + 50_000 * 200
    rows = {r.key: r for r in store_rows(figures)}
    assert rows["rocksdb_bytes_per_edge"].verdict == NOT_APPLICABLE  # no per-edge target
    extrapolated = rows["rocksdb_rss_at_1e7_edges"]
    assert "linear extrapolation from 50,000" in extrapolated.measurement
    assert extrapolated.value == pytest.approx(80 * MIB + 200 * 10_000_000)
    assert extrapolated.verdict == MISSED  # about 1.94 GiB


def test_the_large_rocksdb_phase_measures_at_ten_million_and_has_no_restart_row() -> None:
    figures = StoreFigures("rocksdb", 10_000_000, 9_999_950, 1_000_000, phase=LARGE_PHASE)
    figures.rss_empty = 70 * MIB
    figures.rss_loaded = 70 * MIB + 9_999_950 * 90
    rows = {r.key: r for r in store_rows(figures)}
    assert sorted(rows) == [
        "rocksdb-large_bytes_per_edge",
        "rocksdb-large_rss",
        "rocksdb_rss_at_1e7_edges",
    ]
    at_target = rows["rocksdb_rss_at_1e7_edges"]
    assert "measured at 9,999,950" in at_target.measurement
    assert at_target.value == pytest.approx(70 * MIB + 90 * 10_000_000)
    assert at_target.verdict == MET  # about 0.91 GiB
    heavy = StoreFigures("rocksdb", 10_000_000, 9_999_950, 1_000_000, phase=LARGE_PHASE)
    heavy.rss_empty, heavy.rss_loaded = 70 * MIB, 70 * MIB + 9_999_950 * 110
    assert {r.key: r for r in store_rows(heavy)}["rocksdb_rss_at_1e7_edges"].verdict == MISSED
    assert "ingest of 10,000,000 upserts" in store_notes(figures)[0]


def test_with_the_large_phase_the_rocksdb_phase_leaves_the_target_to_it() -> None:
    figures = StoreFigures("rocksdb", 50_000, 50_000, 5_000, rss_empty=80 * MIB)
    figures.rss_loaded = 80 * MIB + 50_000 * 200
    figures.recovered_seconds = 1.0
    keys = [r.key for r in store_rows(figures, judge_at_target=False)]
    assert keys == ["rocksdb_bytes_per_edge", "rocksdb_rss", "rocksdb_recovery_seconds"]


def test_a_failed_store_phase_gives_failed_rows_and_a_note() -> None:
    figures = StoreFigures("rocksdb", 10, 10, 5, error="RuntimeError: worker died")
    rows = store_rows(figures)
    assert all(r.figure.startswith("failed") and r.verdict == NOT_APPLICABLE for r in rows)
    assert any("worker died" in note for note in store_notes(figures))


def test_scale_rows_give_both_rates_and_their_ratio() -> None:
    one = ScaleFigures(1, 8, 100_000, seconds=4.0)
    two = ScaleFigures(2, 8, 100_000, seconds=2.0)
    rows = {r.key: r for r in scale_rows([one, two])}
    assert rows["ingest_1_worker"].figure == "25,000 items/s"
    assert rows["ingest_1_worker"].measurement.endswith("100,000 edge upserts, 1 run)")
    assert rows["scale_out_ratio"].figure == "2.00x"
    assert rows["scale_out_ratio"].verdict == MET
    slow = {r.key: r for r in scale_rows([one, ScaleFigures(2, 8, 100_000, seconds=3.0)])}
    assert slow["scale_out_ratio"].verdict == MISSED
    failed = {r.key: r for r in scale_rows([one, ScaleFigures(2, 8, 100_000, error="x")])}
    assert failed["scale_out_ratio"].verdict == NOT_APPLICABLE
    assert failed["ingest_2_workers"].figure == "failed (see notes)"


def _with_cpu(workers: int, seconds: float, *shares: float | None) -> ScaleFigures:
    named = {f"worker {i + 1}": share for i, share in enumerate(shares[:workers])}
    named |= dict(zip(("broker", "publisher"), shares[workers:], strict=True))
    machine = {"all processes": 1.9, "other processes": 0.4}  # not counted as ours
    return ScaleFigures(workers, 8, 100_000, seconds=seconds, cpu_share=named | machine)


def test_scale_ceiling_is_the_ratio_with_every_core_busy_at_the_two_worker_cpu_per_edge() -> None:
    one = _with_cpu(1, 4.0, 0.95, 0.35, 0.2)
    two = _with_cpu(2, 3.0, 0.7, 0.7, 0.4, 0.1)  # 1.33x the rate, 1.9 cores busy
    assert scale_ceiling(one, two, cores=2) == pytest.approx(2 / 1.9 * 4 / 3)
    assert scale_ceiling(one, two, cores=8) == 2.0  # two workers: at most twice one
    assert scale_ceiling(one, _with_cpu(2, 3.0, 0.7, None, 0.4, 0.1), cores=2) is None
    assert scale_ceiling(one, ScaleFigures(2, 8, 100_000, seconds=3.0), cores=2) is None
    assert scale_ceiling(one, ScaleFigures(2, 8, 100_000, error="x"), cores=2) is None
    assert scale_ceiling(one, two, cores=None) is None


def test_scale_rows_show_the_ceiling_beside_the_ratio_when_cpu_was_measured() -> None:
    one, two = _with_cpu(1, 4.0, 0.95, 0.35, 0.2), _with_cpu(2, 3.2, 0.8, 0.8, 0.3, 0.1)
    rows = {r.key: r for r in scale_rows([one, two], 2)}
    assert rows["scale_out_ratio"].figure == "1.25x (this machine's CPU allows 1.25x)"
    assert rows["scale_out_ratio"].verdict == MISSED
    assert rows["scale_out_ceiling"].value == pytest.approx(2 / 2.0 * 4 / 3.2)
    assert rows["scale_out_ceiling"].verdict == NOT_APPLICABLE
    unmeasured = {r.key for r in scale_rows([one, ScaleFigures(2, 8, 100_000, seconds=3.2)], 2)}
    assert "scale_out_ceiling" not in unmeasured


def test_scale_rounds_alternate_which_worker_count_runs_first() -> None:
    assert scale_order(1) == [1, 2]
    assert scale_order(2) == [1, 2, 2, 1]
    assert scale_order(3) == [1, 2, 2, 1, 1, 2]
    with pytest.raises(ValueError):
        scale_order(0)


def test_runs_of_one_worker_count_combine_into_all_items_over_all_seconds() -> None:
    runs = [_with_cpu(1, 4.0, 1.0, 0.2, 0.2), _with_cpu(2, 2.0, 0.9, 0.9, 0.3, 0.2)]
    runs += [_with_cpu(2, 3.0, 0.6, 0.6, 0.2, 0.2), _with_cpu(1, 6.0, 0.8, 0.2, 0.2)]
    one, two = combined_runs(runs, 1), combined_runs(runs, 2)
    assert one is not None and two is not None
    assert (one.items, one.seconds, two.items, two.seconds) == (200_000, 10.0, 200_000, 5.0)
    assert one.cpu_share["worker 1"] == pytest.approx((1.0 * 4 + 0.8 * 6) / 10)
    assert two.cpu_share["worker 2"] == pytest.approx((0.9 * 2 + 0.6 * 3) / 5)
    rows = {r.key: r for r in scale_rows(runs, 2)}
    assert rows["scale_out_ratio"].value == pytest.approx(2.0)  # 40,000 / 20,000 items/s
    assert rows["ingest_2_workers"].measurement.endswith("200,000 edge upserts, 2 runs)")
    assert combined_runs(runs, 3) is None
    broken = combined_runs([*runs, ScaleFigures(1, 8, 100_000, error="boom")], 1)
    assert broken is not None and broken.error == "boom" and broken.items_per_second is None


def test_scale_notes_give_settle_and_confirmation_times_or_the_failure() -> None:
    ok = ScaleFigures(1, 8, 10, seconds=1.0, stats_confirm_seconds=0.25, group_settle_seconds=4)
    notes = scale_notes([ok, ScaleFigures(2, 8, 10, error="RuntimeError: boom")])
    assert "settled 4.00 s" in notes[0] and "0.25 s after the last ack" in notes[0]
    assert notes[1] == "scale-out run 2, 2 worker(s) failed: RuntimeError: boom"
    measured = scale_notes([_with_cpu(1, 4.0, 0.95, 0.35, 0.2)])
    assert measured[1] == (
        "scale-out run 1, 1 worker(s): CPU during the ingest, share of one core: worker 1 95%, "
        "broker 35%, publisher 20%, all processes 190%, other processes 40%"
    )


def test_report_json_holds_rows_figures_and_per_edge_bytes(tmp_path: Path) -> None:
    report = StateReport({"cores": 2}, {"edges": 1_000_000})
    report.stores.append(_memory_figures())
    report.scale.append(ScaleFigures(1, 8, 10, seconds=1.0))
    report.rows += store_rows(report.stores[0])
    path = tmp_path / "out" / "state.json"
    report.write_json(path)
    data = json.loads(path.read_text())
    assert data["stores"][0]["bytes_per_edge"] == pytest.approx(250.0)
    assert data["scale_out"][0]["items_per_second"] == 10.0
    assert {r["key"] for r in data["rows"]} >= {"memory_bytes_per_edge"}
    assert not report.failed
    assert "machine: 2 cores" in report.table()


def test_status_fields_are_read_in_bytes() -> None:
    text = "Name:\tpython\nVmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\nThreads:\t4\n"
    assert parse_status_bytes(text, "VmRSS") == 10 * MIB
    assert parse_status_bytes(text, "VmHWM") == 20 * MIB
    assert parse_status_bytes(text, "VmSwap") is None
    assert (process_memory(os.getpid()) or 0) > MIB
    assert process_memory(None) is None


def test_store_worker_asks_for_its_store_and_remembers_its_web_port(tmp_path: Path) -> None:
    settings = bench_settings("127.0.0.1:9", tmp_path, 4)
    worker = StoreWorker(settings, name="w", store="rocksdb")
    command = worker.command(tmp_path / "w", 6123)
    assert command[command.index("--store") + 1] == "rocksdb"
    assert worker.readyz_url == "http://127.0.0.1:6123/readyz"
