"""
TLS between edge and cloud with real processes on 127.0.0.1: the cloud serves
HTTPS with a development certificate, edges verify it against the CA bundle,
and with mutual TLS the cloud admits only edges holding a certificate of its CA.
Authentication is on throughout: the analyst carries an issuer token, the edge
signs its own with the key the administrator registered.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from edgesync.certs import DevCerts, create_dev_certs
from edgesync.cluster import Node, start_cloud, start_edge
from edgesync.devauth import DevIdentities
from edgesync.tokens import Role

pytestmark = pytest.mark.slow

QUIET = {"EDGESYNC_SYNC_INTERVAL": "3600", "EDGESYNC_BACKOFF_BASE": "60"}


def edge_tls(
    certs: DevCerts,
    identities: DevIdentities,
    *,
    ca: bool = True,
    client: bool = True,
) -> dict[str, str]:
    env = QUIET | identities.edge_env("edge-a")
    if ca:
        env["EDGESYNC_CLOUD_CA_FILE"] = str(certs.ca)
    if client:
        env["EDGESYNC_CLIENT_CERTFILE"] = str(certs.edges["edge-a"].cert)
        env["EDGESYNC_CLIENT_KEYFILE"] = str(certs.edges["edge-a"].key)
    return env


async def start_secure_cloud(
    tmp_path: Path, certs: DevCerts, *, mutual: bool
) -> tuple[Node, DevIdentities]:
    """Start an HTTPS cloud that authenticates, with edge-a registered."""
    identities = DevIdentities.create(tmp_path / "keys", ["edge-a"])
    cloud = start_cloud(
        tmp_path, certs=certs, mutual=mutual, extra=identities.cloud_env()
    )
    try:
        await cloud.wait_ready()
        async with cloud.client(timeout=30) as admin:
            await identities.register_edges(admin)
    except BaseException:
        cloud.stop()
        raise
    return cloud, identities


async def write_and_sync(edge: Node, identities: DevIdentities) -> dict[str, object]:
    headers = identities.bearer("analyst-1", Role.ANALYST)
    async with edge.client(timeout=30, headers=headers) as client:
        body = {
            "report_id": "rpt-001",
            "title": "Alpha",
            "content": "one",
            "classification": "CUI",
        }
        assert (await client.post("/reports", json=body)).status_code == 201
        status: dict[str, object] = (await client.post("/sync/run")).json()
    return status


@pytest.mark.parametrize("mutual", [False, True], ids=["tls", "mutual-tls"])
async def test_edge_syncs_over_https(tmp_path: Path, mutual: bool) -> None:
    """An edge that trusts the dev CA (and, for mTLS, shows its cert) syncs."""
    certs = create_dev_certs(tmp_path / "certs", ["edge-a"])
    cloud, identities = await start_secure_cloud(tmp_path, certs, mutual=mutual)
    edge: Node | None = None
    try:
        edge = start_edge("edge-a", cloud.url, tmp_path, **edge_tls(certs, identities))
        await edge.wait_ready()

        status = await write_and_sync(edge, identities)

        assert cloud.url.startswith("https://127.0.0.1:")
        assert status["pending"] == 0, status
        assert status["last_error"] is None
    finally:
        for node in (edge, cloud):
            if node is not None:
                node.stop()


async def test_plain_http_and_unverified_edges_are_refused(tmp_path: Path) -> None:
    """
    Plain HTTP to the HTTPS port gets no answer from the app, an edge without
    the CA refuses the certificate, and with mutual TLS an edge without a
    client certificate cannot connect: its changes stay pending.
    """
    certs = create_dev_certs(tmp_path / "certs", ["edge-a"])
    cloud, identities = await start_secure_cloud(tmp_path, certs, mutual=True)
    edges: list[Node] = []
    try:
        plain = f"http://127.0.0.1:{cloud.port}/healthz"
        async with httpx.AsyncClient(timeout=5) as client:
            with pytest.raises(httpx.TransportError):
                await client.get(plain)
        for name, env in (
            ("no-ca", edge_tls(certs, identities, ca=False)),
            ("no-client-cert", edge_tls(certs, identities, client=False)),
        ):
            edge = start_edge("edge-a", cloud.url, tmp_path / name, **env)
            edges.append(edge)
            await edge.wait_ready()

            status = await write_and_sync(edge, identities)

            assert status["pending"] == 1, (name, status)
            assert status["last_error"], name
        assert "CERTIFICATE_VERIFY_FAILED" in str(
            (await _status(edges[0], identities))["last_error"]
        )
    finally:
        for node in (*edges, cloud):
            node.stop()


async def _status(edge: Node, identities: DevIdentities) -> dict[str, object]:
    headers = identities.bearer("analyst-1", Role.ANALYST)
    async with edge.client(headers=headers) as client:
        status: dict[str, object] = (await client.get("/sync/status")).json()
    return status
