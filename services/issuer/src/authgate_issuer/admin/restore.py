"""``authgate restore FILE``: load a backup (format in backup.py) without resurrecting the dead.

The whole file is checked before anything is written (a truncated or foreign file changes
nothing). Each record gets its original absolute expiry (``created_at_ms + ttl_ms``); a record
whose expiry has passed is skipped. Writes are SET NX / create-if-absent, so running a restore
twice changes nothing the second time and never overwrites newer state (a grant rotated since the
backup keeps its current refresh token). The indexes (client grants, user grants, user tokens, the
expiry schedule of registrations) are rebuilt from the records.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from authgate_shared import redis_keys
from authgate_shared.redis.scripts import Script

from .backup import FORMAT, VERSION
from .common import NOT_FOUND, OK, Admin, CommandError

TYPES = {"jwks", "client", "grant", "token"}

# KEYS: grant, grant_rotated. ARGV: pttl (0 = none), fields JSON, rotated hashes JSON.
# Creates the grant only when absent, in one step on the grant's slot.
GRANT = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for name, value in pairs(cjson.decode(ARGV[2])) do redis.call('HSET', KEYS[1], name, value) end
for _, hash in ipairs(cjson.decode(ARGV[3])) do redis.call('SADD', KEYS[2], hash) end
if tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
end
return 1
"""
)


def lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                try:
                    value = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise CommandError(f"{path}:{number}: not a JSON line") from None
                if not isinstance(value, dict):
                    raise CommandError(f"{path}:{number}: not a JSON object")
                yield number, value
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file", NOT_FOUND) from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc.strerror}") from None


def check(path: Path) -> int:
    """Validate the whole file; return its ``created_at_ms``."""
    stream = lines(path)
    _, header = next(stream, (0, {}))
    if header.get("format") != FORMAT:
        raise CommandError(f"{path}: not an authgate backup (first line has no format {FORMAT!r})")
    if header.get("version") != VERSION:
        raise CommandError(
            f"{path}: backup format version {header.get('version')!r} is not supported "
            f"(this authgate reads version {VERSION}); use the authgate release that wrote it"
        )
    records, ended = 0, False
    for number, value in stream:
        if ended:
            raise CommandError(f"{path}:{number}: data after the end line")
        if value.get("type") == "end":
            ended = value.get("records") == records
            if not ended:
                raise CommandError(f"{path}:{number}: end line counts {value.get('records')}")
        elif value.get("type") in TYPES:
            records += 1
        else:
            raise CommandError(f"{path}:{number}: unknown record type {value.get('type')!r}")
    if not ended:
        raise CommandError(f"{path}: truncated (no end line); nothing restored")
    return int(header["created_at_ms"])


class Restorer:
    def __init__(self, admin: Admin, created_at_ms: int) -> None:
        self.redis = admin.redis
        self.created_at_ms = created_at_ms
        self.now_ms = int(admin.now() * 1000)
        self.counts: Counter[str] = Counter()

    def remaining(self, ttl_ms: int | None) -> int | None:
        """Milliseconds left now (None: no expiry); <= 0 means expired since the backup."""
        return None if ttl_ms is None else self.created_at_ms + ttl_ms - self.now_ms

    async def apply(self, value: dict[str, Any]) -> None:
        kind = str(value["type"])
        left = self.remaining(value.get("ttl_ms"))
        if left is not None and left <= 0:
            self.counts[f"{kind}s_expired"] += 1
            return
        created = await getattr(self, kind)(value, left)
        self.counts[f"{kind}s_restored" if created else f"{kind}s_present"] += 1

    async def jwks(self, value: dict[str, Any], _: int | None) -> bool:
        return bool(await self.redis.set(redis_keys.JWKS, orjson.dumps(value["value"]), nx=True))

    async def client(self, value: dict[str, Any], left: int | None) -> bool:
        client_id, record = str(value["client_id"]), dict(value["record"])
        expires_at = int(record.get("expires_at") or 0)
        async with self.redis.pipeline(transaction=False) as pipe:
            # The expiry schedule is derived from the records, so backups leave it out and it is
            # rebuilt here, entry before record as store.clients.save_client writes them; also
            # for a record already present, whose entry an older release never wrote.
            if expires_at:
                pipe.zadd(redis_keys.CLIENT_EXPIRY, {client_id: expires_at})
            pipe.set(redis_keys.client(client_id), orjson.dumps(record), px=left, nx=True)
            results = await pipe.execute()
        return bool(results[-1])

    async def grant(self, value: dict[str, Any], left: int | None) -> bool:
        grant_id, fields = str(value["grant_id"]), dict(value["fields"])
        keys = [redis_keys.grant(grant_id), redis_keys.grant_rotated(grant_id)]
        args: list[bytes | int] = [
            left or 0,
            orjson.dumps(fields),
            orjson.dumps(value.get("rotated", [])),
        ]
        created = bool(await GRANT(self.redis, keys=keys, args=args))
        expiry = int(fields["expiry"])
        await self._index(redis_keys.client_grants(fields["client_id"]), grant_id, expiry, left)
        if github_id := str(fields.get("github_id", "")):
            await self._index(redis_keys.user_grants(github_id), grant_id, expiry, left)
        return created

    async def token(self, value: dict[str, Any], left: int | None) -> bool:
        jti, record = str(value["jti"]), dict(value["record"])
        key = redis_keys.token(jti)
        created = bool(await self.redis.set(key, orjson.dumps(record), px=left, nx=True))
        grant_id = redis_keys.grant_id_of_jti(jti)
        grant_left = await self.redis.pttl(redis_keys.grant(grant_id))
        if grant_left > 0:
            await self.redis.sadd(redis_keys.grant_tokens(grant_id), jti)
            await self.redis.pexpire(redis_keys.grant_tokens(grant_id), grant_left)
        user = str(record.get("user_id", ""))
        expires_at = int(str(record.get("expires_at", 0)))
        if user:
            await self._index(redis_keys.user_tokens(user), jti, expires_at, left)
        return created

    async def _index(self, key: str, member: str, score: int, left: int | None) -> None:
        """Add to a sorted-set index whose TTL must cover its longest-lived member."""
        await self.redis.zadd(key, {member: score})
        if left is not None:
            await self.redis.pexpire(key, left, nx=True)
            await self.redis.pexpire(key, left, gt=True)


async def restore(args: argparse.Namespace, admin: Admin) -> int:
    path = Path(args.file)
    restorer = Restorer(admin, check(path))
    for _, value in lines(path):
        if value.get("type") in TYPES:
            await restorer.apply(value)
    if args.json:
        admin.json(dict(sorted(restorer.counts.items())))
    else:
        admin.table(["RECORDS", "COUNT"], sorted(restorer.counts.items()))
    return OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("restore", help="load a backup FILE (idempotent)")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=restore)
