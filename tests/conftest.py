"""Fixtures shared by every test: PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.postgres import postgres_server


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A libpq URL of a PostgreSQL server with rights to create databases."""
    with postgres_server() as url:
        if url is None:
            message = (
                "no PostgreSQL server: none on 127.0.0.1:5432, EDGESYNC_TEST_PG_URL "
                "unset, and no pg_ctl to start one (install postgresql)"
            )
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        yield url


@pytest.fixture
def pg_url(postgres_admin_url: str) -> Iterator[str]:
    """A SQLAlchemy asyncpg URL of a new, empty database, dropped afterwards."""
    name = f"edgesync_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = postgres_admin_url.rpartition("/")
    yield base.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + name

    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
