"""Analyst and edge tokens: what verifies, and every attack that must fail closed."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import time
import tracemalloc
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwe
from structlog.testing import capture_logs

from edgesync.keys import MIN_RSA_BITS, public_key_pem
from edgesync.tokens import (
    MAX_TOKEN_BYTES,
    Claims,
    InvalidTokenError,
    Role,
    TokenSigner,
    TokenVerifier,
    bearer_token,
    issue_analyst_token,
    sign_edge_token,
)
from syncproto import Classification

AUDIENCE = "edgesync"
ISSUER = "https://id.example"
LEEWAY = 60


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    """Assemble a compact token by hand, as an attacker would."""
    encoded = [_b64(json.dumps(part).encode()) for part in (header, claims)]
    return ".".join([*encoded, _b64(signature)])


def _analyst_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "analyst-1",
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": str(uuid.uuid4()),
        "roles": ["analyst"],
        "clearance": "IL4",
    }
    claims.update(overrides)

    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture(scope="module")
def signer(issuer_key: rsa.RSAPrivateKey) -> TokenSigner:
    """The identity issuer's signer."""
    return TokenSigner.from_private_key(issuer_key)


@pytest.fixture(scope="module")
def verifier(issuer_key: rsa.RSAPrivateKey, signer: TokenSigner) -> TokenVerifier:
    """What edge and cloud build from the issuer's JWK set."""
    return TokenVerifier.for_issuer(
        {signer.kid: issuer_key.public_key()},
        audience=AUDIENCE,
        issuer=ISSUER,
        leeway=LEEWAY,
    )


@pytest.fixture
def edge_verifier(edge_key: rsa.RSAPrivateKey) -> TokenVerifier:
    """What the cloud checks edge-a's tokens with, built from its registered key."""
    return TokenVerifier.for_edge(
        "edge-a", edge_key.public_key(), audience=AUDIENCE, leeway=LEEWAY
    )


@pytest.fixture(scope="module")
def edge_signer(edge_key: rsa.RSAPrivateKey) -> TokenSigner:
    """edge-a's signer."""
    return TokenSigner.from_private_key(edge_key)


def _rejected(verify: Callable[[str], object], token: str) -> str:
    with pytest.raises(InvalidTokenError) as caught:
        verify(token)
    assert not token or token not in caught.value.reason

    return caught.value.reason


def test_analyst_token_verifies_with_roles_and_clearance(
    signer: TokenSigner, verifier: TokenVerifier
) -> None:
    """A token from the issuer yields its subject, roles and clearance."""
    token = issue_analyst_token(
        signer,
        sub="analyst-1",
        roles=frozenset({Role.ANALYST, Role.RESOLVER}),
        clearance=Classification.IL5,
        ttl=3600,
        audience=AUDIENCE,
        issuer=ISSUER,
    )

    claims = verifier.verify(token)

    assert claims.sub == "analyst-1"
    assert claims.roles == {Role.ANALYST, Role.RESOLVER}
    assert claims.clearance is Classification.IL5
    assert claims.exp - int(time.time()) in range(3590, 3601)


def test_issuer_rotation_selects_key_by_kid(
    issuer_key: rsa.RSAPrivateKey, stranger_key: rsa.RSAPrivateKey
) -> None:
    """With two keys in the JWK set, tokens of either verify, each by its kid."""
    old, new = (
        TokenSigner.from_private_key(issuer_key),
        TokenSigner.from_private_key(stranger_key),
    )
    verifier = TokenVerifier.for_issuer(
        {old.kid: issuer_key.public_key(), new.kid: stranger_key.public_key()},
        audience=AUDIENCE,
    )

    subjects = [
        verifier.verify(s.sign(_analyst_claims(sub=s.kid[:8]))).sub for s in (old, new)
    ]

    assert subjects == [old.kid[:8], new.kid[:8]]


def test_token_with_unknown_kid_is_rejected(
    verifier: TokenVerifier, stranger_key: rsa.RSAPrivateKey
) -> None:
    """A token signed by a key outside the JWK set is refused before any crypto."""
    token = TokenSigner.from_private_key(stranger_key).sign(_analyst_claims())

    assert _rejected(verifier.verify, token) == "unknown kid"


def test_token_signed_by_other_key_under_known_kid_is_rejected(
    verifier: TokenVerifier, signer: TokenSigner, stranger_key: rsa.RSAPrivateKey
) -> None:
    """Claiming the issuer's kid does not help a token signed with another key."""
    forger = TokenSigner(TokenSigner.from_private_key(stranger_key).key, signer.kid)

    reason = _rejected(verifier.verify, forger.sign(_analyst_claims()))

    assert reason == "Signature verification failed"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", [b"", b"x" * 32])
