"""`edgesync dev keys|certs` and `edgesync token issue` from the shell."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgesync.cli import app
from edgesync.keys import MIN_RSA_BITS, load_jwks, load_public_key, thumbprint
from edgesync.tokens import Role, TokenVerifier
from syncproto import Classification

runner = CliRunner()
BITS = str(MIN_RSA_BITS)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output of `edgesync dev keys` for two edges."""
    out = tmp_path_factory.mktemp("keys")
    result = runner.invoke(
        app,
        [
            *("dev", "keys", "--out", str(out), "--bits", BITS),
            *("--edge", "edge-a", "--edge", "edge-b"),
        ],
    )
    assert result.exit_code == 0, result.output

    return out


def test_dev_keys_writes_private_keys_0600(keys_dir: Path) -> None:
    """The issuer's and each edge's private key are 0600; public files are not."""
    private = [keys_dir / "issuer.key", *(keys_dir / "edges").glob("*.key")]
    public = [keys_dir / "jwks.json", *(keys_dir / "edges").glob("*.pub")]

    assert sorted(p.name for p in private) == ["edge-a.key", "edge-b.key", "issuer.key"]
    assert all(_mode(p) == 0o600 for p in private)
    assert len(public) == 3
    assert all(_mode(p) == 0o644 for p in public)


def test_dev_keys_jwks_names_the_issuer_key_by_thumbprint(keys_dir: Path) -> None:
    """The JWK set holds the issuer's public key under its RFC 7638 thumbprint."""
    jwks = load_jwks(keys_dir / "jwks.json")
    edge_a = load_public_key(keys_dir / "edges" / "edge-a.pub")

    assert len(jwks) == 1
    assert [thumbprint(key) for key in jwks.values()] == list(jwks)
    assert thumbprint(edge_a) not in jwks


def test_dev_keys_output_shows_no_key_material(tmp_path: Path) -> None:
    """The command names the files it wrote and prints no key."""
    result = runner.invoke(app, ["dev", "keys", "--out", str(tmp_path), "--bits", BITS])

    assert result.exit_code == 0
    assert "issuer.key" in result.output
    assert "PRIVATE KEY" not in result.output


def test_dev_keys_refuses_to_replace_keys_without_force(keys_dir: Path) -> None:
    """A rerun keeps the keys in use unless --force is given."""
    before = (keys_dir / "issuer.key").read_bytes()
    args = ["dev", "keys", "--out", str(keys_dir), "--bits", BITS]

    refused = runner.invoke(app, args)

    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert (keys_dir / "issuer.key").read_bytes() == before


def test_dev_keys_refuses_a_path_like_edge_id(tmp_path: Path) -> None:
    """An edge id outside a-z0-9- is a usage error and writes nothing."""
    result = runner.invoke(
        app, ["dev", "keys", "--out", str(tmp_path), "--edge", "../evil"]
    )

    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


def _issue(key: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            *("token", "issue", "--key", str(key), "--sub", "analyst-1"),
            *("--roles", "analyst,resolver", "--clearance", "IL5", "--ttl", "3600"),
            *("--audience", "edgesync", *extra),
        ],
    )
    return result.exit_code, result.output


def test_issued_token_verifies_with_the_written_jwks(keys_dir: Path) -> None:
    """A CLI token verifies against the CLI's JWK set with its roles and clearance."""
    verifier = TokenVerifier.for_issuer(
        load_jwks(keys_dir / "jwks.json"), audience="edgesync", issuer="edgesync-dev"
    )

    code, output = _issue(keys_dir / "issuer.key")
    claims = verifier.verify(output.strip())

    assert code == 0
    assert claims.sub == "analyst-1"
    assert claims.roles == {Role.ANALYST, Role.RESOLVER}
    assert claims.clearance is Classification.IL5


def test_token_issue_refuses_a_world_readable_key(
    keys_dir: Path, tmp_path: Path
) -> None:
    """A key file others can read is refused, and the message shows no key."""
    key = tmp_path / "issuer.key"
    key.write_bytes((keys_dir / "issuer.key").read_bytes())
    key.chmod(0o644)

    code, output = _issue(key)

    assert code == 1
    assert "chmod 600" in output
    assert "PRIVATE KEY" not in output


def test_token_issue_refuses_an_unknown_role(keys_dir: Path) -> None:
    """Roles outside analyst, resolver, auditor, admin are a usage error."""
    code, output = _issue(keys_dir / "issuer.key", "--roles", "analyst,root")

    assert code == 2
    assert "auditor" in output


def test_dev_certs_writes_ca_server_and_edge_certs(tmp_path: Path) -> None:
    """`dev certs` writes the CA, the server pair and one pair per edge."""
    result = runner.invoke(
        app, ["dev", "certs", "--out", str(tmp_path), "--edge", "edge-a"]
    )
    keys = [tmp_path / "server.key", tmp_path / "edges" / "edge-a.key"]

    assert result.exit_code == 0, result.output
    assert (tmp_path / "ca.pem").is_file()
    assert (tmp_path / "server.pem").is_file()
    assert (tmp_path / "edges" / "edge-a.pem").is_file()
    assert all(_mode(k) == 0o600 for k in keys)
    assert "PRIVATE KEY" not in result.output


def test_dev_certs_refuses_to_replace_without_force(tmp_path: Path) -> None:
    """A rerun keeps the CA in use unless --force is given."""
    args = ["dev", "certs", "--out", str(tmp_path)]
    runner.invoke(app, args)
    before = (tmp_path / "ca.pem").read_bytes()

    refused = runner.invoke(app, args)
    forced = runner.invoke(app, [*args, "--force"])

    assert refused.exit_code == 1
    assert forced.exit_code == 0
    assert (tmp_path / "ca.pem").read_bytes() != before
