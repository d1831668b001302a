"""Sealing at rest (AES-256-GCM with key ids) and the GitHub access-control settings."""

from __future__ import annotations

import base64
import os

import pytest

from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.sealing import key_id_of, open_sealed, parse_sealing_keys, seal
from authgate_shared.config import ConfigError


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_seal_opens_only_for_its_record_and_rotates_by_key_id() -> None:
    old = parse_sealing_keys(f"k1:{_key()}")
    sealed = seal(old, b"gho_secret", associated="grant-1", random=os.urandom)
    assert key_id_of(sealed) == "k1" and b"gho_secret" not in sealed.encode()
    assert open_sealed(old, sealed, associated="grant-1") == b"gho_secret"
    assert open_sealed(old, sealed, associated="grant-2") is None  # moved to another grant
    # Rotation: a new key first; the old id still opens, new values use the new id.
    k1 = dict(old.keys)["k1"]
    ring = parse_sealing_keys(f"k2:{_key()}, k1:{base64.urlsafe_b64encode(k1).decode()}")
    assert open_sealed(ring, sealed, associated="grant-1") == b"gho_secret"
    assert key_id_of(seal(ring, b"x", associated="g", random=os.urandom)) == "k2"
    # A retired key opens nothing; neither does tampering.
    assert open_sealed(parse_sealing_keys(f"k2:{_key()}"), sealed, associated="grant-1") is None
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    assert open_sealed(old, tampered, associated="grant-1") is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "names no key"),
        ("k1", "KEY_ID:BASE64_KEY"),
        ("k 1:AAAA", "KEY_ID:BASE64_KEY"),
        ("k1:not base64!", "not base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "must be 32 random bytes"),
    ],
)
def test_malformed_keys_are_refused_without_echoing_them(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_sealing_keys(value)
    if value.partition(":")[2]:
        assert value.partition(":")[2] not in str(caught.value)


def test_duplicate_key_ids_are_refused() -> None:
    key = _key()
    with pytest.raises(ValueError, match="twice"):
        parse_sealing_keys(f"k1:{key},k1:{key}")


def test_orgs_and_teams_are_case_insensitive_and_need_keys(env: dict[str, str]) -> None:
    orgs = {**env, "ALLOWED_GITHUB_ORGS": " Acme ,Other", "ALLOWED_GITHUB_TEAMS": "Acme/Platform"}
    with pytest.raises(ConfigError) as caught:
        IssuerSettings.from_env(orgs)
    assert any(p.startswith("UPSTREAM_TOKEN_KEYS is required") for p in caught.value.problems)
    github = IssuerSettings.from_env({**orgs, "UPSTREAM_TOKEN_KEYS": f"k1:{_key()}"}).github
    assert github.allowed_orgs == {"acme", "other"}
    assert github.allowed_teams == {"acme/platform"}
    assert github.checks_membership and github.recheck_grace == 3600
    assert github.token_keys is not None and github.token_keys.current_id == "k1"
    assert "token_keys" not in repr(github)
    plain = IssuerSettings.from_env(env).github
    assert not plain.checks_membership and plain.token_keys is None


def test_every_bad_access_variable_is_named(env: dict[str, str]) -> None:
    bad = {
        **env,
        "ALLOWED_GITHUB_ORGS": "acme,bad org",
        "ALLOWED_GITHUB_TEAMS": "acme",
        "UPSTREAM_TOKEN_KEYS": "k1:AAAA",
        "MEMBERSHIP_RECHECK_GRACE_SECONDS": "-1",
    }
    with pytest.raises(ConfigError) as caught:
        IssuerSettings.from_env(bad)
    text = "\n".join(caught.value.problems)
    for name in (
        "ALLOWED_GITHUB_ORGS",
        "ALLOWED_GITHUB_TEAMS",
        "UPSTREAM_TOKEN_KEYS",
        "MEMBERSHIP_RECHECK_GRACE_SECONDS",
    ):
        assert name in text
    assert "AAAA" not in text
