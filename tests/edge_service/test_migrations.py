"""The edge's migration: up, down and up again, with no drift from the tables."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from edge_service.tables import metadata
from edgesync.migrate import alembic_config


def _tables(path: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    engine.dispose()
    return names - {"alembic_version"}


def _drift(path: Path) -> list[object]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    return list(diffs)


async def test_upgrade_downgrade_upgrade_without_drift(tmp_path: Path) -> None:
    """Upgrade, downgrade to base and upgrade again work, and match the metadata."""
    path = tmp_path / "edge.db"
    config = alembic_config("edge", f"sqlite+aiosqlite:///{path}")

    await asyncio.to_thread(command.upgrade, config, "head")
    first = _tables(path)
    await asyncio.to_thread(command.downgrade, config, "base")
    emptied = _tables(path)
    await asyncio.to_thread(command.upgrade, config, "head")

    assert first == {"reports", "outbox", "sync_meta", "audit", "audit_head"}
    assert emptied == set()
    assert _drift(path) == []
