"""Bounded in-process cache of verified tokens, keyed by the token string.

A signature check and PyJWT's claim parsing cost ~100 µs; a dict lookup costs ~0.1 µs, and an
MCP client sends the same token on every request. Only verified tokens are stored, never for
longer than their ``exp`` (RFC 7519 §4.1.4), and never for longer than a jittered ``max_age`` so
that entries created together (e.g. after a restart) do not all expire in the same second and
make a p99 spike of re-verifications. Revocation is not cached here: it is checked per request.
"""

from __future__ import annotations

import random

from .decision import VerifiedToken

_JITTER = 0.2


class TokenCache:
    def __init__(
        self, *, max_entries: int, max_age: float, rng: random.Random | None = None
    ) -> None:
        self._max_entries = max_entries
        self._max_age = max_age
        self._rng = rng or random.Random()
        self._entries: dict[bytes, tuple[float, VerifiedToken]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: bytes, now: float) -> VerifiedToken | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[token]
            return None
        return entry[1]

    def put(self, token: bytes, verified: VerifiedToken, now: float) -> None:
        if self._max_entries <= 0:
            return
        lifetime = self._max_age * (1.0 - _JITTER * self._rng.random())
        expires = min(float(verified.exp), now + lifetime)
        if expires <= now:
            return
        entries = self._entries
        if token not in entries and len(entries) >= self._max_entries:
            # Evict the oldest insertion (dicts keep insertion order): O(1), no LRU bookkeeping
            # on the hot path; a hot token evicted early is simply verified again.
            del entries[next(iter(entries))]
        entries[token] = (expires, verified)

    def discard(self, token: bytes) -> None:
        self._entries.pop(token, None)

    def clear(self) -> None:
        self._entries.clear()
