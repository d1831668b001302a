"""Redirect URI rules for registration, and the matching rule for authorization requests.

Every check works on the parts ``urllib.parse.urlsplit`` yields, never on string prefixes: a
prefix test is what lets ``https://good.example@evil.example`` or ``http://localhost.evil.example``
through. Accepted (RFC 8252 §7, OAuth 2.1 §2.3.1, RFC 6749 §3.1.2):

* ``https://host[:port]/...`` with a DNS name or IP literal as host;
* ``http://`` only on a loopback host (127.0.0.0/8, ``[::1]``, ``localhost``; RFC 8252 §7.3);
* private-use schemes in reverse-DNS form, e.g. ``com.example.app:/cb`` (RFC 8252 §7.1);
* dot-less schemes only when configured (``REDIRECT_URI_APP_SCHEMES``: cursor, vscode, ...).

Never a fragment (RFC 6749 §3.1.2), userinfo, whitespace, control characters, backslashes
(browsers read ``\\`` as ``/``, urlsplit does not) or non-ASCII text (a second spelling of the
same URI defeats exact matching); never a script- or document-bearing scheme. And never a string
that is not an RFC 3986 URI (``uri_syntax``): urlsplit splits anything, so without the grammar
``?a="><script>``, ``{}|^``, backticks or ``%zz`` would be registered and later sent back in
``Location`` headers; RFC 7591 §2 requires redirect URIs and the other URL members to be URIs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from urllib.parse import SplitResult, urlsplit

from ..settings import is_loopback_host
from .errors import InvalidRedirectUri
from .uri_syntax import SCHEME, uri_syntax_problem

MAX_URI_LENGTH = 2000
# Refused even if an operator lists them in REDIRECT_URI_APP_SCHEMES: they run code, read
# local files or leave the browser in a state the client cannot observe.
FORBIDDEN_SCHEMES = frozenset(
    {"javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss", "filesystem",
     "view-source", "mailto", "tel", "sms", "chrome", "resource", "jar", "intent"}
)  # fmt: skip
# A reverse-DNS scheme (RFC 8252 §7.1), lower-cased, has at least one dot.
_REVERSE_DNS = re.compile(r"[a-z][a-z0-9+\-]*(\.[a-z0-9+\-]+)+")
_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _check_characters(uri: str) -> None:
    if not uri:
        raise ValueError("is empty")
    if len(uri) > MAX_URI_LENGTH:
        raise ValueError(f"is longer than {MAX_URI_LENGTH} characters")
    if not uri.isascii() or any(c <= " " or c in "\x7f\\" for c in uri):
        raise ValueError("must be ASCII without spaces, control characters or backslashes")
    if "#" in uri:
        raise ValueError("must not contain a fragment ('#'), RFC 6749 §3.1.2")


def _check_authority(parts: SplitResult, *, web: bool) -> str:
    """The lower-cased host ('' when absent); refuses userinfo, and for http(s) bad hosts/ports.

    Private-use schemes (``web=False``) only lose userinfo: their "authority" is an app's own
    routing string (``vscode://vscode.github-authentication/...``), not a network address.
    """
    if "@" in parts.netloc:
        raise ValueError("must not contain userinfo ('user@'); use the real host")
    if not web:
        return parts.netloc
    try:
        port = parts.port  # urlsplit validates the port lazily, on access
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":") or "%" in parts.netloc:
        raise ValueError("has an invalid host or port (ports are 1-65535)")
    host = parts.hostname or ""
    if not host:
        raise ValueError("must name a host")
    if parts.netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("has an invalid IPv6 literal") from None
        return host
    if len(host) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in host.split(".")):
        raise ValueError("has an invalid host name")
    return host


def uri_problem(uri: str, app_schemes: Collection[str]) -> str | None:
    """Why ``uri`` is not an acceptable redirect URI (a phrase after the URI), or None.

    Also used for the other URLs of client metadata (``client_uri``, ``logo_uri``, ...), which
    must pass the same http(s) rules.
    """
    try:
        _check(uri, app_schemes)
    except ValueError as exc:
        return str(exc)
    return None


def validate_redirect_uri(uri: str, app_schemes: Collection[str]) -> str:
    """Return ``uri`` unchanged when acceptable; raise ``InvalidRedirectUri`` saying why not."""
    problem = uri_problem(uri, app_schemes)
    if problem is not None:
        shown = uri if len(uri) <= 100 else uri[:100] + "..."
        raise InvalidRedirectUri(f"redirect URI {shown!r} {problem}")
    return uri


def _check(uri: str, app_schemes: Collection[str]) -> None:
    _check_characters(uri)
    # The forbidden-scheme verdict first: it is the more useful answer for ``data:<script>``.
    scheme, colon, _ = uri.partition(":")
    if colon and SCHEME.fullmatch(scheme) and scheme.lower() in FORBIDDEN_SCHEMES:
        raise ValueError(f"uses the forbidden scheme '{scheme.lower()}:'")
    problem = uri_syntax_problem(uri)
    if problem is not None:
        raise ValueError(problem)
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise ValueError("is not a valid URI") from None
    scheme = parts.scheme
    if scheme == "https":
        _check_authority(parts, web=True)
    elif scheme == "http":
        host = _check_authority(parts, web=True)
        if not is_loopback_host(host):
            raise ValueError(
                "uses http on a non-loopback host: use https, or http://127.0.0.1, "
                "http://[::1] or http://localhost (RFC 8252 §7.3)",
            )
    elif _REVERSE_DNS.fullmatch(scheme) or scheme in app_schemes:
        _check_authority(parts, web=False)
        if not parts.netloc and parts.path in ("", "/"):
            raise ValueError("needs a path after the scheme (e.g. com.example.app:/callback)")
    else:
        raise ValueError(
            f"uses the scheme '{scheme}:', which is not allowed: use https, loopback http, or a "
            "private-use scheme in reverse-DNS form such as com.example.app:/cb (RFC 8252 §7.1)",
        )


def _loopback_key(uri: str) -> tuple[str, str, str] | None:
    """(host without port, path, query) of a valid loopback http URI, else None."""
    if uri_problem(uri, ()) is not None:
        return None
    parts = urlsplit(uri)
    if parts.scheme != "http":
        return None
    netloc = parts.netloc
    host = netloc if netloc.endswith("]") else netloc.rpartition(":")[0] or netloc
    return host, parts.path, parts.query


def redirect_uri_matches(registered: list[str], requested: str) -> bool:
    """Whether ``requested`` is one of the registered redirect URIs.

    Exact string comparison (OAuth 2.1 §2.3.1), except that for loopback http URIs the port is
    ignored: native apps bind an ephemeral port at request time (RFC 8252 §7.3). Host, path and
    query must still be identical.
    """
    if uri_syntax_problem(requested) is not None:
        # A record stored before the RFC 3986 check may hold a non-URI: never redirect to it.
        return False
    if requested in registered:
        return True
    key = _loopback_key(requested)
    return key is not None and any(_loopback_key(uri) == key for uri in registered)
