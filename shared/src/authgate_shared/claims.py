"""The access token: the JWT contract between issuer and verifier (RFC 9068, RFC 7519).

Header ``{"alg": ..., "typ": "at+jwt", "kid": <RFC 7638 thumbprint>}``; payload carries the
seed's claims (``iss``, ``sub`` = ``github|<login>``, ``aud``, ``exp``, ``iat``, ``jti``, ``scope``,
``github_username``, ``github_id``) plus ``client_id`` (RFC 9068 §2.2), and ``groups`` when the
issuer checks GitHub organisations or teams.

A user signed in with OpenID Connect has ``sub`` = ``oidc|<provider subject>`` (also in
``github_id``, as the user's stable id) and the OIDC_USERNAME_CLAIM value in
``github_username``: the claim names are the verifier's contract (X-User-Name), kept so every
token ever issued stays readable by every verifier; ``groups`` (``oidc:<group>``) is always
present.
"""

from __future__ import annotations

from typing import Any, Final, NotRequired, TypedDict

import jwt

from .keys import key_fits

TOKEN_TYPE = "at+jwt"
# RFC 9068 §4: resource servers accept "at+jwt" and "application/at+jwt"; media type names are
# case-insensitive (RFC 7515 §4.1.9, RFC 2045 §5.1).
ACCEPTED_TOKEN_TYPES = frozenset({TOKEN_TYPE, "application/" + TOKEN_TYPE})
# ``aud`` of a token requested without any RFC 8707 ``resource``: valid on every MCP host of the
# gateway unless the verifier runs with REQUIRE_RESOURCE_TOKENS=true.
GATEWAY_AUDIENCE = "urn:authgate:gateway"
DEFAULT_SCOPE = "mcp:*"
# The values of JWT_ALGORITHM; a deployment accepts exactly one of them (RFC 8725 §3.1).
ALLOWED_ALGORITHMS = ("RS256", "ES256", "HS256")
# The user's groups (RFC 9068 §2.2.3.1, the SCIM ``groups`` attribute of RFC 7643 §4.1.2): the
# configured GitHub organisations (``acme``) and teams (``acme/platform``) the user is an active
# member of, lower-case and sorted, as checked at login and at the token's refresh. Present only
# when the issuer checks organisations or teams (ALLOWED_GITHUB_ORGS / ALLOWED_GITHUB_TEAMS).
GROUPS_CLAIM: Final = "groups"


class AccessTokenClaims(TypedDict):
    iss: str
    sub: str
    aud: list[str]
    exp: int
    iat: int
    nbf: int
    jti: str
    scope: str
    client_id: str
    github_username: str
    github_id: str
    groups: NotRequired[list[str]]


def subject(username: str) -> str:
    return f"github|{username}"


def build_claims(
    *,
    issuer: str,
    username: str,
    github_id: str,
    client_id: str,
    scope: str,
    audience: list[str],
    jti: str,
    now: int,
    lifetime: int,
    groups: list[str] | None = None,
    sub: str | None = None,
) -> AccessTokenClaims:
    """The payload; ``groups`` None leaves the claim out (no organisations or teams checked);
    ``sub`` None is GitHub's ``github|<login>``."""
    claims = AccessTokenClaims(
        iss=issuer,
        sub=sub or subject(username),
        aud=audience or [GATEWAY_AUDIENCE],
        exp=now + lifetime,
        iat=now,
        nbf=now,
        jti=jti,
        scope=scope,
        client_id=client_id,
        github_username=username,
        github_id=github_id,
    )
    if groups is not None:
        claims[GROUPS_CLAIM] = list(groups)
    return claims


def encode(claims: AccessTokenClaims, *, key: Any, kid: str, algorithm: str) -> str:
    headers = {"typ": TOKEN_TYPE, "kid": kid}
    return jwt.encode(dict(claims), key, algorithm=algorithm, headers=headers)


class InvalidToken(Exception):
    """The token is not a valid access token of this issuer; ``reason`` is a metrics label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def decode(
    token: str,
    *,
    keys: dict[str, Any],
    algorithm: str,
    issuer: str,
    now: float,
    leeway: int = 30,
) -> dict[str, Any]:
    """Verify signature, ``typ``, ``iss``, ``exp``/``nbf``/``iat`` and ``jti``; return the claims.

    Only ``algorithm`` is accepted (RFC 8725 §3.1: no ``none``, no algorithm chosen by the token),
    the key is picked by ``kid`` from ``keys`` only and must be of that algorithm's key type, and
    ``jku``/``x5u``/``jwk`` headers are never followed. Audience is checked by the caller, which
    knows the requested resource.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed", "token is not a JWT") from exc
    if header.get("alg") != algorithm:
        raise InvalidToken("bad_signature", "token algorithm is not accepted")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCEPTED_TOKEN_TYPES:
        raise InvalidToken("wrong_type", "token is not an access token (typ)")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("unknown_kid", "token signing key is unknown")
    if not key_fits(algorithm, key):
        # RFC 8725 §3.1: each key is used with exactly one algorithm; an RSA key under ES256,
        # or an EC key under RS256, is refused without being tried.
        raise InvalidToken("bad_signature", "token signing key does not fit the algorithm")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=issuer,
            leeway=leeway,
            options={
                "require": ["exp", "iat", "iss", "jti", "sub"],
                "verify_aud": False,
                "verify_iat": False,
                "verify_exp": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidIssuerError as exc:
        raise InvalidToken("wrong_issuer", "token issuer is not accepted") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("bad_signature", "token signature is invalid") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken("malformed", f"token lacks a required claim: {exc.claim}") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed", "token is malformed") from exc
    # Time checks against the injected clock, not PyJWT's wall clock, so tests can freeze time.
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if not isinstance(exp, int) or exp + leeway <= now:
        raise InvalidToken("expired", "token has expired")
    if isinstance(nbf, int) and nbf - leeway > now:
        raise InvalidToken("not_yet_valid", "token is not yet valid")
    iat = claims.get("iat")
    if not isinstance(iat, int) or iat - leeway > now:
        raise InvalidToken("not_yet_valid", "token was issued in the future")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise InvalidToken("malformed", "token has no jti")
    return claims


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)]
    return []
