"""
``edgesync conflicts``: list, inspect and resolve conflicts at the cloud.

A resolution first reads the conflict and sends its ETag back in
``If-Match``, so the cloud refuses it when a sibling joined in between
(docs/protocol.md, "Resolution"). A 4xx answer ends the command with the
problem's detail and exit status 1.

Against an authenticating cloud every command takes an analyst's ``--token``
and the token's subject resolves; ``--as`` names the resolver of a cloud
without authentication.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from edgesync.cloud_http import (
    DEFAULT_CLOUD_URL,
    CaFile,
    CloudClient,
    CloudUrl,
    Token,
)
from syncproto import (
    FIELD_NAMES,
    ConflictPublic,
    ConflictSibling,
    ConflictsPublic,
    ConflictStatus,
    ResolutionPublic,
)

app = typer.Typer(
    help="List, inspect and resolve conflicts at the cloud.", no_args_is_help=True
)

# Content may be 64 KiB; a table cell shows its start.
SHOWN_CHARS = 200
ConflictId = Annotated[uuid.UUID, typer.Argument(help="The conflict's id")]


@app.command("list")
def list_conflicts(
    status: Annotated[
        ConflictStatus | None, typer.Option(help="open or resolved")
    ] = None,
    report: Annotated[str | None, typer.Option(help="Only this report")] = None,
    edge: Annotated[
        str | None, typer.Option(help="Only conflicts with a sibling from this edge")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    cloud: CloudUrl = DEFAULT_CLOUD_URL,
    token: Token = None,
    ca_file: CaFile = None,
) -> None:
    """List conflicts, oldest first."""
    given = {"status": status, "report_id": report, "edge_id": edge}
    params = {k: v for k, v in given.items() if v is not None}
    with CloudClient(cloud, token=token, ca_file=ca_file) as client:
        response = client.send(
            "GET", "/conflicts", params=params | {"limit": limit, "offset": offset}
        )
    page = ConflictsPublic.model_validate(response.json())

    table = Table(title=f"{page.count} conflict(s)")
    # Ids are never cut: they are what `show` and `resolve` take.
    table.add_column("conflict", no_wrap=True, overflow="fold", min_width=36)
    for column in ("report", "status", "conflicting", "siblings", "opened"):
        table.add_column(column)
    for conflict in page.conflicts:
        table.add_row(
            str(conflict.conflict_id),
            conflict.report_id,
            conflict.status.value,
            ", ".join(conflict.conflicting_fields),
            ", ".join(s.origin for s in conflict.siblings),
            conflict.opened_at.isoformat(),
        )
    Console().print(table)


@app.command("show")
def show(
    conflict_id: ConflictId,
    cloud: CloudUrl = DEFAULT_CLOUD_URL,
    token: Token = None,
    ca_file: CaFile = None,
) -> None:
    """Show a conflict: the base and the siblings side by side, field by field."""
    with CloudClient(cloud, token=token, ca_file=ca_file) as client:
        response = client.send("GET", f"/conflicts/{conflict_id}")
    conflict = ConflictPublic.model_validate(response.json())

    console = Console()
    console.print(
        f"Conflict {conflict.conflict_id} on report [bold]{conflict.report_id}"
        f"[/bold]: {conflict.status.value}, base clock {conflict.base_clock}"
    )
    console.print(_siblings_table(conflict))
    if conflict.resolution is not None:
        console.print(_resolution_table(conflict.resolution))


def _siblings_table(conflict: ConflictPublic) -> Table:
    """Return one row per field: the base, then each sibling's value."""
    table = Table(caption="conflicting fields in red; * marks a changed field")
    table.add_column("field")
    table.add_column("base")
    for sibling in conflict.siblings:
        table.add_column(_sibling_heading(sibling))
    base = conflict.base.model_dump(mode="json") if conflict.base else {}
    for name in FIELD_NAMES:
        conflicting = name in conflict.conflicting_fields
        cells = [_cell(base.get(name, "?"), changed=False)]
        for sibling in conflict.siblings:
            value = sibling.fields.model_dump(mode="json")[name]
            cells.append(_cell(value, changed=name in sibling.changed_fields))
        table.add_row(name, *cells, style="bold red" if conflicting else None)
    return table


def _sibling_heading(sibling: ConflictSibling) -> Text:
    return Text(
        f"{sibling.origin} ({sibling.author})\n"
        f"change {sibling.change_id}\nclock {sibling.clock}"
    )


def _cell(value: object, *, changed: bool) -> Text:
    """Return *value* as plain text: report text is never read as rich markup."""
    text = str(value)
    if len(text) > SHOWN_CHARS:
        text = text[:SHOWN_CHARS] + "…"
    return Text(f"* {text}" if changed else text)


def _resolution_table(resolution: ResolutionPublic) -> Table:
    table = Table(title="Resolution", show_header=False)
    table.add_column("what")
    table.add_column("value")
    kept = resolution.kept_change_id
    rows = {
        "resolved by": resolution.resolved_by,
        "resolved at": resolution.resolved_at.isoformat(),
        "reason": resolution.reason,
        "kept": str(kept) if kept else "field values given",
        "clock": str(resolution.clock),
        **resolution.fields.model_dump(mode="json"),
    }
    for what, value in rows.items():
        table.add_row(what, _cell(value, changed=False))
    return table


@app.command("resolve")
def resolve(
    conflict_id: ConflictId,
    reason: Annotated[str, typer.Option(help="Why; kept for the audit")],
    analyst: Annotated[
        str | None,
        typer.Option(
            "--as",
            envvar="EDGESYNC_ANALYST",
            help="Who resolves, for a cloud without authentication "
            "(with --token the token's subject resolves)",
            show_default=False,
        ),
    ] = None,
    keep: Annotated[
        str | None, typer.Option(help="The change id of the sibling to keep")
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(help="NAME=VALUE of title, content, classification, deleted"),
    ] = None,
    cloud: CloudUrl = DEFAULT_CLOUD_URL,
    token: Token = None,
    ca_file: CaFile = None,
) -> None:
    """Resolve a conflict: --keep one sibling, or give --field values."""
    if analyst is None and not (token or "").strip():
        msg = "name the resolver with --as, or pass an analyst's --token"
        raise typer.BadParameter(msg, param_hint="--as")
    body: dict[str, Any] = {"reason": reason}
    if keep is not None:
        body["keep"] = keep
    if field:
        body["fields"] = _parse_fields(field)
    headers = {} if analyst is None else {"X-Analyst": analyst}
    path = f"/conflicts/{conflict_id}"
    with CloudClient(cloud, token=token, ca_file=ca_file) as client:
        etag = client.send("GET", path).headers["ETag"]
        response = client.send(
            "POST",
            f"{path}/resolve",
            json=body,
            headers={"If-Match": etag, **headers},
        )
    conflict = ConflictPublic.model_validate(response.json())

    assert conflict.resolution is not None
    console = Console()
    console.print(f"Resolved conflict {conflict_id} of report {conflict.report_id}")
    console.print(_resolution_table(conflict.resolution))


def _parse_fields(pairs: list[str]) -> dict[str, str]:
    """Return ``--field NAME=VALUE`` pairs as a dict; the cloud checks the values."""
    fields = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            msg = f"{pair!r} is not NAME=VALUE"
            raise typer.BadParameter(msg, param_hint="--field")
        fields[name] = value
    return fields
