"""Running one query: :class:`QueryRun`, the state machine a caller drives, and
:func:`run_locally`, which drives it over partitions held in this process
(:func:`run_stepwise`: the same, yielding between the steps of whole-partition scans).

A run is pure: :meth:`QueryRun.start` and :meth:`QueryRun.feed` return what to do next
(:class:`Requests` to send, or the final :class:`Done` / :class:`Failed`) and never do I/O,
so the same run works with partials arriving through Kafka from other workers or computed
in a local loop, and gives identical answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pipeline.graph import GraphPartition
from pipeline.queries.lookups import (
    DigestPlan,
    NeighborsPlan,
    NodePlan,
    StatsPlan,
    TopDegreePlan,
)
from pipeline.queries.partition import evaluate_stepwise
from pipeline.queries.paths import ShortestPathPlan
from pipeline.queries.protocol import (
    INTERNAL,
    LIMIT_EXCEEDED,
    UNAVAILABLE,
    UNKNOWN_QUERY_TYPE,
    Done,
    Failed,
    PlanStep,
    QueryLimits,
    QueryPlan,
    QueryStep,
    Requests,
)
from pipeline.queries.traversal import KhopPlan, SubgraphPlan
from pipeline.stepwise import Steps, run_through

__all__ = ["PLANS", "QueryRun", "run_locally", "run_stepwise"]

PLANS: Mapping[str, type[QueryPlan]] = {
    plan.qtype: plan
    for plan in (
        NodePlan,
        NeighborsPlan,
        StatsPlan,
        DigestPlan,
        TopDegreePlan,
        KhopPlan,
        ShortestPathPlan,
        SubgraphPlan,
    )
}
"""The plan of every query type this engine evaluates, by type name."""


class QueryRun:
    """One query's evaluation, round by round.

    ``start()`` gives round 0. Each round's :class:`Requests` holds one request per asked
    partition; ``feed`` takes their partials in any order and returns ``None`` until the
    last one of the round arrives, then the next step. Partials of other rounds, of
    partitions not asked this round, repeated ones and any after the end are ignored.
    ``touched`` holds every partition whose partial was taken. ``plans`` maps query types
    to the plans that evaluate them (:data:`PLANS`; a benchmark passes a baseline's).
    """

    def __init__(
        self,
        qtype: str,
        args: Mapping[str, Any],
        partitions: int,
        limits: QueryLimits | None = None,
        plans: Mapping[str, type[QueryPlan]] = PLANS,
    ) -> None:
        if partitions < 1:
            raise ValueError(f"a graph has at least one partition, got {partitions}")
        self.qtype = qtype
        self.args = args
        self.partitions = partitions
        self.limits = limits or QueryLimits()
        self.touched: set[int] = set()
        plan_type = plans.get(qtype)
        self._plan = None if plan_type is None else plan_type(args, partitions, self.limits)
        self._round = -1
        self._asked: dict[int, dict[str, Any]] = {}
        self._partials: dict[int, Any] = {}
        self._outcome: Done | Failed | None = None

    @property
    def outcome(self) -> Done | Failed | None:
        """The final step once the run has ended, else ``None``."""
        return self._outcome

    @property
    def round(self) -> int:
        """The round whose partials are awaited (-1 before the start)."""
        return self._round

    def start(self) -> QueryStep:
        if self._round >= 0 or self._outcome is not None:
            raise RuntimeError("a query run is started once")
        plan = self._plan
        if plan is None:
            return self._end(Failed(UNKNOWN_QUERY_TYPE, f"unknown query type {self.qtype!r}"))
        return self._next(plan.start)

    def feed(self, round: int, partition: int, partial: Any) -> QueryStep | None:
        if (
            self._outcome is not None
            or round != self._round
            or partition not in self._asked
            or partition in self._partials
        ):
            return None
        self._partials[partition] = partial
        self.touched.add(partition)
        if len(self._partials) < len(self._asked):
            return None
        partials = {p: self._partials[p] for p in sorted(self._partials)}
        self._partials = {}
        plan = self._plan
        assert plan is not None  # a plan-less run ends at start and asks nothing
        return self._next(lambda: plan.advance(partials))

    def _next(self, produce: Callable[[], PlanStep]) -> QueryStep:
        try:
            step = produce()
        except Exception as exc:  # a malformed partial must end the query, not the caller
            detail = f"{type(exc).__name__}: {exc}"[:200]
            return self._end(Failed(INTERNAL, f"{self.qtype} could not be evaluated ({detail})"))
        if isinstance(step, Done | Failed):
            return self._end(step)
        if not step:
            return self._end(Failed(INTERNAL, f"{self.qtype} asked no partition"))
        assert self._plan is not None
        max_rounds = self._plan.rounds()
        if self.limits.max_rounds is not None:
            max_rounds = min(max_rounds, self.limits.max_rounds)
        if self._round + 1 >= max_rounds:
            message = f"{self.qtype} needs more than {max_rounds} rounds (max_rounds)"
            return self._end(Failed(LIMIT_EXCEEDED, message))
        self._round += 1
        self._asked = step
        return Requests(self._round, step)

    def _end(self, outcome: Done | Failed) -> Done | Failed:
        self._outcome = outcome
        self._asked = {}
        self._partials = {}
        return outcome


def run_locally(run: QueryRun, graphs: Mapping[int, GraphPartition]) -> Done | Failed:
    """Drive ``run`` to its end, evaluating every request on ``graphs`` in this process."""
    return run_through(run_stepwise(run, graphs, None))


def run_stepwise(
    run: QueryRun, graphs: Mapping[int, GraphPartition], size: int | None
) -> Steps[Done | Failed]:
    """:func:`run_locally`, yielding between the steps of whole-partition scans
    (:func:`~pipeline.queries.partition.evaluate_stepwise` with ``size``)."""
    step = run.start()
    while isinstance(step, Requests):
        missing = sorted(set(step.by_partition) - set(graphs))
        if missing:
            return Failed(UNAVAILABLE, f"partition {missing[0]} is not held here")
        following: QueryStep | None = None
        for p in sorted(step.by_partition):
            try:
                partial = yield from evaluate_stepwise(
                    step.by_partition[p], graphs[p], run.limits, size
                )
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"[:200]
                return Failed(INTERNAL, f"partition {p} could not answer ({detail})")
            following = run.feed(step.round, p, partial)
        assert following is not None  # the last partial of a round always yields a step
        step = following
    return step
