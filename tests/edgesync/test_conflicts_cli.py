"""`edgesync conflicts` against a real cloud served by uvicorn on a free port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from typer.testing import CliRunner, Result

from cloud_service.app import create_app
from cloud_service.settings import CloudSettings
from edgesync.cli import app
from tests.cloud_service.helpers import change

runner = CliRunner()
BASE = {"edge-a": 1}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cloud_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a cloud running in a thread of this process, on each database."""
    if request.param == "postgres":
        database_url: str = request.getfixturevalue("pg_url")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    config = uvicorn.Config(
        create_app(CloudSettings(database_url=database_url)),
        host="127.0.0.1",
        port=0,
        log_config=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    # The server thread logs after a test's output capture has ended, into
    # whatever stream an earlier test left a handler on: keep its lines here.
    with structlog.testing.capture_logs():
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "the cloud failed to start"
            assert time.monotonic() < deadline, "the cloud did not start within 30 s"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"

        server.should_exit = True
        thread.join(timeout=30)


def _push(url: str, edge_id: str, *changes: dict[str, Any]) -> list[dict[str, Any]]:
    body = {"edge_id": edge_id, "changes": list(changes)}
    response = httpx.post(f"{url}/sync/push", json=body)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def _open_conflict(url: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Open BC-09's conflict on r1: edge-a sets T-A, edge-b sets T-B and C-B."""
    from_a = change("edge-a", 2, base_clock=BASE, title="T-A", content="C0")
    from_b = change("edge-b", 1, base_clock=BASE, title="T-B", content="C-B", minutes=1)
    _push(url, "edge-a", change("edge-a", 1, title="T0", content="C0"), from_a)
    (result,) = _push(url, "edge-b", from_b)
    return result["conflict_id"], from_a, from_b


def _run(url: str, *args: str) -> Result:
    return runner.invoke(
        app, ["conflicts", *args, "--cloud", url], env={"COLUMNS": "250"}
    )


def test_list_filters_by_edge_and_status(cloud_url: str) -> None:
    """`conflicts list` shows open conflicts and honours --edge and --status."""
    conflict_id, _, _ = _open_conflict(cloud_url)

    listed = _run(cloud_url, "list", "--status", "open", "--edge", "edge-b")
    elsewhere = _run(cloud_url, "list", "--edge", "edge-z")
    resolved = _run(cloud_url, "list", "--status", "resolved", "--report", "r1")

    assert listed.exit_code == 0, listed.output
    assert conflict_id in listed.output
    assert "edge-a, edge-b" in listed.output
    assert "1 conflict(s)" in listed.output
    assert conflict_id not in elsewhere.output
    assert "0 conflict(s)" in resolved.output


def test_show_puts_base_and_siblings_side_by_side(cloud_url: str) -> None:
    """`conflicts show` prints the base T0 next to T-A and T-B, changes marked."""
    conflict_id, from_a, from_b = _open_conflict(cloud_url)

    result = _run(cloud_url, "show", conflict_id)

    assert result.exit_code == 0, result.output
    title_row = next(line for line in result.output.splitlines() if "T0" in line)
    for shown in ("title", "T0", "* T-A", "* T-B"):
        assert shown in title_row
    assert from_a["change_id"] in result.output
    assert from_b["change_id"] in result.output
    assert "* C-B" in result.output


def test_show_prints_report_text_verbatim(cloud_url: str) -> None:
    """Text that looks like rich markup is shown as written, never interpreted."""
    from_a = change("edge-a", 2, base_clock=BASE, title="[/bold] closing tag")
    from_b = change("edge-b", 1, base_clock=BASE, title="[red]B[/red]")
    _push(cloud_url, "edge-a", change("edge-a", 1), from_a)
    (result,) = _push(cloud_url, "edge-b", from_b)

    shown = _run(cloud_url, "show", result["conflict_id"])

    assert shown.exit_code == 0, shown.output
    assert "[/bold] closing tag" in shown.output
    assert "[red]B[/red]" in shown.output


def test_resolve_keep_prints_the_resolution(cloud_url: str) -> None:
    """Keeping edge-b's sibling prints the resolver, reason and the cloud clock."""
    conflict_id, _, from_b = _open_conflict(cloud_url)

    result = _run(
        cloud_url,
        "resolve",
        conflict_id,
        "--keep",
        from_b["change_id"],
        "--reason",
        "edge-b was there last",
        "--as",
        "resolver-1",
    )

    assert result.exit_code == 0, result.output
    for shown in ("resolver-1", "edge-b was there last", "'cloud': 1", "T-B"):
        assert shown in result.output
    report = httpx.get(f"{cloud_url}/reports/r1").json()
    assert report["clock"] == {"edge-a": 2, "edge-b": 1, "cloud": 1}
    assert (report["title"], report["content"]) == ("T-B", "C-B")


def test_resolve_fields_overlays_the_current_version(cloud_url: str) -> None:
    """--field values replace those fields; the rest keep the provisional values."""
    conflict_id, _, _ = _open_conflict(cloud_url)

    result = _run(
        cloud_url,
        "resolve",
        conflict_id,
        "--field",
        "title=T-final",
        "--field",
        "classification=IL4",
        "--reason",
        "agreed",
        "--as",
        "resolver-1",
    )

    assert result.exit_code == 0, result.output
    report = httpx.get(f"{cloud_url}/reports/r1").json()
    assert (report["title"], report["content"]) == ("T-final", "C-B")
    assert report["classification"] == "IL4"


def test_resolve_twice_fails_with_the_problem_detail(cloud_url: str) -> None:
    """A second resolution exits 1 and says who resolved the conflict."""
    conflict_id, from_a, from_b = _open_conflict(cloud_url)
    args = ("resolve", conflict_id, "--reason", "r", "--as", "resolver-1")
    first = _run(cloud_url, *args, "--keep", from_b["change_id"])

    second = _run(cloud_url, *args, "--keep", from_a["change_id"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 1
    assert "409" in second.output
    assert "resolved by resolver-1" in second.output


@pytest.mark.parametrize(
    "args",
    [
        ("--reason", "r"),
        ("--keep", "00000000-0000-4000-8000-000000000000", "--reason", "r"),
        ("--field", "title=T", "--reason", ""),
    ],
    ids=["neither", "not-a-sibling", "empty-reason"],
)
def test_refused_resolution_exits_1_with_detail(
    cloud_url: str, args: tuple[str, ...]
) -> None:
    """A resolution the cloud refuses with 422 exits 1 and prints why."""
    conflict_id, _, _ = _open_conflict(cloud_url)

    result = _run(cloud_url, "resolve", conflict_id, *args, "--as", "resolver-1")

    assert result.exit_code == 1
    assert "422" in result.output


def test_resolve_names_its_resolver(cloud_url: str) -> None:
    """Without --as (or EDGESYNC_ANALYST) resolve refuses to guess who decides."""
    conflict_id, _, from_b = _open_conflict(cloud_url)

    result = _run(
        cloud_url,
        "resolve",
        conflict_id,
        "--keep",
        from_b["change_id"],
        "--reason",
        "r",
    )

    assert result.exit_code == 2
    assert "--as" in result.output


def test_unknown_conflict_exits_1(cloud_url: str) -> None:
    """Showing a conflict the cloud does not know exits 1 with its 404."""
    result = _run(cloud_url, "show", "00000000-0000-4000-8000-000000000000")

    assert result.exit_code == 1
    assert "404: no conflict has id" in result.output


def test_field_without_value_is_a_usage_error() -> None:
    """A --field that is not NAME=VALUE is refused before any request is sent."""
    result = runner.invoke(
        app,
        [
            "conflicts",
            "resolve",
            "00000000-0000-4000-8000-000000000000",
            "--field",
            "title",
            "--reason",
            "r",
            "--as",
            "resolver-1",
            "--cloud",
            "http://127.0.0.1:9",
        ],
    )

    assert result.exit_code == 2
    assert "NAME=VALUE" in result.output


def test_unreachable_cloud_exits_1() -> None:
    """A cloud that does not answer is reported, not a traceback."""
    result = runner.invoke(app, ["conflicts", "list", "--cloud", "http://127.0.0.1:9"])

    assert result.exit_code == 1
    assert "cannot reach the cloud" in result.output
