"""
Development identities: an issuer key with its JWK set, and one key per edge.

``edgesync dev keys``, the demo and the process tests use them to run the
services with authentication on, as production does, without a real identity
provider. The folder layout is the one the README documents::

    issuer.key  jwks.json  edges/<edge_id>.key  edges/<edge_id>.pub
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from edgesync.keys import (
    DEFAULT_RSA_BITS,
    generate_private_key,
    public_key_pem,
    write_jwks,
    write_private_key,
    write_public_file,
)
from edgesync.tokens import Role, TokenSigner, issue_analyst_token
from syncproto import Classification

DEV_AUDIENCE = "edgesync"
DEV_ISSUER = "edgesync-dev"


@dataclass(frozen=True)
class DevIdentities:
    """Keys written into *folder*, and the issuer's signer to mint tokens with."""

    folder: Path
    issuer: TokenSigner
    edge_ids: tuple[str, ...]

    @property
    def jwks(self) -> Path:
        """The issuer's JWK set, which both services verify analysts with."""
        return self.folder / "jwks.json"

    def edge_key(self, edge_id: str) -> Path:
        """The private key an edge signs its sync tokens with."""
        return self.folder / "edges" / f"{edge_id}.key"

    def edge_public_pem(self, edge_id: str) -> str:
        """The public key an administrator registers for *edge_id*."""
        return self.edge_key(edge_id).with_suffix(".pub").read_text("ascii")

    @classmethod
    def create(
        cls, folder: Path, edge_ids: Iterable[str], bits: int = DEFAULT_RSA_BITS
    ) -> DevIdentities:
        """Write fresh keys into *folder*, replacing any already there."""
        edge_ids = tuple(edge_ids)
        (folder / "edges").mkdir(parents=True, exist_ok=True)
        issuer = generate_private_key(bits)
        write_private_key(folder / "issuer.key", issuer, overwrite=True)
        write_jwks(folder / "jwks.json", [issuer.public_key()])
        identities = cls(folder, TokenSigner.from_private_key(issuer), edge_ids)
        for edge_id in edge_ids:
            key = generate_private_key(bits)
            path = identities.edge_key(edge_id)
            write_private_key(path, key, overwrite=True)
            write_public_file(
                path.with_suffix(".pub"), public_key_pem(key.public_key())
            )
        return identities

    def token(
        self,
        sub: str,
        *roles: Role,
        clearance: Classification = Classification.IL5,
        ttl: int = 3600,
    ) -> str:
        """Sign an analyst token as the development issuer."""
        return issue_analyst_token(
            self.issuer,
            sub=sub,
            roles=frozenset(roles),
            clearance=clearance,
            ttl=ttl,
            audience=DEV_AUDIENCE,
            issuer=DEV_ISSUER,
        )

    def bearer(self, sub: str, *roles: Role) -> dict[str, str]:
        """Return an ``Authorization`` header for an analyst of full clearance."""
        return {"Authorization": f"Bearer {self.token(sub, *roles)}"}

    def cloud_env(self) -> dict[str, str]:
        """The settings that make a cloud verify these identities."""
        return {"EDGESYNC_ISSUER_JWKS_FILE": str(self.jwks)}

    def edge_env(self, edge_id: str) -> dict[str, str]:
        """The settings of an edge that signs with its key and verifies analysts."""
        return {
            "EDGESYNC_ISSUER_JWKS_FILE": str(self.jwks),
            "EDGESYNC_EDGE_KEY_FILE": str(self.edge_key(edge_id)),
        }

    async def register_edges(
        self,
        cloud: httpx.AsyncClient,
        clearance: Classification = Classification.IL5,
    ) -> None:
        """Register every edge's public key at *cloud*, as an administrator."""
        admin = self.bearer("admin-1", Role.ADMIN)
        for edge_id in self.edge_ids:
            response = await cloud.post(
                "/edges",
                json={
                    "edge_id": edge_id,
                    "public_key_pem": self.edge_public_pem(edge_id),
                    "clearance": clearance.value,
                },
                headers=admin,
            )
            response.raise_for_status()
