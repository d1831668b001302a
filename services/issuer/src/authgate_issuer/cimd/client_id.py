"""Client identifier URLs (draft-ietf-oauth-client-id-metadata-document §3).

The URL MUST be https with a path, MUST NOT contain a fragment, a username or password, or
single-dot and double-dot path segments; it MAY have a port and a query. Checked on the parts
``urlsplit`` yields after the RFC 3986 grammar (``oauth.uri_syntax``), never on string prefixes.

Registered clients' ids are lower-case hex (``oauth.credentials.new_id``), so an id that parses
with an http(s) scheme can only be meant as a URL: it is validated here (an ``http`` one to be
told it must be https) and never looked up as a registration.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote, urlsplit

from ..oauth.uri_syntax import uri_syntax_problem

# store.clients keeps a client record only for ids up to this length (its key is the id).
MAX_LENGTH = 128
_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class ClientIdProblem(ValueError):
    """The client id is a URL that cannot identify a client document; the message says why."""


def is_url_client_id(client_id: str) -> bool:
    """Whether ``client_id`` is meant as a metadata document URL (see the module docstring)."""
    try:
        return urlsplit(client_id).scheme in ("https", "http")
    except ValueError:  # e.g. an unbalanced '[': still a URL attempt, refused by the rules
        return True


def _host(netloc: str, hostname: str) -> str:
    if netloc.startswith("["):
        try:
            ipaddress.IPv6Address(hostname)
        except ValueError:
            raise ClientIdProblem("has an invalid IPv6 literal") from None
        return hostname
    if len(hostname) > 253 or not all(_DNS_LABEL.fullmatch(p) for p in hostname.split(".")):
        raise ClientIdProblem("has an invalid host name")
    return hostname


def client_id_host(client_id: str) -> str:
    """The lower-cased host of a valid client identifier URL; ClientIdProblem otherwise."""
    if len(client_id) > MAX_LENGTH:
        raise ClientIdProblem(f"is longer than {MAX_LENGTH} characters")
    problem = uri_syntax_problem(client_id)
    if problem is not None or not client_id.isascii():
        raise ClientIdProblem(problem or "must be ASCII")
    if "#" in client_id:
        raise ClientIdProblem("must not contain a fragment")
    if "," in client_id or ";" in client_id:
        # The verifier forwards the client id upstream as X-Client-Id and refuses identities
        # that a proxy could split there (authgate_verifier.decision): refuse them up front.
        raise ClientIdProblem("must not contain ',' or ';'")
    parts = urlsplit(client_id)
    if parts.scheme != "https":
        raise ClientIdProblem("must be an https URL")
    if "@" in parts.netloc:
        raise ClientIdProblem("must not contain a username or password")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":") or not parts.hostname:
        raise ClientIdProblem("has an invalid host or port")
    host = _host(parts.netloc, parts.hostname)
    if not parts.path or parts.path == "/":
        raise ClientIdProblem("must have a path (e.g. https://app.example.com/client.json)")
    # RFC 3986 §6.2.2.2: %2E is an unreserved '.', so %2E%2E is a dot segment too.
    if any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        raise ClientIdProblem("must not contain '.' or '..' path segments")
    return host
