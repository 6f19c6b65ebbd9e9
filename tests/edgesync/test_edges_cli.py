"""`edgesync edge register|revoke|list` against a real, authenticating cloud."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner, Result

from edgesync.cli import app
from edgesync.keys import private_key_pem, public_key_pem
from edgesync.tokens import Role
from tests.edgesync.clouds import AuthCloud

runner = CliRunner()


@pytest.fixture
def cloud(auth_cloud: AuthCloud) -> AuthCloud:
    """The authenticating cloud every command here talks to."""
    return auth_cloud


@pytest.fixture
def edge_pem(tmp_path: Path, edge_key: rsa.RSAPrivateKey) -> Path:
    """edge-a's public key, in a PEM file."""
    path = tmp_path / "edge-a.pub.pem"
    path.write_bytes(public_key_pem(edge_key.public_key()))
    return path


def _run(cloud: AuthCloud, *args: str, token: str | None = None) -> Result:
    given = ["--token", token] if token is not None else []
    return runner.invoke(
        app, ["edge", *args, "--cloud", cloud.url, *given], env={"COLUMNS": "250"}
    )


def _register(
    cloud: AuthCloud, key_file: Path, token: str, *, clearance: str = "IL4"
) -> Result:
    return _run(
        cloud,
        "register",
        "edge-a",
        "--public-key",
        str(key_file),
        "--clearance",
        clearance,
        token=token,
    )


def test_register_with_an_admin_token(cloud: AuthCloud, edge_pem: Path) -> None:
    """An admin registers edge-a; the cloud then lists it with its clearance."""
    token = cloud.token(Role.ADMIN)

    result = _register(cloud, edge_pem, token)

    assert result.exit_code == 0, result.output
    assert "Registered edge edge-a" in result.output
    assert "IL4" in result.output
    assert token not in result.output
    listed = httpx.get(
        f"{cloud.url}/edges", headers={"Authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200, listed.text
    (edge,) = listed.json()["edges"]
    assert (edge["edge_id"], edge["clearance"]) == ("edge-a", "IL4")
    assert edge["registered_at"] is not None
    assert edge["revoked_at"] is None


def test_register_token_from_the_environment(cloud: AuthCloud, edge_pem: Path) -> None:
    """EDGESYNC_TOKEN stands in for --token."""
    token = cloud.token(Role.ADMIN)

    result = runner.invoke(
        app,
        [
            "edge",
            "register",
            "edge-a",
            "--public-key",
            str(edge_pem),
            "--clearance",
            "CUI",
            "--cloud",
            cloud.url,
        ],
        env={"COLUMNS": "250", "EDGESYNC_TOKEN": token},
    )

    assert result.exit_code == 0, result.output
    assert "CUI" in result.output
    assert token not in result.output


def test_register_needs_the_admin_role(cloud: AuthCloud, edge_pem: Path) -> None:
    """An analyst-only token is refused: exit 1 with the 403 detail."""
    token = cloud.token(Role.ANALYST)

    result = _register(cloud, edge_pem, token)

    assert result.exit_code == 1
    assert "403" in result.output
    assert "admin" in result.output
    assert token not in result.output
    assert _listed_edges(cloud) == []


def test_register_without_a_token_exits_1_with_the_401(
    cloud: AuthCloud, edge_pem: Path
) -> None:
    """No token at all: the cloud's 401 detail, exit 1."""
    result = _run(
        cloud, "register", "edge-a", "--public-key", str(edge_pem), "--clearance", "IL5"
    )

    assert result.exit_code == 1
    assert "401" in result.output


def test_register_missing_key_file(cloud: AuthCloud, tmp_path: Path) -> None:
    """A public key file that is not there is named; nothing is registered."""
    missing = tmp_path / "nowhere.pem"

    result = _register(cloud, missing, cloud.token(Role.ADMIN))

    assert result.exit_code != 0
    assert "cannot read the public key" in result.output
    assert "nowhere.pem" in result.output
    assert _listed_edges(cloud) == []


def test_register_weak_key(
    cloud: AuthCloud, tmp_path: Path, weak_key: rsa.RSAPrivateKey
) -> None:
    """A 1024-bit key is refused before it is sent, saying why."""
    weak = tmp_path / "weak.pem"
    weak.write_bytes(public_key_pem(weak_key.public_key()))

    result = _register(cloud, weak, cloud.token(Role.ADMIN))

    assert result.exit_code != 0
    assert "1024 bits" in result.output
    assert "2048" in result.output
    assert _listed_edges(cloud) == []


def test_register_private_key_file(
    cloud: AuthCloud, tmp_path: Path, edge_key: rsa.RSAPrivateKey
) -> None:
    """A private key where the public key belongs is refused, not sent."""
    private = tmp_path / "edge-a.key"
    private.write_bytes(private_key_pem(edge_key))

    result = _register(cloud, private, cloud.token(Role.ADMIN))

    assert result.exit_code != 0
    assert "not a PEM public key" in result.output
    assert _listed_edges(cloud) == []


def test_register_invalid_edge_id_is_a_usage_error(
    cloud: AuthCloud, edge_pem: Path
) -> None:
    """An edge id the cloud would refuse is caught before any request."""
    result = _run(
        cloud,
        "register",
        "Edge_A",
        "--public-key",
        str(edge_pem),
        "--clearance",
        "IL4",
        token=cloud.token(Role.ADMIN),
    )

    assert result.exit_code == 2
    assert "invalid edge id" in result.output


def test_revoke_unknown_edge_exits_1_with_the_404(cloud: AuthCloud) -> None:
    """Revoking an edge nobody registered: exit 1 with the 404 detail."""
    token = cloud.token(Role.ADMIN)

    result = _run(cloud, "revoke", "edge-z", token=token)

    assert result.exit_code == 1
    assert "404: no registered edge has id 'edge-z'" in result.output
    assert token not in result.output


def test_revoke_a_registered_edge(cloud: AuthCloud, edge_pem: Path) -> None:
    """Revoking edge-a prints it revoked; the list then shows when."""
    token = cloud.token(Role.ADMIN)
    assert _register(cloud, edge_pem, token).exit_code == 0

    result = _run(cloud, "revoke", "edge-a", token=token)

    assert result.exit_code == 0, result.output
    assert "Revoked edge edge-a" in result.output
    (edge,) = _listed_edges(cloud)
    assert edge["revoked_at"] is not None


def test_list_prints_the_registered_edge(cloud: AuthCloud, edge_pem: Path) -> None:
    """`edge list` shows edge-a, its clearance and its counters to any analyst."""
    assert _register(cloud, edge_pem, cloud.token(Role.ADMIN)).exit_code == 0
    token = cloud.token(Role.ANALYST)

    result = _run(cloud, "list", token=token)

    assert result.exit_code == 0, result.output
    assert "1 edge(s)" in result.output
    row = next(line for line in result.output.splitlines() if "edge-a" in line)
    assert "IL4" in row
    for heading in ("clearance", "registered", "revoked", "last push", "lag"):
        assert heading in result.output
    assert token not in result.output


def test_list_without_a_token_exits_1_with_the_401(cloud: AuthCloud) -> None:
    """An authenticating cloud refuses `edge list` without a token."""
    result = _run(cloud, "list")

    assert result.exit_code == 1
    assert "401" in result.output


def _listed_edges(cloud: AuthCloud) -> list[dict[str, object]]:
    token = cloud.token(Role.ANALYST)
    response = httpx.get(
        f"{cloud.url}/edges", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    edges: list[dict[str, object]] = response.json()["edges"]
    return edges
