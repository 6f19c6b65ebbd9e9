"""
The ``edgesync`` command: serve the services, migrate databases, run the demo.

Every flag has an ``EDGESYNC_*`` environment variable of the same name; a flag
given on the command line wins over the environment.
"""

from __future__ import annotations

import asyncio
import enum
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer
import uvicorn

from cloud_service.auth import Authenticator
from cloud_service.settings import CloudSettings
from edge_service.auth import (
    EdgeKeyNotConfiguredError,
    load_analyst_verifier,
    load_edge_credentials,
)
from edge_service.settings import EdgeSettings
from edgesync import audit_cli, conflicts_cli, edges_cli, migrate, status_cli
from edgesync.keys import KeyFileError
from edgesync.logs import configure_logging
from edgesync.security_cli import dev_app, token_app
from edgesync.tokens import AuthenticationNotConfiguredError

app = typer.Typer(help="Offline-first sync of field reports.", no_args_is_help=True)
cloud_app = typer.Typer(help="The central cloud service.", no_args_is_help=True)
edge_app = typer.Typer(help="An edge site's service.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(cloud_app, name="cloud")
app.add_typer(edge_app, name="edge")
app.add_typer(db_app, name="db")
app.add_typer(dev_app, name="dev")
app.add_typer(token_app, name="token")
app.add_typer(conflicts_cli.app, name="conflicts")
app.add_typer(audit_cli.app, name="audit")
edge_app.command("register")(edges_cli.register)
edge_app.command("revoke")(edges_cli.revoke)
edge_app.command("list")(edges_cli.list_edges)
app.command("status")(status_cli.status)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(help="SQLAlchemy URL [env EDGESYNC_DATABASE_URL]", show_default=False),
]
Host = Annotated[str | None, typer.Option(help="Listen address [env EDGESYNC_HOST]")]
Port = Annotated[int | None, typer.Option(help="Listen port [env EDGESYNC_PORT]")]


# Seconds that open requests get to finish after SIGTERM before the lifespan
# stops the sync loop: a supervisor's kill usually follows within 10.
SHUTDOWN_GRACE = 3


def _serve(app: Any, host: str, port: int, **options: Any) -> None:
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
        **options,
    )


def _refuse_misconfigured(check: Callable[[], object]) -> None:
    # Run before uvicorn starts, so that no worker comes up only to fail, and
    # a missing or unreadable key is one line, not a traceback.
    try:
        check()
    except (
        AuthenticationNotConfiguredError,
        EdgeKeyNotConfiguredError,
        KeyFileError,
        OSError,
    ) as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


def _given(**flags: Any) -> dict[str, Any]:
    return {name: value for name, value in flags.items() if value is not None}


@cloud_app.command("serve")
def cloud_serve(
    database_url: DatabaseUrl = None,
    host: Host = None,
    port: Port = None,
    max_body_bytes: Annotated[int | None, typer.Option(help="Inbox body limit")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes [env EDGESYNC_WORKERS]")
    ] = None,
) -> None:
    """Run the cloud service under uvicorn."""
    from cloud_service.app import create_app

    flags = _given(
        database_url=database_url,
        host=host,
        port=port,
        max_body_bytes=max_body_bytes,
        workers=workers,
    )
    settings = CloudSettings(**flags)
    _refuse_misconfigured(lambda: Authenticator(settings))
    configure_logging(settings.log_format, settings.log_level)
    if settings.workers == 1:
        _serve(
            create_app(settings), settings.host, settings.port, **settings.uvicorn_tls()
        )
        return
    # Workers are fresh processes that read their settings from the
    # environment; migrate once here rather than racing in every worker.
    if settings.migrate_on_start:
        asyncio.run(migrate.upgrade("cloud", settings.database_url))
    os.environ.update({f"EDGESYNC_{k.upper()}": str(v) for k, v in flags.items()})
    os.environ["EDGESYNC_MIGRATE_ON_START"] = "false"
    _serve(
        "cloud_service.app:create_app_from_env",
        settings.host,
        settings.port,
        factory=True,
        workers=settings.workers,
        **settings.uvicorn_tls(),
    )


@edge_app.command("serve")
def edge_serve(
    edge_id: Annotated[str | None, typer.Option(help="[env EDGESYNC_EDGE_ID]")] = None,
    cloud_url: Annotated[
        str | None, typer.Option(help="[env EDGESYNC_CLOUD_URL]")
    ] = None,
    database_url: DatabaseUrl = None,
    host: Host = None,
    port: Port = None,
    batch_size: Annotated[int | None, typer.Option(help="Changes per push")] = None,
    sync_interval: Annotated[
        float | None, typer.Option(help="Seconds between syncs")
    ] = None,
) -> None:
    """Run an edge service under uvicorn."""
    from edge_service.app import create_app

    settings = EdgeSettings(
        **_given(
            edge_id=edge_id,
            cloud_url=cloud_url,
            database_url=database_url,
            host=host,
            port=port,
            batch_size=batch_size,
            sync_interval=sync_interval,
        )
    )
    _refuse_misconfigured(lambda: load_analyst_verifier(settings))
    _refuse_misconfigured(lambda: load_edge_credentials(settings))
    configure_logging(settings.log_format, settings.log_level)
    _serve(create_app(settings), settings.host, settings.port)


class ServiceName(enum.StrEnum):
    """The services that own a database."""

    CLOUD = "cloud"
    EDGE = "edge"


@db_app.command("upgrade")
def db_upgrade(
    service: Annotated[ServiceName, typer.Argument(help="Whose database")],
    database_url: DatabaseUrl = None,
    edge_id: Annotated[str | None, typer.Option(help="Edge whose file to use")] = None,
) -> None:
    """Bring a service's database to the newest schema."""
    configure_logging()
    if service is ServiceName.CLOUD:
        url = CloudSettings(**_given(database_url=database_url)).database_url
        asyncio.run(migrate.upgrade("cloud", url))
        head = migrate.head_revision("cloud")
    else:
        edge = EdgeSettings(**_given(database_url=database_url, edge_id=edge_id))
        asyncio.run(migrate.upgrade("edge", edge.resolved_database_url))
        head = migrate.head_revision("edge")
    typer.echo(f"{service.value} database at revision {head}")


@app.command()
def demo(
    database_url: DatabaseUrl = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object")
    ] = False,
    reports_per_edge: Annotated[int, typer.Option(min=10, max=2000)] = 600,
    updates: Annotated[
        int, typer.Option(min=0, max=20000, help="Updates in all")
    ] = 2500,
    seed: Annotated[int, typer.Option(help="Seed of the analysts' choices")] = 7,
) -> None:
    """Run one cloud and three edges on 127.0.0.1 and sync real reports."""
    from edgesync.demo import DemoOptions, run_demo

    options = DemoOptions(
        database_url=database_url or os.environ.get("EDGESYNC_DATABASE_URL"),
        json_output=json_output,
        reports_per_edge=reports_per_edge,
        updates=updates,
        seed=seed,
    )
    raise typer.Exit(asyncio.run(run_demo(options)))
