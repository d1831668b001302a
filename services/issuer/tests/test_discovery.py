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
    assert doc["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:token-exchange",  # RFC 8693, operator-created clients
    ]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
        "private_key_jwt",
    ]
    for endpoint in ("token", "revocation", "introspection"):
        assert doc[f"{endpoint}_endpoint_auth_methods_supported"] == (
            doc["token_endpoint_auth_methods_supported"]
        )
        # RFC 8414 §2: required with private_key_jwt; asymmetric only, never none or HS*.
        algs = doc[f"{endpoint}_endpoint_auth_signing_alg_values_supported"]
        assert {"RS256", "ES256", "PS256"} <= set(algs)
        assert not [a for a in algs if a == "none" or a.startswith("HS")]
    assert doc["client_id_metadata_document_supported"] is True
    assert doc["scopes_supported"] == ["mcp:*"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc == server_metadata(settings)


def test_metadata_says_when_client_metadata_documents_are_off(env: dict[str, str]) -> None:
    settings = IssuerSettings.from_env({**env, "CIMD_ENABLED": "false"})
    assert server_metadata(settings)["client_id_metadata_document_supported"] is False


def test_openid_configuration_is_not_served(client: TestClient) -> None:
    # No ID tokens, so no OpenID Discovery document (it would lack subject_types_supported and
    # id_token_signing_alg_values_supported); clients fall back from it to RFC 8414 anyway.
    for headers in ({}, {"Origin": "http://localhost:6274"}):
        answer = client.get("/.well-known/openid-configuration", headers=headers)
        assert answer.status_code == 404 and "issuer" not in answer.text
        # Still readable cross-origin, so a browser client sees the 404 and moves on.
        assert answer.headers["access-control-allow-origin"] == "*"


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
