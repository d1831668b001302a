"""The issuer and the verifier as real processes on Redis Sentinel and Redis Cluster, and
failover drills.

Each drill keeps four workers registering clients while the primary is SIGKILLed, then checks:
every answer was 201 or 503 (never a wrong answer or a 500), the service recovered by itself,
every registration acknowledged with 201 (but in the last moment before the kill, which async
replication may lose) is still readable after the failover, a token revoked
before the kill is refused by the verifier throughout (never 200), and afterwards tokens minted,
verified and revoked on the new primary behave.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from authgate_issuer.store import grants
from authgate_shared import redis_keys
from authgate_shared.redis.connection import (
    REDIS_DOWN_ERRORS,
    RedisSettings,
    create_pubsub_client,
    create_redis,
)
from testsupport.issuer import issuer_env, start_issuer
from testsupport.redis_topologies import ClusterTopology, SentinelTopology
from testsupport.service import ServiceProcess
from testsupport.tokens import Minted, TokenMinter
from testsupport.verifier import MCP_A, bearer, forwarded, start_verifier, verifier_env

CLIENT = {"client_name": "drill", "redirect_uris": ["http://127.0.0.1:8976/callback"]}
CLIENT |= {"token_endpoint_auth_method": "none"}


@pytest.fixture
def issuer_on(tmp_path: Path, keys_dir: Path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(redis_url: str, **env: str) -> ServiceProcess:
        overrides = {"REGISTER_RATE_PER_MINUTE": "0", "MAX_REGISTRATIONS_PER_HOUR": "0", **env}
        environment = issuer_env(redis_url, keys_dir, **overrides)
        issuer = start_issuer(environment, tmp_path / f"issuer{len(started)}")
        started.append(issuer)
        return issuer

    yield start
    for issuer in started:
        issuer.stop()


def register(http: httpx.Client) -> tuple[str, str]:
    response = http.post("/register", json=CLIENT)
    assert response.status_code == 201, response.text
    body = response.json()
    return body["client_id"], body["registration_access_token"]


def assert_readable(http: httpx.Client, clients: list[tuple[str, str]]) -> None:
    for client_id, token in clients:
        response = http.get(f"/register/{client_id}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, (client_id, response.status_code)
        assert response.json()["client_id"] == client_id


def check_issuer_works(issuer: ServiceProcess) -> None:
    with httpx.Client(base_url=issuer.url, timeout=5) as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "healthy"
        assert_readable(http, [register(http) for _ in range(5)])


@dataclass
class Tokens:
    """Tokens minted and revoked by the issuer's code on a topology, checked by a real verifier."""

    redis_url: str
    keys_dir: Path
    env: dict[str, str]
    verifier: ServiceProcess | None = None

    def mint(self, *, revoked: bool = False) -> Minted:
        async def run() -> Minted:
            async with TokenMinter.open(self.redis_url, self.keys_dir, env=self.env) as minter:
                minted = await minter.mint(resources=[MCP_A])
                if revoked:
                    assert await grants.revoke_token(minter.ctx.redis, minted.jti)
                return minted

        return asyncio.run(run())

    def start_verifier(self, log_dir: Path) -> None:
        self.verifier = start_verifier(verifier_env(self.redis_url, **self.env), log_dir)

    def verify(self, token: str) -> int:
        assert self.verifier is not None
        headers = {**forwarded(MCP_A), **bearer(token)}
        return httpx.get(self.verifier.url + "/verify", headers=headers, timeout=10).status_code

    def check(self, live: Minted, revoked: Minted) -> None:
        """The live token passes, the revoked one is refused, a new revocation is seen."""
        assert self.verify(live.token) == 200
        assert self.verify(revoked.token) == 401
        fresh = self.mint()
        assert self.verify(fresh.token) == 200
        self.mint(revoked=True)  # a new grant: the script and its PUBLISH run on this topology
        assert self.verify(fresh.token) == 200


def unhandled_errors(issuer: ServiceProcess) -> str:
    """The issuer's tracebacks, so a failed drill says what went wrong."""
    logs = issuer.logs()
    return logs[logs.find("Traceback") :][-3000:] if "Traceback" in logs else ""


