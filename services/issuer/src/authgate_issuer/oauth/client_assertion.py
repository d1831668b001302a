"""private_key_jwt client authentication: the JWT client assertion (RFC 7523 §2.2 and §3,
RFC 7521 §4.2).

The client sends ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``
and ``client_assertion=<JWT signed with its private key>``. The JWT must carry:

* ``iss`` = ``sub`` = the client id (§3 items 1-2); a ``client_id`` parameter, if sent, must
  name the same client (RFC 7521 §4.2);
* ``aud`` naming this server: the issuer identifier or the token endpoint URL (§3 item 3);
* ``exp`` (§3 item 4), in the future, and at most ``MAX_LIFETIME`` seconds away: an assertion is
  a one-request credential, and a long-lived one is a bearer secret by another name;
* ``jti`` (§3 item 7), used once: the first use is recorded in Redis (SET NX until ``exp``), so
  a captured assertion cannot be replayed on any replica;
* a signature by one of the client's keys with an asymmetric algorithm of
  ``client_jwks.SIGNING_ALGORITHMS``, never ``none`` or an HMAC (which the client's public key
  would then be the secret of: the classic algorithm-confusion attack).

Time is the caller's clock, not pyjwt's: the registered-claim checks are done here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
import redis.asyncio as aioredis

from authgate_shared import redis_keys

from .client_jwks import SIGNING_ALGORITHMS
from .signing_keys import signing_keys

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_CHARS = 8192
MAX_LIFETIME = 300
LEEWAY = 30
"""Clock skew allowed on ``exp``, ``nbf`` and ``iat`` (seconds)."""


class AssertionRefused(ValueError):
    """The client assertion does not authenticate its client; the message says why."""


class UnknownKey(AssertionRefused):
    """No key of the client's JWK Set has the assertion's ``kid`` and ``alg``: perhaps a key
    published since the set was cached (a rotation)."""


@dataclass(frozen=True)
class Assertion:
    client_id: str
    jti: str
    exp: int


def claimed_client(assertion: str) -> str:
    """The client id the assertion claims (``iss`` = ``sub``), before any verification: it says
    whose keys to verify it with. AssertionRefused when it claims none."""
    if len(assertion) > MAX_ASSERTION_CHARS:
        raise AssertionRefused(f"is longer than {MAX_ASSERTION_CHARS} characters")
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AssertionRefused("is not a JWT") from None
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or not iss or iss != sub:
        raise AssertionRefused("must have iss and sub both equal to the client id")
    return iss


def _times(claims: Mapping[str, Any], now: float) -> int:
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise AssertionRefused("must have a numeric exp")
    if exp + LEEWAY <= now:
        raise AssertionRefused("has expired")
    if exp > now + MAX_LIFETIME + LEEWAY:
        raise AssertionRefused(f"must expire within {MAX_LIFETIME} s")
    for name in ("nbf", "iat"):
        value = claims.get(name)
        if value is not None and (not isinstance(value, int | float) or value > now + LEEWAY):
            raise AssertionRefused(f"has {name} in the future")
    return exp


def verify_assertion(
    assertion: str,
    *,
    client_id: str,
    jwks: Mapping[str, Any],
    audiences: Sequence[str],
    now: float,
) -> Assertion:
    """The verified assertion of ``client_id``; AssertionRefused otherwise."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise AssertionRefused("is not a JWT") from None
    algorithm = header.get("alg")
    if algorithm not in SIGNING_ALGORITHMS:
        raise AssertionRefused(f"alg must be one of {', '.join(SIGNING_ALGORITHMS)}")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    keys = signing_keys(jwks, algorithm=str(algorithm), kid=kid)
    if not keys:
        raise UnknownKey(f"names no key of the client for alg {algorithm} and kid {kid!r}")
    claims: dict[str, Any] | None = None
    for key in keys:
        try:
            claims = jwt.decode(
                assertion,
                key=key,
                algorithms=[str(algorithm)],
                audience=list(audiences),
                issuer=client_id,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidAudienceError:
            raise AssertionRefused(f"aud must name this server ({audiences[0]})") from None
        except jwt.PyJWTError as exc:
            raise AssertionRefused(f"is invalid ({exc})") from None
    if claims is None:
        raise AssertionRefused("is not signed by any of the client's keys")
    if claims.get("sub") != client_id:
        raise AssertionRefused("must have sub equal to the client id")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise AssertionRefused("must have a jti (at most 256 characters)")
    return Assertion(client_id=client_id, jti=jti, exp=_times(claims, now))


async def use_once(redis: aioredis.Redis, assertion: Assertion, *, now: float) -> bool:
    """Record the assertion's jti; False when it was already used (a replay)."""
    digest = hashlib.sha256(f"{assertion.client_id}\n{assertion.jti}".encode()).hexdigest()
    ttl = max(1, int(assertion.exp + LEEWAY - now))
    return bool(await redis.set(redis_keys.client_assertion(digest), "1", ex=ttl, nx=True))
