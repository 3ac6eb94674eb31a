"""Applying fetched changelog record sets to a mapping: latest value wins, ``None`` deletes."""

from __future__ import annotations

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from agents.changelog_reader import PartitionRead, apply_record_set


def _batch(base_offset: int, records: list[tuple[bytes | None, bytes | None]]) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for delta, (key, value) in enumerate(records):
        builder.append(delta, timestamp=None, key=key, value=value, headers=[])
    raw = bytearray(builder.build())
    raw[0:8] = base_offset.to_bytes(8, "big")  # the base offset is outside the batch's CRC
    return bytes(raw)


RECORDS = _batch(0, [(b"a", b"1"), (b"b", b"1"), (b"a", b"2")]) + _batch(
    3, [(b"b", None), (b"c", b"1"), (None, b"keyless")]
)


def test_applies_every_record_in_order() -> None:
    sink: dict[bytes, bytes] = {b"stale": b"x"}
    assert apply_record_set(RECORDS, 0, 6, sink) == (6, 5)
    assert sink == {b"stale": b"x", b"a": b"2", b"c": b"1"}


def test_skips_records_before_the_position() -> None:
    sink: dict[bytes, bytes] = {}
    assert apply_record_set(RECORDS, 4, 6, sink) == (6, 1)
    assert sink == {b"c": b"1"}


def test_stops_at_the_end_offset() -> None:
    sink: dict[bytes, bytes] = {}
    assert apply_record_set(RECORDS, 0, 4, sink) == (4, 4)
    assert sink == {b"a": b"2"}


def test_a_truncated_last_batch_is_left_for_the_next_fetch() -> None:
    sink: dict[bytes, bytes] = {}
    assert apply_record_set(RECORDS[:-5], 0, 6, sink) == (3, 3)
    assert sink == {b"a": b"2", b"b": b"1"}


def test_nothing_fetched_keeps_the_position() -> None:
    sink: dict[bytes, bytes] = {}
    assert apply_record_set(b"", 7, 9, sink) == (7, 0)
    assert apply_record_set(None, 7, 9, sink) == (7, 0)
    assert not sink


def test_last_offset_of_a_read() -> None:
    assert PartitionRead(0, 3, 10).last_offset == 9
    assert PartitionRead(0, 0, 0).last_offset == -1
