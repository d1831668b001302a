"""The verified-token cache: bounded, never past exp, lifetimes jittered."""

from __future__ import annotations

import random

from authgate_verifier.decision import VerifiedToken
from authgate_verifier.token_cache import TokenCache


def verified(exp: int) -> VerifiedToken:
    return VerifiedToken(
        jti="g.n",
        sub="github|octocat",
        client_id="c1",
        redis_key="oauth:token:{g}.n",
        audiences=frozenset(),
        gateway_wide=True,
        scopes=frozenset(),
        exp=exp,
        ok_start={},
        ok_start_with_token={},
        ok_start_plain={},
    )


def test_entry_never_outlives_exp() -> None:
    cache = TokenCache(max_entries=10, max_age=3600)
    cache.put(b"t", verified(exp=1000), now=990)
    assert cache.get(b"t", 999.9) is not None
    assert cache.get(b"t", 1000) is None
    assert len(cache) == 0
    cache.put(b"old", verified(exp=1000), now=1000)
    assert len(cache) == 0


def test_lifetimes_are_jittered_within_max_age() -> None:
    cache = TokenCache(max_entries=1000, max_age=100, rng=random.Random(1))
    for i in range(200):
        cache.put(str(i).encode(), verified(exp=10**9), now=0)
    expiries = [entry[0] for entry in cache._entries.values()]
    assert all(80 <= e <= 100 for e in expiries)
    assert max(expiries) - min(expiries) > 10  # spread, not one cliff
    assert cache.get(b"1", 100) is None


def test_bounded_with_oldest_evicted() -> None:
    cache = TokenCache(max_entries=3, max_age=100)
    for name in (b"a", b"b", b"c", b"d"):
        cache.put(name, verified(exp=10**9), now=0)
    assert len(cache) == 3
    assert cache.get(b"a", 1) is None
    assert cache.get(b"d", 1) is not None


def test_size_zero_disables() -> None:
    cache = TokenCache(max_entries=0, max_age=100)
    cache.put(b"a", verified(exp=10**9), now=0)
    assert cache.get(b"a", 1) is None


def test_upstream_answers_are_bounded_like_the_verdicts_and_by_their_own_expiry() -> None:
    cache = TokenCache(max_entries=2, max_age=3600, rng=random.Random(0))
    answer = {"type": "http.response.start", "status": 200, "headers": []}
    cache.put_upstream(b"t", answer, 0, exp=1000, valid_for=None)
    assert cache.get_upstream(b"t", 999.9) is answer and cache.get_upstream(b"t", 1000) is None
    cache.put_upstream(b"t", answer, 0, exp=1000, valid_for=60)
    assert cache.get_upstream(b"t", 59.9) is answer and cache.get_upstream(b"t", 60) is None
    cache.put_upstream(b"t", answer, 0, exp=1000, valid_for=-1)  # about to expire: not kept
    assert cache.get_upstream(b"t", 0) is None
    for name in (b"a", b"b", b"c"):
        cache.put_upstream(name, answer, 0, exp=1000, valid_for=None)
    assert cache.upstream_entries() == 2 and cache.get_upstream(b"a", 1) is None
    cache.put(b"b", verified(exp=1000), now=0)
    cache.discard_upstream(b"b")
    assert cache.get_upstream(b"b", 1) is None and cache.get(b"b", 1) is not None
    cache.put_upstream(b"b", answer, 0, exp=1000, valid_for=None)
    cache.clear()  # keys removed: verdicts and upstream answers go together
    assert cache.upstream_entries() == 0 and len(cache) == 0
