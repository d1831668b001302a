"""Sealing secrets at rest: AES-256-GCM under a configured key ring with key ids.

Used for what the issuer must keep of an upstream provider's credentials (the user's GitHub
token, login.upstream_token). The keys come from configuration (``UPSTREAM_TOKEN_KEYS``), never
from Redis, so Redis, a replica or a backup holds only ciphertext.

A sealed value is ``<key id>.<base64url(nonce || ciphertext || tag)>``: the key id says which
key opens it, so keys rotate without re-encrypting anything: put the new key first (it seals
every new value), keep the old one after it until the values it sealed are gone. The nonce is
96 random bits per value (NIST SP 800-38D §8.2.2: random nonces are safe far below 2^32
encryptions per key). The associated data binds a value to where it is stored (the grant id):
a sealed value copied into another record does not open.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authgate_shared.runtime import RandomBytes

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM nonce length SP 800-38D §5.2.1.1 recommends
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class SealingKeys:
    """An ordered key ring: the first key seals, every key opens what it sealed."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def key(self, key_id: str) -> bytes | None:
        return next((key for kid, key in self.keys if kid == key_id), None)


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    altchars = b"-_" if ("-" in text or "_" in text) else None
    return base64.b64decode(padded, altchars=altchars, validate=True)


def parse_sealing_keys(value: str) -> SealingKeys:
    """``kid:<base64 of 32 bytes>,kid:<...>``, current key first; ValueError names the fault
    (never the key material)."""
    keys: list[tuple[str, bytes]] = []
    for position, item in enumerate((i.strip() for i in value.split(",")), start=1):
        if not item:
            continue
        key_id, colon, encoded = item.partition(":")
        key_id = key_id.strip()
        if not colon or not KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"entry {position} must be 'KEY_ID:BASE64_KEY' with a key id of 1-32 letters,"
                " digits, '-' or '_'"
            )
        try:
            key = _b64decode(encoded.strip())
        except (binascii.Error, ValueError):
            raise ValueError(f"key {key_id!r} is not base64") from None
        if len(key) != KEY_BYTES:
            raise ValueError(
                f"key {key_id!r} must be {KEY_BYTES} random bytes (AES-256), got {len(key)};"
                " make one with: python -c 'import os,base64;"
                " print(base64.b64encode(os.urandom(32)).decode())'"
            )
        if any(kid == key_id for kid, _ in keys):
            raise ValueError(f"key id {key_id!r} appears twice")
        keys.append((key_id, key))
    if not keys:
        raise ValueError("names no key")
    return SealingKeys(tuple(keys))


def seal(keys: SealingKeys, plain: bytes, *, associated: str, random: RandomBytes) -> str:
    """``plain`` encrypted under the current key, bound to ``associated``; ASCII."""
    key_id, key = keys.keys[0]
    nonce = random(NONCE_BYTES)
    body = AESGCM(key).encrypt(nonce, plain, associated.encode())
    return f"{key_id}.{base64.urlsafe_b64encode(nonce + body).decode('ascii').rstrip('=')}"


def open_sealed(keys: SealingKeys, sealed: str, *, associated: str) -> bytes | None:
    """The plain bytes, or None when no key of the ring opens ``sealed`` for ``associated``
    (unknown key id, a retired key, tampering, or another record's value)."""
    key_id, dot, encoded = sealed.partition(".")
    key = keys.key(key_id) if dot else None
    if key is None:
        return None
    try:
        raw = _b64decode(encoded.replace("-", "+").replace("_", "/"))
        nonce, body = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        return AESGCM(key).decrypt(nonce, body, associated.encode())
    except (InvalidTag, binascii.Error, ValueError):
        return None


def key_id_of(sealed: str) -> str:
    """The key id a sealed value names (what ``authgate`` reports during a rotation)."""
    return sealed.partition(".")[0]
