"""Which IP addresses an outbound fetch may connect to.

A client id is a URL anyone can choose, so without this check it would make the issuer reach
its own network: loopback services, the cloud metadata endpoint (169.254.169.254), Redis,
internal admin pages (server-side request forgery, draft-ietf-oauth-client-id-metadata-document
§6.4). Only globally routable unicast addresses pass. IPv6 forms that embed an IPv4 address
(IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4, Teredo) are refused outright: the
embedded address, not the IPv6 one, is what a translator or dual-stack socket finally reaches.

The check runs on the address actually connected to (``outbound.guarded_backend``), never on a
name resolved earlier, so DNS rebinding has no window.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Translation prefixes that carry an IPv4 address inside an IPv6 one (RFC 6052, RFC 8215).
_EMBEDDING_V4 = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
)


def refusal(address: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why a fetch may not connect to ``address`` (a short phrase), or None when it may.

    ``allow_private`` (CIMD_ALLOW_PRIVATE_ADDRESSES, loopback issuers only) admits loopback
    and private-use addresses for tests and local development; link-local (the metadata
    endpoint), multicast, unspecified and reserved addresses stay refused even then.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address.sixtofour is not None or address.teredo is not None:
            return "a 6to4 or Teredo address"
        if any(address in net for net in _EMBEDDING_V4):
            return "a NAT64 address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address"
    if allow_private and (address.is_loopback or address.is_private):
        return None
    if address.is_loopback:  # before "reserved": ::1 lies in the reserved ::/8
        return "a loopback address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        # is_private plus shared (100.64/10), documentation, benchmarking and the like.
        return "a private or non-global address"
    return None
