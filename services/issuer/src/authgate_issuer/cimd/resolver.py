"""The client a URL ``client_id`` names: from the shared cache, or fetched, validated, stored.

Order: the URL's own rules (``client_id``), the operator's policy (``policy``), the cache in
Redis (``store.cimd``: fresh record, or a remembered failure), then the per-host fetch budget
(``outbound.host_limit``), the fetch (``outbound.fetch``) and the document rules
(``document``). A failure of the fetch or of the document is remembered for
CIMD_NEGATIVE_CACHE_SECONDS, so a broken or hostile document costs one fetch per period,
however many requests name it; a budget refusal is not remembered (it says nothing about the
document). Every refusal is a ``CimdRefused`` whose reason the endpoints show: an HTML page at
/authorize (never a redirect: the redirect URIs are what could not be verified), 401
``invalid_client`` at /token, /revoke and /introspect.
"""

from __future__ import annotations

from ..context import IssuerContext
from ..outbound.fetch import FetchError, fetch_json
from ..outbound.host_limit import take_fetch
from ..store import cimd as cimd_store
from ..store.clients import ClientRecord, load_client
from ..web import logs, metrics
from .client_id import ClientIdProblem, client_id_host, is_url_client_id
from .document import DocumentProblem, validate_document
from .freshness import cache_seconds
from .policy import host_refusal


class CimdRefused(Exception):
    """A URL client id that cannot be used now; ``reason`` is shown to the user or client."""

    def __init__(self, reason: str, *, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        """Seconds, when only the fetch budget refused (429 rather than a verdict)."""


def checked_host(ctx: IssuerContext, client_id: str) -> str:
    """The host of an acceptable client id URL; CimdRefused for a bad URL or a refused host."""
    try:
        host = client_id_host(client_id)
    except ClientIdProblem as exc:
        raise CimdRefused(f"the client id {client_id!r} {exc}") from None
    refusal = host_refusal(host, ctx.settings.cimd)
    if refusal is not None:
        raise CimdRefused(refusal)
    return host


async def _fetch(ctx: IssuerContext, client_id: str, host: str) -> ClientRecord:
    settings = ctx.settings.cimd
    now = ctx.now()
    wait = await take_fetch(
        ctx.redis, host, now=now, per_minute=settings.fetches_per_host_per_minute
    )
    if wait:
        metrics.client_document_fetch("budget")
        raise CimdRefused(f"too many client documents fetched from {host}", retry_after=wait)
    try:
        fetched = await fetch_json(
            ctx.documents,
            client_id,
            seconds=settings.fetch_timeout,
            max_bytes=settings.max_document_bytes,
        )
        metadata = validate_document(fetched.body, client_id, ctx.settings)
    except (FetchError, DocumentProblem) as exc:
        metrics.client_document_fetch("fetch_failed" if isinstance(exc, FetchError) else "invalid")
        reason = f"the client metadata document at {client_id} {exc}"
        logs.event("cimd_refused", client_id=client_id, reason=str(exc))
        await cimd_store.save_failure(
            ctx.redis, client_id, reason, ttl=settings.negative_cache_seconds
        )
        raise CimdRefused(reason) from None
    record = ClientRecord(
        client_id=client_id, metadata=metadata, client_id_issued_at=now, expires_at=0
    )
    fresh_for = cache_seconds(
        fetched.headers, now, floor=settings.cache_min_seconds, ceiling=settings.cache_max_seconds
    )
    await cimd_store.save(ctx.redis, record, fresh_for=fresh_for, keep=settings.cache_max_seconds)
    metrics.client_document_fetch("ok")
    logs.event("cimd_fetched", client_id=client_id, cache_seconds=fresh_for)
    return record


async def resolve(ctx: IssuerContext, client_id: str) -> ClientRecord:
    """The client described by the document at ``client_id``; CimdRefused otherwise."""
    host = checked_host(ctx, client_id)
    cached = await cimd_store.read(ctx.redis, client_id, ctx.now())
    if cached.failure is not None:
        raise CimdRefused(cached.failure)
    if cached.fresh and cached.record is not None:
        return cached.record
    return await _fetch(ctx, client_id, host)


async def find_client(ctx: IssuerContext, client_id: str) -> ClientRecord | None:
    """Any client: a URL id resolved through its document (CimdRefused when unusable), any
    other id looked up among the registrations (None when unknown or expired)."""
    if is_url_client_id(client_id):
        return await resolve(ctx, client_id)
    return await load_client(ctx.redis, client_id, ctx.now())
