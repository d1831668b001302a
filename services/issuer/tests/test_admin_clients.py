"""``authgate clients ...`` on real registrations (POST /register) and real tokens (/token)."""

from __future__ import annotations

from pathlib import Path

import redis
from fastapi.testclient import TestClient

from authgate_issuer.settings import IssuerSettings
from authgate_shared import redis_keys
from testsupport.admin_cli import (
    drain,
    jti_of,
    login,
    refresh,
    register,
    run,
    run_process,
)


def test_list_shows_each_client_with_live_token_counts(
    app: TestClient, open_settings: IssuerSettings, cli_env: dict[str, str]
) -> None:
    alpha = register(app, "Alpha")
    beta = register(app, "Beta", public=True)
    first = login(app, open_settings, alpha, "octocat")
    login(app, open_settings, alpha, "hubot")
    login(app, open_settings, beta, "octocat")
    assert refresh(app, alpha, first["refresh_token"]).status_code == 200

    result = run(cli_env, "clients", "list", "--json")
    assert result.code == 0, result.err
    rows = {row["client_id"]: row for row in result.json()}
    assert set(rows) == {alpha.client_id, beta.client_id}
    # alpha: two grants (two refresh tokens), three access tokens (one from the refresh)
    assert rows[alpha.client_id]["access_tokens"] == 3
    assert rows[alpha.client_id]["refresh_tokens"] == 2
    assert rows[beta.client_id]["access_tokens"] == 1
    assert rows[beta.client_id]["refresh_tokens"] == 1
    assert rows[alpha.client_id]["auth_method"] == "client_secret_basic"
    assert rows[beta.client_id]["auth_method"] == "none"
    assert rows[alpha.client_id]["redirect_hosts"] == ["127.0.0.1"]
    assert rows[alpha.client_id]["client_name"] == "Alpha"
    assert rows[alpha.client_id]["expires_at"] > rows[alpha.client_id]["created_at"] > 0
    assert rows[alpha.client_id]["last_token_issued_at"] >= rows[alpha.client_id]["created_at"]

    table = run(cli_env, "clients", "list")
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split()[:3] == ["CLIENT", "ID", "NAME"]
    alpha_line = next(line for line in lines if line.startswith(alpha.client_id))
    assert "Alpha" in alpha_line and "client_secret_basic" in alpha_line
    assert alpha_line.split()[-2:] == ["3", "2"]
    assert lines[-1] == "2 client(s)"


def test_show_prints_metadata_never_hashes(app: TestClient, cli_env: dict[str, str]) -> None:
    alpha = register(app, "Alpha")
    result = run(cli_env, "clients", "show", alpha.client_id, "--json")
    assert result.code == 0
    shown = result.json()
    assert shown["client_id"] == alpha.client_id
    assert shown["metadata"]["redirect_uris"] == ["http://127.0.0.1:8765/callback"]
    assert "hash" not in result.out
    text = run(cli_env, "clients", "show", alpha.client_id)
    assert "client_name:" in text.out and "Alpha" in text.out

    missing = run(cli_env, "clients", "show", "no-such-client")
    assert missing.code == 1
    assert "no such client" in missing.err


def test_delete_removes_the_client_and_revokes_all_its_tokens(
    app: TestClient,
    open_settings: IssuerSettings,
    cli_env: dict[str, str],
    redis_client: redis.Redis,
) -> None:
    alpha, beta = register(app, "Alpha"), register(app, "Beta")
    tokens = [login(app, open_settings, alpha, user) for user in ("octocat", "hubot")]
    kept = login(app, open_settings, beta)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
    drain(pubsub, 0.1)

    result = run(cli_env, "clients", "delete", alpha.client_id, "--json")
    assert result.code == 0, result.err
    assert result.json()["grants_revoked"] == 2
    assert sorted(drain(pubsub)) == sorted(jti_of(t["access_token"]) for t in tokens)
    assert not redis_client.exists(redis_keys.client(alpha.client_id))
    assert redis_client.zscore(redis_keys.CLIENT_EXPIRY, alpha.client_id) is None
    assert redis_client.zscore(redis_keys.CLIENT_EXPIRY, beta.client_id) is not None
    for t in tokens:
        assert not redis_client.exists(redis_keys.token(jti_of(t["access_token"])))
    assert refresh(app, alpha, tokens[0]["refresh_token"]).status_code in {400, 401}
    # Another client's tokens are untouched.
    assert redis_client.exists(redis_keys.token(jti_of(kept["access_token"])))
    assert refresh(app, beta, kept["refresh_token"]).status_code == 200

    assert run(cli_env, "clients", "delete", alpha.client_id).code == 1


def test_rotate_secret_replaces_the_secret_and_keeps_expiry(
    app: TestClient,
    open_settings: IssuerSettings,
    cli_env: dict[str, str],
    redis_client: redis.Redis,
) -> None:
    alpha = register(app, "Alpha")
    tokens = login(app, open_settings, alpha)
    ttl_before = redis_client.ttl(redis_keys.client(alpha.client_id))

    result = run(cli_env, "clients", "rotate-secret", alpha.client_id, "--json")
    assert result.code == 0, result.err
    secret = result.json()["client_secret"]
    assert secret and secret != alpha.secret
    assert secret not in redis_client.get(redis_keys.client(alpha.client_id)).decode()
    ttl_after = redis_client.ttl(redis_keys.client(alpha.client_id))
    assert ttl_after > 0 and 0 <= ttl_before - ttl_after <= 5

    old = refresh(app, alpha, tokens["refresh_token"])
    assert old.status_code == 401
    rotated = type(alpha)(alpha.client_id, secret, alpha.registration_token)
    assert refresh(app, rotated, tokens["refresh_token"]).status_code == 200

    public = register(app, "Public", public=True)
    refused = run(cli_env, "clients", "rotate-secret", public.client_id)
    assert refused.code == 2 and "public" in refused.err
    assert run(cli_env, "clients", "rotate-secret", "nope").code == 1


def test_cli_as_a_process_exit_codes(
    app: TestClient, cli_env: dict[str, str], tmp_path: Path
) -> None:
    alpha = register(app, "Alpha")
    listed = run_process(cli_env, "clients", "list")
    assert listed.code == 0, listed.err
    assert alpha.client_id in listed.out
    assert run_process(cli_env, "clients", "show", "nope").code == 1
    usage = run_process(cli_env, "clients", "frobnicate")
    assert usage.code == 2
    bad_config = run_process({**cli_env, "ACCESS_TOKEN_LIFETIME": "soon"}, "clients", "list")
    assert bad_config.code == 2 and "ACCESS_TOKEN_LIFETIME" in bad_config.err
    down = run_process({**cli_env, "REDIS_URL": "redis://127.0.0.1:1/0"}, "clients", "list")
    assert down.code == 3 and "Redis unavailable" in down.err
