"""`edgesync conflicts` against a real cloud served by uvicorn on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from cloud_service.settings import CloudSettings
from edgesync.cli import app
from edgesync.keys import generate_private_key, public_key_pem
from edgesync.tokens import Role, TokenSigner, sign_edge_token
from tests.cloud_service.helpers import change
from tests.edgesync.clouds import AuthCloud, running_cloud

runner = CliRunner()
BASE = {"edge-a": 1}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cloud_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an anonymous cloud in a thread of this process, on each database."""
    if request.param == "postgres":
        database_url: str = request.getfixturevalue("pg_url")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    settings = CloudSettings(database_url=database_url, allow_anonymous=True)
    with running_cloud(settings) as url:
        yield url


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
    # An earlier test may have left httpx's request log on stderr: its
    # timestamps hold "T0" too, so find the row by its field name as well.
    title_row = next(line for line in result.output.splitlines() if "│ title " in line)
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


def _register_and_open_conflict(cloud: AuthCloud) -> tuple[str, dict[str, Any]]:
    """Register edge-a and edge-b, then open BC-09's conflict with their tokens."""
    admin = {"Authorization": f"Bearer {cloud.token(Role.ADMIN)}"}
    edge_tokens = {}
    for edge_id in ("edge-a", "edge-b"):
        key = generate_private_key()
        registration = {
            "edge_id": edge_id,
            "public_key_pem": public_key_pem(key.public_key()).decode(),
            "clearance": "IL5",
        }
        response = httpx.post(f"{cloud.url}/edges", json=registration, headers=admin)
        assert response.status_code == 201, response.text
        signer = TokenSigner.from_private_key(key)
        edge_tokens[edge_id] = sign_edge_token(signer, edge_id, audience="edgesync")

    def push(edge_id: str, *changes: dict[str, Any]) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{cloud.url}/sync/push",
            json={"edge_id": edge_id, "changes": list(changes)},
            headers={"Authorization": f"Bearer {edge_tokens[edge_id]}"},
        )
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    from_a = change("edge-a", 2, base_clock=BASE, title="T-A", content="C0")
    from_b = change("edge-b", 1, base_clock=BASE, title="T-B", content="C-B", minutes=1)
    push("edge-a", change("edge-a", 1, title="T0", content="C0"), from_a)
    (result,) = push("edge-b", from_b)
    return result["conflict_id"], from_b


def test_list_with_token_against_an_authenticating_cloud(auth_cloud: AuthCloud) -> None:
    """--token is sent as a bearer token; the token never shows in the output."""
    conflict_id, _ = _register_and_open_conflict(auth_cloud)
    token = auth_cloud.token(Role.ANALYST)

    listed = _run(auth_cloud.url, "list", "--token", token)
    from_env = runner.invoke(
        app,
        ["conflicts", "list", "--cloud", auth_cloud.url],
        env={"COLUMNS": "250", "EDGESYNC_TOKEN": token},
    )

    assert listed.exit_code == 0, listed.output
    assert conflict_id in listed.output
    assert "1 conflict(s)" in listed.output
    assert from_env.exit_code == 0, from_env.output
    assert conflict_id in from_env.output
    assert token not in listed.output + from_env.output


def test_list_without_token_exits_1_with_the_401(auth_cloud: AuthCloud) -> None:
    """An authenticating cloud refuses a call without a token: exit 1, 401 detail."""
    result = _run(auth_cloud.url, "list")

    assert result.exit_code == 1
    assert "401" in result.output
    assert "Authorization: Bearer" in result.output


def test_show_with_token(auth_cloud: AuthCloud) -> None:
    """`conflicts show --token` reads a conflict of an authenticating cloud."""
    conflict_id, from_b = _register_and_open_conflict(auth_cloud)
    token = auth_cloud.token(Role.ANALYST)

    result = _run(auth_cloud.url, "show", conflict_id, "--token", token)

    assert result.exit_code == 0, result.output
    assert from_b["change_id"] in result.output
    assert token not in result.output


def test_resolve_with_token_names_the_token_subject(auth_cloud: AuthCloud) -> None:
    """With --token and no --as, the token's subject is the recorded resolver."""
    conflict_id, from_b = _register_and_open_conflict(auth_cloud)
    token = auth_cloud.token(Role.RESOLVER, sub="resolver-7")
    args = ("resolve", conflict_id, "--keep", from_b["change_id"], "--reason", "r")

    result = _run(auth_cloud.url, *args, "--token", token)

    assert result.exit_code == 0, result.output
    assert "resolver-7" in result.output
    assert token not in result.output


def test_resolve_without_the_resolver_role_exits_1(auth_cloud: AuthCloud) -> None:
    """A token without the resolver role is refused with the 403 detail."""
    conflict_id, from_b = _register_and_open_conflict(auth_cloud)
    token = auth_cloud.token(Role.ANALYST)
    args = ("resolve", conflict_id, "--keep", from_b["change_id"], "--reason", "r")

    result = _run(auth_cloud.url, *args, "--token", token)

    assert result.exit_code == 1
    assert "403: resolving a conflict needs the resolver role" in result.output
    assert token not in result.output


def test_missing_ca_file_is_a_usage_error(tmp_path: Path) -> None:
    """--ca-file must name an existing file; nothing is sent otherwise."""
    missing = tmp_path / "absent-ca.pem"

    result = runner.invoke(
        app,
        [
            "conflicts",
            "list",
            "--cloud",
            "https://127.0.0.1:9",
            "--ca-file",
            str(missing),
        ],
    )

    assert result.exit_code == 2
    assert "--ca-file" in result.output


def test_unusable_ca_file_exits_1(tmp_path: Path) -> None:
    """A --ca-file that holds no certificate is reported, not a traceback."""
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")

    result = runner.invoke(
        app,
        [
            "conflicts",
            "list",
            "--cloud",
            "https://127.0.0.1:9",
            "--ca-file",
            str(bogus),
        ],
    )

    assert result.exit_code == 1
    assert "cannot use" in result.output
    assert "CA bundle" in result.output
