"""The pure graph core: partition-local state, applying steps, routing chunks, evaluating queries.

Nothing in this package imports Faust or Kafka; the agents feed it decoded values and
write what it returns.
"""

from pipeline.graph import GraphPartition
from pipeline.partitioning import partition_for
from pipeline.routing import route_chunk
from pipeline.steps import Part, Step, StepKind, decode_part, encode_part
from pipeline.storage import TableWrite, decode_record, rebuild_partitions

__all__ = [
    "GraphPartition",
    "Part",
    "Step",
    "StepKind",
    "TableWrite",
    "decode_part",
    "decode_record",
    "encode_part",
    "partition_for",
    "rebuild_partitions",
    "route_chunk",
]
