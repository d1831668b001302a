"""private_key_jwt client authentication (RFC 7523 §2.2): the client's keys, its assertion, and
the assertion's single use.

``client_assertion`` checks one JWT against one JWK Set; this module gets the set
(``client_jwks``: by value, or from the cached ``jwks_uri``), fetches a ``jwks_uri`` set again
once when the assertion names a key it lacks (the client rotated its key since the set was
cached), and records the ``jti`` so that the assertion cannot be used a second time on any
replica (RFC 7523 §3 item 7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..context import IssuerContext
from ..store.clients import ClientRecord
from .client_assertion import Assertion, AssertionRefused, UnknownKey, use_once, verify_assertion
from .client_jwks import KeysUnavailable, client_jwks


async def _verified(ctx: IssuerContext, jwt: str, client: ClientRecord) -> Assertion:
    issuer = ctx.settings.issuer_url

    def check_with(jwks: Mapping[str, Any]) -> Assertion:
        return verify_assertion(
            jwt,
            client_id=client.client_id,
            jwks=jwks,
            # RFC 7523 §3 item 3: the issuer identifier or the token endpoint URL.
            audiences=[issuer, f"{issuer}/token"],
            now=ctx.clock(),
        )

    try:
        return check_with(await client_jwks(ctx, client))
    except UnknownKey as unknown:
        if "jwks_uri" not in client.metadata:
            raise
        try:
            jwks = await client_jwks(ctx, client, refresh=True)
        except KeysUnavailable:
            raise unknown from None  # the first refusal says more than "fetched moments ago"
        return check_with(jwks)


async def authenticate(ctx: IssuerContext, jwt: str, client: ClientRecord) -> Assertion:
    """The verified, now used, assertion of ``client``; AssertionRefused or KeysUnavailable."""
    assertion = await _verified(ctx, jwt, client)
    if not await use_once(ctx.redis, assertion, now=ctx.clock()):
        raise AssertionRefused("was already used (its jti is single-use, RFC 7523 §3)")
    return assertion
