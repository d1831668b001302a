"""``authgate grants list|show|revoke`` on grants made by the issuer's own ``start_grant``, each
keeping a GitHub token sealed under UPSTREAM_TOKEN_KEYS as the login keeps it."""

from __future__ import annotations

import time

import pytest
import redis
from fastapi.testclient import TestClient

from authgate_issuer.settings import IssuerSettings
from authgate_shared import redis_keys
from testsupport.admin_cli import drain, jti_of, refresh, register, run
from testsupport.token_clients import RESOURCE
from testsupport.vault_grants import HOUR, KEYS_VALUE, OTHER_VALUE, UPSTREAMS, make, no_secret


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "UPSTREAM_TOKEN_KEYS": KEYS_VALUE}


def test_list_shows_every_grant_with_its_upstream_status_never_the_token(
    app: TestClient, open_settings: IssuerSettings, env: dict[str, str], cli_env: dict[str, str]
) -> None:
    alpha, beta = register(app, "Alpha"), register(app, "Beta")
    app_grant = make(open_settings, alpha.client_id, "OctoCat", "1", UPSTREAMS["app"], age=HOUR)
    oauth = make(open_settings, beta.client_id, "octocat", "1", UPSTREAMS["oauth"])
    stale = make(open_settings, alpha.client_id, "hubot", "2", UPSTREAMS["stale"])
    dead = make(open_settings, beta.client_id, "hubot", "2", UPSTREAMS["dead"])
    foreign = make(
        open_settings, "gone-client", "monalisa", "3", UPSTREAMS["foreign"], keys_value=OTHER_VALUE
    )
    bare = make(open_settings, alpha.client_id, "monalisa", "3", None)
    # A refresh an hour after the grant was made: "last token issued" moves, "created" not.
    refreshed = refresh(app, alpha, app_grant.tokens.refresh_token)
    assert refreshed.status_code == 200, refreshed.text

    listed = run(env, "grants", "list", "--json")
    assert listed.code == 0, listed.err
    rows = {r["grant_id"]: r for r in listed.json()}
    assert len(rows) == 6
    row = rows[app_grant.grant_id]
    assert set(row) == {
        "grant_id", "username", "github_id", "client_id", "client_name", "scopes", "resources",
        "created_at", "last_token_issued_at", "expires_at", "upstream_token",
    }  # fmt: skip
    assert (row["username"], row["github_id"]) == ("OctoCat", "1")
    assert (row["client_id"], row["client_name"]) == (alpha.client_id, "Alpha")
    assert row["scopes"] == ["mcp:read", "mcp:write"] and row["resources"] == [RESOURCE]
    assert row["last_token_issued_at"] - row["created_at"] >= HOUR - 5
    assert row["expires_at"] >= row["last_token_issued_at"] + open_settings.refresh_token_lifetime
    assert row["upstream_token"] == {
        "state": "active",
        "expires_at": UPSTREAMS["app"].expires_at,
        "refresh_expires_at": UPSTREAMS["app"].refresh_expires_at,
        "key_id": "k1",
    }
    states = {gid: r["upstream_token"]["state"] for gid, r in rows.items()}
    assert states == {
        app_grant.grant_id: "active",
        oauth.grant_id: "active",
        stale.grant_id: "expired",
        dead.grant_id: "refresh_expired",
        foreign.grant_id: "unreadable",
        bare.grant_id: "none",
    }
    assert rows[oauth.grant_id]["upstream_token"]["expires_at"] is None  # OAuth app: never
    assert rows[foreign.grant_id]["upstream_token"]["key_id"] == "k9"
    assert rows[foreign.grant_id]["client_name"] is None  # the client is gone
    assert rows[bare.grant_id]["upstream_token"] == {
        "state": "none", "expires_at": None, "refresh_expires_at": None, "key_id": None,
    }  # fmt: skip

    table = run(env, "grants", "list")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split("  ")[0] == "GRANT ID" and "UPSTREAM EXPIRES" in lines[0]
    assert lines[-1] == "6 grant(s)"
    by_id = {line.split()[0]: line for line in lines[2:-1]}
    assert "refresh_expired" in by_id[dead.grant_id] and "Alpha" in by_id[stale.grant_id]
    assert " active " in by_id[oauth.grant_id] and " never " in by_id[oauth.grant_id]

    # Without the keys the CLI still lists every grant; sealed tokens are unreadable.
    keyless = run(cli_env, "grants", "list", "--json")
    assert keyless.code == 0, keyless.err
    keyless_states = {r["grant_id"]: r["upstream_token"]["state"] for r in keyless.json()}
    assert keyless_states == {gid: "none" if gid == bare.grant_id else "unreadable" for gid in rows}
    no_secret(listed, table, keyless)


