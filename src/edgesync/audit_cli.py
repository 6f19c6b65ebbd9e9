"""
``edgesync audit verify|export|list``: the audit log of the cloud or an edge.

Every command asks the cloud (``--cloud``, the default) or an edge service
(``--edge``); when the service authenticates, the ``--token`` must hold the
auditor role. ``verify --file`` asks nobody: it checks an NDJSON export one
line at a time, so a file of any size is checked in constant memory, and an
export is written to its file as it arrives for the same reason.

Exit status: 0 when the command did what it says (for ``verify``: the chain
is intact), 1 when the service refuses or cannot be reached or a file cannot
be read, 2 for a usage error, 3 when ``verify`` finds the chain broken. The
token is never printed.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import httpx
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from edgesync.auditfile import AuditFileError, read_ndjson
from edgesync.cloud_http import (
    DEFAULT_CLOUD_URL,
    CaFile,
    CloudClient,
    CloudUrl,
    Token,
    fail,
)
from syncproto.audit import (
    GENESIS_HASH,
    MAX_AUDIT_LIMIT,
    AuditAction,
    AuditPage,
    AuditRecord,
    AuditVerification,
    ChainCheck,
)

EXIT_BROKEN = 3
# A record is well under a kilobyte; a longer line is not one, and reading
# it whole would undo the constant memory of `verify --file`.
MAX_LINE_BYTES = 1 << 20
# Verifying reads the whole log before the service answers.
VERIFY_TIMEOUT = httpx.Timeout(30.0, read=600.0)
# A table cell shows the start of a reason; `--json` shows it whole.
REASON_CHARS = 24
# Wide enough to measure a table's natural width, never to print at.
UNCLAMPED = 10_000
_ANCHOR = re.compile(r"^([0-9]{1,18}):([0-9a-f]{64})$")

app = typer.Typer(
    help="Verify, export and list the audit log of the cloud or an edge "
    "(auditor role). Exit status 3 means the hash chain is broken.",
    no_args_is_help=True,
)


class ExportFormat(StrEnum):
    """The file formats of an export."""

    NDJSON = "ndjson"
    CSV = "csv"


def _moment(value: str) -> datetime:
    """Return an ISO 8601 time; one without an offset is UTC, the log's zone."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        msg = f"{value!r} is not an ISO 8601 time, like 2026-12-04T08:00:00Z"
        raise typer.BadParameter(msg) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


EdgeUrl = Annotated[
    str | None,
    typer.Option("--edge", help="An edge service's base URL, instead of the cloud's"),
]
Anchors = Annotated[
    list[str] | None,
    typer.Option(
        "--anchor",
        metavar="SEQ:HASH",
        help="A record noted earlier, such as an export's head anchor; repeatable",
        show_default=False,
    ),
]
Report = Annotated[str | None, typer.Option("--report", help="Only this report")]
Actor = Annotated[str | None, typer.Option(help="Only this analyst sub or edge id")]
EdgeId = Annotated[
    str | None,
    typer.Option("--edge-id", help="Only actions from or vouched for by this edge"),
]
Action = Annotated[
    AuditAction | None,
    typer.Option(metavar="ACTION", help="Only this action, e.g. change.received"),
]
Since = Annotated[
    datetime | None,
    typer.Option(parser=_moment, metavar="TIME", help="Only records at or after"),
]
Until = Annotated[
    datetime | None,
    typer.Option(parser=_moment, metavar="TIME", help="Only records before"),
]


def _service(ctx: typer.Context, cloud: str, edge: str | None) -> tuple[str, str]:
    """Return what to call the service asked, and its URL."""
    if edge is None:
        return "cloud", cloud
    # EDGESYNC_CLOUD_URL is often set for an edge's own use: only a --cloud
    # typed next to --edge is a contradiction.
    if _typed(ctx, "cloud"):
        msg = "give --cloud or --edge, not both"
        raise typer.BadParameter(msg, param_hint="--edge")
    return "edge", edge


def _typed(ctx: typer.Context, name: str) -> bool:
    """Return whether option *name* was given on the command line."""
    source = ctx.get_parameter_source(name)
    # Compared by name: typer's ParameterSource is its own click's.
    return source is not None and source.name == "COMMANDLINE"


