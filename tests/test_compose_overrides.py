"""The documented Sentinel and Cluster compose overrides (docs/deployment.md), checked statically (no Docker engine here).

Each override must parse, extend only services of compose.yaml or define its own, use compose's
networks, set variables the services really read, and give a ``REDIS_URL`` that Authgate parses
into the intended topology whose hosts are the override's own services.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in the pins

from authgate_shared.redis.urls import parse_redis_url

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "deployment.md").read_text()
SCALING = DOC.split("## Redis topologies with Compose", 1)[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
REDIS_ENV = (ROOT / "shared/src/authgate_shared/redis/connection.py").read_text()


def override(first_service: str) -> dict[str, Any]:
    for block in re.findall(r"```yaml\n(.*?)```", SCALING, re.S):
        if block.startswith(f"services:\n  {first_service}:"):
            parsed: dict[str, Any] = yaml.safe_load(block)
            return parsed
    raise AssertionError(f"the Scaling section has no override starting with {first_service}")


def redis_url(service: dict[str, Any]) -> str:
    env = dict(item.split("=", 1) for item in service["environment"])
    assert set(env) <= set(re.findall(r'"([A-Z][A-Z0-9_]+)"', REDIS_ENV)), "unknown variable"
    return env["REDIS_URL"]


def check_common(doc: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = doc["services"]
    ours = {"issuer", "verifier"}
    assert ours <= set(services) and ours <= set(COMPOSE["services"])
    for name, service in services.items():
        if name in ours:
            assert set(service) == {"environment"}, "only the Redis variables change"
        else:
            assert name not in COMPOSE["services"], name
            assert service["image"] == COMPOSE["services"]["redis"]["image"]
            assert set(service["networks"]) <= set(COMPOSE["networks"])
    variables = set(re.findall(r"\$\{([A-Z_]+)\}", yaml.safe_dump(doc)))
    assert all(re.search(rf"^{v}=", ENV_EXAMPLE, re.M) for v in variables), variables
    urls = {redis_url(services[name]) for name in ours}
    assert len(urls) == 1, "issuer and verifier must use the same Redis"
    return services


@pytest.mark.parametrize("first", ["redis-replica", "redis-node-1"])
def test_overrides_parse_and_extend_compose(first: str) -> None:
    check_common(override(first))


def test_sentinel_override_monitors_the_compose_primary() -> None:
    doc = override("redis-replica")
    services = check_common(doc)
    target = parse_redis_url(redis_url(services["issuer"]).replace("${REDIS_PASSWORD}", "pw"))
    assert target.mode == "sentinel" and target.connection_kwargs["password"] == "pw"
    sentinels = {n for n in services if n.startswith("sentinel")}
    assert {host for host, _ in target.nodes} == sentinels and len(sentinels) == 3
    assert {port for _, port in target.nodes} == {26379}
    for name in sentinels:
        assert services[name]["configs"][0]["source"] in doc["configs"]
    config = doc["configs"]["sentinel"]["content"]
    monitor = re.search(r"sentinel monitor (\S+) (\S+) (\d+) (\d+)", config)
    assert monitor is not None
    assert monitor.group(1) == target.service_name
    assert monitor.group(2) == "redis" and "redis" in COMPOSE["services"]
    assert int(monitor.group(4)) == 2, "quorum: a majority of the three sentinels"
    assert f"sentinel auth-pass {target.service_name} ${{REDIS_PASSWORD}}" in config
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 :][:2] == ["redis", "6379"]


def test_cluster_override_has_six_nodes_and_the_create_command_names_them() -> None:
    services = check_common(override("redis-node-1"))
    nodes = {n for n in services if n.startswith("redis-node-")}
    assert nodes == {f"redis-node-{i}" for i in range(1, 7)}
    for name in nodes:
        command = services[name]["command"]
        assert command[command.index("--cluster-enabled") + 1] == "yes"
        assert "--masterauth" in command and "--requirepass" in command
    target = parse_redis_url(redis_url(services["issuer"]).replace("${REDIS_PASSWORD}", "pw"))
    assert target.mode == "cluster"
    assert {host for host, _ in target.nodes} <= nodes and len(target.nodes) >= 3
    create = re.search(r"```sh\n(ips=.*?)```", SCALING, re.S)
    assert create is not None
    assert "for n in 1 2 3 4 5 6" in create.group(1) and "redis-node-$n" in create.group(1)
    assert "--cluster-replicas 1" in create.group(1)  # six nodes: three primaries, a replica each
