"""
TLS for the cloud: development certificates and the SSL settings of both ends.

``edgesync dev certs`` makes a throwaway CA with trustme, a server certificate
for the loopback names and one client certificate per edge, for mutual TLS.
The CA's private key is never written: to add an edge, make a new set.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

from edgesync.keys import (
    check_edge_id,
    check_private_file,
    refuse_existing,
    write_private_file,
    write_public_file,
)

SERVER_NAMES = ("127.0.0.1", "localhost", "::1")
ORGANIZATION = "edgesync development"


@dataclass(frozen=True)
class CertPair:
    """A certificate chain PEM and its private key PEM (mode 0600)."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class DevCerts:
    """The files ``edgesync dev certs`` wrote."""

    ca: Path
    server: CertPair
    edges: dict[str, CertPair]


def _write_leaf(leaf: Any, pair: CertPair) -> None:
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    write_private_file(pair.key, leaf.private_key_pem.bytes(), overwrite=True)
    write_public_file(pair.cert, chain)


def create_dev_certs(
    out: Path, edge_ids: list[str], *, overwrite: bool = False
) -> DevCerts:
    """
    Write a development CA, a loopback server certificate and edge client certs.

    Layout: ``ca.pem``, ``server.pem`` + ``server.key``, and
    ``edges/<edge_id>.pem`` + ``edges/<edge_id>.key``. The edge id is the
    client certificate's common name.
    """
    for edge_id in edge_ids:
        check_edge_id(edge_id)
    ca_path = out / "ca.pem"
    server = CertPair(cert=out / "server.pem", key=out / "server.key")
    edges = {
        edge_id: CertPair(
            cert=out / "edges" / f"{edge_id}.pem", key=out / "edges" / f"{edge_id}.key"
        )
        for edge_id in edge_ids
    }
    if not overwrite:
        refuse_existing([ca_path, server.key, *(pair.key for pair in edges.values())])

    ca = trustme.CA(organization_name=ORGANIZATION)
    (out / "edges").mkdir(parents=True, exist_ok=True)
    write_public_file(ca_path, ca.cert_pem.bytes())
    _write_leaf(ca.issue_cert(*SERVER_NAMES, common_name="localhost"), server)
    for edge_id, pair in edges.items():
        _write_leaf(ca.issue_cert(edge_id, common_name=edge_id), pair)

    return DevCerts(ca=ca_path, server=server, edges=edges)


def server_ssl_options(
    cert: Path, key: Path, *, client_ca: Path | None = None
) -> dict[str, Any]:
    """
    Return uvicorn's TLS keyword arguments for the cloud.

    With *client_ca*, every client must present a certificate issued by it
    (mutual TLS). uvicorn does not show the certificate to the app
    (STACK.md §4), so this gates the transport; edges still prove who they
    are with their signed token.
    """
    check_private_file(key)
    options: dict[str, Any] = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    if client_ca is not None:
        options["ssl_ca_certs"] = str(client_ca)
        options["ssl_cert_reqs"] = ssl.CERT_REQUIRED

    return options


def client_ssl_context(
    ca: Path, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """
    Return an httpx ``verify=`` context trusting *ca*, with an optional client cert.

    Passing a context, not paths, avoids httpx 0.29's deprecated ``verify=str``
    and ``cert=`` (STACK.md §4).
    """
    context = ssl.create_default_context(cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        if key is None:
            msg = "a client certificate needs its private key"
            raise ValueError(msg)
        check_private_file(key)
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))

    return context
