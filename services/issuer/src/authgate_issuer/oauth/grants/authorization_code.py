"""The ``authorization_code`` grant of /token (OAuth 2.1 §4.1.3).

The request's stored code record is taken (GETDEL) in the request's first round trip
(``prefetch``); ``handle`` decides whether it buys tokens, and ends in ``issuance``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from ...context import IssuerContext
from ...store import batch, codes, grants
from ...store.clients import ClientRecord
from ...store.codes import AuthorizationCode
from ...web import logs, metrics
from .. import pkce
from ..credentials import new_id
from ..errors import InvalidGrant, UnauthorizedClient
from ..issuance import TokenResponse, new_grant
from ..params import Params
from ..resource_indicators import narrow_resources
from .shared import client_reread, ensure_still_registered

GRANT_TYPE: Final = "authorization_code"


@dataclass(frozen=True)
class AuthorizationCodeRequest:
    """A /token request of this grant type, parsed once from its form."""

    code: str = field(repr=False)
    """The code as the client presented it (its stored record is ``stored_code``)."""
    redirect_uri: str | None
    code_verifier: str | None = field(repr=False)
    """PKCE (RFC 7636). Checked, as ``redirect_uri`` is, after the code is taken, so a request
    without it still spends the code."""
    resources: tuple[str, ...]
    """RFC 8707 ``resource`` values, in order."""
    grant_type: Literal["authorization_code"] = GRANT_TYPE


def parse(params: Params) -> AuthorizationCodeRequest:
    """The typed request; ``invalid_request`` when ``code`` is missing."""
    return AuthorizationCodeRequest(
        code=params.require("code"),
        redirect_uri=params.get("redirect_uri"),
        code_verifier=params.get("code_verifier"),
        resources=tuple(params.all("resource")),
    )


def admit(client: ClientRecord) -> None:
    """Only clients registered for this grant type may use it (RFC 7591 ``grant_types``)."""
    if GRANT_TYPE not in client.grant_types:
        raise UnauthorizedClient("the client is not registered for authorization_code")


def prefetch(request: AuthorizationCodeRequest) -> batch.Read[AuthorizationCode | None]:
    """The code's stored record, taken (GETDEL) before the client is authenticated: a request
    refused for its rate or its credentials spends the code. One use is the point (OAuth 2.1
    §4.1.3), and anyone holding a code can already spend it by presenting it from a client of
    their own, which is refused only after the code is taken."""
    return codes.take(request.code)


async def handle(
    ctx: IssuerContext,
    *,
    client: ClientRecord,
    request: AuthorizationCodeRequest,
    prefetched: AuthorizationCode | None,
) -> TokenResponse:
    """Redeem ``request.code``, whose stored record ``prefetched`` was already taken (GETDEL),
    so of concurrent redemptions exactly one can succeed, and a failed attempt burns the code.

    Then, in this order (store.batch), the redeemed-code marker names the grant id, one script
    writes the grant with its first access token, and the client is read again. A failure
    after GETDEL leaves the code used (one-time use is the point; the client starts a new
    authorization), never a grant without its marker: a retry with the code is a replay and
    revokes whatever this attempt created, so tokens whose response was lost do not outlive
    the retry.
    """
    stored_code = prefetched
    if stored_code is None:
        await _replayed(ctx, client=client, code=request.code)
        raise InvalidGrant("the authorization code is invalid, expired or already used")
    if stored_code.client_id != client.client_id:
        raise InvalidGrant("the authorization code was issued to another client")
    if stored_code.redirect_uri_in_request and request.redirect_uri != stored_code.redirect_uri:
        raise InvalidGrant("redirect_uri does not match the authorization request")
    pkce.verify(request.code_verifier, stored_code.code_challenge)
    resources = narrow_resources(
        requested=list(request.resources), granted=stored_code.resources, settings=ctx.settings
    )
    made = new_grant(
        ctx,
        client_id=client.client_id,
        username=stored_code.username,
        github_id=stored_code.github_id,
        scope=stored_code.scope,
        resources=resources,
        # Chosen at the callback when the user's GitHub token was sealed for it.
        grant_id=stored_code.grant_id or new_id(ctx.random),
        groups=stored_code.groups,
        membership_checked_at=stored_code.issued_at,
        upstream_token=stored_code.upstream_token,
        provider=stored_code.provider,
        email=stored_code.email,
    )
    grant = made.grant
    marker = codes.mark_redeemed(
        request.code,
        grant_id=grant.grant_id,
        client_id=client.client_id,
        ttl=ctx.settings.code_lifetime,
    )
    reread = client_reread(ctx, client)
    after = await grants.create_grant(
        ctx.redis,
        grant,
        now=grant.created_at,
        ttl=ctx.settings.refresh_token_lifetime,
        token=made.token,
        before=marker,
        after=reread.queue,
    )
    await ensure_still_registered(ctx, grant_id=grant.grant_id, reread=reread.value(after))
    tokens = made.response(ctx)
    metrics.token_issued()
    logs.event(
        "token_issued",
        grant_type=GRANT_TYPE,
        client_id=client.client_id,
        username=stored_code.username,
        grant_id=tokens.grant_id,
        jti=tokens.jti,
    )
    return tokens


async def _replayed(ctx: IssuerContext, *, client: ClientRecord, code: str) -> None:
    """OAuth 2.1 §4.1.3 / RFC 9700 §4.5.3.1: a second redemption revokes what the code produced,
    but only when the same client replays it (another client may be an attacker probing, and
    must not be able to revoke a victim's grant)."""
    redeemed = await codes.redeemed_grant(ctx.redis, code)
    if redeemed is None:
        return
    grant_id, redeemed_by = redeemed
    if redeemed_by != client.client_id:
        return
    existed, jtis = await grants.revoke_grant(ctx.redis, grant_id)
    metrics.tokens_revoked(len(jtis), "code_replay")
    logs.event(
        "code_replay_detected",
        client_id=client.client_id,
        grant_id=grant_id,
        grant_revoked=existed,
        tokens_revoked=len(jtis),
    )
