"""Validation of an authorization request (OAuth 2.1 §4.1.1, RFC 7636, RFC 8707), pure.

Two stages, because of where errors may be sent (OAuth 2.1 §4.1.2.1): until the client and the
redirect URI are known to be good, an error is a ``PageError`` (an HTML page, never a redirect:
redirecting there would make us an open redirector); after that, a ``RedirectError`` sent back to
the client's redirect URI with ``error``, ``error_description``, ``state`` and ``iss`` (RFC 9207).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson

from ..settings import IssuerSettings
from ..store.clients import ClientRecord
from .errors import (
    InvalidRequest,
    InvalidScope,
    OAuthError,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from .params import Params, parse_query
from .redirect_uris import redirect_uri_matches
from .resource_indicators import validate_resources

# RFC 7636 §4.2: S256 challenge = BASE64URL(SHA256(verifier)) without padding: 43 characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


class PageError(Exception):
    """Shown to the user as an HTML page (400); never redirected."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


class RedirectError(Exception):
    """Sent to the (validated) redirect URI of the client."""

    def __init__(self, redirect_uri: str, state: str | None, error: OAuthError) -> None:
        super().__init__(error.description)
        self.redirect_uri = redirect_uri
        self.state = state
        self.error = error


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    redirect_uri_in_request: bool
    code_challenge: str
    state: str | None
    scope: str
    resources: list[str]

    def to_json(self) -> bytes:
        return orjson.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> AuthorizationRequest:
        return cls(**orjson.loads(raw))


def parse(query: str) -> Params:
    """The query's parameters; a repeated one is a PageError (we cannot trust any of them)."""
    try:
        return parse_query(query)
    except InvalidRequest as exc:
        raise PageError("Invalid authorization request", exc.description) from None


def requested_client_id(params: Params) -> str:
    client_id = params.get("client_id")
    if client_id is None:
        raise PageError("Invalid authorization request", "the 'client_id' parameter is missing")
    return client_id


def _redirect_uri(params: Params, client: ClientRecord) -> tuple[str, bool]:
    requested = params.get("redirect_uri")
    if requested is None:
        if len(client.redirect_uris) != 1:
            raise PageError(
                "Invalid authorization request",
                "'redirect_uri' is required: the application registered several redirect URIs",
            )
        only = client.redirect_uris[0]
        # A registration stored before today's URI rules may hold a string that is no URI;
        # the matcher refuses those, and so must the omitted-parameter path.
        if not redirect_uri_matches(client.redirect_uris, only):
            raise PageError(
                "Invalid redirect URI",
                "the application's registered redirect URI is not a valid URI; you were not"
                " redirected",
            )
        return only, False
    if not redirect_uri_matches(client.redirect_uris, requested):
        raise PageError(
            "Invalid redirect URI",
            "the redirect URI is not registered for this application; you were not redirected",
        )
    return requested, True


def _scope(requested: str | None, settings: IssuerSettings) -> str:
    if requested is None:
        return settings.default_scope
    scopes: list[str] = []
    for token in requested.split(" "):
        if not token:
            continue
        if not SCOPE_TOKEN.fullmatch(token) or token not in settings.scopes_supported:
            raise InvalidScope("the requested scope is unknown or not supported")
        if token not in scopes:
            scopes.append(token)
    if not scopes:
        return settings.default_scope
    return " ".join(scopes)


def _code_challenge(params: Params) -> str:
    # OAuth 2.1 §4.1.1 / MCP: PKCE for every client; only S256 (RFC 7636 §4.2 "plain" refused).
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method")
    if challenge is None:
        raise InvalidRequest("'code_challenge' is required (PKCE with S256)")
    if method != "S256":
        raise InvalidRequest("'code_challenge_method' must be S256")
    if not S256_CHALLENGE.fullmatch(challenge):
        raise InvalidRequest("'code_challenge' must be 43 base64url characters (RFC 7636 §4.2)")
    return challenge


def validate(
    params: Params, client: ClientRecord | None, settings: IssuerSettings
) -> AuthorizationRequest:
    """The validated request; PageError or RedirectError otherwise."""
    if client is None:
        raise PageError("Unknown application", "no application is registered with this client_id")
    redirect_uri, in_request = _redirect_uri(params, client)
    state = params.get("state")
    try:
        response_type = params.get("response_type")
        if response_type is None:
            raise InvalidRequest("'response_type' is required")
        if response_type != "code":
            raise UnsupportedResponseType("only response_type=code is supported")
        if "authorization_code" not in client.grant_types:
            raise UnauthorizedClient("the client is not registered for authorization_code")
        return AuthorizationRequest(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            redirect_uri_in_request=in_request,
            code_challenge=_code_challenge(params),
            state=state,
            scope=_scope(params.get("scope"), settings),
            resources=validate_resources(params.all("resource"), settings),
        )
    except OAuthError as exc:
        raise RedirectError(redirect_uri, state, exc) from None


def redirect_url(redirect_uri: str, params: dict[str, str | None]) -> str:
    """``redirect_uri`` with ``params`` appended; its own query is kept byte for byte
    (OAuth 2.1 §4.1.2: "MUST retain the query component")."""
    base = redirect_uri.partition("#")[0]
    extra = urlencode([(k, v) for k, v in params.items() if v is not None])
    if "?" not in base:
        return f"{base}?{extra}"
    return f"{base}{extra}" if base.endswith(("?", "&")) else f"{base}&{extra}"


def error_redirect_url(redirect_uri: str, state: str | None, error: OAuthError, issuer: str) -> str:
    return redirect_url(
        redirect_uri,
        {
            "error": error.code,
            "error_description": error.description,
            "state": state,
            "iss": issuer,
        },
    )
