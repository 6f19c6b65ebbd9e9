"""
Bulk reads and writes: many rows of one table in one statement.

SQLAlchemy's executemany compiles and binds every row on its own, and for a
batch of 500 changes that Python work costs more than the database's. On
PostgreSQL each column therefore travels as one array parameter and the rows
come out of ``unnest``: one statement, one round trip, with each column's own
bind processing applied value by value. SQLite takes the portable executemany
path, which its in-process driver runs fast anyway. Reads by a set of keys
likewise pass the set as one array on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Table, TextClause, any_, cast, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service.db import dialect_insert

Row = dict[str, Any]


def one_of(
    session: AsyncSession, column: ColumnElement[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """Return the condition "*column* is one of *values*" for a WHERE clause."""
    if session.get_bind().dialect.name == "postgresql":
        # An IN list with a parameter per value makes PostgreSQL plan a scan
        # of the whole table once there are hundreds of values; one array
        # parameter keeps the index lookup.
        return column == any_(cast(list(values), ARRAY(column.type)))
    return column.in_(values)


async def insert_rows(
    session: AsyncSession, table: Table, rows: Sequence[Row], *, skip_existing: bool
) -> None:
    """
    Insert *rows* into *table*; every row has the same keys.

    With *skip_existing*, a row whose unique key is taken is left out
    (``ON CONFLICT DO NOTHING``) instead of failing the transaction.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        tail = "ON CONFLICT DO NOTHING" if skip_existing else ""
        await _unnest(session, dialect, table, rows, tail)
        return
    insert = dialect_insert(session, table)
    if skip_existing:
        insert = insert.on_conflict_do_nothing()
    await session.execute(insert, rows)


async def upsert_rows(
    session: AsyncSession, table: Table, rows: Sequence[Row], key: str
) -> None:
    """Insert *rows* into *table*, or overwrite the rows whose *key* exists."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    names = [name for name in rows[0] if name != key]
    if dialect.name == "postgresql":
        updated = ", ".join(f"{name} = EXCLUDED.{name}" for name in names)
        tail = f"ON CONFLICT ({key}) DO UPDATE SET {updated}"
        await _unnest(session, dialect, table, rows, tail)
        return
    insert = dialect_insert(session, table)
    set_ = {name: insert.excluded[name] for name in names}
    await session.execute(
        insert.on_conflict_do_update(index_elements=[key], set_=set_), rows
    )


async def _unnest(
    session: AsyncSession,
    dialect: Dialect,
    table: Table,
    rows: Sequence[Row],
    tail: str,
) -> None:
    names = tuple(rows[0])
    statement, processors = _unnest_insert(dialect, table, names, tail)
    columns = {}
    for name, process in zip(names, processors, strict=True):
        values = [row[name] for row in rows]
        columns[name] = values if process is None else [process(v) for v in values]
    await session.execute(statement, columns)


@lru_cache(maxsize=64)
def _unnest_insert(
    dialect: Dialect, table: Table, names: tuple[str, ...], tail: str
) -> tuple[TextClause, list[Callable[[Any], Any] | None]]:
    """Return the INSERT … SELECT FROM unnest and each column's bind processor."""
    types = [table.c[name].type.dialect_impl(dialect) for name in names]
    arrays = ", ".join(
        f"CAST(:{name} AS {type_.compile(dialect)}[])"
        for name, type_ in zip(names, types, strict=True)
    )
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(names)})"
        f" SELECT * FROM unnest({arrays}) {tail}"
    )
    return statement, [type_.bind_processor(dialect) for type_ in types]
