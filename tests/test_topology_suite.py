"""The integration suite on standalone Redis, Sentinel and Cluster: real issuer, verifier, GitHub
stand-in and admin CLI processes on each topology (started once per topology, module scope).

- register (POST /register) → authorize → consent → stand-in login → callback → token → verify
  through the verifier → refresh → revoke → the verifier refuses;
- the admin CLI (``python -m authgate_issuer.admin``; on Cluster in its ``REDIS_CLUSTER=true``
  seed-node form): clients list, tokens stats, purge-expired (default and --scan), backup,
  delete, restore;
- ``REDIS_WAIT_REPLICAS``: ``wait_for_replicas`` on each topology, and the issuer registers
  with it on Sentinel and Cluster (one replica each).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from authgate_issuer.store.clients import ClientRecord, load_client, save_client
from authgate_shared.redis.connection import (
    RedisSettings,
    ReplicasNotReached,
    create_redis,
    wait_for_replicas,
)
from testsupport import flows
from testsupport.admin_cli import admin_env, run_process
from testsupport.redis_topologies import ClusterTopology, Node, SentinelTopology
from testsupport.stack import RESOURCE_A, RESOURCE_B, Stack, StackOptions, running_stack

TOPOLOGIES = ("standalone", "sentinel", "cluster")
REPLICAS = {"standalone": 0, "sentinel": 1, "cluster": 1}
"""Replicas of the primary that holds any one key."""


@dataclass
class Deployment:
    name: str
    stack: Stack
    admin: dict[str, str]
    replicas: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.stack.issuer_url


@pytest.fixture(scope="module", params=TOPOLOGIES)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    name: str = request.param
    directory = tmp_path_factory.mktemp(name)
    topology: SentinelTopology | ClusterTopology | None = None
    issuer_env = {"REGISTER_RATE_PER_MINUTE": "0", "MAX_REGISTRATIONS_PER_HOUR": "0"}
    if name == "sentinel":
        topology = SentinelTopology(directory / "redis", password="pw").start()
        replicas = [n for p, n in topology.data.items() if p != topology.initial_primary]
        cli_redis = {"REDIS_URL": topology.url}
    elif name == "cluster":
        topology = ClusterTopology(directory / "redis", replicas=1).start()
        primaries = topology.primary_ports()
        replicas = [n for p, n in topology.nodes.items() if p not in primaries]
        cli_redis = {"REDIS_URL": topology.seed_url, "REDIS_CLUSTER": "true"}
    else:
        replicas, cli_redis = [], {}
    if topology is not None:
        # Every registration below is acknowledged by the primary's replica (WAIT).
        issuer_env["REDIS_WAIT_REPLICAS"] = "1"
    options = StackOptions(redis_url=topology and topology.url, issuer_env=issuer_env)
    try:
        with running_stack(directory / "stack", options) as stack:
            cli = admin_env(stack.redis_url, stack.directory / "keys", **cli_redis)
            yield Deployment(name, stack, cli, replicas)
    finally:
        if topology is not None:
            topology.stop()


def cli(deployment: Deployment, *args: str) -> Any:
    result = run_process(deployment.admin, *args, "--json")
    assert result.code == 0, (args, result.err)
    return result.json()


def test_register_login_refresh_revoke_verify(deployment: Deployment) -> None:
    stack, url = deployment.stack, deployment.url
    with httpx.Client(timeout=10) as http:
        client = flows.register(http, url)
        config = http.get(
            f"{url}/register/{client.client_id}",
            headers={"Authorization": f"Bearer {client.registration_access_token}"},
        )
        assert config.status_code == 200 and config.json()["client_id"] == client.client_id
        first = flows.login(http, url, client, resources=[RESOURCE_A])
        assert stack.verify(first["access_token"]).status_code == 200
        assert stack.verify(first["access_token"], RESOURCE_B).status_code == 401

        response = flows.refresh(http, url, client, first["refresh_token"])
        assert response.status_code == 200, response.text
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert stack.verify(second["access_token"]).status_code == 200

        assert flows.revoke(http, url, client, second["access_token"]).status_code == 200
        assert stack.verify(second["access_token"]).status_code == 401
        assert flows.introspect(http, url, client, second["access_token"]) == {"active": False}

        # Revoking the refresh token revokes the grant and every access token of it.
        assert flows.revoke(http, url, client, second["refresh_token"]).status_code == 200
        assert flows.refresh(http, url, client, second["refresh_token"]).status_code == 400
        assert stack.verify(first["access_token"]).status_code == 401


def test_admin_cli_lists_purges_backs_up_and_restores(
    deployment: Deployment, tmp_path: Path
) -> None:
    stack, url = deployment.stack, deployment.url
    with httpx.Client(timeout=10) as http:
        client = flows.register(http, url, name=f"cli-{deployment.name}")
        tokens = flows.login(http, url, client, resources=[RESOURCE_A])
        assert stack.verify(tokens["access_token"]).status_code == 200

        listed = {row["client_id"]: row for row in cli(deployment, "clients", "list")}
        assert listed[client.client_id]["client_name"] == f"cli-{deployment.name}"
        assert listed[client.client_id]["access_tokens"] == 1
        assert listed[client.client_id]["refresh_tokens"] == 1
        stats = cli(deployment, "tokens", "stats")
        assert stats["clients"] >= 1 and stats["access_tokens"] >= 1
        assert "octocat" in {row["user"] for row in stats["by_user"]}
        purged = cli(deployment, "purge-expired", "--scan")
        assert purged["keys_scanned"] > 0 and purged["clients_expired"] == 0
        assert purged["schedule_entries_added"] == 0  # the registration filed itself
        due = cli(deployment, "purge-expired")
        assert due["keys_scanned"] == 0 and due["schedule_entries"] == 0

        backup = tmp_path / "authgate.backup"
        assert cli(deployment, "backup", str(backup))["records"] >= 4  # jwks, client, grant, token
        deleted = cli(deployment, "clients", "delete", client.client_id)
        assert deleted == {"client_id": client.client_id, "deleted": True, "grants_revoked": 1}
        assert stack.verify(tokens["access_token"]).status_code == 401
        assert run_process(deployment.admin, "clients", "show", client.client_id).code == 1

        restored = cli(deployment, "restore", str(backup))
        assert restored["clients_restored"] >= 1, restored
        assert restored["grants_restored"] >= 1 and restored["tokens_restored"] >= 1
        shown = cli(deployment, "clients", "show", client.client_id)
        assert shown["metadata"]["client_name"] == f"cli-{deployment.name}"
        assert stack.verify(tokens["access_token"]).status_code == 200
        refreshed = flows.refresh(http, url, client, tokens["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text


@contextlib.contextmanager
def stopped(nodes: list[Node]) -> Iterator[None]:
    """SIGSTOP the replicas for a moment: still connected, but they acknowledge nothing."""
    pids = [n.process.pid for n in nodes if n.process is not None]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def test_wait_for_replicas_on_the_writing_connection(deployment: Deployment) -> None:
    expected = REPLICAS[deployment.name]
    one = RedisSettings(url=deployment.stack.redis_url, wait_replicas=1, wait_timeout_ms=100)
    two = RedisSettings(url=one.url, wait_replicas=2, wait_timeout_ms=100)

    async def write(settings: RedisSettings, key: str) -> list[object]:
        redis = create_redis(settings)
        try:
            pipe = redis.pipeline(transaction=False)
            pipe.set(key, b"v")
            return await wait_for_replicas(pipe, settings, key=key)
        finally:
            await redis.aclose()

    # WAIT 2 reports how many replicas did acknowledge: the primary's one (none standalone).
    with pytest.raises(ReplicasNotReached, match=f"^{expected} of 2 replica"):
        asyncio.run(write(two, "{wait}:a"))
    if expected:
        assert asyncio.run(write(one, "{wait}:b")) == [True]
        # A WAIT on any other connection than the write's would count the stopped replica (it
        # acknowledged everything *that* connection wrote: nothing) and pass.
        with stopped(deployment.replicas), pytest.raises(ReplicasNotReached, match=r"^0 of 1"):
            asyncio.run(write(one, "{wait}:d"))
    assert asyncio.run(write(RedisSettings(url=one.url), "{wait}:e")) == [True]  # 0: no WAIT


def test_registration_waits_for_the_replica(deployment: Deployment) -> None:
    settings = RedisSettings(url=deployment.stack.redis_url, wait_replicas=1, wait_timeout_ms=100)
    record = ClientRecord("wait-client", {"client_name": "w"}, 0, 0)

    async def save_and_load() -> ClientRecord | None:
        redis = create_redis(settings)
        try:
            await save_client(redis, record, 0, durability=settings)
            return await load_client(redis, record.client_id, 0)
        finally:
            await redis.aclose()

    if REPLICAS[deployment.name]:
        assert asyncio.run(save_and_load()) == record
        with stopped(deployment.replicas), pytest.raises(ReplicasNotReached):
            asyncio.run(save_and_load())
        # The issuer of this topology runs with REDIS_WAIT_REPLICAS=1: a registration it
        # acknowledges has reached the replica; one it cannot get acknowledged is a 503.
        with httpx.Client(timeout=10) as http:
            assert flows.register(http, deployment.url).client_id
            with stopped(deployment.replicas):
                response = http.post(f"{deployment.url}/register", json=REGISTRATION)
            assert response.status_code == 503, response.text
    else:
        with pytest.raises(ReplicasNotReached, match=r"^0 of 1"):
            asyncio.run(save_and_load())


REGISTRATION = {"client_name": "wait", "redirect_uris": [flows.REDIRECT_URI]}
