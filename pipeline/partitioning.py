"""Which partition owns a node: a stable hash of its id, the same in every process."""

from __future__ import annotations

import zlib

__all__ = ["partition_for"]


def partition_for(node_id: str, partitions: int) -> int:
    """The partition that owns ``node_id`` among ``partitions`` (CRC-32 of its UTF-8 bytes)."""
    return zlib.crc32(node_id.encode("utf-8")) % partitions
