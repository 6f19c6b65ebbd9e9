"""
Fixtures of the edge's tests: a fake cloud, and a running edge wired to it.

With authentication on, analyst tokens come from a throwaway issuer key whose
JWK set the edge reads, and the edge signs its own tokens with its own key.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from edge_service.app import create_app
from edge_service.runtime import EdgeRuntime
from edge_service.settings import EdgeSettings
from edgesync import migrate
from edgesync.keys import (
    MIN_RSA_BITS,
    generate_private_key,
    write_jwks,
    write_private_key,
)
from edgesync.tokens import Role, TokenSigner, issue_analyst_token
from syncproto import Classification
from tests.edge_service.fakecloud import FakeCloud


@dataclass
class Edge:
    """A running edge app, its HTTP client and its runtime."""

    app: FastAPI
    client: httpx.AsyncClient
    runtime: EdgeRuntime
    cloud: FakeCloud


@pytest.fixture(scope="session")
async def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated to head once, copied by each test that needs one."""
    path = tmp_path_factory.mktemp("template") / "edge.db"
    await migrate.upgrade("edge", f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def cloud() -> FakeCloud:
    """An empty in-memory cloud."""
    return FakeCloud()


@pytest.fixture
def settings(tmp_path: Path, migrated_db: Path) -> EdgeSettings:
    """Settings of edge-a on a fresh migrated database, with fast backoff."""
    path = tmp_path / "var" / "edge.db"
    path.parent.mkdir()
    shutil.copy(migrated_db, path)
    return EdgeSettings(
        edge_id="edge-a",
        database_url=f"sqlite+aiosqlite:///{path}",
        cloud_url="http://cloud.test",
        sync_interval=3600,
        backoff_base=0.01,
        backoff_cap=0.05,
        migrate_on_start=False,
        sync_run_timeout=10,
        allow_anonymous=True,
    )


async def start_edge(
    settings: EdgeSettings,
    cloud: FakeCloud,
    to_cloud: httpx.AsyncBaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[Edge]:
    """
    Run an edge against *cloud* for the duration of the iteration.

    *headers* go with every request of the edge's client (an analyst token).
    """
    app = create_app(settings, transport=to_cloud or httpx.ASGITransport(cloud.app))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://edge.test", headers=headers
        ) as client:
            # Let the cycle that starts with the app finish, so that each test
            # begins with an idle loop.
            await client.post("/sync/run")
            yield Edge(app, client, app.state.runtime, cloud)


@pytest.fixture
async def edge(settings: EdgeSettings, cloud: FakeCloud) -> AsyncIterator[Edge]:
    """A running edge-a wired to the fake cloud."""
    async for running in start_edge(settings, cloud):
        yield running


AUDIENCE = "edgesync"
ISSUER = "https://id.test"
ANALYST = frozenset({Role.ANALYST})


@pytest.fixture(scope="module")
def issuer_key() -> rsa.RSAPrivateKey:
    """The identity issuer's key; 2048 bits keeps the tests fast."""
    return generate_private_key(MIN_RSA_BITS)


@pytest.fixture(scope="module")
def edge_key() -> rsa.RSAPrivateKey:
    """edge-a's own key."""
    return generate_private_key(MIN_RSA_BITS)


@pytest.fixture(scope="module")
def issuer(issuer_key: rsa.RSAPrivateKey) -> TokenSigner:
    """A signer as the identity issuer holds it."""
    return TokenSigner.from_private_key(issuer_key)


def token(
    signer: TokenSigner,
    sub: str = "alice",
    *,
    roles: frozenset[Role] = ANALYST,
    clearance: Classification = Classification.IL5,
    audience: str = AUDIENCE,
) -> str:
    """Return an analyst token of *signer*."""
    return issue_analyst_token(
        signer,
        sub=sub,
        roles=roles,
        clearance=clearance,
        ttl=600,
        audience=audience,
        issuer=ISSUER,
    )


def bearer(value: str) -> dict[str, str]:
    """Return the Authorization header of *value*."""
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def auth_settings(
    settings: EdgeSettings,
    tmp_path: Path,
    issuer_key: rsa.RSAPrivateKey,
    edge_key: rsa.RSAPrivateKey,
) -> EdgeSettings:
    """edge-a with an edge key and the issuer's JWK set configured."""
    write_private_key(tmp_path / "edge-a.key", edge_key)
    write_jwks(tmp_path / "jwks.json", [issuer_key.public_key()])
    return settings.model_copy(
        update={
            "edge_key_file": tmp_path / "edge-a.key",
            "issuer_jwks_file": tmp_path / "jwks.json",
        }
    )


@pytest.fixture
async def auth_edge(
    auth_settings: EdgeSettings, cloud: FakeCloud, issuer: TokenSigner
) -> AsyncIterator[Edge]:
    """A running edge-a whose client carries alice's IL5 analyst token."""
    async for running in start_edge(
        auth_settings, cloud, headers=bearer(token(issuer))
    ):
        yield running


@pytest.fixture(autouse=True, scope="module")
def plain_tracebacks() -> Iterator[None]:
    """
    Render logged exceptions as plain text while these tests run.

    structlog's default console renderer draws rich tracebacks with every
    local variable, which takes seconds when a frame holds a whole app.
    """
    saved = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    )
    yield
    structlog.configure(**saved)
