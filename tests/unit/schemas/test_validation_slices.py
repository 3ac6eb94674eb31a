"""Validating a chunk a slice of items at a time gives exactly what validating it whole does;
only the pauses between slices differ."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from schemas.errors import ErrorCode, WireError
from schemas.limits import Limits
from schemas.ops import Chunk
from schemas.validation import parse_chunk, parse_chunk_in_slices
from tests.support.stepwise import drive

LIMITS = Limits()
MSGPACK = "application/msgpack"


def chunk(items: list[Any]) -> bytes:
    return msgpack.packb({"chunk_id": "c1", "items": items})


def edges(count: int) -> list[dict[str, Any]]:
    return [
        {"op": "upsert_edge", "src": f"a{i}", "dst": f"b{i}", "type": "T"} for i in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "slice_size", "pauses"),
    [(1000, 250, 3), (1001, 250, 4), (10, 250, 0), (0, 250, 0), (1000, None, 0)],
)
def test_valid_chunk_pauses_between_slices_and_equals_the_whole_parse(
    count: int, slice_size: int | None, pauses: int
) -> None:
    raw = chunk(edges(count))
    got, paused = drive(parse_chunk_in_slices(raw, MSGPACK, LIMITS, slice_size))
    assert got == parse_chunk(raw, MSGPACK, LIMITS)
    assert isinstance(got, Chunk) and len(got.items) == count
    assert paused == pauses


def test_an_error_in_a_later_slice_names_its_index_and_stops_there() -> None:
    items = edges(900)
    items[613]["src"] = ""
    raw = chunk(items)
    got, paused = drive(parse_chunk_in_slices(raw, MSGPACK, LIMITS, 250))
    assert got == parse_chunk(raw, MSGPACK, LIMITS)
    assert isinstance(got, WireError) and got.item_index == 613 and got.chunk_id == "c1"
    assert paused == 2  # validated slices 0-249, 250-499, then failed inside 500-749


@pytest.mark.parametrize("raw", [b"\xc1", b"", msgpack.packb({"items": 5}), b"{not json"])
def test_undecodable_or_malformed_messages_end_without_a_pause(raw: bytes) -> None:
    got, paused = drive(parse_chunk_in_slices(raw, None, LIMITS, 250))
    assert isinstance(got, WireError) and got.code is not ErrorCode.INTERNAL
    assert got == parse_chunk(raw, None, LIMITS)
    assert paused == 0
