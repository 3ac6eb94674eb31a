"""Wire contracts of the engine's public topics: codecs, ops, queries, validation and errors.

Pure Python (no Kafka or Faust): everything here turns bytes into validated values and
values back into bytes, and describes rejections in the shapes clients see.
"""

from schemas.codec import (
    Encoding,
    content_type_of,
    decode,
    detect_encoding,
    encode,
    response_encoding,
)
from schemas.errors import (
    ERROR_CODE_DOCS,
    ErrorCode,
    ErrorEvent,
    WireError,
    WireErrorException,
    dlq_headers,
)
from schemas.limits import Limits
from schemas.ops import (
    Chunk,
    DeleteEdge,
    DeleteNode,
    Op,
    UpsertEdge,
    UpsertNode,
    chunk_to_wire,
    op_to_wire,
)
from schemas.queries import (
    QUERY_TYPES,
    Param,
    Query,
    QueryRejection,
    QueryType,
    error_result,
    ok_result,
    parse_query,
    parse_query_obj,
    register_query_type,
)
from schemas.settings import Settings, SettingsError
from schemas.standing import PATTERN_KINDS, STANDING_QUERY_TYPES, validate_pattern
from schemas.validation import parse_chunk, parse_op, parse_ops

__all__ = [
    "ERROR_CODE_DOCS",
    "PATTERN_KINDS",
    "QUERY_TYPES",
    "STANDING_QUERY_TYPES",
    "Chunk",
    "DeleteEdge",
    "DeleteNode",
    "Encoding",
    "ErrorCode",
    "ErrorEvent",
    "Limits",
    "Op",
    "Param",
    "Query",
    "QueryRejection",
    "QueryType",
    "Settings",
    "SettingsError",
    "UpsertEdge",
    "UpsertNode",
    "WireError",
    "WireErrorException",
    "chunk_to_wire",
    "content_type_of",
    "decode",
    "detect_encoding",
    "dlq_headers",
    "encode",
    "error_result",
    "ok_result",
    "op_to_wire",
    "parse_chunk",
    "parse_op",
    "parse_ops",
    "parse_query",
    "parse_query_obj",
    "register_query_type",
    "response_encoding",
    "validate_pattern",
]
