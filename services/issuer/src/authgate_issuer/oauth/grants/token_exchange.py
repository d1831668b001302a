"""The token-exchange grant of /token (RFC 8693): an MCP server gets the user's upstream token.

The MCP spec forbids token passthrough: a server must not send the token it received to another
service. A server that acts upstream as the user (GitHub's API) presents the access token it
received (``subject_token``) and gets the user's GitHub token from the vault (upstream.vault).

Who may: a confidential client created by the operator for this (``authgate clients
create-exchanger``; dynamic registration cannot grant ``grant_types`` of this type), for the
services it names (``exchange_resources``). What: a live access token of this server whose
audience is one of those services, whose grant covers that service. Every exchange, granted or
refused, is an audit event. Errors are RFC 8693 §2.2.2's: ``invalid_request`` for a subject
token that is invalid or unacceptable, ``invalid_target`` for an upstream we do not serve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from authgate_shared import claims as jwt_claims
from authgate_shared import redis_keys

from ...context import IssuerContext
from ...store import batch, grants
from ...store.clients import ClientRecord
from ...upstream import vault
from ...web import logs, metrics
from ..errors import (
    InvalidRequest,
    InvalidTarget,
    OAuthError,
    TemporarilyUnavailable,
    UnauthorizedClient,
)
from ..params import Params
from ..token_lookup import AccessToken, find_live_token

GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE: Final = "urn:ietf:params:oauth:token-type:jwt"
GITHUB_AUDIENCE: Final = "github"
EXCHANGE_RESOURCES: Final = "exchange_resources"
"""The client metadata field naming the MCP services an exchanging client acts for."""


@dataclass(frozen=True)
class TokenExchangeRequest:
    """A /token request of this grant type, parsed once from its form (RFC 8693 §2.1)."""

    subject_token: str = field(repr=False)
    subject_token_type: str
    targets: tuple[str, ...]
    """Every ``audience`` and ``resource`` value (the upstream named, by name or URI)."""
    requested_token_type: str | None = None
    grant_type: Literal["urn:ietf:params:oauth:grant-type:token-exchange"] = GRANT_TYPE


def parse(params: Params) -> TokenExchangeRequest:
    if params.get("actor_token") is not None or params.get("actor_token_type") is not None:
        # §2.1: delegation (an actor acting for the subject) is not offered: refuse rather
        # than ignore a parameter that would change the meaning of the token issued.
        raise InvalidRequest("actor_token is not supported: only impersonation is offered")
    return TokenExchangeRequest(
        subject_token=params.require("subject_token"),
        subject_token_type=params.require("subject_token_type"),
        targets=(*params.all("audience"), *params.all("resource")),
        requested_token_type=params.get("requested_token_type"),
    )


def admit(client: ClientRecord) -> None:
    """Only confidential clients the operator created for exchange (never by registration)."""
    if GRANT_TYPE not in client.grant_types or client.is_public:
        raise UnauthorizedClient("the client may not exchange tokens")


def prefetch(request: TokenExchangeRequest) -> batch.Read[None]:
    return batch.constant(None)


@dataclass(frozen=True)
class ExchangeResponse:
    """RFC 8693 §2.2.1: the user's upstream token."""

    access_token: str = field(repr=False)
    expires_in: int | None
    """None for a token that does not expire (GitHub OAuth apps): omitted."""

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
        }
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return body


def check_request(ctx: IssuerContext, request: TokenExchangeRequest) -> None:
    """The token types and the upstream named: GitHub (``audience=github``, or its API base
    URL as ``resource``/``audience``), the default when none is named."""
    if request.subject_token_type not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
        raise InvalidRequest(f"subject_token_type must be {ACCESS_TOKEN_TYPE}")
    if request.requested_token_type not in (None, ACCESS_TOKEN_TYPE):
        raise InvalidRequest(f"requested_token_type must be {ACCESS_TOKEN_TYPE}")
    known = {GITHUB_AUDIENCE, ctx.settings.github.api_url}
    if len(request.targets) > 1:
        raise InvalidTarget("name one upstream per exchange")
    if request.targets and request.targets[0] not in known:
        raise InvalidTarget(f"unknown upstream; use audience={GITHUB_AUDIENCE}")


def exchange_resources(client: ClientRecord) -> frozenset[str]:
    return frozenset(str(r) for r in client.metadata.get(EXCHANGE_RESOURCES, []))


async def handle(
    ctx: IssuerContext, *, client: ClientRecord, request: TokenExchangeRequest, prefetched: None
) -> ExchangeResponse:
    try:
        check_request(ctx, request)
    except OAuthError as malformed:
        raise _refused(client, None, malformed) from None
    found = await find_live_token(ctx, request.subject_token)
    if not isinstance(found, AccessToken):
        raise _refused(client, None, InvalidRequest("subject_token is not an active access token"))
    services = set(jwt_claims.audiences(found.claims)) & exchange_resources(client)
    if not services:
        foreign = InvalidRequest("subject_token was not issued for a service of this client")
        raise _refused(client, found, foreign)
    grant = await grants.load_grant(ctx.redis, redis_keys.grant_id_of_jti(str(found.claims["jti"])))
    if grant is None or services.isdisjoint(grant.resources):
        raise _refused(client, found, InvalidRequest("subject_token's grant is gone"))
    try:
        token = await vault.usable(ctx, grant)
    except vault.NoUpstreamToken as exc:
        raise _refused(client, found, InvalidRequest(str(exc)), outcome=exc.outcome) from None
    except vault.UpstreamRevoked:
        revoked = InvalidRequest("the user's upstream authorization was revoked; sign in again")
        raise _refused(client, found, revoked, outcome="revoked") from None
    except vault.UpstreamUnavailable as exc:
        unavailable = TemporarilyUnavailable(f"{exc}; retry shortly")
        raise _refused(client, found, unavailable, outcome="unavailable") from None
    metrics.upstream("exchange", "ok")
    logs.event(
        "token_exchanged",
        client_id=client.client_id,
        sub=found.claims.get("sub"),
        grant_id=grant.grant_id,
        services=sorted(services),
        upstream=GITHUB_AUDIENCE,
        expires_at=token.expires_at or None,
    )
    return ExchangeResponse(access_token=token.access_token, expires_in=token.expires_in(ctx.now()))


def _refused(
    client: ClientRecord, found: AccessToken | None, error: OAuthError, outcome: str = "denied"
) -> OAuthError:
    metrics.upstream("exchange", outcome)
    logs.event(
        "token_exchange_refused",
        client_id=client.client_id,
        sub=None if found is None else found.claims.get("sub"),
        error=error.code,
        reason=error.description,
    )
    return error
