"""
``edgesync dev`` and ``edgesync token``: development keys, certificates and tokens.

These stand in for an identity issuer and a PKI on one machine. Private keys
are written with mode 0600 and never echoed; the only secret printed is the
token that ``token issue`` exists to print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgesync.certs import create_dev_certs
from edgesync.devauth import DEV_AUDIENCE, DEV_ISSUER, DevIdentities
from edgesync.keys import (
    DEFAULT_RSA_BITS,
    MIN_RSA_BITS,
    KeyFileError,
    check_edge_id,
    load_private_key,
    refuse_existing,
)
from edgesync.tokens import Role, TokenSigner, issue_analyst_token
from syncproto import Classification

dev_app = typer.Typer(
    help="Development keys and certificates (never for production).",
    no_args_is_help=True,
)
token_app = typer.Typer(help="Tokens of the development issuer.", no_args_is_help=True)

OutDir = Annotated[
    Path, typer.Option("--out", help="Directory to write into", file_okay=False)
]
EdgeIds = Annotated[
    list[str] | None,
    typer.Option("--edge", help="An edge id; repeat for several edges"),
]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing private keys")]


def _edge_ids(edges: list[str] | None) -> list[str]:
    try:
        return [check_edge_id(edge_id) for edge_id in edges or []]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--edge") from exc


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@dev_app.command("keys")
def dev_keys(
    out: OutDir,
    edge: EdgeIds = None,
    bits: Annotated[
        int, typer.Option(min=MIN_RSA_BITS, help="RSA key size")
    ] = DEFAULT_RSA_BITS,
    force: Force = False,
) -> None:
    """Write an issuer key with its JWK set, and one key pair per edge."""
    edge_ids = _edge_ids(edge)
    issuer_path = out / "issuer.key"
    edge_paths = {edge_id: out / "edges" / f"{edge_id}.key" for edge_id in edge_ids}
    if not force:
        try:
            refuse_existing([issuer_path, *edge_paths.values()])
        except FileExistsError as exc:
            raise _fail(f"{exc.filename} exists; pass --force to replace it") from exc

    DevIdentities.create(out, edge_ids, bits)
    typer.echo(f"issuer key {out / 'issuer.key'}, JWK set {out / 'jwks.json'}")
    for edge_id in edge_ids:
        typer.echo(f"edge {edge_id}: {out / 'edges' / edge_id}.key and .pub")


@dev_app.command("certs")
def dev_certs(out: OutDir, edge: EdgeIds = None, force: Force = False) -> None:
    """Write a development CA, a loopback server certificate and edge client certs."""
    edge_ids = _edge_ids(edge)
    try:
        certs = create_dev_certs(out, edge_ids, overwrite=force)
    except FileExistsError as exc:
        raise _fail(f"{exc.filename} exists; pass --force to replace it") from exc
    typer.echo(f"CA {certs.ca}")
    typer.echo(f"server {certs.server.cert} and {certs.server.key}")
    for edge_id, pair in certs.edges.items():
        typer.echo(f"edge {edge_id}: {pair.cert} and {pair.key}")


def _roles(value: str) -> frozenset[Role]:
    try:
        return frozenset(Role(name.strip()) for name in value.split(",") if name)
    except ValueError as exc:
        known = ", ".join(role.value for role in Role)
        msg = f"roles are a comma-separated list of: {known}"
        raise typer.BadParameter(msg, param_hint="--roles") from exc


@token_app.command("issue")
def token_issue(
    key: Annotated[Path, typer.Option(help="The issuer's private key (mode 0600)")],
    sub: Annotated[str, typer.Option(help="The analyst's identity")],
    clearance: Annotated[Classification, typer.Option(help="Highest marking")],
    roles: Annotated[str, typer.Option(help="Comma-separated roles")] = "analyst",
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds")] = 3600,
    audience: Annotated[
        str, typer.Option(help="The services' audience")
    ] = DEV_AUDIENCE,
    issuer: Annotated[str, typer.Option(help="The iss claim")] = DEV_ISSUER,
) -> None:
    """Print an analyst token signed with the development issuer's key."""
    role_set = _roles(roles)
    try:
        signer = TokenSigner.from_private_key(load_private_key(key))
    except KeyFileError as exc:
        raise _fail(str(exc)) from exc
    token = issue_analyst_token(
        signer,
        sub=sub,
        roles=role_set,
        clearance=clearance,
        ttl=ttl,
        audience=audience,
        issuer=issuer,
    )
    typer.echo(token)
