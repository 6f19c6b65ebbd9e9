"""An authenticating cloud for the tests: its issuer key and registered edges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from edgesync.keys import generate_private_key, public_key_pem
from edgesync.tokens import Role, TokenSigner, issue_analyst_token, sign_edge_token
from syncproto import Classification

AUDIENCE = "edgesync"


@dataclass
class World:
    """An authenticating cloud, its issuer key and one registered edge key."""

    client: httpx.AsyncClient
    issuer: TokenSigner
    edge_keys: dict[str, rsa.RSAPrivateKey]

    def analyst(
        self,
        *roles: Role,
        clearance: Classification = Classification.IL5,
        sub: str = "analyst-1",
        audience: str = AUDIENCE,
    ) -> dict[str, str]:
        token = issue_analyst_token(
            self.issuer,
            sub=sub,
            roles=frozenset(roles),
            clearance=clearance,
            ttl=300,
            audience=audience,
            issuer="dev-issuer",
        )
        return {"Authorization": f"Bearer {token}"}

    def edge(self, edge_id: str) -> dict[str, str]:
        signer = TokenSigner.from_private_key(self.edge_keys[edge_id])
        token = sign_edge_token(signer, edge_id, audience=AUDIENCE)
        return {"Authorization": f"Bearer {token}"}

    async def register(
        self, edge_id: str, clearance: Classification = Classification.IL4
    ) -> httpx.Response:
        key = self.edge_keys.setdefault(edge_id, generate_private_key())
        return await self.client.post(
            "/edges",
            json={
                "edge_id": edge_id,
                "public_key_pem": public_key_pem(key.public_key()).decode(),
                "clearance": clearance.value,
            },
            headers=self.analyst(Role.ADMIN),
        )

    async def push(
        self, edge_id: str, *changes: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        return await self.client.post(
            "/sync/push",
            json={"edge_id": edge_id, "changes": list(changes)},
            headers=headers,
        )

    async def stored(self) -> int:
        """How many reports the cloud holds, as an all-seeing admin reads them."""
        response = await self.client.get(
            "/reports", params={"include_deleted": True}, headers=self.analyst()
        )
        assert response.status_code == 200, response.text
        return len(response.json()["reports"])
