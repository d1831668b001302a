"""Default ``authgate purge-expired``: the grants of expired registrations are revoked through the
expiry schedule, at a cost that does not grow with the rest of the data (no SCAN)."""

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
from testsupport.admin_cli import (
    admin_env,
    drain,
    jti_of,
    login,
    make_grant,
    open_app,
    refresh,
    register,
    run,
)
from testsupport.issuer import issuer_env
from testsupport.issuer_ctx import issuer_context

SCHEDULE = redis_keys.CLIENT_EXPIRY
NOTHING = {"clients_expired": 0, "grants_of_deleted_clients": 0, "schedule_entries": 0}


def gone_by_ttl(redis_client: redis.Redis, client_id: str) -> None:
    """Wait until Redis expired the client's record (CLIENT_LIFETIME of a second or two)."""
    deadline = time.monotonic() + 10
    while redis_client.exists(redis_keys.client(client_id)):
        assert time.monotonic() < deadline, "the record never expired"
        time.sleep(0.1)


def save(settings: IssuerSettings, record: ClientRecord, now: float) -> None:
    """Store a record the issuer's way (store.clients.save_client, schedule entry included)."""

    async def go() -> None:
        async with issuer_context(settings) as ctx:
            await save_client(ctx.redis, record, now)

    asyncio.run(go())


def expiring_client(settings: IssuerSettings, client_id: str) -> ClientRecord:
    """A registration that expires in one second, with one grant (and access token) of its own."""
    now = time.time()
    record = ClientRecord(client_id, {"client_name": client_id}, int(now), int(now) + 1, None, "x")
    save(settings, record, now)
    make_grant(settings, client_id, f"user-of-{client_id}")
    return record


def test_expired_registrations_lose_their_grants_and_live_clients_keep_theirs(
    app: TestClient,
    open_settings: IssuerSettings,
    redis_url: str,
    keys_dir: Path,
    redis_client: redis.Redis,
) -> None:
    short = IssuerSettings.from_env(
        issuer_env(redis_url, keys_dir, ALLOWED_GITHUB_USERS="*", CLIENT_LIFETIME="2")
    )
    with open_app(short) as short_app:
        expiring = register(short_app, "Expiring")
        doomed = [login(short_app, short, expiring, user) for user in ("octocat", "hubot")]
    kept_client = register(app, "Kept")
    kept = login(app, open_settings, kept_client, "octocat")
    record = orjson.loads(redis_client.get(redis_keys.client(expiring.client_id)) or b"")
    assert redis_client.zscore(SCHEDULE, expiring.client_id) == record["expires_at"]
    gone_by_ttl(redis_client, expiring.client_id)
    # What the TTL alone leaves: access tokens the verifier still accepts, of a client that
    # no longer exists.
    jtis = [jti_of(t["access_token"]) for t in doomed]
    assert all(redis_client.exists(redis_keys.token(jti)) for jti in jtis)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
    drain(pubsub, 0.1)

    env = admin_env(redis_url, keys_dir)
    result = run(env, "purge-expired", "--json")

    assert result.code == 0, result.err
    assert result.json() == {
        "clients_expired": 0,  # Redis removed the record itself
        "grants_of_deleted_clients": 2,
        "schedule_entries": 1,
        "keys_scanned": 0,
    }
    assert sorted(drain(pubsub)) == sorted(jtis)  # verifiers drop them from their caches
    for jti in jtis:
        gid = redis_keys.grant_id_of_jti(jti)
        assert not redis_client.exists(redis_keys.token(jti), redis_keys.grant(gid))
    assert not redis_client.exists(redis_keys.client_grants(expiring.client_id))
    assert redis_client.zscore(SCHEDULE, expiring.client_id) is None
    # The live client's entry, grant and tokens are untouched and work.
    assert redis_client.zscore(SCHEDULE, kept_client.client_id) is not None
    assert redis_client.exists(redis_keys.token(jti_of(kept["access_token"])))
    assert refresh(app, kept_client, kept["refresh_token"]).status_code == 200

    again = run(env, "purge-expired", "--json")
    assert again.json() == {**NOTHING, "keys_scanned": 0}
    table = run(env, "purge-expired")
    assert "schedule entries" in table.out and "orphan sets" not in table.out


