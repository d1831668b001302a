"""One-use inputs for /token runs, made by the issuer's own code paths.

The client is registered over HTTP (POST /register); authorization codes are stored by
``authgate_issuer.store.codes.issue``, exactly as /callback stores them after a login.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from authgate_issuer.store import codes
from authgate_shared.runtime import system_random

REDIRECT_URI = "http://127.0.0.1:8765/callback"
RESOURCE = "https://mcp-a.example.com"
VERIFIER = "bench-" + "v" * 50  # RFC 7636: 43-128 characters
REGISTRATION = {
    "redirect_uris": [REDIRECT_URI],
    "client_name": "bench client",
    "grant_types": ["authorization_code", "refresh_token"],
    "token_endpoint_auth_method": "client_secret_basic",
}
CONCURRENCY = 32


@dataclass(frozen=True)
class BenchClient:
    client_id: str
    secret: str

    def basic(self) -> str:
        raw = f"{self.client_id}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def register_client(issuer_url: str) -> BenchClient:
    response = httpx.post(f"{issuer_url}/register", json=REGISTRATION, timeout=10)
    response.raise_for_status()
    data = response.json()
    return BenchClient(data["client_id"], data["client_secret"])


def challenge(verifier: str = VERIFIER) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def code_form() -> str:
    """The /token body of an authorization_code grant, ``%s`` standing for the code."""
    return (
        "grant_type=authorization_code&code=%s&redirect_uri="
        + "http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&code_verifier="
        + VERIFIER
    )


REFRESH_FORM = "grant_type=refresh_token&refresh_token=%s"


async def _issue(redis_url: str, client_id: str, count: int, lifetime: int) -> list[str]:
    redis = aioredis.from_url(redis_url, max_connections=CONCURRENCY)
    record = codes.AuthorizationCode(
        client_id=client_id,
        redirect_uri=REDIRECT_URI,
        redirect_uri_in_request=True,
        code_challenge=challenge(),
        scope="mcp:*",
        resources=[RESOURCE],
        username="octocat",
        github_id="583231",
        issued_at=int(time.time()),
    )
    issued: list[str] = []
    try:
        while len(issued) < count:
            batch = min(CONCURRENCY, count - len(issued))
            issued += await asyncio.gather(
                *(codes.issue(redis, record, system_random, lifetime) for _ in range(batch))
            )
    finally:
        await redis.aclose()
    return issued


def issue_codes(
    redis_url: str, client_id: str, count: int, path: Path, lifetime: int = 600
) -> None:
    """``count`` fresh codes for ``client_id``, one per line in ``path``."""
    path.write_text("\n".join(asyncio.run(_issue(redis_url, client_id, count, lifetime))) + "\n")
