from __future__ import annotations

from fastapi.testclient import TestClient

from authgate_issuer.oauth.server_metadata import server_metadata
from authgate_issuer.settings import IssuerSettings

EXPECTED_ENDPOINTS = {
    "authorization_endpoint": "/authorize",
    "token_endpoint": "/token",
    "registration_endpoint": "/register",
    "revocation_endpoint": "/revoke",
    "introspection_endpoint": "/introspect",
    "jwks_uri": "/jwks",
}


def test_metadata_document(client: TestClient, settings: IssuerSettings) -> None:
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    doc = response.json()
    assert doc["issuer"] == "https://auth.example.com"
    for field, path in EXPECTED_ENDPOINTS.items():
        assert doc[field] == "https://auth.example.com" + path
    assert doc["response_types_supported"] == ["code"]
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    assert doc["scopes_supported"] == ["mcp:*"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc == server_metadata(settings)


def test_openid_configuration_is_the_same_document(client: TestClient) -> None:
    a = client.get("/.well-known/oauth-authorization-server")
    b = client.get("/.well-known/openid-configuration")
    assert a.content == b.content
    assert a.headers["etag"] == b.headers["etag"]
    assert (
        client.get(
            "/.well-known/openid-configuration", headers={"If-None-Match": a.headers["etag"]}
        ).status_code
        == 304
    )


def test_every_advertised_endpoint_is_routed(client: TestClient) -> None:
    doc = client.get("/.well-known/oauth-authorization-server").json()
    paths = set(client.app.openapi()["paths"])  # type: ignore[attr-defined]
    for field in EXPECTED_ENDPOINTS:
        assert doc[field].removeprefix("https://auth.example.com") in paths


def test_issuer_is_byte_identical_over_http(issuer_process) -> None:
    import httpx

    doc = httpx.get(issuer_process.url + "/.well-known/oauth-authorization-server").json()
    assert doc["issuer"] == issuer_process.url
    assert not doc["issuer"].endswith("/")
