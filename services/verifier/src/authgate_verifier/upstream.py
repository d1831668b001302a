"""The user's upstream token for services whose policy sets ``inject_upstream_token``.

The MCP authorization spec forbids token passthrough: an MCP server must not use the client's
token upstream. A server that expects a GitHub token in ``Authorization`` (GitHub's own MCP
server, unmodified) can still sit behind the gateway: for such a service the verifier asks the
issuer for the user's upstream token by RFC 8693 token exchange, as a confidential client
(``TOKEN_EXCHANGE_*``), and its 200 carries ``Authorization: Bearer <upstream token>``, which the
proxy puts in place of the client's header. The client's token never reaches that server.

The answer is cached per client token with the verdict (``TokenCache.put_upstream``), never past
the upstream token's expiry less ``EXPIRY_MARGIN``, and it is read only after the token passed
the revocation check. Concurrent requests with one token share one exchange (single-flight).
Failures fail closed: 503 + Retry-After (issuer or GitHub unreachable, misconfiguration), 401
when the issuer refuses the subject token, 403 when the grant keeps no upstream token. Neither
token is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from base64 import b64encode
from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import orjson

from authgate_shared.errors import (
    ACCESS_DENIED,
    INVALID_CLIENT,
    INVALID_REQUEST,
    INVALID_TARGET,
    INVALID_TOKEN,
    TEMPORARILY_UNAVAILABLE,
    UNAUTHORIZED_CLIENT,
)
from authgate_shared.runtime import Clock
from authgate_shared.server.response_head import PREPARED_KEY, prepare_head

from .challenge import Message
from .decision import Denial, VerifiedToken
from .settings import TokenExchange
from .token_cache import Exchanged, TokenCache

LOG = logging.getLogger("authgate.verifier")
# RFC 8693 §2.1 / §3
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
UPSTREAM_AUDIENCE = "github"
"""The issuer's name for the GitHub API as an exchange ``audience`` (docs: Upstream tokens)."""
EXPIRY_MARGIN = 60.0
"""Seconds before the upstream token's expiry at which a cached answer is no longer used: a
request forwarded just before must still reach GitHub with a live token."""
TIMEOUT = httpx.Timeout(10.0, connect=2.0)
RETRY_AFTER = "2"
LOG_EVERY = 10.0
# What a header value may hold: visible ASCII, no space (RFC 6750 §2.1 b64token is narrower;
# GitHub's tokens are [A-Za-z0-9_]). A CR/LF must never reach the proxy (response splitting).
_SAFE_TOKEN = re.compile(rb"[\x21-\x7e]{1,4096}").fullmatch

NO_UPSTREAM_TOKEN = Denial(
    403,
    ACCESS_DENIED,
    "no_upstream_token",
    "this service acts as you upstream and your sign-in keeps no upstream token:"
    " sign in again to allow it",
)
SUBJECT_REFUSED = Denial(
    401, INVALID_TOKEN, "upstream_refused", "the authorization server refused this token"
)
UNAVAILABLE = Denial(
    503,
    TEMPORARILY_UNAVAILABLE,
    "upstream_unavailable",
    "upstream token unavailable, retry shortly",
)
NO_TOKEN_TEXT = "keeps no upstream token"
OUTCOMES = ("ok", "no_upstream_token", "invalid_token", "unavailable", "misconfigured", "invalid")
"""Labels of ``authgate_verifier_upstream_exchanges_total``: a fixed set."""


@dataclass(frozen=True, slots=True)
class Issued:
    token: bytes
    expires_in: int | None


