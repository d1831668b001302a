"""The precomputed documents answered before the framework (documents.IssuerApp): the same
answer as the framework's own routes, conditional requests, key rotation, metrics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from authgate_issuer.web.fast_documents import Document, IssuerApp

PATHS = ["/.well-known/oauth-authorization-server", "/jwks"]
# Differ per answer by design: the clock and a fresh id per request.
VOLATILE = {"date", "x-request-id"}


@pytest.fixture
def framework(client: TestClient) -> Iterator[TestClient]:
    """The same running app, entered through FastAPI's own __call__ (no fast path)."""
    app = client.app
    assert isinstance(app, IssuerApp)

    async def through_framework(scope: Scope, receive: Receive, send: Send) -> None:
        await FastAPI.__call__(app, scope, receive, send)

    with TestClient(through_framework, base_url="https://auth.example.com") as other:
        yield other


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in VOLATILE}


@pytest.mark.parametrize("path", PATHS)
def test_fast_answer_equals_the_framework_route(
    client: TestClient, framework: TestClient, path: str
) -> None:
    fast, slow = client.get(path), framework.get(path)
    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content
    assert _headers(fast) == _headers(slow)
    assert fast.headers["x-content-type-options"] == "nosniff"
    etag = fast.headers["etag"]
    for answer in (client, framework):
        again = answer.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag and "content-type" not in again.headers


@pytest.mark.parametrize(
    ("if_none_match", "matches"),
    [
        (None, False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
        ("abc", False),
    ],
)
def test_if_none_match_lists_and_weak_tags(if_none_match: str | None, matches: bool) -> None:
    # RFC 9110 §13.1.2: a list of entity tags or "*", weak comparison.
    assert Document(b"{}", '"abc"', "public").matches(if_none_match) is matches


def test_request_id_is_echoed_when_safe(client: TestClient) -> None:
    assert client.get("/jwks", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == (
        "abc-123"
    )
    made_up = client.get("/jwks", headers={"X-Request-Id": "bad\tid"}).headers["x-request-id"]
    assert made_up != "bad\tid" and len(made_up) == 32


def test_a_replaced_key_ring_is_served_at_once(client: TestClient) -> None:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    before = client.get("/jwks")
    old_key = ctx.keys.current
    new_key = replace(old_key, kid="rotated", public_jwk={**old_key.public_jwk, "kid": "rotated"})
    ctx.keys = replace(ctx.keys, current=new_key, previous=(old_key,))
    after = client.get("/jwks")
    assert [k["kid"] for k in before.json()["keys"]] == [old_key.kid]
    assert [k["kid"] for k in after.json()["keys"]] == ["rotated", old_key.kid]
    assert after.headers["etag"] != before.headers["etag"]


def test_other_methods_reach_the_framework(client: TestClient) -> None:
    assert client.post("/jwks").status_code == 405
    assert client.get("/jwks/", follow_redirects=False).status_code == 307


def test_fast_answers_are_counted_in_metrics(client: TestClient) -> None:
    client.get("/jwks")
    client.get("/jwks", headers={"If-None-Match": client.get("/jwks").headers["etag"]})
    text = client.get("/metrics").text
    assert 'authgate_issuer_requests_total{method="GET",route="/jwks",status="200"} 2.0' in text
    assert 'authgate_issuer_requests_total{method="GET",route="/jwks",status="304"} 1.0' in text


def test_documents_are_answered_without_the_framework(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(self: FastAPI, scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError(f"the framework was asked for {scope['path']}")

    monkeypatch.setattr(FastAPI, "__call__", unreachable)
    for path in PATHS:
        assert client.get(path).status_code == 200
    with pytest.raises(AssertionError, match="framework was asked"):
        client.post("/jwks")
