"""
Find a PostgreSQL server for the tests, or start a throwaway one.

Order: ``EDGESYNC_TEST_PG_URL``; a server on 127.0.0.1:5432; a server started
by pytest-postgresql from the installed binaries. Under ``CI=true`` a missing
server fails the run: the PostgreSQL tests must never be skipped there.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _pg_ctl() -> str | None:
    found = shutil.which("pg_ctl")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return candidates[-1] if candidates else None


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """Yield a libpq URL of a reachable server, or ``None`` with none to be had."""
    configured = os.environ.get("EDGESYNC_TEST_PG_URL")
    url = configured or DEFAULT_URL
    if _reachable(url) or configured:
        yield url
        return
    pg_ctl = _pg_ctl()
    if pg_ctl is None or os.geteuid() == 0:
        # initdb refuses to run as root, and without binaries there is nothing to run.
        yield None
        return
    from pytest_postgresql.executor import PostgreSQLExecutor

    datadir = tempfile.mkdtemp(prefix="edgesync-pg-")
    executor = PostgreSQLExecutor(
        executable=pg_ctl,
        host="127.0.0.1",
        port=55432,
        datadir=datadir,
        unixsocketdir=datadir,
        logfile=os.path.join(datadir, "log"),
        startparams="-w",
        dbname="postgres",
        user="postgres",
        password="",
        options="",
    )
    with executor:
        executor.wait_for_postgres()
        yield "postgresql://postgres@127.0.0.1:55432/postgres"
    shutil.rmtree(datadir, ignore_errors=True)
