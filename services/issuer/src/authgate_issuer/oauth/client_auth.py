"""Client authentication at /token, /revoke and /introspect (RFC 6749 §2.3, OAuth 2.1 §2.4).

Four methods, and a client must use the one it registered (``token_endpoint_auth_method``):

* ``client_secret_basic``: HTTP Basic, where user and password are the client id and secret,
  each form-urlencoded first (RFC 6749 §2.3.1), so they are url-decoded after base64;
* ``client_secret_post``: ``client_id`` and ``client_secret`` in the form body;
* ``none``: a public client sends only ``client_id``; it proves nothing, which is why public
  clients are held to PKCE and refresh-token rotation;
* ``private_key_jwt``: a JWT signed with the client's private key (RFC 7523 §2.2,
  ``client_assertion``), checked against its ``jwks`` or ``jwks_uri`` with a single-use ``jti``.

A client id that is a URL names a Client ID Metadata Document (``cimd``): the client is that
document, fetched or taken from the shared cache, and refused with the document's problem.

Using two methods at once is an error (RFC 6749 §2.3). Every authentication failure is a 401
``invalid_client`` with ``WWW-Authenticate: Basic`` (RFC 6749 §5.2; RFC 9110 §15.5.2 requires the
header on a 401). Secrets are compared in constant time against their stored SHA-256.

An unknown or expired client, a wrong secret and the wrong method get the very same answer
(``FAILED``), after the same work (one hash and compare, against a dummy hash when there is no
client): otherwise the answer tells an attacker which client ids exist, and which of them are
confidential, before they have guessed any secret.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from fastapi import Request

from ..cimd.client_id import is_url_client_id
from ..cimd.resolver import CimdRefused, find_client, resolve
from ..context import IssuerContext
from ..store.clients import ClientRecord
from ..web.rate_limits import Hit
from . import private_key_jwt
from .client_assertion import ASSERTION_TYPE, AssertionRefused, claimed_client
from .client_jwks import KeysUnavailable
from .credentials import hash_secret, verify_secret
from .errors import InvalidClient, InvalidRequest, TooManyRequests
from .params import Params, parse_form

CHALLENGE = {"WWW-Authenticate": 'Basic realm="authgate"'}
FORM = "application/x-www-form-urlencoded"
# Compared against when the client is unknown, so both paths cost the same hash and compare.
_DUMMY_HASH = hash_secret("authgate-no-such-client")
# The one description of every failure that depends on the client record (see above).
FAILED = (
    "client authentication failed: unknown or expired client, wrong credentials, or not the "
    "registered token_endpoint_auth_method"
)


def _fail(description: str) -> InvalidClient:
    return InvalidClient(description, headers=dict(CHALLENGE))


def parse_basic(header: str) -> tuple[str, str] | None:
    """(client_id, secret) from an ``Authorization: Basic`` header; None for other schemes."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _fail("malformed Basic credentials") from None
    user, colon, password = decoded.partition(":")
    if not colon:
        raise _fail("malformed Basic credentials")
    return unquote_plus(user), unquote_plus(password)