# Replication on loopback lags by milliseconds; writes acknowledged this long before the kill
# have certainly reached the replica (Redis replicates continuously and the replica is in sync).
REPLICATION_MARGIN = 0.5


@dataclass
class Drill:
    """Concurrent registrations around a kill; what was acknowledged and how long it hurt."""

    issuer: ServiceProcess
    answers: list[tuple[float, int]] = field(default_factory=list)
    acknowledged: list[tuple[float, str, str]] = field(default_factory=list)
    """(monotonic time of the 201, client id, registration access token)."""
    killed_at: float = 0.0
    probe: Callable[[], int] | None = None
    """Called in a loop during the drill; e.g. verifying a revoked token (must never be 200)."""
    probe_answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def prober(self) -> None:
        while self.probe is not None and not self.stop.is_set():
            self.probe_answers.append(self.probe())
            time.sleep(0.02)

    def worker(self) -> None:
        with httpx.Client(base_url=self.issuer.url, timeout=10) as http:
            while not self.stop.is_set():
                response = http.post("/register", json=CLIENT)
                with self.lock:
                    self.answers.append((time.monotonic(), response.status_code))
                    if response.status_code == 201:
                        body = response.json()
                        self.acknowledged.append(
                            (time.monotonic(), body["client_id"], body["registration_access_token"])
                        )
                if response.status_code != 201:
                    time.sleep(0.05)

    def last_failure(self) -> float:
        with self.lock:
            return max((t for t, status in self.answers if status != 201), default=0.0)

    def run(self, kill: Callable[[], None], *, workers: int = 4, timeout: float = 40) -> float:
        """Kill after 1 s of load, keep the load until 2 s pass without a failure; returns the
        outage: seconds from the kill to the last failed request."""
        with ThreadPoolExecutor(workers + 1) as pool:
            for _ in range(workers):
                pool.submit(self.worker)
            pool.submit(self.prober)
            time.sleep(1.0)
            kill()
            killed_at = self.killed_at = time.monotonic()
            while time.monotonic() < killed_at + timeout:
                last = self.last_failure()
                if last > killed_at and time.monotonic() - last > 2.0:
                    break
                time.sleep(0.05)
            self.stop.set()
        statuses = {status for _, status in self.answers}
        assert self.last_failure() > killed_at, "killing the primary caused no failure at all"
        assert time.monotonic() - self.last_failure() > 2.0, f"no recovery in {timeout}s"
        assert statuses <= {201, 503}, (sorted(statuses), unhandled_errors(self.issuer))
        return self.last_failure() - killed_at

    def check_nothing_lost(self) -> None:
        """Every registration acknowledged more than ``REPLICATION_MARGIN`` before the kill, and
        every one acknowledged after the failover, is readable. Redis replicates asynchronously, so a write
        the old primary acknowledged in its last moment may be missing on the promoted replica
        (Scaling, "Durability": REDIS_WAIT_REPLICAS closes that window); those are not asserted."""
        before = [(c, t) for at, c, t in self.acknowledged if at < self.killed_at - REPLICATION_MARGIN]
        after = [(c, t) for at, c, t in self.acknowledged if at > self.killed_at + REPLICATION_MARGIN]
        assert before and after, "the drill registered nothing before the kill or after the failover"
        certain = before + after
        with httpx.Client(base_url=self.issuer.url, timeout=5) as http:
            assert http.get("/health").status_code == 200
            assert_readable(http, certain)


def report(name: str, seconds: float, drill: Drill) -> None:
    failed = sum(1 for _, status in drill.answers if status != 201)
    print(  # shown with -s: the numbers the README's Scaling section quotes
        f"\n{name}: requests failed (503) for {seconds:.2f}s after the kill; {failed} x 503, "
        f"{len(drill.acknowledged)} registrations acknowledged, all but the last moment's checked and readable"
    )


