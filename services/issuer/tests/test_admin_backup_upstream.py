"""Backups keep the users' GitHub tokens sealed; a restore brings them back, readable with the
same UPSTREAM_TOKEN_KEYS and only with them (``grants list``, the issuer's token exchange)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.grants import parse_grant
from authgate_issuer.upstream.tokens import open_token
from authgate_shared import redis_keys
from testsupport.admin_cli import (
    CliResult,
    admin_env,
    open_app,
    refresh,
    register,
    run,
    run_process,
)
from testsupport.issuer import issuer_env
from testsupport.redis_server import RedisServer
from testsupport.token_clients import RESOURCE
from testsupport.vault_grants import (
    KEYS_VALUE,
    OTHER_VALUE,
    UPSTREAMS,
    make,
    no_secret,
    secret_strings,
)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "scratch").start()
    yield server
    server.stop()


def opened(server: RedisServer, settings: IssuerSettings, grant_id: str) -> str | None:
    """The GitHub token that an issuer configured by ``settings`` opens from the grant stored
    in ``server`` (None: its UPSTREAM_TOKEN_KEYS cannot)."""
    client = server.client()
    grant = parse_grant(grant_id, client.hgetall(redis_keys.grant(grant_id)))
    client.close()
    assert grant is not None and grant.upstream_token
    token = open_token(settings.github.token_keys, grant.upstream_token, grant_id=grant_id)
    return None if token is None else token.access_token


def exchange(app: TestClient, exchanger: CliResult, subject_token: str) -> httpx.Response:
    """RFC 8693 token exchange at /token for the user's GitHub token, as the client that
    ``authgate clients create-exchanger --json`` created."""
    assert exchanger.code == 0, exchanger.err
    client = exchanger.json()
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": subject_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "audience": "github",
    }
    return app.post("/token", data=form, auth=(client["client_id"], client["client_secret"]))


def upstream_states(result: CliResult) -> dict[str, str]:
    assert result.code == 0, result.err
    return {r["grant_id"]: r["upstream_token"]["state"] for r in result.json()}


def test_backup_holds_only_ciphertext_and_restore_reopens_with_the_same_keys(
    app: TestClient,
    open_settings: IssuerSettings,
    redis_url: str,
    keys_dir: Path,
    scratch: RedisServer,
    tmp_path: Path,
) -> None:
    alpha = register(app, "Alpha")
    github_app = make(open_settings, alpha.client_id, "octocat", "1", UPSTREAMS["app"])
    oauth_app = make(open_settings, alpha.client_id, "hubot", "2", UPSTREAMS["oauth"])
    plain = make(open_settings, alpha.client_id, "monalisa", "3", None)
    env = admin_env(redis_url, keys_dir, UPSTREAM_TOKEN_KEYS=KEYS_VALUE)
    before = run(env, "grants", "list", "--json")
    file = tmp_path / "backup.jsonl"

    made = run_process(env, "backup", str(file))
    assert made.code == 0, made.err
    text = file.read_text()
    for secret in secret_strings():
        assert secret not in text
    grants = {
        line["grant_id"]: line["fields"]
        for line in map(orjson.loads, text.splitlines())
        if line.get("type") == "grant"
    }
    assert set(grants) == {github_app.grant_id, oauth_app.grant_id, plain.grant_id}
    source = redis.Redis.from_url(redis_url)
    for grant_id in (github_app.grant_id, oauth_app.grant_id):
        sealed = grants[grant_id]["upstream_token"]
        assert sealed.startswith("k1.")  # the ciphertext, copied as stored
        assert source.hget(redis_keys.grant(grant_id), "upstream_token") == sealed.encode()
    source.close()
    assert "upstream_token" not in grants[plain.grant_id]

    same = admin_env(scratch.url, keys_dir, UPSTREAM_TOKEN_KEYS=KEYS_VALUE)
    restored = run_process(same, "restore", str(file), "--json")
    assert restored.code == 0, restored.err
    assert restored.json()["grants_restored"] == 3
    after = run_process(same, "grants", "list", "--json")
    assert upstream_states(after) == {
        github_app.grant_id: "active",
        oauth_app.grant_id: "active",
        plain.grant_id: "none",
    }
    # Every field as before the backup, the grants' expiries included.
    assert after.json() == before.json()
    issuer = IssuerSettings.from_env(
        issuer_env(scratch.url, keys_dir, ALLOWED_GITHUB_USERS="*", UPSTREAM_TOKEN_KEYS=KEYS_VALUE)
    )
    assert opened(scratch, issuer, github_app.grant_id) == UPSTREAMS["app"].access_token
    assert opened(scratch, issuer, oauth_app.grant_id) == UPSTREAMS["oauth"].access_token
    # The restored vault serves token exchange (RFC 8693) as before, and the grant refreshes.
    exchanger = run(
        same, "clients", "create-exchanger", "--name", "MCP", "--resource", RESOURCE, "--json"
    )
    with open_app(issuer) as restored_app:
        for made_grant, upstream in ((github_app, "app"), (oauth_app, "oauth")):
            exchanged = exchange(restored_app, exchanger, made_grant.tokens.access_token)
            assert exchanged.status_code == 200, exchanged.text
            assert exchanged.json()["access_token"] == UPSTREAMS[upstream].access_token
        assert refresh(restored_app, alpha, github_app.tokens.refresh_token).status_code == 200
    no_secret(made, restored, after)


def test_restored_tokens_under_other_keys_are_unreadable_never_a_crash(
    app: TestClient,
    open_settings: IssuerSettings,
    redis_url: str,
    keys_dir: Path,
    scratch: RedisServer,
    tmp_path: Path,
) -> None:
    alpha = register(app, "Alpha")
    sealed = make(open_settings, alpha.client_id, "octocat", "1", UPSTREAMS["app"])
    file = tmp_path / "backup.jsonl"
    assert run(admin_env(redis_url, keys_dir), "backup", str(file)).code == 0

    other = admin_env(scratch.url, keys_dir, UPSTREAM_TOKEN_KEYS=OTHER_VALUE)
    restored = run(other, "restore", str(file), "--json")
    assert restored.code == 0, restored.err
    listed = run(other, "grants", "list", "--json")
    assert upstream_states(listed) == {sealed.grant_id: "unreadable"}
    assert listed.json()[0]["upstream_token"]["key_id"] == "k1"  # which key it needs
    shown = run(other, "grants", "show", sealed.grant_id)
    assert shown.code == 0, shown.err
    assert "upstream_token:         unreadable" in shown.out
    keyless = run(admin_env(scratch.url, keys_dir), "grants", "list", "--json")
    assert upstream_states(keyless) == {sealed.grant_id: "unreadable"}
    issuer = IssuerSettings.from_env(
        issuer_env(scratch.url, keys_dir, ALLOWED_GITHUB_USERS="*", UPSTREAM_TOKEN_KEYS=OTHER_VALUE)
    )
    assert opened(scratch, issuer, sealed.grant_id) is None
    exchanger = run(
        other, "clients", "create-exchanger", "--name", "MCP", "--resource", RESOURCE, "--json"
    )
    with open_app(issuer) as restored_app:
        refused = exchange(restored_app, exchanger, sealed.tokens.access_token)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert "sign in again" in refused.json()["error_description"]
    assert upstream_states(run(other, "grants", "list", "--json")) == {
        sealed.grant_id: "unreadable"
    }  # the grant is kept: the right key may come back
    # Restoring the right key (first or after the new one) makes it readable again.
    both = {**other, "UPSTREAM_TOKEN_KEYS": f"{OTHER_VALUE},{KEYS_VALUE}"}
    assert upstream_states(run(both, "grants", "list", "--json")) == {sealed.grant_id: "active"}
    no_secret(restored, listed, shown, keyless)
