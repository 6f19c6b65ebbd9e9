"""`edgesync status` against a real cloud and a real edge served by uvicorn."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from cloud_service.settings import CloudSettings
from edge_service.settings import EdgeSettings
from edgesync.cli import app
from edgesync.devauth import DevIdentities
from edgesync.tokens import Role
from syncproto import Classification
from tests.cloud_service.helpers import change
from tests.edgesync.clouds import running_cloud, running_edge

runner = CliRunner()
# The cloud's smallest body limit: a report of 3000 bytes can never be pushed.
BODY_LIMIT = 1024
WIDTH = 80


@pytest.fixture
def cloud_url(tmp_path: Path) -> Iterator[str]:
    """An anonymous cloud on SQLite that refuses bodies above BODY_LIMIT."""
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
        allow_anonymous=True,
        max_body_bytes=BODY_LIMIT,
    )
    with running_cloud(settings) as url:
        yield url


@pytest.fixture
def edge_url(tmp_path: Path, cloud_url: str) -> Iterator[str]:
    """An anonymous edge-a syncing with the cloud only when asked."""
    with running_edge(_edge_settings(tmp_path, cloud_url, allow_anonymous=True)) as url:
        yield url


def _edge_settings(tmp_path: Path, cloud_url: str, **auth: Any) -> EdgeSettings:
    return EdgeSettings(
        edge_id="edge-a",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'edge-a.db'}",
        cloud_url=cloud_url,
        sync_interval=3600,
        backoff_base=60,
        **auth,
    )


def _status(*args: str, token: str | None = None) -> Result:
    # None unsets a variable the developer's shell may have exported.
    env = {"COLUMNS": str(WIDTH), "EDGESYNC_CLOUD_URL": None, "EDGESYNC_TOKEN": token}
    return runner.invoke(app, ["status", *args], env=env)


def _write(
    edge_url: str, report_id: str, headers: dict[str, str], **fields: str
) -> None:
    body = {
        "report_id": report_id,
        "title": "T",
        "content": "C",
        "classification": "CUI",
    }
    response = httpx.post(f"{edge_url}/reports", json=body | fields, headers=headers)
    assert response.status_code == 201, response.text


def _sync(edge_url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{edge_url}/sync/run", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    return status


def _outbox(edge_url: str, state: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = httpx.get(f"{edge_url}/outbox", params={"state": state}, headers=headers)
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def _fits(result: Result) -> bool:
    return max(len(line) for line in result.output.splitlines()) <= WIDTH


def test_edge_status_shows_the_backlog_and_held_changes(edge_url: str) -> None:
    """
    After a sync of two small reports and one too large for the cloud, the
    table says nothing is pending, feed lag 0, and lists the held change with
    its full id, within 80 columns.
    """
    _write(edge_url, "rpt-001", {})
    _write(edge_url, "rpt-002", {})
    _write(edge_url, "rpt-big", {}, content="x" * 3000)
    _sync(edge_url)
    (held,) = _outbox(edge_url, "held", {})

    result = _status("--edge", edge_url)

    assert result.exit_code == 0, result.output
    assert _fits(result), result.output
    assert "edge edge-a" in result.output
    assert "cursor 2 of head 2, lag 0" in result.output
    assert "applied 2, held 1" in result.output
    assert "held changes (1)" in result.output
    assert held["change_id"] in result.output
    assert "rpt-big" in result.output


def test_edge_status_json_holds_the_raw_answers(edge_url: str) -> None:
    """--json prints the edge's status and its held changes, reasons included."""
    _write(edge_url, "rpt-big", {}, content="x" * 3000)
    _sync(edge_url)

    result = _status("--edge", edge_url, "--json")

    assert result.exit_code == 0, result.output
    answers = json.loads(result.output)
    assert answers["status"]["held"] == 1
    assert answers["status"]["pending"] == 0
    assert answers["rejected"] == []
    (held,) = answers["held"]
    assert held["report_id"] == "rpt-big"
    assert "too large" in held["reason"]


