"""
What authentication adds to a call: an analyst token checked against the
issuer's JWK set, and an edge token checked against its registration, read
from the cloud's database on every request (SQLite and PostgreSQL).

Each figure is the latency of a real ``GET /sync/info`` through the cloud app
in process, with and without a token, so the difference is what a token costs.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from common import emit, machine, percentile, scratch_database

from cloud_service.app import create_app
from cloud_service.settings import CloudSettings
from edgesync.devauth import DevIdentities
from edgesync.keys import load_private_key
from edgesync.logs import configure_logging
from edgesync.tokens import Role, TokenSigner, sign_edge_token

CALLS = 2000
BENCH = "auth"


async def _latencies(
    client: httpx.AsyncClient, headers: dict[str, str], calls: int = CALLS
) -> list[float]:
    took = []
    for _ in range(calls):
        started = time.perf_counter()
        response = await client.get("/sync/info", headers=headers)
        took.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return took


async def _measure(database: str, database_url: str, workdir: Path) -> None:
    identities = DevIdentities.create(workdir / "keys", ["edge-a"])
    settings = CloudSettings(
        database_url=database_url,
        issuer_jwks_file=identities.jwks,
        log_level="WARNING",
    )
    anonymous = settings.model_copy(
        update={"issuer_jwks_file": None, "allow_anonymous": True}
    )
    edge = TokenSigner.from_private_key(load_private_key(identities.edge_key("edge-a")))
    for mode, config in (("anonymous", anonymous), ("authenticated", settings)):
        app = create_app(config)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1"
            ) as client:
                cases: dict[str, dict[str, str]]
                if mode == "anonymous":
                    cases = {"none": {}}
                else:
                    await identities.register_edges(client)
                    edge_token = sign_edge_token(edge, "edge-a", audience="edgesync")
                    cases = {
                        "analyst": identities.bearer("analyst-1", Role.ANALYST),
                        "edge": {"Authorization": f"Bearer {edge_token}"},
                    }
                for token_kind, headers in cases.items():
                    await _latencies(client, headers, 100)
                    took = await _latencies(client, headers)
                    for pct in (50, 99):
                        emit(
                            BENCH,
                            f"sync_info_p{pct}",
                            percentile(took, pct),
                            "ms",
                            database=database,
                            token=token_kind,
                            calls=CALLS,
                            **machine(),
                        )


async def main() -> None:
    """Measure on SQLite, then on a scratch PostgreSQL database."""
    configure_logging("console", "WARNING")
    with tempfile.TemporaryDirectory(prefix="edgesync-bench-auth-") as folder:
        workdir = Path(folder)
        await _measure("sqlite", f"sqlite+aiosqlite:///{workdir / 'cloud.db'}", workdir)
        with scratch_database() as url:
            await _measure("postgresql", url, workdir)


if __name__ == "__main__":
    asyncio.run(main())
