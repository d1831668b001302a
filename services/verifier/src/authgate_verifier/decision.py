"""Pure decisions: verified claims + the forwarded request's resource -> allow or a denial.

No I/O here. ``accept_claims`` turns verified claims into what the hot path needs (including the
ready-made 200 response, so a cached token costs no header building); ``decide`` applies the
audience (RFC 8707, RFC 9068 §4) and scope (RFC 6750 §3.1) rules for one request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from authgate_shared import redis_keys
from authgate_shared.claims import GATEWAY_AUDIENCE, GROUPS_CLAIM, audiences
from authgate_shared.errors import INSUFFICIENT_SCOPE, INVALID_TOKEN
from authgate_shared.server.response_head import PREPARED_KEY, prepare_head

from .challenge import Message
from .resources import Resource

# Printable ASCII only: a CR/LF (or any control byte) in a claim must never reach a proxy as a
# header (response splitting), and non-ASCII has no portable header encoding (RFC 9110 §5.5).
_SAFE_VALUE = re.compile(r"[\x20-\x7e]+").fullmatch
# Identity values also exclude "," and ";": a proxy or server that joins repeated headers with
# "," (RFC 9110 §5.3) or reads ";" parameters could split one forwarded identity into two.
_SAFE_IDENTITY = re.compile(r"[\x20-\x2b\x2d-\x3a\x3c-\x7e]+").fullmatch
DEFAULT_GROUPS_HEADER = b"x-user-groups"


@dataclass(frozen=True, slots=True)
class Denial:
    status: int
    error: str
    """RFC 6750 §3.1 error code (``authgate_shared.errors``): invalid_token,
    insufficient_scope or invalid_request."""
    reason: str
    """Metrics label."""
    description: str
    step_up_scope: str = ""
    """For a tool rule's insufficient_scope: the scopes the challenge names (RFC 6750 §3.1);
    "" means the resource's own. An access_denied 403 carries no challenge at all."""


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    jti: str
    sub: str
    client_id: str
    redis_key: str
    audiences: frozenset[str]
    gateway_wide: bool
    scopes: frozenset[str]
    exp: int
    ok_start: Message
    """The ASGI ``http.response.start`` message of this token's 200, its header block prepared
    once (``authgate_shared.server.response_head``): a cached token's 200 is written as it is."""
    ok_start_with_token: Message
    """The 200 with X-Auth-Token, for services whose policy forwards the token (the same object
    as ``ok_start`` when nothing asks for a difference)."""
    ok_start_plain: Message
    """The 200 without X-Auth-Token, for services whose policy says not to forward it."""
    username: str = ""
    groups: frozenset[str] = frozenset()
    """The ``groups`` claim (lower-case orgs and ``org/team``), for the policy's rules."""


WRONG_AUDIENCE = Denial(401, INVALID_TOKEN, "wrong_audience", "token is not for this resource")
GATEWAY_TOKEN_REFUSED = Denial(
    401, INVALID_TOKEN, "gateway_token", "this resource requires a token issued for it"
)
UNSAFE_CLAIMS = Denial(401, INVALID_TOKEN, "unsafe_claims", "token claims cannot be forwarded")
REVOKED = Denial(401, INVALID_TOKEN, "revoked", "token has been revoked")


def accept_claims(
    claims: dict[str, Any],
    token: bytes,
    *,
    forward_token: bool,
    token_head: bool = False,
    plain_head: bool = False,
    groups_header: bytes = DEFAULT_GROUPS_HEADER,
) -> VerifiedToken | Denial:
    """The hot-path view of verified claims, or a denial when they cannot be forwarded safely.

    X-User-Id and X-User-Name are always both sent: Caddy 2.6 forwards a literal placeholder for
    a missing one (see the reverse-proxy notes), so a token lacking either is refused. The
    groups header is always sent too (empty without groups) for the same reason.
    ``forward_token``: the default 200 carries the token; ``token_head`` / ``plain_head``: a
    200 with / without it is prepared too, for services whose policy says otherwise.
    """
    sub, name = claims.get("sub"), claims.get("github_username")
    client_id, scope = claims.get("client_id"), claims.get("scope", "")
    values = (sub, name, client_id)
    if not all(isinstance(v, str) and _SAFE_IDENTITY(v) for v in values) or not isinstance(
        scope, str
    ):
        return UNSAFE_CLAIMS
    if scope and not _SAFE_VALUE(scope):
        return UNSAFE_CLAIMS
    groups = claims.get(GROUPS_CLAIM, [])
    # Joined with "," in one header: each group must be a safe identity without ",".
    if not isinstance(groups, list) or not all(
        isinstance(g, str) and _SAFE_IDENTITY(g) for g in groups
    ):
        return UNSAFE_CLAIMS
    assert isinstance(sub, str) and isinstance(name, str) and isinstance(client_id, str)
    headers = [
        (b"content-length", b"0"),
        (b"x-user-id", sub.encode()),
        (b"x-user-name", name.encode()),
        (b"x-client-id", client_id.encode()),
        (b"x-scopes", scope.encode()),
        (groups_header, ",".join(groups).encode()),
    ]
    plain = with_token = _start(headers) if plain_head or not forward_token else None
    if forward_token or token_head:
        with_token = _start([*headers, (b"x-auth-token", token)])
    ok_start = with_token if forward_token else plain
    assert ok_start is not None and with_token is not None
    aud = frozenset(audiences(claims))
    jti: str = claims["jti"]
    return VerifiedToken(
        jti=jti,
        sub=sub,
        client_id=client_id,
        redis_key=redis_keys.token(jti),
        audiences=aud,
        gateway_wide=GATEWAY_AUDIENCE in aud,
        scopes=frozenset(scope.split()),
        exp=int(claims["exp"]),
        ok_start=ok_start,
        ok_start_with_token=with_token,
        ok_start_plain=plain or ok_start,
        username=name.lower(),
        groups=frozenset(g.lower() for g in groups),
    )


def _start(headers: list[tuple[bytes, bytes]]) -> Message:
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": headers,
        PREPARED_KEY: prepare_head(headers),
    }


def decide(
    token: VerifiedToken, resource: Resource, *, require_resource_tokens: bool
) -> Denial | None:
    """None to allow; otherwise why not. Revocation is checked afterwards (it needs Redis)."""
    if resource.uri not in token.audiences:
        if not token.gateway_wide:
            return WRONG_AUDIENCE
        if require_resource_tokens:
            return GATEWAY_TOKEN_REFUSED
    if resource.required_scopes and not resource.required_scopes <= token.scopes:
        missing = " ".join(sorted(resource.required_scopes - token.scopes))
        return Denial(403, INSUFFICIENT_SCOPE, "insufficient_scope", f"missing scope: {missing}")
    return None