def test_cloud_status_shows_edges_feed_head_and_open_conflicts(
    cloud_url: str,
) -> None:
    """Two edges that pushed concurrent edits: feed head 3, 1 open conflict."""
    base = {"edge-a": 1}
    first = change("edge-a", 1, title="T0")
    from_a = change("edge-a", 2, base_clock=base, title="T-A")
    from_b = change("edge-b", 1, base_clock=base, title="T-B", minutes=1)
    for edge_id, changes in (("edge-a", [first, from_a]), ("edge-b", [from_b])):
        body = {"edge_id": edge_id, "changes": changes}
        assert httpx.post(f"{cloud_url}/sync/push", json=body).status_code == 200
    httpx.get(f"{cloud_url}/sync/feed", params={"edge_id": "edge-b"})
    _wait_for_pull(cloud_url, "edge-b")

    table = _status("--cloud", cloud_url)
    raw = _status("--cloud", cloud_url, "--json")

    assert table.exit_code == 0, table.output
    assert _fits(table), table.output
    assert re.search(r"feed head +3\b", table.output), table.output
    assert re.search(r"open conflicts +1\b", table.output), table.output
    assert "edge-a" in table.output
    assert "edge-b" in table.output
    answers = json.loads(raw.output)
    assert answers["sync_info"]["feed_head"] == 3
    assert answers["open_conflicts"] == 1
    edges = {edge["edge_id"]: edge for edge in answers["edges"]}
    assert edges["edge-a"]["changes_received"] == 2
    assert edges["edge-b"]["lag"] == 0


def _wait_for_pull(cloud_url: str, edge_id: str) -> None:
    """Wait for the cloud to note a pull: it does so after answering it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        edges = httpx.get(f"{cloud_url}/edges").json()["edges"]
        if any(e["edge_id"] == edge_id and e["lag"] is not None for e in edges):
            return
        time.sleep(0.05)
    pytest.fail(f"the cloud never noted {edge_id}'s pull")


def test_status_needs_one_target() -> None:
    """No URL at all exits 1 saying what to give; --edge with --cloud is refused."""
    neither = _status()
    both = _status("--edge", "http://127.0.0.1:1", "--cloud", "http://127.0.0.1:1")

    assert neither.exit_code == 1
    assert "--edge URL" in neither.output
    assert both.exit_code == 2
    assert "not both" in both.output


def test_edge_url_wins_over_an_exported_cloud_url(edge_url: str) -> None:
    """EDGESYNC_CLOUD_URL in the environment does not stop `status --edge`."""
    result = runner.invoke(
        app,
        ["status", "--edge", edge_url],
        env={"COLUMNS": str(WIDTH), "EDGESYNC_CLOUD_URL": "http://127.0.0.1:1"},
    )

    assert result.exit_code == 0, result.output
    assert "edge edge-a" in result.output


def test_unreachable_edge_exits_1() -> None:
    """An edge nobody listens for is named in red, exit 1."""
    result = _status("--edge", "http://127.0.0.1:1")

    assert result.exit_code == 1
    assert "cannot reach the edge at http://127.0.0.1:1" in result.output


def test_rejected_changes_with_authentication(tmp_path: Path) -> None:
    """
    An edge cleared for CUI that pushes an IL5 report gets it rejected: the
    edge's status names the change and the cloud's counts it, with the
    analyst's token given and never printed; without it the cloud says 401.
    """
    identities = DevIdentities.create(tmp_path / "keys", ["edge-a"])
    settings = CloudSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}",
        issuer_jwks_file=identities.jwks,
    )
    token = identities.token("analyst-1", Role.ANALYST)
    headers = {"Authorization": f"Bearer {token}"}
    with running_cloud(settings) as cloud_url:
        with httpx.Client(base_url=cloud_url) as admin:
            _register(admin, identities, Classification.CUI)
        edge_settings = _edge_settings(
            tmp_path,
            cloud_url,
            issuer_jwks_file=identities.jwks,
            edge_key_file=identities.edge_key("edge-a"),
        )
        with running_edge(edge_settings) as edge_url:
            _write(edge_url, "rpt-001", headers)
            _write(edge_url, "rpt-002", headers, classification="IL5")
            _sync(edge_url, headers)
            (rejected,) = _outbox(edge_url, "rejected", headers)

            at_edge = _status("--edge", edge_url, token=token)
            at_cloud = _status("--cloud", cloud_url, token=token)
            anonymous = _status("--cloud", cloud_url)

    assert at_edge.exit_code == 0, at_edge.output
    assert _fits(at_edge), at_edge.output
    assert "rejected changes (1)" in at_edge.output
    assert rejected["change_id"] in at_edge.output
    assert "above the edge's clearance" in rejected["reason"]
    assert at_cloud.exit_code == 0, at_cloud.output
    assert "CUI" in at_cloud.output
    assert token not in at_edge.output + at_cloud.output
    assert anonymous.exit_code == 1
    assert "401" in anonymous.output


def _register(
    admin: httpx.Client, identities: DevIdentities, clearance: Classification
) -> None:
    body = {
        "edge_id": "edge-a",
        "public_key_pem": identities.edge_public_pem("edge-a"),
        "clearance": clearance.value,
    }
    response = admin.post(
        "/edges", json=body, headers=identities.bearer("admin-1", Role.ADMIN)
    )
    assert response.status_code == 201, response.text
