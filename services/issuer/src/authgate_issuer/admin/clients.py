"""``authgate clients list|show|delete|rotate-secret``: registered clients.

"last token" is the newest issue time among the client's live access tokens: the issuer records
no separate last-use time (the verifier's checks are not written back to Redis).

Clients whose id is a URL are Client ID Metadata Document clients (kind ``document``): listed
while their validated document is cached (its "created" time is when it was fetched); deleting
one revokes its grants and drops the cached document, which a later request fetches again.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import WatchError

from authgate_shared import redis_keys
from authgate_shared.runtime import system_random

from ..cimd.client_id import is_url_client_id
from ..oauth.client_metadata import SECRET_METHODS
from ..oauth.credentials import hash_secret, new_secret
from ..store import grants as grants_store
from ..store.clients import ClientRecord, delete_client, load_client
from . import exchangers
from . import usage as usage_mod
from .common import NOT_FOUND, OK, Admin, CommandError, when


def redirect_hosts(record: ClientRecord) -> list[str]:
    hosts: list[str] = []
    for uri in record.redirect_uris:
        parts = urlsplit(uri)
        host = parts.hostname or f"{parts.scheme}:"
        if host not in hosts:
            hosts.append(host)
    return hosts


def summary(record: ClientRecord, usage: usage_mod.Usage) -> dict[str, Any]:
    cid = record.client_id
    return {
        "client_id": cid,
        "client_name": record.metadata.get("client_name"),
        "auth_method": record.auth_method,
        "kind": "document" if is_url_client_id(cid) else "registered",
        "redirect_hosts": redirect_hosts(record),
        "created_at": record.client_id_issued_at,
        "expires_at": record.expires_at,
        "last_token_issued_at": usage.last_issued.get(cid),
        "access_tokens": usage.access_by_client[cid],
        "refresh_tokens": usage.refresh_by_client[cid],
    }


def _row(r: dict[str, Any]) -> list[object]:
    created, expires = when(r["created_at"]), when(r["expires_at"]) or "never"
    last = when(r["last_token_issued_at"])
    names = [r["client_id"], r["client_name"], r["auth_method"], r["kind"], r["redirect_hosts"]]
    return [*names, created, expires, last, r["access_tokens"], r["refresh_tokens"]]


async def list_clients(args: argparse.Namespace, admin: Admin) -> int:
    records = await usage_mod.load_clients(admin.redis)
    usage = await usage_mod.collect(admin.redis, admin.now())
    rows = [summary(record, usage) for record, _ in records]
    if args.json:
        admin.json(rows)
        return OK
    headers = ["CLIENT ID", "NAME", "AUTH", "KIND", "REDIRECT HOSTS", "CREATED", "EXPIRES"]
    headers += ["LAST TOKEN", "ACCESS", "REFRESH"]
    admin.table(headers, [_row(r) for r in rows])
    admin.say(f"{len(rows)} client(s)")
    return OK


async def _require(admin: Admin, client_id: str) -> ClientRecord:
    record = await load_client(admin.redis, client_id, admin.now())
    if record is None:
        raise CommandError(f"no such client: {client_id}", NOT_FOUND)
    return record


async def show(args: argparse.Namespace, admin: Admin) -> int:
    record = await _require(admin, args.client_id)
    usage = await usage_mod.collect(admin.redis, admin.now())
    # The metadata only: the stored hashes are of no use to an operator.
    details = {**summary(record, usage), "metadata": record.metadata}
    if args.json:
        admin.json(details)
        return OK
    for name, value in details.items():
        if name in {"created_at", "expires_at", "last_token_issued_at"}:
            value = when(value) or ("never" if name == "expires_at" else "-")
        admin.say(f"{name + ':':<22}{value}")
    return OK


async def delete(args: argparse.Namespace, admin: Admin) -> int:
    client_id: str = args.client_id
    if not client_id or "{" in client_id or "}" in client_id:
        raise CommandError(f"no such client: {client_id}", NOT_FOUND)
    # As DELETE /register/{id} does: grants, the record, then grants once more for any that a
    # token request in flight (which had already loaded the client) was creating.
    revoked = await grants_store.revoke_client(admin.redis, client_id)
    existed = await delete_client(admin.redis, client_id)  # with its expiry-schedule entry
    revoked += await grants_store.revoke_client(admin.redis, client_id)
    if not existed and not revoked:
        raise CommandError(f"no such client: {client_id}", NOT_FOUND)
    result = {"client_id": client_id, "deleted": bool(existed), "grants_revoked": revoked}
    if args.json:
        admin.json(result)
    else:
        admin.say(f"deleted client {client_id}; revoked {revoked} grant(s) and their tokens")
    return OK


async def _replace_secret(admin: Admin, client_id: str, secret_hash: str) -> bool:
    """Swap the hash under WATCH, so a concurrent RFC 7592 update is never overwritten with
    stale metadata (the transaction retries instead); KEEPTTL keeps the registration's expiry."""
    key = redis_keys.client(client_id)
    while True:
        async with admin.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            raw = await pipe.get(key)
            if raw is None:
                return False
            record = ClientRecord.from_json(raw)
            updated = dataclasses.replace(record, client_secret_hash=secret_hash)
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(key, updated.to_json(), keepttl=True)
            try:
                await pipe.execute()
                return True
            except WatchError:
                continue


async def rotate_secret(args: argparse.Namespace, admin: Admin) -> int:
    record = await _require(admin, args.client_id)
    if record.auth_method not in SECRET_METHODS:
        kind = "public" if record.is_public else "authenticated by its keys"
        raise CommandError(
            f"client {record.client_id} is {kind} (token_endpoint_auth_method="
            f"{record.auth_method}): no secret"
        )
    secret = new_secret(system_random)
    if not await _replace_secret(admin, record.client_id, hash_secret(secret)):
        raise CommandError(f"no such client: {record.client_id}", NOT_FOUND)
    if args.json:
        admin.json({"client_id": record.client_id, "client_secret": secret})
    else:
        admin.say(f"new client secret for {record.client_id} (shown once, store it now):")
        admin.say(secret)
    return OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("clients", help="registered and metadata document clients")
    sub = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = sub.add_parser("list", help="every client with its token counts")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=list_clients)
    for name, handler, text in (
        ("show", show, "one client's metadata and token counts"),
        ("delete", delete, "delete a client and revoke all its tokens"),
        ("rotate-secret", rotate_secret, "issue a new client secret (printed once)"),
    ):
        parser = sub.add_parser(name, help=text)
        parser.add_argument("client_id", metavar="ID")
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(handler=handler)
    exchangers.register(sub)
