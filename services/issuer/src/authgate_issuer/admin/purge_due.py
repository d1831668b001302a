"""Default ``authgate purge-expired``: revoke the grants of clients whose registration expired.

What is left to clean in normal operation, record by record:

* client records, grants, ``grant_tokens``/``grant_rotated`` sets and access-token records all
  carry TTLs (the sets share their grant's), so Redis removes them when they expire;
* the ``client_grants`` and ``user_tokens`` indexes drop expired members on every insert and
  expire with their longest-lived member (grants_lua.INDEX); the member of a revoked grant or
  token waits for its own expiry there, which bounds it, and revoking a grant deletes its sets;
* ``grant_tokens`` drops dead jtis by sampling on every write (grants_lua._STORE_TOKEN).

What no TTL can do: when a registration expires (CLIENT_LIFETIME > 0) its record goes, but the
grants issued to it live on until their refresh lifetime. Their refresh tokens are refused (the
client cannot authenticate any more), yet their access tokens still pass the verifier until they
expire, and the grants hold memory. An expired registration should end like a deleted one, for
which RFC 7592 §2.3 says the server SHOULD invalidate every grant and token of the client: this
pass revokes them, each jti published on the revocation channel.

The expiry schedule (redis_keys.CLIENT_EXPIRY) names every client that expires, by expiry, so
the pass reads only the due part of it: its cost is the due entries and their grants (through
the client's own ``client_grants`` index), never the rest of the data. Everything else that
``--scan`` repairs (lost TTLs, lost indexes, orphans) comes only from damage done outside the
issuer, or from data written before the schedule existed.
"""

from __future__ import annotations

from collections import Counter

from authgate_shared import redis_keys

from ..store import grants as grants_store
from ..store.clients import ClientRecord
from .common import BATCH, Admin, text


class Tally:
    """The counts of one purge run and its progress lines on stderr."""

    def __init__(self, admin: Admin, progress_every: int) -> None:
        self.admin = admin
        self.now = admin.now()
        self.counts: Counter[str] = Counter()
        self.progress_every = progress_every
        self._next: dict[str, int] = {}

    def advance(self, name: str, n: int, what: str) -> None:
        """Add ``n`` to ``name``; report on stderr each time it passes another progress_every."""
        self.counts[name] += n
        if self.progress_every and self.counts[name] >= self._next.get(name, self.progress_every):
            self._next[name] = self.counts[name] + self.progress_every
            self.admin.err.write(f"purge: {self.counts[name]} {what}\n")
            self.admin.err.flush()


async def purge_due(admin: Admin, tally: Tally) -> None:
    """Process every schedule entry due by ``tally.now``, BATCH at a time.

    Each processed entry leaves the due range (removed, or moved to its record's real expiry),
    so the loop ends, and a run interrupted anywhere is finished by the next one: an entry is
    removed only after its client's grants are revoked.
    """
    redis, key = admin.redis, redis_keys.CLIENT_EXPIRY
    while members := await redis.zrangebyscore(key, "-inf", tally.now, start=0, num=BATCH):
        due = [text(m) for m in members]
        async with redis.pipeline(transaction=False) as pipe:
            for client_id in due:
                pipe.get(redis_keys.client(client_id))
            raws = await pipe.execute()
        gone, lingering, misfiled = [], [], []
        for client_id, raw in zip(due, raws, strict=True):
            record = None if raw is None else ClientRecord.from_json(raw)
            if record is not None and not record.is_expired(tally.now):
                misfiled.append(record)
                continue
            gone.append(client_id)
            if record is not None:
                lingering.append(client_id)
        async with redis.pipeline(transaction=False) as pipe:
            # A record still there past its expiry (its TTL lost, or the issuer's clock behind
            # this host's, which then decides) is deleted first: once it is gone no token
            # request can create a grant for it, and one in flight re-reads the client after
            # writing its grant and revokes that grant itself.
            for client_id in lingering:
                pipe.delete(redis_keys.client(client_id))
            # An entry whose record says otherwise (written by hand): file it under the record's
            # real expiry, or drop it for a client that never expires.
            for record in misfiled:
                if record.expires_at:
                    pipe.zadd(key, {record.client_id: record.expires_at})
                else:
                    pipe.zrem(key, record.client_id)
            deleted = await pipe.execute()
        tally.counts["clients_expired"] += sum(deleted[: len(lingering)])
        for client_id in gone:
            tally.counts["grants_of_deleted_clients"] += await grants_store.revoke_client(
                redis, client_id
            )
        if gone:
            await redis.zrem(key, *gone)
        tally.advance("schedule_entries", len(due), "schedule entries processed")
