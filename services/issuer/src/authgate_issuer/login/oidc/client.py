"""One OpenID Provider as a login: the metadata and keys cache, the start of a sign-in and its
completion into an identity.

    login = OidcLogin(settings)                             # once per provider and process
    start = await login.start(http, redirect_uri=..., random=ctx.random, now=ctx.now())
    # keep start.state, start.nonce, start.code_verifier with the pending sign-in; redirect to
    # start.url; then, at the callback:
    identity = await login.complete(http, params, state=..., nonce=..., code_verifier=...,
                                    redirect_uri=..., now=ctx.now(), random=ctx.random)

The discovery document is read on first use and again after ``metadata_seconds`` (or after a
failure), so an issuer that starts before its provider still comes up; a provider that is down
makes each call raise ``OidcUnavailable`` (``temporarily_unavailable``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx

from authgate_shared.runtime import RandomBytes

from .authorization import AuthorizationStart, authorization_start, code_from_response
from .discovery import ProviderMetadata, discover
from .exchange import exchange_code
from .id_token import Expected, verify_id_token
from .identity import OidcIdentity, identity_from_claims
from .jwks import JwksCache
from .settings import OidcSettings
from .userinfo import merge_userinfo, read_userinfo

METADATA_SECONDS = 3600.0


class OidcLogin:
    def __init__(
        self,
        settings: OidcSettings,
        *,
        keys: JwksCache | None = None,
        metadata_seconds: float = METADATA_SECONDS,
    ) -> None:
        self.settings = settings
        self.keys = keys or JwksCache()
        self.metadata_seconds = metadata_seconds
        self._metadata: ProviderMetadata | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def metadata(self, http: httpx.AsyncClient, *, now: float) -> ProviderMetadata:
        """The provider's validated metadata (cached)."""
        async with self._lock:
            if self._metadata is None or now - self._read_at >= self.metadata_seconds:
                self._metadata = await discover(http, self.settings)
                self._read_at = now
            return self._metadata

    async def start(
        self, http: httpx.AsyncClient, *, redirect_uri: str, random: RandomBytes, now: float
    ) -> AuthorizationStart:
        """A new sign-in: the URL to send the browser to and the secrets to keep."""
        metadata = await self.metadata(http, now=now)
        return authorization_start(
            metadata, self.settings, redirect_uri=redirect_uri, random=random
        )

    async def complete(
        self,
        http: httpx.AsyncClient,
        params: Mapping[str, str],
        *,
        state: str,
        nonce: str,
        code_verifier: str,
        redirect_uri: str,
        now: float,
        random: RandomBytes,
    ) -> OidcIdentity:
        """The identity of the provider's answer ``params`` (the callback's query) to the
        sign-in that kept ``state``, ``nonce`` and ``code_verifier``."""
        metadata = await self.metadata(http, now=now)
        code = code_from_response(params, state=state, metadata=metadata)
        tokens = await exchange_code(
            http,
            metadata,
            self.settings,
            code=code,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            now=now,
            random=random,
        )
        claims = await verify_id_token(
            tokens.id_token,
            Expected(
                issuer=metadata.issuer,
                client_id=self.settings.client_id,
                nonce=nonce,
                algorithms=metadata.algorithms,
            ),
            keys=self.keys,
            http=http,
            jwks_uri=metadata.jwks_uri,
            now=now,
            seconds=self.settings.timeout,
        )
        if self.settings.userinfo and metadata.userinfo_endpoint is not None:
            userinfo = await read_userinfo(
                http, metadata.userinfo_endpoint, self.settings, access_token=tokens.access_token
            )
            claims = merge_userinfo(claims, userinfo)
        return identity_from_claims(claims, self.settings)