def _client(
    ctx: typer.Context,
    cloud: str,
    edge: str | None,
    token: str | None,
    ca_file: Path | None,
) -> CloudClient:
    name, url = _service(ctx, cloud, edge)
    return CloudClient(url, token=token, ca_file=ca_file, service=name)


def _anchors(given: list[str] | None) -> dict[int, str]:
    """Return ``--anchor SEQ:HASH`` values by seq, or exit 2 for a bad one."""
    anchors: dict[int, str] = {}
    for value in given or []:
        match = _ANCHOR.match(value.strip().lower())
        if match is None:
            msg = f"{value!r} is not SEQ:HASH (a seq, a colon, 64 hex digits)"
            raise typer.BadParameter(msg, param_hint="--anchor")
        seq, digest = int(match[1]), match[2]
        if anchors.setdefault(seq, digest) != digest:
            msg = f"two different hashes are given for seq {seq}"
            raise typer.BadParameter(msg, param_hint="--anchor")
    return anchors


def _filters(
    report: str | None,
    actor: str | None,
    edge_id: str | None,
    action: AuditAction | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, str]:
    given = {
        "report_id": report,
        "actor": actor,
        "edge_id": edge_id,
        "action": action.value if action else None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    return {name: value for name, value in given.items() if value is not None}


@app.command()
def verify(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Check this NDJSON export offline instead of asking a service",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    anchor: Anchors = None,
    cloud: CloudUrl = DEFAULT_CLOUD_URL,
    edge: EdgeUrl = None,
    token: Token = None,
    ca_file: CaFile = None,
) -> None:
    """
    Check the audit log's hash chain at a service, or in an exported --file.

    A record altered, removed or inserted breaks the chain at its seq, which
    is named; an --anchor noted earlier also catches a log rewritten from that
    record on. Exit status: 0 when the chain is intact, 3 when it is broken,
    1 when the service refuses or cannot be reached or the file is not an
    NDJSON export, 2 for a usage error.
    """
    anchors = _anchors(anchor)
    if file is None:
        result = _verify_service(ctx, anchors, cloud, edge, token, ca_file)
    else:
        if _typed(ctx, "cloud") or edge is not None:
            msg = "--file is checked offline: give it without --cloud or --edge"
            raise typer.BadParameter(msg, param_hint="--file")
        result = _verify_file(file, anchors)
    if not result.ok:
        raise typer.Exit(EXIT_BROKEN)


def _verify_service(
    ctx: typer.Context,
    anchors: dict[int, str],
    cloud: str,
    edge: str | None,
    token: str | None,
    ca_file: Path | None,
) -> AuditVerification:
    params = {"anchor": [f"{seq}:{digest}" for seq, digest in anchors.items()]}
    with _client(ctx, cloud, edge, token, ca_file) as client:
        response = client.send(
            "GET", "/audit/verify", params=params, timeout=VERIFY_TIMEOUT
        )
        source = f"the {client.service} at {client.base_url}"
    result = AuditVerification.model_validate(response.json())

    _print_verdict(f"Audit log of {source}", result)
    _print_fact("checked", f"{result.checked} record(s)")
    _print_fact("head", f"{result.head_seq}:{result.head_hash}")
    return result


def _verify_file(path: Path, anchors: dict[int, str]) -> AuditVerification:
    """Check an NDJSON export in one pass, one line in memory at a time."""
    try:
        with path.open("rb") as stream:
            checked = _check_records(read_ndjson(_lines(stream)), anchors)
    except AuditFileError as exc:
        fail(f"{path}: {exc}")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    if checked is None:
        fail(f"{path} holds no audit record")
    first, last, result = checked.first.seq, checked.last, checked.result

    _print_verdict(f"Audit export {path}", result)
    _print_fact("checked", f"{result.checked} record(s), seq {first}-{last.seq}")
    _print_fact("last record", f"{last.seq}:{last.hash}")
    if first != 1:
        _print_note(
            f"The file starts at seq {first}: the records before it are not covered."
        )
    if checked.gap:
        _print_note(
            "An export with filters, or by an auditor not cleared for every "
            "record, leaves records out: check such a log at the service."
        )
    return result


@dataclass(frozen=True)
class _FileCheck:
    first: AuditRecord
    last: AuditRecord
    result: AuditVerification
    # Whether the chain breaks where a record is missing from the file.
    gap: bool


def _check_records(
    records: Iterator[AuditRecord], anchors: dict[int, str]
) -> _FileCheck | None:
    """Check the records of a file in order; None when it holds none."""
    first = next(records, None)
    if first is None:
        return None
    # A file may hold the end of a chain; one that starts at 1 starts at the
    # genesis hash, so its first record is checked too.
    start = GENESIS_HASH if first.seq == 1 else first.prev_hash
    check = ChainCheck(first.seq, start, anchors)
    last = first
    for record in itertools.chain([first], records):
        last = record
        if not check.add(record):
            break
    gap = not check.ok and last.seq > check.expected
    # The file has no head of its own: its last record stands for one.
    result = check.finish(last.seq, last.hash)
    return _FileCheck(first, last, result, gap)


def _lines(stream: IO[bytes]) -> Iterator[str]:
    """Yield the lines of *stream* as text; a line too long or not UTF-8 is bad."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            msg = f"line {number} is longer than {MAX_LINE_BYTES} bytes"
            raise AuditFileError(msg)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = f"line {number} is not UTF-8 text"
            raise AuditFileError(msg) from exc


def _print_verdict(what: str, result: AuditVerification) -> None:
    console = Console()
    if result.ok:
        console.print(Text(f"{what}: intact", style="bold green"), soft_wrap=True)
        return
    console.print(
        Text(f"{what}: broken at seq {result.first_bad_seq}", style="bold red"),
        soft_wrap=True,
    )
    _print_fact("problem", str(result.problem))


def _print_note(note: str) -> None:
    Console().print(Text(note, style="yellow"))


def _print_fact(what: str, value: str) -> None:
    # Soft wrap keeps a SEQ:HASH on one line, to copy whole.
    Console().print(Text(f"  {what:<12} {value}"), soft_wrap=True)


@app.command()
def export(
    ctx: typer.Context,
    export_format: Annotated[
        ExportFormat,
        typer.Option("--format", help="ndjson to verify, csv for spreadsheets"),
    ] = ExportFormat.NDJSON,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", metavar="FILE", help="File to write; - is stdout"
        ),
    ] = "-",
    report: Report = None,
    actor: Actor = None,
    edge_id: EdgeId = None,
    action: Action = None,
    since: Since = None,
    until: Until = None,
    cloud: CloudUrl = DEFAULT_CLOUD_URL,
    edge: EdgeUrl = None,
    token: Token = None,
    ca_file: CaFile = None,
) -> None:
    """
    Stream the audit log into a file, as it arrives, never held whole.

    The export is itself recorded and ends with that record. Its seq and
    hash, the head anchor SEQ:HASH, go to stderr with the number of records
    written: keep the anchor to pass to verify --anchor later. An unfiltered
    NDJSON export is a whole chain that verify --file checks offline. Exit
    status 1 when the service refuses, cannot be reached or breaks off (a
    file is then not left behind).
    """
    params = _filters(report, actor, edge_id, action, since, until)
    with (
        _client(ctx, cloud, edge, token, ca_file) as client,
        client.stream(
            "GET", "/audit/export", params=params | {"format": export_format.value}
        ) as response,
    ):
        written = _save(response, output, RecordCounter(export_format))
        anchor = _head_anchor(response)

    console = Console(stderr=True)
    where = "stdout" if output == "-" else output
    console.print(
        Text(f"Wrote {written} record(s) to {where} as {export_format.value}"),
        soft_wrap=True,
    )
    if anchor is None:
        console.print(Text("The service named no head anchor", style="yellow"))
    else:
        console.print(Text(f"head anchor {anchor}", style="green"), soft_wrap=True)


class RecordCounter:
    """Count the records in an export's bytes as they go by."""

    def __init__(self, export_format: ExportFormat) -> None:
        self.format = export_format
        self.lines = 0
        # A CSV cell may hold a line break inside quotes: it ends no record.
        self._quoted = False

    def feed(self, chunk: bytes) -> None:
        if self.format is ExportFormat.NDJSON:
            self.lines += chunk.count(b"\n")
            return
        parts = chunk.split(b'"')
        for n, part in enumerate(parts):
            if not self._quoted:
                self.lines += part.count(b"\n")
            if n < len(parts) - 1:
                self._quoted = not self._quoted

    @property
    def records(self) -> int:
        header = 1 if self.format is ExportFormat.CSV else 0
        return max(self.lines - header, 0)


def _save(response: httpx.Response, output: str, counter: RecordCounter) -> int:
    """Write the body to *output* as it arrives; return the records written."""
    if output == "-":
        try:
            _copy(response, sys.stdout.buffer, counter)
        except OSError as exc:
            fail(f"cannot write to stdout: {exc.strerror or exc}")
        return counter.records
    path = Path(output)
    # Written beside the file and renamed once whole, so that an export that
    # breaks off never leaves a short file that looks complete.
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("wb") as sink:
            _copy(response, sink, counter)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(f"cannot write {path}: {exc.strerror or exc}")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return counter.records


def _copy(response: httpx.Response, sink: IO[bytes], counter: RecordCounter) -> None:
    try:
        for chunk in response.iter_bytes():
            sink.write(chunk)
            counter.feed(chunk)
    except httpx.HTTPError as exc:
        fail(f"the export broke off after {counter.records} record(s): {exc}")
    sink.flush()


def _head_anchor(response: httpx.Response) -> str | None:
    seq = response.headers.get("X-Audit-Head-Seq")
    digest = response.headers.get("X-Audit-Head-Hash")
    if not seq or not digest:
        return None
    return f"{seq}:{digest}"


@app.command("list")
def list_records(
    ctx: typer.Context,
    report: Report = None,
    actor: Actor = None,
    edge_id: EdgeId = None,
    action: Action = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_AUDIT_LIMIT)] = 100,
    after: Annotated[
        int, typer.Option(min=0, metavar="SEQ", help="Only records above this seq")
    ] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the page as the service sent it")
    ] = False,
    cloud: CloudUrl = DEFAULT_CLOUD_URL,
    edge: EdgeUrl = None,
    token: Token = None,
    ca_file: CaFile = None,
) -> None:
    """List audit records in seq order, a page at a time."""
    params: dict[str, Any] = _filters(report, actor, edge_id, action, since, until)
    params |= {"limit": limit, "after": after}
    with _client(ctx, cloud, edge, token, ca_file) as client:
        response = client.send("GET", "/audit", params=params)
    if as_json:
        typer.echo(response.text)
        return
    page = AuditPage.model_validate(response.json())

    console = Console()
    console.print(records_table(page, console.width))


