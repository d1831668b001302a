"""The client assertion's rules as pure functions (RFC 7523 §3), each limit on both sides, and
its single use in a real Redis. The flow through real processes is tests/test_private_key_jwt.py."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
from typing import Any

import jwt
import orjson
import pytest
import redis

from authgate_issuer.oauth.client_assertion import (
    LEEWAY,
    MAX_ASSERTION_CHARS,
    MAX_LIFETIME,
    Assertion,
    AssertionRefused,
    UnknownKey,
    claimed_client,
    use_once,
    verify_assertion,
)
from authgate_shared.redis.connection import RedisSettings, create_redis
from testsupport.client_assertions import ClientKey

KEY = ClientKey.rsa("k1")
EC = ClientKey.ec("e1")
NOW = 1_800_000_000
AUD = "https://auth.example.com"
JWKS = {"keys": [KEY.jwk(), EC.jwk()]}


def signed(key: ClientKey = KEY, header: dict[str, Any] | None = None, **claims: Any) -> str:
    body: dict[str, Any] = {"iss": "c1", "sub": "c1", "aud": AUD, "exp": NOW + 60, "jti": "j1"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(
        body, key.private, algorithm=key.alg, headers={"kid": key.kid, **(header or {})}
    )


def raw(header: dict[str, Any], body: dict[str, Any], signature: bytes = b"sig") -> str:
    """An assertion as sent, whatever it holds (signed by nobody)."""
    parts = (orjson.dumps(header), orjson.dumps(body), signature)
    return ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts)


def verify(assertion: str, now: float = NOW) -> Assertion:
    return verify_assertion(
        assertion, client_id="c1", jwks=JWKS, audiences=[AUD, f"{AUD}/token"], now=now
    )


def refused(assertion: str, now: float = NOW) -> str:
    with pytest.raises(AssertionRefused) as caught:
        verify(assertion, now)
    return str(caught.value)


def test_a_good_assertion_by_either_key() -> None:
    assert verify(signed()) == Assertion(client_id="c1", jti="j1", exp=NOW + 60)
    assert verify(signed(EC, aud=f"{AUD}/token")).jti == "j1"
    assert verify(signed(aud=["https://other.example", AUD])).client_id == "c1"


def test_claimed_client() -> None:
    assert claimed_client(signed()) == "c1"
    head = {"alg": "RS256", "kid": "k1"}
    odd = (raw(head, {"iss": 7, "sub": 7}), raw(head, {"sub": "c1"}), raw(head, {"iss": "c1"}))
    for bad in (signed(sub="c2"), signed(iss="", sub=""), *odd):
        with pytest.raises(AssertionRefused, match="iss and sub"):
            claimed_client(bad)
    with pytest.raises(AssertionRefused, match="not a JWT"):
        claimed_client("not-a-jwt")


def test_the_length_limit() -> None:
    base = signed(pad="")
    fill = MAX_ASSERTION_CHARS - len(base)
    at_limit = signed(pad="x" * (fill * 3 // 4 + 3))
    while len(at_limit) > MAX_ASSERTION_CHARS:
        at_limit = signed(
            pad="x" * (len(jwt.decode(at_limit, options={"verify_signature": False})["pad"]) - 1)
        )
    assert MAX_ASSERTION_CHARS - 4 <= len(at_limit) <= MAX_ASSERTION_CHARS
    assert claimed_client(at_limit) == "c1"
    with pytest.raises(AssertionRefused, match="longer than 8192"):
        claimed_client(at_limit + "x" * (MAX_ASSERTION_CHARS + 1 - len(at_limit)))


def test_expiry_to_the_second() -> None:
    assert verify(signed(exp=NOW - LEEWAY + 1)).exp == NOW - LEEWAY + 1
    assert refused(signed(exp=NOW - LEEWAY)) == "has expired"
    longest = NOW + MAX_LIFETIME + LEEWAY
    assert verify(signed(exp=longest)).exp == longest
    assert refused(signed(exp=longest + 1)) == f"must expire within {MAX_LIFETIME} s"


@pytest.mark.parametrize("exp", [None, "1800000060", 1_800_000_060.5, True])
def test_exp_must_be_an_integer(exp: Any) -> None:
    assert refused(signed(exp=exp)) == "must have a numeric exp"


@pytest.mark.parametrize("name", ["nbf", "iat"])
def test_not_before_and_issued_at_to_the_second(name: str) -> None:
    assert verify(signed(**{name: NOW + LEEWAY})).jti == "j1"
    assert verify(signed(**{name: NOW - 100})).jti == "j1"
    assert refused(signed(**{name: NOW + LEEWAY + 1})) == f"has {name} in the future"


def test_the_injected_clock_only() -> None:
    # Valid at the injected time although long expired by the wall clock (and vice versa).
    old = 1_000_000_000
    assert verify(signed(exp=old + 60, iat=old, nbf=old), now=old).exp == old + 60
    assert refused(signed(), now=NOW + 3600) == "has expired"


def test_algorithms_and_keys() -> None:
    assert "alg must be one of" in refused(raw({"alg": "none", "kid": "k1"}, {"iss": "c1"}, b""))
    head = base64.urlsafe_b64encode(orjson.dumps({"alg": "HS256", "kid": "k1"})).rstrip(b"=")
    body = base64.urlsafe_b64encode(orjson.dumps({"iss": "c1"})).rstrip(b"=")
    sig = base64.urlsafe_b64encode(hmac.new(b"k", head + b"." + body, hashlib.sha256).digest())
    assert "alg must be one of" in refused(f"{head.decode()}.{body.decode()}.{sig.decode()}")
    with pytest.raises(UnknownKey):
        verify(signed(ClientKey.rsa("k9")))
    assert refused(signed(ClientKey.rsa("k1"))) == "is not signed by any of the client's keys"
    assert refused("not-a-jwt") == "is not a JWT"


def test_aud_iss_sub_and_jti() -> None:
    assert refused(signed(aud="https://other.example")) == f"aud must name this server ({AUD})"
    assert refused(signed(iss="c2")).startswith("is invalid")
    assert refused(signed(sub="c2")) == "must have sub equal to the client id"
    for jti in (None, "", "j" * 257):
        assert refused(signed(jti=jti)).startswith("must have a jti")
    assert verify(signed(jti="j" * 256)).jti == "j" * 256


def test_a_jti_is_used_once_until_it_expires(redis_url: str, redis_client: redis.Redis) -> None:
    async def go() -> tuple[bool, bool, bool]:
        client = create_redis(RedisSettings(url=redis_url))
        try:
            first = Assertion("c1", "j1", exp=NOW + 60)
            return (
                await use_once(client, first, now=NOW),
                await use_once(client, first, now=NOW + 1),
                await use_once(client, Assertion("c2", "j1", exp=NOW + 60), now=NOW),
            )
        finally:
            await client.aclose()

    assert asyncio.run(go()) == (True, False, True)  # replay refused; another client's jti apart
    ttls = sorted(redis_client.ttl(k) for k in redis_client.keys("*"))
    assert ttls == [60 + LEEWAY, 60 + LEEWAY]


def test_a_jti_about_to_expire_is_still_recorded(redis_url: str, redis_client: redis.Redis) -> None:
    # Half a second of validity left: recorded for the shortest TTL Redis has (1 s), not 0.
    async def go() -> bool:
        client = create_redis(RedisSettings(url=redis_url))
        try:
            return await use_once(client, Assertion("c1", "j2", exp=NOW), now=NOW + LEEWAY - 0.5)
        finally:
            await client.aclose()

    assert asyncio.run(go()) is True
    assert [redis_client.ttl(k) for k in redis_client.keys("*")] == [1]


def test_a_verified_assertion_cannot_be_changed() -> None:
    assertion = verify(signed())
    with pytest.raises(dataclasses.FrozenInstanceError):
        assertion.jti = "other"  # type: ignore[misc]


def test_the_documented_limits() -> None:
    # RFC 7523 leaves them to the server: 5 minutes of lifetime, 30 s of clock skew, 8 KiB.
    assert (MAX_LIFETIME, LEEWAY, MAX_ASSERTION_CHARS) == (300, 30, 8192)
    with pytest.raises(AssertionRefused, match="not a JWT"):
        claimed_client("x" * 8192)
    with pytest.raises(AssertionRefused, match="longer than 8192"):
        claimed_client("x" * 8193)


def test_every_key_with_the_kid_is_tried() -> None:
    # A rotation may publish two keys under one kid: the one that verifies counts.
    stale = ClientKey.rsa("k1")
    jwks = {"keys": [stale.jwk(), KEY.jwk()]}
    verified = verify_assertion(signed(), client_id="c1", jwks=jwks, audiences=[AUD], now=NOW)
    assert verified.jti == "j1"
