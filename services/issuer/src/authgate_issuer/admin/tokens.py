"""``authgate tokens stats|revoke``.

Revocation reuses the grant store's scripts, which delete each live record and PUBLISH its jti
on the revocation channel in the same atomic step, so every revoked jti is announced exactly once
and verifiers refuse it at once.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..store import grants as grants_store
from . import grants as grants_mod
from . import usage as usage_mod
from .common import NOT_FOUND, OK, Admin, CommandError

TABLE_ROWS = 20


async def stats(args: argparse.Namespace, admin: Admin) -> int:
    now = admin.now()
    clients = await usage_mod.load_clients(admin.redis)
    usage = await usage_mod.collect(admin.redis, now)
    names = {r.client_id: r.metadata.get("client_name") for r, _ in clients}
    registrations = {"hour": 0, "day": 0}
    for record, _ in clients:
        age = now - record.client_id_issued_at
        registrations["hour"] += age <= usage_mod.HOUR
        registrations["day"] += age <= usage_mod.DAY
    by_client = [
        {"client_id": c, "client_name": names.get(c), "access_tokens": usage.access_by_client[c]}
        | {"refresh_tokens": usage.refresh_by_client[c]}
        for c in sorted(set(usage.access_by_client) | set(usage.refresh_by_client))
    ]
    by_user = [
        {"user": u, "access_tokens": usage.access_by_user[u]}
        | {"refresh_tokens": usage.refresh_by_user[u]}
        for u in sorted(set(usage.access_by_user) | set(usage.refresh_by_user))
    ]
    result: dict[str, Any] = {
        "clients": len(clients),
        "access_tokens": usage.access_by_client.total(),
        "refresh_tokens": usage.refresh_by_client.total(),
        "registrations": registrations,
        "access_tokens_issued": {"hour": usage.issued["hour"], "day": usage.issued["day"]},
        "grants_created": {
            "hour": usage.grants_created["hour"],
            "day": usage.grants_created["day"],
        },
        "by_client": by_client,
        "by_user": by_user,
    }
    if args.json:
        admin.json(result)
        return OK
    for name in ("clients", "access_tokens", "refresh_tokens"):
        admin.say(f"{name.replace('_', ' ') + ':':<24}{result[name]}")
    for name in ("registrations", "access_tokens_issued", "grants_created"):
        window = result[name]
        label = name.replace("_", " ") + ":"
        admin.say(f"{label:<24}{window['hour']} last hour, {window['day']} last day")
    for title, rows, key in (("client", by_client, "client_id"), ("user", by_user, "user")):
        rows = sorted(rows, key=lambda r: (-r["access_tokens"], -r["refresh_tokens"], r[key]))
        admin.say("")
        admin.table(
            [title.upper(), "ACCESS", "REFRESH"],
            [[r[key], r["access_tokens"], r["refresh_tokens"]] for r in rows[:TABLE_ROWS]],
        )
        if len(rows) > TABLE_ROWS:
            admin.say(f"... {len(rows) - TABLE_ROWS} more (use --json)")
    admin.say("(issued/created counts cover live records only: revoked or expired ones are gone)")
    return OK


async def revoke(args: argparse.Namespace, admin: Admin) -> int:
    if args.jti is not None:
        if (
            "{" in args.jti
            or "}" in args.jti
            or not await grants_store.revoke_token(admin.redis, args.jti)
        ):
            raise CommandError(f"no live access token with jti {args.jti}", NOT_FOUND)
        result: dict[str, Any] = {"jti": args.jti, "tokens_revoked": 1}
    elif args.client is not None:
        grants = await grants_store.revoke_client(admin.redis, args.client)
        if not grants:
            raise CommandError(f"client {args.client} has no live grants", NOT_FOUND)
        result = {"client_id": args.client, "grants_revoked": grants}
    else:
        # The same revocation as ``authgate grants revoke --user``.
        who = grants_mod.UserFilter(login=args.user)
        result = await grants_mod.revoke_user_command(admin, who)
    if args.json:
        admin.json(result)
    else:
        admin.say("revoked: " + ", ".join(f"{k}={v}" for k, v in result.items()))
    return OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("tokens", help="token statistics and revocation")
    sub = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = sub.add_parser("stats", help="live tokens by client and user, recent activity")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=stats)
    parser = sub.add_parser("revoke", help="revoke tokens now (verifiers are notified)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--user", metavar="NAME", help="every grant and token of a GitHub user")
    target.add_argument("--client", metavar="ID", help="every grant and token of a client")
    target.add_argument("--jti", metavar="JTI", help="one access token")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=revoke)
