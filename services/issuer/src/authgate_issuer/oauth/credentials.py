"""Random credentials and their storage form.

Every secret we hand out (client secrets, registration access tokens, refresh tokens,
authorization codes, states) has at least 256 bits of entropy, so a single SHA-256 is a safe
storage form (no stretching needed, unlike passwords); comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from authgate_shared.runtime import RandomBytes

SECRET_BYTES = 32


def new_secret(random: RandomBytes, nbytes: int = SECRET_BYTES) -> str:
    """A URL-safe random string of ``nbytes`` bytes of entropy."""
    return base64.urlsafe_b64encode(random(nbytes)).rstrip(b"=").decode("ascii")


def new_id(random: RandomBytes, nbytes: int = 16) -> str:
    """A non-secret identifier (client ids, grant ids).

    Lower-case hex: never starts with '-' (which command lines read as an option), and holds no
    '.', '_' or braces, which the jti and Redis hash-tag formats give a meaning.
    """
    return random(nbytes).hex()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def verify_secret(presented: str, stored_hash: str) -> bool:
    """Constant-time check of a presented secret against its stored hash."""
    return hmac.compare_digest(hash_secret(presented), stored_hash)
