"""
Engines and transactions for PostgreSQL (asyncpg) and SQLite (aiosqlite).

SQLite allows one writer at a time. A write transaction that starts as a
reader and later writes can fail at once with "database is locked", whatever
the busy timeout, so every write transaction here starts with
``BEGIN IMMEDIATE`` and waits its turn instead. Readers use a plain ``BEGIN``
and, under WAL, never block the writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cloud_service.settings import CloudSettings

_SQLITE_BEGIN = "sqlite_begin"


def create_engine(settings: CloudSettings) -> AsyncEngine:
    """Return an engine for ``settings.database_url``, tuned for its dialect."""
    url = settings.database_url
    # A failed statement's error would otherwise quote its parameters, report
    # text among them, into the log line of the request that failed.
    if url.startswith("sqlite"):
        engine = create_async_engine(url, hide_parameters=True)
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if settings.db_pooler:
        # A transaction-mode pooler hands each transaction to any server
        # connection, where a prepared statement of ours may not exist.
        connect_args = {"statement_cache_size": 0, "prepared_statement_cache_size": 0}
    return create_async_engine(
        url, connect_args=connect_args, pool_pre_ping=True, hide_parameters=True
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook, not the driver, emit BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory the routes use."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def write_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Yield a session in a write transaction, committed on success."""
    async with sessions() as session:
        await session.connection(execution_options={_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


async def lock_reports(session: AsyncSession, keys: Iterable[str]) -> None:
    """
    Hold a transaction lock on each of *keys* (report ids, or any name).

    On PostgreSQL these are advisory locks, which work for reports that do not
    exist yet, taken in one statement in hash order so that two batches never
    wait on each other crosswise. SQLite's ``BEGIN IMMEDIATE`` already lets
    one writer in at a time, so there is nothing to take.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(_ADVISORY_LOCKS, {"ids": sorted(set(keys))})


_ADVISORY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(r, 0)"
    " AS k FROM unnest(CAST(:ids AS text[])) AS r ORDER BY k) AS s"
)


def dialect_insert(
    session: AsyncSession, table: Table
) -> postgresql.Insert | sqlite.Insert:
    """Return an INSERT for *table* with the dialect's ON CONFLICT clauses."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
