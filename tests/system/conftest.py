"""Fixtures of the whole-system tests: a cloud on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.system.harness import Cluster, cluster_on


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def cluster(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """A running cloud on each database, with no edges yet."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    async with cluster_on(url, tmp_path) as running:
        yield running
