"""RFC 7591 metadata validation: defaults, unknown members, types, consistency (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from authgate_issuer.oauth.client_metadata import parse_json_object, validate_client_metadata
from authgate_issuer.oauth.errors import InvalidClientMetadata, InvalidRedirectUri, OAuthError
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
    ({"token_endpoint_auth_method": "client_secret_jwt"}, InvalidClientMetadata, "must be one of"),
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
    ({"contacts": ["javascript:alert(1)"]}, InvalidClientMetadata, "e-mail addresses"),
    ({"client_uri": "https://good.example/a b"}, InvalidClientMetadata, "client_uri"),
    ({"logo_uri": "https://good.example/{}|^"}, InvalidClientMetadata, "path has the character"),
    ({"tos_uri": "https://good.example/tos?a=%zz"}, InvalidClientMetadata, "two hex digits"),
    ({"policy_uri": "https://good.example/`p`"}, InvalidClientMetadata, "policy_uri"),
    ({"client_name": "Acme \u202eecafer"}, InvalidClientMetadata, "U+202E RIGHT-TO-LEFT"),
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


# Every category of Unicode character that cannot be seen as itself, and blank look-alikes.
HIDDEN = {
    "Cc C0 control": "\x01",
    "Cc DEL": "\x7f",
    "Cc C1 control (NEL)": "\x85",
    "Cf right-to-left override": "\u202e",
    "Cf left-to-right embedding": "\u202a",
    "Cf pop directional formatting": "\u202c",
    "Cf right-to-left isolate": "\u2067",
    "Cf first strong isolate": "\u2068",
    "Cf right-to-left mark": "\u200f",
    "Cf arabic letter mark": "\u061c",
    "Cf zero width space": "\u200b",
    "Cf zero width joiner": "\u200d",
    "Cf soft hyphen": "\u00ad",
    "Cf byte order mark": "\ufeff",
    "Cf tag": "\U000e0041",
    "Co private use": "\ue000",
    "Co supplementary private use": "\U000f0000",
    "Cs lone surrogate": "\ud800",
    "Cn unassigned": "\U000e0fff",
    "Zl line separator": "\u2028",
    "Zp paragraph separator": "\u2029",
    "Lo hangul filler": "\u3164",
    "Lo halfwidth hangul filler": "\uffa0",
    "Mn combining grapheme joiner": "\u034f",
    "So braille blank": "\u2800",
}


@pytest.mark.parametrize("char", HIDDEN.values(), ids=HIDDEN.keys())
@pytest.mark.parametrize("member", ["client_name", "software_id", "software_version"])
def test_invisible_characters_in_text_members_are_refused(
    pure_settings: IssuerSettings, member: str, char: str
) -> None:
    data = {"redirect_uris": REDIRECT, member: f"Acme{char}Tools"}
    with pytest.raises(InvalidClientMetadata) as caught:
        validate_client_metadata(data, pure_settings)
    assert member in caught.value.description
    assert f"U+{ord(char):04X}" in caught.value.description


@pytest.mark.parametrize(
    "name",
    [
        "Claude Desktop",
        "\u05d0\u05e4\u05dc\u05d9\u05e7\u05e6\u05d9\u05d4",  # Hebrew, right to left
        "\u0645\u0631\u062d\u0628\u0627 Tools",  # Arabic
        "\u65e5\u672c\u8a9e\u30af\u30e9\u30a4\u30a2\u30f3\u30c8",
        "Caf\u00e9 \u2014 \u00a0Tools \u2764\ufe0f",  # NBSP, em dash, emoji with VS16
        'Tools <b>"quoted"</b>',  # markup is escaped on the page, not refused
    ],
)
def test_visible_text_in_any_script_is_kept(pure_settings: IssuerSettings, name: str) -> None:
    data = {"redirect_uris": REDIRECT, "client_name": name}
    assert validate_client_metadata(data, pure_settings)["client_name"] == name


@pytest.mark.parametrize(
    "contact",
    [
        "dev@example.com",
        "first.last+mcp@sub.example.co.uk",
        "o'brien@example.org",
        "ops_team-1@xn--bcher-kva.example",
        "a@b.io",
    ],
)
def test_email_contacts_are_accepted(pure_settings: IssuerSettings, contact: str) -> None:
    data = {"redirect_uris": REDIRECT, "contacts": [contact]}
    assert validate_client_metadata(data, pure_settings)["contacts"] == [contact]


@pytest.mark.parametrize(
    "contact",
    [
        "javascript:alert(1)",
        "mailto:dev@example.com",
        "https://example.com/contact",
        "dev",
        "dev@",
        "@example.com",
        "dev@@example.com",
        "dev@example@com",
        "dev@localhost",
        "dev@192.0.2.1",
        "dev@[192.0.2.1]",
        "dev@example.",
        "dev@.example.com",
        "dev@exa..mple.com",
        "dev@exa_mple.com",
        "dev@-example.com",
        "dev@example-.com",
        "dev team@example.com",
        " dev@example.com",
        "dev@example.com\n",
        "dev\x00@example.com",
        "<dev@example.com>",
        "Dev <dev@example.com>",
        '"dev"@example.com',
        ".dev@example.com",
        "dev.@example.com",
        "d..ev@example.com",
        "d\u00e9v@example.com",
        "dev\u202e@example.com",
        "x" * 65 + "@example.com",
        "dev@" + "a" * 64 + ".com",
    ],
)
def test_contacts_that_are_not_email_addresses_are_refused(
    pure_settings: IssuerSettings, contact: str
) -> None:
    data = {"redirect_uris": REDIRECT, "contacts": ["ok@example.com", contact]}
    with pytest.raises(InvalidClientMetadata) as caught:
        validate_client_metadata(data, pure_settings)
    assert "contacts must be e-mail addresses" in caught.value.description
