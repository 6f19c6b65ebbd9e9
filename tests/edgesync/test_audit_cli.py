"""
`edgesync audit verify|export|list` against a real, authenticating cloud.

The cloud's log starts with the two edge registrations of the `cloud`
fixture, seq 1 and 2; an export appends its own record, seq 3, and ends
with it (docs/audit.md). Exit statuses are the command's: 0 intact, 1 refused
or unreadable, 2 usage, 3 broken.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from rich.console import Console
from typer.testing import CliRunner, Result

from edgesync.audit_cli import ExportFormat, RecordCounter, records_table
from edgesync.auditfile import csv_header, csv_line
from edgesync.cli import app
from edgesync.cluster import free_port
from edgesync.keys import public_key_pem
from edgesync.tokens import Role
from syncproto.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditEvent,
    AuditPage,
    chain,
)
from tests.edgesync.clouds import AuthCloud

runner = CliRunner()
ANCHOR = re.compile(r"head anchor (\d+:[0-9a-f]{64})")


@pytest.fixture
def cloud(
    auth_cloud: AuthCloud,
    edge_key: rsa.RSAPrivateKey,
    stranger_key: rsa.RSAPrivateKey,
) -> AuthCloud:
    """An authenticating cloud whose log holds two registrations, seq 1 and 2."""
    admin = {"Authorization": f"Bearer {auth_cloud.token(Role.ADMIN)}"}
    for edge_id, key in (("edge-a", edge_key), ("edge-b", stranger_key)):
        body = {
            "edge_id": edge_id,
            "public_key_pem": public_key_pem(key.public_key()).decode(),
            "clearance": "IL4",
        }
        response = httpx.post(f"{auth_cloud.url}/edges", json=body, headers=admin)
        assert response.status_code == 201, response.text
    return auth_cloud


def _ask(
    cloud: AuthCloud, *args: str, role: Role = Role.AUDITOR, columns: int = 250
) -> Result:
    """Run `edgesync audit ARGS` against *cloud* with a token holding *role*."""
    token = cloud.token(role, sub="auditor-1")
    result = runner.invoke(
        app,
        ["audit", *args, "--cloud", cloud.url, "--token", token],
        env={"COLUMNS": str(columns)},
    )
    assert token not in result.output
    return result


def _check(path: Path, *args: str) -> Result:
    """Run `edgesync audit verify --file PATH ARGS`, asking no service."""
    return runner.invoke(
        app, ["audit", "verify", "--file", str(path), *args], env={"COLUMNS": "250"}
    )


def _export(cloud: AuthCloud, path: Path) -> str:
    """Export the whole log as NDJSON to *path*; return the head anchor printed."""
    result = _ask(cloud, "export", "--output", str(path))
    assert result.exit_code == 0, result.output
    match = ANCHOR.search(result.stderr)
    assert match is not None, result.stderr
    return match[1]


def _hash_of(cloud: AuthCloud, seq: int) -> str:
    """Return the hash of record *seq*, as `GET /audit` lists it."""
    auditor = {"Authorization": f"Bearer {cloud.token(Role.AUDITOR)}"}
    response = httpx.get(
        f"{cloud.url}/audit", params={"after": seq - 1, "limit": 1}, headers=auditor
    )
    assert response.status_code == 200, response.text
    (record,) = response.json()["records"]
    assert record["seq"] == seq
    digest: str = record["hash"]
    return digest


def _rewrite(path: Path, seq: int, **fields: object) -> None:
    """Set *fields* in record *seq* of an NDJSON export, leaving its hash."""
    lines = path.read_text().splitlines(keepends=True)
    record = json.loads(lines[seq - 1])
    assert record["seq"] == seq
    lines[seq - 1] = json.dumps(record | fields) + "\n"
    path.write_text("".join(lines))


def test_verify_a_fresh_log_is_intact(cloud: AuthCloud) -> None:
    """The two registrations verify: exit 0, 2 records, head 2 and its hash."""
    result = _ask(cloud, "verify")

    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    assert "2 record(s)" in result.output
    assert f"2:{_hash_of(cloud, 2)}" in result.output


def test_verify_with_the_right_anchor_is_intact(cloud: AuthCloud) -> None:
    """An anchor that names record 1 as it is changes nothing: exit 0."""
    result = _ask(cloud, "verify", "--anchor", f"1:{_hash_of(cloud, 1)}")

    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_verify_an_anchor_mismatch_exits_3(cloud: AuthCloud) -> None:
    """An anchor whose hash is not record 2's: exit 3, seq 2 named."""
    result = _ask(cloud, "verify", "--anchor", f"2:{'ab' * 32}")

    assert result.exit_code == 3, result.output
    assert "broken at seq 2" in result.output
    assert "anchored" in result.output


