"""Signing in to the account page through the same GitHub login as the authorization flow.

GitHub sends the browser back only to the registered callback URL, so ``/callback`` serves both:
an account sign-in's ``state`` starts with STATE_PREFIX (the authorization flow's states are
bare base64url, which has no '.'), and is then looked up under its own key,
``oauth:account_state:{sha256(state)}``: one use (GETDEL), STATE_LIFETIME, bound to the browser
that started it (consent_cookie.BROWSER_COOKIE), as the authorization flow's states are (RFC
6749 §10.12: the state binds the callback to the user agent). Only the hash is stored.
"""

from __future__ import annotations

from urllib.parse import urlencode

import redis.asyncio as aioredis

from authgate_shared import redis_keys
from authgate_shared.runtime import RandomBytes

from ..login import github
from ..oauth.credentials import hash_secret, new_secret
from ..settings import IssuerSettings

STATE_PREFIX = "account."


def is_account_state(state: str | None) -> bool:
    return state is not None and state.startswith(STATE_PREFIX)


async def save_state(redis: aioredis.Redis, browser: str, random: RandomBytes, ttl: int) -> str:
    """A fresh state for this browser's sign-in; the value sent to GitHub."""
    state = STATE_PREFIX + new_secret(random)
    await redis.set(redis_keys.account_state(hash_secret(state)), browser, ex=ttl, nx=True)
    return state


async def take_state(redis: aioredis.Redis, state: str) -> str | None:
    """The browser id the state was issued to (once); None when unknown, used or expired."""
    raw = await redis.getdel(redis_keys.account_state(hash_secret(state)))
    return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)


def github_authorize_url(settings: IssuerSettings, state: str) -> str:
    """GitHub's authorize URL for this sign-in (same app, callback and scope as the flow, so
    GitHub does not ask the user again)."""
    query = urlencode(
        {
            "client_id": settings.github.client_id,
            "redirect_uri": settings.callback_url,
            "state": state,
            "scope": github.oauth_scope(settings.github),
        }
    )
    return f"{settings.github.base_url}/login/oauth/authorize?{query}"
