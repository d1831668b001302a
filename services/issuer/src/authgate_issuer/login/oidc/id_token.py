"""ID token validation (OpenID Connect Core 1.0 §3.1.3.7), on our clock, not pyjwt's.

The signature is checked with pyjwt's JWS layer against the provider's key for the header's
``kid`` and ``alg``; ``alg`` must be one the provider announced and one of our asymmetric
algorithms (never ``none``, never HS*: an HMAC keyed with our client secret would let anyone
holding the secret mint tokens). Then the claims, each refusal naming its rule:
``iss`` exact (item 2), ``aud`` contains our client id (item 3), ``azp`` is our client id when
present and required with several audiences (items 4-5), ``exp`` in the future (item 9), ``iat``
present and recent (item 10), ``nonce`` equal to the one we sent (item 11), ``sub`` present
(§2: at most 255 ASCII characters).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import orjson

from .errors import OidcRefused
from .jwks import JwksCache

LEEWAY = 60
"""Clock skew allowed between us and the provider (seconds)."""
MAX_AGE = 600
"""How old ``iat`` may be: a code is exchanged within seconds of the sign-in."""
MAX_TOKEN_CHARS = 16384


@dataclass(frozen=True)
class Expected:
    """What the ID token must say."""

    issuer: str
    client_id: str
    nonce: str
    algorithms: tuple[str, ...]


def _header(token: str, algorithms: tuple[str, ...]) -> tuple[str, str | None]:
    if len(token) > MAX_TOKEN_CHARS:
        raise OidcRefused("the ID token is too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise OidcRefused("the ID token is not a JWS") from None
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in algorithms:
        raise OidcRefused(f"the ID token's alg {alg!r} is not one of {', '.join(algorithms)}")
    if kid is not None and not isinstance(kid, str):
        raise OidcRefused("the ID token's kid is not a string")
    return alg, kid


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise OidcRefused(f"the ID token has no numeric {name}")
    return float(value)


def check_claims(claims: Mapping[str, Any], expected: Expected, *, now: float) -> None:
    """Raise OidcRefused unless the (signature-checked) claims are for us, now."""
    if claims.get("iss") != expected.issuer:
        raise OidcRefused("the ID token's iss is not the provider's issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or expected.client_id not in audiences:
        raise OidcRefused("the ID token's aud does not contain our client id")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != expected.client_id:
        raise OidcRefused("the ID token's azp is not our client id")
    if _number(claims, "exp") + LEEWAY <= now:
        raise OidcRefused("the ID token has expired")
    iat = _number(claims, "iat")
    if iat > now + LEEWAY or iat < now - MAX_AGE - LEEWAY:
        raise OidcRefused("the ID token's iat is not recent")
    if "nbf" in claims and _number(claims, "nbf") > now + LEEWAY:
        raise OidcRefused("the ID token is not valid yet (nbf)")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(
        nonce.encode(), expected.nonce.encode()
    ):
        raise OidcRefused("the ID token's nonce is not the one sent")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255 or not sub.isascii():
        raise OidcRefused("the ID token has no valid sub")


async def verify_id_token(
    token: str,
    expected: Expected,
    *,
    keys: JwksCache,
    http: httpx.AsyncClient,
    jwks_uri: str,
    now: float,
    seconds: float,
) -> dict[str, Any]:
    """The claims of ``token`` once its signature and claims are valid; OidcRefused otherwise
    (OidcUnavailable when the provider's keys cannot be read)."""
    alg, kid = _header(token, expected.algorithms)
    candidates = await keys.keys_for(
        http, jwks_uri, algorithm=alg, kid=kid, now=now, seconds=seconds
    )
    for key in candidates:
        try:
            payload = jwt.PyJWS().decode(token, key, algorithms=[alg])
        except jwt.PyJWTError:
            continue
        break
    else:
        raise OidcRefused("the ID token's signature does not verify")
    try:
        claims = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise OidcRefused("the ID token's payload is not JSON") from None
    if not isinstance(claims, dict):
        raise OidcRefused("the ID token's payload is not a JSON object")
    check_claims(claims, expected, now=now)
    return claims
