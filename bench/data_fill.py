"""Synthetic clients and tokens in exactly the issuer's storage format, written with pipelines.

Client records are the issuer's ``ClientRecord`` (cloned from a client registered over HTTP, so
the metadata is what /register stores) serialised by its ``to_json`` and filed in the expiry
schedule by ``store.clients.schedule_expiry``, as ``save_client`` does; grants are the grants
store's ``Grant`` with its ``fields()``; every key name comes from ``redis_keys``. The access-token
record is built inline by ``issuance.mint_access_token``, so ``check_format`` compares one synthetic
grant with one minted through POST /token, key by key (types, hash fields, JSON members, TTLs),
and the benchmark stops if they differ: the format cannot drift silently. The client's entry in
the expiry schedule is part of the comparison.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import orjson
import redis

from authgate_issuer.oauth.credentials import hash_secret, new_id
from authgate_issuer.store.clients import ClientRecord, schedule_expiry
from authgate_issuer.store.grants import Grant
from authgate_shared import redis_keys
from authgate_shared.runtime import system_random

BATCH = 5000
USERS = 10_000  # tokens spread over this many users, as a real user base would be
ACCESS_LIFETIME = 2_592_000  # the issuer's defaults (README)
REFRESH_LIFETIME = 31_536_000
CLIENT_LIFETIME = 7_776_000


@dataclasses.dataclass(frozen=True)
class Fill:
    template: ClientRecord
    resource: str

    def client(self, pipe: Any, now: int, lifetime: int = CLIENT_LIFETIME) -> str:
        """One registration, written as save_client writes it: schedule entry, then record."""
        cid = new_id(system_random)
        record = dataclasses.replace(
            self.template,
            client_id=cid,
            client_id_issued_at=now,
            expires_at=now + lifetime,
            client_secret_hash=hash_secret(cid + "s"),
            registration_token_hash=hash_secret(cid + "r"),
        )
        schedule_expiry(pipe, record)
        pipe.set(redis_keys.client(cid), record.to_json(), ex=lifetime)
        return cid

    def token(self, pipe: Any, client_id: str, user: str, now: int, access_ttl: int) -> str:
        """One grant with one access token, every key and index /token writes for it."""
        gid = new_id(system_random)
        jti = f"{gid}.{new_id(system_random)}"
        grant = Grant(gid, client_id, user, "583231", "mcp:*", [self.resource], now,
                      now + REFRESH_LIFETIME, now, hash_secret(jti))  # fmt: skip
        exp = now + access_ttl
        record = {"client_id": client_id, "user_id": user, "scope": "mcp:*",
                  "aud": [self.resource], "created_at": now, "expires_at": exp}  # fmt: skip
        pipe.hset(redis_keys.grant(gid), mapping=grant.fields())
        pipe.expire(redis_keys.grant(gid), REFRESH_LIFETIME)
        pipe.sadd(redis_keys.grant_tokens(gid), jti)
        pipe.pexpire(redis_keys.grant_tokens(gid), REFRESH_LIFETIME * 1000)
        pipe.set(redis_keys.token(jti), orjson.dumps(record), ex=access_ttl)
        pipe.zadd(redis_keys.client_grants(client_id), {gid: grant.expiry})
        pipe.expire(redis_keys.client_grants(client_id), REFRESH_LIFETIME)
        pipe.zadd(redis_keys.user_tokens(user), {jti: exp})
        pipe.expire(redis_keys.user_tokens(user), access_ttl)
        return jti

    def clients(self, client: redis.Redis, count: int) -> list[str]:
        now, ids = int(time.time()), []
        for first in range(0, count, BATCH):
            with client.pipeline(transaction=False) as pipe:
                ids += [self.client(pipe, now) for _ in range(min(BATCH, count - first))]
                pipe.execute()
        return ids

    def tokens(self, client: redis.Redis, client_ids: list[str], first_user: int = 0) -> None:
        """One grant with one live access token for each client."""
        now = int(time.time())
        for first in range(0, len(client_ids), BATCH):
            with client.pipeline(transaction=False) as pipe:
                for n, cid in enumerate(client_ids[first : first + BATCH], first_user + first):
                    self.token(pipe, cid, f"user{n % USERS}", now, ACCESS_LIFETIME)
                pipe.execute()

    def expiring_clients(self, client: redis.Redis, count: int, lifetime: int = 1) -> None:
        """``count`` registrations that expire in ``lifetime`` seconds, each with one grant and
        one live access token: what purge-expired has to revoke once their TTL has passed."""
        now = int(time.time())
        with client.pipeline(transaction=False) as pipe:
            for n in range(count):
                cid = self.client(pipe, now, lifetime)
                self.token(pipe, cid, f"user{n % USERS}", now, ACCESS_LIFETIME)
            pipe.execute()

    def one_client(
        self, client: redis.Redis, grants: int, access_ttl: int = ACCESS_LIFETIME
    ) -> str:
        now = int(time.time())
        with client.pipeline(transaction=False) as pipe:
            cid = self.client(pipe, now)
            for n in range(grants):
                self.token(pipe, cid, f"user{n % USERS}", now, access_ttl)
            pipe.execute()
        return cid


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _shape(client: redis.Redis, key: str) -> tuple[str, object, bool]:
    """(type, field names or JSON members, has a TTL) of one key."""
    kind = _text(client.type(key))
    if kind == "hash":
        members: object = sorted(_text(k) for k in client.hgetall(key))
    elif kind == "string":
        members = sorted(orjson.loads(client.get(key) or b"{}"))
    else:
        members = kind
    return kind, members, client.ttl(key) > 0


def _schedule_shape(client: redis.Redis, client_id: str) -> tuple[str, object, bool]:
    """(type, filed under the record's expires_at, has a TTL) of the client's schedule entry."""
    record = orjson.loads(client.get(redis_keys.client(client_id)) or b"{}")
    score = client.zscore(redis_keys.CLIENT_EXPIRY, client_id)
    filed = score is not None and score == record.get("expires_at")
    return (
        _text(client.type(redis_keys.CLIENT_EXPIRY)),
        filed,
        client.ttl(redis_keys.CLIENT_EXPIRY) > 0,
    )


def grant_shapes(client: redis.Redis, jti: str, client_id: str, user: str) -> dict[str, object]:
    gid = redis_keys.grant_id_of_jti(jti)
    keys = {
        "grant": redis_keys.grant(gid), "grant_tokens": redis_keys.grant_tokens(gid),
        "token": redis_keys.token(jti), "client_grants": redis_keys.client_grants(client_id),
        "user_tokens": redis_keys.user_tokens(user), "client": redis_keys.client(client_id),
    }  # fmt: skip
    shapes: dict[str, object] = {name: _shape(client, key) for name, key in keys.items()}
    shapes["client_expiry"] = _schedule_shape(client, client_id)
    return shapes


def check_format(client: redis.Redis, fill: Fill, real_jti: str, real_client: str) -> None:
    """Stop unless a synthetic grant looks exactly like one minted by POST /token."""
    real = grant_shapes(client, real_jti, real_client, "octocat")
    now = int(time.time())
    with client.pipeline(transaction=False) as pipe:
        cid = fill.client(pipe, now)
        jti = fill.token(pipe, cid, "octocat-synthetic", now, ACCESS_LIFETIME)
        pipe.execute()
    synthetic = grant_shapes(client, jti, cid, "octocat-synthetic")
    if synthetic != real:
        raise SystemExit(f"synthetic data differs from the issuer's:\n{synthetic}\n{real}")
