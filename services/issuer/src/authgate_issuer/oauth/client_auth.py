"""Client authentication at /token, /revoke and /introspect (RFC 6749 §2.3, OAuth 2.1 §2.4).

Three methods, and a client must use the one it registered (``token_endpoint_auth_method``):

* ``client_secret_basic``: HTTP Basic, where user and password are the client id and secret,
  each form-urlencoded first (RFC 6749 §2.3.1), so they are url-decoded after base64;
* ``client_secret_post``: ``client_id`` and ``client_secret`` in the form body;
* ``none``: a public client sends only ``client_id``; it proves nothing, which is why public
  clients are held to PKCE and refresh-token rotation.

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

from ..context import IssuerContext
from ..store.clients import ClientRecord, load_client
from .credentials import hash_secret, verify_secret
from .errors import InvalidClient, InvalidRequest
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


def presented(request: Request, params: Params) -> Presented:
    """Which client the request claims to be and how it proves it (no Redis here, so the
    lookup can share a round trip with the request's other reads)."""
    header = request.headers.get("authorization")
    basic = parse_basic(header) if header else None
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


async def authenticate(ctx: IssuerContext, request: Request, params: Params) -> ClientRecord:
    """The authenticated client, or InvalidClient / InvalidRequest."""
    credentials = presented(request, params)
    return check(credentials, await load_client(ctx.redis, credentials.client_id, ctx.clock()))
