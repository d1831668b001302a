"""Parsing of OAuth request parameters (query strings and form bodies).

OAuth 2.1 §3.1/§3.2: parameters sent without a value are treated as omitted, a parameter must
not be included more than once, unknown parameters are ignored.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from .errors import InvalidRequest

# Parameters that may legitimately repeat (RFC 8707 §2: "resource" may be given several times;
# RFC 8693 §2.1: so may "audience").
MULTI_VALUED = frozenset({"resource", "audience"})


class Params:
    def __init__(self, single: dict[str, str], multi: dict[str, list[str]]) -> None:
        self._single = single
        self._multi = multi

    def get(self, name: str) -> str | None:
        return self._single.get(name)

    def require(self, name: str) -> str:
        value = self._single.get(name)
        if value is None:
            raise InvalidRequest(f"the '{name}' parameter is required")
        return value

    def all(self, name: str) -> list[str]:
        return list(self._multi.get(name, []))

    def __contains__(self, name: str) -> bool:
        return name in self._single or name in self._multi


def parse_pairs(pairs: list[tuple[str, str]]) -> Params:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if value == "":
            continue
        if name in MULTI_VALUED:
            multi.setdefault(name, []).append(value)
            continue
        if name in seen:
            raise InvalidRequest(f"the '{name}' parameter must not be repeated")
        seen.add(name)
        single[name] = value
    return Params(single, multi)


def parse_query(query: str) -> Params:
    return parse_pairs(parse_qsl(query, keep_blank_values=True))


def parse_form(body: bytes) -> Params:
    """An application/x-www-form-urlencoded body; bad UTF-8 is an invalid_request."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the request body is not valid UTF-8") from exc
    return parse_pairs(parse_qsl(text, keep_blank_values=True, strict_parsing=False))
