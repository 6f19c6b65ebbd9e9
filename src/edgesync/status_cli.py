"""
``edgesync status``: how far an edge, or every edge, is in syncing, as tables.

``--edge URL`` reads the edge's ``GET /sync/status`` and the changes its
outbox holds back (rejected by the cloud, or held as too large) with their
reasons. ``--cloud URL`` reads every edge's status at the cloud (``GET
/edges``), the feed head (``GET /sync/info``) and how many conflicts are open.
``--json`` prints the same answers as one JSON object instead.

The tables fit an 80-column terminal: an id that does not fit its column
wraps onto the next line, it is never cut. Values from the services are
shown as plain text, never read as rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from cloud_service.edges import EdgePublic, EdgesPublic
from edge_service.models import OutboxEntryPublic, OutboxState
from edge_service.models import SyncStatus as EdgeStatus
from edgesync.cloud_http import CaFile, CloudClient, Token, fail
from syncproto import ConflictsPublic, SyncInfo

# Rows of held and of rejected changes shown; the status counts them all.
DEFAULT_SHOWN = 20
_HELD_BACK = (OutboxState.REJECTED, OutboxState.HELD)
_UUID_CHARS = 36

Answers = dict[str, Any]
View = Callable[[Answers, datetime], Group]

EdgeUrl = Annotated[
    str | None,
    typer.Option("--edge", help="An edge's base URL", show_default=False),
]
CloudUrlOption = Annotated[
    str | None,
    typer.Option(
        "--cloud",
        envvar="EDGESYNC_CLOUD_URL",
        help="The cloud's base URL",
        show_default=False,
    ),
]
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print the answers as one JSON object")
]
Shown = Annotated[
    int,
    typer.Option(
        "--limit", min=1, max=1000, help="Held and rejected changes shown, each"
    ),
]


def status(
    ctx: typer.Context,
    edge: EdgeUrl = None,
    cloud: CloudUrlOption = None,
    token: Token = None,
    ca_file: CaFile = None,
    json_output: JsonOutput = False,
    limit: Shown = DEFAULT_SHOWN,
) -> None:
    """Show an edge's sync status (--edge), or every edge's at the cloud (--cloud)."""
    # EDGESYNC_CLOUD_URL may be exported for the other commands: only a
    # --cloud typed next to --edge is a contradiction.
    source = ctx.get_parameter_source("cloud")
    typed_cloud = source is not None and source.name == "COMMANDLINE"
    if edge is not None and typed_cloud:
        raise typer.BadParameter("give --edge or --cloud, not both")
    if edge is not None:
        with CloudClient(edge, token=token, ca_file=ca_file, service="edge") as client:
            answers = _read_edge(client, limit)
        _show(answers, json_output, _edge_view)
    elif cloud is not None:
        with CloudClient(cloud, token=token, ca_file=ca_file) as client:
            answers = _read_cloud(client)
        _show(answers, json_output, _cloud_view)
    else:
        fail("give --edge URL for an edge's status, or --cloud URL for every edge's")


def _show(answers: Answers, json_output: bool, view: View) -> None:
    if json_output:
        typer.echo(json.dumps(answers, indent=2))
        return
    Console().print(view(answers, datetime.now(UTC)))


def _read_edge(client: CloudClient, limit: int) -> Answers:
    answers: Answers = {"status": client.send("GET", "/sync/status").json()}
    for state in _HELD_BACK:
        params = {"state": state.value, "limit": limit}
        page = client.send("GET", "/outbox", params=params).json()
        answers[state.value] = page["entries"]

    return answers


def _read_cloud(client: CloudClient) -> Answers:
    open_page = client.send("GET", "/conflicts", params={"status": "open", "limit": 1})
    return {
        "sync_info": client.send("GET", "/sync/info").json(),
        "open_conflicts": ConflictsPublic.model_validate(open_page.json()).count,
        "edges": client.send("GET", "/edges").json()["edges"],
    }


def _edge_view(answers: Answers, now: datetime) -> Group:
    edge = EdgeStatus.model_validate(answers["status"])
    parts: list[Table] = [_edge_summary(edge, now)]
    totals = {OutboxState.REJECTED: edge.rejected, OutboxState.HELD: edge.held}
    for state in _HELD_BACK:
        entries = [OutboxEntryPublic.model_validate(e) for e in answers[state.value]]
        if entries:
            parts.append(_held_back_table(state, entries, totals[state]))

    return Group(*parts)


def _edge_summary(edge: EdgeStatus, now: datetime) -> Table:
    table = _pairs(f"edge {edge.edge_id}")
    alive = Text("running", "green") if edge.loop_alive else Text("stopped", "red")
    oldest = edge.oldest_pending_age
    pending = f"{edge.pending}" + (
        "" if oldest is None else f" (oldest {_duration(oldest)} old)"
    )
    outbox = ", ".join(f"{s.value} {n}" for s, n in edge.outbox.items() if n)
    failures = Text(str(edge.consecutive_failures))
    if edge.consecutive_failures:
        failures.stylize("red")
    rows: dict[str, str | Text] = {
        "sync loop": alive,
        "pending": pending,
        "held": str(edge.held),
        "rejected": _count(edge.rejected),
        "in conflict": _count(edge.in_conflict, "yellow"),
        "feed": f"cursor {edge.feed_cursor} of head {edge.feed_head}, lag {edge.lag}",
        "entries pulled": str(edge.entries_pulled),
        "outbox": outbox or "empty",
        "last push": _when(edge.last_push_at, now),
        "last pull": _when(edge.last_pull_at, now),
        "last success": _when(edge.last_success_at, now),
        "failures": failures,
        "last error": Text(edge.last_error or "-", "red" if edge.last_error else ""),
        "next attempt": _when(edge.next_attempt_at, now),
    }
    for what, value in rows.items():
        table.add_row(what, Text(value) if isinstance(value, str) else value)

    return table


def _held_back_table(
    state: OutboxState, entries: list[OutboxEntryPublic], total: int
) -> Table:
    shown = f"{len(entries)} of {total}" if total > len(entries) else str(total)
    table = Table(title=f"{state.value} changes ({shown})", box=box.SIMPLE_HEAD)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("change / report", width=_UUID_CHARS, overflow="fold")
    table.add_column("tries", justify="right", no_wrap=True)
    table.add_column("reason")
    for entry in entries:
        change = Text(f"{entry.change_id}\n")
        change.append(entry.report_id, "dim")
        table.add_row(
            str(entry.origin_seq),
            change,
            str(entry.attempts),
            Text(entry.reason or "-"),
        )

    return table


def _cloud_view(answers: Answers, now: datetime) -> Group:
    info = SyncInfo.model_validate(answers["sync_info"])
    edges = EdgesPublic(edges=answers["edges"]).edges
    summary = _pairs("cloud")
    summary.add_row("feed head", str(info.feed_head))
    summary.add_row("open conflicts", _count(answers["open_conflicts"], "yellow"))
    summary.add_row("edges", str(len(edges)))

    return Group(summary, _edges_table(edges, now))


def _edges_table(edges: list[EdgePublic], now: datetime) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("edge", overflow="fold")
    table.add_column("clearance", no_wrap=True)
    table.add_column("pushed", no_wrap=True)
    table.add_column("pulled", no_wrap=True)
    for column in ("received", "rejected", "lag", "gap"):
        table.add_column(column, justify="right", no_wrap=True)
    for edge in edges:
        table.add_row(
            Text(edge.edge_id),
            _clearance(edge),
            _ago(edge.last_push_at, now),
            _ago(edge.last_pull_at, now),
            str(edge.changes_received),
            _count(edge.rejected),
            "-" if edge.lag is None else str(edge.lag),
            Text("yes", "red") if edge.gap else "no",
        )

    return table


def _clearance(edge: EdgePublic) -> Text:
    if edge.revoked_at is not None:
        return Text("revoked", "red")
    return Text(edge.clearance.value if edge.clearance else "-")


def _pairs(title: str) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    return table


def _count(value: int, style: str = "red") -> Text:
    return Text(str(value), style if value else "")


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({_ago(moment, now)})"


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds <= -1:
        return f"in {_duration(-seconds)}"
    return "just now" if seconds < 1 else f"{_duration(seconds)} ago"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
