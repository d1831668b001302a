"""CORS on the issuer (web.cors): preflights and Access-Control-Allow-Origin on the endpoints
browser clients fetch(), none on the navigations; the fast documents and the framework agree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from authgate_issuer.app import create_app
from authgate_issuer.settings import IssuerSettings
from authgate_shared.cors import CorsPolicy

ORIGIN = "http://localhost:6274"
API = {
    "/.well-known/oauth-authorization-server": "GET",
    "/.well-known/oauth-authorization-server/tenant": "GET",
    "/jwks": "GET",
    "/register": "POST",
    "/register/some-client": "PUT",
    "/token": "POST",
    "/revoke": "POST",
    "/introspect": "POST",
}
NAVIGATIONS = ("/authorize", "/authorize/consent", "/callback", "/health", "/metrics")


@pytest.mark.parametrize(("path", "method"), sorted(API.items()))
def test_preflight_is_answered(client: TestClient, path: str, method: str) -> None:
    answer = client.options(
        path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": method}
    )
    assert answer.status_code == 204, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    assert method in answer.headers["access-control-allow-methods"].split(", ")
    allowed = answer.headers["access-control-allow-headers"].lower().split(", ")
    assert {"authorization", "content-type", "mcp-protocol-version"} <= set(allowed)
    assert int(answer.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", NAVIGATIONS)
def test_navigations_get_no_cors(client: TestClient, path: str) -> None:
    answer = client.options(
        path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert answer.status_code in (404, 405)
    assert not [h for h in answer.headers if h.startswith("access-control-")]
    page = client.get(path, headers={"Origin": ORIGIN})
    assert not [h for h in page.headers if h.startswith("access-control-")]


def test_errors_carry_the_origin_header(client: TestClient) -> None:
    answers = [
        client.post("/token", data={"grant_type": "nope"}, headers={"Origin": ORIGIN}),  # no client
        client.post("/register", content=b"not json", headers={"Origin": ORIGIN}),
        client.get("/register/unknown", headers={"Origin": ORIGIN}),
        client.post("/revoke", data={"token": "x"}, headers={"Origin": ORIGIN}),
        client.post("/introspect", data={"token": "x"}, headers={"Origin": ORIGIN}),
        client.post(
            "/register",
            content=b"x" * (1 << 20),
            headers={"Origin": ORIGIN, "Content-Type": "application/json"},
        ),
    ]
    assert [a.status_code for a in answers] == [401, 400, 401, 401, 401, 413]
    for answer in answers:
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "WWW-Authenticate" in answer.headers["access-control-expose-headers"]
        assert "access-control-allow-credentials" not in answer.headers


def test_a_plain_options_is_no_preflight(client: TestClient) -> None:
    # Without Access-Control-Request-Method it is an ordinary request (405), still readable.
    answer = client.options("/token", headers={"Origin": ORIGIN})
    assert answer.status_code == 405
    assert answer.headers["access-control-allow-origin"] == "*"


@pytest.fixture
def listed(settings: IssuerSettings) -> Iterator[TestClient]:
    only = replace(settings, cors_allowed_origins=("http://localhost:6274", "https://ide.example"))
    with TestClient(create_app(only), base_url="https://auth.example.com") as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server", "/jwks"])
def test_a_listed_origin_is_echoed_on_documents_and_preflights(
    listed: TestClient, path: str
) -> None:
    for origin, echoed in ((ORIGIN, ORIGIN), ("HTTPS://IDE.example", "https://ide.example")):
        answer = listed.get(path, headers={"Origin": origin})
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == echoed
        assert answer.headers["vary"] == "Origin"
        pre = listed.options(
            path, headers={"Origin": origin, "Access-Control-Request-Method": "GET"}
        )
        assert pre.headers["access-control-allow-origin"] == echoed
    other = listed.get(path, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["vary"] == "Origin"
    pre = listed.options(
        "/token",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204 and "access-control-allow-origin" not in pre.headers


def test_policy_headers() -> None:
    assert CorsPolicy.of(("*",)).headers(None) == [(b"access-control-allow-origin", b"*")]
    named = CorsPolicy.of(("https://a.example",))
    assert named.headers(b"https://a.example") == [
        (b"access-control-allow-origin", b"https://a.example"),
        (b"vary", b"Origin"),
    ]
    assert named.headers(None) == named.headers(b"null") == [(b"vary", b"Origin")]


def test_a_repeated_origin_is_no_preflight(client: TestClient) -> None:
    answer = client.options(
        "/token",
        headers=[
            ("Origin", ORIGIN),
            ("Origin", "https://other.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
    )
    assert answer.status_code == 405
