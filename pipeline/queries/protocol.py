"""The vocabulary shared by query runs and the partitions they ask.

It owns :class:`QueryLimits`, the three steps a run yields (:class:`Requests`,
:class:`Done`, :class:`Failed`), the :class:`QueryPlan` interface every query type
implements, the names of the request operations partitions answer, and the helpers that
word ``limit_exceeded`` failures the same way everywhere.

Requests and partials are plain dicts, lists, strings, ints and ``None`` so they travel as
msgpack unchanged. A partition that stops early because a budget ran out answers
:data:`OVER` instead of its partial.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from schemas.errors import ErrorCode

__all__ = [
    "INTERNAL",
    "LIMIT_EXCEEDED",
    "OVER",
    "UNAVAILABLE",
    "UNKNOWN_QUERY_TYPE",
    "Asks",
    "Done",
    "Failed",
    "PlanStep",
    "QueryLimits",
    "QueryPlan",
    "QueryStep",
    "Requests",
    "UnsupportedRequest",
    "is_over",
    "limit_failure",
]

LIMIT_EXCEEDED: str = ErrorCode.LIMIT_EXCEEDED.value
UNKNOWN_QUERY_TYPE: str = ErrorCode.UNKNOWN_QUERY_TYPE.value
INTERNAL: str = ErrorCode.INTERNAL.value
UNAVAILABLE: str = ErrorCode.UNAVAILABLE.value

OVER: dict[str, Any] = {"over": True}
"""The partial of a partition that stopped because the request's budget ran out."""


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """Bounds on the work and the answer of one query; exceeding one fails the query.

    ``max_visited``: distinct nodes one traversal may reach (the start included).
    ``max_frontier``: new nodes one traversal round may add.
    ``max_result``: ids or entries in one answer (subgraph: nodes plus edges).
    ``max_rounds``: request rounds of one query; ``None`` means the bound derived from the
    query's depth (khop: depth, shortest_path: max_depth, subgraph: depth + 1, others: 1),
    a number caps that bound further.
    """

    max_visited: int = 100_000
    max_frontier: int = 50_000
    max_result: int = 100_000
    max_rounds: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_visited", "max_frontier", "max_result", "max_rounds"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 1):
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")


@dataclass(frozen=True, slots=True)
class Requests:
    """What to ask which partition in this round; every request is a plain msgpack-able map."""

    round: int
    by_partition: dict[int, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Done:
    """The query's answer."""

    result: Any


@dataclass(frozen=True, slots=True)
class Failed:
    """The query cannot be answered: an error code of the wire contract and a message."""

    code: str
    message: str


QueryStep: TypeAlias = Requests | Done | Failed
Asks: TypeAlias = dict[int, dict[str, Any]]
PlanStep: TypeAlias = Asks | Done | Failed
"""What a plan returns: the next round's requests by partition, or the end of the query."""


class UnsupportedRequest(ValueError):
    """A partition was asked an operation it does not know."""


class QueryPlan(ABC):
    """How one query type runs: which partitions to ask, and what to make of their answers.

    A plan is driven by :class:`pipeline.queries.run.QueryRun`, which numbers the rounds,
    collects one partial per asked partition and hands them over all at once.
    """

    qtype: str = ""

    def __init__(self, args: Mapping[str, Any], partitions: int, limits: QueryLimits) -> None:
        self.args = args
        self.partitions = partitions
        self.limits = limits

    def rounds(self) -> int:
        """The most request rounds this query can need."""
        return 1

    @abstractmethod
    def start(self) -> PlanStep:
        """The requests of round 0 (or an immediate end)."""

    @abstractmethod
    def advance(self, partials: Mapping[int, Any]) -> PlanStep:
        """The partials of every partition asked in the last round, by partition."""


def is_over(partial: Any) -> bool:
    """True when a partition answered :data:`OVER`."""
    return isinstance(partial, dict) and partial.get("over") is True


def limit_failure(what: str, amount: int, unit: str, limit_name: str) -> Failed:
    """``limit_exceeded`` worded as ``"<what> more than <amount> <unit> (<limit_name>)"``."""
    return Failed(LIMIT_EXCEEDED, f"{what} more than {amount} {unit} ({limit_name})")
