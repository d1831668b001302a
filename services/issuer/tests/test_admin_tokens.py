"""``authgate tokens stats|revoke`` on tokens minted through /token and ``start_grant``."""

from __future__ import annotations

import asyncio
import time

import redis
from fastapi.testclient import TestClient

from authgate_issuer.oauth.issuance import start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.clients import ClientRecord, save_client
from authgate_shared import redis_keys
from testsupport.admin_cli import (
    drain,
    jti_of,
    login,
    refresh,
    register,
    run,
)
from testsupport.issuer_ctx import issuer_context


def _in_the_past(settings: IssuerSettings, client_id: str, age: int) -> None:
    """A registration and a grant made ``age`` seconds ago, by the issuer's own code."""

    async def go() -> None:
        then = time.time() - age
        async with issuer_context(settings, clock=lambda: then) as ctx:
            record = ClientRecord(client_id, {"client_name": "old"}, int(then), 0, None, "x")
            await save_client(ctx.redis, record, then)
            await start_grant(
                ctx, client_id=client_id, username="Old", github_id="1", scope="mcp:*", resources=[]
            )

    asyncio.run(go())


def test_stats_counts_live_tokens_by_client_user_and_window(
    app: TestClient, open_settings: IssuerSettings, cli_env: dict[str, str]
) -> None:
    alpha, beta = register(app, "Alpha"), register(app, "Beta")
    first = login(app, open_settings, alpha, "octocat")
    login(app, open_settings, alpha, "hubot")
    login(app, open_settings, beta, "octocat")
    assert refresh(app, alpha, first["refresh_token"]).status_code == 200
    _in_the_past(open_settings, "old-client", age=2 * 3600)
    _in_the_past(open_settings, "older-client", age=3 * 86400)

    result = run(cli_env, "tokens", "stats", "--json")
    assert result.code == 0, result.err
    stats = result.json()
    assert stats["clients"] == 4
    assert stats["access_tokens"] == 6  # 3 logins + 1 refresh + 2 old grants
    assert stats["refresh_tokens"] == 5
    assert stats["registrations"] == {"hour": 2, "day": 3}
    assert stats["access_tokens_issued"] == {"hour": 4, "day": 5}
    assert stats["grants_created"] == {"hour": 3, "day": 4}
    by_client = {r["client_id"]: r for r in stats["by_client"]}
    assert by_client[alpha.client_id] == {
        "client_id": alpha.client_id,
        "client_name": "Alpha",
        "access_tokens": 3,
        "refresh_tokens": 2,
    }
    assert by_client[beta.client_id]["access_tokens"] == 1
    by_user = {r["user"]: r for r in stats["by_user"]}
    assert by_user["octocat"] == {"user": "octocat", "access_tokens": 3, "refresh_tokens": 2}
    assert by_user["hubot"]["access_tokens"] == 1
    assert by_user["old"]["refresh_tokens"] == 2  # usernames compare case-insensitively

    table = run(cli_env, "tokens", "stats")
    assert "access tokens:          6" in table.out
    assert "registrations:          2 last hour, 3 last day" in table.out


def test_revoke_one_jti_publishes_it_once(
    app: TestClient,
    open_settings: IssuerSettings,
    cli_env: dict[str, str],
    redis_client: redis.Redis,
    revocations: redis.client.PubSub,
) -> None:
    alpha = register(app, "Alpha")
    tokens = login(app, open_settings, alpha)
    jti = jti_of(tokens["access_token"])
    result = run(cli_env, "tokens", "revoke", "--jti", jti)
    assert result.code == 0, result.err
    assert drain(revocations) == [jti]
    assert not redis_client.exists(redis_keys.token(jti))
    again = run(cli_env, "tokens", "revoke", "--jti", jti)
    assert again.code == 1
    assert drain(revocations) == []


def test_revoke_user_kills_every_grant_of_that_user_only(
    app: TestClient,
    open_settings: IssuerSettings,
    cli_env: dict[str, str],
    redis_client: redis.Redis,
    revocations: redis.client.PubSub,
) -> None:
    alpha, beta = register(app, "Alpha"), register(app, "Beta")
    mine = [login(app, open_settings, alpha, "octocat"), login(app, open_settings, beta, "octocat")]
    refreshed = refresh(app, alpha, mine[0]["refresh_token"]).json()
    theirs = login(app, open_settings, alpha, "hubot")
    expected = [jti_of(t["access_token"]) for t in [*mine, refreshed]]

    result = run(cli_env, "tokens", "revoke", "--user", "OctoCat", "--json")
    assert result.code == 0, result.err
    assert result.json() == {"user": "OctoCat", "grants_revoked": 2, "tokens_revoked": 3}
    published = drain(revocations)
    assert sorted(published) == sorted(expected)  # exactly one message per jti
    for jti in expected:
        assert not redis_client.exists(redis_keys.token(jti))
    assert refresh(app, alpha, refreshed["refresh_token"]).status_code == 400
    assert refresh(app, beta, mine[1]["refresh_token"]).status_code == 400
    assert redis_client.exists(redis_keys.token(jti_of(theirs["access_token"])))
    assert refresh(app, alpha, theirs["refresh_token"]).status_code == 200
    assert run(cli_env, "tokens", "revoke", "--user", "octocat").code == 1


def test_revoke_client_kills_its_grants_keeps_the_client(
    app: TestClient,
    open_settings: IssuerSettings,
    cli_env: dict[str, str],
    redis_client: redis.Redis,
    revocations: redis.client.PubSub,
) -> None:
    alpha, beta = register(app, "Alpha"), register(app, "Beta")
    gone = [login(app, open_settings, alpha, u) for u in ("octocat", "hubot")]
    kept = login(app, open_settings, beta)
    result = run(cli_env, "tokens", "revoke", "--client", alpha.client_id, "--json")
    assert result.code == 0, result.err
    assert result.json()["grants_revoked"] == 2
    assert sorted(drain(revocations)) == sorted(jti_of(t["access_token"]) for t in gone)
    assert redis_client.exists(redis_keys.client(alpha.client_id))
    assert refresh(app, alpha, gone[0]["refresh_token"]).status_code == 400
    assert refresh(app, beta, kept["refresh_token"]).status_code == 200
    # The client itself still works: a new login gets tokens.
    login(app, open_settings, alpha)


def test_revoke_needs_exactly_one_target(cli_env: dict[str, str]) -> None:
    assert run(cli_env, "tokens", "revoke").code == 2
    assert run(cli_env, "tokens", "revoke", "--user", "a", "--jti", "b").code == 2