def test_issuer_on_sentinel_survives_a_primary_kill(
    tmp_path: Path, keys_dir: Path, issuer_on: Callable[..., ServiceProcess]
) -> None:
    sentinel = SentinelTopology(tmp_path / "sentinel", password="pw").start()
    tokens = Tokens(sentinel.url, keys_dir, {})
    try:
        issuer = issuer_on(sentinel.url)
        check_issuer_works(issuer)
        live, revoked = tokens.mint(), tokens.mint(revoked=True)
        tokens.start_verifier(tmp_path / "verifier")
        tokens.check(live, revoked)
        drill = Drill(issuer, probe=lambda: tokens.verify(revoked.token))
        old = sentinel.primary_port()
        seconds = drill.run(lambda: sentinel.data[old].kill())
        assert sentinel.wait_failover(old) != old
        drill.check_nothing_lost()
        assert 200 not in drill.probe_answers
        tokens.check(live, revoked)
        report("sentinel failover", seconds, drill)
    finally:
        if tokens.verifier is not None:
            tokens.verifier.stop()
        sentinel.stop()


def test_issuer_on_cluster_survives_a_primary_kill(
    tmp_path: Path, keys_dir: Path, issuer_on: Callable[..., ServiceProcess]
) -> None:
    cluster = ClusterTopology(tmp_path / "cluster", replicas=1).start()
    # Minter and verifier use every node as a seed: a process started after the drill could not
    # reach the cluster through a dead single seed.
    tokens = Tokens(cluster.url, keys_dir, {})
    try:
        check_issuer_works(issuer_on(cluster.url))
        # The seed-node form, whose only seed is the primary the drill kills.
        issuer = issuer_on(cluster.seed_url, REDIS_CLUSTER="true")
        check_issuer_works(issuer)
        live, revoked = tokens.mint(), tokens.mint(revoked=True)
        tokens.start_verifier(tmp_path / "verifier")
        tokens.check(live, revoked)
        seed = int(cluster.seed_url.rsplit(":", 1)[1].split("/")[0])
        victim = seed if seed in cluster.primary_ports() else cluster.primary_ports()[0]
        drill = Drill(issuer, probe=lambda: tokens.verify(revoked.token))
        seconds = drill.run(lambda: cluster.kill(victim))
        cluster.wait_ok()
        assert victim not in cluster.primary_ports()
        drill.check_nothing_lost()
        assert 200 not in drill.probe_answers
        tokens.check(live, revoked)
        report("cluster failover", seconds, drill)
    finally:
        if tokens.verifier is not None:
            tokens.verifier.stop()
        cluster.stop()


def test_cluster_subscriber_follows_the_loss_of_its_node(tmp_path: Path) -> None:
    """The pub/sub client reconnects to another node and resubscribes by itself."""
    cluster = ClusterTopology(tmp_path / "cluster", replicas=1).start()
    settings = RedisSettings(url=cluster.url)

    async def run() -> float:
        publisher, subscriber = create_redis(settings), create_pubsub_client(settings)
        pubsub = subscriber.pubsub()
        try:
            await pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
            await pubsub.get_message(timeout=2)
            connection = pubsub.connection
            assert connection is not None
            port = connection.port
            cluster.kill(int(port))
            killed = time.monotonic()
            while time.monotonic() - killed < 30:
                try:
                    await publisher.publish(redis_keys.REVOCATION_CHANNEL, "jti-after-kill")
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                except REDIS_DOWN_ERRORS:
                    await asyncio.sleep(0.1)
                    continue
                if message is not None and message["data"] == b"jti-after-kill":
                    return time.monotonic() - killed
            raise AssertionError("no message through the subscriber after its node died")
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await subscriber.aclose()
            await publisher.aclose()

    try:
        seconds = asyncio.run(run())
        print(f"\ncluster subscriber: messages flow again {seconds:.2f}s after its node died")
    finally:
        cluster.stop()


def test_sentinels_run_as_redis_server_when_no_separate_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some distributions ship no redis-sentinel program: the same server in sentinel mode.
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name: None if name == "redis-sentinel" else real_which(name)
    )
    sentinel = SentinelTopology(tmp_path / "sentinel").start()
    try:
        for node in sentinel.sentinels:
            assert node.process is not None
            assert "--sentinel" in node.process.args
        info = sentinel.sentinel_client().info("sentinel")
        assert info["sentinel_masters"] == 1
        assert sentinel.primary_port() in sentinel.data
    finally:
        sentinel.stop()
