"""An answer too large for one Kafka message becomes a clear error, never a silent timeout."""

from __future__ import annotations

import pytest

from project_engine.sdk import Engine, QueryError

pytestmark = pytest.mark.integration


async def test_answer_larger_than_max_message_bytes_is_a_limit_error(engine: Engine) -> None:
    long = "n" * 60
    hub = [
        {"op": "upsert_edge", "src": "hub", "dst": f"{long}{i:06d}", "type": "E"}
        for i in range(20_000)
    ]
    await engine.add_graph(hub, wait=True, timeout=120, ordered=False)
    with pytest.raises(QueryError) as info:
        await engine.query({"type": "neighbors", "id": "hub"}, timeout=30)
    assert info.value.code == "limit_exceeded"
    assert "max_message_bytes" in info.value.message
    small = await engine.query({"type": "neighbors", "id": "hub", "limit": 3}, timeout=30)
    assert small["neighbors"] == [f"{long}{i:06d}" for i in range(3)]
