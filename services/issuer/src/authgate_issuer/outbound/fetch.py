"""Fetching a small JSON document from a URL a client chose, safely.

Rules (draft-ietf-oauth-client-id-metadata-document §4.1 and §6, RFC 9700 §4.15):

* https only; the address connected to is checked at connect time (``guarded_backend``) and the
  certificate is verified for the URL's host name (SNI), against ``SSL_CERT_FILE`` or certifi;
* no redirects: a 3xx is a failure (following one would be a second, unchecked request target);
  only 200 with a JSON media type counts;
* ``CIMD_FETCH_TIMEOUT_MS`` bounds the whole fetch (resolve, connect, TLS, headers, body), not
  each step, so a slow-drip server cannot hold a request for longer;
* ``CIMD_MAX_DOCUMENT_BYTES``: a larger declared length is refused before reading, and reading
  stops as soon as the body passes the cap (counted after decoding, so compression cannot
  inflate past it);
* nothing of ours is sent: no cookies (the client's jar refuses every cookie), no credentials,
  no proxy or ``.netrc`` from the environment (``trust_env=False``).

One ``httpx.AsyncClient`` is made at start-up (``open_document_client``) and passed in.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy

import certifi
import httpcore
import httpx

from ..settings import CimdSettings
from .guarded_backend import DestinationRefused, GuardedBackend, Resolver, system_resolver

HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "identity",
    "User-Agent": "Authgate (client metadata fetcher)",
}


class FetchError(Exception):
    """The document could not be fetched; the message says why, for the error page."""


@dataclass(frozen=True)
class Fetched:
    body: bytes
    headers: httpx.Headers


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose network backend is the guarded one
    (httpx has no parameter for the backend, so the pool is replaced after construction)."""

    def __init__(self, context: ssl.SSLContext, backend: GuardedBackend) -> None:
        super().__init__(verify=context, trust_env=False, retries=0)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context, network_backend=backend, max_connections=20, keepalive_expiry=5.0
        )


def open_document_client(
    settings: CimdSettings, *, resolve: Resolver = system_resolver
) -> httpx.AsyncClient:
    """The one client of every outbound document fetch (close it with ``aclose``)."""
    context = ssl.create_default_context(cafile=str(settings.ca_file or certifi.where()))
    backend = GuardedBackend(allow_private=settings.allow_private_addresses, resolve=resolve)
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(
        transport=_GuardedTransport(context, backend),
        headers=HEADERS,
        cookies=no_cookies,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(settings.fetch_timeout),
    )


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _read(client: httpx.AsyncClient, url: str, max_bytes: int) -> Fetched:
    async with client.stream("GET", url) as response:
        status = response.status_code
        if 300 <= status < 400:
            raise FetchError(
                f"answered with a redirect (HTTP {status}); redirects are not followed"
            )
        if status != 200:
            raise FetchError(f"answered HTTP {status} instead of 200")
        if not _is_json(response.headers.get("content-type")):
            raise FetchError("is not served as application/json")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"is larger than {max_bytes} bytes")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(f"is larger than {max_bytes} bytes")
        return Fetched(bytes(body), response.headers)


async def fetch_json(
    client: httpx.AsyncClient, url: str, *, seconds: float, max_bytes: int
) -> Fetched:
    """The body and headers of a 200 JSON answer at ``url`` within ``seconds`` in all;
    FetchError otherwise."""
    if httpx.URL(url).scheme != "https":
        raise FetchError("is not an https URL")
    try:
        async with asyncio.timeout(seconds):
            return await _read(client, url, max_bytes)
    except TimeoutError:
        raise FetchError(f"did not answer within {seconds:g} s") from None
    except DestinationRefused as exc:
        raise FetchError(f"may not be fetched: {exc}") from None
    except ssl.SSLError as exc:
        raise FetchError(f"failed TLS verification ({exc.reason})") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"could not be fetched ({type(exc).__name__}: {exc})") from None