def test_list_filters_by_login_github_id_and_client(
    app: TestClient, open_settings: IssuerSettings, env: dict[str, str]
) -> None:
    alpha, beta = register(app, "Alpha"), register(app, "Beta")
    mine = [
        make(open_settings, alpha.client_id, "OctoCat", "1", UPSTREAMS["app"]).grant_id,
        make(open_settings, beta.client_id, "octocat", "1", UPSTREAMS["oauth"]).grant_id,
        # The same GitHub account under its former login: found by id, not by the new login.
        make(open_settings, beta.client_id, "octo-old", "1", None).grant_id,
    ]
    theirs = make(open_settings, alpha.client_id, "hubot", "2", UPSTREAMS["stale"]).grant_id

    def ids(*args: str) -> list[str]:
        result = run(env, "grants", "list", "--json", *args)
        assert result.code == 0, result.err
        no_secret(result)
        return sorted(r["grant_id"] for r in result.json())

    assert ids("--user", "octocat") == sorted(mine[:2])  # logins compare case-insensitively
    assert ids("--github-id", "1") == sorted(mine)
    assert ids("--github-id", "2") == [theirs]
    assert ids("--client", alpha.client_id) == sorted([mine[0], theirs])
    assert ids("--user", "OCTOCAT", "--client", beta.client_id) == [mine[1]]
    assert ids("--user", "nobody") == []
    empty = run(env, "grants", "list", "--user", "nobody")
    assert empty.code == 0 and empty.out.splitlines()[-1] == "0 grant(s)"
    assert run(env, "grants", "list", "--user", "a", "--github-id", "1").code == 2


def test_show_details_and_not_found(
    app: TestClient, open_settings: IssuerSettings, env: dict[str, str]
) -> None:
    alpha = register(app, "Alpha")
    made = make(open_settings, alpha.client_id, "octocat", "1", UPSTREAMS["app"])
    shown = run(env, "grants", "show", made.grant_id, "--json")
    assert shown.code == 0, shown.err
    details = shown.json()
    assert details["grant_id"] == made.grant_id and details["client_name"] == "Alpha"
    assert details["upstream_token"]["state"] == "active"
    assert details["upstream_token"]["key_id"] == "k1"
    assert details["access_tokens"] == 1
    assert details["groups"] == [] and details["membership_checked_at"] is None

    text = run(env, "grants", "show", made.grant_id)
    assert text.code == 0, text.err
    lines = dict(line.split(":", 1) for line in text.out.splitlines())
    assert lines["upstream_token"].strip() == "active"
    assert lines["  key_id"].strip() == "k1"
    assert lines["client_name"].strip() == "Alpha"
    assert lines["scopes"].strip() == "mcp:read, mcp:write"
    expires = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(UPSTREAMS["app"].expires_at))
    assert lines["  expires_at"].strip() == expires
    no_secret(shown, text)

    for missing in ("0" * 32, "{x}"):
        gone = run(env, "grants", "show", missing)
        assert gone.code == 1 and f"no live grant {missing}" in gone.err


def test_revoke_one_grant_publishes_its_jtis(
    app: TestClient,
    open_settings: IssuerSettings,
    env: dict[str, str],
    redis_client: redis.Redis,
    revocations: redis.client.PubSub,
) -> None:
    alpha = register(app, "Alpha")
    made = make(open_settings, alpha.client_id, "octocat", "1", UPSTREAMS["app"])
    second = refresh(app, alpha, made.tokens.refresh_token).json()
    kept = make(open_settings, alpha.client_id, "octocat", "1", UPSTREAMS["oauth"])
    jtis = [jti_of(made.tokens.access_token), jti_of(second["access_token"])]

    result = run(env, "grants", "revoke", made.grant_id, "--json")
    assert result.code == 0, result.err
    assert result.json() == {"grant_id": made.grant_id, "grants_revoked": 1, "tokens_revoked": 2}
    assert sorted(drain(revocations)) == sorted(jtis)
    assert not redis_client.exists(redis_keys.grant(made.grant_id))  # the sealed token with it
    assert refresh(app, alpha, second["refresh_token"]).status_code == 400
    assert redis_client.exists(redis_keys.grant(kept.grant_id))

    again = run(env, "grants", "revoke", made.grant_id)
    assert again.code == 1 and f"no live grant {made.grant_id}" in again.err
    assert drain(revocations) == []
    text = run(env, "grants", "revoke", kept.grant_id)
    assert text.code == 0
    assert text.out == f"revoked: grant_id={kept.grant_id}, grants_revoked=1, tokens_revoked=1\n"
    assert drain(revocations) == [jti_of(kept.tokens.access_token)]


