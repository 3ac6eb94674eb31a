"""When worker acks complete a chunk: parts, spawned parts, duplicates and rejection."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from project_engine.sdk.acks import AckState
from project_engine.sdk.errors import ChunkRejected, QueryError


def applied(part: str, parts: int, spawned: list[str] | None = None) -> dict[str, Any]:
    return {
        "chunk_id": "c-1",
        "status": "applied",
        "part": part,
        "parts": parts,
        "spawned": spawned or [],
    }


def test_chunk_is_applied_once_every_part_has_arrived() -> None:
    state = AckState("c-1")
    state.add(applied("1", 3))
    state.add(applied("0", 3))
    assert not state.done
    assert state.missing == {"2"}
    state.add(applied("2", 3))
    assert state.applied and state.done


def test_spawned_parts_must_arrive_too() -> None:
    state = AckState("c-1")
    state.add(applied("0", 1, spawned=["0.a", "0.b"]))
    assert not state.done
    assert state.missing == {"0.a", "0.b"}
    state.add(applied("0.a", 1, spawned=["0.a.x"]))
    state.add(applied("0.b", 1))
    assert state.missing == {"0.a.x"}
    state.add(applied("0.a.x", 1))
    assert state.applied


def test_spawned_part_arriving_before_its_parent_still_counts() -> None:
    state = AckState("c-1")
    state.add(applied("0.a", 1))
    assert not state.done
    state.add(applied("0", 1, spawned=["0.a"]))
    assert state.applied


def test_duplicate_acks_do_not_complete_a_chunk_early() -> None:
    state = AckState("c-1")
    for _ in range(5):
        state.add(applied("0", 2))
    assert not state.done
    state.add(applied("1", 2))
    assert state.applied


@given(st.permutations(["0", "1", "2", "0.x", "2.y", "2.y.z"]), st.data())
def test_completion_does_not_depend_on_arrival_order(order: list[str], data: Any) -> None:
    spawned = {"0": ["0.x"], "2": ["2.y"], "2.y": ["2.y.z"]}
    acks = [applied(p, 3, spawned.get(p)) for p in order]
    dupes = data.draw(st.lists(st.sampled_from(acks), max_size=4))
    state = AckState("c-1")
    for i, ack in enumerate(acks):
        state.add(ack)
        for d in dupes:
            if d is ack:
                state.add(d)
        assert state.done == (i == len(acks) - 1)


def test_rejected_ack_ends_the_chunk_with_the_error() -> None:
    state = AckState("c-1")
    state.add(applied("0", 2))
    state.add(
        {
            "chunk_id": "c-1",
            "status": "rejected",
            "error": {"code": "invalid_op", "message": "bad id", "item_index": 4},
        }
    )
    assert state.done and not state.applied
    assert isinstance(state.rejection, ChunkRejected)
    assert (state.rejection.code, state.rejection.item_index) == ("invalid_op", 4)
    assert "item 4" in str(state.rejection)
    state.add(applied("1", 2))
    assert not state.applied


def test_rejection_without_details_still_rejects() -> None:
    state = AckState("c-1")
    state.add({"chunk_id": "c-1", "status": "rejected"})
    assert state.rejection is not None and state.rejection.item_index is None


def test_malformed_acks_are_ignored_not_fatal() -> None:
    state = AckState("c-1")
    state.add({"status": "applied", "part": "0"})  # no parts
    state.add({"status": "applied", "part": "0", "parts": "1"})
    state.add({"status": "weird"})
    assert state.ignored == 3
    assert not state.done


def test_query_error_reply_keeps_code_message_and_retryable() -> None:
    err = QueryError.from_reply(
        {"query_id": "q", "status": "error", "error": {"code": "bad_arguments", "message": "m"}}
    )
    assert (err.code, err.message, err.retryable) == ("bad_arguments", "m", False)
    unavailable = QueryError.from_reply(
        {"status": "error", "error": {"code": "unavailable", "message": "rebalancing"}}
    )
    assert unavailable.retryable
    explicit = QueryError.from_reply(
        {"status": "error", "error": {"code": "timeout", "message": "", "retryable": False}}
    )
    assert not explicit.retryable
    assert QueryError.from_reply({"status": "what"}).code == "bad_reply"
