"""The pure rules of Client ID Metadata Documents: client id URLs (draft §3), what a usable
document is (draft §4), how long one is kept (HTTP caching, clamped), and the keys of
private_key_jwt clients (RFC 7591 §2 jwks / jwks_uri)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from authgate_issuer.cimd.client_id import ClientIdProblem, client_id_host, is_url_client_id
from authgate_issuer.cimd.document import DocumentProblem, validate_document
from authgate_issuer.cimd.freshness import cache_seconds
from authgate_issuer.oauth.client_metadata import validate_client_metadata
from authgate_issuer.oauth.errors import InvalidClientMetadata
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.web.client_identity import identity_html
from testsupport.issuer import issuer_env

URL = "https://app.example.com/oauth/client.json"


@pytest.fixture
def settings(tmp_path: Path) -> IssuerSettings:
    return IssuerSettings.from_env(issuer_env("redis://127.0.0.1:1", tmp_path))


@pytest.mark.parametrize(
    "client_id",
    [
        URL,
        "https://app.example.com:8443/c",
        "https://app.example.com/c?v=1",
        "https://[2001:db8::1]/c",
    ],
)
def test_valid_client_id_urls(client_id: str) -> None:
    assert is_url_client_id(client_id)
    assert client_id_host(client_id) in ("app.example.com", "2001:db8::1")


@pytest.mark.parametrize(
    ("client_id", "why"),
    [
        ("http://app.example.com/c", "https"),
        ("https://app.example.com", "path"),
        ("https://app.example.com/", "path"),
        ("https://app.example.com/c#frag", "fragment"),
        ("https://user:pw@app.example.com/c", "username"),
        ("https://app.example.com/a/../c", "'..'"),
        ("https://app.example.com/a/./c", "'.'"),
        ("https://app.example.com/a/%2E%2E/c", "'..'"),
        ("https://app.example.com:0/c", "port"),
        ("https://app_example.com/c", "host name"),
        ("https://app.example.com/c d", "URI"),
        ("https://app.example.com/" + "a" * 130, "longer"),
        ("https://app.example.com/a;b", "';'"),
        ("https://app.example.com/c?a=1,2", "','"),
    ],
)
def test_invalid_client_id_urls(client_id: str, why: str) -> None:
    assert is_url_client_id(client_id)
    with pytest.raises(ClientIdProblem) as caught:
        client_id_host(client_id)
    assert why in str(caught.value)


def test_registered_ids_are_not_urls() -> None:
    for client_id in ("0123456789abcdef0123456789abcdef", "id:with space", "test-client"):
        assert not is_url_client_id(client_id)


def document(**members: Any) -> bytes:
    base: dict[str, Any] = {
        "client_id": URL,
        "client_name": "Example App",
        "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"],
    }
    base.update(members)
    return orjson.dumps({k: v for k, v in base.items() if v is not None})


def test_a_claude_code_like_document_is_accepted(settings: IssuerSettings) -> None:
    body = document(
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        client_uri="https://app.example.com",
        scope="whatever:they-want",  # not ours to judge: the request's scope is checked
        software_statement="ignored",
    )
    metadata = validate_document(body, URL, settings)
    assert metadata["token_endpoint_auth_method"] == "none"
    assert metadata["redirect_uris"] == ["http://localhost/callback", "http://127.0.0.1/callback"]
    assert metadata["scope"] == settings.default_scope
    assert "software_statement" not in metadata and "client_id" not in metadata


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (document(client_id=URL + "?x"), "not exactly the URL"),
        (document(client_id=URL.upper()), "not exactly the URL"),
        (document(client_id=None), "not exactly the URL"),
        (document(client_secret="s3cret"), "client_secret"),
        (document(client_secret_expires_at=0), "client_secret_expires_at"),
        (document(client_name=None), "client_name"),
        (document(redirect_uris=None), "redirect_uris is required"),
        (document(redirect_uris=["http://evil.example/cb"]), "http on a non-loopback host"),
        (document(token_endpoint_auth_method="client_secret_basic"), "none or private_key_jwt"),
        (document(token_endpoint_auth_method="client_secret_jwt"), "none or private_key_jwt"),
        (document(token_endpoint_auth_method="private_key_jwt"), "needs jwks or jwks_uri"),
        (document(client_name="Evil\u202eppa"), "bidi"),
        (document(grant_types=["client_credentials"]), "grant_types"),
    ],
)
def test_unusable_documents(settings: IssuerSettings, body: bytes, why: str) -> None:
    with pytest.raises(DocumentProblem) as caught:
        validate_document(body, URL, settings)
    assert why in str(caught.value)


def rsa_jwk() -> dict[str, Any]:
    key = rsa.generate_private_key(65537, 2048).public_key()
    return {**RSAAlgorithm.to_jwk(key, as_dict=True), "kid": "r1", "alg": "RS256"}


def test_private_key_jwt_documents_keep_their_keys(settings: IssuerSettings) -> None:
    jwks = {"keys": [rsa_jwk()]}
    body = document(token_endpoint_auth_method="private_key_jwt", jwks=jwks)
    assert validate_document(body, URL, settings)["jwks"] == jwks
    body = document(token_endpoint_auth_method="private_key_jwt", jwks_uri=URL + "/jwks")
    assert validate_document(body, URL, settings)["jwks_uri"] == URL + "/jwks"


def test_registration_keys_are_public_asymmetric_signing_keys(settings: IssuerSettings) -> None:
    base = {"redirect_uris": ["https://app.example.com/cb"]}
    private = ec.generate_private_key(ec.SECP256R1())
    leaked = ECAlgorithm.to_jwk(private, as_dict=True)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"jwks": {"keys": [leaked]}}, "private or symmetric"),
        ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "public RSA/EC/OKP"),
        ({"jwks": {"keys": [{**rsa_jwk(), "alg": "HS256"}]}}, "asymmetric"),
        ({"jwks": {"keys": []}}, "1 to 10 keys"),
        ({"jwks": [rsa_jwk()]}, "JWK Set"),
        ({"jwks": {"keys": [rsa_jwk()]}, "jwks_uri": "https://a.example/j"}, "not both"),
        ({"jwks_uri": "http://a.example/j"}, "https"),
        ({}, "needs jwks or jwks_uri"),
    ]
    for members, why in bad:
        data = {**base, "token_endpoint_auth_method": "private_key_jwt", **members}
        with pytest.raises(InvalidClientMetadata) as caught:
            validate_client_metadata(data, settings)
        assert why in caught.value.description, members
    ok = {**base, "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [rsa_jwk()]}}
    assert "jwks" in validate_client_metadata(ok, settings)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"cache-control": "max-age=600"}, 600),
        ({"cache-control": "public, max-age=10"}, 60),  # floor
        ({"cache-control": "max-age=999999"}, 3600),  # ceiling
        ({"cache-control": "no-store"}, 60),
        ({"cache-control": "no-cache, max-age=600"}, 60),
        ({}, 60),
        ({"expires": "Thu, 01 Jan 1970 00:20:00 GMT"}, 1200 - 100),
        (
            {"expires": "Thu, 01 Jan 1970 00:20:00 GMT", "date": "Thu, 01 Jan 1970 00:10:00 GMT"},
            600,
        ),
        ({"cache-control": "max-age=900", "expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, 900),
        ({"expires": "garbage"}, 60),
        ({"cache-control": "max-age=abc"}, 60),
    ],
)
def test_cache_lifetime_follows_http_caching_within_bounds(
    headers: dict[str, str], seconds: int
) -> None:
    assert cache_seconds(headers, 100, floor=60, ceiling=3600) == seconds


def test_the_consent_identity_of_a_document_client(settings: IssuerSettings) -> None:
    trusted = dataclasses.replace(settings.cimd, trusted_hosts=frozenset({"app.example.com"}))
    loopback = identity_html(URL, "http://localhost:4000/cb", settings.cimd)
    assert 'Verified identity: <code><bdi dir="ltr">app.example.com</bdi></code>' in loopback
    assert "know and trust" in loopback and "Any program running there" in loopback
    web = identity_html(URL, "https://app.example.com/cb", trusted)
    assert "vouches for" in web and "Any program running there" not in web
    query = "https://app.example.com/c?a=1&x='y'"
    escaped = identity_html(query, "https://app.example.com/cb", settings.cimd)
    assert "a=1&amp;x=&#x27;y&#x27;" in escaped and "'y'" not in escaped
    assert identity_html("0123456789abcdef", "http://localhost/cb", settings.cimd) == ""