def test_alg_none_is_rejected(
    verifier: TokenVerifier, signer: TokenSigner, alg: str, signature: bytes
) -> None:
    """An unsigned token, with or without a dummy signature, never verifies."""
    token = _forge({"alg": alg, "kid": signer.kid}, _analyst_claims(), signature)

    _rejected(verifier.verify, token)


def _hs256_with_public_key(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    secret = public_key_pem(key.public_key())
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()

    return f"{header}.{payload}.{_b64(mac)}"


def test_hs256_signed_with_public_key_is_rejected(
    verifier: TokenVerifier,
    edge_verifier: TokenVerifier,
    issuer_key: rsa.RSAPrivateKey,
    edge_key: rsa.RSAPrivateKey,
) -> None:
    """The key-confusion forgery fails for analyst and for edge tokens."""
    analyst = _hs256_with_public_key(issuer_key, _analyst_claims())
    edge = _hs256_with_public_key(edge_key, _edge_claims())

    assert _rejected(verifier.verify, analyst) == "alg not allowed"
    assert _rejected(edge_verifier.verify, edge) == "alg not allowed"


def test_expired_token_is_rejected(
    verifier: TokenVerifier, signer: TokenSigner
) -> None:
    """A token past its exp plus leeway is refused as expired."""
    past = int(time.time()) - 3600
    token = signer.sign(_analyst_claims(iat=past - 60, nbf=past - 60, exp=past))

    assert _rejected(verifier.verify, token) == "token expired"


@pytest.mark.parametrize("aud", ["other-service", ["other", "services"], None])
def test_other_or_missing_audience_is_rejected(
    verifier: TokenVerifier, signer: TokenSigner, aud: str | list[str] | None
) -> None:
    """A token for another audience, or for none, is refused."""
    token = signer.sign(_analyst_claims(aud=aud))

    _rejected(verifier.verify, token)


def test_other_issuer_is_rejected(verifier: TokenVerifier, signer: TokenSigner) -> None:
    """A configured issuer must match the token's iss."""
    token = signer.sign(_analyst_claims(iss="https://elsewhere.example"))

    assert _rejected(verifier.verify, token) == "Invalid issuer"


def test_unknown_clearance_is_rejected(
    verifier: TokenVerifier, signer: TokenSigner
) -> None:
    """A clearance outside CUI, IL4, IL5 cannot be ranked: the token is refused."""
    token = signer.sign(_analyst_claims(clearance="TOPSECRET"))

    assert _rejected(verifier.verify, token) == "claims malformed"


def test_roles_of_other_applications_grant_nothing(
    verifier: TokenVerifier, signer: TokenSigner
) -> None:
    """A shared issuer's other roles are dropped; the protocol's roles stay."""
    token = signer.sign(_analyst_claims(roles=["analyst", "root", 7]))

    assert verifier.verify(token).roles == frozenset({Role.ANALYST})


def test_critical_header_is_rejected(
    verifier: TokenVerifier, signer: TokenSigner
) -> None:
    """A header extension marked critical is refused (RFC 7515 §4.1.11)."""
    token = _forge(
        {"alg": "RS256", "kid": signer.kid, "crit": ["exp"]},
        _analyst_claims(),
        b"x" * 256,
    )

    assert _rejected(verifier.verify, token) == "critical header not supported"


def test_oversized_token_is_rejected(
    verifier: TokenVerifier, signer: TokenSigner
) -> None:
    """A validly signed token above 8 KiB is refused by its size alone."""
    token = signer.sign(_analyst_claims(padding="p" * MAX_TOKEN_BYTES))

    assert _rejected(verifier.verify, token) == "token too large"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "a..c",
        "a.b.c\n",
        "a.b.c=",
        "é.b.c",
        "e30.e30.e30",
        "bm90IGpzb24.e30.AA",
    ],
)
def test_malformed_token_is_rejected(verifier: TokenVerifier, token: str) -> None:
    """Anything but three base64url segments with a JSON header is one clean error."""
    _rejected(verifier.verify, token)


def _edge_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "edge-a",
        "sub": "edge-a",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)

    return claims


def test_edge_token_verifies_against_registered_key(
    edge_verifier: TokenVerifier, edge_signer: TokenSigner
) -> None:
    """An edge's session token names the edge, lives 300 s and carries a uuid jti."""
    token = sign_edge_token(edge_signer, "edge-a", audience=AUDIENCE, ttl=3600)

    claims = edge_verifier.verify(token)

    assert claims.sub == claims.iss == "edge-a"
    assert claims.iat is not None
    assert claims.exp - claims.iat == 300
    assert uuid.UUID(str(claims.jti)).version == 4


