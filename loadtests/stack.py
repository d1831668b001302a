"""A ``make run`` stack for load tests: devstack's own processes, on free ports, logs to a file.

The processes and environments are devstack's (``devstack.stack.children``), so the load test
exercises what ``make run`` runs, proxy included. Differences, all for a load test from one
address: rate limits are off, the stand-in accepts any login, the issuer also accepts tokens for
a second service (``OTHER_RESOURCE``, for wrong-service tokens), and a second issuer with a
short access-token lifetime mints the expired tokens.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devstack.gateway import choose_proxy
from devstack.redis_bin import find_redis_server
from devstack.stack import DEFAULT_PORTS, Plan, children, python_service
from devstack.supervisor import Supervisor
from testsupport.ports import free_port

OTHER_RESOURCE = "https://mcp-b.example.com"
SHORT_LIFETIME = "3"
LOADTEST_ENV = {
    "REGISTER_RATE_PER_MINUTE": "0",
    "TOKEN_RATE_PER_MINUTE": "0",
    "MAX_REGISTRATIONS_PER_HOUR": "0",
    "ALLOWED_GITHUB_USERS": "*",
    "LOG_LEVEL": "WARNING",
}


class LoggingSupervisor(Supervisor):
    """devstack's supervisor, writing the children's output to a file instead of the terminal."""

    def __init__(self, log: TextIO) -> None:
        super().__init__()
        self.log = log

    def say(self, name: str, line: str) -> None:
        self.log.write(f"{name:<9}| {line}\n")
        self.log.flush()


@dataclass(frozen=True)
class RunningStack:
    plan: Plan
    log_path: Path

    @property
    def issuer_url(self) -> str:
        return self.plan.url("issuer")

    @property
    def short_lived_issuer_url(self) -> str:
        return self.plan.url("issuer_short")

    @property
    def verifier_url(self) -> str:
        return self.plan.url("verifier")

    @property
    def gateway_url(self) -> str | None:
        return self.plan.url("gateway") if self.plan.proxy else None

    @property
    def resource(self) -> str:
        """What devstack's issuer accepts and the proxy's Host makes canonical: the gateway."""
        return self.plan.url("gateway")


@contextlib.contextmanager
def running(run_dir: Path, *, proxy: bool = True) -> Iterator[RunningStack]:
    """Start everything (about 5-20 s), yield, stop everything (also on errors)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in [*DEFAULT_PORTS, "issuer_short"]}
    plan = Plan(ports, run_dir, choose_proxy() if proxy else None, dev_login=True)
    gateway = plan.url("gateway")
    overrides = {**LOADTEST_ENV, "ALLOWED_RESOURCES": f"{gateway},{OTHER_RESOURCE}"}
    saved = {name: os.environ.get(name) for name in overrides}
    log_path = run_dir / "stack.log"
    with open(log_path, "a") as log:
        supervisor = LoggingSupervisor(log)
        try:
            # devstack's children take their settings from this process' environment.
            os.environ.update(overrides)
            # devstack plans each child once the previous ones run (children() is lazy).
            issuer_env: dict[str, str] | None = None
            for child in children(plan, find_redis_server()):
                supervisor.start(child)
                if child.name == "issuer":
                    issuer_env = dict(child.env)
            assert issuer_env is not None, "devstack planned no issuer"
            env = {**issuer_env, "ACCESS_TOKEN_LIFETIME": SHORT_LIFETIME}
            supervisor.start(python_service(plan, "issuer_short", "authgate_issuer", env))
            yield RunningStack(plan, log_path)
        finally:
            supervisor.stop()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
