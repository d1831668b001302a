"""Bounded in-process cache of verified tokens, keyed by the token string.

A signature check and PyJWT's claim parsing cost ~100 µs; a dict lookup costs ~0.1 µs, and an
MCP client sends the same token on every request. Only verified tokens are stored, never for
longer than their ``exp`` (RFC 7519 §4.1.4), and never for longer than a jittered ``max_age`` so
that entries created together (e.g. after a restart) do not all expire in the same second and
make a p99 spike of re-verifications. Revocation is not cached here: it is checked per request.

For services that inject the user's upstream token (``upstream.py``) the cache also keeps, per
token, the answer of the token exchange: the ready 200 carrying ``Authorization`` (or the
refusal that will not change for this token), under the same bounds and, in addition, never
past the upstream token's own expiry. It is only read after the token passed the revocation
check, so a revoked token never gets it again.
"""

from __future__ import annotations

import random

from .challenge import Message
from .decision import Denial, VerifiedToken

_JITTER = 0.2
Exchanged = Message | Denial


class TokenCache:
    def __init__(
        self, *, max_entries: int, max_age: float, rng: random.Random | None = None
    ) -> None:
        self._max_entries = max_entries
        self._max_age = max_age
        self._rng = rng or random.Random()
        self._entries: dict[bytes, tuple[float, VerifiedToken]] = {}
        self._upstream: dict[bytes, tuple[float, Exchanged]] = {}

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

    def get_upstream(self, token: bytes, now: float) -> Exchanged | None:
        entry = self._upstream.get(token)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._upstream[token]
            return None
        return entry[1]

    def put_upstream(
        self, token: bytes, answer: Exchanged, now: float, *, exp: int, valid_for: float | None
    ) -> None:
        """``valid_for``: seconds the answer stays true (the upstream token's remaining life
        less a margin); None when it does not expire."""
        if self._max_entries <= 0:
            return
        lifetime = self._max_age * (1.0 - _JITTER * self._rng.random())
        expires = min(float(exp), now + lifetime)
        if valid_for is not None:
            expires = min(expires, now + valid_for)
        if expires <= now:
            return
        entries = self._upstream
        if token not in entries and len(entries) >= self._max_entries:
            del entries[next(iter(entries))]
        entries[token] = (expires, answer)

    def upstream_entries(self) -> int:
        return len(self._upstream)

    def discard(self, token: bytes) -> None:
        self._entries.pop(token, None)
        self._upstream.pop(token, None)

    def discard_upstream(self, token: bytes) -> None:
        self._upstream.pop(token, None)

    def clear(self) -> None:
        self._entries.clear()
        self._upstream.clear()
