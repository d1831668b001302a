"""The vault's record of an upstream token: sealing round trip, legacy values, status."""

from __future__ import annotations

import base64
import os

from authgate_issuer.store.sealing import parse_sealing_keys, seal
from authgate_issuer.upstream.tokens import (
    UpstreamToken,
    from_response,
    open_token,
    seal_token,
    status,
)

KEYS = parse_sealing_keys("k1:" + base64.b64encode(os.urandom(32)).decode())
NOW = 1_700_000_000


def test_github_app_token_round_trips_with_absolute_lifetimes() -> None:
    token = from_response(
        access_token="ghu_a",
        refresh_token="ghr_b",
        expires_in=28800,
        refresh_token_expires_in=15897600,
        now=NOW,
    )
    assert token.expires_at == NOW + 28800 and token.refresh_expires_at == NOW + 15897600
    sealed = seal_token(KEYS, token, grant_id="g1", random=os.urandom)
    assert "ghu_a" not in sealed and "ghr_b" not in sealed
    assert open_token(KEYS, sealed, grant_id="g1") == token
    # Bound to its grant: the same value copied into another grant does not open.
    assert open_token(KEYS, sealed, grant_id="g2") is None


def test_oauth_app_token_never_expires() -> None:
    token = from_response(
        access_token="gho_x", refresh_token=None, expires_in=None, refresh_token_expires_in=None,
        now=NOW,
    )  # fmt: skip
    assert not token.expires and token.expires_in(NOW + 10**8) is None
    assert not token.needs_refresh(NOW + 10**8, 300) and not token.refreshable(NOW)


def test_a_bare_token_sealed_before_the_vault_opens_as_non_expiring() -> None:
    sealed = seal(KEYS, b"gho_legacy", associated="g1", random=os.urandom)
    assert open_token(KEYS, sealed, grant_id="g1") == UpstreamToken(access_token="gho_legacy")


def test_needs_refresh_within_the_margin_and_refreshable_until_the_refresh_token_dies() -> None:
    token = UpstreamToken("a", "r", expires_at=NOW + 100, refresh_expires_at=NOW + 1000)
    assert not token.needs_refresh(NOW, 99) and token.needs_refresh(NOW, 100)
    assert token.expires_in(NOW) == 100 and token.expires_in(NOW + 200) == 0
    assert token.refreshable(NOW + 999) and not token.refreshable(NOW + 1000)
    assert not UpstreamToken("a", "", expires_at=NOW).refreshable(NOW - 1)


def test_status_never_shows_the_token() -> None:
    assert status(KEYS, "", grant_id="g1", now=NOW).state == "none"
    token = UpstreamToken("ghu_a", "ghr_b", expires_at=NOW + 10, refresh_expires_at=NOW + 20)
    sealed = seal_token(KEYS, token, grant_id="g1", random=os.urandom)
    assert status(KEYS, sealed, grant_id="g1", now=NOW).state == "active"
    assert status(KEYS, sealed, grant_id="g1", now=NOW + 10).state == "expired"
    dead = status(KEYS, sealed, grant_id="g1", now=NOW + 20)
    assert dead.state == "refresh_expired" and dead.key_id == "k1"
    assert "ghu_a" not in repr(dead.as_dict()) and "ghu_a" not in repr(token)
    other = parse_sealing_keys("k9:" + base64.b64encode(os.urandom(32)).decode())
    assert status(other, sealed, grant_id="g1", now=NOW).state == "unreadable"
    assert status(None, sealed, grant_id="g1", now=NOW).state == "unreadable"
