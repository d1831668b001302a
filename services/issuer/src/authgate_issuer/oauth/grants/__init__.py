"""The grant types of /token, by ``grant_type`` (OAuth 2.1 §3.2.2): one module each.

``/token`` parses its form once (``parse``) into the typed request of the grant type it names
(``TokenRequest``, discriminated on ``grant_type``). Each grant module says what it reads
before deciding (``prefetch``: read in the request's first round trip with its rate-limit hit
and its client) and decides (``handle``). A new grant type is one module with the functions
of ``GrantType`` and one entry in ``GRANTS``.

Error order, as RFC 6749 §5.2 clients see it: a rate-limited request gets 429, then a client
that fails authentication ``invalid_client``, then a missing or unknown ``grant_type``
(``invalid_request``, ``unsupported_grant_type``), then a client not allowed the grant type
(``unauthorized_client``), then a missing parameter of it (``invalid_request``). A form refused
by ``parse`` therefore waits (``Refused``) until the client is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ...context import IssuerContext
from ...store import batch, clients
from ...store.clients import ClientRecord
from ...store.codes import AuthorizationCode
from ...store.grants import Grant
from ...web.rate_limits import Hit
from ..errors import InvalidRequest, OAuthError, UnsupportedGrantType
from ..issuance import TokenResponse
from ..params import Params
from . import authorization_code, refresh_token, token_exchange
from .authorization_code import AuthorizationCodeRequest
from .refresh_token import RefreshTokenRequest
from .token_exchange import ExchangeResponse, TokenExchangeRequest

R = TypeVar("R")
F = TypeVar("F")

TokenRequest = AuthorizationCodeRequest | RefreshTokenRequest | TokenExchangeRequest
"""A /token request, typed by its grant type (its ``grant_type`` field)."""
TokenAnswer = TokenResponse | ExchangeResponse
"""A successful /token answer (``body()`` is the JSON)."""


class GrantType(Protocol[R, F]):
    """What a grant module provides: ``R`` is its typed request, ``F`` what it prefetches."""

    def parse(self, params: Params) -> R:
        """The typed request; ``invalid_request`` when a required parameter is missing."""
        ...

    def admit(self, client: ClientRecord) -> None:
        """``unauthorized_client`` when the client may not use this grant type."""
        ...

    def prefetch(self, request: R) -> batch.Read[F]:
        """What ``handle`` needs read, in the request's first round trip."""
        ...

    async def handle(
        self, ctx: IssuerContext, *, client: ClientRecord, request: R, prefetched: F
    ) -> TokenAnswer:
        """The tokens, or the OAuth error that refuses them."""
        ...


_AUTHORIZATION_CODE: GrantType[AuthorizationCodeRequest, AuthorizationCode | None]
_AUTHORIZATION_CODE = authorization_code
_REFRESH_TOKEN: GrantType[RefreshTokenRequest, Grant | None] = refresh_token
_TOKEN_EXCHANGE: GrantType[TokenExchangeRequest, None] = token_exchange

GRANTS: dict[str, GrantType[Any, Any]] = {
    authorization_code.GRANT_TYPE: _AUTHORIZATION_CODE,
    refresh_token.GRANT_TYPE: _REFRESH_TOKEN,
    token_exchange.GRANT_TYPE: _TOKEN_EXCHANGE,
}
"""The registry: ``grant_type`` -> its grant module."""

GRANT_TYPES = tuple(GRANTS)
"""What the metadata advertises (RFC 8414 ``grant_types_supported``): the registry's keys."""
REGISTRABLE_GRANT_TYPES = (authorization_code.GRANT_TYPE, refresh_token.GRANT_TYPE)
"""What clients may register (RFC 7591 ``grant_types``, and metadata documents): token
exchange hands out users' upstream tokens, so only the operator creates such clients
(``authgate clients create-exchanger``)."""


@dataclass(frozen=True)
class Parsed:
    """A form naming a grant type of ``GRANTS``, with every parameter that type requires."""

    grant: GrantType[Any, Any]
    request: TokenRequest


@dataclass(frozen=True)
class Refused:
    """A form ``parse`` refused; ``error`` is raised once the client is authenticated, after
    ``grant``'s ``admit`` when the form named a known grant type."""

    grant: GrantType[Any, Any] | None
    error: OAuthError


TokenForm = Parsed | Refused


def parse(params: Params) -> TokenForm:
    """The form of a /token request, parsed once; never raises (see ``Refused``)."""
    grant_type = params.get("grant_type")
    if grant_type is None:
        return Refused(grant=None, error=InvalidRequest("the 'grant_type' parameter is required"))
    grant = GRANTS.get(grant_type)
    if grant is None:
        supported = ", ".join(GRANTS)
        return Refused(grant=None, error=UnsupportedGrantType(f"supported: {supported}"))
    try:
        return Parsed(grant=grant, request=grant.parse(params))
    except InvalidRequest as missing:
        return Refused(grant=grant, error=missing)


@dataclass(frozen=True)
class Prefetched:
    """What a token request read in its first round trip."""

    client: ClientRecord | None
    """The client it claims to be (not yet authenticated); None when unknown or expired."""
    for_grant: object
    """What its grant type's ``prefetch`` read (the stored code record, the grant); None when
    the form was refused."""


async def prefetch(
    ctx: IssuerContext, *, hit: Hit | None, client_id: str, form: TokenForm
) -> Prefetched:
    """Count ``hit`` (429 when over), and read the client and what the grant type needs: one
    round trip (store.batch), the busiest path of the issuer."""
    counted = hit.read() if hit is not None else batch.constant(0)
    client = clients.read_client(client_id, clock=ctx.clock)
    for_grant = (
        form.grant.prefetch(form.request) if isinstance(form, Parsed) else batch.constant(None)
    )
    replies = await batch.read(ctx.redis, counted, client, for_grant)
    if hit is not None:
        hit.check(replies[counted])
    return Prefetched(client=replies[client], for_grant=replies[for_grant])


async def handle(
    ctx: IssuerContext, *, client: ClientRecord, form: TokenForm, prefetched: object
) -> TokenAnswer:
    """Dispatch an authenticated client's request to its grant type (or raise its refusal)."""
    if form.grant is not None:
        form.grant.admit(client)
    if isinstance(form, Refused):
        raise form.error
    return await form.grant.handle(ctx, client=client, request=form.request, prefetched=prefetched)
