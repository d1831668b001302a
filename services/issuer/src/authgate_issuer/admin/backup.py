"""``authgate backup FILE``: clients and live grants with their tokens, as JSON lines.

Format (version 1), one JSON object per line:

* header: ``{"format": "authgate-backup", "version": 1, "created_at_ms": <unix ms>}``
* ``{"type": "jwks", "value": {...}}``: the published public JWK Set (private keys stay in
  KEYS_DIR, which is backed up separately)
* ``{"type": "client", "client_id", "ttl_ms", "record"}``: the stored record, hashes only
* ``{"type": "grant", "grant_id", "ttl_ms", "fields", "rotated"}``: the grant hash and the hashes
  of its already-rotated refresh tokens (for reuse detection)
* ``{"type": "token", "jti", "ttl_ms", "record"}``: an access-token record
* trailer: ``{"type": "end", "records": <number of record lines>}``; a file without it is
  truncated and refused by restore

``ttl_ms`` is the remaining lifetime at ``created_at_ms`` (null: no expiry), so a record expires at
``created_at_ms + ttl_ms`` whenever it is restored. Indexes (client grants, user tokens, the
expiry schedule of registrations) are not stored: they follow from the records, and restore
rebuilds them.
No secret is in the file in clear: clients, registration and refresh tokens appear as SHA-256
hashes; what grants keep sealed (the users' GitHub tokens under UPSTREAM_TOKEN_KEYS, the grace
window's successor pair) stays sealed, so restoring a grant's GitHub token needs those keys.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import IO, Any

import orjson

from authgate_shared import redis_keys

from .common import OK, Admin, CommandError, get_many, scan, text

FORMAT = "authgate-backup"
VERSION = 1


def _ttl(pttl: int) -> int | None:
    return None if pttl < 0 else pttl


def jti_of_token_key(key: str) -> str:
    """``oauth:token:{gid}.rest`` -> ``gid.rest`` (checked against redis_keys.token)."""
    jti = redis_keys.id_from_key(key) + key[key.index("}") + 1 :]
    if redis_keys.token(jti) != key:
        raise ValueError(f"unexpected token key {key!r}")
    return jti


class Writer:
    def __init__(self, admin: Admin, fh: IO[bytes]) -> None:
        self.admin, self.redis, self.fh = admin, admin.redis, fh
        self.records = 0

    def line(self, value: dict[str, Any]) -> None:
        self.fh.write(orjson.dumps(value) + b"\n")

    def record(self, value: dict[str, Any]) -> None:
        self.line(value)
        self.records += 1

    async def clients(self) -> None:
        async for keys in scan(self.redis, redis_keys.all_clients_pattern()):
            for key, (raw, pttl) in zip(keys, await get_many(self.redis, keys), strict=True):
                if raw is not None:
                    self.record(
                        {"type": "client", "client_id": redis_keys.id_from_key(key)}
                        | {"ttl_ms": _ttl(pttl), "record": orjson.loads(raw)}
                    )

    async def grants(self) -> None:
        async for keys in scan(self.redis, redis_keys.all_grants_pattern()):
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    grant_id = redis_keys.id_from_key(key)
                    pipe.hgetall(key)
                    pipe.pttl(key)
                    pipe.smembers(redis_keys.grant_rotated(grant_id))
                replies = await pipe.execute()
            for n, key in enumerate(keys):
                fields, pttl, rotated = replies[3 * n : 3 * n + 3]
                if fields:
                    self.record(
                        {"type": "grant", "grant_id": redis_keys.id_from_key(key)}
                        | {"ttl_ms": _ttl(pttl)}
                        | {"fields": {text(k): text(v) for k, v in fields.items()}}
                        | {"rotated": sorted(text(r) for r in rotated)}
                    )

    async def tokens(self) -> None:
        async for keys in scan(self.redis, redis_keys.all_tokens_pattern()):
            for key, (raw, pttl) in zip(keys, await get_many(self.redis, keys), strict=True):
                if raw is not None:
                    self.record(
                        {"type": "token", "jti": jti_of_token_key(key), "ttl_ms": _ttl(pttl)}
                        | {"record": orjson.loads(raw)}
                    )


async def backup(args: argparse.Namespace, admin: Admin) -> int:
    path = Path(args.file)
    created_at_ms = int(admin.now() * 1000)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            writer = Writer(admin, fh)
            writer.line({"format": FORMAT, "version": VERSION, "created_at_ms": created_at_ms})
            jwks = await admin.redis.get(redis_keys.JWKS)
            if jwks is not None:
                writer.record({"type": "jwks", "value": orjson.loads(jwks)})
            await writer.clients()
            await writer.grants()
            await writer.tokens()
            writer.line({"type": "end", "records": writer.records})
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # Renamed only when complete, so a file with the final name is never a partial backup.
    os.replace(tmp, path)
    if args.json:
        admin.json({"file": str(path), "records": writer.records})
    else:
        admin.say(f"wrote {writer.records} record(s) to {path}")
    return OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("backup", help="write clients, grants and tokens to FILE")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=backup)
