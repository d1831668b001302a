"""POST /token: authorization_code and refresh_token grants on the real app and real Redis."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest
import redis
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.oauth import grants
from authgate_issuer.oauth.errors import InvalidClient
from authgate_issuer.oauth.params import parse_pairs
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.clients import ClientRecord
from authgate_shared import claims as jwt_claims
from authgate_shared import redis_keys
from testsupport.issuer_ctx import issuer_context
from testsupport.service import ServiceProcess
from testsupport.token_clients import (
    OMIT,
    RESOURCE,
    Credentials,
    auth,
    code_form,
    issue_code,
    register_client,
)
from testsupport.token_requests import assert_error, claims_of, live, redeem, refresh


@pytest.fixture
def creds(settings: IssuerSettings) -> Credentials:
    return register_client(settings, "app-1")


def test_code_exchange_returns_a_signed_access_token(
    client: TestClient, settings: IssuerSettings, creds: Credentials, redis_client: redis.Redis
) -> None:
    response = redeem(client, creds, issue_code(settings, creds.client_id))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.access_token_lifetime
    assert body["scope"] == "mcp:*"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] == client.app.state.ctx.keys.current.kid
    claims = claims_of(client, body["access_token"])
    assert claims["iss"] == settings.issuer_url
    assert claims["sub"] == "github|octocat"
    assert claims["aud"] == [RESOURCE]
    assert claims["client_id"] == "app-1"
    assert claims["github_username"] == "octocat"
    assert claims["github_id"] == "583231"
    assert claims["scope"] == "mcp:*"
    assert claims["exp"] - claims["iat"] == settings.access_token_lifetime
    assert live(redis_client, body)


def test_a_grant_without_resource_gets_no_gateway_token_by_default(
    client: TestClient, settings: IssuerSettings, creds: Credentials, env: dict[str, str]
) -> None:
    # A code from before REQUIRE_RESOURCE_TOKENS: redeemed only for a named service.
    code = issue_code(settings, creds.client_id, resources=())
    assert_error(redeem(client, creds, code), "invalid_target")
    code = issue_code(settings, creds.client_id, resources=())
    bound = redeem(client, creds, code, resource="https://mcp-a.example.com/mcp").json()
    assert claims_of(client, bound["access_token"])["aud"] == ["https://mcp-a.example.com"]
    lax = IssuerSettings.from_env({**env, "REQUIRE_RESOURCE_TOKENS": "false"})
    with TestClient(create_app(lax), base_url="https://auth.example.com") as lax_client:
        code = issue_code(lax, creds.client_id, resources=())
        body = redeem(lax_client, creds, code).json()
        assert claims_of(lax_client, body["access_token"])["aud"] == [
            jwt_claims.GATEWAY_AUDIENCE
        ]


def test_a_legacy_grant_for_an_endpoint_url_is_refreshed_for_its_service(
    client: TestClient, settings: IssuerSettings, creds: Credentials
) -> None:
    code = issue_code(settings, creds.client_id, resources=("https://mcp-a.example.com/mcp",))
    first = redeem(client, creds, code).json()
    assert claims_of(client, first["access_token"])["aud"] == ["https://mcp-a.example.com"]
    again = refresh(client, creds, first["refresh_token"]).json()
    assert claims_of(client, again["access_token"])["aud"] == ["https://mcp-a.example.com"]


def test_token_request_resource_may_only_narrow(
    client: TestClient, settings: IssuerSettings, creds: Credentials
) -> None:
    other = "https://other.example.com"
    code = issue_code(settings, creds.client_id, resources=(RESOURCE, other))
    # Upper-case host and trailing slash name the same resource (canonical comparison).
    narrowed = redeem(client, creds, code, resource="https://MCP.example.com/server/")
    assert narrowed.status_code == 200, narrowed.text
    assert claims_of(client, narrowed.json()["access_token"])["aud"] == [RESOURCE]
    code = issue_code(settings, creds.client_id)
    assert_error(redeem(client, creds, code, resource=other + "/mcp"), "invalid_target")


def test_code_of_another_client_is_refused(
    client: TestClient, settings: IssuerSettings, creds: Credentials
) -> None:
    thief = register_client(settings, "app-2")
    code = issue_code(settings, creds.client_id)
    assert_error(redeem(client, thief, code), "invalid_grant")


def test_a_request_refused_for_its_credentials_spends_the_code(
    client: TestClient, settings: IssuerSettings, creds: Credentials
) -> None:
    # The code is taken in the request's first round trip, before authentication decides
    # (oauth.grants.prefetch): one use, as for a code presented by another client.
    code = issue_code(settings, creds.client_id)
    wrong = Credentials(creds.client_id, "not-the-secret", creds.method)
    assert_error(redeem(client, wrong, code), "invalid_client", 401)
    assert_error(redeem(client, creds, code), "invalid_grant")


def test_redirect_uri_must_match(
    client: TestClient, settings: IssuerSettings, creds: Credentials
) -> None:
    wrong = redeem(
        client, creds, issue_code(settings, creds.client_id), redirect_uri="http://127.0.0.1:1/x"
    )
    assert_error(wrong, "invalid_grant")
    missing = redeem(client, creds, issue_code(settings, creds.client_id), redirect_uri=OMIT)
    assert_error(missing, "invalid_grant")
    # Not sent at /authorize (one registered URI): not required at /token (OAuth 2.1 §4.1.3).
    code = issue_code(settings, creds.client_id, redirect_uri_in_request=False)
    assert redeem(client, creds, code, redirect_uri=OMIT).status_code == 200


def test_replay_by_the_same_client_revokes_what_the_code_produced(
    client: TestClient, settings: IssuerSettings, creds: Credentials, redis_client: redis.Redis
) -> None:
    code = issue_code(settings, creds.client_id)
    first = redeem(client, creds, code).json()
    assert live(redis_client, first)
    assert_error(redeem(client, creds, code), "invalid_grant")
    assert not live(redis_client, first)
    assert_error(refresh(client, creds, first["refresh_token"]), "invalid_grant")


def test_replay_by_another_client_revokes_nothing(
    client: TestClient, settings: IssuerSettings, creds: Credentials, redis_client: redis.Redis
) -> None:
    code = issue_code(settings, creds.client_id)
    first = redeem(client, creds, code).json()
    assert_error(redeem(client, register_client(settings, "app-2"), code), "invalid_grant")
    assert live(redis_client, first)
    assert refresh(client, creds, first["refresh_token"]).status_code == 200


def test_concurrent_redemptions_over_http_yield_exactly_one_token(
    issuer_process: ServiceProcess, settings: IssuerSettings
) -> None:
    creds = register_client(settings, "racer")
    code = issue_code(settings, creds.client_id)
    headers, fields = auth(creds)
    barrier = threading.Barrier(20)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=issuer_process.url, timeout=30) as http:
            http.get("/health")  # connection established before the barrier
            barrier.wait()
            return http.post(
                "/token", data={**code_form(code), **fields}, headers=headers
            ).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(attempt, range(20)))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(400) == 19, statuses


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password", "username": "u", "password": "p"}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"code": "x"}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "garbage"}, "invalid_grant"),
    ],
)
def test_malformed_requests(
    client: TestClient, creds: Credentials, form: dict[str, str], error: str
) -> None:
    headers, _ = auth(creds)
    assert_error(client.post("/token", data=form, headers=headers), error)


def test_repeated_parameter_and_json_body_are_invalid_request(
    client: TestClient, creds: Credentials
) -> None:
    headers, _ = auth(creds)
    repeated = "grant_type=refresh_token&grant_type=refresh_token&refresh_token=x"
    form_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    assert_error(client.post("/token", content=repeated, headers=form_headers), "invalid_request")
    assert_error(
        client.post("/token", json={"grant_type": "x"}, headers=headers), "invalid_request"
    )
    assert client.get("/token").status_code == 405


def test_client_not_registered_for_the_code_grant(
    client: TestClient, settings: IssuerSettings
) -> None:
    creds = register_client(settings, "rt-only", grant_types=("refresh_token",))
    assert_error(redeem(client, creds, issue_code(settings, "rt-only")), "unauthorized_client")


def test_grant_created_while_the_client_is_deleted_is_revoked(
    settings: IssuerSettings, redis_client: redis.Redis
) -> None:
    # The client passed authentication, then DELETE /register ran revoke_client before the new
    # grant existed: the token request must notice and revoke the grant it just created.
    creds = register_client(settings, "vanishing")
    code = issue_code(settings, creds.client_id)
    redis_client.delete(redis_keys.client("vanishing"))
    record = ClientRecord(
        client_id="vanishing",
        metadata={"token_endpoint_auth_method": "none"},
        client_id_issued_at=0,
        expires_at=0,
    )

    async def go() -> None:
        async with issuer_context(settings) as ctx:
            form = grants.parse(parse_pairs(list(code_form(code).items())))
            taken = await grants.prefetch(ctx, hit=None, client_id="vanishing", form=form)
            assert taken.client is None and taken.for_grant is not None
            with pytest.raises(InvalidClient):
                await grants.handle(ctx, client=record, form=form, prefetched=taken.for_grant)

    asyncio.run(go())
    assert redis_client.keys(redis_keys.all_grants_pattern()) == []
    assert redis_client.keys(redis_keys.all_tokens_pattern()) == []
