"""Client authentication (RFC 6749 §2.3) as /token, /revoke and /introspect apply it.

/introspect of a garbage token answers 200 ``{"active": false}`` once the client is
authenticated, so it shows cleanly whether authentication passed.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import quote_plus

import pytest
from fastapi.testclient import TestClient

from authgate_issuer.oauth import client_auth
from authgate_issuer.oauth.client_auth import Presented, check, parse_basic
from authgate_issuer.oauth.errors import InvalidClient
from authgate_issuer.settings import IssuerSettings
from testsupport.client_config import shape
from testsupport.token_clients import auth, register_client

FORM = {"token": "not-a-token"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def assert_invalid_client(response, *, challenge: bool = True) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["cache-control"] == "no-store"
    if challenge:
        assert response.headers["www-authenticate"] == 'Basic realm="authgate"'


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
def test_each_registered_method_authenticates(
    client: TestClient, settings: IssuerSettings, method: str
) -> None:
    creds = register_client(settings, f"c-{method}", method=method)
    headers, fields = auth(creds)
    response = client.post("/introspect", data={**FORM, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"active": False}


def test_basic_credentials_are_form_url_decoded(
    client: TestClient, settings: IssuerSettings
) -> None:
    # RFC 6749 §2.3.1: id and secret are application/x-www-form-urlencoded before Basic.
    secret = "p@ss:w/rd+x y%"
    creds = register_client(settings, "id:with space", secret=secret)
    encoded = basic(quote_plus(creds.client_id), quote_plus(secret))
    assert client.post("/introspect", data=FORM, headers=encoded).status_code == 200
    # Without the encoding, '+' means a space and '%' starts an escape: not the secret.
    raw = basic("id:with space", secret)
    assert_invalid_client(client.post("/introspect", data=FORM, headers=raw))


def test_parse_basic() -> None:
    assert parse_basic("Basic " + base64.b64encode(b"a%3Ab:c+d").decode()) == ("a:b", "c d")
    assert parse_basic("Bearer xyz") is None
    for bad in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        with pytest.raises(InvalidClient):
            parse_basic(bad)


def test_wrong_secret_is_401_with_challenge(client: TestClient, settings: IssuerSettings) -> None:
    creds = register_client(settings, "conf")
    assert_invalid_client(client.post("/introspect", data=FORM, headers=basic("conf", "wrong")))
    post = {**FORM, "client_id": "conf", "client_secret": "wrong"}
    assert_invalid_client(client.post("/introspect", data=post))
    assert creds.secret is not None


def test_confidential_client_without_secret_is_refused(
    client: TestClient, settings: IssuerSettings
) -> None:
    register_client(settings, "conf")
    assert_invalid_client(client.post("/introspect", data={**FORM, "client_id": "conf"}))


def test_method_must_be_the_registered_one(client: TestClient, settings: IssuerSettings) -> None:
    register_client(settings, "basic-only", method="client_secret_basic")
    register_client(settings, "post-only", method="client_secret_post")
    post = {**FORM, "client_id": "basic-only", "client_secret": "s3cret"}
    assert_invalid_client(client.post("/introspect", data=post))
    assert_invalid_client(
        client.post("/introspect", data=FORM, headers=basic("post-only", "s3cret"))
    )


def test_public_client_presenting_a_secret_is_refused(
    client: TestClient, settings: IssuerSettings
) -> None:
    register_client(settings, "public", method="none")
    assert_invalid_client(client.post("/introspect", data=FORM, headers=basic("public", "x")))


def test_unknown_and_expired_clients_are_refused(
    client: TestClient, settings: IssuerSettings
) -> None:
    assert_invalid_client(client.post("/introspect", data=FORM, headers=basic("ghost", "s3cret")))
    # Expiry compared with the clock: one client well inside its lifetime, one just past it.
    now = int(time.time())
    register_client(settings, "fresh", expires_at=now + 3600)
    assert client.post("/introspect", data=FORM, headers=basic("fresh", "s3cret")).status_code == 200
    register_client(settings, "old", expires_at=now - 1)
    assert_invalid_client(client.post("/introspect", data=FORM, headers=basic("old", "s3cret")))


def test_two_methods_at_once_is_invalid_request(
    client: TestClient, settings: IssuerSettings
) -> None:
    register_client(settings, "conf")
    both = {**FORM, "client_secret": "s3cret"}
    response = client.post("/introspect", data=both, headers=basic("conf", "s3cret"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_no_authentication_and_malformed_basic(
    client: TestClient, settings: IssuerSettings
) -> None:
    assert_invalid_client(client.post("/introspect", data=FORM))
    bad = {"Authorization": "Basic %%%"}
    assert_invalid_client(client.post("/introspect", data=FORM, headers=bad))


def test_body_must_be_form_encoded(client: TestClient, settings: IssuerSettings) -> None:
    register_client(settings, "conf")
    response = client.post(
        "/token", json={"grant_type": "refresh_token"}, headers=basic("conf", "s3cret")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/token", {"grant_type": "refresh_token", "refresh_token": "x.y"}),
        ("/revoke", FORM),
        ("/introspect", FORM),
    ],
)
def test_every_client_dependent_failure_gives_the_same_answer(
    client: TestClient, settings: IssuerSettings, path: str, form: dict[str, str]
) -> None:
    """RFC 6749 §5.2: one invalid_client for all, so the answer is no client-id oracle."""
    register_client(settings, "conf")
    register_client(settings, "post-only", method="client_secret_post")
    register_client(settings, "public", method="none")
    register_client(settings, "old", expires_at=int(time.time()) - 1)
    attempts: list[tuple[dict[str, str], dict[str, str]]] = [
        (basic("ghost", "s3cret"), {}),  # unknown
        ({}, {"client_id": "ghost"}),  # unknown, as a public client
        (basic("old", "s3cret"), {}),  # expired, right secret
        (basic("conf", "wrong"), {}),  # wrong secret
        ({}, {"client_id": "conf"}),  # confidential without a secret
        ({}, {"client_id": "conf", "client_secret": "s3cret"}),  # right secret, wrong method
        (basic("post-only", "s3cret"), {}),  # right secret, wrong method
        ({}, {"client_id": "public", "client_secret": "x"}),  # public with a secret
    ]
    answers = [
        client.post(path, data={**form, **fields}, headers=headers) for headers, fields in attempts
    ]
    assert_invalid_client(answers[0])
    assert "unknown" in answers[0].json()["error_description"]  # says every case, names none
    assert {shape(answer) for answer in answers} == {shape(answers[0])}


@pytest.mark.parametrize("secret", ["s3cret", None])
def test_an_unknown_client_costs_the_same_hash_and_compare(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    calls: list[tuple[str, str]] = []

    def counting(presented: str, stored_hash: str) -> bool:
        calls.append((presented, stored_hash))
        return False

    monkeypatch.setattr(client_auth, "verify_secret", counting)
    method = "none" if secret is None else "client_secret_basic"
    with pytest.raises(InvalidClient) as caught:
        check(Presented("ghost", secret, method), None)
    assert caught.value.description == client_auth.FAILED
    assert len(calls) == 1 and calls[0] == (secret or "", client_auth._DUMMY_HASH)
