"""``authgate purge-expired [--scan]``: revoke what expired registrations leave behind.

By default it reads only the due part of the registrations' expiry schedule and revokes the
grants and tokens of each client whose registration expired (purge_due): its cost is what it
removes, whatever the size of the data. ``--scan`` runs that pass and then the full repair by
SCAN (purge_scan), whose cost grows with the keyspace: run it once after upgrading to a release
with the schedule (it files older registrations in it) and occasionally (weekly) against damage
done outside the issuer; run the default hourly or daily.
"""

from __future__ import annotations

import argparse

from .common import OK, Admin
from .purge_due import Tally, purge_due
from .purge_scan import purge_scan

DEFAULT_COUNTS = ["clients_expired", "grants_of_deleted_clients", "schedule_entries"]
SCAN_COUNTS = [
    *DEFAULT_COUNTS[:2],
    *["client_grants_entries", "user_grants_entries", "grant_tokens_entries"],
    *["user_tokens_entries", "orphan_sets"],
    *DEFAULT_COUNTS[2:],
    "schedule_entries_added",
    "user_grants_entries_added",
]


async def purge_expired(args: argparse.Namespace, admin: Admin) -> int:
    tally = Tally(admin, args.progress_every)
    await purge_due(admin, tally)
    if args.scan:
        await purge_scan(tally)
    # keys_scanned is in both, so scripts can read it either way (0: nothing was scanned).
    names = [*(SCAN_COUNTS if args.scan else DEFAULT_COUNTS), "keys_scanned"]
    result = {name: tally.counts[name] for name in names}
    if args.json:
        admin.json(result)
    else:
        admin.table(["ITEM", "COUNT"], [[n.replace("_", " "), v] for n, v in result.items()])
    return OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "purge-expired", help="revoke the grants of expired clients (--scan: full repair)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--scan",
        action="store_true",
        help="also SCAN every client, grant and index (cost grows with the data): once after "
        "upgrading, then weekly",
    )
    parser.add_argument(
        "--progress-every",
        type=int,
        default=10000,
        metavar="N",
        help="report progress on stderr every N keys scanned or schedule entries (0: never)",
    )
    parser.set_defaults(handler=purge_expired)
