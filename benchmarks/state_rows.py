"""The state benchmark's targets, and the table rows and notes its figures give.

Targets: the memory store holds a graph in at most :data:`MEMORY_BYTES_PER_EDGE` resident
bytes per edge; a RocksDB worker stays under :data:`ROCKSDB_RSS_LIMIT` at
:data:`ROCKSDB_TARGET_EDGES` edges (measured there by the :data:`LARGE_PHASE` of a full run,
else judged on a linear extrapolation of the size measured);
a restart of a worker holding :data:`RECOVERY_TARGET_EDGES` edges serves again within
:data:`RECOVERY_SECONDS` (memory store: replaying the changelog; RocksDB: local files
intact); two worker processes ingest at least :data:`SCALE_OUT_RATIO` times as fast as one.
"""

from __future__ import annotations

from benchmarks.engine_run import MACHINE, OTHERS
from benchmarks.growth import size_label
from benchmarks.state_report import (
    GIB,
    NOT_APPLICABLE,
    Row,
    ScaleFigures,
    StoreFigures,
    Target,
    extrapolated_rss,
    format_bytes,
    format_rate,
    format_seconds,
)

__all__ = [
    "LARGE_PHASE",
    "MEMORY_BYTES_PER_EDGE",
    "RECOVERY_SECONDS",
    "RECOVERY_TARGET_EDGES",
    "ROCKSDB_RSS_LIMIT",
    "ROCKSDB_TARGET_EDGES",
    "SCALE_OUT_RATIO",
    "combined_runs",
    "growth_rows",
    "scale_ceiling",
    "scale_notes",
    "scale_order",
    "scale_rows",
    "store_notes",
    "store_rows",
]

MEMORY_BYTES_PER_EDGE = 300
ROCKSDB_TARGET_EDGES = 10_000_000
ROCKSDB_RSS_LIMIT = GIB
RECOVERY_TARGET_EDGES = 1_000_000
RECOVERY_SECONDS = {"memory": 15.0, "rocksdb": 3.0}
SCALE_OUT_RATIO = 1.6
NONE = "-"
_NOT_OURS = (MACHINE, OTHERS)  # CPU figures of the whole machine, not of one process
LARGE_PHASE = "rocksdb-large"
"""The phase that ingests :data:`ROCKSDB_TARGET_EDGES` upserts into a RocksDB worker (full run)
to measure its RSS there, without a restart."""

_PER_EDGE = Target("<=", MEMORY_BYTES_PER_EDGE, f"<= {MEMORY_BYTES_PER_EDGE} B/edge")
_ROCKSDB_RSS = Target("<", ROCKSDB_RSS_LIMIT, "< 1 GiB")
_SCALE = Target(">=", SCALE_OUT_RATIO, f">= {SCALE_OUT_RATIO}x")


def _recovery_target(store: str) -> Target:
    limit = RECOVERY_SECONDS[store]
    text = f"<= {limit:g} s at 10^6 edges"
    return Target("<=", limit, text, at_edges=RECOVERY_TARGET_EDGES)


def _failed(key: str, label: str) -> Row:
    """A row for a figure that was not measured; the notes say why."""
    return Row(key, label, "failed (see notes)", NONE, NOT_APPLICABLE)


def memory_rows(f: StoreFigures, judge_at_target: bool = True) -> list[Row]:
    """RSS per edge, and RSS empty -> loaded; for RocksDB (``judge_at_target``) also the RSS
    at :data:`ROCKSDB_TARGET_EDGES`, measured there or extrapolated linearly."""
    store = f.label
    size = f"{f.edges:,} edges, {f.nodes:,} nodes"
    per_edge = f.per_edge
    if per_edge is None or f.rss_empty is None:
        return [_failed(f"{f.name}_bytes_per_edge", f"{store}: RSS per edge")]
    target = _PER_EDGE if f.store == "memory" else None
    rows = [
        Row(
            f"{f.name}_bytes_per_edge",
            f"{store}: RSS per edge ({size})",
            f"{per_edge:,.0f} B/edge",
            target.text if target else NONE,
            target.verdict(per_edge) if target else NOT_APPLICABLE,
            per_edge,
            "B/edge",
        ),
        Row(
            f"{f.name}_rss",
            f"{store}: worker RSS, empty -> loaded",
            f"{format_bytes(f.rss_empty)} -> {format_bytes(f.rss_loaded)}",
            NONE,
            NOT_APPLICABLE,
            None if f.rss_loaded is None else float(f.rss_loaded),
            "B",
        ),
    ]
    if f.store == "rocksdb" and judge_at_target:
        at_target = extrapolated_rss(f.rss_empty, per_edge, ROCKSDB_TARGET_EDGES)
        # Uniform random upserts repeat a few edges: 10^7 of them make ~99.99% as many edges.
        measured = f.items >= ROCKSDB_TARGET_EDGES
        how = "measured at" if measured else "linear extrapolation from"
        rows.append(
            Row(
                "rocksdb_rss_at_1e7_edges",
                f"rocksdb store: RSS at 10^7 edges ({how} {f.edges:,})",
                format_bytes(at_target),
                _ROCKSDB_RSS.text,
                _ROCKSDB_RSS.verdict(at_target),
                at_target,
                "B",
            )
        )
    return rows


