"""Upstream-token injection in-process: the verifier (real Redis, real tokens) against a stand-in
for the issuer's RFC 8693 token exchange that answers what each test needs, over real HTTP.

The end-to-end path (real issuer, GitHub stand-in, proxies) is tests/test_upstream_injection.py;
here every answer of the exchange is played, so each failure is pinned to its response.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from authgate_issuer.store.grants import revoke_token
from authgate_verifier.app import VerifierApp
from authgate_verifier.decision import Denial
from authgate_verifier.logs import startup_fields
from authgate_verifier.upstream import (
    ACCESS_TOKEN_TYPE,
    NO_UPSTREAM_TOKEN,
    SUBJECT_REFUSED,
    TOKEN_EXCHANGE_GRANT,
    UNAVAILABLE,
    Issued,
    basic_auth,
    interpret,
)
from testsupport.exchange_stub import (
    CLIENT_ID,
    SECRET,
    UPSTREAM,
    Exchange,
    error,
    ok,
    settings,
)
from testsupport.tokens import Minted, TokenMinter
from testsupport.verifier import MCP_A, MCP_B, bearer, call, forwarded, running

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Env:
    app: VerifierApp
    minter: TokenMinter
    good: Minted
    exchange: Exchange
    clock: Clock

    async def ask(self, token: str | None = None, resource: str = MCP_A) -> Any:
        headers = {**forwarded(resource), **bearer(token or self.good.token)}
        return await call(self.app, headers=headers)


@pytest.fixture
async def env(
    redis_url: str, keys_dir: Path, policy: Path, exchange: Exchange
) -> AsyncIterator[Env]:
    exchanger = {
        "TOKEN_EXCHANGE_URL": exchange.url,
        "TOKEN_EXCHANGE_CLIENT_ID": CLIENT_ID,
        "TOKEN_EXCHANGE_CLIENT_SECRET": SECRET,
    }
    clock = Clock()
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        good = await minter.mint(resources=[MCP_A, MCP_B])
        app = VerifierApp(settings(redis_url, policy, **exchanger), clock=clock)
        async with running(app):
            yield Env(app, minter, good, exchange, clock)


def test_interpret_maps_every_answer_of_the_exchange() -> None:
    def run(answer: tuple[int, Any]) -> tuple[str, Issued | Denial]:
        return interpret(answer[0], orjson.dumps(answer[1]))

    assert run(ok(expires_in=28800)) == ("ok", Issued(UPSTREAM.encode(), 28800))
    assert run(ok()) == ("ok", Issued(UPSTREAM.encode(), None))
    no_token = error(
        400, "invalid_request", "this grant keeps no upstream token; the user must sign in again"
    )
    assert run(no_token) == ("no_upstream_token", NO_UPSTREAM_TOKEN)
    for refused in (
        "subject_token is not an active access token",
        "subject_token was not issued for a service of this client",
        "the user's upstream authorization was revoked; sign in again",
    ):
        assert run(error(400, "invalid_request", refused)) == ("invalid_token", SUBJECT_REFUSED)
    for code, status in (("invalid_client", 401), ("unauthorized_client", 400)):
        assert run(error(status, code)) == ("misconfigured", UNAVAILABLE)
    assert run(error(400, "invalid_target")) == ("misconfigured", UNAVAILABLE)
    assert run(error(503, "temporarily_unavailable")) == ("unavailable", UNAVAILABLE)
    assert interpret(502, b"<html>bad gateway</html>") == ("unavailable", UNAVAILABLE)
    # A 200 that is not a usable bearer token is never forwarded.
    for bad in (
        {**ok()[1], "access_token": "a\r\nX-Evil: 1"},
        {**ok()[1], "access_token": ""},
        {**ok()[1], "token_type": "N_A"},
        {**ok()[1], "issued_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        {**ok()[1], "expires_in": "60"},
        {"token_type": "Bearer"},
    ):
        assert run((200, bad)) == ("invalid", UNAVAILABLE), bad


def test_basic_auth_form_encodes_both_parts() -> None:
    # RFC 6749 §2.3.1: application/x-www-form-urlencoded, then Base64.
    decoded = base64.b64decode(basic_auth(CLIENT_ID, SECRET).removeprefix("Basic ")).decode()
    assert decoded == "verifier:s3cret%3Awith%2Fodd%26chars"


async def test_injecting_service_gets_the_upstream_token_others_do_not(env: Env) -> None:
    answer = await env.ask()
    assert answer.status == 200
    assert [v for k, v in answer.raw_headers if k == b"authorization"] == [
        f"Bearer {UPSTREAM}".encode()
    ]
    assert b"x-auth-token" not in dict(answer.raw_headers)
    assert answer.headers["x-user-name"] == "octocat"
    form, auth, content_type = env.exchange.requests[0]
    assert form == {
        "grant_type": [TOKEN_EXCHANGE_GRANT],
        "subject_token": [env.good.token],
        "subject_token_type": [ACCESS_TOKEN_TYPE],
        "audience": ["github"],
    }
    assert auth == basic_auth(CLIENT_ID, SECRET)
    assert content_type == "application/x-www-form-urlencoded"
    # The other service: the usual 200, no Authorization, no exchange.
    other = await env.ask(resource=MCP_B)
    assert other.status == 200 and "authorization" not in other.headers
    assert len(env.exchange.requests) == 1


async def test_one_exchange_per_token_while_cached_even_when_concurrent(env: Env) -> None:
    env.exchange.delay = 0.3
    answers = await asyncio.gather(*(env.ask() for _ in range(20)))
    assert {a.status for a in answers} == {200}
    assert {a.headers["authorization"] for a in answers} == {f"Bearer {UPSTREAM}"}
    for _ in range(5):
        assert (await env.ask()).headers["authorization"] == f"Bearer {UPSTREAM}"
    assert len(env.exchange.requests) == 1
    assert env.app.metrics.upstream_exchanges == {"ok": 1}
    # Another token of the same user is another exchange.
    other = await env.minter.mint(resources=[MCP_A])
    assert (await env.ask(other.token)).status == 200
    assert len(env.exchange.requests) == 2


async def test_cached_upstream_token_is_renewed_before_it_expires(env: Env) -> None:
    env.exchange.answer = ok(expires_in=120)  # usable for 120 - 60 s of margin
    assert (await env.ask()).status == 200
    env.clock.offset = 50
    assert (await env.ask()).status == 200
    assert len(env.exchange.requests) == 1
    env.exchange.answer = ok(token="gho_renewed")
    env.clock.offset = 61
    assert (await env.ask()).headers["authorization"] == "Bearer gho_renewed"
    assert len(env.exchange.requests) == 2


async def test_an_upstream_token_about_to_expire_is_used_once_never_cached(env: Env) -> None:
    env.exchange.answer = ok(expires_in=30)
    for _ in range(2):
        assert (await env.ask()).headers["authorization"] == f"Bearer {UPSTREAM}"
    assert len(env.exchange.requests) == 2


async def test_revoked_token_is_refused_at_once_and_its_upstream_token_dropped(env: Env) -> None:
    assert (await env.ask()).status == 200
    assert env.app.cache.get_upstream(env.good.token.encode(), env.clock()) is not None
    assert await revoke_token(env.minter.ctx.redis, env.good.jti)
    answer = await env.ask()
    assert answer.status == 401 and answer.json()["error"] == "invalid_token"
    assert "authorization" not in answer.headers
    assert env.app.cache.get_upstream(env.good.token.encode(), env.clock()) is None
    assert len(env.exchange.requests) == 1


@pytest.mark.parametrize(
    ("answer", "status", "code", "outcome"),
    [
        (error(503, "temporarily_unavailable"), 503, "temporarily_unavailable", "unavailable"),
        (error(500, "server_error"), 503, "temporarily_unavailable", "unavailable"),
        (error(401, "invalid_client"), 503, "temporarily_unavailable", "misconfigured"),
        (error(400, "invalid_target"), 503, "temporarily_unavailable", "misconfigured"),
        (
            error(400, "invalid_request", "subject token revoked"),
            401,
            "invalid_token",
            "invalid_token",
        ),
        (
            error(400, "invalid_request", "this grant keeps no upstream token; sign in again"),
            403,
            "access_denied",
            "no_upstream_token",
        ),
    ],
)
async def test_exchange_failures_fail_closed(
    env: Env, answer: tuple[int, dict[str, Any]], status: int, code: str, outcome: str
) -> None:
    env.exchange.answer = answer
    response = await env.ask()
    assert response.status == status and response.json()["error"] == code
    assert "authorization" not in response.headers
    assert env.app.metrics.upstream_exchanges == {outcome: 1}
    if status == 503:
        assert response.headers["retry-after"] == "2"
        assert "www-authenticate" not in response.headers
    if status == 403:
        assert "sign in again" in response.json()["error_description"]
        assert "www-authenticate" not in response.headers
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    # Only "no upstream token" is kept (a new sign-in makes a new token); the rest are retried.
    await env.ask()
    assert len(env.exchange.requests) == (1 if outcome == "no_upstream_token" else 2)


async def test_issuer_unreachable_is_503_never_200(env: Env) -> None:
    env.exchange.stop()
    response = await env.ask()
    assert response.status == 503 and response.headers["retry-after"] == "2"
    assert env.app.metrics.upstream_exchanges == {"unavailable": 1}


async def test_metrics_and_logs_never_show_a_token(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert (await env.ask()).status == 200
    env.exchange.answer = error(503, "temporarily_unavailable", f"echo {UPSTREAM}")
    other = await env.minter.mint(resources=[MCP_A])
    assert (await env.ask(other.token)).status == 503
    metrics = (await call(env.app, "/metrics")).body.decode()
    assert 'authgate_verifier_upstream_exchanges_total{outcome="ok"} 1.0' in metrics
    assert 'authgate_verifier_upstream_exchanges_total{outcome="unavailable"} 1.0' in metrics
    assert "token exchange for an upstream token failed: unavailable (503)" in caplog.text
    fields = startup_fields(env.app.settings, keys_from_redis=True)
    assert fields["upstream_injection"] == f"1 services, exchange at {env.exchange.url} as verifier"
    for secret in (UPSTREAM, env.good.token, other.token, SECRET):
        assert secret not in caplog.text and secret not in metrics
    assert SECRET not in repr(env.app.settings)
