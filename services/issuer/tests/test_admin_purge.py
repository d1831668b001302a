"""``authgate purge-expired --scan``: the full repair removes dead index entries and grants of
deleted clients, files unscheduled registrations, and keeps live data (default mode:
test_admin_purge_due.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import redis
from fastapi.testclient import TestClient

from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store.clients import ClientRecord, save_client
from authgate_shared import redis_keys
from testsupport.admin_cli import admin_env, drain, login, make_grant, refresh, register, run
from testsupport.issuer import issuer_env
from testsupport.issuer_ctx import issuer_context


def test_purge_removes_dead_entries_and_orphans_and_keeps_live_data(
    app: TestClient,
    open_settings: IssuerSettings,
    redis_url: str,
    keys_dir: Path,
    redis_client: redis.Redis,
) -> None:
    alpha, beta = register(app, "Alpha"), register(app, "Beta")
    short = IssuerSettings.from_env(
        issuer_env(redis_url, keys_dir, ALLOWED_GITHUB_USERS="*", ACCESS_TOKEN_LIFETIME="1")
    )
    # In this order: each insert into octocat's index prunes its dead entries, so a login after
    # `expiring` died (a slow machine) would leave purge nothing to find there.
    live = login(app, open_settings, alpha, "octocat")
    expiring = make_grant(short, alpha.client_id, "octocat")  # its access token dies in 1 s
    old_revoked = make_grant(open_settings, alpha.client_id, "gone1", age=600, revoke=True)
    new_revoked = make_grant(open_settings, alpha.client_id, "gone2", revoke=True)
    betas = make_grant(open_settings, beta.client_id, "betauser")
    ghost = make_grant(open_settings, "ghost-client", "ghostuser")
    orphan = make_grant(open_settings, alpha.client_id, "orph")
    # Out-of-band states purge must repair: beta's record vanished (as by its TTL), ghost's index
    # expired, one grant lost its hash, one client record lost its TTL past its expiry.
    redis_client.delete(redis_keys.client(beta.client_id))
    redis_client.delete(redis_keys.client_grants("ghost-client"))
    redis_client.delete(redis_keys.grant(orphan.grant_id))
    past = int(time.time()) - 10

    async def stale_client() -> None:
        async with issuer_context(open_settings) as ctx:
            record = ClientRecord("stale", {"client_name": "stale"}, past - 100, past, None, "x")
            await save_client(ctx.redis, record, past - 50)

    asyncio.run(stale_client())
    redis_client.persist(redis_keys.client("stale"))
    # A registration from before the expiry schedule existed: the scan files it.
    redis_client.zrem(redis_keys.CLIENT_EXPIRY, alpha.client_id)
    time.sleep(1.2)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
    drain(pubsub, 0.1)

    env = admin_env(redis_url, keys_dir)
    result = run(env, "purge-expired", "--scan", "--json", "--progress-every", "1")
    assert result.code == 0, result.err
    counts = result.json()
    assert counts["clients_expired"] == 1
    assert counts["grants_of_deleted_clients"] == 2  # beta's (indexed) and ghost's (not)
    assert counts["client_grants_entries"] == 1  # old_revoked; new_revoked is within the grace
    assert counts["grant_tokens_entries"] == 1  # the expired access token of `expiring`
    # gone1, gone2, betauser, ghostuser (revoked) and octocat's expired one
    assert counts["user_tokens_entries"] == 5
    assert counts["orphan_sets"] == 1
    assert counts["schedule_entries"] == 1  # stale's, due since `past`
    assert counts["schedule_entries_added"] == 1  # alpha's
    assert counts["keys_scanned"] > 10
    assert "keys scanned" in result.err
    assert sorted(drain(pubsub)) == sorted([betas.jti, ghost.jti])

    assert not redis_client.exists(redis_keys.client("stale"))
    alpha_record = orjson.loads(redis_client.get(redis_keys.client(alpha.client_id)) or b"")
    schedule = redis_keys.CLIENT_EXPIRY
    assert redis_client.zscore(schedule, alpha.client_id) == alpha_record["expires_at"]
    assert redis_client.zscore(schedule, "stale") is None
    # Beta's entry waits for its due time; the default pass then finds its record gone.
    assert redis_client.zscore(schedule, beta.client_id) is not None
    assert not redis_client.exists(redis_keys.grant(betas.grant_id))
    assert not redis_client.exists(redis_keys.grant(ghost.grant_id))
    index = {
        m.decode() for m in redis_client.zrange(redis_keys.client_grants(alpha.client_id), 0, -1)
    }
    assert old_revoked.grant_id not in index
    assert new_revoked.grant_id in index
    assert expiring.grant_id in index
    octocat = {m.decode() for m in redis_client.zrange(redis_keys.user_tokens("octocat"), 0, -1)}
    assert expiring.jti not in octocat
    assert len(octocat) == 1
    assert not redis_client.exists(redis_keys.grant_tokens(orphan.grant_id))
    # Live data is untouched and still works.
    assert refresh(app, alpha, live["refresh_token"]).status_code == 200
    assert refresh(app, alpha, expiring.refresh_token).status_code == 200

    again = run(env, "purge-expired", "--scan", "--json", "--progress-every", "0")
    assert again.code == 0
    assert {k: v for k, v in again.json().items() if k != "keys_scanned"} == dict.fromkeys(
        [k for k in counts if k != "keys_scanned"], 0
    )
    assert again.err == ""
    table = run(env, "purge-expired", "--scan")
    assert "grants of deleted clients" in table.out and "orphan sets" in table.out
