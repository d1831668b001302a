"""A user's live grants, read through ``oauth:user_grants:{github_id}`` (the account page).

The index is written with the client index, before the grant itself (store.grants.index_grant),
and pruned by expiry on every insert; so it may name a grant that is gone (revoked, or never
written), but never misses a live one. The read drops those dangling ids and, as a second
guard, any grant whose ``github_id`` is not the asked user's: the account page shows and
revokes only what this returns.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from authgate_shared import redis_keys

from .grants import Grant, parse_grant

LIMIT = 1000
"""At most this many grants are read (newest expiry first); a user has a handful."""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def grants_of_user(redis: aioredis.Redis, github_id: str) -> list[Grant]:
    """The user's live grants, newest expiry first."""
    key = redis_keys.user_grants(github_id)
    raw_ids = await redis.zrevrange(key, 0, LIMIT - 1)
    ids = [_text(raw) for raw in raw_ids]
    if not ids:
        return []
    # One pipeline, no MULTI: the grants live in as many slots as there are grants.
    async with redis.pipeline(transaction=False) as pipe:
        for grant_id in ids:
            pipe.hgetall(redis_keys.grant(grant_id))
        hashes = await pipe.execute()
    found = (parse_grant(grant_id, raw) for grant_id, raw in zip(ids, hashes, strict=True))
    return [grant for grant in found if grant is not None and grant.github_id == github_id]
