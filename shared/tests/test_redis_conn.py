"""REDIS_URL forms, and the clients ``create_redis`` builds, on real standalone, Sentinel and
Cluster servers started by the fixtures (loopback ports, temp dirs)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from authgate_shared import redis_keys
from authgate_shared.config import ConfigError, EnvReader
from authgate_shared.redis.connection import (
    RedisSettings,
    create_pubsub_client,
    create_redis,
    redis_settings_from_env,
    scan_keys,
)
from authgate_shared.redis.scripts import Script
from authgate_shared.redis.urls import parse_redis_url
from testsupport.redis_topologies import ClusterTopology, SentinelTopology, text_command


def settings_from(env: dict[str, str]) -> RedisSettings:
    reader = EnvReader(env)
    settings = redis_settings_from_env(reader)
    reader.check()
    return settings


def test_plain_url_with_tls_acl_user_and_db() -> None:
    target = parse_redis_url("rediss://app:p%40ss@redis.internal:6380/2?ssl_cert_reqs=none")
    assert target.mode == "standalone"
    assert target.tls
    assert target.nodes == (("redis.internal", 6380),)
    assert target.connection_kwargs["username"] == "app"
    assert target.connection_kwargs["password"] == "p@ss"
    assert target.connection_kwargs["db"] == 2


def test_sentinel_url() -> None:
    target = parse_redis_url("redis+sentinel://:secret@s1:26380,s2,[::1]:26381/mymaster/3")
    assert target.mode == "sentinel"
    assert target.nodes == (("s1", 26380), ("s2", 26379), ("::1", 26381))
    assert target.service_name == "mymaster"
    assert target.connection_kwargs["db"] == 3
    assert target.connection_kwargs["password"] == "secret"
    assert not target.tls
    tls = parse_redis_url("rediss+sentinel://u:p@s1/mymaster")
    assert tls.tls
    assert tls.connection_kwargs["ssl"] is True
    assert tls.connection_kwargs["db"] == 0
    assert tls.connection_kwargs["username"] == "u"


def test_cluster_url_and_cluster_flag() -> None:
    target = parse_redis_url("redis+cluster://user:pw@n1:7000,n2:7001")
    assert target.mode == "cluster"
    assert target.nodes == (("n1", 7000), ("n2", 7001))
    assert "db" not in target.connection_kwargs
    assert target.connection_kwargs["username"] == "user"
    seed = settings_from({"REDIS_URL": "rediss://n1:7000/0", "REDIS_CLUSTER": "true"}).target()
    assert (seed.mode, seed.nodes, seed.tls) == ("cluster", (("n1", 7000),), True)


def test_host_port_password_fallback_and_sentinel_password() -> None:
    settings = settings_from(
        {"REDIS_HOST": "cache", "REDIS_PASSWORD": "a b", "SENTINEL_PASSWORD": "sp"}
    )
    assert settings.url == "redis://:a%20b@cache:6379/0"
    assert settings.sentinel_password == "sp"
    assert settings.target().connection_kwargs["password"] == "a b"


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"REDIS_URL": "http://:hunter2@x"}, "must start with one of"),
        ({"REDIS_URL": "redis+sentinel://:hunter2@s1,s2"}, "/<service-name>"),
        ({"REDIS_URL": "redis+sentinel://s1/svc/zero"}, "database must be a number"),
        ({"REDIS_URL": "redis+sentinel://s1/svc/0/extra"}, "/<service-name>"),
        ({"REDIS_URL": "redis+cluster://:hunter2@n1/3"}, "only database 0"),
        ({"REDIS_URL": "redis+cluster://n1:99999"}, "between 1 and 65535"),
        ({"REDIS_URL": "redis+cluster://n1:port"}, "between 1 and 65535"),
        ({"REDIS_URL": "redis+cluster://:hunter2@,n2"}, "needs a name"),
        ({"REDIS_URL": "redis://:hunter2@n1,n2/0"}, "redis+sentinel:// or redis+cluster://"),
        ({"REDIS_URL": "redis://n1:70000/0"}, "between 1 and 65535"),
        ({"REDIS_URL": "redis://n1/notadb"}, "database number"),
        ({"REDIS_URL": "redis+sentinel://s1/svc", "REDIS_CLUSTER": "true"}, "cannot be combined"),
        ({"REDIS_URL": "unix:///run/redis.sock", "REDIS_CLUSTER": "1"}, "unix sockets"),
        ({"REDIS_CLUSTER": "maybe"}, "REDIS_CLUSTER must be true or false"),
        ({"REDIS_WAIT_REPLICAS": "-1"}, "REDIS_WAIT_REPLICAS must be between 0 and 64"),
        ({"REDIS_WAIT_REPLICAS": "one"}, "REDIS_WAIT_REPLICAS must be an integer"),
        ({"REDIS_WAIT_TIMEOUT_MS": "0"}, "REDIS_WAIT_TIMEOUT_MS must be >= 1"),
        (
            {"REDIS_WAIT_REPLICAS": "1", "REDIS_WAIT_TIMEOUT_MS": "2000"},
            "REDIS_WAIT_TIMEOUT_MS (2000) must be below REDIS_SOCKET_TIMEOUT_MS (2000)",
        ),
    ],
)
def test_bad_configuration_is_a_clear_error_without_the_password(
    env: dict[str, str], reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(env)
    assert reason in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://u:hunter2@h:1/0", "redis://u:***@h:1/0"),
        ("redis+sentinel://:hunter2@s1,s2/m/0", "redis+sentinel://:***@s1,s2/m/0"),
        ("redis+cluster://n1,n2?password=hunter2&x=1", "redis+cluster://n1,n2?password=***&x=1"),
        ("redis://h:1/0", "redis://h:1/0"),
    ],
)
def test_redacted(url: str, shown: str) -> None:
    assert RedisSettings(url=url).redacted() == shown


def test_wait_settings() -> None:
    assert settings_from({}).wait_replicas == 0
    settings = settings_from({"REDIS_WAIT_REPLICAS": "2", "REDIS_WAIT_TIMEOUT_MS": "250"})
    assert (settings.wait_replicas, settings.wait_timeout_ms) == (2, 250)


# --- real servers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterTopology]:
    topology = ClusterTopology(tmp_path_factory.mktemp("cluster")).start()
    yield topology
    topology.stop()


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelTopology]:
    topology = SentinelTopology(
        tmp_path_factory.mktemp("sentinel"), password="data-pw", sentinel_password="sentinel-pw"
    ).start()
    yield topology
    topology.stop()


@pytest.fixture(params=["standalone", "sentinel", "cluster", "cluster-seed"])
def settings(request: pytest.FixtureRequest, redis_url: str, tmp_path: Path) -> RedisSettings:
    if request.param == "standalone":
        return RedisSettings(url=redis_url)
    if request.param == "sentinel":
        topology: SentinelTopology = request.getfixturevalue("sentinel")
        return RedisSettings(url=topology.url, sentinel_password="sentinel-pw")
    cluster: ClusterTopology = request.getfixturevalue("cluster")
    if request.param == "cluster":
        return RedisSettings(url=cluster.url)
    return RedisSettings(url=cluster.seed_url, cluster=True)


ADD_AND_GET = Script("redis.call('SADD', KEYS[2], ARGV[1]); return redis.call('GET', KEYS[1])")


async def _flush_scripts(client: Redis | RedisCluster) -> None:
    await client.script_flush()  # on Cluster redis-py sends it to every primary
    assert await client.script_exists(ADD_AND_GET.sha) == [False]


def test_commands_scripts_and_pipelines(settings: RedisSettings) -> None:
    grant = uuid.uuid4().hex

    async def run() -> None:
        client = create_redis(settings)
        try:
            await client.set(redis_keys.grant(grant), b"v", ex=60)
            assert await client.get(redis_keys.grant(grant)) == b"v"
            # A script over two keys of one grant: legal on Cluster thanks to the hash tag.
            keys = [redis_keys.grant(grant), redis_keys.grant_tokens(grant)]
            assert await ADD_AND_GET(client, keys=keys, args=[f"{grant}.1"]) == b"v"
            # Flushed (a restart, a failover to a replica that never saw it): loaded again.
            await _flush_scripts(client)
            assert await ADD_AND_GET(client, keys=keys, args=[f"{grant}.2"]) == b"v"
            # Queued on a pipeline: EVALSHA, or EVAL on a Cluster pipeline.
            async with client.pipeline(transaction=False) as pipe:
                ADD_AND_GET.queue(pipe, keys, [f"{grant}.3"])
                assert await pipe.execute() == [b"v"]
            assert await client.scard(redis_keys.grant_tokens(grant)) == 3
            async with client.pipeline(transaction=True) as pipe:
                pipe.sismember(redis_keys.grant_tokens(grant), f"{grant}.1")
                pipe.expire(redis_keys.grant_tokens(grant), 60)
                assert await pipe.execute() == [True, True]
            # A non-transactional pipeline may span slots (split per node on Cluster).
            async with client.pipeline(transaction=False) as pipe:
                for n in range(20):
                    pipe.set(redis_keys.client(f"{grant}-{n}"), n, ex=60)
                assert await pipe.execute() == [True] * 20
        finally:
            await client.aclose()

    asyncio.run(run())


def test_publish_reaches_a_subscriber_of_the_pubsub_client(settings: RedisSettings) -> None:
    jti = uuid.uuid4().hex

    async def run() -> None:
        client, subscriber = create_redis(settings), create_pubsub_client(settings)
        pubsub = subscriber.pubsub()
        try:
            await pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
            subscribed = await pubsub.get_message(timeout=2)
            assert subscribed is not None
            assert subscribed["type"] == "subscribe"
            await client.publish(redis_keys.REVOCATION_CHANNEL, jti)
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
            assert message is not None
            assert message["data"] == jti.encode()
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await subscriber.aclose()
            await client.aclose()

    asyncio.run(run())


def test_scan_keys_sees_every_key_on_every_primary(settings: RedisSettings) -> None:
    marker = uuid.uuid4().hex
    names = {redis_keys.token(f"{marker}{n}.x").encode() for n in range(200)}

    async def run() -> set[bytes]:
        client = create_redis(settings)
        try:
            async with client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.set(name, 1, ex=60)
                await pipe.execute()
            return {k async for k in scan_keys(client, f"oauth:token:{{{marker}*")}
        finally:
            await client.aclose()

    assert asyncio.run(run()) == names


def test_cluster_keys_are_spread_over_all_primaries(cluster: ClusterTopology) -> None:
    """The scan above proves something only if the keys sit on several primaries."""
    primaries = cluster.primary_ports()
    assert len(primaries) == 3
    counts = [int(text_command(port, "DBSIZE")) for port in primaries]
    assert all(count > 0 for count in counts), counts


def test_cluster_client_type(cluster: ClusterTopology) -> None:
    client = create_redis(RedisSettings(url=cluster.url))
    assert isinstance(client, RedisCluster)
    asyncio.run(client.aclose())


def test_a_socket_closed_under_uvloop_is_retried_not_a_runtime_error(redis_url: str) -> None:
    """uvicorn runs on uvloop, which raises RuntimeError on a write to a closed transport."""

    async def run() -> None:
        client = create_redis(RedisSettings(url=redis_url))
        try:
            connection = await client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
            await connection.connect()
            connection._writer.transport.close()
            await client.connection_pool.release(connection)
            assert await client.ping()
        finally:
            await client.aclose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())
