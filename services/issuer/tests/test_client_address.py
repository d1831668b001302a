from __future__ import annotations

import pytest

from authgate_issuer.web.client_address import client_address

PROXIES = ("10.0.0.0/8", "127.0.0.1")


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", PROXIES, "203.0.113.9"),  # untrusted peer: XFF ignored
        ("10.0.0.5", "198.51.100.7", PROXIES, "198.51.100.7"),  # trusted proxy: its hop believed
        (
            "10.0.0.5",
            "6.6.6.6, 198.51.100.7, 10.0.0.9",
            PROXIES,
            "198.51.100.7",
        ),  # spoofed left part
        ("10.0.0.5", "garbage", PROXIES, "10.0.0.5"),
        ("10.0.0.5", "10.1.1.1, 10.2.2.2", PROXIES, "10.0.0.5"),  # only proxies: the peer
        ("10.0.0.5", "198.51.100.7", (), "10.0.0.5"),  # nothing trusted
        (None, None, PROXIES, "unknown"),
    ],
)
def test_client_address(
    peer: str | None, xff: str | None, trusted: tuple[str, ...], expected: str
) -> None:
    assert client_address(peer, xff, trusted) == expected
