"""Authorization requests in flight, between /authorize and /callback.

* ``oauth:consent:{sha256(request_id)}``: a validated request shown on the consent page, waiting
  for Approve or Deny.
* ``oauth:state:{sha256(state)}``: an approved request waiting for GitHub's callback. The GitHub
  ``state`` is created only after consent (MCP security best practices, confused deputy).

Both carry the browser id that saw the consent page, live ``STATE_LIFETIME`` (5 min) and are
taken with ``GETDEL``: of two concurrent uses exactly one succeeds. Only hashes are stored, so a
Redis dump does not reveal a live state.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _encode(pending: Pending) -> bytes:
    return orjson.dumps(
        {"request": orjson.Fragment(pending.request.to_json()), "browser": pending.browser}
    )


def _decode(raw: bytes | str) -> Pending:
    data = orjson.loads(raw)
    return Pending(AuthorizationRequest(**data["request"]), str(data["browser"]))


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
    """Store the approved request; return the ``state`` sent to GitHub."""
    state = new_secret(random)
    await _save(redis, redis_keys.state(hash_secret(state)), pending, ttl)
    return state


async def take_state(redis: aioredis.Redis, state: str) -> Pending | None:
    return await _take(redis, redis_keys.state(hash_secret(state)))
