"""RFC 7591 metadata validation: defaults, unknown members, types, consistency (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from authgate_issuer.client_metadata import parse_json_object, validate_client_metadata
from authgate_issuer.errors import InvalidClientMetadata, InvalidRedirectUri, OAuthError
from authgate_issuer.settings import IssuerSettings
from testsupport.issuer import issuer_env

REDIRECT = ["https://app.example.com/cb"]


@pytest.fixture
def pure_settings(tmp_path: Path) -> IssuerSettings:
    """Settings for pure functions (no Redis is contacted)."""
    env = issuer_env("redis://127.0.0.1:1", tmp_path, SCOPES_SUPPORTED="mcp:*,mcp:read,mcp:write")
    return IssuerSettings.from_env(env)


def test_minimal_metadata_gets_the_rfc_defaults(pure_settings: IssuerSettings) -> None:
    assert validate_client_metadata({"redirect_uris": REDIRECT}, pure_settings) == {
        "redirect_uris": REDIRECT,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "application_type": "web",
        "scope": "mcp:*",
    }


def test_full_metadata_is_kept_and_unknown_members_are_dropped(
    pure_settings: IssuerSettings,
) -> None:
    accepted: dict[str, Any] = {
        "redirect_uris": [*REDIRECT, "http://127.0.0.1/cb"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": "native",
        "scope": "mcp:read mcp:write",
        "client_name": "Claude",
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "software_version": "2.1",
        "client_uri": "https://claude.ai",
        "logo_uri": "https://claude.ai/logo.png",
        "tos_uri": "https://claude.ai/tos",
        "policy_uri": "http://localhost:3000/policy",
        "contacts": ["dev@example.com"],
    }
    data = {
        **accepted,
        "redirect_uris": [*REDIRECT, "http://127.0.0.1/cb", REDIRECT[0]],  # duplicate dropped
        "jwks_uri": "https://evil.example/jwks",
        "client_secret": "chosen-by-client",
        "client_id": "chosen-by-client",
        "x-unknown": {"nested": True},
        "client_description": None,
    }
    result = validate_client_metadata(data, pure_settings)
    assert result == accepted
    assert list(result) == list(accepted)


def test_null_members_count_as_omitted(pure_settings: IssuerSettings) -> None:
    data = {"redirect_uris": REDIRECT, "client_name": None, "grant_types": None, "scope": None}
    result = validate_client_metadata(data, pure_settings)
    assert "client_name" not in result
    assert result["grant_types"] == ["authorization_code"]
    assert result["scope"] == "mcp:*"


BAD: list[tuple[dict[str, Any], type[OAuthError], str]] = [
    ({}, InvalidRedirectUri, "redirect_uris is required"),
    ({"redirect_uris": []}, InvalidRedirectUri, "redirect_uris is required"),
    ({"redirect_uris": "https://app.example.com/cb"}, InvalidRedirectUri, "JSON array"),
    ({"redirect_uris": [42]}, InvalidRedirectUri, "must be a string"),
    ({"redirect_uris": ["https://x.example/cb"] * 21}, InvalidRedirectUri, "1 to 20"),
    ({"redirect_uris": ["http://evil.example/cb"]}, InvalidRedirectUri, "non-loopback"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, InvalidClientMetadata, "must be one of"),
    ({"token_endpoint_auth_method": 1}, InvalidClientMetadata, "token_endpoint_auth_method"),
    ({"grant_types": "authorization_code"}, InvalidClientMetadata, "JSON array"),
    ({"grant_types": []}, InvalidClientMetadata, "non-empty"),
    ({"grant_types": ["implicit"]}, InvalidClientMetadata, "subset"),
    ({"grant_types": ["authorization_code", "password"]}, InvalidClientMetadata, "subset"),
    ({"grant_types": ["refresh_token"]}, InvalidClientMetadata, "include authorization_code"),
    ({"grant_types": [1]}, InvalidClientMetadata, "string"),
    ({"response_types": ["token"]}, InvalidClientMetadata, "response_types"),
    ({"response_types": ["code", "token"]}, InvalidClientMetadata, "response_types"),
    ({"response_types": "code"}, InvalidClientMetadata, "response_types"),
    ({"application_type": "desktop"}, InvalidClientMetadata, "application_type"),
    ({"scope": "admin"}, InvalidClientMetadata, "'admin' is not supported"),
    ({"scope": "mcp:read admin"}, InvalidClientMetadata, "'admin' is not supported"),
    ({"scope": ["mcp:read"]}, InvalidClientMetadata, "space-separated"),
    ({"scope": "mcp:read  mcp:write"}, InvalidClientMetadata, "single spaces"),
    ({"scope": ""}, InvalidClientMetadata, "space-separated"),
    ({"client_name": 7}, InvalidClientMetadata, "client_name must be a non-empty string"),
    ({"client_name": ""}, InvalidClientMetadata, "client_name"),
    ({"client_name": "x" * 201}, InvalidClientMetadata, "at most 200"),
    ({"client_name": "bad\x00name"}, InvalidClientMetadata, "control characters"),
    ({"software_id": {"a": 1}}, InvalidClientMetadata, "software_id"),
    ({"software_version": 2.0}, InvalidClientMetadata, "software_version"),
    ({"client_uri": "javascript:alert(1)"}, InvalidClientMetadata, "client_uri must be an https"),
    ({"logo_uri": "http://evil.example/logo.png"}, InvalidClientMetadata, "logo_uri"),
    ({"tos_uri": "com.example.app:/tos"}, InvalidClientMetadata, "not an http(s) URL"),
    ({"policy_uri": "https://good.example@evil.example/"}, InvalidClientMetadata, "userinfo"),
    ({"contacts": "dev@example.com"}, InvalidClientMetadata, "contacts"),
    ({"contacts": [1]}, InvalidClientMetadata, "contacts"),
    ({"contacts": [""]}, InvalidClientMetadata, "contacts"),
    ({"contacts": ["a@example.com"] * 11}, InvalidClientMetadata, "at most 10"),
]


@pytest.mark.parametrize(("member", "error", "phrase"), BAD)
def test_bad_metadata_is_refused_with_an_actionable_description(
    pure_settings: IssuerSettings, member: dict[str, Any], error: type[OAuthError], phrase: str
) -> None:
    complete = not member or "redirect_uris" in member
    data = member if complete else {"redirect_uris": REDIRECT, **member}
    with pytest.raises(error) as caught:
        validate_client_metadata(data, pure_settings)
    assert type(caught.value) is error
    assert phrase in caught.value.description


def test_scopes_are_deduplicated(pure_settings: IssuerSettings) -> None:
    data = {"redirect_uris": REDIRECT, "scope": "mcp:read mcp:read mcp:*"}
    assert validate_client_metadata(data, pure_settings)["scope"] == "mcp:read mcp:*"


@pytest.mark.parametrize(
    ("content_type", "body", "phrase"),
    [
        (None, b"{}", "Content-Type"),
        ("application/x-www-form-urlencoded", b"redirect_uris=x", "Content-Type"),
        ("text/plain", b"{}", "Content-Type"),
        ("application/jsonp", b"{}", "Content-Type"),
        ("application/json", b"{", "not valid JSON"),
        ("application/json", b"", "not valid JSON"),
        ("application/json", b"\xff\xfe{}", "not valid JSON"),
        ("application/json", b'{"a": NaN}', "not valid JSON"),
        ("application/json", b"[]", "JSON object"),
        ("application/json", b'"text"', "JSON object"),
        ("application/json", b"null", "JSON object"),
    ],
)
def test_body_must_be_a_json_object(content_type: str | None, body: bytes, phrase: str) -> None:
    with pytest.raises(InvalidClientMetadata) as caught:
        parse_json_object(content_type, body)
    assert phrase in caught.value.description


def test_json_content_type_parameters_are_accepted() -> None:
    assert parse_json_object("Application/JSON; charset=utf-8", b'{"a": 1}') == {"a": 1}
