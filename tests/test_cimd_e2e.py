"""Client ID Metadata Documents end to end: real issuer processes (two replicas on one Redis),
the real verifier, the GitHub stand-in, and client documents served over real TLS by a local
HTTPS server whose test CA the issuers trust through SSL_CERT_FILE
(CIMD_ALLOW_PRIVATE_ADDRESSES=true lets them reach it on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import redis

from authgate_shared import redis_keys
from testsupport.admin_cli import admin_env, run
from testsupport.browser_flow import Browser, new_pkce
from testsupport.cimd_stack import (
    CALLBACK,
    authorize,
    cimd_stack,
    document_host,
    path_of,
    publish,
    token,
)
from testsupport.https_documents import DocumentServer
from testsupport.stack import RESOURCE_A, Stack


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


