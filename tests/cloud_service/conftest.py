"""Fixtures of the cloud tests: one app per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cloud_service.app import create_app
from cloud_service.settings import CloudSettings
from edgesync.keys import generate_private_key, write_jwks
from edgesync.tokens import TokenSigner
from tests.cloud_service.world import AUDIENCE, World

SMALL_BODY = 512 * 1024


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def settings(db_url: str) -> CloudSettings:
    """
    Settings with a small body limit, so a 413 is cheap to provoke.

    The protocol tests run without authentication; test_auth.py turns it on.
    """
    return CloudSettings(
        database_url=db_url, max_body_bytes=SMALL_BODY, allow_anonymous=True
    )


@pytest.fixture
async def app(settings: CloudSettings) -> AsyncIterator[FastAPI]:
    """A running cloud app, migrated on start."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1"
    ) as client:
        yield client


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    """An authenticating cloud with edge-a registered (IL4) by an admin."""
    issuer_key = generate_private_key()
    jwks = tmp_path / "issuer.jwks.json"
    write_jwks(jwks, [issuer_key.public_key()])
    settings = CloudSettings(
        database_url=db_url, issuer_jwks_file=jwks, token_audience=AUDIENCE
    )
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1"
        ) as client:
            world = World(client, TokenSigner.from_private_key(issuer_key), {})
            assert (await world.register("edge-a")).status_code == 201
            yield world
