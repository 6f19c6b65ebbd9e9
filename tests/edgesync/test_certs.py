"""Development certificates on a real uvicorn: HTTPS and mutual TLS."""

from __future__ import annotations

import asyncio
import ssl
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from edgesync.certs import (
    DevCerts,
    client_ssl_context,
    create_dev_certs,
    server_ssl_options,
)
from edgesync.keys import KeyFileError

# TLS 1.3 reports a refused client certificate after the handshake, so the
# client sees a dropped connection rather than a handshake error (STACK.md §4).
REFUSED = (httpx.RemoteProtocolError, httpx.ConnectError, httpx.ReadError)


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


@asynccontextmanager
async def _serve(**ssl_options: Any) -> AsyncIterator[int]:
    config = uvicorn.Config(
        _hello,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_config=None,
        log_level="critical",
        **ssl_options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    # uvicorn exposes readiness as a flag, not an event.
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    """A development CA, server certificate and a client certificate for edge-a."""
    return create_dev_certs(tmp_path_factory.mktemp("certs"), ["edge-a"])


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    """Certificates of another CA."""
    return create_dev_certs(tmp_path_factory.mktemp("foreign"), ["edge-a"])


def test_dev_certs_files_and_modes(certs: DevCerts) -> None:
    """Every key is 0600; certificates are PEM and readable."""
    keys = [certs.server.key, certs.edges["edge-a"].key]
    pems = [certs.ca, certs.server.cert, certs.edges["edge-a"].cert]

    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    assert all(p.read_bytes().startswith(b"-----BEGIN CERTIFICATE") for p in pems)
    assert certs.edges["edge-a"].cert.parent.name == "edges"


def test_dev_certs_refuse_to_overwrite(certs: DevCerts) -> None:
    """A second run into the same directory needs an explicit overwrite."""
    out = certs.ca.parent

    with pytest.raises(FileExistsError):
        create_dev_certs(out, [])


def test_dev_certs_refuse_a_path_like_edge_id(tmp_path: Path) -> None:
    """An edge id cannot steer a key file out of the output directory."""
    with pytest.raises(ValueError, match="invalid edge id"):
        create_dev_certs(tmp_path, ["../escape"])


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_https_verifies_against_the_dev_ca(certs: DevCerts, host: str) -> None:
    """A client trusting the development CA gets 200 by address and by name."""
    options = server_ssl_options(certs.server.cert, certs.server.key)
    context = client_ssl_context(certs.ca)

    async with _serve(**options) as port, httpx.AsyncClient(verify=context) as client:
        response = await client.get(f"https://{host}:{port}/")

    assert response.status_code == 200
    assert response.text == "hello"


async def test_https_fails_without_the_dev_ca(certs: DevCerts) -> None:
    """The system trust store does not know the development CA."""
    options = server_ssl_options(certs.server.cert, certs.server.key)

    async with _serve(**options) as port, httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"https://127.0.0.1:{port}/")


async def test_mutual_tls_accepts_the_edge_certificate(certs: DevCerts) -> None:
    """With client certificates required, the edge's certificate gets through."""
    options = server_ssl_options(
        certs.server.cert, certs.server.key, client_ca=certs.ca
    )
    edge = certs.edges["edge-a"]
    context = client_ssl_context(certs.ca, edge.cert, edge.key)

    async with _serve(**options) as port, httpx.AsyncClient(verify=context) as client:
        response = await client.get(f"https://127.0.0.1:{port}/")

    assert response.status_code == 200


@pytest.mark.parametrize("client_cert", ["none", "foreign"])
async def test_mutual_tls_refuses_missing_or_foreign_certificate(
    certs: DevCerts, foreign: DevCerts, client_cert: str
) -> None:
    """No client certificate, or one from another CA, never reaches the app."""
    options = server_ssl_options(
        certs.server.cert, certs.server.key, client_ca=certs.ca
    )
    pair = foreign.edges["edge-a"]
    context = (
        client_ssl_context(certs.ca)
        if client_cert == "none"
        else client_ssl_context(certs.ca, pair.cert, pair.key)
    )

    async with _serve(**options) as port, httpx.AsyncClient(verify=context) as client:
        with pytest.raises(REFUSED):
            await client.get(f"https://127.0.0.1:{port}/")


def test_server_options_refuse_an_open_key(certs: DevCerts, tmp_path: Path) -> None:
    """uvicorn is never handed a private key that others can read."""
    key = tmp_path / "server.key"
    key.write_bytes(certs.server.key.read_bytes())
    key.chmod(0o644)

    with pytest.raises(KeyFileError, match="chmod 600"):
        server_ssl_options(certs.server.cert, key)


def test_server_options_require_client_certs_with_a_client_ca(
    certs: DevCerts,
) -> None:
    """Naming a client CA turns on CERT_REQUIRED, not the optional mode."""
    options = server_ssl_options(
        certs.server.cert, certs.server.key, client_ca=certs.ca
    )

    assert options["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert options["ssl_ca_certs"] == str(certs.ca)


def test_client_context_needs_the_key_with_a_certificate(certs: DevCerts) -> None:
    """A client certificate without its key is a usage error."""
    with pytest.raises(ValueError, match="private key"):
        client_ssl_context(certs.ca, certs.edges["edge-a"].cert)
