"""``authgate keys list|rotate|prune``: the signing keys in KEYS_DIR (RS256 or ES256).

Rotation adds a key and makes it current; the previous keys stay in the JWK Set, because tokens
they signed remain valid until they expire. ``retired.json`` in KEYS_DIR records when each key
stopped being current ({kid: unix seconds}); ``prune`` deletes a previous key once
ACCESS_TOKEN_LIFETIME (+ a margin for issuers that had not yet reloaded) has passed since then.
A previous key with no retirement record (rotated by hand) is recorded on first sight, so its
clock starts then: never early, at worst late. ``rotate`` generates a key of JWT_ALGORITHM's
type; a key of another type in the directory is refused, as at the issuer's start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

import orjson

from authgate_shared import redis_keys
from authgate_shared.redis.connection import REDIS_DOWN_ERRORS

from ..store.keystore import (
    KeyDirLock,
    KeyRing,
    add_key,
    generate_private_key,
    publish_jwks,
    read_key_dir,
)
from .common import NOT_FOUND, OK, Admin, CommandError, when

RETIRED = "retired.json"
PRUNE_MARGIN = 300
PUBLISHED = {True: "yes", False: "NO", None: "?"}


def _keys_dir(admin: Admin) -> Path:
    settings = admin.settings
    if settings.jwt_algorithm == "HS256":
        raise CommandError("JWT_ALGORITHM is HS256: there are no signing keys to manage")
    if settings.rsa_key_from_env:
        raise CommandError("GATEWAY_RSA_PRIVATE_KEY is set: rotate by changing that variable")
    return settings.keys_dir


def load_retired(keys_dir: Path) -> dict[str, int]:
    path = keys_dir / RETIRED
    return (
        {str(k): int(v) for k, v in orjson.loads(path.read_bytes()).items()}
        if path.exists()
        else {}
    )


def save_retired(keys_dir: Path, retired: dict[str, int]) -> None:
    tmp = keys_dir / (RETIRED + ".tmp")
    tmp.write_bytes(orjson.dumps(retired, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    os.replace(tmp, keys_dir / RETIRED)


def _read(keys_dir: Path, algorithm: str) -> KeyRing | None:
    try:
        return read_key_dir(keys_dir, algorithm)
    except RuntimeError as exc:
        raise CommandError(str(exc)) from exc


def _ring(keys_dir: Path, algorithm: str) -> KeyRing:
    ring = _read(keys_dir, algorithm) if keys_dir.is_dir() else None
    if ring is None:
        raise CommandError(f"no signing key in {keys_dir}", NOT_FOUND)
    return ring


def _rotate(keys_dir: Path, algorithm: str, now: int) -> tuple[str, KeyRing]:
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with KeyDirLock(keys_dir):
        # Read first: a directory holding another algorithm's keys is refused before any write.
        old = _read(keys_dir, algorithm)
        new = add_key(keys_dir, generate_private_key(algorithm), make_current=True)
        if old is not None:
            save_retired(keys_dir, {**load_retired(keys_dir), old.current.kid: now})
        return new.kid, _ring(keys_dir, algorithm)


def _prune(keys_dir: Path, algorithm: str, now: int, lifetime: int) -> tuple[list[str], KeyRing]:
    with KeyDirLock(keys_dir):
        ring = _ring(keys_dir, algorithm)
        retired = load_retired(keys_dir)
        previous = {key.kid for key in ring.previous}
        retired = {kid: at for kid, at in retired.items() if kid in previous}
        pruned = []
        for kid in sorted(previous):
            retired.setdefault(kid, now)
            if retired[kid] + lifetime + PRUNE_MARGIN <= now:
                (keys_dir / f"{kid}.pem").unlink()
                del retired[kid]
                pruned.append(kid)
        save_retired(keys_dir, retired)
        return pruned, _ring(keys_dir, algorithm)


async def rotate(args: argparse.Namespace, admin: Admin) -> int:
    algorithm = admin.settings.jwt_algorithm
    kid, ring = await asyncio.to_thread(_rotate, _keys_dir(admin), algorithm, int(admin.now()))
    await publish_jwks(admin.redis, ring)
    if args.json:
        admin.json({"current": kid, "previous": [k.kid for k in ring.previous]})
    else:
        admin.say(f"new current key {kid}; published {1 + len(ring.previous)} key(s)")
        admin.say("restart the issuers so they sign with it")
    return OK


async def prune(args: argparse.Namespace, admin: Admin) -> int:
    lifetime = admin.settings.access_token_lifetime
    keys_dir = _keys_dir(admin)
    algorithm = admin.settings.jwt_algorithm
    pruned, ring = await asyncio.to_thread(_prune, keys_dir, algorithm, int(admin.now()), lifetime)
    if pruned:
        await publish_jwks(admin.redis, ring)
    if args.json:
        admin.json({"pruned": pruned, "kept": [k.kid for k in ring.previous]})
    else:
        admin.say(f"pruned {len(pruned)} key(s)" + "".join(f"\n  {kid}" for kid in pruned))
    return OK


async def list_keys(args: argparse.Namespace, admin: Admin) -> int:
    keys_dir = _keys_dir(admin)
    ring = _ring(keys_dir, admin.settings.jwt_algorithm)
    retired = load_retired(keys_dir)
    published: set[str] | None = None  # None: Redis unreachable; listing must not need it
    try:
        raw = await admin.redis.get(redis_keys.JWKS)
        published = {str(jwk["kid"]) for jwk in orjson.loads(raw)["keys"]} if raw else set()
    except REDIS_DOWN_ERRORS:
        pass
    wait = admin.settings.access_token_lifetime + PRUNE_MARGIN
    rows: list[dict[str, Any]] = []
    for key in (ring.current, *ring.previous):
        retired_at = retired.get(key.kid)
        rows.append(
            {"kid": key.kid, "current": key is ring.current}
            | {"created_at": int((keys_dir / f"{key.kid}.pem").stat().st_mtime)}
            | {"retired_at": retired_at, "prunable_at": retired_at and retired_at + wait}
            | {"published": None if published is None else key.kid in published}
        )
    if args.json:
        admin.json(rows)
        return OK
    admin.table(
        ["KID", "STATUS", "CREATED", "RETIRED", "PRUNABLE AFTER", "PUBLISHED"],
        [
            [
                r["kid"],
                "current" if r["current"] else "previous",
                when(r["created_at"]),
                when(r["retired_at"]),
                when(r["prunable_at"]),
                PUBLISHED[r["published"]],
            ]
            for r in rows
        ],
    )
    return OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("keys", help="signing keys in KEYS_DIR")
    sub = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, handler, text in (
        ("list", list_keys, "current and previous keys, retirement and publication"),
        ("rotate", rotate, "add a new current key; the old one stays published"),
        ("prune", prune, "delete previous keys whose tokens have all expired"),
    ):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(handler=handler)
