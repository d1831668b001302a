"""POST /introspect (RFC 7662): full answers for the caller's live tokens, else only inactive."""

from __future__ import annotations

from typing import Any

import jwt
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from testsupport.token_clients import (
    RESOURCE,
    Credentials,
    auth,
    code_form,
    issue_code,
    register_client,
)

INACTIVE = {"active": False}


def tokens_for(
    client: TestClient, settings: IssuerSettings, creds: Credentials, **code_args: Any
) -> dict[str, Any]:
    headers, fields = auth(creds)
    code = issue_code(settings, creds.client_id, **code_args)
    response = client.post("/token", data={**code_form(code), **fields}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def introspect(client: TestClient, creds: Credentials, token: str, **extra: str) -> Any:
    headers, fields = auth(creds)
    response = client.post("/introspect", data={"token": token, **extra, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def test_active_access_token(client: TestClient, settings: IssuerSettings) -> None:
    creds = register_client(settings, "app-1")
    tokens = tokens_for(client, settings, creds)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    body = introspect(client, creds, tokens["access_token"], token_type_hint="access_token")
    assert body == {
        "active": True,
        "scope": "mcp:*",
        "client_id": "app-1",
        "username": "octocat",
        "token_type": "Bearer",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "sub": "github|octocat",
        "aud": [RESOURCE],
        "iss": settings.issuer_url,
        "jti": claims["jti"],
    }


def test_active_refresh_token(client: TestClient, settings: IssuerSettings) -> None:
    creds = register_client(settings, "app-1", method="none")
    tokens = tokens_for(client, settings, creds)
    body = introspect(client, creds, tokens["refresh_token"])
    assert body["active"] is True
    assert body["token_type"] == "refresh_token"
    assert body["client_id"] == "app-1"
    assert body["username"] == "octocat"
    assert body["sub"] == "github|octocat"
    assert body["scope"] == "mcp:*"
    assert body["aud"] == [RESOURCE]
    assert body["iss"] == settings.issuer_url
    assert body["exp"] - body["iat"] == settings.refresh_token_lifetime


def test_another_clients_tokens_are_inactive(client: TestClient, settings: IssuerSettings) -> None:
    owner = register_client(settings, "owner")
    other = register_client(settings, "other")
    tokens = tokens_for(client, settings, owner)
    assert introspect(client, other, tokens["access_token"]) == INACTIVE
    assert introspect(client, other, tokens["refresh_token"]) == INACTIVE
    assert introspect(client, owner, tokens["access_token"])["active"] is True


def test_unknown_revoked_and_rotated_tokens_are_inactive(
    client: TestClient, settings: IssuerSettings
) -> None:
    creds = register_client(settings, "app-1")
    for token in ("garbage", "a.b", "a.b.c"):
        assert introspect(client, creds, token) == INACTIVE
    tokens = tokens_for(client, settings, creds)
    headers, _ = auth(creds)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    rotated = client.post("/token", data=form, headers=headers).json()
    assert introspect(client, creds, tokens["refresh_token"]) == INACTIVE
    assert introspect(client, creds, rotated["refresh_token"])["active"] is True
    assert client.post("/revoke", data={"token": rotated["access_token"]}, headers=headers)
    assert introspect(client, creds, rotated["access_token"]) == INACTIVE
    assert introspect(client, creds, tokens["access_token"])["active"] is True


def test_expired_access_token_is_inactive(client: TestClient, settings: IssuerSettings) -> None:
    creds = register_client(settings, "app-1")
    tokens = tokens_for(client, settings, creds)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    # Same Redis and keys, clock just past the token's expiry (its record may still exist).
    later = create_app(settings, clock=lambda: claims["exp"] + 1)
    with TestClient(later, base_url="https://auth.example.com") as future:
        assert introspect(future, creds, tokens["access_token"]) == INACTIVE


def test_token_signed_by_someone_else_is_inactive(
    client: TestClient, settings: IssuerSettings
) -> None:
    creds = register_client(settings, "app-1")
    tokens = tokens_for(client, settings, creds)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    header = jwt.get_unverified_header(tokens["access_token"])
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={**header, "alg": "HS256"})
    assert introspect(client, creds, forged) == INACTIVE


def test_introspect_requires_client_authentication(
    client: TestClient, settings: IssuerSettings
) -> None:
    creds = register_client(settings, "app-1")
    tokens = tokens_for(client, settings, creds)
    response = client.post("/introspect", data={"token": tokens["access_token"]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "active" not in response.json()