def test_edge_token_signed_by_unregistered_key_is_rejected(
    edge_verifier: TokenVerifier, stranger_key: rsa.RSAPrivateKey
) -> None:
    """A token claiming to be edge-a but signed by another key is refused."""
    forger = TokenSigner.from_private_key(stranger_key)
    token = sign_edge_token(forger, "edge-a", audience=AUDIENCE)

    assert _rejected(edge_verifier.verify, token) == "unknown kid"


def test_edge_token_naming_another_subject_is_rejected(
    edge_verifier: TokenVerifier, edge_signer: TokenSigner
) -> None:
    """An edge cannot speak for another edge: iss and sub must both be its id."""
    token = edge_signer.sign(_edge_claims(sub="edge-b"))

    assert _rejected(edge_verifier.verify, token) == "Invalid subject"


def test_long_lived_edge_token_is_rejected(
    edge_verifier: TokenVerifier, edge_signer: TokenSigner
) -> None:
    """Edge tokens live at most 300 s, even when the edge's own key signed them."""
    token = edge_signer.sign(_edge_claims(exp=int(time.time()) + 3600))

    assert _rejected(edge_verifier.verify, token) == "token lifetime above the limit"


def test_edge_token_for_other_audience_is_rejected(
    edge_verifier: TokenVerifier, edge_signer: TokenSigner
) -> None:
    """An edge token minted for another service is refused by the cloud."""
    token = sign_edge_token(edge_signer, "edge-a", audience="other-cloud")

    assert _rejected(edge_verifier.verify, token) == "Invalid audience"


def test_edge_token_ttl_must_be_positive(edge_signer: TokenSigner) -> None:
    """A zero lifetime is a programming error, not an instantly expired token."""
    with pytest.raises(ValueError, match="ttl"):
        sign_edge_token(edge_signer, "edge-a", audience=AUDIENCE, ttl=0)


def test_rejections_never_log_the_token(
    verifier: TokenVerifier,
    edge_verifier: TokenVerifier,
    signer: TokenSigner,
    issuer_key: rsa.RSAPrivateKey,
) -> None:
    """No log line of a rejected or accepted token contains the token or the key."""
    past = int(time.time()) - 3600
    tokens = [
        signer.sign(_analyst_claims(exp=past)),
        signer.sign(_analyst_claims(aud="other")),
        _hs256_with_public_key(issuer_key, _analyst_claims()),
        signer.sign(_analyst_claims()),
        "x" * 20_000,
    ]
    with capture_logs() as logs:
        for token in tokens:
            for verify in (verifier.verify, edge_verifier.verify):
                with contextlib.suppress(InvalidTokenError):
                    verify(token)

    text = repr(logs)
    assert logs
    assert not any(token[:40] in text or token[-40:] in text for token in tokens)
    assert "PRIVATE KEY" not in text
    assert "PUBLIC KEY" not in text


def _at(offset: int) -> int:
    return int(time.time()) + offset


def test_bc20_a_iat_and_nbf_within_leeway_accepted(
    verifier: TokenVerifier, signer: TokenSigner
) -> None:
    """BC-20 (a): iat = nbf = now + 30 s is accepted with a leeway of 60 s."""
    token = signer.sign(_analyst_claims(iat=_at(30), nbf=_at(30), exp=_at(600)))

    assert verifier.verify(token).sub == "analyst-1"


def test_bc20_b_expired_within_leeway_accepted(
    verifier: TokenVerifier, signer: TokenSigner
) -> None:
    """BC-20 (b): exp = now - 30 s is accepted with a leeway of 60 s."""
    token = signer.sign(_analyst_claims(iat=_at(-600), nbf=_at(-600), exp=_at(-30)))

    assert verifier.verify(token).sub == "analyst-1"


def test_bc20_c_expired_beyond_leeway_rejected(
    verifier: TokenVerifier, signer: TokenSigner
) -> None:
    """BC-20 (c): exp = now - 10 min is refused."""
    token = signer.sign(_analyst_claims(iat=_at(-1200), nbf=_at(-1200), exp=_at(-600)))

    assert _rejected(verifier.verify, token) == "token expired"