def test_verify_names_a_record_altered_in_the_database(
    cloud: AuthCloud, tmp_path: Path
) -> None:
    """Someone with the SQLite file rewrites record 1's actor: exit 3, seq 1."""
    with sqlite3.connect(tmp_path / "cloud.db") as db:
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1")

    result = _ask(cloud, "verify")

    assert result.exit_code == 3, result.output
    assert "broken at seq 1" in result.output
    assert "record 1 was altered" in result.output


def test_verify_a_malformed_anchor_is_a_usage_error(cloud: AuthCloud) -> None:
    """An anchor that is not SEQ:HASH is refused before any request: exit 2."""
    result = _ask(cloud, "verify", "--anchor", "two:abc")

    assert result.exit_code == 2
    assert "SEQ:HASH" in result.output


def test_export_then_verify_the_file(cloud: AuthCloud, tmp_path: Path) -> None:
    """An NDJSON export holds seq 1-3, ends at its head anchor, and verifies."""
    path = tmp_path / "audit.ndjson"

    anchor = _export(cloud, path)
    result = _check(path, "--anchor", anchor)

    assert anchor == f"3:{_hash_of(cloud, 3)}"
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [
        1,
        2,
        3,
    ]
    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    assert "3 record(s), seq 1-3" in result.output
    assert f"last record  {anchor}" in result.output
    assert not (tmp_path / "audit.ndjson.part").exists()


def test_export_prints_the_count_on_stderr(cloud: AuthCloud, tmp_path: Path) -> None:
    """The count and the anchor go to stderr, so stdout can be the export."""
    result = _ask(cloud, "export", "--output", "-")

    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3
    assert "Wrote 3 record(s) to stdout as ndjson" in result.stderr
    assert ANCHOR.search(result.stdout) is None


def test_verify_file_names_an_altered_record(cloud: AuthCloud, tmp_path: Path) -> None:
    """Record 2's actor changed in the file: exit 3, seq 2 named as altered."""
    path = tmp_path / "audit.ndjson"
    _export(cloud, path)
    _rewrite(path, 2, actor="mallory")

    result = _check(path)

    assert result.exit_code == 3, result.output
    assert "broken at seq 2" in result.output
    assert "record 2 was altered" in result.output
    assert "leaves records out" not in result.output


def test_verify_file_names_a_dropped_record(cloud: AuthCloud, tmp_path: Path) -> None:
    """Record 2's line deleted from the file: exit 3, seq 2 named as missing."""
    path = tmp_path / "audit.ndjson"
    _export(cloud, path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + lines[2])

    result = _check(path)

    assert result.exit_code == 3, result.output
    assert "broken at seq 2" in result.output
    assert "record 2 is missing" in result.output
    assert "leaves records out" in result.output


def test_verify_file_a_later_anchor_mismatch(cloud: AuthCloud, tmp_path: Path) -> None:
    """An anchor naming another hash for seq 3 than the file's: exit 3."""
    path = tmp_path / "audit.ndjson"
    _export(cloud, path)

    result = _check(path, "--anchor", f"3:{'0' * 64}")

    assert result.exit_code == 3, result.output
    assert "broken at seq 3" in result.output


def test_verify_file_missing_its_first_record(cloud: AuthCloud, tmp_path: Path) -> None:
    """A file starting at seq 2 checks as a part of a chain, and says so."""
    path = tmp_path / "audit.ndjson"
    _export(cloud, path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[1:]))

    result = _check(path)

    assert result.exit_code == 0, result.output
    assert "seq 2-3" in result.output
    assert "starts at seq 2" in result.output


