"""Client authentication's private_key_jwt branch in-process (RFC 7523 §2.2, RFC 7521 §4.2):
how an assertion combines with the other methods, each refusal's answer, and what is never
shown of the presented credentials. /introspect answers ``{"active": false}`` once the client
is authenticated. The whole flow through real processes is tests/test_private_key_jwt.py."""

from __future__ import annotations

import base64
import dataclasses
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from authgate_issuer.oauth.client_auth import Presented
from authgate_issuer.oauth.credentials import hash_secret
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.clients import ClientRecord, save_client
from testsupport.client_assertions import ASSERTION_TYPE, ClientKey, assertion_form
from testsupport.token_clients import REDIRECT_URI, register_client, with_redis

KEY = ClientKey.rsa()
ISSUER = "https://auth.example.com"
FORM = {"token": "not-a-token"}


def register_key_client(
    settings: IssuerSettings, client_id: str = "pk", **metadata: object
) -> None:
    record = ClientRecord(
        client_id=client_id,
        metadata={
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["authorization_code", "refresh_token"],
            "jwks": KEY.jwks(),
            **metadata,
        },
        client_id_issued_at=int(time.time()),
        expires_at=0,
        registration_token_hash=hash_secret("rat-" + client_id),
    )
    with_redis(settings, lambda redis: save_client(redis, record, time.time()))


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def introspect(
    client: TestClient, fields: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return client.post("/introspect", data={**FORM, **fields}, headers=headers or {})


def assert_refused(response: httpx.Response, status: int, error: str, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert words in response.json()["error_description"], response.json()


@pytest.fixture
def key_client(settings: IssuerSettings) -> str:
    register_key_client(settings)
    return "pk"


def test_a_good_assertion_authenticates(client: TestClient, key_client: str) -> None:
    response = introspect(client, assertion_form(KEY.assertion(key_client, ISSUER)))
    assert response.status_code == 200, response.text
    same_id = {**assertion_form(KEY.assertion(key_client, ISSUER)), "client_id": key_client}
    assert introspect(client, same_id).status_code == 200


def test_an_assertion_with_another_method_is_invalid_request(
    client: TestClient, key_client: str, settings: IssuerSettings
) -> None:
    register_client(settings, "conf")
    form = assertion_form(KEY.assertion(key_client, ISSUER))
    with_basic = introspect(client, form, basic("conf", "s3cret"))
    assert_refused(with_basic, 400, "invalid_request", "only one client authentication method")
    with_secret = introspect(client, {**form, "client_secret": "s3cret"})
    assert_refused(with_secret, 400, "invalid_request", "only one client authentication method")


@pytest.mark.parametrize(
    "fields",
    [
        {"client_assertion_type": ASSERTION_TYPE},  # no assertion
        {"client_assertion": "x.y.z"},  # no type
        {"client_assertion_type": "urn:other", "client_assertion": "x.y.z"},
    ],
)
def test_an_incomplete_or_mistyped_assertion_is_invalid_client(
    client: TestClient, key_client: str, fields: dict[str, str]
) -> None:
    assert_refused(
        introspect(client, fields), 401, "invalid_client", "client_assertion_type must be"
    )


def test_a_malformed_assertion_is_invalid_client(client: TestClient, key_client: str) -> None:
    response = introspect(client, assertion_form("not-a-jwt"))
    assert_refused(response, 401, "invalid_client", "client_assertion")


def test_a_body_client_id_other_than_the_assertions_is_invalid_client(
    client: TestClient, key_client: str
) -> None:
    form = {**assertion_form(KEY.assertion(key_client, ISSUER)), "client_id": "someone-else"}
    assert_refused(introspect(client, form), 401, "invalid_client", "differs")


def test_an_assertion_for_a_client_of_another_method_or_none_is_refused(
    client: TestClient, settings: IssuerSettings
) -> None:
    register_client(settings, "conf")  # client_secret_basic
    for client_id in ("conf", "ghost"):
        response = introspect(client, assertion_form(KEY.assertion(client_id, ISSUER)))
        assert_refused(response, 401, "invalid_client", "client authentication failed")


def test_an_assertion_signed_by_another_key_is_refused(client: TestClient, key_client: str) -> None:
    other = ClientKey.rsa(KEY.kid)
    response = introspect(client, assertion_form(other.assertion(key_client, ISSUER)))
    assert_refused(response, 401, "invalid_client", "client_assertion")


def test_unreachable_client_keys_are_invalid_client(
    client: TestClient, settings: IssuerSettings
) -> None:
    register_key_client(settings, "far", jwks=None, jwks_uri="https://127.0.0.1:9/jwks.json")
    response = introspect(client, assertion_form(KEY.assertion("far", ISSUER)))
    assert_refused(response, 401, "invalid_client", "keys are unavailable")


def test_basic_credentials_must_be_strict_base64(
    client: TestClient, settings: IssuerSettings
) -> None:
    register_client(settings, "conf")
    good = base64.b64encode(b"conf:s3cret").decode()
    assert introspect(client, {}, {"Authorization": f"Basic {good}"}).status_code == 200
    junk = good[:4] + "!" + good[4:]  # the same bytes once the junk is dropped
    response = introspect(client, {}, {"Authorization": f"Basic {junk}"})
    assert_refused(response, 401, "invalid_client", "malformed Basic credentials")


def test_presented_credentials_never_show_their_secrets() -> None:
    presented = Presented("c1", "the-secret", "client_secret_post", "the.assertion.jwt")
    assert "the-secret" not in repr(presented) and "the.assertion" not in repr(presented)
    assert "c1" in repr(presented)
    with pytest.raises(dataclasses.FrozenInstanceError):
        presented.client_id = "c2"  # type: ignore[misc]


def test_a_client_id_document_that_cannot_be_fetched_is_invalid_client(
    client: TestClient,
) -> None:
    # A URL client id names a Client ID Metadata Document; a loopback one is never fetched.
    document = "https://127.0.0.1:9/client.json"
    token_form = {"grant_type": "refresh_token", "refresh_token": "x.y", "client_id": document}
    for fields in ({"client_id": document}, assertion_form(KEY.assertion(document, ISSUER))):
        response = introspect(client, fields)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"] == 'Basic realm="authgate"'
    # At /token the document is fetched (and the request counted) before anything else.
    response = client.post("/token", data=token_form)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
