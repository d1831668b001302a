"""Client ID Metadata Documents end to end: real issuer processes (two replicas on one Redis),
the real verifier, the GitHub stand-in, and client documents served over real TLS by a local
HTTPS server whose test CA the issuers trust through SSL_CERT_FILE
(CIMD_ALLOW_PRIVATE_ADDRESSES=true lets them reach it on loopback)."""

from __future__ import annotations

import html
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import redis

from authgate_shared import redis_keys
from testsupport.admin_cli import admin_env, run
from testsupport.browser_flow import Browser, new_pkce
from testsupport.https_documents import DocumentServer
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack

LOOPBACK_REDIRECTS = ["http://localhost/callback", "http://127.0.0.1/callback"]
CALLBACK = "http://localhost:53123/callback"  # any port matches the port-less registration


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    server = DocumentServer(tmp_path_factory.mktemp("cimd-docs")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, docs: DocumentServer) -> Iterator[Stack]:
    env = {
        "SSL_CERT_FILE": str(docs.ca_file),
        "CIMD_ALLOW_PRIVATE_ADDRESSES": "true",
        "CIMD_CACHE_MIN_SECONDS": "1",
        "CIMD_CACHE_MAX_SECONDS": "30",
        "CIMD_NEGATIVE_CACHE_SECONDS": "2",
        "CIMD_FETCH_TIMEOUT_MS": "1000",
        "CIMD_FETCHES_PER_HOST_PER_MINUTE": "1000",
        "CIMD_TRUSTED_HOSTS": "127.0.0.1",
    }
    options = StackOptions(issuers=2, issuer_env=env)
    with running_stack(tmp_path_factory.mktemp("cimd-stack"), options) as running:
        yield running


@pytest.fixture
def store(stack: Stack) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(stack.redis_url)
    yield client
    client.close()


def publish(
    docs: DocumentServer,
    *,
    host: str = "localhost",
    headers: dict[str, str] | None = None,
    **members: Any,
) -> str:
    """A valid document at a new path (``members`` override or, as None, remove fields)."""
    path = f"/{uuid.uuid4().hex[:12]}/client.json"
    url = docs.url(path, host)
    body = {"client_id": url, "client_name": "Doc App", "redirect_uris": LOOPBACK_REDIRECTS}
    body.update(members)
    docs.serve(
        path,
        {k: v for k, v in body.items() if v is not None},
        headers={"Cache-Control": "max-age=60"} if headers is None else headers,
    )
    return url


def path_of(url: str) -> str:
    return httpx.URL(url).path


def authorize(issuer: str, client_id: str, redirect_uri: str = CALLBACK) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": new_pkce().challenge,
        "code_challenge_method": "S256",
        "state": "s",
        "resource": RESOURCE_A,
    }
    return httpx.get(f"{issuer}/authorize", params=params, timeout=10)


def token(issuer: str, form: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{issuer}/token", data=form, timeout=10)


def test_a_document_client_completes_the_whole_flow(stack: Stack, docs: DocumentServer) -> None:
    client_id = publish(docs, client_name="Doc App Flow")
    first, second = stack.issuers[0].url, stack.issuers[1].url

    page = authorize(first, client_id)
    assert page.status_code == 200, page.text
    assert "Doc App Flow" in page.text
    # The verified host of the client id, the redirect host, and the loopback warning.
    assert 'Verified identity: <code><bdi dir="ltr">localhost</bdi></code>' in page.text
    assert "Any program running there can present the same client id" in page.text
    assert "vouches" not in page.text and "know and trust" in page.text

    pkce = new_pkce()
    result = Browser(first).run(client_id, CALLBACK, pkce, resources=[RESOURCE_A])
    assert result.location.startswith(CALLBACK) and result.params["iss"] == stack.issuer_url
    form = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier,
        "client_id": client_id,
        "resource": RESOURCE_A,
    }
    answer = token(second, form)  # the other replica: the document comes from the shared cache
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == client_id and claims["aud"] == [RESOURCE_A]

    verdict = stack.verify(tokens["access_token"])
    assert verdict.status_code == 200 and verdict.headers["x-client-id"] == client_id

    refreshed = token(
        first,
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()

    seen = httpx.post(
        f"{second}/introspect", data={"token": new["access_token"], "client_id": client_id}
    ).json()
    assert seen["active"] is True and seen["client_id"] == client_id

    revoked = httpx.post(
        f"{first}/revoke", data={"token": new["refresh_token"], "client_id": client_id}
    )
    assert revoked.status_code == 200
    assert stack.verify(new["access_token"]).status_code == 401
    # One fetch for everything, across both replicas.
    assert docs.hits[path_of(client_id)] == 1

    listed = run(admin_env(stack.redis_url, stack.directory / "keys"), "clients", "list", "--json")
    rows = {row["client_id"]: row for row in listed.json()}
    assert (
        rows[client_id]["kind"] == "document" and rows[client_id]["client_name"] == "Doc App Flow"
    )


def login(stack: Stack, client_id: str) -> dict[str, Any]:
    pkce = new_pkce()
    result = Browser(stack.issuer_url).run(client_id, CALLBACK, pkce, resources=[RESOURCE_A])
    form = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier,
        "client_id": client_id,
    }
    answer = token(stack.issuer_url, form)
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def test_an_evicted_document_leaves_its_grants_alone(
    stack: Stack, docs: DocumentServer, store: redis.Redis
) -> None:
    """The stored client of a document is a cache: when it goes, its grants are not those of a
    deleted client (purge-expired --scan keeps them) and the next request fetches it again."""
    client_id = publish(docs)
    tokens = login(stack, client_id)
    store.delete(redis_keys.client(client_id), redis_keys.cimd_status(client_id))
    env = admin_env(stack.redis_url, stack.directory / "keys")
    assert run(env, "purge-expired", "--scan").code == 0
    assert stack.verify(tokens["access_token"]).status_code == 200
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refreshed = token(stack.issuer_url, {**form, "client_id": client_id})
    assert refreshed.status_code == 200, refreshed.text
    assert docs.hits[path_of(client_id)] == 2


def test_deleting_a_document_client_revokes_its_grants(stack: Stack, docs: DocumentServer) -> None:
    client_id = publish(docs)
    tokens = login(stack, client_id)
    env = admin_env(stack.redis_url, stack.directory / "keys")
    assert run(env, "clients", "delete", client_id).code == 0
    assert stack.verify(tokens["access_token"]).status_code == 401
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert token(stack.issuer_url, {**form, "client_id": client_id}).json()["error"] == (
        "invalid_grant"
    )


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


def assert_page(issuer: str, client_id: str, why: str) -> None:
    page = authorize(issuer, client_id)
    assert page.status_code == 400 and why in html.unescape(page.text), page.text
