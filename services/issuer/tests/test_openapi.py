"""The served ``/openapi.json`` declares what the issuer really reads and answers.

Fails when an operation loses its request body, parameters or documented statuses, when the
framework's never-sent 422 comes back, or when a response schema rejects an RFC example or
accepts a response missing what the RFC requires.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.oauth.errors import ErrorCode
from authgate_issuer.settings import IssuerSettings
from testsupport.issuer import issuer_env

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
STATUSES = {
    ("/health", "get"): {"200", "503"},
    ("/.well-known/oauth-authorization-server", "get"): {"200", "304"},
    ("/jwks", "get"): {"200", "304"},
    ("/register", "post"): {"201", "400", "413", "429", "503"},
    ("/register/{client_id}", "get"): {"200", "401", "503"},
    ("/register/{client_id}", "put"): {"200", "400", "401", "413", "503"},
    ("/register/{client_id}", "delete"): {"204", "401", "503"},
    ("/authorize", "get"): {"200", "302", "400", "429", "503"},
    ("/authorize/consent", "post"): {"303", "400", "403", "413", "503"},
    ("/callback", "get"): {"302", "400", "503"},
    ("/token", "post"): {"200", "400", "401", "413", "429", "503"},
    ("/revoke", "post"): {"200", "400", "401", "413", "429", "503"},
    ("/introspect", "post"): {"200", "400", "401", "413", "429", "503"},
    ("/account", "get"): {"200", "302", "503"},
    ("/account", "post"): {"200", "303", "400", "403", "404", "413", "503"},
    ("/metrics", "get"): {"200"},
}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    keys: Path = tmp_path_factory.mktemp("keys")
    settings = IssuerSettings.from_env(issuer_env("redis://127.0.0.1:9/0", keys))
    served: dict[str, Any] = TestClient(create_app(settings)).get("/openapi.json").json()
    return served


def op(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


def body_schema(document: dict[str, Any], path: str, method: str, media: str) -> dict[str, Any]:
    body = op(document, path, method)["requestBody"]
    assert body["required"] is True
    schema: dict[str, Any] = body["content"][media]["schema"]
    return schema


def response_schema(document: dict[str, Any], path: str, method: str, status: str) -> Any:
    return op(document, path, method)["responses"][status]["content"][JSON]["schema"]


def valid(schema: dict[str, Any], instance: Any) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(instance)


def test_every_operation_has_its_real_statuses_and_no_422(document: dict[str, Any]) -> None:
    operations = {
        (path, method): spec["responses"]
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    }
    assert {key: set(responses) for key, responses in operations.items()} == STATUSES
    assert "HTTPValidationError" not in document.get("components", {}).get("schemas", {})
    for responses in operations.values():
        for response in responses.values():
            for media in response.get("content", {}).values():
                assert media["schema"], response  # never FastAPI's empty {}
                jsonschema.Draft202012Validator.check_schema(media["schema"])


def test_request_bodies(document: dict[str, Any]) -> None:
    register = body_schema(document, "/register", "post", JSON)
    assert register["required"] == ["redirect_uris"]
    assert {"token_endpoint_auth_method", "grant_types", "scope", "contacts"} <= set(
        register["properties"]
    )
    update = body_schema(document, "/register/{client_id}", "put", JSON)
    assert set(update["required"]) == {"client_id", "redirect_uris"}

    token = body_schema(document, "/token", "post", FORM)
    assert token["required"] == ["grant_type"]
    assert token["properties"]["grant_type"]["enum"] == [
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ]
    assert {"code", "redirect_uri", "code_verifier", "refresh_token", "client_id"} <= set(
        token["properties"]
    )
    # RFC 8693 §2.1; registration never offers token exchange (only the operator grants it).
    assert {"subject_token", "subject_token_type", "audience"} <= set(token["properties"])
    registrable = str(register["properties"]["grant_types"])
    assert "refresh_token" in registrable and "token-exchange" not in registrable
    assert token["properties"]["resource"]["type"] == "array"
    for path in ("/revoke", "/introspect"):
        form = body_schema(document, path, "post", FORM)
        assert form["required"] == ["token"]
        assert "token_type_hint" in form["properties"]
    consent = body_schema(document, "/authorize/consent", "post", FORM)
    assert set(consent["properties"]) == {"request_id", "csrf_token", "action", "remember"}
    assert consent["properties"]["action"]["enum"] == [
        "approve",
        "approve:github",
        "approve:oidc",
        "deny",
    ]


def test_query_parameters(document: dict[str, Any]) -> None:
    def query(path: str) -> dict[str, dict[str, Any]]:
        params = op(document, path, "get")["parameters"]
        return {p["name"]: p for p in params if p["in"] == "query"}

    authorize = query("/authorize")
    assert set(authorize) == {
        "response_type",
        "client_id",
        "redirect_uri",
        "code_challenge",
        "code_challenge_method",
        "state",
        "scope",
        "resource",
    }
    assert authorize["code_challenge_method"]["schema"]["enum"] == ["S256"]
    assert authorize["resource"]["schema"]["type"] == "array"
    assert authorize["resource"]["explode"] is True
    assert set(query("/callback")) == {"code", "state", "error", "error_description"}


def test_headers_and_html(document: dict[str, Any]) -> None:
    def headers(path: str, method: str, status: str) -> dict[str, Any]:
        found: dict[str, Any] = op(document, path, method)["responses"][status]["headers"]
        return found

    for path in ("/register", "/token"):
        assert headers(path, "post", "429")["Retry-After"]["required"] is True
    for path in ("/token", "/revoke", "/introspect"):
        assert "WWW-Authenticate" in headers(path, "post", "401")
    assert "WWW-Authenticate" in headers("/register/{client_id}", "get", "401")
    assert "Location" in headers("/authorize", "get", "302")
    assert "Location" in headers("/authorize/consent", "post", "303")
    assert "Location" in headers("/callback", "get", "302")
    assert "text/html" in op(document, "/authorize", "get")["responses"]["400"]["content"]
    metrics = op(document, "/metrics", "get")["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]


def test_error_schema(document: dict[str, Any]) -> None:
    errors = response_schema(document, "/token", "post", "400")
    assert set(errors["properties"]["error"]["enum"]) <= set(get_args(ErrorCode))
    assert valid(errors, {"error": "invalid_grant", "error_description": "expired"})
    assert not valid(errors, {"error": "invalid_token"})  # not a token endpoint code
    assert not valid(errors, {"error_description": "no code"})
    registration = response_schema(document, "/register", "post", "400")
    assert valid(registration, {"error": "invalid_redirect_uri"})


def test_client_information_schema(document: dict[str, Any]) -> None:
    schema = response_schema(document, "/register", "post", "201")
    # RFC 7591 §3.2.1's example, plus the RFC 7592 members and an extension member.
    example = {
        "client_id": "s6BhdRkqt3",
        "client_secret": "cf136dc3c1fc93f31185e5885805d",
        "client_id_issued_at": 2893256800,
        "client_secret_expires_at": 2893276800,
        "redirect_uris": ["https://client.example.org/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
        "client_name": "My Example Client",
        "logo_uri": "https://client.example.org/logo.png",
        "registration_access_token": "reg-23410913-abewfq.123483",
        "registration_client_uri": "https://server.example.com/register/s6BhdRkqt3",
        "example_extension_parameter": "example_value",
    }
    assert valid(schema, example)
    for member in ("client_id", "registration_access_token", "client_secret_expires_at"):
        assert not valid(schema, {k: v for k, v in example.items() if k != member}), member
    read = response_schema(document, "/register/{client_id}", "get", "200")
    assert valid(read, {k: v for k, v in example.items() if k != "registration_access_token"})


def test_token_introspection_and_metadata_schemas(document: dict[str, Any]) -> None:
    token = response_schema(document, "/token", "post", "200")
    # RFC 6749 §5.1's example (scope omitted, an extension member).
    example = {
        "access_token": "2YotnFZFEjr1zCsicMWpAA",
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": "tGzv3JOkF0XG5Qx2TlKWIA",
        "example_parameter": "example_value",
    }
    assert valid(token, example)
    assert not valid(token, {k: v for k, v in example.items() if k != "access_token"})
    assert not valid(token, {**example, "expires_in": "3600"})

    introspection = response_schema(document, "/introspect", "post", "200")
    assert valid(introspection, {"active": False})
    assert valid(introspection, {"active": True, "aud": ["https://a.example"], "exp": 1})
    assert not valid(introspection, {"active": "true"})
    assert not valid(introspection, {"scope": "mcp:*"})

    metadata = response_schema(document, "/.well-known/oauth-authorization-server", "get", "200")
    base = "https://server.example.com"
    example_metadata = {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "ui_locales_supported": ["en-US"],
    }
    assert valid(metadata, example_metadata)
    assert not valid(metadata, {k: v for k, v in example_metadata.items() if k != "issuer"})
    jwks = response_schema(document, "/jwks", "get", "200")
    assert valid(jwks, {"keys": [{"kty": "RSA", "n": "0vx7", "e": "AQAB", "kid": "1"}]})
    assert valid(jwks, {"keys": [{"kty": "EC", "crv": "P-256", "x": "f8", "y": "x_", "kid": "2"}]})
    assert not valid(jwks, {"keys": [{"kid": "1"}]})
