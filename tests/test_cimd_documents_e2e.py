"""Client metadata documents refused, cached and budgeted through two real issuer replicas and a
local HTTPS document host: each unusable document and fetch failure, the client id URL rules,
HTTP caching within bounds shared by the replicas, negative caching, the per-host fetch budget
and the operator policy."""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from authgate_shared import redis_keys
from testsupport.cimd_stack import (
    LOOPBACK_REDIRECTS,
    assert_page,
    authorize,
    cimd_stack,
    document_host,
    path_of,
    publish,
    token,
)
from testsupport.https_documents import DocumentServer
from testsupport.stack import Stack


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    with document_host(tmp_path_factory.mktemp("cimd-docs")) as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, docs: DocumentServer) -> Iterator[Stack]:
    with cimd_stack(tmp_path_factory.mktemp("cimd-stack"), docs) as running:
        yield running


@pytest.fixture
def store(stack: Stack) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(stack.redis_url)
    yield client
    client.close()


BAD_DOCUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"client_id": "https://localhost/other.json"}, "not exactly the URL"),
    ({"redirect_uris": None}, "redirect_uris is required"),
    ({"client_name": None}, "has no client_name"),
    ({"client_secret": "shared"}, "must not contain client_secret"),
    ({"token_endpoint_auth_method": "client_secret_post"}, "none or private_key_jwt"),
    ({"token_endpoint_auth_method": "private_key_jwt"}, "needs jwks or jwks_uri"),
    ({"redirect_uris": ["http://evil.example/cb"]}, "non-loopback host"),
]


@pytest.mark.parametrize(("members", "why"), BAD_DOCUMENTS)
def test_an_unusable_document_gets_a_page_and_invalid_client(
    stack: Stack, docs: DocumentServer, members: dict[str, Any], why: str
) -> None:
    client_id = publish(docs, **members)
    assert_refused(stack, client_id, why)


def assert_refused(stack: Stack, client_id: str, why: str) -> None:
    page = authorize(stack.issuers[0].url, client_id)
    assert page.status_code == 400 and "location" not in page.headers
    assert page.headers["content-type"].startswith("text/html")
    assert "could not be verified" in page.text and why in html.unescape(page.text), page.text
    form = {"grant_type": "refresh_token", "refresh_token": "x.y", "client_id": client_id}
    answer = token(stack.issuers[1].url, form)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client" and why in answer.json()["error_description"]


def test_fetch_failures_are_refused(stack: Stack, docs: DocumentServer) -> None:
    target = publish(docs)
    moved = docs.serve("/moved/client.json", b"", status=301, headers={"Location": target})
    assert_refused(stack, moved, "redirects are not followed")
    assert docs.hits[path_of(target)] == 0

    big = docs.serve("/big/client.json", {"client_id": "x", "pad": "x" * 6000})
    assert_refused(stack, big, "larger than 5120 bytes")
    slow = docs.serve("/slow/client.json", {"client_id": "x"}, delay=1.5)
    assert_refused(stack, slow, "did not answer within 1 s")
    gone = docs.serve("/gone/client.json", {"client_id": "x"}, status=404)
    assert_refused(stack, gone, "HTTP 404")
    not_json = docs.serve("/html/client.json", b"<p>hi</p>", headers={"Content-Type": "text/html"})
    assert_refused(stack, not_json, "application/json")


@pytest.mark.parametrize(
    ("client_id", "why"),
    [
        ("http://localhost/client.json", "must be an https URL"),
        ("https://localhost/client.json#x", "fragment"),
        ("https://me@localhost/client.json", "username"),
        ("https://localhost/a/../client.json", "'..'"),
        ("https://localhost", "must have a path"),
    ],
)
def test_client_id_urls_are_checked_before_any_fetch(
    stack: Stack, docs: DocumentServer, client_id: str, why: str
) -> None:
    before = len(docs.seen)
    assert_refused(stack, client_id, why)
    assert len(docs.seen) == before


def test_the_redirect_uri_must_be_in_the_document(stack: Stack, docs: DocumentServer) -> None:
    client_id = publish(docs)
    page = authorize(stack.issuer_url, client_id, "http://localhost:9999/elsewhere")
    assert page.status_code == 400 and "location" not in page.headers
    assert "not registered for this application" in page.text


def test_trusted_hosts_are_named_as_vouched_for(stack: Stack, docs: DocumentServer) -> None:
    client_id = publish(docs, host="127.0.0.1", redirect_uris=["https://app.example.com/cb"])
    page = authorize(stack.issuer_url, client_id, "https://app.example.com/cb")
    assert page.status_code == 200, page.text
    assert "The operator of this gateway vouches for" in page.text
    assert "Any program running there" not in page.text  # no loopback redirect here


