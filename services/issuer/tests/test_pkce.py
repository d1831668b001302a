"""PKCE at the token endpoint (RFC 7636 §4.1, §4.6): every mistake is refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from authgate_issuer.oauth import pkce
from authgate_issuer.oauth.errors import InvalidGrant, InvalidRequest
from authgate_issuer.settings import IssuerSettings
from testsupport.token_clients import (
    OMIT,
    VERIFIER,
    auth,
    challenge,
    code_form,
    issue_code,
    register_client,
)


def test_valid_verifier_with_every_unreserved_character() -> None:
    verifier = "AZaz09-._~" * 5
    pkce.verify(verifier, challenge(verifier))
    pkce.verify("a" * 128, challenge("a" * 128))
    pkce.verify("a" * 43, challenge("a" * 43))


@pytest.mark.parametrize(
    ("verifier", "error"),
    [
        (None, InvalidRequest),  # missing
        ("a" * 42, InvalidGrant),  # too short
        ("a" * 129, InvalidGrant),  # too long
        ("a" * 42 + "+", InvalidGrant),  # outside [A-Za-z0-9-._~]
        ("a" * 42 + "é", InvalidGrant),
        ("b" * 43, InvalidGrant),  # well-formed, wrong
    ],
)
def test_bad_verifiers_are_refused(verifier: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        pkce.verify(verifier, challenge("a" * 43))


@pytest.mark.parametrize("length", [42, 129])
def test_lengths_outside_43_to_128_are_refused_even_with_their_own_challenge(length: int) -> None:
    # RFC 7636 §4.1: 43 to 128 characters. Paired with its own challenge, the verifier would pass
    # the hash comparison, so only the length rule can refuse it.
    verifier = "a" * length
    with pytest.raises(InvalidGrant, match="43-128"):
        pkce.verify(verifier, challenge(verifier))


def test_plain_method_is_not_accepted() -> None:
    # With "plain" the challenge would equal the verifier; S256 only (OAuth 2.1 §4.1.1).
    verifier = "a" * 43
    with pytest.raises(InvalidGrant):
        pkce.verify(verifier, verifier)


@pytest.mark.parametrize(
    ("verifier", "error"),
    [
        (OMIT, "invalid_request"),
        ("x" * 43, "invalid_grant"),
        (VERIFIER[:-1] + "!", "invalid_grant"),
        ("short", "invalid_grant"),
    ],
)
def test_token_endpoint_refuses_pkce_mistakes_and_burns_the_code(
    client: TestClient, settings: IssuerSettings, verifier: str, error: str
) -> None:
    creds = register_client(settings, "pkce-client")
    headers, fields = auth(creds)
    code = issue_code(settings, creds.client_id)
    bad = client.post(
        "/token", data={**code_form(code, code_verifier=verifier), **fields}, headers=headers
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == error
    # One attempt per code: the right verifier afterwards is too late.
    retry = client.post("/token", data={**code_form(code), **fields}, headers=headers)
    assert retry.status_code == 400
    assert retry.json()["error"] == "invalid_grant"


def test_correct_verifier_is_accepted(client: TestClient, settings: IssuerSettings) -> None:
    creds = register_client(settings, "pkce-ok")
    headers, fields = auth(creds)
    code = issue_code(settings, creds.client_id)
    response = client.post("/token", data={**code_form(code), **fields}, headers=headers)
    assert response.status_code == 200, response.text
