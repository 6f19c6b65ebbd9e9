"""Outbox retention: delivered rows go, pending rows stay forever (BC-17)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from functools import partial

from edge_service import outbox
from tests.edge_service.conftest import Edge
from tests.edge_service.helpers import (
    change_ids,
    create,
    outbox_states,
    query,
    sync_until_drained,
)


async def test_bc17_purge_keeps_pending_and_removes_old_delivered(edge: Edge) -> None:
    """
    Delivered rows go after 7 days, rejected after 30, pending never (BC-17).

    origin_seq keeps rising after a purge: numbers are never reused.
    """
    await create(edge, "delivered")
    await create(edge, "refused")
    edge.cloud.reject_ids.add((await change_ids(edge))[1])
    await sync_until_drained(edge)
    await create(edge, "waiting")
    purge = edge.runtime.sync_loop.purge
    now = datetime.now(UTC)

    await purge(now + timedelta(days=6))
    after_six_days = await outbox_states(edge)
    await purge(now + timedelta(days=8))
    after_eight_days = await outbox_states(edge)
    await purge(now + timedelta(days=3650))
    after_ten_years = await outbox_states(edge)
    await create(edge, "later")

    assert after_six_days == {
        "delivered#1": "applied",
        "refused#2": "rejected",
        "waiting#3": "pending",
    }
    assert after_eight_days == {"refused#2": "rejected", "waiting#3": "pending"}
    assert after_ten_years == {"waiting#3": "pending"}
    assert (await outbox_states(edge))["later#4"] == "pending"


def _fill_delivered(conn: sqlite3.Connection, count: int) -> None:
    conn.execute(
        "INSERT INTO reports (report_id, title, content, classification, deleted, "
        "clock, created_by, created_at, updated_by, updated_at, sync_state) "
        "VALUES ('bulk', 't', '', 'CUI', 0, '{}', 'a', '2026-01-01 00:00:00.000000', "
        "'a', '2026-01-01 00:00:00.000000', 'synced')"
    )
    conn.executemany(
        "INSERT INTO outbox (change_id, report_id, payload, state, attempts, "
        "created_at, answered_at) VALUES (?, 'bulk', '{}', 'applied', 1, "
        "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')",
        ((f"00000000-0000-0000-0000-{n:012d}",) for n in range(count)),
    )


async def test_drain_query_stays_fast_with_100k_delivered_rows(edge: Edge) -> None:
    """The pending-change query uses the (state, origin_seq) index past 100k rows."""
    await edge.runtime.writer.run(partial(_fill_delivered, count=100_000))
    await create(edge, "fresh")

    plan = await query(
        edge,
        "EXPLAIN QUERY PLAN SELECT origin_seq FROM outbox "
        "WHERE state = 'pending' AND origin_seq > 0 ORDER BY origin_seq LIMIT 200",
    )
    started = time.perf_counter()
    pending = await edge.runtime.reader.run(
        partial(outbox.pending_changes, after=0, limit=200)
    )
    elapsed = time.perf_counter() - started

    assert any("ix_outbox_state_origin_seq" in row[3] for row in plan)
    assert [c.report_id for c in pending] == ["fresh"]
    assert elapsed < 0.05
