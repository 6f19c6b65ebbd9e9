"""
``edgesync edge register|revoke|list``: an administrator's view of the edges.

``register`` and ``revoke`` need a token with the admin role; ``list`` any
analyst's. A refusal ends the command with the problem's detail and exit
status 1; the token is never printed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cloud_service.edges import EdgePublic, EdgesPublic
from edgesync.cloud_http import (
    DEFAULT_CLOUD_URL,
    CaFile,
    CloudClient,
    CloudUrl,
    Token,
    fail,
)
from edgesync.keys import KeyFileError, check_edge_id, load_public_key_pem
from syncproto import Classification


def _edge_id(value: str) -> str:
    try:
        return check_edge_id(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


EdgeId = Annotated[str, typer.Argument(help="The edge's id", callback=_edge_id)]


def register(
    edge_id: EdgeId,
    public_key: Annotated[
        Path,
        typer.Option(
            "--public-key",
            help="The edge's RSA public key (PEM, 2048 bits or more)",
            dir_okay=False,
        ),
    ],
    clearance: Annotated[
        Classification,
        typer.Option(help="The highest classification the edge may send and receive"),
    ],
    cloud: CloudUrl = DEFAULT_CLOUD_URL,
    token: Token = None,
    ca_file: CaFile = None,
) -> None:
    """Register an edge's public key and clearance (admin role)."""
    pem = _read_public_key(public_key)
    body = {"edge_id": edge_id, "public_key_pem": pem, "clearance": clearance.value}
    with CloudClient(cloud, token=token, ca_file=ca_file) as client:
        response = client.send("POST", "/edges", json=body)
    edge = EdgePublic.model_validate(response.json())

    console = Console()
    console.print(Text(f"Registered edge {edge.edge_id}", style="green"))
    console.print(_summary(edge))


def _read_public_key(path: Path) -> str:
    """Return the PEM in *path* once it is known to be a usable RSA public key."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read the public key {path}: {exc.strerror or exc}")
    try:
        load_public_key_pem(pem, source=str(path))
    except KeyFileError as exc:
        fail(str(exc))
    return pem.decode("ascii")


def revoke(
    edge_id: EdgeId,
    cloud: CloudUrl = DEFAULT_CLOUD_URL,
    token: Token = None,
    ca_file: CaFile = None,
) -> None:
    """Refuse every token of an edge from now on (admin role)."""
    with CloudClient(cloud, token=token, ca_file=ca_file) as client:
        response = client.send("POST", f"/edges/{edge_id}/revoke")
    edge = EdgePublic.model_validate(response.json())

    console = Console()
    console.print(Text(f"Revoked edge {edge.edge_id}", style="yellow"))
    console.print(_summary(edge))


def list_edges(
    cloud: CloudUrl = DEFAULT_CLOUD_URL,
    token: Token = None,
    ca_file: CaFile = None,
) -> None:
    """List every edge the cloud knows, with its registration and sync status."""
    with CloudClient(cloud, token=token, ca_file=ca_file) as client:
        response = client.send("GET", "/edges")
    page = EdgesPublic.model_validate(response.json())

    table = Table(title=f"{len(page.edges)} edge(s)")
    table.add_column("edge", no_wrap=True)
    for column in ("clearance", "registered", "revoked", "last push", "last pull"):
        table.add_column(column)
    for column in ("received", "rejected", "lag"):
        table.add_column(column, justify="right")
    for edge in page.edges:
        table.add_row(
            edge.edge_id,
            edge.clearance.value if edge.clearance else "-",
            _when(edge.registered_at),
            _when(edge.revoked_at),
            _when(edge.last_push_at),
            _when(edge.last_pull_at),
            str(edge.changes_received),
            str(edge.rejected),
            "-" if edge.lag is None else str(edge.lag),
            style="red" if edge.revoked_at else None,
        )
    Console().print(table)


def _summary(edge: EdgePublic) -> Table:
    table = Table(show_header=False)
    table.add_column("what")
    table.add_column("value")
    rows = {
        "edge": edge.edge_id,
        "clearance": edge.clearance.value if edge.clearance else "-",
        "registered": _when(edge.registered_at),
        "revoked": _when(edge.revoked_at),
        "last push": _when(edge.last_push_at),
        "last pull": _when(edge.last_pull_at),
        "received": str(edge.changes_received),
        "rejected": str(edge.rejected),
    }
    for what, value in rows.items():
        table.add_row(what, Text(value))
    return table


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")