def test_verify_file_seq_1_must_follow_genesis(
    cloud: AuthCloud, tmp_path: Path
) -> None:
    """Record 1 with another previous hash than the genesis hash is broken."""
    path = tmp_path / "audit.ndjson"
    _export(cloud, path)
    _rewrite(path, 1, prev_hash="1" * 64)

    result = _check(path)

    assert result.exit_code == 3, result.output
    assert "broken at seq 1" in result.output


def test_verify_file_malformed_line(cloud: AuthCloud, tmp_path: Path) -> None:
    """A line that is not a record: exit 1, naming the line."""
    path = tmp_path / "audit.ndjson"
    _export(cloud, path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + '{"seq": "two"}\n' + lines[2])

    result = _check(path)

    assert result.exit_code == 1
    assert "line 2 is not an audit record" in result.output


def test_verify_file_not_utf8(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 on line 1: exit 1, naming the line."""
    path = tmp_path / "audit.ndjson"
    path.write_bytes(b"\xff\xfe{}\n")

    result = _check(path)

    assert result.exit_code == 1
    assert "line 1 is not UTF-8" in result.output


def test_verify_file_empty(tmp_path: Path) -> None:
    """An empty file holds no chain to vouch for: exit 1."""
    path = tmp_path / "audit.ndjson"
    path.write_text("\n")

    result = _check(path)

    assert result.exit_code == 1
    assert "holds no audit record" in result.output


def test_verify_file_and_a_service_are_exclusive(
    cloud: AuthCloud, tmp_path: Path
) -> None:
    """--file with --cloud is a usage error, whatever the file holds."""
    path = tmp_path / "audit.ndjson"
    path.write_text("")

    result = _ask(cloud, "verify", "--file", str(path))

    assert result.exit_code == 2
    assert "offline" in result.output


def test_export_csv_has_a_header(cloud: AuthCloud, tmp_path: Path) -> None:
    """A CSV export starts with the header line, then one line a record."""
    path = tmp_path / "audit.csv"

    result = _ask(cloud, "export", "--format", "csv", "--output", str(path))

    assert result.exit_code == 0, result.output
    lines = path.read_text().splitlines()
    assert lines[0].startswith("seq,at,action,actor,edge_id,report_id")
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]
    assert "Wrote 3 record(s)" in result.stderr


def test_export_filtered_by_edge(cloud: AuthCloud) -> None:
    """--edge-id edge-b exports its registration only; the count says 1."""
    result = _ask(cloud, "export", "--edge-id", "edge-b", "--action", "edge.registered")

    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["edge_id"] == "edge-b"
    assert "Wrote 1 record(s)" in result.stderr


@contextlib.contextmanager
def _breaking_service() -> Iterator[str]:
    """Serve one export on 127.0.0.1 that breaks off after its first record."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(30)
    line = b'{"seq": 1}\n'
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            # No closing zero-length chunk: the body ends short.
            conn.sendall(head + f"{len(line):x}\r\n".encode() + line + b"\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        thread.join(timeout=30)
        server.close()


def test_export_broken_off_leaves_no_file(tmp_path: Path) -> None:
    """A stream that ends short: exit 1, the count so far, no file left."""
    path = tmp_path / "audit.ndjson"

    with _breaking_service() as url:
        result = runner.invoke(
            app, ["audit", "export", "--cloud", url, "--output", str(path)]
        )

    assert result.exit_code == 1
    assert "the export broke off after 1 record(s)" in result.output
    assert not path.exists()
    assert not (tmp_path / "audit.ndjson.part").exists()


def test_list_shows_records_in_80_columns(cloud: AuthCloud) -> None:
    """`audit list` shows both registrations in a table no wider than 80."""
    result = _ask(cloud, "list", columns=80)

    assert result.exit_code == 0, result.output
    assert "2 record(s)" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    rows = [line.split() for line in result.output.splitlines()]
    registered = [row[0] for row in rows if "edge.registered" in row]
    assert registered == ["1", "2"]
    assert "edge-a" in result.output
    assert "edge-b" in result.output


def test_list_json_prints_the_page(cloud: AuthCloud) -> None:
    """--json prints the service's page; filters and --after reach it."""
    every = _ask(cloud, "list", "--json", "--limit", "1")
    later = _ask(cloud, "list", "--json", "--after", "1", "--edge-id", "edge-b")

    assert every.exit_code == 0, every.output
    page = AuditPage.model_validate_json(every.stdout)
    assert [r.seq for r in page.records] == [1]
    assert page.next_after == 1
    later_page = AuditPage.model_validate_json(later.stdout)
    assert [(r.seq, r.edge_id) for r in later_page.records] == [(2, "edge-b")]


def test_list_a_time_range(cloud: AuthCloud) -> None:
    """A --since in the future leaves nothing; a bad time is a usage error."""
    future = _ask(cloud, "list", "--since", "2999-01-01T00:00:00Z")
    bad = _ask(cloud, "list", "--since", "yesterday")

    assert future.exit_code == 0, future.output
    assert "0 record(s)" in future.output
    assert bad.exit_code == 2
    assert "ISO 8601" in bad.output


@pytest.mark.parametrize(
    "args",
    [("verify",), ("list",), ("export", "--output", "refused.ndjson")],
)
def test_wrong_role_exits_1_with_the_403(
    cloud: AuthCloud,
    args: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An analyst and admin without the auditor role: exit 1, the 403 detail."""
    monkeypatch.chdir(tmp_path)

    result = _ask(cloud, *args, role=Role.ADMIN)

    assert result.exit_code == 1
    assert "403: this call needs the auditor role" in result.output
    assert not (tmp_path / "refused.ndjson").exists()
    assert not (tmp_path / "refused.ndjson.part").exists()


def test_without_a_token_exits_1_with_the_401(cloud: AuthCloud) -> None:
    """An authenticating cloud refuses the audit log to an anonymous caller."""
    result = runner.invoke(app, ["audit", "list", "--cloud", cloud.url])

    assert result.exit_code == 1
    assert "401" in result.output


@pytest.mark.parametrize("service", ["cloud", "edge"])
def test_an_unreachable_service_exits_1(service: str) -> None:
    """Nothing listens at the URL: exit 1, naming the service and its URL."""
    url = f"http://127.0.0.1:{free_port()}"

    result = runner.invoke(app, ["audit", "verify", f"--{service}", url])

    assert result.exit_code == 1
    assert f"cannot reach the {service} at {url}" in result.output


def test_cloud_and_edge_are_exclusive() -> None:
    """--cloud and --edge both typed is a usage error."""
    result = runner.invoke(
        app,
        [
            "audit",
            "list",
            "--cloud",
            "http://127.0.0.1:1",
            "--edge",
            "http://127.0.0.1:2",
        ],
    )

    assert result.exit_code == 2
    assert "not both" in result.output


def test_the_table_never_cuts_a_long_seq() -> None:
    """A 13-digit seq with long ids shows whole in 80 columns; the reason is cut."""
    event = AuditEvent(
        action=AuditAction.CONFLICT_RESOLVED,
        actor="resolver-with-a-rather-long-subject@example.org",
        edge_id="edge-with-a-long-name-0001",
        report_id="rpt-" + "9" * 40,
        outcome="resolved",
        reason="kept edge-b's title because it was seen on site " * 3,
    )
    (record,) = chain(
        [event], last_seq=10**12 - 1, last_hash=GENESIS_HASH, at=datetime.now(UTC)
    )
    console = Console(width=80, record=True)

    console.print(records_table(AuditPage(records=[record], next_after=None), 80))

    text = console.export_text()
    assert str(10**12) in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "bec…" in text
    assert "seen" not in text


def test_record_counter_skips_line_breaks_inside_csv_cells() -> None:
    """A reason holding a line break is one CSV record, split over chunks."""
    events = [
        AuditEvent(action=AuditAction.CONFLICT_RESOLVED, actor="a", reason="x\ny"),
        AuditEvent(action=AuditAction.EDGE_REVOKED, actor="b", reason='say "hi"'),
    ]
    records = chain(events, last_seq=0, last_hash=GENESIS_HASH, at=datetime.now(UTC))
    body = (csv_header() + "".join(csv_line(r) for r in records)).encode()
    counter = RecordCounter(ExportFormat.CSV)

    for start in range(0, len(body), 7):
        counter.feed(body[start : start + 7])

    assert counter.records == 2
