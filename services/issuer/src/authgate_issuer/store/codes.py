"""Authorization codes: ``oauth:code:{sha256(code)}``, one use, at most 10 minutes.

Written by ``/callback`` once the user is known; consumed atomically by ``/token`` with
``GETDEL`` (in the request's first round trip), so of any number of concurrent redemptions
exactly one gets the record. A redeemed
code leaves a ``code_used`` marker naming the grant it produced, so a replay by the same client
can revoke that grant (OAuth 2.1 §4.1.3; RFC 9700 §4.5.3.1), while a replay by another client,
which may be an attacker probing, revokes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from authgate_shared import redis_keys
from authgate_shared.runtime import RandomBytes

from ..oauth.credentials import hash_secret, new_secret
from . import batch

CODE_BYTES = 32  # 256 bits; OAuth 2.1 §10.10 asks for at least 128


@dataclass(frozen=True)
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    """The redirect URI used in the authorization request (exact string)."""
    redirect_uri_in_request: bool
    """Whether the request carried ``redirect_uri``; if so /token must repeat it."""
    code_challenge: str
    scope: str
    resources: list[str]
    username: str
    """The user name forwarded to MCP servers: the GitHub login, or OIDC_USERNAME_CLAIM."""
    github_id: str
    """The user's stable id (name kept for stored codes): GitHub's numeric id, or
    ``oidc|<provider subject>``, which can never collide with a number."""
    issued_at: int
    grant_id: str = ""
    """The id of the grant the code will create, chosen at the callback so the user's GitHub
    token can be sealed for that grant (associated data) before it is stored; "" (codes
    issued without organisation checks) lets /token choose one."""
    groups: list[str] = field(default_factory=list)
    """The configured organisations/teams the user was an active member of at the callback."""
    upstream_token: str = field(default="", repr=False)
    """The user's GitHub token sealed for ``grant_id`` (login.upstream_token); "" when not kept."""
    provider: str = "github"
    """The login provider that signed the user in (codes stored before providers: GitHub)."""
    email: str = ""
    """OpenID Connect: the user's verified e-mail (refresh re-checks ALLOWED_EMAIL_DOMAINS)."""

    def to_json(self) -> bytes:
        return orjson.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> AuthorizationCode:
        return cls(**orjson.loads(raw))


async def issue(
    redis: aioredis.Redis, record: AuthorizationCode, random: RandomBytes, lifetime: int
) -> str:
    """Store the record under the hash of a fresh code; return the code."""
    code = new_secret(random, CODE_BYTES)
    await redis.set(redis_keys.code(hash_secret(code)), record.to_json(), ex=lifetime, nx=True)
    return code


def take(code: str) -> batch.Read[AuthorizationCode | None]:
    """The atomic take of the code's stored record (GETDEL), as one pipelined read: of any
    number of concurrent redemptions exactly one gets it; None if unknown, expired or already
    redeemed."""

    def queue(pipe: Pipeline) -> None:
        pipe.getdel(redis_keys.code(hash_secret(code)))

    return batch.one_command(queue, _stored_code)


def _stored_code(raw: bytes | str | None) -> AuthorizationCode | None:
    return None if raw is None else AuthorizationCode.from_json(raw)


def mark_redeemed(code: str, *, grant_id: str, client_id: str, ttl: int) -> batch.Queue:
    """Queue the redeemed-code marker (idempotent: the same value again on a resend)."""
    value = orjson.dumps({"grant_id": grant_id, "client_id": client_id})

    def queue(pipe: Pipeline) -> None:
        pipe.set(redis_keys.code_used(hash_secret(code)), value, ex=max(ttl, 1))

    return queue


async def redeemed_grant(redis: aioredis.Redis, code: str) -> tuple[str, str] | None:
    """(grant_id, client_id) of a code that was already redeemed, if still remembered."""
    raw = await redis.get(redis_keys.code_used(hash_secret(code)))
    if raw is None:
        return None
    data = orjson.loads(raw)
    return str(data["grant_id"]), str(data["client_id"])