def records_table(page: AuditPage, width: int) -> Table:
    """Return a page as a table for *width* columns, 80 or more; seq is never cut."""
    table = _records_table(page, time_width=None)
    # Measured unclamped: a console measures nothing wider than itself.
    if Console(width=UNCLAMPED).measure(table).maximum > width:
        # Too narrow for a time on one line: the date goes over the time.
        table = _records_table(page, time_width=10)
    return table


def _records_table(page: AuditPage, time_width: int | None) -> Table:
    records = page.records
    more = f"more after seq {page.next_after}" if page.next_after else None
    table = Table(
        title=f"{len(records)} record(s)",
        caption=more,
        # The box's blank divider is the only space between columns, and
        # there is none at the edges: eight columns fit in 80.
        box=box.SIMPLE_HEAD,
        padding=0,
        show_edge=False,
    )
    table.add_column(
        "seq",
        justify="right",
        no_wrap=True,
        min_width=max((len(str(r.seq)) for r in records), default=3),
    )
    table.add_column("time (UTC)", width=time_width)
    table.add_column(
        "action",
        no_wrap=True,
        min_width=max((len(r.action.value) for r in records), default=6),
    )
    for column in ("actor", "edge", "report", "outcome", "reason"):
        table.add_column(column, overflow="fold")
    for record in records:
        cells = (
            record.actor,
            record.edge_id,
            record.report_id,
            record.outcome,
            _short(record.reason),
        )
        table.add_row(
            str(record.seq),
            record.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            Text(record.action.value),
            *(Text(value or "-") for value in cells),
        )
    return table


def _short(reason: str | None) -> str | None:
    if reason is None or len(reason) <= REASON_CHARS:
        return reason
    return reason[: REASON_CHARS - 1] + "…"
