"""The issuer's signing keys: loaded from configuration or generated once and kept on disk.

With RS256 or ES256 and no ``GATEWAY_RSA_PRIVATE_KEY``, a key of the algorithm's type (3072-bit
RSA, or EC P-256) is generated at first start in ``KEYS_DIR`` (owner-only permissions). Replicas
sharing the directory serialise generation with an exclusive ``flock`` and an O_EXCL create, so
two replicas starting at once end with one key. The key ring (current + previous keys) is then
published to Redis so verifiers need not call the issuer.

Layout of ``KEYS_DIR``: ``<kid>.pem`` per private key, and ``current`` naming the signing kid.
Rotation (the ``authgate keys`` commands) adds a file and moves ``current``; the format stays.
Every key in the directory must be of the configured algorithm's type: a key of another type
stops start-up rather than letting the issuer sign with an algorithm the verifiers refuse.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from authgate_shared import redis_keys
from authgate_shared.keys import (
    PrivateKey,
    SigningKey,
    hmac_signing_key,
    jwks_document,
    load_private_pem,
    signing_key,
)

from ..settings import IssuerSettings

RSA_BITS = 3072
CURRENT = "current"
LOCK = ".lock"


@dataclass(frozen=True)
class KeyRing:
    current: SigningKey
    previous: tuple[SigningKey, ...] = ()

    @property
    def verification_keys(self) -> dict[str, object]:
        keys = {self.current.kid: self._public(self.current)}
        for key in self.previous:
            keys[key.kid] = self._public(key)
        return keys

    @staticmethod
    def _public(key: SigningKey) -> object:
        if isinstance(key.key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            return key.key.public_key()
        return key.key

    def jwks(self) -> bytes:
        jwks = [k.public_jwk for k in (self.current, *self.previous) if k.public_jwk]
        return jwks_document(jwks)


def generate_private_key(algorithm: str) -> PrivateKey:
    """A new signing key of the type ``algorithm`` is used with."""
    if algorithm == "ES256":
        # RFC 7518 §3.4: ES256 is ECDSA on P-256 with SHA-256, nothing else.
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "RS256":
        return rsa.generate_private_key(65537, RSA_BITS)
    raise ValueError(f"JWT_ALGORITHM={algorithm} has no key pair to generate")


def _write_private(path: Path, key: PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_current(keys_dir: Path, kid: str) -> None:
    tmp = keys_dir / (CURRENT + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(kid + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, keys_dir / CURRENT)


class KeyDirLock:
    """Exclusive lock on the key directory (shared by replicas on one volume)."""

    def __init__(self, keys_dir: Path) -> None:
        self._path = keys_dir / LOCK
        self._fd = -1

    def __enter__(self) -> KeyDirLock:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def read_key_dir(keys_dir: Path, algorithm: str) -> KeyRing | None:
    """The ring stored in ``keys_dir``; None when no current key exists yet.

    RuntimeError naming the file when a key is unreadable or not of ``algorithm``'s type.
    """
    current_file = keys_dir / CURRENT
    if not current_file.exists():
        return None
    current_kid = current_file.read_text().strip()
    current: SigningKey | None = None
    previous: list[SigningKey] = []
    for pem_file in sorted(keys_dir.glob("*.pem")):
        try:
            key = signing_key(load_private_pem(pem_file.read_bytes(), algorithm))
        except ValueError as exc:
            raise RuntimeError(
                f"{pem_file} {exc}: every key in KEYS_DIR must be of that type, move the others out"
            ) from exc
        if key.kid == current_kid:
            current = key
        else:
            previous.append(key)
    if current is None:
        raise RuntimeError(f"{current_file} names key {current_kid} but no such .pem exists")
    return KeyRing(current=current, previous=tuple(previous))


def add_key(keys_dir: Path, private_key: PrivateKey, *, make_current: bool) -> SigningKey:
    key = signing_key(private_key)
    _write_private(keys_dir / f"{key.kid}.pem", private_key)
    if make_current:
        _write_current(keys_dir, key.kid)
    return key


def load_or_create(keys_dir: Path, algorithm: str) -> KeyRing:
    """Load the ring, generating the first key under the directory lock if there is none."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with KeyDirLock(keys_dir):
        ring = read_key_dir(keys_dir, algorithm)
        if ring is None:
            add_key(keys_dir, generate_private_key(algorithm), make_current=True)
            ring = read_key_dir(keys_dir, algorithm)
    assert ring is not None
    return ring


def load_key_ring(settings: IssuerSettings) -> KeyRing:
    if settings.jwt_algorithm == "HS256":
        assert settings.jwt_secret is not None
        return KeyRing(current=hmac_signing_key(settings.jwt_secret))
    if settings.rsa_private_key_pem is not None:
        # Already checked by the settings; checked again so no caller can skip it.
        try:
            private = load_private_pem(settings.rsa_private_key_pem, settings.jwt_algorithm)
        except ValueError as exc:
            raise RuntimeError(f"GATEWAY_RSA_PRIVATE_KEY {exc}") from exc
        return KeyRing(current=signing_key(private))
    return load_or_create(settings.keys_dir, settings.jwt_algorithm)


def ring_version(settings: IssuerSettings) -> int | None:
    """A cheap fingerprint of the key directory (None when keys come from the environment).

    Adding or removing a key file changes the directory's mtime, and moving ``current`` (written
    to a new file, then renamed) changes that file's inode and mtime, so a change of any means
    the ring must be re-read. The values are hashed as a tuple, not XORed: renaming ``current``
    gives it and the directory the same mtime, and equal values XOR to 0 every time.
    """
    if settings.jwt_algorithm == "HS256" or settings.rsa_private_key_pem is not None:
        return None
    try:
        current = (settings.keys_dir / CURRENT).stat()
        directory = settings.keys_dir.stat()
    except OSError:
        return None
    return hash((directory.st_mtime_ns, current.st_mtime_ns, current.st_ino))


async def publish_jwks(redis: aioredis.Redis, ring: KeyRing) -> None:
    """Publish the public JWK Set for verifiers (an empty set for HS256)."""
    await redis.set(redis_keys.JWKS, ring.jwks())
