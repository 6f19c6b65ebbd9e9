"""The edgesync command: migrations from the shell, help that names every role."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgesync.cli import app
from edgesync.keys import generate_private_key, write_jwks
from edgesync.migrate import head_revision

runner = CliRunner()


def test_help_lists_every_command() -> None:
    """The top-level help names the cloud, edge, db and demo commands."""
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    for command in ("cloud", "edge", "db", "demo"):
        assert command in result.output


def test_db_upgrade_brings_both_databases_to_head(tmp_path: Path) -> None:
    """`edgesync db upgrade` migrates a cloud and an edge SQLite file to head."""
    for service in ("cloud", "edge"):
        path = tmp_path / f"{service}.db"

        result = runner.invoke(
            app,
            ["db", "upgrade", service, "--database-url", f"sqlite+aiosqlite:///{path}"],
        )

        assert result.exit_code == 0, result.output
        with sqlite3.connect(path) as conn:
            (revision,) = conn.execute(
                "SELECT version_num FROM alembic_version"
            ).fetchone()
        assert revision == head_revision(service)


def test_db_upgrade_refuses_an_unknown_service() -> None:
    """Naming a service that owns no database is a usage error, not a crash."""
    result = runner.invoke(app, ["db", "upgrade", "printer"])

    assert result.exit_code == 2


@pytest.mark.parametrize("service", ["cloud", "edge"])
def test_serve_without_issuer_keys_exits_2_before_listening(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EDGESYNC_ISSUER_JWKS_FILE", raising=False)
    monkeypatch.delenv("EDGESYNC_ALLOW_ANONYMOUS", raising=False)

    result = runner.invoke(app, [service, "serve", "--port", "1"])

    assert result.exit_code == 2
    assert "EDGESYNC_ISSUER_JWKS_FILE" in result.output


def test_serve_with_an_unreadable_jwks_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGESYNC_ISSUER_JWKS_FILE", str(tmp_path / "missing.json"))

    result = runner.invoke(app, ["cloud", "serve", "--port", "1"])

    assert result.exit_code == 2
    assert "missing.json" in result.output
    assert "Traceback" not in result.output


def test_edge_with_analyst_auth_but_no_edge_key_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwks = tmp_path / "jwks.json"
    write_jwks(jwks, [generate_private_key().public_key()])
    monkeypatch.setenv("EDGESYNC_ISSUER_JWKS_FILE", str(jwks))
    monkeypatch.delenv("EDGESYNC_EDGE_KEY_FILE", raising=False)

    result = runner.invoke(app, ["edge", "serve", "--port", "1"])

    assert result.exit_code == 2
    assert "EDGESYNC_EDGE_KEY_FILE" in result.output
