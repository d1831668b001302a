"""What both grant types of /token share: the check, after the new tokens were stored, that
their client was not deleted meanwhile."""

from __future__ import annotations

from ...context import IssuerContext
from ...store import batch, clients, grants
from ...store.clients import ClientRecord
from ..errors import InvalidClient


def client_reread(ctx: IssuerContext, client: ClientRecord) -> batch.Read[ClientRecord | None]:
    """The client's record read again, queued to run after the grant was written."""
    return clients.read_client(client.client_id, clock=ctx.clock)


async def ensure_still_registered(
    ctx: IssuerContext, *, grant_id: str, reread: ClientRecord | None
) -> None:
    """A client deleted while its tokens were being minted: revoke_client may have run before
    the new grant was written, so revoke it here instead of leaving live tokens behind.
    ``reread`` is the client's record as ``client_reread`` read it after the grant was written.
    """
    if reread is None:
        await grants.revoke_grant(ctx.redis, grant_id)
        raise InvalidClient("the client was deleted")
