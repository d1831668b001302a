"""The verification keys: the issuer's JWK Set from Redis, or one configured key.

RS256 and ES256 keys come from the JWK Set the issuer publishes in Redis (``redis_keys.JWKS``)
unless ``GATEWAY_RSA_PUBLIC_KEY`` pins one (an RSA or EC P-256 PEM, matching JWT_ALGORITHM);
HS256 uses ``GATEWAY_JWT_SECRET``. The set may hold keys of both types: ``claims.decode`` uses a
key only with the algorithm of its type, and only on a cache miss, so nothing is filtered here.
Keys are selected by ``kid`` only (RFC 7515 §4.1.4); ``jku``/``x5u``/``jwk`` headers are never
followed (RFC 8725 §3.10). A token with an unknown ``kid`` may mean the issuer rotated keys, so
it triggers a reload, but at most one per ``min_reload_interval``: a flood of junk kids cannot
hammer Redis.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis

from authgate_shared import redis_keys
from authgate_shared.keys import hmac_kid, load_public_pem, parse_jwks, public_jwk
from authgate_shared.redis.connection import REDIS_DOWN_ERRORS
from authgate_shared.runtime import Clock

from .errors import RedisUnavailable
from .settings import VerifierSettings

LOG = logging.getLogger("authgate.verifier")
MIN_RELOAD_INTERVAL = 5.0


def static_keys(settings: VerifierSettings) -> dict[str, Any] | None:
    """The configured key by its RFC 7638 kid, or None when keys come from Redis."""
    if settings.jwt_algorithm == "HS256":
        assert settings.jwt_secret is not None
        return {hmac_kid(settings.jwt_secret): settings.jwt_secret}
    if settings.rsa_public_key_pem is not None:
        public = load_public_pem(settings.rsa_public_key_pem, settings.jwt_algorithm)
        return {public_jwk(public)["kid"]: public}
    return None


class KeySet:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        static: dict[str, Any] | None,
        monotonic: Clock,
        on_keys_removed: Callable[[], None] = lambda: None,
        min_reload_interval: float = MIN_RELOAD_INTERVAL,
    ) -> None:
        self.keys: dict[str, Any] = dict(static or {})
        self._redis = redis
        self._static = static is not None
        self._monotonic = monotonic
        self._on_keys_removed = on_keys_removed
        self._interval = min_reload_interval
        self._last_attempt = -math.inf
        self._last_failed = False
        self._inflight: asyncio.Task[None] | None = None
        self.reloads = 0

    @property
    def from_redis(self) -> bool:
        return not self._static

    async def load(self) -> None:
        """Read the JWK Set; RedisUnavailable if Redis does not answer (keys are then kept)."""
        if self._static:
            return
        try:
            raw = await self._redis.get(redis_keys.JWKS)
        except REDIS_DOWN_ERRORS as exc:
            self._last_failed = True
            raise RedisUnavailable("cannot read the JWK Set") from exc
        self._last_failed = False
        self.reloads += 1
        try:
            keys = parse_jwks(raw) if raw else {}
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            LOG.error("the JWK Set in Redis is malformed; keeping the previous keys")
            return
        removed = self.keys.keys() - keys.keys()
        self.keys = dict(keys)
        if removed:
            # Tokens cached under a retired key must be verified again (and now fail).
            self._on_keys_removed()

    async def reload_for_unknown_kid(self) -> bool:
        """Reload unless one happened recently; True when the keys were just re-read."""
        if self._static:
            return False
        if self._inflight is not None:
            await asyncio.shield(self._inflight)
            return True
        if self._monotonic() - self._last_attempt < self._interval:
            if self._last_failed:
                raise RedisUnavailable("the last JWK Set reload failed")
            return False
        self._last_attempt = self._monotonic()
        self._inflight = asyncio.ensure_future(self.load())
        try:
            await asyncio.shield(self._inflight)
        finally:
            self._inflight = None
        return True

    async def refresh_forever(self, interval: float) -> None:
        """Periodic reload, so retired keys stop verifying and new ones are ready early."""
        warned = False
        while True:
            await asyncio.sleep(interval)
            try:
                await self.load()
                warned = False
            except RedisUnavailable:
                if not warned:
                    LOG.warning("cannot reload the JWK Set from Redis; keeping the current keys")
                warned = True
