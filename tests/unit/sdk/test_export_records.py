"""Export files: records survive both formats byte for byte; bad files and times are named."""

from __future__ import annotations

import io
import json

import msgpack
import pytest

from project_engine.sdk.log_io import PartitionRange
from project_engine.sdk.log_records import (
    LogRecord,
    parse_until,
    read_records,
    target_partition,
    write_record,
)

RECORDS = [
    LogRecord("in", 0, 5, 1_700_000_000_000, b"k\xff", b"\x00\x81raw", (("ack", b"1"),)),
    LogRecord("in", 0, 6, 1_700_000_000_001, None, None, ()),
    LogRecord("in", 3, 0, 1, b"", b"{}", (("h", b""), ("h", b"\xfe"))),
]


@pytest.mark.parametrize("fmt", ["jsonl", "msgpack"])
def test_records_read_back_identical_in_both_formats_with_format_detection(fmt: str) -> None:
    buf = io.BytesIO()
    for record in RECORDS:
        write_record(buf, record, fmt)  # type: ignore[arg-type]
    data = buf.getvalue()
    assert list(read_records(io.BytesIO(data))) == RECORDS
    assert list(read_records(io.BytesIO(data), fmt)) == RECORDS  # type: ignore[arg-type]


def test_json_lines_carry_bytes_as_base64_and_keep_header_order_and_duplicates() -> None:
    buf = io.BytesIO()
    write_record(buf, RECORDS[2], "jsonl")
    doc = json.loads(buf.getvalue())
    assert doc == {
        "topic": "in",
        "partition": 3,
        "offset": 0,
        "timestamp": 1,
        "key": "",
        "headers": [["h", ""], ["h", "/g=="]],
        "value": "e30=",
    }


def test_a_bad_line_is_named_by_its_number() -> None:
    good = json.dumps(RECORDS[1].to_map(text=True)).encode()
    bad = json.dumps({"partition": 0, "offset": "x"}).encode()
    with pytest.raises(ValueError, match="line 3"):
        list(read_records(io.BytesIO(good + b"\n\n" + bad + b"\n"), "jsonl"))
    with pytest.raises(ValueError, match="invalid base64"):
        doc = RECORDS[0].to_map(text=True) | {"value": "not base64!"}
        list(read_records(io.BytesIO(json.dumps(doc).encode()), "jsonl"))


def test_a_bad_msgpack_record_is_named_by_its_position() -> None:
    data = msgpack.packb(RECORDS[0].to_map(text=False)) + msgpack.packb([1, 2])
    with pytest.raises(ValueError, match="record 2: not a map"):
        list(read_records(io.BytesIO(data)))


def test_until_takes_milliseconds_or_an_iso_time_defaulting_to_utc() -> None:
    assert parse_until(None, None) is None
    assert parse_until(1234, None) == 1234
    assert parse_until(None, "1970-01-01T00:00:01.5Z") == 1500
    assert parse_until(None, "1970-01-01T00:00:02") == 2000
    assert parse_until(None, "1970-01-01T01:00:00+01:00") == 0
    with pytest.raises(ValueError, match="not an ISO 8601"):
        parse_until(None, "yesterday")
    with pytest.raises(ValueError, match="not both"):
        parse_until(1, "1970-01-01")
    with pytest.raises(ValueError, match="negative"):
        parse_until(-1, None)


def test_records_keep_their_partition_when_it_exists_else_fold_whole_partitions() -> None:
    assert [target_partition(p, 4) for p in range(4)] == [0, 1, 2, 3]
    assert [target_partition(p, 3) for p in range(6)] == [0, 1, 2, 0, 1, 2]
    with pytest.raises(ValueError):
        target_partition(0, 0)


def test_a_range_counts_records_lost_to_retention() -> None:
    assert PartitionRange(0, start=0, end=10, requested=0).lost == 0
    assert PartitionRange(0, start=40, end=90, requested=0).lost == 40
    assert PartitionRange(0, start=50, end=90, requested=50).count == 40
    assert PartitionRange(0, start=100, end=30, requested=0).lost == 30
