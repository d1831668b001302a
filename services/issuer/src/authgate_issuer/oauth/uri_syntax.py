"""Is a string an RFC 3986 URI? The grammar of RFC 3986 Appendix A as anchored expressions.

``urllib.parse.urlsplit`` is no validator: it splits whatever it gets, so ``"><script>``,
``{}|^``, backticks and ``%zz`` would pass through into a registration and back out in a
``Location`` header. Here the string is split with the expression of RFC 3986 Appendix B and
each component must match its own ABNF rule; every ``%`` must start a ``pct-encoded`` triplet
(§2.1). Only the syntax is checked: which schemes and hosts are acceptable is policy, decided
by the callers (``redirect_uris``). Pure, no dependencies.
"""

from __future__ import annotations

import ipaddress
import re

# RFC 3986 §2.2-2.3, as character-class contents.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT_ENCODED = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT_ENCODED})"

SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")  # §3.1
_USERINFO = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT_ENCODED})*")  # §3.2.1
_REG_NAME = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT_ENCODED})*")  # §3.2.2
# §3.2.2 IP-literal: an IPv6address (checked by ``ipaddress`` below) or an IPvFuture.
_IP_LITERAL = re.compile(
    rf"\[(?:(?P<v6>[0-9A-Fa-f:.]+)|[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+)\]"
)
_PORT = re.compile(r"[0-9]*")  # §3.2.3
_PATH = re.compile(rf"(?:/|{_PCHAR})*")  # §3.3: the union of the five path rules' characters
_QUERY = re.compile(rf"(?:[/?]|{_PCHAR})*")  # §3.4; a fragment (§3.5) has the same grammar
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# RFC 3986 Appendix B: scheme, authority, path, query, fragment (groups 2, 4, 5, 7, 9).
_SPLIT = re.compile(r"(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?", re.DOTALL)


def _first_outside(text: str, rule: re.Pattern[str]) -> str:
    """The first character of ``text`` where ``rule`` (a repetition) stops matching."""
    matched = rule.match(text)
    end = matched.end() if matched else 0
    return text[end : end + 1]


def _authority_problem(authority: str) -> str | None:
    userinfo, at, hostport = authority.rpartition("@")
    if at and not _USERINFO.fullmatch(userinfo):
        return "its userinfo has characters RFC 3986 §3.2.1 does not allow"
    if hostport.startswith("["):
        host, bracket, rest = hostport.partition("]")
        literal = _IP_LITERAL.fullmatch(host + bracket)
        if literal is None:
            return "its host is not a valid IP literal (RFC 3986 §3.2.2)"
        if literal.group("v6") is not None:
            try:
                ipaddress.IPv6Address(literal.group("v6"))
            except ValueError:
                return "its host is not a valid IPv6 literal (RFC 3986 §3.2.2)"
    else:
        host, colon, port = hostport.partition(":")
        rest = colon + port
        if not _REG_NAME.fullmatch(host):
            bad = _first_outside(host, _REG_NAME)
            return f"its host has the character {bad!r}, which RFC 3986 §3.2.2 does not allow"
    if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
        return "its port is not a number (RFC 3986 §3.2.3)"
    return None


def uri_syntax_problem(uri: str) -> str | None:
    """Why ``uri`` is not an absolute URI of RFC 3986 §4.3 (a phrase after the URI), or None."""
    bad_percent = _BAD_PERCENT.search(uri)
    if bad_percent is not None:
        return (
            f"is not a valid URI: the '%' at offset {bad_percent.start()} is not followed by two "
            "hex digits (RFC 3986 §2.1); write a literal '%' as %25"
        )
    parts = _SPLIT.fullmatch(uri)
    assert parts is not None  # Appendix B matches every string
    scheme, authority, path, query, fragment = parts.group(2, 4, 5, 7, 9)
    if scheme is None or not SCHEME.fullmatch(scheme):
        return "must be an absolute URI with a scheme (https://... )"
    if authority is not None:
        problem = _authority_problem(authority)
        if problem is not None:
            return f"is not a valid URI: {problem}"
    for name, value, rule, section in (
        ("path", path, _PATH, "§3.3"),
        ("query", query, _QUERY, "§3.4"),
        ("fragment", fragment, _QUERY, "§3.5"),
    ):
        if value is not None and not rule.fullmatch(value):
            bad = _first_outside(value, rule)
            return (
                f"is not a valid URI: its {name} has the character {bad!r}, which RFC 3986 "
                f"{section} does not allow (percent-encode it)"
            )
    return None
