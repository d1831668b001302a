"""Grants keeping a user's GitHub token sealed, as a login with UPSTREAM_TOKEN_KEYS makes them,
for tests of what the admin CLI shows, revokes, backs up and restores of them.

``make``: by the issuer's own ``start_grant`` with a token sealed by ``upstream.tokens.seal_token``
for the grant's id; ``UPSTREAMS`` holds recognisable token strings, which tests assert are never
printed or written in clear (``secret_strings``). ``sign_in``: a real login at a running issuer
through the GitHub stand-in, whose token the issuer keeps itself.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx

from authgate_issuer.oauth.issuance import TokenResponse, start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.sealing import parse_sealing_keys
from authgate_issuer.upstream.tokens import UpstreamToken, seal_token

from .admin_cli import CliResult
from .browser_flow import Browser, new_pkce
from .flows import RegisteredClient, register, token_request
from .issuer_ctx import issuer_context
from .token_clients import RESOURCE

HOUR = 3600
KEYS_VALUE = "k1:" + base64.b64encode(os.urandom(32)).decode()
"""An UPSTREAM_TOKEN_KEYS value (key id k1) that ``make`` seals with by default."""
OTHER_VALUE = "k9:" + base64.b64encode(os.urandom(32)).decode()
"""Another key ring (key id k9): it opens nothing sealed under KEYS_VALUE."""

NOW = int(time.time())
UPSTREAMS = {
    # A GitHub App's expiring user token (8 h) with its refresh token (6 months).
    "app": UpstreamToken(
        "ghu_AppUserToken123", "ghr_AppRefresh456", expires_at=NOW + 8 * HOUR,
        refresh_expires_at=NOW + 180 * 86400,
    ),
    # An OAuth app's token: it does not expire.
    "oauth": UpstreamToken("gho_OAuthAppToken789"),
    "stale": UpstreamToken(
        "ghu_StaleToken000", "ghr_StaleRefresh111", expires_at=NOW - HOUR,
        refresh_expires_at=NOW + 86400,
    ),
    "dead": UpstreamToken(
        "ghu_DeadToken222", "ghr_DeadRefresh333", expires_at=NOW - 2 * HOUR,
        refresh_expires_at=NOW - HOUR,
    ),
    "foreign": UpstreamToken("gho_ForeignKeyToken444"),
}  # fmt: skip


@dataclass(frozen=True)
class Made:
    grant_id: str
    tokens: TokenResponse


def make(
    settings: IssuerSettings,
    client_id: str,
    user: str,
    github_id: str,
    upstream: UpstreamToken | None,
    *,
    age: int = 0,
    keys_value: str = KEYS_VALUE,
) -> Made:
    """A grant made ``age`` seconds ago keeping ``upstream`` sealed for it under
    ``keys_value`` (None: no token kept)."""
    grant_id = os.urandom(16).hex()
    sealed = ""
    if upstream is not None:
        keys = parse_sealing_keys(keys_value)
        sealed = seal_token(keys, upstream, grant_id=grant_id, random=os.urandom)

    async def go() -> TokenResponse:
        then = time.time() - age
        async with issuer_context(settings, clock=lambda: then) as ctx:
            return await start_grant(
                ctx,
                client_id=client_id,
                username=user,
                github_id=github_id,
                scope="mcp:read mcp:write",
                resources=[RESOURCE],
                grant_id=grant_id,
                upstream_token=sealed,
            )

    return Made(grant_id, asyncio.run(go()))


def secret_strings() -> list[str]:
    """Every access and refresh token string of UPSTREAMS."""
    return [t for u in UPSTREAMS.values() for t in (u.access_token, u.refresh_token) if t]


def no_secret(*results: CliResult) -> None:
    """Assert that no upstream token string appears in the commands' output."""
    for result in results:
        for secret in secret_strings():
            assert secret not in result.out and secret not in result.err


def sign_in(issuer_url: str, login: str, resource: str) -> tuple[RegisteredClient, dict[str, Any]]:
    """A new client registered at ``issuer_url`` and the token response of ``login``'s sign-in
    (consent, the stand-in's login page, the code redeemed) for ``resource``."""
    with httpx.Client(timeout=30) as http:
        client = register(http, issuer_url)
        pkce = new_pkce()
        result = Browser(issuer_url).run(
            client.client_id, client.redirect_uri, pkce, login=login, resources=[resource]
        )
        form = {
            "grant_type": "authorization_code",
            "code": result.code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": pkce.verifier,
        }
        answer = token_request(http, issuer_url, client, form)
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return client, tokens