def test_lingering_records_are_deleted_and_misfiled_entries_refiled(
    open_settings: IssuerSettings, redis_url: str, keys_dir: Path, redis_client: redis.Redis
) -> None:
    past = int(time.time()) - 10
    # Past its expiry but still there without a TTL (lost out of band), with a live grant.
    stale = ClientRecord("stale", {"client_name": "stale"}, past - 100, past, None, "x")
    save(open_settings, stale, past - 50)
    redis_client.persist(redis_keys.client("stale"))
    stale_grant = make_grant(open_settings, "stale", "staleuser")
    # Live clients whose entries were edited by hand to look due.
    later = ClientRecord("later", {"client_name": "later"}, past, past + 3600, None, "x")
    forever = ClientRecord("forever", {"client_name": "forever"}, past, 0, None, "x")
    for record in (later, forever):
        save(open_settings, record, past)
        redis_client.zadd(SCHEDULE, {record.client_id: past})
    later_grant = make_grant(open_settings, "later", "lateruser")

    result = run(admin_env(redis_url, keys_dir), "purge-expired", "--json", "--progress-every", "1")

    assert result.code == 0, result.err
    assert result.json() == {
        "clients_expired": 1,
        "grants_of_deleted_clients": 1,
        "schedule_entries": 3,
        "keys_scanned": 0,
    }
    assert "purge: 3 schedule entries processed" in result.err
    assert not redis_client.exists(redis_keys.client("stale"), redis_keys.token(stale_grant.jti))
    assert redis_client.zrange(SCHEDULE, 0, -1, withscores=True) == [(b"later", past + 3600)]
    assert redis_client.exists(redis_keys.client("later"), redis_keys.client("forever")) == 2
    assert redis_client.exists(redis_keys.token(later_grant.jti))


def commands(redis_client: redis.Redis) -> tuple[int, int]:
    """(commands processed by the server so far, SCAN calls among them): INFO stats and
    INFO commandstats count every command from every connection, the CLI's included."""
    scans = redis_client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0)
    return int(redis_client.info("stats")["total_commands_processed"]), int(scans)


def fill(redis_client: redis.Redis, count: int) -> None:
    """``count`` live registrations filed in the schedule, and as many dead index entries and
    orphan jti sets: what a SCAN would have to walk, none of it due."""
    now = int(time.time())
    with redis_client.pipeline(transaction=False) as pipe:
        for n in range(count):
            cid = f"filler{n}"
            record = ClientRecord(cid, {"client_name": cid}, now, now + 3600, None, "x")
            pipe.zadd(SCHEDULE, {cid: record.expires_at})
            pipe.set(redis_keys.client(cid), record.to_json(), ex=3600)
            pipe.zadd(redis_keys.client_grants(cid), {f"dead{n}": now + 60})
            pipe.sadd(redis_keys.grant_tokens(f"dead{n}"), f"dead{n}.1")
        pipe.execute()


def test_the_default_pass_costs_what_it_removes_not_the_data_around_it(
    open_settings: IssuerSettings, redis_url: str, keys_dir: Path, redis_client: redis.Redis
) -> None:
    env = admin_env(redis_url, keys_dir)
    costs = []
    # The first round loads the revocation script into Redis (EVALSHA after NOSCRIPT), so the
    # two rounds compared are the second (little data) and the third (much more).
    for round_, filler in enumerate((0, 0, 3000)):
        fill(redis_client, filler)
        expiring_client(open_settings, f"due{round_}")
        gone_by_ttl(redis_client, f"due{round_}")
        before = commands(redis_client)
        result = run(env, "purge-expired", "--json")
        after = commands(redis_client)
        assert result.json() == {
            "clients_expired": 0,
            "grants_of_deleted_clients": 1,
            "schedule_entries": 1,
            "keys_scanned": 0,
        }
        assert after[1] == before[1], "the default pass must not SCAN"
        costs.append(after[0] - before[0])
    assert redis_client.dbsize() > 3 * 3000
    assert costs[1] == costs[2], costs
