"""Authorization requests in flight, between /authorize and /callback.

* ``oauth:consent:{sha256(request_id)}``: a validated request shown on the consent page, waiting
  for Approve or Deny.
* ``oauth:state:{sha256(state)}``: an approved request waiting for the login provider's
  callback, with the provider chosen (``provider``) and, for OpenID Connect, the sign-in's
  ``nonce`` and PKCE ``code_verifier`` (Core §15.5.2, RFC 7636 §4.1), which only the provider's
  answer to this very request can use. The ``state`` is created only after consent (MCP
  security best practices, confused deputy).

Both carry the browser id that saw the consent page, live ``STATE_LIFETIME`` (5 min) and are
taken with ``GETDEL``: of two concurrent uses exactly one succeeds. Only hashes are stored, so a
Redis dump does not reveal a live state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import orjson
import redis.asyncio as aioredis

from authgate_shared import redis_keys
from authgate_shared.runtime import RandomBytes

from ..oauth.authorization_request import AuthorizationRequest
from ..oauth.credentials import hash_secret, new_secret


@dataclass(frozen=True)
class Pending:
    request: AuthorizationRequest
    browser: str
    """The consenting browser's id (consent_cookie.BROWSER_COOKIE)."""
    provider: str = "github"
    """The login provider the user chose (LOGIN_PROVIDERS); /callback dispatches on it."""
    nonce: str = field(default="", repr=False)
    """OpenID Connect: the ``nonce`` the ID token must carry."""
    code_verifier: str = field(default="", repr=False)
    """OpenID Connect: the PKCE verifier of the request to the provider."""

    def towards(self, provider: str, *, nonce: str = "", code_verifier: str = "") -> Pending:
        return replace(self, provider=provider, nonce=nonce, code_verifier=code_verifier)


def _encode(pending: Pending) -> bytes:
    data: dict[str, object] = {
        "request": orjson.Fragment(pending.request.to_json()),
        "browser": pending.browser,
    }
    if pending.provider != "github":  # GitHub's records stay what they always were
        data.update(
            provider=pending.provider, nonce=pending.nonce, code_verifier=pending.code_verifier
        )
    return orjson.dumps(data)


def _decode(raw: bytes | str) -> Pending:
    data = orjson.loads(raw)
    return Pending(
        AuthorizationRequest(**data["request"]),
        str(data["browser"]),
        provider=str(data.get("provider", "github")),
        nonce=str(data.get("nonce", "")),
        code_verifier=str(data.get("code_verifier", "")),
    )


async def _save(redis: aioredis.Redis, key: str, pending: Pending, ttl: int) -> None:
    await redis.set(key, _encode(pending), ex=ttl, nx=True)


async def _take(redis: aioredis.Redis, key: str) -> Pending | None:
    raw = await redis.getdel(key)
    return None if raw is None else _decode(raw)


async def save_consent_request(
    redis: aioredis.Redis, pending: Pending, random: RandomBytes, ttl: int
) -> str:
    """Store the request; return the id the consent form posts back."""
    request_id = new_secret(random)
    await _save(redis, redis_keys.consent_request(hash_secret(request_id)), pending, ttl)
    return request_id


async def take_consent_request(redis: aioredis.Redis, request_id: str) -> Pending | None:
    return await _take(redis, redis_keys.consent_request(hash_secret(request_id)))


async def save_state(redis: aioredis.Redis, pending: Pending, random: RandomBytes, ttl: int) -> str:
    """Store the approved request; return the ``state`` sent to the provider (GitHub)."""
    state = new_secret(random)
    await _save(redis, redis_keys.state(hash_secret(state)), pending, ttl)
    return state


async def save_given_state(redis: aioredis.Redis, pending: Pending, state: str, ttl: int) -> None:
    """Store the approved request under a ``state`` made by the provider's client (the OIDC
    login makes its own, with the nonce and verifier it belongs to)."""
    await _save(redis, redis_keys.state(hash_secret(state)), pending, ttl)


async def take_state(redis: aioredis.Redis, state: str) -> Pending | None:
    return await _take(redis, redis_keys.state(hash_secret(state)))
