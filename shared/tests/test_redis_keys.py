from __future__ import annotations

import binascii

from authgate_shared import redis_keys


def slot(key: str) -> int:
    """Redis Cluster key slot (CRC16/XMODEM of the hash tag, mod 16384)."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return binascii.crc_hqx(key.encode(), 0) % 16384


def test_seed_names_are_kept() -> None:
    assert redis_keys.client("abc") == "oauth:client:{abc}"
    assert redis_keys.token("g1.r2") == "oauth:token:{g1}.r2"
    assert redis_keys.user_tokens("OctoCat") == "oauth:user_tokens:{octocat}"


def test_every_key_of_a_grant_shares_one_cluster_slot() -> None:
    gid = "Zm9vYmFy"
    keys = [
        redis_keys.grant(gid),
        redis_keys.grant_tokens(gid),
        redis_keys.grant_rotated(gid),
        redis_keys.token(f"{gid}.abc"),
        redis_keys.token(f"{gid}.xyz"),
    ]
    assert len({slot(k) for k in keys}) == 1
    assert redis_keys.grant_id_of_jti(f"{gid}.abc") == gid


def test_id_from_key_round_trips() -> None:
    assert redis_keys.id_from_key(redis_keys.client("c-1")) == "c-1"
