"""The client-metadata-document stack of the CIMD end-to-end tests: a local HTTPS document host
with its own test CA, two real issuer replicas trusting it, and the requests the tests make.
Used by ``tests/test_cimd_e2e.py`` and ``tests/test_cimd_documents_e2e.py``."""

from __future__ import annotations

import contextlib
import html
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from .browser_flow import new_pkce
from .https_documents import DocumentServer
from .stack import RESOURCE_A, Stack, StackOptions, running_stack

LOOPBACK_REDIRECTS = ["http://localhost/callback", "http://127.0.0.1/callback"]
CALLBACK = "http://localhost:53123/callback"  # any port matches the port-less registration


@contextlib.contextmanager
def document_host(directory: Path) -> Iterator[DocumentServer]:
    server = DocumentServer(directory).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def cimd_stack(directory: Path, docs: DocumentServer) -> Iterator[Stack]:
    """Two issuers trusting ``docs``' CA, with short cache bounds the tests can wait out."""
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
    with running_stack(directory, StackOptions(issuers=2, issuer_env=env)) as running:
        yield running


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


def assert_page(issuer: str, client_id: str, why: str) -> None:
    page = authorize(issuer, client_id)
    assert page.status_code == 400 and why in html.unescape(page.text), page.text
