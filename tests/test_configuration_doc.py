"""docs/configuration.md lists exactly the variables each service's settings read.

The variables are found by running each settings constructor on a recording environment (so
helpers such as the Redis and HTTP-limit readers count too), not by reading source text.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from authgate_issuer.settings import IssuerSettings
from authgate_shared.config import ConfigError
from authgate_verifier.settings import VerifierSettings

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "configuration.md").read_text()


class Recording(dict[str, str]):
    """An environment that remembers every name asked for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def read_by(build: Callable[[Mapping[str, str]], object], *environments: dict[str, str]) -> set[str]:
    names: set[str] = set()
    for values in environments:
        env = Recording(values)
        # The names asked for before the verdict are what matters.
        with contextlib.suppress(ConfigError):
            build(env)
        names |= env.asked
    return names


def table(heading: str) -> set[str]:
    section = PAGE.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, re.M))


BASE = {"ISSUER_URL": "https://auth.example.com", "REDIS_URL": "redis://127.0.0.1:1/0"}
SETTINGS = {
    "Issuer": (
        IssuerSettings.from_env,
        [
            {**BASE, "ALLOWED_RESOURCES": "https://a.example.com"},
            {**BASE, "AUTHGATE_DEV_LOGIN": "true", "JWT_ALGORITHM": "HS256"},
            {"BASE_DOMAIN": "example.com", "REDIS_HOST": "r"},
            # The OpenID Connect login's variables are read only when it is enabled.
            {**BASE, "LOGIN_PROVIDERS": "github,oidc", "OIDC_CLIENT_PRIVATE_KEY": "x"},
        ],
    ),
    "Verifier": (
        VerifierSettings.from_env,
        [BASE, {**BASE, "JWT_ALGORITHM": "HS256"}, {"BASE_DOMAIN": "example.com"}],
    ),
}


def cases() -> Iterator[tuple[str, set[str]]]:
    for heading, (build, environments) in SETTINGS.items():
        yield heading, read_by(build, *environments)


@pytest.mark.parametrize(("heading", "read"), list(cases()), ids=list(SETTINGS))
def test_the_configuration_page_lists_exactly_what_is_read(heading: str, read: set[str]) -> None:
    documented = table(heading)
    assert read - documented == set(), f"{heading}: read but not documented"
    assert documented - read == set(), f"{heading}: documented but never read"


def test_the_recording_sees_helpers_too() -> None:
    # The control: names read only inside shared helpers are found.
    issuer = read_by(IssuerSettings.from_env, BASE)
    assert {"REDIS_CONNECT_TIMEOUT_MS", "REQUEST_HEAD_TIMEOUT", "ISSUER_URL"} <= issuer
