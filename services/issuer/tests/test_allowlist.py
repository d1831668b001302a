"""ALLOWED_GITHUB_USERS: trimmed, case-insensitive, '*' for everyone, empty for nobody."""

from __future__ import annotations

import pytest

from authgate_issuer.oauth.allowlist import is_allowed
from authgate_issuer.settings import IssuerSettings


def settings_with(env: dict[str, str], allowed: str) -> IssuerSettings:
    return IssuerSettings.from_env({**env, "ALLOWED_GITHUB_USERS": allowed})


@pytest.mark.parametrize(
    ("allowed", "login", "expected"),
    [
        ("octocat", "octocat", True),
        ("octocat", "OctoCat", True),
        (" OctoCat , hubot ", "octocat", True),
        ("octocat,hubot", "HUBOT", True),
        ("octocat", " octocat ", True),
        ("octocat", "octocat2", False),
        ("octocat", "octo", False),
        ("octocat", "", False),
        ("*", "anyone-at-all", True),
        ("octocat, *", "someone", True),
        ("", "octocat", False),
        ("  ,  ", "octocat", False),
    ],
)
def test_allowlist(env: dict[str, str], allowed: str, login: str, expected: bool) -> None:
    assert is_allowed(login, settings_with(env, allowed)) is expected


def test_a_star_inside_a_login_is_not_a_wildcard(env: dict[str, str]) -> None:
    settings = settings_with(env, "octo*")
    assert not is_allowed("octocat", settings)
