"""Reading settings from the environment, collecting every problem before failing.

Each service has one frozen settings dataclass built once at start-up from a mapping (the
environment); this module gives them a reader that records every missing or invalid variable so
start-up can stop with one message naming all of them instead of a traceback for the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


class ConfigError(Exception):
    """Bad configuration: ``problems`` names every wrong variable."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")


class EnvReader:
    """Typed access to an environment mapping that accumulates errors instead of raising."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        """The value with surrounding whitespace removed; empty counts as unset."""
        value = self._env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def required(self, name: str, why: str = "") -> str:
        value = self.raw(name)
        if value is None:
            self.problems.append(f"{name} is required{': ' + why if why else ''}")
            return ""
        return value

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value, 10)
        except ValueError:
            self.problems.append(f"{name} must be an integer, got {value!r}")
            return default
        if number < minimum or (maximum is not None and number > maximum):
            bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            self.problems.append(f"{name} must be {bound}, got {number}")
            return default
        return number

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        self.problems.append(f"{name} must be true or false, got {value!r}")
        return default

    def choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        allowed = list(choices)
        value = self.raw(name)
        if value is None:
            return default
        if value not in allowed:
            self.problems.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
            return default
        return value

    def items(self, name: str, default: Iterable[str] = ()) -> tuple[str, ...]:
        """Comma-separated list, items trimmed, empty items dropped."""
        value = self._env.get(name)
        if value is None:
            return tuple(default)
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def parsed(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        """Apply ``parse`` (which raises ValueError with a reason) to the variable."""
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError as exc:
            self.problems.append(f"{name}: {exc}")
            return default

    def check(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def parse_base_url(value: str) -> str:
    """An absolute http(s) URL without query or fragment; returned without a trailing slash.

    The issuer URL is compared byte for byte by strict MCP clients (RFC 8414 §3.3), so it is
    normalised once here: lower-case scheme and host, no trailing slash.
    """
    parts = urlsplit(value)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"must not carry userinfo, a query or a fragment, got {value!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"has an invalid port: {value!r}") from exc
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def parse_origins(value: str) -> tuple[str, ...]:
    """A CORS origin list: ``*``, or serialized origins (RFC 6454 §6.2) checked with a URL parser,
    lower-cased so they compare with a request's ``Origin`` exactly."""
    origins: list[str] = []
    for item in (i.strip() for i in value.split(",")):
        if not item:
            continue
        if item == "*":
            origins.append(item)
            continue
        parts = urlsplit(item)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username is not None
        ):
            raise ValueError(f"{item!r} is not an origin (scheme://host[:port], no path)")
        origins.append(item.lower())
    if "*" in origins and len(origins) > 1:
        raise ValueError("'*' cannot be combined with named origins")
    return tuple(origins)
