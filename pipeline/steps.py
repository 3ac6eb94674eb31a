"""The internal steps a routed chunk part carries to the partition that applies them.

A step is a plain tuple whose first element is a :class:`StepKind`. A :class:`Part` is the
list of steps for one graph partition plus what is needed to acknowledge it; parts travel
as msgpack arrays on the internal apply topic, so the encoding is compact and positional.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import msgpack

__all__ = ["PART_FORMAT_VERSION", "Part", "Step", "StepKind", "decode_part", "encode_part"]

PART_FORMAT_VERSION = 1


class StepKind(IntEnum):
    """What one step does at the partition that receives it."""

    NODE_UPSERT = 0  # (kind, id, labels, props): owner merges labels and props
    NODE_ENSURE = 1  # (kind, id): owner creates a bare node if missing
    OUT_UPSERT = 2  # (kind, src, type, dst, props): src's owner stores the edge and its props
    IN_UPSERT = 3  # (kind, dst, type, src): dst's owner stores the reverse entry
    OUT_DELETE = 4  # (kind, src, type, dst)
    IN_DELETE = 5  # (kind, dst, type, src)
    NODE_DELETE = 6  # (kind, id): sent to every partition; each drops what touches the node
    STANDING_PUT = 7  # (kind, standing_id, pattern): sent to every partition
    STANDING_DEL = 8  # (kind, standing_id): sent to every partition
    MATCH_CONFIRM = 9  # (kind, node_id, label, match): owner emits match if node has label


Step = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Part:
    """The steps of one chunk that one graph partition applies, in input order."""

    chunk_id: str | None
    index: int
    count: int
    ack: bool
    encoding: str
    source: tuple[str, int, int]
    steps: list[Step]


def encode_part(part: Part) -> bytes:
    """Encode a part for the internal apply topic."""
    return msgpack.packb(
        [
            PART_FORMAT_VERSION,
            part.chunk_id,
            part.index,
            part.count,
            part.ack,
            part.encoding,
            list(part.source),
            part.steps,
        ],
        use_bin_type=True,
    )


def decode_part(raw: bytes) -> Part:
    """Decode a part; raises ``ValueError`` for anything :func:`encode_part` did not write."""
    try:
        doc: Any = msgpack.unpackb(raw, raw=False, use_list=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise ValueError(f"undecodable apply part: {type(exc).__name__}") from None
    if not isinstance(doc, tuple) or len(doc) != 8 or doc[0] != PART_FORMAT_VERSION:
        raise ValueError("not an apply part of a known format")
    _, chunk_id, index, count, ack, encoding, source, steps = doc
    return Part(
        chunk_id=chunk_id,
        index=int(index),
        count=int(count),
        ack=bool(ack),
        encoding=str(encoding),
        source=(str(source[0]), int(source[1]), int(source[2])),
        steps=list(steps),  # arrays decode as tuples: each step is already a tuple
    )
