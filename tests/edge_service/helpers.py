"""Small builders shared by the edge's tests."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from tests.edge_service.conftest import Edge

# Far above what a drained outbox needs with the tests' backoff of 10-50 ms.
DRAIN_SECONDS = 5.0


def report_body(report_id: str, **fields: Any) -> dict[str, Any]:
    """Return a valid ReportCreate body, with *fields* overriding the defaults."""
    body: dict[str, Any] = {
        "report_id": report_id,
        "title": "Convoy sighted",
        "content": "Three trucks heading north.",
        "classification": "CUI",
    }
    body.update(fields)
    return body


async def query(edge: Edge, sql: str, *args: Any) -> list[sqlite3.Row]:
    """Run a read-only query against the edge's database."""

    def run(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        return conn.execute(sql, args).fetchall()

    return await edge.runtime.reader.run(run)


async def create(edge: Edge, report_id: str, **fields: Any) -> dict[str, Any]:
    """Create a report through the API and return its JSON."""
    response = await edge.client.post("/reports", json=report_body(report_id, **fields))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def outbox_states(edge: Edge) -> dict[str, str]:
    """Return each change's outbox state, by report id and origin_seq."""
    rows = await query(edge, "SELECT report_id, origin_seq, state FROM outbox")
    return {f"{row[0]}#{row[1]}": row[2] for row in rows}


async def change_ids(edge: Edge) -> list[str]:
    """Return the outbox's change ids in origin_seq order."""
    rows = await query(edge, "SELECT change_id FROM outbox ORDER BY origin_seq")
    return [row[0] for row in rows]


async def sync_until_drained(edge: Edge) -> dict[str, Any]:
    """Ask for sync runs until nothing is pending; return the final status."""
    async with asyncio.timeout(DRAIN_SECONDS):
        while True:
            status: dict[str, Any] = (await edge.client.post("/sync/run")).json()
            if status["pending"] == 0 and status["consecutive_failures"] == 0:
                return status
            await asyncio.sleep(0.01)
