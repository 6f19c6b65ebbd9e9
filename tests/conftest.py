"""Fixtures shared by every test: databases, clocks and identities."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

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
async def pg_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """A SQLAlchemy asyncpg URL of a new, empty database, dropped afterwards."""
    name = f"edgesync_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = postgres_admin_url.rpartition("/")
    yield base.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + name

    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