def test_revoke_by_login_or_github_id_revokes_only_that_users_grants(
    app: TestClient,
    open_settings: IssuerSettings,
    env: dict[str, str],
    redis_client: redis.Redis,
    revocations: redis.client.PubSub,
) -> None:
    alpha, beta = register(app, "Alpha"), register(app, "Beta")
    octo = [
        make(open_settings, alpha.client_id, "OctoCat", "1", UPSTREAMS["app"]),
        make(open_settings, beta.client_id, "octocat", "1", UPSTREAMS["oauth"]),
    ]
    renamed = make(open_settings, beta.client_id, "octo-old", "1", UPSTREAMS["stale"])
    hubot = make(open_settings, alpha.client_id, "hubot", "2", UPSTREAMS["dead"])
    mona = make(open_settings, alpha.client_id, "monalisa", "3", None)
    extra = refresh(app, alpha, octo[0].tokens.refresh_token).json()

    by_login = run(env, "grants", "revoke", "--user", "OCTOCAT", "--json")
    assert by_login.code == 0, by_login.err
    assert by_login.json() == {"user": "OCTOCAT", "grants_revoked": 2, "tokens_revoked": 3}
    expected = [jti_of(m.tokens.access_token) for m in octo] + [jti_of(extra["access_token"])]
    assert sorted(drain(revocations)) == sorted(expected)  # one message per jti
    for made in octo:
        assert not redis_client.exists(redis_keys.grant(made.grant_id))
    for made in (renamed, hubot, mona):  # another login of the same id, other users: kept
        assert redis_client.exists(redis_keys.grant(made.grant_id))
        assert redis_client.exists(redis_keys.token(jti_of(made.tokens.access_token)))

    by_id = run(env, "grants", "revoke", "--github-id", "1")
    assert by_id.code == 0, by_id.err
    assert by_id.out == "revoked: github_id=1, grants_revoked=1, tokens_revoked=1\n"
    assert drain(revocations) == [jti_of(renamed.tokens.access_token)]
    assert not redis_client.exists(redis_keys.grant(renamed.grant_id))
    assert redis_client.exists(redis_keys.grant(hubot.grant_id))

    for args in (("--user", "octocat"), ("--github-id", "1"), ("--user", "nobody")):
        none = run(env, "grants", "revoke", *args)
        assert none.code == 1, args
        assert "has no live grants" in none.err
    assert drain(revocations) == []
    # `tokens revoke --user` is the same revocation.
    same = run(env, "tokens", "revoke", "--user", "Hubot", "--json")
    assert same.json() == {"user": "Hubot", "grants_revoked": 1, "tokens_revoked": 1}
    assert drain(revocations) == [jti_of(hubot.tokens.access_token)]
    assert redis_client.exists(redis_keys.grant(mona.grant_id))
    no_secret(by_login, by_id, same)


def test_revoke_needs_exactly_one_target_and_keys_must_parse(env: dict[str, str]) -> None:
    assert run(env, "grants", "revoke").code == 2
    assert run(env, "grants", "revoke", "abc", "--user", "a").code == 2
    assert run(env, "grants", "revoke", "--user", "a", "--github-id", "1").code == 2
    bad = run({**env, "UPSTREAM_TOKEN_KEYS": "k1:not-base64!"}, "grants", "list")
    assert bad.code == 2
    assert "UPSTREAM_TOKEN_KEYS" in bad.err and "not-base64" not in bad.err


def test_a_damaged_grant_record_is_skipped_by_list_and_still_revoked(
    app: TestClient, open_settings: IssuerSettings, env: dict[str, str], redis_client: redis.Redis
) -> None:
    alpha = register(app, "Alpha")
    whole = make(open_settings, alpha.client_id, "octocat", "1", UPSTREAMS["app"])
    # A partial hash written outside the issuer (e.g. by hand): no client, scope or expiry.
    damaged = redis_keys.grant("d" * 32)
    redis_client.hset(damaged, mapping={"username": "OctoCat", "github_id": "1"})

    listed = run(env, "grants", "list", "--json")
    assert listed.code == 0, listed.err
    assert [r["grant_id"] for r in listed.json()] == [whole.grant_id]
    assert f"grant {'d' * 32}: not a complete grant record, skipped" in listed.err
    assert run(env, "grants", "show", "d" * 32).code == 1

    revoked = run(env, "grants", "revoke", "--user", "octocat", "--json")
    assert revoked.code == 0, revoked.err
    assert revoked.json()["grants_revoked"] == 2  # revocation fails closed: the damaged one too
    assert not redis_client.exists(damaged)
