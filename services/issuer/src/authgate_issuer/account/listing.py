"""The rows of the account page: the user's live grants and this browser's remembered
consents, with their clients read in one pipeline."""

from __future__ import annotations

from ..context import IssuerContext
from ..login import service_access
from ..oauth.consent_cookie import Approval
from ..store import batch
from ..store.clients import ClientRecord, read_client
from ..store.user_grants import grants_of_user
from .view import ApprovalRow, GrantRow, approval_row, grant_row


async def rows(
    ctx: IssuerContext, github_id: str, approvals: list[Approval]
) -> tuple[list[GrantRow], list[ApprovalRow]]:
    """Grants newest first (by creation), approvals newest first."""
    grants = sorted(
        await grants_of_user(ctx.redis, github_id), key=lambda g: g.created_at, reverse=True
    )
    ids = list(dict.fromkeys([g.client_id for g in grants] + [a.client_id for a in approvals]))
    reads = {cid: read_client(cid, clock=ctx.clock) for cid in ids if cid}
    replies = await batch.read(ctx.redis, *reads.values()) if reads else None
    clients: dict[str, ClientRecord | None] = {
        cid: replies[read] if replies is not None else None for cid, read in reads.items()
    }
    resources = [r for g in grants for r in g.resources]
    names, _ = service_access.consent_texts(ctx.settings, resources)
    return (
        [grant_row(g, clients.get(g.client_id), names) for g in grants],
        [approval_row(a, clients.get(a.client_id)) for a in approvals],
    )
