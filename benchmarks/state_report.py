"""Results of the state benchmark: its figures, the targets they are judged by, the table, the JSON.

Pure (no Kafka, no processes, no clocks): the per-edge arithmetic, the linear extrapolation,
the verdicts and the rendering are tested on their own. :mod:`benchmarks.state_phases` fills
:class:`StoreFigures` and :class:`ScaleFigures`; :mod:`benchmarks.state_rows` turns them into
:class:`Row` objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks.growth import SizeTiming

__all__ = [
    "MET",
    "MISSED",
    "NOT_APPLICABLE",
    "Row",
    "ScaleFigures",
    "StateReport",
    "StoreFigures",
    "Target",
    "bytes_per_edge",
    "extrapolated_rss",
    "format_bytes",
    "format_rate",
    "format_seconds",
    "format_table",
]

MET = "met"
MISSED = "MISSED"
NOT_APPLICABLE = "n/a"
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

Relation = Literal["<=", "<", ">="]


@dataclass(frozen=True)
class Target:
    """``value <relation> limit``, stated for a graph of ``at_edges`` edges when given.

    A time or size measured on a smaller graph than ``at_edges`` can only miss such a target
    (a larger graph does not recover faster or take less memory), never meet it.
    """

    relation: Relation
    limit: float
    text: str
    at_edges: int | None = None

    def holds(self, value: float) -> bool:
        if self.relation == "<=":
            return value <= self.limit
        if self.relation == "<":
            return value < self.limit
        return value >= self.limit

    def verdict(
        self, value: float | None, *, edges: int | None = None, lower_bound: bool = False
    ) -> str:
        """``met``, ``MISSED`` or ``n/a`` for ``value`` measured at ``edges`` edges.

        ``lower_bound`` says the true value is at least ``value`` (a wait that timed out).
        """
        if value is None:
            return NOT_APPLICABLE
        holds = self.holds(value)
        undersized = self.at_edges is not None and (edges is None or edges < self.at_edges)
        if self.relation == ">=":
            if lower_bound:
                return MET if holds else NOT_APPLICABLE
            return MET if holds else MISSED
        if not holds:
            return MISSED
        return NOT_APPLICABLE if lower_bound or undersized else MET


@dataclass(frozen=True)
class Row:
    """One line of the table; ``value`` is the figure as a number (None when not measured)."""

    key: str
    measurement: str
    figure: str
    target: str
    verdict: str
    value: float | None = None
    unit: str = ""


@dataclass
class StoreFigures:
    """What one store's phase measured: memory before and after ingest, then (unless the phase
    skips it) a restart."""

    store: str
    items: int  # edge upserts published
    edges: int  # distinct edges they made
    nodes: int
    rss_empty: int | None = None
    rss_loaded: int | None = None
    rss_peak: int | None = None
    ingest_seconds: float | None = None
    stop_seconds: float | None = None
    stop_exit_code: int | None = None
    ready_seconds: float | None = None
    recovered_seconds: float | None = None
    recovery_gave_up_after: float | None = None
    rss_recovered: int | None = None
    web_up_seconds: float | None = None
    error: str | None = None
    phase: str | None = None  # the phase's name where it is not the store's (rows, notes)
    # cost per chunk as the graph grew (the large phase): the timed windows at each size
    growth: list[SizeTiming] = field(default_factory=list)
    growth_window: int | None = None  # edges per window

    @property
    def name(self) -> str:
        return self.phase or self.store

    @property
    def label(self) -> str:
        """How rows and notes name the phase: ``memory store``, ``rocksdb store (<phase>)``."""
        return f"{self.store} store" if self.phase is None else f"{self.store} store ({self.phase})"

    @property
    def per_edge(self) -> float | None:
        if self.rss_loaded is None or self.rss_empty is None:
            return None
        return bytes_per_edge(self.rss_loaded, self.rss_empty, self.edges)

    @property
    def recovery_timed_out(self) -> bool:
        return self.recovered_seconds is None and self.recovery_gave_up_after is not None


@dataclass
class ScaleFigures:
    """Ingest of ``items`` edge upserts through ``workers`` worker processes, timed until
    every chunk was reported applied."""

    workers: int
    partitions: int
    items: int
    seconds: float | None = None
    stats_confirm_seconds: float | None = None  # from the last ack until stats showed all
    group_settle_seconds: float | None = None
    error: str | None = None
    # CPU time of each process (workers, broker, publisher, the whole machine) over the
    # timed ingest, as a share of one core (1.0 = one core fully busy)
    cpu_share: dict[str, float | None] = field(default_factory=dict)

    @property
    def items_per_second(self) -> float | None:
        return None if not self.seconds else self.items / self.seconds


def bytes_per_edge(rss_loaded: int, rss_empty: int, edges: int) -> float:
    """Resident bytes the loaded graph added, per edge."""
    if edges < 1:
        raise ValueError(f"need at least one edge, got {edges}")
    return (rss_loaded - rss_empty) / edges


def extrapolated_rss(rss_empty: int, per_edge: float, edges: int) -> float:
    """The RSS a worker would have at ``edges`` edges if memory grew linearly with them."""
    return rss_empty + per_edge * edges


def format_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    size = abs(n)
    if size >= GIB:
        return f"{n / GIB:.2f} GiB"
    if size >= MIB:
        return f"{n / MIB:.1f} MiB"
    if size >= KIB:
        return f"{n / KIB:.1f} KiB"
    return f"{n:.0f} B"


def format_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"


def format_rate(per_second: float | None) -> str:
    return "-" if per_second is None else f"{per_second:,.0f} items/s"


def format_table(rows: list[Row]) -> str:
    """Rows as aligned columns: measurement, figure, target, verdict."""
    lines = [("measurement", "figure", "target", "verdict")]
    lines += [(r.measurement, r.figure, r.target, r.verdict) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in lines
    ]
    out.insert(1, "-" * max(len(line) for line in out))
    return "\n".join(out)


@dataclass
class StateReport:
    """The whole run: where it ran, with which parameters, its figures, rows and notes."""

    machine: dict[str, Any]
    params: dict[str, Any]
    stores: list[StoreFigures] = field(default_factory=list)
    scale: list[ScaleFigures] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(f.error for f in self.stores) or any(f.error for f in self.scale)

    def table(self) -> str:
        m = self.machine
        footer = [
            f"machine: {m.get('cores')} cores, {m.get('memory_gib')} GiB, Python "
            f"{m.get('python')}, Kafka {m.get('kafka')}, faust-streaming "
            f"{m.get('faust_streaming')}; load average at start {m.get('load_average_at_start')}",
            *self.notes,
        ]
        return "\n".join([format_table(self.rows), "", *footer])

    def to_json(self) -> dict[str, Any]:
        stores = [{**asdict(f), "bytes_per_edge": f.per_edge} for f in self.stores]
        scale = [{**asdict(f), "items_per_second": f.items_per_second} for f in self.scale]
        return {
            "machine": self.machine,
            "params": self.params,
            "rows": [asdict(r) for r in self.rows],
            "stores": stores,
            "scale_out": scale,
            "notes": self.notes,
        }

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