def test_the_cache_follows_http_caching_within_bounds_on_every_replica(
    stack: Stack, docs: DocumentServer, store: redis.Redis
) -> None:
    first, second = stack.issuers[0].url, stack.issuers[1].url
    short = publish(docs, headers={"Cache-Control": "max-age=2"})
    assert authorize(first, short).status_code == 200
    assert authorize(second, short).status_code == 200
    assert docs.hits[path_of(short)] == 1  # shared through Redis
    assert 0 < store.ttl(redis_keys.cimd_status(short)) <= 2
    time.sleep(2.2)
    assert authorize(second, short).status_code == 200
    assert docs.hits[path_of(short)] == 2  # expired as the header said

    long = publish(docs, headers={"Cache-Control": "max-age=999999"})
    assert authorize(first, long).status_code == 200
    assert 20 < store.ttl(redis_keys.cimd_status(long)) <= 30  # CIMD_CACHE_MAX_SECONDS
    never = publish(docs, headers={"Cache-Control": "no-store"})
    assert authorize(first, never).status_code == 200
    assert 0 < store.ttl(redis_keys.cimd_status(never)) <= 1  # CIMD_CACHE_MIN_SECONDS


def test_failures_are_cached_briefly(stack: Stack, docs: DocumentServer) -> None:
    path = f"/{uuid.uuid4().hex[:12]}/client.json"
    client_id = docs.serve(path, {"error": "down"}, status=503)
    assert authorize(stack.issuers[0].url, client_id).status_code == 400
    docs.serve(
        path, {"client_id": client_id, "client_name": "Back", "redirect_uris": LOOPBACK_REDIRECTS}
    )
    again = authorize(stack.issuers[1].url, client_id)
    assert again.status_code == 400 and "HTTP 503" in again.text  # remembered, not refetched
    assert docs.hits[path] == 1
    time.sleep(2.2)  # CIMD_NEGATIVE_CACHE_SECONDS
    assert authorize(stack.issuers[1].url, client_id).status_code == 200
    assert docs.hits[path] == 2


def test_fetches_per_host_are_limited_across_replicas(
    stack: Stack, docs: DocumentServer, store: redis.Redis
) -> None:
    if time.time() % 60 > 50:  # keep the three fetches in one fixed window
        time.sleep(61 - time.time() % 60)
    limited = stack.start_issuer(CIMD_FETCHES_PER_HOST_PER_MINUTE="2")
    store.delete(redis_keys.rate_limit("cimd_fetch", "localhost", int(time.time()) // 60))
    ids = [publish(docs) for _ in range(3)]
    assert authorize(limited.url, ids[0]).status_code == 200
    assert authorize(limited.url, ids[1]).status_code == 200
    page = authorize(limited.url, ids[2])
    assert (
        page.status_code == 429 and "too many client documents fetched from localhost" in page.text
    )
    answer = token(
        limited.url, {"grant_type": "refresh_token", "refresh_token": "a.b", "client_id": ids[2]}
    )
    assert answer.status_code == 429 and answer.json()["error"] == "too_many_requests"
    assert int(answer.headers["retry-after"]) > 0
    assert docs.hits[path_of(ids[2])] == 0
    assert store.get(redis_keys.cimd_status(ids[2])) is None  # a budget refusal is not cached


def test_the_operator_policy(stack: Stack, docs: DocumentServer) -> None:
    client_id = publish(docs)
    only_elsewhere = stack.start_issuer(CIMD_ALLOWED_HOSTS="clients.example.com")
    assert_page(only_elsewhere.url, client_id, "client ids on localhost are not accepted")
    disabled = stack.start_issuer(CIMD_ENABLED="false")
    assert_page(disabled.url, client_id, "does not accept client metadata document URLs")
    metadata = httpx.get(f"{disabled.url}/.well-known/oauth-authorization-server").json()
    assert metadata["client_id_metadata_document_supported"] is False
    public_only = stack.start_issuer(CIMD_ALLOW_PRIVATE_ADDRESSES="false")
    assert_page(public_only.url, client_id, "resolves to a loopback address")
    assert docs.hits[path_of(client_id)] == 0


def document_fetches(issuer: str) -> dict[str, float]:
    """The issuer's ``authgate_issuer_client_document_fetches`` counters, by outcome."""
    text = httpx.get(f"{issuer}/metrics", timeout=10).text
    found = re.findall(
        r'^authgate_issuer_client_document_fetches_total\{outcome="(\w+)"\} (\S+)$', text, re.M
    )
    return {outcome: float(value) for outcome, value in found}


def test_fetches_are_counted_by_outcome(stack: Stack, docs: DocumentServer) -> None:
    issuer = stack.issuers[0].url
    before = document_fetches(issuer)
    assert authorize(issuer, publish(docs)).status_code == 200
    assert authorize(issuer, publish(docs, client_name=None)).status_code == 400
    missing = docs.url(f"/{uuid.uuid4().hex[:12]}/absent.json")
    assert authorize(issuer, missing).status_code == 400
    after = document_fetches(issuer)
    for outcome in ("ok", "invalid", "fetch_failed"):
        assert after.get(outcome, 0) - before.get(outcome, 0) == 1, (outcome, before, after)
    assert after.get("budget", 0) == before.get("budget", 0)
