"""The client's address for rate limiting, trusting ``X-Forwarded-For`` only from known proxies.

A client can put anything in ``X-Forwarded-For``; only the hops appended by our own proxies
(``TRUSTED_PROXIES``, addresses or CIDRs) are believed. Walking the list from the right, the first
address that is not a trusted proxy is the client (RFC 7239 §5.2 reasoning applies equally to XFF).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The address to rate-limit: the peer, or the nearest untrusted hop behind trusted proxies."""
    address = peer or "unknown"
    networks = parse_networks(trusted)
    if not forwarded_for or not networks or not _trusted(address, networks):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address
    return address
