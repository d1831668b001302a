"""``authgate clients create-exchanger``: a confidential client allowed RFC 8693 token exchange.

Token exchange hands out users' upstream (GitHub) tokens, so only the operator creates such
clients: dynamic registration and metadata documents can never name the grant type
(oauth.grants.REGISTRABLE_GRANT_TYPES). An exchanger is bound to the MCP services it runs as
(``--resource``, canonical form): it may exchange only access tokens issued for one of them.
The secret is printed once; the record keeps its SHA-256, like every client secret.
"""

from __future__ import annotations

import argparse

from authgate_shared.runtime import system_random
from authgate_shared.urls import canonical_uri

from ..oauth.credentials import hash_secret, new_id, new_secret
from ..oauth.grants.token_exchange import EXCHANGE_RESOURCES, GRANT_TYPE
from ..store.clients import ClientRecord, save_client
from .common import OK, Admin, CommandError


def _resources(values: list[str]) -> list[str]:
    resources: list[str] = []
    for value in values:
        try:
            uri = canonical_uri(value)
        except ValueError as exc:
            raise CommandError(f"--resource {value!r}: {exc}") from None
        if not uri.startswith(("https://", "http://")):
            raise CommandError(f"--resource {value!r}: an MCP service's https URI is expected")
        resources.append(uri)
    return list(dict.fromkeys(resources))


async def create(args: argparse.Namespace, admin: Admin) -> int:
    resources = _resources(args.resource)
    name = args.name.strip()
    if not name or len(name) > 100 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise CommandError("--name must be 1-100 printable characters")
    secret = new_secret(system_random)
    record = ClientRecord(
        client_id=new_id(system_random),
        metadata={
            "client_name": name,
            "grant_types": [GRANT_TYPE],
            "response_types": [],
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic",
            EXCHANGE_RESOURCES: resources,
        },
        client_id_issued_at=int(admin.now()),
        expires_at=0,
        client_secret_hash=hash_secret(secret),
    )
    await save_client(admin.redis, record, admin.now())
    if args.json:
        admin.json(
            {
                "client_id": record.client_id,
                "client_secret": secret,
                "client_name": name,
                EXCHANGE_RESOURCES: resources,
            }
        )
        return OK
    admin.say(f"token-exchange client {record.client_id} ({name}) for {', '.join(resources)}")
    admin.say("client secret (shown once, store it now):")
    admin.say(secret)
    return OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "create-exchanger",
        help="create a confidential client allowed token exchange (RFC 8693) for MCP services",
    )
    parser.add_argument("--name", required=True, help="shown in audit logs and `clients list`")
    parser.add_argument(
        "--resource",
        required=True,
        action="append",
        metavar="URI",
        help="an MCP service (resource URI) it runs as; repeat for several",
    )
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=create)
