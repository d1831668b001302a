"""The issuer section: /register, /token, discovery and /jwks against bare FastAPI routes.

Everything runs with 2 workers under the issuer's uvicorn settings, all services stay up for
the whole run, and the cases are measured in interleaved rounds (median reported), as in the
verifier section. The issuer runs as in production (JSON logs at INFO, rate limits on) except
that the limits are set far above the benchmark's rate, so their Redis round trips are measured
but never refuse. Two more issuers share the Redis: ES256 (the fast asymmetric choice) and
HS256, which isolates the cost of signing.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

from testsupport.issuer import issuer_env, start_issuer
from testsupport.redis_server import RedisServer
from testsupport.service import ServiceProcess, python_module

from . import signing
from .common import Result, run_wrk, warm_up
from .issuer_supply import REFRESH_FORM, REGISTRATION, code_form, issue_codes, register_client
from .issuer_table import Row, Target, format_table, median
from .wrk_post import outputs, post, unused

WORKERS = 2
ROUNDS = 3
CODES_PER_SECOND = 4000  # supply per second of an authorization_code run; above any rate seen
NO_LIMITS = {
    "REGISTER_RATE_PER_MINUTE": "100000000",
    "TOKEN_RATE_PER_MINUTE": "100000000",
    "MAX_REGISTRATIONS_PER_HOUR": "100000000",
}
HS256 = {"JWT_ALGORITHM": "HS256", "GATEWAY_JWT_SECRET": "bench-" + "s" * 40}
ES256 = {"JWT_ALGORITHM": "ES256"}
JSON = {"Content-Type": "application/json"}
FORM = "application/x-www-form-urlencoded"


class Bench:
    def __init__(self, directory: Path, duration: int, redis_url: str, client_basic: str) -> None:
        self.directory, self.duration, self.redis_url = directory, duration, redis_url
        self.token_headers = {"Content-Type": FORM, "Authorization": client_basic}
        self.client_id = ""
        self.refresh_pool: list[str] = []
        self.runs = 0

    def _file(self, stem: str) -> Path:
        self.runs += 1
        return self.directory / f"{stem}-{self.runs}"

    def authorization_code(self, name: str, url: str, duration: int) -> Result:
        supply, output = self._file("codes"), self._file("refresh-out")
        issue_codes(self.redis_url, self.client_id, CODES_PER_SECOND * duration, supply)
        run = post(
            name, url, "/token", code_form(), self.token_headers,
            duration=duration, directory=self.directory, supply=supply, output=output,
        )  # fmt: skip
        self.refresh_pool += outputs(output)
        return run.result

    def refresh(self, name: str, url: str) -> Result:
        supply, output = self._file("refresh-in"), self._file("refresh-out")
        pool, self.refresh_pool = self.refresh_pool, []
        supply.write_text("\n".join(pool) + "\n")
        run = post(
            name, url, "/token", REFRESH_FORM, self.token_headers,
            duration=self.duration, directory=self.directory, supply=supply, output=output,
        )  # fmt: skip
        # Rotated tokens replace the ones used; in-flight ones at the end are lost, not reused.
        self.refresh_pool = unused(pool, run.used) + outputs(output)
        return run.result


def run(directory: Path, duration: int) -> list[Result]:
    signing.print_signing(signing.measure())
    redis = RedisServer(directory / "issuer-redis").start()
    with ExitStack() as stack:
        stack.callback(redis.stop)

        def issuer(name: str, **extra: str) -> ServiceProcess:
            keys = directory / f"keys-{name}"
            keys.mkdir(mode=0o700)
            env = issuer_env(redis.url, keys, **NO_LIMITS, **extra)
            proc = start_issuer(env, directory / name, workers=WORKERS)
            stack.callback(proc.stop)
            return proc

        rs256 = issuer("issuer-rs256")
        es256, hs256 = issuer("issuer-es256", **ES256), issuer("issuer-hs256", **HS256)
        bare = ServiceProcess(
            python_module("bench.bare_fastapi", "--port", "{port}", "--workers", str(WORKERS)),
            {},
            directory / "bare-fastapi.log",
        ).start()
        stack.callback(bare.stop)
        client = register_client(rs256.url)
        bench = Bench(directory, duration, redis.url, client.basic())
        bench.client_id = client.client_id
        issuers = {"RS256": rs256.url, "ES256": es256.url, "HS256": hs256.url}
        return [row.result for row in _measure(bench, bare.url, issuers)]


def _measure(bench: Bench, bare: str, issuers: dict[str, str]) -> list[Row]:
    d, directory = bench.duration, bench.directory
    body = json.dumps(REGISTRATION)
    form = code_form().replace("%s", "bench-code")
    discovery = "/.well-known/oauth-authorization-server"
    rs256 = issuers["RS256"]
    for url in (bare + "/static", rs256 + discovery, rs256 + "/jwks"):
        warm_up(url, {}, directory)
    for name, url, path in (("warm bare", bare, "/json"), ("warm register", rs256, "/register")):
        post(name, url, path, body, JSON, duration=2, directory=directory)
    for algorithm, url in issuers.items():
        bench.authorization_code(f"warm token {algorithm}", url, 3)
    runs: dict[str, list[Result]] = {}

    def record(result: Result) -> None:
        runs.setdefault(result.name, []).append(result)

    for _ in range(ROUNDS):
        record(run_wrk("bare FastAPI GET", bare + "/static", {}, duration=d, status=200, directory=directory))  # fmt: skip
        record(run_wrk("discovery (RFC 8414)", rs256 + discovery, {}, duration=d, status=200, directory=directory))  # fmt: skip
        record(run_wrk("jwks", rs256 + "/jwks", {}, duration=d, status=200, directory=directory))
        record(post("bare FastAPI POST json", bare, "/json", body, JSON, duration=d, directory=directory).result)  # fmt: skip
        record(post("register (RFC 7591)", rs256, "/register", body, JSON, duration=d, directory=directory).result)  # fmt: skip
        bare_form = {"Content-Type": FORM}
        record(post("bare FastAPI POST form", bare, "/form", form, bare_form, duration=d, directory=directory).result)  # fmt: skip
        for algorithm, url in issuers.items():
            record(bench.authorization_code(f"token authorization_code {algorithm}", url, d))
            record(bench.refresh(f"token refresh_token {algorithm}", url))
    r = {name: median(name, results) for name, results in runs.items()}
    get, js, fm = r["bare FastAPI GET"], r["bare FastAPI POST json"], r["bare FastAPI POST form"]
    rows = [
        Row(get, None),
        Row(r["discovery (RFC 8414)"], get, Target(min_ratio=0.8)),
        Row(r["jwks"], get, Target(min_ratio=0.8)),
        Row(js, None),
        Row(r["register (RFC 7591)"], js, Target(min_rps=2000)),
        Row(fm, None),
    ]
    # RS256-3072 signing alone caps /token below the target on 2 cores (see the signing
    # table); ES256 is the configuration that is held to it.
    for algorithm in issuers:
        target = Target(min_rps=2000) if algorithm != "HS256" else Target()
        for grant in ("authorization_code", "refresh_token"):
            rows.append(Row(r[f"token {grant} {algorithm}"], fm, target))
    title = f"Issuer, median of {ROUNDS} rounds; ratio = to the bare FastAPI route above it"
    print("\n".join(format_table(title, rows, WORKERS)))
    return rows
