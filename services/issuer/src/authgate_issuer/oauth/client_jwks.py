"""A client's public keys for private_key_jwt (RFC 7523 §2.2): ``jwks`` or ``jwks_uri``.

RFC 7591 §2: a client gives its JWK Set by value (``jwks``) or by reference (``jwks_uri``, never
both). Only public asymmetric signing keys are accepted: a JWK carrying private members (``d``,
``p``, ``k``, ...) is a leaked key, and a symmetric (``oct``) key would be a shared secret, which
client metadata documents must not use. A ``jwks_uri`` is fetched through the SSRF-safe fetcher
(``outbound.fetch``), counted against its host's fetch budget, and cached in Redis by its HTTP
caching headers within the CIMD bounds, so every replica agrees. An assertion signed with a key
the cached set does not have makes it fetched again (at most once per CIMD_CACHE_MIN_SECONDS):
a client that rotates its key is not locked out for the cache's lifetime.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from authgate_shared import redis_keys

from ..cimd.freshness import cache_seconds
from ..context import IssuerContext
from ..outbound.fetch import FetchError, fetch_json
from ..outbound.host_limit import take_fetch
from ..store.clients import ClientRecord

SIGNING_ALGORITHMS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip
"""Asymmetric JWS algorithms accepted for client assertions; never ``none`` or HS*."""
KEY_TYPES = ("RSA", "EC", "OKP")
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_KEYS = 10


class KeysUnavailable(Exception):
    """The client's keys could not be obtained; the message says why."""


def jwks_problem(value: Any) -> str | None:
    """Why ``value`` is not an acceptable JWK Set of public signing keys, or None."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        return 'must be a JWK Set: a JSON object with a "keys" array'
    keys = value["keys"]
    if not 1 <= len(keys) <= MAX_KEYS:
        return f"must hold 1 to {MAX_KEYS} keys"
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in KEY_TYPES:
            return f"keys must be public {'/'.join(KEY_TYPES)} JWKs"
        if PRIVATE_MEMBERS & key.keys():
            return "must not contain private or symmetric key material"
        if key.get("use", "sig") != "sig" or key.get("alg", "RS256") not in SIGNING_ALGORITHMS:
            return "keys must be for signing with an asymmetric algorithm"
        try:
            PyJWK(key)
        except PyJWKError as exc:
            return f"holds a key that cannot be used ({exc})"
    return None


async def _fetched_jwks(ctx: IssuerContext, uri: str, *, refresh: bool) -> dict[str, Any]:
    settings = ctx.settings.cimd
    digest = hashlib.sha256(uri.encode()).hexdigest()
    key = redis_keys.client_jwks(digest)
    if refresh:
        # At most once per CIMD_CACHE_MIN_SECONDS per URI, so assertions with made-up kids
        # cannot spend the host's fetch budget.
        marker = redis_keys.client_jwks_refetch(digest)
        if not await ctx.redis.set(marker, "1", ex=max(1, settings.cache_min_seconds), nx=True):
            raise KeysUnavailable("jwks_uri was fetched again moments ago")
    else:
        cached = await ctx.redis.get(key)
        if cached is not None:
            data: dict[str, Any] = orjson.loads(cached)
            return data
    now = ctx.now()
    host = (urlsplit(uri).hostname or "").lower()
    wait = await take_fetch(
        ctx.redis, host, now=now, per_minute=settings.fetches_per_host_per_minute
    )
    if wait:
        raise KeysUnavailable(f"too many fetches from {host}; retry in {wait} s")
    try:
        fetched = await fetch_json(
            ctx.documents,
            uri,
            seconds=settings.fetch_timeout,
            max_bytes=settings.max_document_bytes,
        )
        data = orjson.loads(fetched.body)
    except FetchError as exc:
        raise KeysUnavailable(f"jwks_uri {exc}") from None
    except orjson.JSONDecodeError:
        raise KeysUnavailable("jwks_uri is not valid JSON") from None
    problem = jwks_problem(data)
    if problem is not None:
        raise KeysUnavailable(f"the JWK Set at jwks_uri {problem}")
    ttl = cache_seconds(
        fetched.headers, now, floor=settings.cache_min_seconds, ceiling=settings.cache_max_seconds
    )
    if ttl > 0:
        await ctx.redis.set(key, orjson.dumps(data), ex=ttl)
    return data


async def client_jwks(
    ctx: IssuerContext, client: ClientRecord, *, refresh: bool = False
) -> Mapping[str, Any]:
    """The client's JWK Set: its ``jwks``, or the one at its ``jwks_uri`` (cached; with
    ``refresh``, fetched again even if cached: for a key published since, RFC 7517 rotation)."""
    inline = client.metadata.get("jwks")
    if isinstance(inline, dict):
        return inline
    uri = client.metadata.get("jwks_uri")
    if not isinstance(uri, str):
        raise KeysUnavailable("the client has no jwks or jwks_uri")
    return await _fetched_jwks(ctx, uri, refresh=refresh)
