"""What ``authgate grants`` shows of a grant: a JSON-ready summary, a table row, details.

The upstream token appears only as its status (upstream.tokens.TokenStatus, which never holds
the token): state, expiry, refresh expiry and the id of the key that sealed it.
"""

from __future__ import annotations

from typing import Any

from ..store.grants import Grant
from ..store.sealing import SealingKeys
from ..upstream import tokens as upstream_tokens
from .common import Admin, when

HEADERS = ["GRANT ID", "USER", "GITHUB ID", "CLIENT", "NAME", "SCOPES", "RESOURCES", "CREATED"]
HEADERS += ["LAST TOKEN", "EXPIRES", "UPSTREAM", "UPSTREAM EXPIRES", "KEY"]
TIMES = {"created_at", "last_token_issued_at", "expires_at", "membership_checked_at"}


def summary(
    grant: Grant, client_name: str | None, *, keys: SealingKeys | None, now: int
) -> dict[str, Any]:
    upstream = upstream_tokens.status(keys, grant.upstream_token, grant_id=grant.grant_id, now=now)
    return {
        "grant_id": grant.grant_id,
        "username": grant.username,
        "github_id": grant.github_id,
        "client_id": grant.client_id,
        "client_name": client_name,
        "scopes": grant.scope.split(),
        "resources": grant.resources,
        "created_at": grant.created_at,
        # When the current refresh token was issued with its access token (creation or the
        # last refresh): the verifier does not write back uses, so no last-use time exists.
        "last_token_issued_at": grant.refresh_issued_at,
        "expires_at": grant.expiry,
        "upstream_token": upstream.as_dict(),
    }


def _upstream_expiry(upstream: dict[str, Any]) -> str | None:
    if upstream["state"] in {"none", "unreadable"}:
        return None
    return when(upstream["expires_at"]) or "never"


def row(r: dict[str, Any]) -> list[object]:
    upstream = r["upstream_token"]
    return [
        r["grant_id"],
        r["username"],
        r["github_id"],
        r["client_id"],
        r["client_name"],
        r["scopes"],
        r["resources"],
        when(r["created_at"]),
        when(r["last_token_issued_at"]),
        when(r["expires_at"]),
        upstream["state"],
        _upstream_expiry(upstream),
        upstream["key_id"],
    ]


def print_table(admin: Admin, rows: list[dict[str, Any]]) -> None:
    admin.table(HEADERS, [row(r) for r in rows])
    admin.say(f"{len(rows)} grant(s)")


def print_details(admin: Admin, details: dict[str, Any]) -> None:
    for name, value in details.items():
        if name == "upstream_token":
            admin.say(f"{'upstream_token:':<24}{value['state']}")
            admin.say(f"{'  expires_at:':<24}{_upstream_expiry(value) or '-'}")
            refresh = value["refresh_expires_at"]
            admin.say(f"{'  refresh_expires_at:':<24}{when(refresh) or '-'}")
            admin.say(f"{'  key_id:':<24}{value['key_id'] or '-'}")
            continue
        if name in TIMES:
            value = when(value) or "-"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "-"
        admin.say(f"{name + ':':<24}{'-' if value is None else value}")