async def read_form(request: Request) -> Params:
    """The form body of a token, revocation or introspection request (RFC 6749 §3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise InvalidRequest(f"the request body must be {FORM}")
    return parse_form(await request.body())


@dataclass(frozen=True)
class Presented:
    """The credentials a request carries, before any lookup."""

    client_id: str
    secret: str | None = field(repr=False)
    method: str
    assertion: str | None = field(default=None, repr=False)
    """The ``client_assertion`` JWT of private_key_jwt."""


def _asserted(params: Params, basic: tuple[str, str] | None) -> Presented | None:
    """The credentials of a private_key_jwt request (RFC 7521 §4.2), or None for other methods."""
    kind, assertion = params.get("client_assertion_type"), params.get("client_assertion")
    if kind is None and assertion is None:
        return None
    if basic is not None or params.get("client_secret") is not None:
        raise InvalidRequest("use only one client authentication method (RFC 6749 §2.3)")
    if kind != ASSERTION_TYPE or assertion is None:
        raise _fail(f"client_assertion_type must be {ASSERTION_TYPE}, with a client_assertion")
    try:
        client_id = claimed_client(assertion)
    except AssertionRefused as exc:
        raise _fail(f"client_assertion {exc}") from None
    body_id = params.get("client_id")
    if body_id is not None and body_id != client_id:
        raise _fail("client_id differs from the client_assertion's iss and sub")
    return Presented(client_id, None, "private_key_jwt", assertion)


def presented(request: Request, params: Params) -> Presented:
    """Which client the request claims to be and how it proves it (no Redis here, so the
    lookup can share a round trip with the request's other reads)."""
    header = request.headers.get("authorization")
    basic = parse_basic(header) if header else None
    asserted = _asserted(params, basic)
    if asserted is not None:
        return asserted
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    if basic is not None:
        if body_secret is not None:
            raise InvalidRequest("use only one client authentication method (RFC 6749 §2.3)")
        if body_id is not None and body_id != basic[0]:
            raise InvalidRequest("client_id in the body differs from the authenticated client")
        return Presented(basic[0], basic[1], "client_secret_basic")
    if body_id is not None:
        method = "none" if body_secret is None else "client_secret_post"
        return Presented(body_id, body_secret, method)
    raise _fail("client authentication is required")


def check(credentials: Presented, client: ClientRecord | None) -> ClientRecord:
    """The client if ``credentials`` authenticate it; else InvalidClient."""
    secret = credentials.secret
    stored = client.client_secret_hash if client is not None else None
    # Always one hash and compare, whatever is missing, so timing does not tell the cases apart.
    secret_ok = verify_secret(secret or "", stored or _DUMMY_HASH) and secret is not None
    if client is None or client.auth_method != credentials.method:
        raise _fail(FAILED)
    if credentials.method != "none" and not (stored and secret_ok):
        raise _fail(FAILED)
    return client


def refused(exc: CimdRefused) -> InvalidClient | TooManyRequests:
    """The RFC 6749 §5.2 answer for a client metadata document that cannot be used now."""
    if exc.retry_after is not None:
        return TooManyRequests(exc.reason, headers={"Retry-After": str(exc.retry_after)})
    return _fail(exc.reason)


async def prepare_document(ctx: IssuerContext, client_id: str, hit: Hit | None) -> Hit | None:
    """For a URL client id: count the request's rate-limit ``hit`` first (before any fetch it
    may cause), then make its document fresh in the shared cache, so the request's reads find
    it; InvalidClient (or 429) when it cannot be used. The hit still to count: None then, else
    ``hit`` unchanged."""
    if not is_url_client_id(client_id):
        return hit
    if hit is not None:
        await hit.count(ctx)
    try:
        await resolve(ctx, client_id)
    except CimdRefused as exc:
        raise refused(exc) from None
    return None


async def verify(
    ctx: IssuerContext, credentials: Presented, client: ClientRecord | None
) -> ClientRecord:
    """``check``, and for private_key_jwt the assertion: signature by the client's keys, aud,
    exp, and its jti used for the first time (RFC 7523 §3)."""
    if credentials.method != "private_key_jwt" or credentials.assertion is None:
        return check(credentials, client)
    if client is None or client.auth_method != "private_key_jwt":
        raise _fail(FAILED)
    try:
        await private_key_jwt.authenticate(ctx, credentials.assertion, client)
    except AssertionRefused as exc:
        raise _fail(f"client_assertion {exc}") from None
    except KeysUnavailable as exc:
        raise _fail(f"the client's keys are unavailable: {exc}") from None
    return client


async def authenticate(ctx: IssuerContext, request: Request, params: Params) -> ClientRecord:
    """The authenticated client, or InvalidClient / InvalidRequest."""
    credentials = presented(request, params)
    try:
        client = await find_client(ctx, credentials.client_id)
    except CimdRefused as exc:
        raise refused(exc) from None
    return await verify(ctx, credentials, client)
