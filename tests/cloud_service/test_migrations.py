"""The cloud's one alembic revision: up, down, up again, and no drift."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from cloud_service.tables import metadata
from edgesync.migrate import alembic_config, current_revision, head_revision


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_upgrade_downgrade_upgrade_without_drift(db_url: str) -> None:
    """The revision downgrades to base, upgrades again, and matches the tables."""
    config = alembic_config("cloud", db_url)
    engine = create_async_engine(db_url, poolclass=pool.NullPool)

    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.downgrade, config, "base")
    at_base = await current_revision(engine)
    await asyncio.to_thread(command.upgrade, config, "head")
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    at_head = await current_revision(engine)
    await engine.dispose()

    assert at_base is None
    assert at_head == head_revision("cloud")
    assert diff == []
