"""The benchmark's pure parts: the core baseline, the hub plan and the process harness."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from benchmarks.baselines import CoreState, pure_core
from benchmarks.data import encode_chunks, expected_counts, uniform_edge_ops
from benchmarks.engine_run import CpuUse
from benchmarks.harness import (
    BenchmarkTimeout,
    EngineWorker,
    bench_settings,
    cpu_seconds,
    interrupts_and_deadline,
    machine_busy_seconds,
    tuning_env,
)
from benchmarks.hub import LARGE_HUB, HubPlan, core_hub_cost
from benchmarks.ingest import parse_args
from pipeline.partitioning import partition_for
from schemas.settings import Settings


def test_pure_core_builds_the_expected_graph_with_or_without_the_part_codec() -> None:
    ops = uniform_edge_ops(200, 3_000, seed=5)
    chunks = encode_chunks(ops, 500, "c")
    expected = expected_counts(ops)
    plain, state = pure_core(chunks, 4)
    coded, coded_state = pure_core(chunks, 4, part_codec=True)
    assert (state.nodes, state.edges) == (expected.nodes, expected.edges)
    assert (coded_state.nodes, coded_state.edges) == (expected.nodes, expected.edges)
    assert plain.items == coded.items == 3_000
    # an out and an in record per distinct edge, a record per node, and an edge upserted
    # again with another prop in a later chunk is written again
    assert plain.writes == coded.writes >= 2 * expected.edges + expected.nodes
    assert plain.seconds > 0


def test_core_state_refuses_an_invalid_message() -> None:
    with pytest.raises(ValueError, match="invalid message"):
        CoreState(2).apply_message(b'{"op": "upsert_edge"}')


def test_hub_plan_interleaves_small_and_large_batches() -> None:
    plan = HubPlan(5_000, 4, small=100, batch=1_000, repeats=3)
    schedule = list(plan.schedule())
    assert [side for side, _ in schedule] == ["warm"] + ["small", "large"] * 3
    assert len(schedule[0][1]) == 3 * 100 + 2_000
    assert all(len(ops) == 1_000 for _, ops in schedule[1:])
    large_dsts = {op["dst"] for side, ops in schedule for op in ops if op["src"] == LARGE_HUB}
    assert len(large_dsts) == 5_000  # every large-hub edge is new
    assert plan.large_start == 2_000


def test_small_hubs_share_the_large_hubs_partition() -> None:
    plan = HubPlan(60_000, 4)
    hubs = plan.small_hubs
    assert len(set(hubs)) == plan.repeats and LARGE_HUB not in hubs
    owner = partition_for(LARGE_HUB, 4)
    assert all(partition_for(h, 4) == owner for h in hubs)


def test_hub_plan_refuses_a_hub_too_small_for_its_batches() -> None:
    with pytest.raises(ValueError):
        HubPlan(20_000, 4, small=1_000, batch=10_000, repeats=2)


def test_core_hub_cost_times_every_batch_and_checks_the_degree() -> None:
    plan = HubPlan(3_000, 2, small=50, batch=500, repeats=2)
    timing = core_hub_cost(plan, chunk_size=100)
    assert len(timing.small_batches) == len(timing.large_batches) == 2
    assert timing.final_degree == 3_000
    assert timing.small_degrees == (50, 550) and timing.large_degrees == (2_000, 3_000)
    assert timing.ratio > 0


def test_cpu_counters_read_this_process_and_the_machine() -> None:
    mine = cpu_seconds(os.getpid())
    assert mine is not None and mine > 0
    assert cpu_seconds(None) is None
    busy = machine_busy_seconds()
    assert busy is not None and busy > 0


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)


def test_deadline_interrupts_a_long_run_and_restores_the_handlers() -> None:
    before = [signal.getsignal(sig) for sig in SIGNALS]
    started = time.monotonic()
    with pytest.raises(BenchmarkTimeout), interrupts_and_deadline(0.05):
        while time.monotonic() - started < 5:
            time.sleep(0.01)
    assert time.monotonic() - started < 2
    assert [signal.getsignal(sig) for sig in SIGNALS] == before


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_interrupt_even_inside_asyncio_run(signum: signal.Signals) -> None:
    async def wait_forever() -> None:
        signal.raise_signal(signum)
        await asyncio.sleep(5)

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), interrupts_and_deadline(10):
        asyncio.run(wait_forever())
    assert time.monotonic() - started < 2


def test_worker_command_names_its_own_topics_and_ports(tmp_path: Path) -> None:
    settings = bench_settings("127.0.0.1:9", tmp_path, 3)
    assert settings.topic_prefix.startswith("bench") and settings.partitions == 3
    cmd = EngineWorker(settings).command(tmp_path / "w", 7777)
    assert cmd[1:4] == ["-m", "project_engine.cli", "worker"]
    for flag, value in (
        ("--topic-prefix", settings.topic_prefix),
        ("--app-id", settings.app_id),
        ("--partitions", "3"),
        ("--web-port", "7777"),
        ("--log-level", "WARNING"),
    ):
        assert cmd[cmd.index(flag) + 1] == value
    assert EngineWorker(settings).stop() is None  # never started: nothing to stop


def test_quick_shrinks_the_sizes() -> None:
    sizes, out, quick = parse_args(["--quick"])
    assert quick and (sizes.edges, sizes.hub_size, sizes.nodes) == (100_000, 100_000, 10_000)
    full, _, _ = parse_args(["--edges", "2000", "--partitions", "2", "--json-out", "x.json"])
    assert (full.edges, full.nodes, full.hub_size, full.partitions) == (2_000, 200, 1_000_000, 2)
    assert out.name == "ingest.json"


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--chunk-size", "0"])
    with pytest.raises(SystemExit):
        parse_args(["--hub-size", "1000"])


def test_cpu_use_splits_our_processes_from_the_others() -> None:
    cpu = CpuUse({"me": os.getpid()})
    cpu.start()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    cpu.stop()
    mine = cpu.seconds["me"]
    assert mine is not None and mine >= 0.1
    assert set(cpu.seconds) == {"me", "all processes", "other processes"}
    assert (cpu.seconds["other processes"] or 0.0) >= 0.0
    share = cpu.share_of_core(0.2)
    assert share["me"] is not None and share["me"] >= 0.5


def test_tuning_env_gives_a_worker_the_benchmarks_slice_and_priority_settings(
    tmp_path: Path,
) -> None:
    settings = bench_settings("127.0.0.1:9", tmp_path, 2).replace(
        ingest_slice=16, query_priority_turns=0
    )
    read = Settings.load({}, env=tuning_env(settings))
    assert (read.ingest_slice, read.query_priority_turns) == (16, 0)


class _EnvEcho(EngineWorker):
    """A child process that prints the tuning it was given, in place of a worker."""

    def command(self, data_dir: Path, web_port: int) -> list[str]:
        code = (
            "import os; print(os.environ.get('PROJECT_ENGINE_INGEST_SLICE'),"
            " os.environ.get('PROJECT_ENGINE_QUERY_PRIORITY_TURNS'),"
            " os.environ.get('PROJECT_ENGINE_WEB_HOST'))"
        )
        return [sys.executable, "-c", code]


def test_worker_process_starts_with_the_tuning_of_its_settings_and_no_other_engine_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROJECT_ENGINE_WEB_HOST", "10.0.0.1")  # the caller's own, not passed
    settings = bench_settings("127.0.0.1:9", tmp_path, 2).replace(
        ingest_slice=32, query_priority_turns=5
    )
    worker = _EnvEcho(settings).start()
    assert worker.proc is not None
    assert worker.proc.wait(timeout=30) == 0
    assert worker.log_path is not None
    assert worker.log_path.read_text().split() == ["32", "5", "None"]
