"""The bulk writes: PostgreSQL's unnest path stores what executemany stores."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Table, cast, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service.bulk import insert_rows, upsert_rows
from cloud_service.db import create_engine, session_factory
from cloud_service.settings import CloudSettings
from cloud_service.tables import reports_table, versions_table
from edgesync.migrate import upgrade

pytestmark = pytest.mark.postgres

# Text PostgreSQL must keep byte for byte, a clock, and an offset that is not UTC.
AWKWARD = 'é 😀 "quoted" \\ back\nslash'
CLOCK = {"edge-a": 3, "edge-b": 1}
AUTHORED = datetime(2024, 3, 10, 15, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5)))
RECEIVED = datetime(2024, 3, 10, 9, 30, 0, 654321, tzinfo=UTC)


@pytest.fixture
async def session(pg_url: str) -> AsyncIterator[AsyncSession]:
    """A session on a migrated, empty PostgreSQL database."""
    await upgrade("cloud", pg_url)
    engine = create_engine(CloudSettings(database_url=pg_url))
    async with session_factory(engine)() as session:
        yield session
    await engine.dispose()


def _version(report_id: str) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "change_id": uuid.uuid4(),
        "trigger_change_id": None,
        "outcome": "applied",
        "clock": CLOCK,
        "clock_key": '{"edge-a":3,"edge-b":1}',
        "title": AWKWARD,
        "content": AWKWARD * 3,
        "classification": "IL4",
        "deleted": False,
        "origin": "edge-a",
        "author": "analyst-1",
        "authored_at": AUTHORED,
        "received_at": RECEIVED,
    }


def _report(report_id: str, title: str, conflict_id: uuid.UUID) -> dict[str, Any]:
    version = _version(report_id)
    return {
        "report_id": report_id,
        "title": title,
        "content": version["content"],
        "classification": "CUI",
        "deleted": True,
        "clock": CLOCK,
        "clock_key": version["clock_key"],
        "created_by": "analyst-1",
        "created_at": AUTHORED,
        "updated_by": "analyst-2",
        "updated_at": AUTHORED,
        "origin": "edge-b",
        "change_id": None,
        "kind": "merged",
        "conflict_id": conflict_id,
        "feed_seq": 2**40,
    }


async def _stored(session: AsyncSession, table: Table, report_id: str) -> list[Any]:
    """Return a stored row as PostgreSQL holds it, the JSON clock as its text."""
    columns = [
        cast(c, postgresql.TEXT) if c.name == "clock" else c
        for c in table.c
        if c.name not in {"id", "change_id", "report_id"}
    ]
    row = (
        await session.execute(select(*columns).where(table.c.report_id == report_id))
    ).one()
    return list(row)


async def test_insert_rows_stores_what_executemany_stores(
    session: AsyncSession,
) -> None:
    """Rows written through unnest read back equal to rows written row by row."""
    await insert_rows(
        session,
        versions_table,
        [_version("fast"), _version("fast-2")],
        skip_existing=True,
    )
    await session.execute(postgresql.insert(versions_table), [_version("generic")])

    assert await _stored(session, versions_table, "fast") == await _stored(
        session, versions_table, "generic"
    )


async def test_insert_rows_skips_taken_keys_when_asked(session: AsyncSession) -> None:
    """With skip_existing, a row whose change_id is taken leaves the first one."""
    first = _version("first")
    again = {**_version("again"), "change_id": first["change_id"]}

    await insert_rows(session, versions_table, [first], skip_existing=True)
    await insert_rows(session, versions_table, [again], skip_existing=True)
    stored = await session.scalars(select(versions_table.c.report_id))

    assert list(stored) == ["first"]


async def test_upsert_rows_overwrites_like_executemany(session: AsyncSession) -> None:
    """An upsert through unnest leaves the row an executemany upsert leaves."""
    conflict_id = uuid.uuid4()
    insert = postgresql.insert(reports_table)
    generic = _report("generic", AWKWARD, conflict_id)
    updated = {name: insert.excluded[name] for name in generic if name != "report_id"}
    upsert = insert.on_conflict_do_update(index_elements=["report_id"], set_=updated)

    for title in ("old", AWKWARD):
        fast = _report("fast", title, conflict_id)
        await upsert_rows(session, reports_table, [fast], "report_id")
        await session.execute(upsert, [_report("generic", title, conflict_id)])

    assert await _stored(session, reports_table, "fast") == await _stored(
        session, reports_table, "generic"
    )