def interpret(status: int, body: bytes) -> tuple[str, Issued | Denial]:
    """(metrics outcome, the upstream token or the denial) for the issuer's answer (RFC 8693
    §2.2.1 success, §2.2.2 errors in the RFC 6749 §5.2 shape)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return ("unavailable" if status >= 500 else "invalid"), UNAVAILABLE
    if status == 200:
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if (
            not isinstance(token, str)
            or not _SAFE_TOKEN(token.encode("utf-8", "replace"))
            or data.get("issued_token_type") != ACCESS_TOKEN_TYPE
            or str(data.get("token_type", "")).lower() != "bearer"
            or not (expires_in is None or (type(expires_in) is int and expires_in >= 0))
        ):
            return "invalid", UNAVAILABLE
        return "ok", Issued(token.encode("ascii"), expires_in)
    error, description = data.get("error"), str(data.get("error_description", ""))
    # RFC 8693 §2.2.2 has one code for every unusable subject token; the issuer's description
    # tells the grant without an upstream token (a new sign-in helps, the token itself is live)
    # from a revoked or foreign token (oauth/grants/token_exchange.py, upstream/vault.py).
    if error == INVALID_REQUEST and NO_TOKEN_TEXT in description.lower():
        return "no_upstream_token", NO_UPSTREAM_TOKEN
    if error == INVALID_REQUEST:
        return "invalid_token", SUBJECT_REFUSED
    if error in (INVALID_CLIENT, UNAUTHORIZED_CLIENT, INVALID_TARGET):
        return "misconfigured", UNAVAILABLE
    return ("unavailable" if status >= 500 else "invalid"), UNAVAILABLE


def with_authorization(start: Message, token: bytes) -> Message:
    """``start`` (a token's prepared 200 without X-Auth-Token) plus the upstream token."""
    headers = [*start["headers"], (b"authorization", b"Bearer " + token)]
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": headers,
        PREPARED_KEY: prepare_head(headers),
    }


def basic_auth(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: each part form-urlencoded before Base64."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + b64encode(raw).decode("ascii")


class UpstreamTokens:
    def __init__(
        self,
        http: httpx.AsyncClient,
        config: TokenExchange,
        cache: TokenCache,
        counts: Counter[str],
        *,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self._http = http
        self._url = config.url
        self._auth = basic_auth(config.client_id, config.client_secret)
        self._cache = cache
        self._counts = counts
        self._monotonic = monotonic
        self._inflight: dict[bytes, asyncio.Future[Exchanged]] = {}
        self._logged: dict[str, float] = {}

    async def answer(self, token: bytes, verified: VerifiedToken, now: float) -> Exchanged:
        """The 200 carrying the upstream token, or the denial (UNAVAILABLE: 503)."""
        cached = self._cache.get_upstream(token, now)
        if cached is not None:
            return cached
        flight = self._inflight.get(token)
        if flight is None:
            flight = asyncio.ensure_future(self._exchange(token, verified, now))
            self._inflight[token] = flight
            flight.add_done_callback(lambda _: self._inflight.pop(token, None))
        # Shielded: a proxy that gives up on one request must not cancel the others' exchange.
        return await asyncio.shield(flight)

    async def _exchange(self, token: bytes, verified: VerifiedToken, now: float) -> Exchanged:
        form = {
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": token.decode("ascii"),
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "audience": UPSTREAM_AUDIENCE,
        }
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        try:
            response = await self._http.post(self._url, data=form, headers=headers, timeout=TIMEOUT)
            outcome, result = interpret(response.status_code, response.content)
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            outcome, result, status = "unavailable", UNAVAILABLE, type(exc).__name__
        self._counts[outcome] += 1
        if isinstance(result, Issued):
            start = with_authorization(verified.ok_start_plain, result.token)
            valid_for = None if result.expires_in is None else result.expires_in - EXPIRY_MARGIN
            self._cache.put_upstream(token, start, now, exp=verified.exp, valid_for=valid_for)
            return start
        if result is NO_UPSTREAM_TOKEN:
            # The grant behind this token will not gain one: a new sign-in makes a new token.
            self._cache.put_upstream(token, result, now, exp=verified.exp, valid_for=None)
        elif result is UNAVAILABLE:
            self._warn(outcome, status)
        return result

    def _warn(self, outcome: str, status: str) -> None:
        """At most one line per outcome every LOG_EVERY seconds; the status only, no body (an
        answer could echo a token)."""
        now = self._monotonic()
        if now - self._logged.get(outcome, -LOG_EVERY) >= LOG_EVERY:
            self._logged[outcome] = now
            LOG.warning("token exchange for an upstream token failed: %s (%s)", outcome, status)


async def upstream_answer(
    upstream: UpstreamTokens | None, token: bytes, verified: VerifiedToken, now: float
) -> Exchanged:
    """``upstream.answer``; 503 while there is none (a verifier whose lifespan has not run)."""
    if upstream is None:
        return UNAVAILABLE
    return await upstream.answer(token, verified, now)
