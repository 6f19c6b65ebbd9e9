"""
Alembic, driven from code: one migration environment per service.

``migrations/cloud`` and ``migrations/edge`` each hold an ``env.py`` that calls
:func:`run_migrations` with the service's metadata. On PostgreSQL the run holds
an advisory lock, so several cloud replicas starting at once migrate one by one.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Literal

from alembic import command, context
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, make_url, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

Service = Literal["cloud", "edge"]
# Named constraints let SQLite's batch migrations drop and recreate them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Any fixed number works; it only has to be the same for every replica.
_MIGRATION_LOCK = 0x65646765
_NO_FILE = (None, "", ":memory:")


def migrations_dir() -> Path:
    """Return the folder holding both migration environments."""
    configured = os.environ.get("EDGESYNC_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(service: Service, url: str) -> Config:
    """Return an alembic configuration for *service* against *url*."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir() / service))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision(service: Service) -> str | None:
    """Return the newest revision of *service*'s migrations."""
    script = ScriptDirectory.from_config(alembic_config(service, "sqlite://"))
    return script.get_current_head()


async def upgrade(service: Service, url: str) -> None:
    """Bring the database at *url* to the newest revision, creating a SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in _NO_FILE:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # alembic's async env calls asyncio.run, which needs a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(service, url), "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database behind *engine* is at, if any."""
    async with engine.connect() as conn:
        has_table = await conn.run_sync(
            lambda sync: sync.dialect.has_table(sync, "alembic_version")
        )
        if not has_table:
            return None
        row = (
            await conn.execute(text("SELECT version_num FROM alembic_version"))
        ).first()
    return None if row is None else str(row[0])


def _run_sync(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK}
            )


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run_sync, metadata)
        await conn.commit()
    await engine.dispose()


def run_migrations(metadata: MetaData) -> None:
    """Run the migrations of the calling ``env.py`` (online or as SQL)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata))
