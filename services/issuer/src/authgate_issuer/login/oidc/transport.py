"""Calls to the OpenID Provider over the issuer's shared ``httpx.AsyncClient``: every outage
(timeout, connection error, 5xx, 429, an answer that is not a JSON object) becomes
``OidcUnavailable``, so the user sees ``temporarily_unavailable`` and may retry.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from .errors import OidcError, OidcUnavailable

MAX_BODY_BYTES = 1_000_000
"""A discovery document, JWK Set or token response is a few kB; more is no sane answer."""


async def send(http: httpx.AsyncClient, request: httpx.Request, what: str) -> httpx.Response:
    """Send ``request``; OidcUnavailable when the provider cannot answer usefully."""
    try:
        response = await http.send(request)
    except httpx.TimeoutException as exc:
        raise OidcUnavailable(f"the OpenID Provider's {what} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise OidcUnavailable(f"the OpenID Provider's {what} could not be reached") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise OidcUnavailable(f"the OpenID Provider's {what} answered {response.status_code}")
    return response


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object the provider answered; OidcUnavailable for anything else."""
    if len(response.content) > MAX_BODY_BYTES:
        raise OidcUnavailable(f"the OpenID Provider's {what} sent an oversized answer")
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise OidcUnavailable(f"the OpenID Provider's {what} sent malformed JSON") from exc
    if not isinstance(data, dict):
        raise OidcUnavailable(f"the OpenID Provider's {what} sent an unexpected document")
    return data


async def get_json(
    http: httpx.AsyncClient, url: str, what: str, *, seconds: float, token: str | None = None
) -> dict[str, Any]:
    """``GET url`` for a JSON object (discovery, JWKS, userinfo with the user's ``token``)."""
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = http.build_request("GET", url, headers=headers, timeout=seconds)
    response = await send(http, request, what)
    if response.status_code != 200:
        # A 4xx is no outage: a wrong URL or a refused token gets the same answer on retry.
        raise OidcError(f"the OpenID Provider's {what} answered {response.status_code}")
    return json_object(response, what)