def test_bc20_d_not_yet_valid_beyond_leeway_rejected(
    verifier: TokenVerifier, signer: TokenSigner
) -> None:
    """BC-20 (d): nbf = now + 10 min is refused."""
    token = signer.sign(_analyst_claims(nbf=_at(600), exp=_at(1200)))

    reason = _rejected(verifier.verify, token)

    assert "nbf" in reason


def test_bc20_e_missing_exp_rejected(
    verifier: TokenVerifier,
    edge_verifier: TokenVerifier,
    signer: TokenSigner,
    edge_signer: TokenSigner,
) -> None:
    """BC-20 (e): a token without exp is refused, analyst's and edge's alike."""
    analyst = signer.sign(_analyst_claims(exp=None))
    edge_claims = _edge_claims()
    del edge_claims["exp"]
    edge = edge_signer.sign(edge_claims)

    assert "exp" in _rejected(verifier.verify, analyst)
    assert "exp" in _rejected(edge_verifier.verify, edge)


@pytest.fixture(scope="module")
def jwe_bomb() -> str:
    """BC-19: a five-part JWE, zip=DEF, whose plaintext is 80 MB (built once)."""
    plaintext = b"A" * (80 * 1024 * 1024)
    token = jwe.encrypt(
        plaintext, os.urandom(32), encryption="A256GCM", algorithm="dir", zip="DEF"
    )

    return token.decode("ascii")


def test_bc19_jwe_bomb_is_a_five_part_deflated_jwe(jwe_bomb: str) -> None:
    """The fixture really is the attack: five segments, zip=DEF, a small token."""
    header = json.loads(base64.urlsafe_b64decode(jwe_bomb.split(".")[0] + "=="))

    assert jwe_bomb.count(".") == 4
    assert header["zip"] == "DEF"
    assert len(jwe_bomb) < 1024 * 1024


def test_bc19_small_jwe_is_refused_without_decryption(
    verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JWE under the size limit is still refused by its shape, never decrypted."""
    token = jwe.encrypt(
        b"A" * 1_000_000, os.urandom(32), encryption="A256GCM", zip="DEF"
    ).decode("ascii")
    decrypted: list[object] = []
    monkeypatch.setattr(jwe, "decrypt", lambda *args: decrypted.append(args))

    reason = _rejected(verifier.verify, token)

    assert len(token) < MAX_TOKEN_BYTES
    assert reason == "not a compact JWS"
    assert decrypted == []


def test_bc19_bomb_and_garbage_rejected_fast_with_bounded_memory(
    verifier: TokenVerifier, edge_verifier: TokenVerifier, jwe_bomb: str
) -> None:
    """
    BC-19: ten JWE bombs and ten 1 MB garbage tokens verified at once are each
    refused in under 100 ms, and verification allocates less than 20 MB.
    """
    garbage = base64.urlsafe_b64encode(os.urandom(768 * 1024)).decode("ascii")
    tokens = [jwe_bomb, garbage] * 10

    def timed(token: str) -> tuple[float, list[str]]:
        reasons = []
        start = time.perf_counter()
        for verify in (verifier.verify, edge_verifier.verify):
            try:
                verify(token)
            except InvalidTokenError as exc:
                reasons.append(exc.reason)
        return time.perf_counter() - start, reasons

    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
            results = list(pool.map(timed, tokens))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(garbage) >= 1024 * 1024
    assert all(reasons == ["token too large"] * 2 for _, reasons in results)
    assert max(elapsed for elapsed, _ in results) < 0.1
    assert peak - baseline < 20 * 1024 * 1024


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  abc.def.ghi ", "abc.def.ghi")],
)
def test_bearer_token_parses_the_scheme(header: str, expected: str) -> None:
    """The Bearer scheme is case-insensitive and surrounding blanks are ignored."""
    assert bearer_token(header) == expected


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic dXNlcjpwdw==", "Bearer a b", "Bearer " + "x" * 9000],
)
def test_bearer_token_refuses_anything_else(header: str | None) -> None:
    """A missing, empty, other-scheme, split or oversized value is refused."""
    with pytest.raises(InvalidTokenError):
        bearer_token(header)


def test_claims_model_requires_exp() -> None:
    """The claims model itself has no default for exp."""
    with pytest.raises(ValueError, match="exp"):
        Claims.model_validate({"sub": "a", "iss": "b", "aud": "c"})


def test_weak_edge_key_cannot_verify(weak_key: rsa.RSAPrivateKey) -> None:
    """A verifier is never built on a key below 2048 bits."""
    with pytest.raises(ValueError, match=str(MIN_RSA_BITS)):
        TokenVerifier.for_edge("edge-w", weak_key.public_key(), audience=AUDIENCE)