def recovery_row(f: StoreFigures) -> Row:
    """Seconds from the restarted process's start until it is ready and answers in full."""
    key = f"{f.name}_recovery_seconds"
    how = "changelog replay" if f.store == "memory" else "local state intact"
    label = f"{f.store} store: restart to ready + full stats ({how}, {f.items:,} upserts)"
    target = _recovery_target(f.store)
    if f.recovery_timed_out:
        bound = f.recovery_gave_up_after
        figure = f"> {format_seconds(bound)} (gave up)"
        return Row(
            key, label, figure, target.text, target.verdict(bound, lower_bound=True), bound, "s"
        )
    if f.recovered_seconds is None:
        return _failed(key, label)
    value = f.recovered_seconds
    verdict = target.verdict(value, edges=f.items)
    return Row(key, label, format_seconds(value), target.text, verdict, value, "s")


def growth_rows(f: StoreFigures) -> list[Row]:
    """The best window at each graph size, and the largest size's over the smallest's; none
    without two sizes. Not judged: the target (flat, at most 1.5x) is stated
    for 10^4 to 10^6 edges, which the ingest benchmark judges."""
    if len(f.growth) < 2 or f.growth_window is None:
        return []
    rows = [
        Row(
            f"{f.name}_growth_{t.size}",
            f"{f.label}: +{f.growth_window:,} edges at graph {size_label(t.size)}, "
            f"best of {len(t.windows)}",
            format_seconds(t.seconds),
            NONE,
            NOT_APPLICABLE,
            t.seconds,
            "s",
        )
        for t in f.growth
    ]
    first, last = f.growth[0], f.growth[-1]
    ratio = last.seconds / first.seconds
    label = f"graph {size_label(last.size)} / graph {size_label(first.size)}"
    rows.append(
        Row(
            f"{f.name}_growth_large_vs_small",
            f"{f.label}: cost per chunk, {label}",
            f"{ratio:.2f}x",
            NONE,
            NOT_APPLICABLE,
            ratio,
            "x",
        )
    )
    return rows


def store_rows(f: StoreFigures, judge_at_target: bool = True) -> list[Row]:
    """A store phase's rows; ``judge_at_target``: see :func:`memory_rows`. A phase without a
    restart (the large RocksDB one) has no recovery row, but its cost per chunk as it grew."""
    memory = memory_rows(f, judge_at_target)
    if f.phase == LARGE_PHASE:
        return [*memory, *growth_rows(f)]
    return [*memory, recovery_row(f)]


def store_notes(f: StoreFigures) -> list[str]:
    """Details of a store's phase that are not in the table."""
    rate = None if not f.ingest_seconds else f.items / f.ingest_seconds
    if f.phase == LARGE_PHASE:
        note = (
            f"{f.label}: ingest of {f.items:,} upserts {format_rate(rate)}; "
            f"peak RSS {format_bytes(f.rss_peak)}"
        )
    else:
        note = (
            f"{f.label}: ingest {format_rate(rate)}; peak RSS {format_bytes(f.rss_peak)}; "
            f"graceful stop {format_seconds(f.stop_seconds)} (exit code {f.stop_exit_code}); "
            f"after restart: web server up at {format_seconds(f.web_up_seconds)}, "
            f"/readyz 200 at {format_seconds(f.ready_seconds)}, "
            f"RSS after recovery {format_bytes(f.rss_recovered)}"
        )
    notes = [note]
    if f.growth:
        every = "; ".join(
            f"{size_label(t.size)} ({t.graph_edges:,} edges): "
            + " ".join(f"{s:.3f}" for s in t.windows)
            for t in f.growth
        )
        notes.append(f"{f.label}, every window of +{f.growth_window:,} edges (s): {every}")
    return [*notes, f"{f.label} phase failed: {f.error}"] if f.error else notes


def scale_order(rounds: int) -> list[int]:
    """The worker counts of the scale-out runs, in order: 1 then 2, then 2 then 1, and so on,
    so a machine that drifts faster or slower during the runs favours neither count."""
    if rounds < 1:
        raise ValueError(f"need at least one round, got {rounds}")
    return [w for r in range(rounds) for w in ((1, 2) if r % 2 == 0 else (2, 1))]


