"""
SQLite connections of the edge: one for the writer thread, a few for reads.

Every connection gets the same pragmas. WAL lets readers run while the writer
commits; ``synchronous=FULL`` makes each commit durable before it is answered.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

T = TypeVar("T")

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)
# The text form SQLAlchemy's SQLite DATETIME uses, so that rows written here
# read back the same through the ORM and sort correctly as text.
_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"


def database_path(url: str) -> Path:
    """Return the file behind a ``sqlite+aiosqlite:///path`` URL."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        msg = f"the edge needs a SQLite file URL, got {parsed.drivername!r}"
        raise ValueError(msg)
    return Path(parsed.database)


def connect(path: Path) -> sqlite3.Connection:
    """Open *path* in autocommit mode, so transactions are explicit."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    for pragma in _PRAGMAS:
        conn.execute(pragma)
    return conn


def to_db_time(value: datetime) -> str:
    """Return an aware datetime as stored text, in UTC."""
    return value.astimezone(UTC).strftime(_TIMESTAMP)


def from_db_time(value: str) -> datetime:
    """Parse stored text back into an aware UTC datetime."""
    return datetime.strptime(value, _TIMESTAMP).replace(tzinfo=UTC)


def from_db_time_or_none(value: str | None) -> datetime | None:
    """Parse a nullable stored timestamp."""
    return None if value is None else from_db_time(value)


def to_json(value: Mapping[str, Any] | None) -> str | None:
    """Encode a JSON column; non-ASCII stays UTF-8 so sizes are what is sent."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ReaderPool:
    """A few read-only connections, each used by one thread at a time."""

    def __init__(self, path: Path, size: int = 4) -> None:
        self._idle: asyncio.Queue[sqlite3.Connection] = asyncio.Queue()
        self._all = [connect(path) for _ in range(size)]
        for conn in self._all:
            conn.execute("PRAGMA query_only=ON")
            self._idle.put_nowait(conn)

    async def run(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run *query* with a free connection in a worker thread."""
        conn = await self._idle.get()
        try:
            return await asyncio.to_thread(query, conn)
        finally:
            self._idle.put_nowait(conn)

    def close(self) -> None:
        """Close every connection; call once no query runs any more."""
        for conn in self._all:
            conn.close()
