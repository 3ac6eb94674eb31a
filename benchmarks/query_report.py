"""Results of one query-benchmark run: the printed tables and the JSON document (pure).

Two tables. The latency table has one row per floor (echo round trips) and per query type:
p50/p95/p99 in ms cold and cached, p99 over the sequential floor's p99, the cached
speed-up (cold p50 / cached p50), the mean time per query inside the worker's query agent,
how many timed cached queries were answered from the cache, and the error count. The load
table has one row per rate measurement: callers or offered rate, answers per second,
p50/p95/p99, p99 over the matching floor's p99, the mean time inside the worker per query
of each type of the mix (node/neighbors), and the p50 of the two parts of a round trip,
split where the worker sent the answer (:mod:`benchmarks.query_worker`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.query_stats import LatencySummary, Samples, ratio

__all__ = ["FLOOR", "LatencyRow", "LoadRow", "QueryReport"]

FLOOR = "floor"  # key of the sequential echo floor every latency row is compared with
LEGEND = (
    "floor: a plain aiokafka request/reply echo doing no work, lingering as the engine does;"
    " 'interleaved': one echo before each cold query, so both see the same machine load",
    "p50 to answer / then to client: the round trip split where the worker created its"
    " answer record (Kafka CreateTime, 1 ms resolution)",
)


@dataclass
class LatencyRow:
    """Sequential round trips of one kind: cold always, cached for query types."""

    key: str
    label: str
    cold: Samples
    cached: Samples | None = None
    cache_served: int | None = None  # timed cached queries the SDK saw served from the cache
    worker_cold: float | None = None  # mean seconds inside the worker's query agent
    worker_cached: float | None = None
    floor: bool = False
    client_cached: Samples | None = None  # repeats answered by the SDK's own cache
    client_served: int | None = None  # of those, the ones the SDK counted as its hits

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "cold": self.cold.to_json()}
        if self.cached is not None:
            out["cached"] = self.cached.to_json()
            out["cached_served_from_cache"] = self.cache_served
        if self.client_cached is not None:
            out["client_cached"] = self.client_cached.to_json()
            out["client_cached_served_from_cache"] = self.client_served
        out["worker_mean_ms"] = {"cold": _ms(self.worker_cold), "cached": _ms(self.worker_cached)}
        return out


@dataclass
class LoadRow:
    """Round trips under load: ``load`` says how (callers, or an offered rate)."""

    key: str
    label: str
    load: str
    samples: Samples
    floor_key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "load": self.load,
            "floor": self.floor_key,
            **self.samples.to_json(),
            **self.details,
        }


@dataclass
class QueryReport:
    machine: dict[str, Any]
    params: dict[str, Any]
    latency: list[LatencyRow] = field(default_factory=list)
    loads: list[LoadRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cpu: dict[str, dict[str, float | None]] = field(default_factory=dict)  # what ran -> shares

    def row(self, key: str) -> LatencyRow | None:
        return next((r for r in self.latency if r.key == key), None)

    def load(self, key: str) -> LoadRow | None:
        return next((r for r in self.loads if r.key == key), None)

    def floor_p99(self, key: str = FLOOR) -> float | None:
        """p99 (seconds) of the floor ``key``: a latency row's or a load row's samples."""
        row, load = self.row(key), self.load(key)
        samples = row.cold if row is not None else load.samples if load is not None else None
        summary = samples.summary() if samples is not None else None
        return summary.p99 if summary is not None else None

    def latency_table(self) -> str:
        head = (
            "query", "n", "cold p50", "p95", "p99", "cached p50", "p95", "p99",
            "cold p99÷floor", "cached p99÷floor", "speed-up p50", "worker ms cold", "cached",
            "from cache", "client-cache p50", "speed-up", "errors",
        )  # fmt: skip
        floor = self.floor_p99()
        rows: list[tuple[str, ...]] = [head]
        for r in sorted(self.latency, key=lambda r: not r.floor):  # the floors first
            cold, cached = r.cold.summary(), r.cached.summary() if r.cached else None
            rows.append(
                (
                    r.label,
                    str(cold.count if cold else 0),
                    *_percentiles(cold),
                    *_percentiles(cached),
                    _fmt(ratio(cold.p99 if cold else None, floor), "x"),
                    _fmt(ratio(cached.p99 if cached else None, floor), "x"),
                    _fmt(ratio(cold.p50 if cold else None, cached.p50 if cached else None), "x"),
                    _fmt(_ms(r.worker_cold)),
                    _fmt(_ms(r.worker_cached)),
                    _served(r),
                    *_client_columns(r, cold.p50 if cold else None),
                    _errors(r.cold, r.cached),
                )
            )
        return _render(rows)

    def load_table(self) -> str:
        head = ("load", "how", "seconds", "answers", "answers/s", "p50", "p95", "p99",
                "p99÷floor", "worker ms", "p50 to answer", "then to client", "errors")  # fmt: skip
        rows: list[tuple[str, ...]] = [head]
        for r in self.loads:
            s = r.samples.summary()
            floor = self.floor_p99(r.floor_key) if r.floor_key else None
            rate = r.samples.per_second
            rows.append(
                (
                    r.label,
                    r.load,
                    f"{r.samples.seconds:.1f}",
                    f"{len(r.samples.latencies):,}",
                    "-" if rate is None else f"{rate:,.0f}",
                    *_percentiles(s),
                    "-" if r.floor_key == r.key else _fmt(ratio(s.p99 if s else None, floor), "x"),
                    _worker_means(r.details.get("worker_mean_ms")),
                    *_split(r.details.get("split")),
                    _errors(r.samples),
                )
            )
        return _render(rows)

    def table(self) -> str:
        """Both tables (latencies in ms), then the machine and the notes."""
        m = self.machine
        lines = [
            "latency per query, ms (sequential; cold = evaluated afresh, cached = repeated)",
            self.latency_table(),
            "",
            "under load (cold)",
            self.load_table(),
            "",
            f"machine: {m.get('cores')} cores, {m.get('memory_gib')} GiB, "
            f"Python {m.get('python')}, Kafka {m.get('kafka')}, aiokafka {m.get('aiokafka')}, "
            f"faust-streaming {m.get('faust_streaming')}; engine commit "
            f"{str(self.params.get('commit'))[:12]}",
            *LEGEND,
            *self.notes,
            *self.cpu_lines(),
        ]
        return "\n".join(lines)

    def cpu_lines(self) -> list[str]:
        """CPU time per process over each measured span, as a share of one core."""
        if not self.cpu:
            return []
        lines = ["CPU, share of one core (1.00 = one core busy all the time):"]
        for what, shares in self.cpu.items():
            parts = [f"{name} {v:.2f}" for name, v in shares.items() if v is not None]
            lines.append(f"  {what}: {', '.join(parts)}")
        return lines

    def to_json(self) -> dict[str, Any]:
        floor = self.floor_p99()
        ratios: dict[str, Any] = {}
        for r in self.latency:
            cold, cached = r.cold.summary(), r.cached.summary() if r.cached else None
            client = r.client_cached.summary() if r.client_cached else None
            ratios[r.key] = {
                "cold_p99_vs_floor_p99": _round(ratio(cold.p99 if cold else None, floor)),
                "cached_p99_vs_floor_p99": _round(ratio(cached.p99 if cached else None, floor)),
                "cold_p50_vs_cached_p50": _round(
                    ratio(cold.p50 if cold else None, cached.p50 if cached else None)
                ),
                "cold_p50_vs_client_cached_p50": _round(
                    ratio(cold.p50 if cold else None, client.p50 if client else None)
                ),
            }
        for load in self.loads:
            s = load.samples.summary()
            base = self.floor_p99(load.floor_key) if load.floor_key else None
            ratios[load.key] = {"p99_vs_floor_p99": _round(ratio(s.p99 if s else None, base))}
        return {
            "machine": self.machine,
            "params": self.params,
            "latency": {r.key: r.to_json() for r in self.latency},
            "load": {r.key: r.to_json() for r in self.loads},
            "ratios": ratios,
            "cpu_share_of_one_core": self.cpu,
            "notes": self.notes,
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000 * seconds, 3)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _fmt(value: float | None, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.1f}{suffix}" if value >= 100 else f"{value:.2f}{suffix}"


def _percentiles(s: LatencySummary | None) -> tuple[str, str, str]:
    if s is None:
        return ("-", "-", "-")
    return (_fmt(1000 * s.p50), _fmt(1000 * s.p95), _fmt(1000 * s.p99))


def _errors(*samples: Samples | None) -> str:
    codes: dict[str, int] = {}
    for s in samples:
        for code, n in (s.errors if s is not None else {}).items():
            codes[code] = codes.get(code, 0) + n
    return ", ".join(f"{n} {code}" for code, n in sorted(codes.items())) or "0"


def _client_columns(r: LatencyRow, cold_p50: float | None) -> tuple[str, str]:
    """The SDK-cache p50 in ms (with hits of timed repeats) and cold p50 over it."""
    client = r.client_cached.summary() if r.client_cached else None
    if r.client_cached is None or client is None:
        return "-", "-"
    served = f"{r.client_served}/{len(r.client_cached.latencies)}"
    return f"{client.p50 * 1000:.3f} ({served})", _fmt(ratio(cold_p50, client.p50), "x")


def _served(r: LatencyRow) -> str:
    """Timed cached queries the SDK saw answered from the cache, of those answered."""
    if r.cached is None or r.cache_served is None:
        return "-"
    return f"{r.cache_served}/{len(r.cached.latencies)}"


def _split(split: Any) -> tuple[str, str]:
    """p50 ms from sending a query until the worker sent its answer, and from then on."""
    if not isinstance(split, dict):
        return ("-", "-")
    return (_p50_ms(split.get("to_answer")), _p50_ms(split.get("answer_to_client")))


def _p50_ms(summary: Any) -> str:
    return _fmt(summary.get("p50_ms")) if isinstance(summary, dict) else "-"


def _worker_means(means: Any) -> str:
    """``{"node": 0.4, "neighbors": 0.5}`` (ms) as ``0.40/0.50``."""
    if not isinstance(means, dict) or not means:
        return "-"
    return "/".join(_fmt(v) if isinstance(v, int | float) else "-" for v in means.values())


def _render(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
