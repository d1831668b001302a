"""POST /token, refresh_token grant (OAuth 2.1 §4.3, RFC 6749 §6): rotation, reuse detection,
client binding, narrowing, and the re-checks a refresh makes."""

from __future__ import annotations

import pytest
import redis
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from authgate_shared import redis_keys
from testsupport.token_clients import RESOURCE, Credentials, issue_code, register_client
from testsupport.token_requests import assert_error, claims_of, live, redeem, refresh


@pytest.fixture
def creds(settings: IssuerSettings) -> Credentials:
    return register_client(settings, "app-1")


def test_refresh_rotates(
    client: TestClient, settings: IssuerSettings, creds: Credentials, redis_client: redis.Redis
) -> None:
    first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
    second = refresh(client, creds, first["refresh_token"])
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    assert claims_of(client, body["access_token"])["aud"] == [RESOURCE]
    assert live(redis_client, body) and live(redis_client, first)
    third = refresh(client, creds, body["refresh_token"])
    assert third.status_code == 200


def test_refresh_reuse_revokes_the_whole_family(
    client: TestClient, settings: IssuerSettings, creds: Credentials, redis_client: redis.Redis
) -> None:
    first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
    second = refresh(client, creds, first["refresh_token"]).json()
    assert_error(refresh(client, creds, first["refresh_token"]), "invalid_grant")
    assert not live(redis_client, first)
    assert not live(redis_client, second)
    assert_error(refresh(client, creds, second["refresh_token"]), "invalid_grant")


def test_refresh_is_bound_to_the_client(
    client: TestClient, settings: IssuerSettings, creds: Credentials
) -> None:
    first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
    other = register_client(settings, "app-2")
    assert_error(refresh(client, other, first["refresh_token"]), "invalid_grant")
    assert refresh(client, creds, first["refresh_token"]).status_code == 200


def test_refresh_may_narrow_but_never_widen_scope_or_resource(
    client: TestClient, settings: IssuerSettings, creds: Credentials
) -> None:
    code = issue_code(settings, creds.client_id, scope="mcp:read mcp:write")
    token = redeem(client, creds, code).json()["refresh_token"]
    assert_error(refresh(client, creds, token, scope="mcp:read mcp:admin"), "invalid_scope")
    wider = refresh(client, creds, token, resource="https://other.example.com/mcp")
    assert_error(wider, "invalid_target")
    narrowed = refresh(
        client,
        creds,
        token,
        scope="mcp:read",
        resource=RESOURCE.upper().replace("/SERVER", "/server"),
    )
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert body["scope"] == "mcp:read"
    assert claims_of(client, body["access_token"])["scope"] == "mcp:read"
    # The grant keeps its full scope: the next refresh may ask for all of it again.
    again = refresh(client, creds, body["refresh_token"])
    assert again.json()["scope"] == "mcp:read mcp:write"


def test_refresh_rechecks_the_allowlist(
    client: TestClient, settings: IssuerSettings, env: dict[str, str], creds: Credentials
) -> None:
    first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
    # The same deployment restarted with octocat removed from ALLOWED_GITHUB_USERS.
    restricted = IssuerSettings.from_env({**env, "ALLOWED_GITHUB_USERS": " hubot , other "})
    with TestClient(create_app(restricted), base_url="https://auth.example.com") as later:
        assert_error(refresh(later, creds, first["refresh_token"]), "invalid_grant")
    assert_error(refresh(client, creds, first["refresh_token"]), "invalid_grant")


def test_deleted_clients_refresh_tokens_are_dead(
    client: TestClient, settings: IssuerSettings, creds: Credentials, redis_client: redis.Redis
) -> None:
    first = redeem(client, creds, issue_code(settings, creds.client_id)).json()
    deleted = client.delete("/register/app-1", headers={"Authorization": "Bearer rat-app-1"})
    assert deleted.status_code == 204, deleted.text
    assert_error(refresh(client, creds, first["refresh_token"]), "invalid_client", 401)
    assert not live(redis_client, first)
    grant_id = first["refresh_token"].partition(".")[0]
    assert not redis_client.exists(redis_keys.grant(grant_id))
