"""The provider's signing keys (its ``jwks_uri``), cached in the process, with key rollover.

OpenID Connect Core §10.1.1: a provider rotates by publishing a new key, then signing with it;
an ID token whose ``kid`` the cached set lacks makes the set be fetched once more, at once, so
a rollover works whenever it happens. Such refetches are rate-limited (one per
``refetch_seconds``): ID tokens come from the provider's own token endpoint, so only a
misbehaving provider sends made-up ``kid``s, and even then we ask it at most every few seconds.
The whole set is also refetched after ``max_age_seconds``, so a key the provider withdrew
stops verifying.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
from jwt import PyJWK

from ...oauth.signing_keys import signing_keys
from .errors import OidcRefused, OidcUnavailable
from .transport import get_json

REFETCH_SECONDS = 10.0
MAX_AGE_SECONDS = 3600.0


class JwksCache:
    """The provider's JWK Set, fetched on first use; one per provider and process."""

    def __init__(
        self, *, refetch_seconds: float = REFETCH_SECONDS, max_age_seconds: float = MAX_AGE_SECONDS
    ) -> None:
        self.refetch_seconds = refetch_seconds
        self.max_age_seconds = max_age_seconds
        self._jwks: Mapping[str, Any] | None = None
        self._fetched_at = 0.0
        self._refetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _fetch(
        self, http: httpx.AsyncClient, uri: str, *, now: float, seconds: float
    ) -> None:
        jwks = await get_json(http, uri, "jwks_uri", seconds=seconds)
        if not isinstance(jwks.get("keys"), list):
            raise OidcUnavailable("the OpenID Provider's jwks_uri is not a JWK Set")
        self._jwks, self._fetched_at = jwks, now
        self.fetches += 1

    async def keys_for(
        self,
        http: httpx.AsyncClient,
        uri: str,
        *,
        algorithm: str,
        kid: str | None,
        now: float,
        seconds: float,
    ) -> list[PyJWK]:
        """The keys that may have signed a token with this header; the set is fetched when
        missing or old, and once more (rate-limited) when it has no such key."""
        async with self._lock:
            if self._jwks is None or now - self._fetched_at >= self.max_age_seconds:
                await self._fetch(http, uri, now=now, seconds=seconds)
            assert self._jwks is not None
            found = signing_keys(self._jwks, algorithm=algorithm, kid=kid)
            if not found and now - self._refetched_at >= self.refetch_seconds:
                self._refetched_at = now
                await self._fetch(http, uri, now=now, seconds=seconds)
                found = signing_keys(self._jwks, algorithm=algorithm, kid=kid)
        if not found:
            raise OidcRefused(f"the provider has no {algorithm} key with kid {kid!r}")
        return found
