"""Scale of data: /verify and /token latency at 0, 100k and 1M clients + tokens, Redis memory per
client and per token, and what ``authgate purge-expired`` and ``clients delete`` cost.

    python -m bench.data_scale --sizes 0,100000,1000000     # or: python -m bench data-scale

Not part of plain ``make bench``: the full size takes minutes and a few GB of RAM. Each level
tops the data up to that many clients, each with one grant and one live access token, in the
issuer's format (bench.data_fill). Latency is measured with 4 connections, where it is service
time rather than queueing. ``purge-expired`` is timed removing DUE expired registrations (each
with a grant and a live access token) at every size; ``purge-expired --scan``, whose cost grows
with the keyspace, removing as many more, up to ``--scan-max`` clients.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

from authgate_issuer.store.clients import ClientRecord
from authgate_shared import redis_keys
from testsupport.admin_cli import admin_env
from testsupport.admin_cli import run as admin
from testsupport.issuer import issuer_env, start_issuer
from testsupport.redis_server import RedisServer
from testsupport.verifier import MCP_A, forwarded, start_verifier, verifier_env

from .common import Result, workdir
from .data_fill import Fill, check_format
from .issuer_supply import RESOURCE, code_form, issue_codes, register_client
from .issuer_table import median
from .wrk_post import post

DEFAULT_SIZES = "0,100000,1000000"
LATENCY_CONNECTIONS = 4
ROUNDS = 3
DELETE_SIZES = (10, 1000)
DUE = 1000
# purge-expired --scan walks the whole keyspace (minutes per million keys): measured up to here.
SCAN_MAX = 100_000
FORM = "application/x-www-form-urlencoded"


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


class Scale:
    def __init__(self, directory: Path, duration: int, stack: ExitStack) -> None:
        self.directory, self.duration = directory, duration
        redis_server = RedisServer(directory / "scale-redis").start()
        stack.callback(redis_server.stop)
        self.redis_url, self.redis = redis_server.url, redis_server.client()
        keys = directory / "scale-keys"
        keys.mkdir(mode=0o700)
        self.admin_env = admin_env(self.redis_url, keys)
        env = issuer_env(self.redis_url, keys, TOKEN_RATE_PER_MINUTE="0")
        self.issuer = start_issuer(env, directory / "scale-issuer", workers=2)
        stack.callback(self.issuer.stop)
        verifier = start_verifier(verifier_env(self.redis_url), directory / "scale-verifier")
        stack.callback(verifier.stop)
        self.verify_url = verifier.url + "/verify"
        probe = register_client(self.issuer.url)
        self.probe_id, self.basic = probe.client_id, probe.basic()
        raw = self.redis.get(redis_keys.client(probe.client_id)) or b""
        self.fill = Fill(ClientRecord.from_json(raw), RESOURCE)
        self.token = self._redeem_one()

    def _codes(self, name: str, count: int) -> Path:
        path = self.directory / f"codes-{name}"
        issue_codes(self.redis_url, self.probe_id, count, path)
        return path

    def _redeem_one(self) -> str:
        """An access token minted by POST /token; its grant is the format reference."""
        code = self._codes("probe", 1).read_text().strip()
        response = httpx.post(
            f"{self.issuer.url}/token",
            content=code_form().replace("%s", code),
            headers={"Authorization": self.basic, "Content-Type": FORM},
            timeout=10,
        )
        response.raise_for_status()
        key = next(self.redis.scan_iter(redis_keys.all_tokens_pattern())).decode()
        jti = key.removeprefix("oauth:token:").replace("{", "").replace("}", "")
        check_format(self.redis, self.fill, jti, self.probe_id)
        return str(response.json()["access_token"])

    def latency(self, level: str) -> list[Result]:
        """Median of ROUNDS alternating runs of each case (a shared machine's noise hits both)."""
        headers = {**forwarded(MCP_A), "Authorization": f"Bearer {self.token}"}
        token_headers = {"Content-Type": FORM, "Authorization": self.basic}
        runs: dict[str, list[Result]] = {}
        for n in range(ROUNDS):
            verify = post(f"/verify, {level} tokens", self.verify_url.removesuffix("/verify"),
                          "/verify", "", headers, duration=self.duration, directory=self.directory,
                          connections=LATENCY_CONNECTIONS, threads=1, method="GET").result  # fmt: skip
            supply = self._codes(f"{level}-{n}", 1500 * self.duration)
            token = post(f"/token (authorization_code), {level}", self.issuer.url, "/token",
                         code_form(), token_headers, duration=self.duration,
                         directory=self.directory, supply=supply,
                         connections=LATENCY_CONNECTIONS, threads=1).result  # fmt: skip
            for result in (verify, token):
                runs.setdefault(result.name, []).append(result)
        return [median(name, results) for name, results in runs.items()]

    def delete_costs(self) -> dict[int, float]:
        """Seconds of ``authgate clients delete`` for a client with N grants (one token each)."""
        costs = {}
        for grants in DELETE_SIZES:
            cid = self.fill.one_client(self.redis, grants)
            costs[grants] = _timed(lambda c=cid: admin(self.admin_env, "clients", "delete", c))  # type: ignore[misc]
        return costs

    def purge_cost(self, *flags: str) -> tuple[float, str]:
        """Seconds of ``authgate purge-expired [flags]`` once DUE registrations have expired."""
        self.fill.expiring_clients(self.redis, DUE)
        time.sleep(2.5)  # their records expire by TTL; their grants and tokens stay for purge
        outcome: list[str] = []
        seconds = _timed(
            lambda: outcome.append(admin(self.admin_env, "purge-expired", *flags, "--json").out)
        )
        return seconds, " ".join(outcome[0].split())


def run_sizes(directory: Path, duration: int, sizes: list[int], scan_max: int = SCAN_MAX) -> None:
    with ExitStack() as stack:
        scale = Scale(directory, duration, stack)
        total, lines = 0, []
        for size in sizes:
            if size > total:
                before = int(scale.redis.info("memory")["used_memory"])
                ids = scale.fill.clients(scale.redis, size - total)
                middle = int(scale.redis.info("memory")["used_memory"])
                scale.fill.tokens(scale.redis, ids, first_user=total)
                after = int(scale.redis.info("memory")["used_memory"])
                lines.append(f"{size:>9,}: {(middle - before) / len(ids):,.0f} B per client, "
                             f"{(after - middle) / len(ids):,.0f} B per token (grant, record, "
                             f"indexes); used_memory {after / 2**20:,.0f} MiB, dbsize "
                             f"{scale.redis.dbsize():,}")  # fmt: skip
                total = size
            results = scale.latency(f"{size:,}")
            deletes = scale.delete_costs()
            purges = {"purge-expired": scale.purge_cost()}
            if size <= scan_max:
                purges["purge-expired --scan"] = scale.purge_cost("--scan")
            for r in results:
                lines.append(f"{size:>9,}: {r.name:<36} p50 {r.p50_ms:6.2f} ms  p99 "
                             f"{r.p99_ms:6.2f} ms  {r.rps:7.0f}/s  non-2xx {r.non2xx}")  # fmt: skip
            for grants, seconds in deletes.items():
                lines.append(f"{size:>9,}: clients delete, {grants} grants: {seconds:.3f} s")
            for command, (seconds, counts) in purges.items():
                lines.append(f"{size:>9,}: {command} ({DUE} expired clients): {seconds:.2f} s "
                             f"{counts}")  # fmt: skip
            if size > scan_max:
                lines.append(f"{size:>9,}: purge-expired --scan: not measured (--scan-max)")
            print("\n".join(lines[-len(results) - len(deletes) - 2 :]), flush=True)
        print("\nData scale (4 connections for latency; sizes = clients = live tokens)")
        print("\n".join(lines))


def run(directory: Path, duration: int) -> list[Result]:
    """Hook for ``python -m bench data-scale``: sizes from BENCH_DATA_SCALE_SIZES."""
    sizes = [int(s) for s in os.environ.get("BENCH_DATA_SCALE_SIZES", DEFAULT_SIZES).split(",")]
    run_sizes(directory, duration, sizes)
    return []


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.data_scale", description=__doc__)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"default {DEFAULT_SIZES}")
    parser.add_argument("--duration", type=int, default=5, help="seconds per latency case")
    parser.add_argument("--scan-max", type=int, default=SCAN_MAX,
                        help=f"measure purge-expired --scan up to this size (default {SCAN_MAX})")  # fmt: skip
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    run_sizes(workdir(), args.duration, sizes, args.scan_max)


if __name__ == "__main__":
    main()
