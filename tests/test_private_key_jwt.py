"""private_key_jwt client authentication (RFC 7523 §2.2/§3, RFC 7521 §4.2) through real
processes: a registered client with its JWK Set by value, and a Client ID Metadata Document
client whose keys are at a ``jwks_uri`` on the local HTTPS stand-in (test CA via SSL_CERT_FILE).
Each works at /token, /revoke and /introspect; each refusal (replayed jti, wrong aud, expired,
too long-lived, wrong key, symmetric or no algorithm, iss/sub mismatch) is a 401
``invalid_client``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization

from testsupport.admin_cli import admin_env, run
from testsupport.browser_flow import Browser, new_pkce
from testsupport.client_assertions import OMIT, ClientKey, assertion_form
from testsupport.https_documents import DocumentServer
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack

CALLBACK = "http://127.0.0.1:8765/callback"


@dataclass(frozen=True)
class KeyClient:
    client_id: str
    key: ClientKey
    jwks_path: str | None = None


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    server = DocumentServer(tmp_path_factory.mktemp("pkjwt-docs")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, docs: DocumentServer) -> Iterator[Stack]:
    env = {"SSL_CERT_FILE": str(docs.ca_file), "CIMD_ALLOW_PRIVATE_ADDRESSES": "true"}
    options = StackOptions(verifier=True, issuer_env=env)
    with running_stack(tmp_path_factory.mktemp("pkjwt-stack"), options) as running:
        yield running


def registered(stack: Stack) -> KeyClient:
    key = ClientKey.rsa()
    body = {
        "redirect_uris": [CALLBACK],
        "client_name": "Key client",
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": key.jwks(),
    }
    answer = httpx.post(f"{stack.issuer_url}/register", json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    info = answer.json()
    assert "client_secret" not in info and info["jwks"] == key.jwks()
    return KeyClient(info["client_id"], key)


def document(docs: DocumentServer) -> KeyClient:
    key = ClientKey.ec()
    base = f"/{uuid.uuid4().hex[:12]}"
    jwks_uri = docs.serve(f"{base}/jwks.json", key.jwks(), headers={"Cache-Control": "max-age=300"})
    client_id = docs.url(f"{base}/client.json")
    metadata = {
        "client_id": client_id,
        "client_name": "Key document client",
        "redirect_uris": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": jwks_uri,
    }
    docs.serve(f"{base}/client.json", metadata)
    return KeyClient(client_id, key, f"{base}/jwks.json")


@pytest.fixture(params=["registered", "document"])
def client(request: pytest.FixtureRequest, stack: Stack, docs: DocumentServer) -> KeyClient:
    return registered(stack) if request.param == "registered" else document(docs)


def introspect(stack: Stack, form: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{stack.issuer_url}/introspect", data={"token": "x", **form}, timeout=10)


def signed(stack: Stack, client: KeyClient, **claims: Any) -> dict[str, str]:
    return assertion_form(client.key.assertion(client.client_id, stack.issuer_url, **claims))


def test_the_whole_flow_authenticates_with_signed_assertions(
    stack: Stack, docs: DocumentServer, client: KeyClient
) -> None:
    issuer = stack.issuer_url
    pkce = new_pkce()
    result = Browser(issuer).run(client.client_id, CALLBACK, pkce, resources=[RESOURCE_A])
    form = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": CALLBACK,
        "code_verifier": pkce.verifier,
        # The token endpoint URL is an accepted audience too (RFC 7523 §3 item 3).
        **assertion_form(client.key.assertion(client.client_id, f"{issuer}/token")),
    }
    answer = httpx.post(f"{issuer}/token", data=form, timeout=10)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert stack.verify(tokens["access_token"]).headers["x-client-id"] == client.client_id

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    answer = httpx.post(f"{issuer}/token", data={**refresh, **signed(stack, client)}, timeout=10)
    assert answer.status_code == 200, answer.text
    new = answer.json()

    seen = introspect(stack, {**signed(stack, client), "token": new["access_token"]}).json()
    assert seen["active"] is True and seen["client_id"] == client.client_id
    # Without its assertion the client is not authenticated (it is not a public client).
    bare = httpx.post(
        f"{issuer}/revoke", data={"token": new["refresh_token"], "client_id": client.client_id}
    )
    assert bare.status_code == 401
    revoked = httpx.post(
        f"{issuer}/revoke", data={"token": new["refresh_token"], **signed(stack, client)}
    )
    assert revoked.status_code == 200
    assert stack.verify(new["access_token"]).status_code == 401
    if client.jwks_path is not None:
        assert docs.hits[client.jwks_path] == 1  # the JWK Set is cached in Redis


def test_a_jti_is_used_once(stack: Stack, client: KeyClient) -> None:
    form = signed(stack, client)
    assert introspect(stack, form).status_code == 200
    replay = introspect(stack, form)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    assert "already used" in replay.json()["error_description"]


def assert_refused(stack: Stack, form: dict[str, str], why: str) -> None:
    answer = introspect(stack, form)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client"
    assert why in answer.json()["error_description"]
    assert answer.headers["www-authenticate"].startswith("Basic")


def test_the_claims_are_checked(stack: Stack, client: KeyClient) -> None:
    now = int(time.time())
    cases: list[tuple[dict[str, Any], str]] = [
        ({"aud": "https://other-server.example.com"}, "aud must name this server"),
        ({"aud": OMIT}, "aud"),
        ({"exp": now - 120}, "has expired"),
        ({"exp": now + 3600}, "must expire within 300 s"),
        ({"exp": OMIT}, "numeric exp"),
        ({"jti": OMIT}, "must have a jti"),
        ({"nbf": now + 600}, "nbf in the future"),
        ({"sub": "someone-else"}, "iss and sub both equal"),
    ]
    for claims, why in cases:
        assert_refused(stack, signed(stack, client, **claims), why)


def test_the_signature_must_be_the_clients(stack: Stack, client: KeyClient) -> None:
    issuer = stack.issuer_url
    # Another key under the client's kid: a forged assertion.
    impostor = ClientKey(
        ClientKey.rsa().private if client.key.alg == "RS256" else ClientKey.ec().private,
        client.key.kid,
        client.key.alg,
    )
    assert_refused(
        stack, assertion_form(impostor.assertion(client.client_id, issuer)), "not signed"
    )
    # Algorithm confusion: HS256 keyed with the client's public key, and alg none.
    public_pem = client.key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims: dict[str, Any] = {"iss": client.client_id, "sub": client.client_id, "aud": issuer}
    claims |= {"exp": int(time.time()) + 60, "jti": uuid.uuid4().hex}
    forged_hs = _hs256(claims, public_pem)
    assert_refused(stack, assertion_form(forged_hs), "alg must be one of")
    unsigned = jwt.encode(claims, "", algorithm="none")
    assert_refused(stack, assertion_form(unsigned), "alg must be one of")


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 JWT keyed with ``secret`` (pyjwt refuses PEM-looking HMAC keys itself)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(orjson.dumps({"alg": "HS256", "typ": "JWT"})) + "." + b64(orjson.dumps(claims))
    mac = hmac.new(secret, head.encode(), hashlib.sha256).digest()
    return f"{head}.{b64(mac)}"


def test_the_request_must_be_consistent(stack: Stack, client: KeyClient) -> None:
    form = signed(stack, client)
    mismatch = introspect(stack, {**form, "client_id": "https://localhost/not-me.json"})
    assert mismatch.status_code == 401 and "differs" in mismatch.json()["error_description"]
    both = introspect(stack, {**signed(stack, client), "client_secret": "also"})
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    wrong_type = introspect(stack, {**form, "client_assertion_type": "urn:other"})
    assert wrong_type.status_code == 401
    # The registered method is private_key_jwt: presenting only the id is not enough.
    bare = introspect(stack, {"client_id": client.client_id})
    assert bare.status_code == 401


def test_a_public_client_cannot_switch_to_an_assertion(stack: Stack, tmp_path: Path) -> None:
    body = {"redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"}
    client_id = httpx.post(f"{stack.issuer_url}/register", json=body).json()["client_id"]
    key = ClientKey.rsa()
    assert_refused(
        stack,
        assertion_form(key.assertion(client_id, stack.issuer_url)),
        "client authentication failed",
    )


def test_a_key_client_gets_no_secret_from_the_cli(stack: Stack) -> None:
    client = registered(stack)
    env = admin_env(stack.redis_url, stack.directory / "keys")
    refused = run(env, "clients", "rotate-secret", client.client_id)
    assert refused.code == 2 and "authenticated by its keys" in refused.err


def test_a_rotated_key_makes_the_jwks_uri_fetched_again_once(
    stack: Stack, docs: DocumentServer
) -> None:
    client = document(docs)
    assert client.jwks_path is not None
    assert introspect(stack, signed(stack, client)).status_code == 200
    assert docs.hits[client.jwks_path] == 1
    new = ClientKey.ec(kid="ec-2")
    docs.serve(client.jwks_path, {"keys": [client.key.jwk(), new.jwk()]})
    rotated = KeyClient(client.client_id, new, client.jwks_path)
    assert introspect(stack, signed(stack, rotated)).status_code == 200
    assert docs.hits[client.jwks_path] == 2
    # A made-up kid right after: no second refetch (CIMD_CACHE_MIN_SECONDS), refused.
    stranger = KeyClient(client.client_id, ClientKey.ec(kid="ec-3"), client.jwks_path)
    assert_refused(stack, signed(stack, stranger), "names no key of the client")
    assert docs.hits[client.jwks_path] == 2


def test_an_unknown_kid_of_a_registered_client_is_refused(stack: Stack) -> None:
    client = registered(stack)
    stranger = KeyClient(client.client_id, ClientKey.rsa(kid="other"))
    assert_refused(stack, signed(stack, stranger), "names no key of the client")