def combined_runs(figures: list[ScaleFigures], workers: int) -> ScaleFigures | None:
    """The runs with ``workers`` workers as one: their items and seconds added up (so the rate
    is all items over all seconds), each process's CPU share weighted by its run's seconds;
    the first error of any of them. ``None`` when there was no such run."""
    runs = [f for f in figures if f.workers == workers]
    if not runs:
        return None
    first = runs[0]
    error = next((f.error for f in runs if f.error), None)
    if error is not None or any(f.seconds is None for f in runs):
        return ScaleFigures(workers, first.partitions, first.items, error=error or "not timed")
    seconds = sum(f.seconds or 0.0 for f in runs)
    cpu: dict[str, float | None] = {}
    for name in dict.fromkeys(name for f in runs for name in f.cpu_share):  # in order, once
        parts = [(f.cpu_share.get(name), f.seconds or 0.0) for f in runs]
        known = None not in (share for share, _ in parts)
        cpu[name] = sum((share or 0.0) * sec for share, sec in parts) / seconds if known else None
    return ScaleFigures(
        workers,
        first.partitions,
        sum(f.items for f in runs),
        seconds=seconds,
        cpu_share=cpu,
    )


def scale_ceiling(one: ScaleFigures, two: ScaleFigures, cores: int | None) -> float | None:
    """The most two workers could ingest over one on a machine of ``cores`` cores at the CPU
    cost per edge measured with two: the workers, broker and publisher kept ``ours`` cores
    busy at the two-worker rate, so every core busy would carry ``cores / ours`` times that
    rate (and two workers at most twice one). Close to the measured ratio, it says the
    machine's cores were the limit; well above it, something else was. Load from other
    processes lowers it further. ``None`` without the rates or the CPU figures."""
    r1, r2 = one.items_per_second, two.items_per_second
    ours = [share for name, share in two.cpu_share.items() if name not in _NOT_OURS]
    if not cores or not r1 or not r2 or not ours or None in ours:
        return None
    busy = sum(share or 0.0 for share in ours)
    return None if busy <= 0 else min(2.0, cores / busy * r2 / r1)


def scale_rows(figures: list[ScaleFigures], cores: int | None = None) -> list[Row]:
    """The ingest rate with one and with two worker processes over all their runs
    (:func:`combined_runs`), and their ratio, with the ceiling the machine's cores put on that
    ratio (:func:`scale_ceiling`)."""
    rows = []
    both: list[ScaleFigures | None] = [combined_runs(figures, w) for w in (1, 2)]
    for workers, f in zip((1, 2), both, strict=True):
        key = f"ingest_{workers}_worker{'s' if workers > 1 else ''}"
        runs = sum(1 for g in figures if g.workers == workers)
        items = f"{f.items:,} edge upserts" if f is not None else "no run"
        label = (
            f"ingest, {workers} worker process{'es' if workers > 1 else ''} "
            f"({f.partitions if f else '-'} partitions, {items}, {runs} run{'s' * (runs != 1)})"
        )
        if f is None or f.items_per_second is None:
            rows.append(_failed(key, label))
            continue
        rate = f.items_per_second
        rows.append(Row(key, label, format_rate(rate), NONE, NOT_APPLICABLE, rate, "items/s"))
    one, two = both
    r1 = one.items_per_second if one is not None else None
    r2 = two.items_per_second if two is not None else None
    ratio = None if r1 is None or r2 is None or r1 <= 0 else r2 / r1
    ceiling = None if one is None or two is None else scale_ceiling(one, two, cores)
    figure = NONE if ratio is None else f"{ratio:.2f}x"
    if ratio is not None and ceiling is not None:
        figure += f" (this machine's CPU allows {ceiling:.2f}x)"
    label = "scale-out: ingest rate 2 workers / 1 worker"
    rows.append(Row("scale_out_ratio", label, figure, _SCALE.text, _SCALE.verdict(ratio), ratio))
    if ceiling is not None:
        label = f"scale-out ceiling: {cores} cores all busy at the CPU per edge of 2 workers"
        figure = f"{ceiling:.2f}x"
        rows.append(Row("scale_out_ceiling", label, figure, NONE, NOT_APPLICABLE, ceiling))
    return rows


def scale_notes(figures: list[ScaleFigures]) -> list[str]:
    """How long each group took to settle and ``stats`` to confirm the ingest; failures."""
    notes = []
    for run, f in enumerate(figures, 1):
        who = f"scale-out run {run}, {f.workers} worker(s)"
        if f.error:
            notes.append(f"{who} failed: {f.error}")
        else:
            notes.append(
                f"{who}: group settled {format_seconds(f.group_settle_seconds)} after start; "
                f"stats showed every edge {format_seconds(f.stats_confirm_seconds)} after "
                "the last ack (not counted in the rate)"
            )
            shares = ", ".join(f"{k} {v:.0%}" for k, v in f.cpu_share.items() if v is not None)
            if shares:
                notes.append(f"{who}: CPU during the ingest, share of one core: {shares}")
    return notes
