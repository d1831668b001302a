"""The shape of a request to /token, /revoke and /introspect, each case paired with its control.

RFC 6749 §3.2 (and RFC 7009 §2.1, RFC 7662 §2.1): the parameters are an
``application/x-www-form-urlencoded`` body. A body of valid form fields sent under another media
type is refused as ``invalid_request`` before anything else is looked at, and the very same
request with the right type succeeds, so the media type alone is what refused it.
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient

from authgate_issuer.settings import IssuerSettings
from testsupport.token_clients import auth, code_form, issue_code, register_client

FORM_TYPE = "application/x-www-form-urlencoded"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def post(
    client: TestClient, path: str, fields: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    return client.post(path, content=urlencode(fields), headers=headers)


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
@pytest.mark.parametrize(
    "media_type", ["text/plain", "application/json", "multipart/form-data", ""]
)
def test_a_form_body_under_another_media_type_is_400(
    client: TestClient, settings: IssuerSettings, path: str, media_type: str
) -> None:
    register_client(settings, "conf")
    fields = {"token": "not-a-token"}
    headers = {**basic("conf", "s3cret"), "Content-Type": media_type}
    refused = post(client, path, fields, headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_request"
    assert FORM_TYPE in refused.json()["error_description"]
    for right in (FORM_TYPE, "Application/X-WWW-Form-Urlencoded; charset=UTF-8"):
        ok = post(client, path, fields, {**basic("conf", "s3cret"), "Content-Type": right})
        assert ok.status_code == 200, ok.text


def test_a_code_exchange_as_text_plain_is_400_and_leaves_the_code_usable(
    client: TestClient, settings: IssuerSettings
) -> None:
    creds = register_client(settings, "conf")
    headers, fields = auth(creds)
    code = issue_code(settings, creds.client_id)
    form = {**code_form(code), **fields}
    refused = post(client, "/token", form, {**headers, "Content-Type": "text/plain"})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_request"
    assert FORM_TYPE in refused.json()["error_description"]
    # Refused before the code was looked at: the same body with the form type redeems it.
    ok = post(client, "/token", form, {**headers, "Content-Type": FORM_TYPE})
    assert ok.status_code == 200, ok.text
    assert ok.json()["token_type"] == "Bearer"


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_basic_as_one_client_with_another_client_id_in_the_body_is_400(
    client: TestClient, settings: IssuerSettings, path: str
) -> None:
    """RFC 6749 §2.3: the request authenticates one client; a body naming another is an error."""
    register_client(settings, "client-a")
    register_client(settings, "client-b")
    fields = {"token": "not-a-token", "grant_type": "refresh_token", "refresh_token": "x.y"}
    form = {**fields, "client_id": "client-b"}
    headers = {**basic("client-a", "s3cret"), "Content-Type": FORM_TYPE}
    mixed = post(client, path, form, headers)
    assert mixed.status_code == 400, mixed.text
    assert mixed.json()["error"] == "invalid_request"
    assert "differs" in mixed.json()["error_description"]
    # The body naming the same client as Basic is fine: authenticated as client-a.
    same = post(client, path, {**fields, "client_id": "client-a"}, headers)
    if path == "/token":
        assert same.status_code == 400, same.text
        assert same.json()["error"] == "invalid_grant"  # past authentication, the grant is bad
    else:
        assert same.status_code == 200, same.text
