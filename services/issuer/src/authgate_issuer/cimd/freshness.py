"""How long a fetched document (or JWK Set) may be used: its HTTP caching headers, clamped.

RFC 9111 §5.2.2.1 ``max-age`` wins over §5.3 ``Expires`` (relative to the answer's ``Date``, or
our clock); ``no-store``/``no-cache`` and a missing or unparsable lifetime mean "as short as we
allow". The result is clamped to [CIMD_CACHE_MIN_SECONDS, CIMD_CACHE_MAX_SECONDS]: the floor
keeps a ``no-store`` document from costing a fetch per request (the draft, §4.3, lets the server
bound caching), the ceiling makes a withdrawn or changed document take effect within a day.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _directives(cache_control: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name:
            found.setdefault(name.lower(), value.strip().strip('"'))
    return found


def header_lifetime(headers: Mapping[str, str], now: float) -> int:
    """The lifetime the headers give, in seconds (0: do not keep), before clamping."""
    directives = _directives(headers.get("cache-control", ""))
    if "no-store" in directives or "no-cache" in directives:
        return 0
    max_age = directives.get("max-age")
    if max_age is not None:
        return int(max_age) if max_age.isdigit() else 0
    expires = _http_date(headers.get("expires"))
    if expires is None:
        return 0
    date = _http_date(headers.get("date"))
    return max(0, int(expires - (date if date is not None else now)))


def cache_seconds(headers: Mapping[str, str], now: float, *, floor: int, ceiling: int) -> int:
    return min(max(header_lifetime(headers, now), floor), ceiling)
