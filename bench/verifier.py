"""The verifier section: /verify against the bare ASGI ceiling, all in one run.

Cases: the bare app; the bare app answering with the verifier's 200 headers (a control: what
the response alone costs); a valid token with the Redis revocation check on every request; the
same with ``REVOCATION_CACHE_MS`` on; no token (401); a revoked token (401). One token per case, as
an MCP client sends the same token on every request. Every service stays up for the whole run
and the cases are measured in interleaved rounds (median reported), so load from elsewhere on a
shared machine weighs on all cases alike. The bare app gets the valid-token request too: the
ratio then measures the verifier's work, not the size of the request. The servers run on a
core of their own, wrk and Redis on the others (``cores.py``), unless ``shared_cores``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from contextlib import ExitStack
from pathlib import Path

import httpx

from authgate_shared import redis_keys
from testsupport.redis_server import RedisServer
from testsupport.service import ServiceProcess, python_module
from testsupport.tokens import TokenMinter
from testsupport.verifier import MCP_A, forwarded, start_verifier, verifier_env, verify_path

from . import cores, policy_case
from .common import Result, print_table, run_wrk, warm_up

REVOCATION_CACHE_MS = "50"
NO_POLICY = "tool call, cache, no policy"
WITH_POLICY = "tool call, cache, policy 100x20"
# Each case runs ROUNDS_PER_SECOND x --duration rounds of one second, interleaved: on a shared
# host the CPU's speed drifts (a busy loop here varies up to 2x over half-seconds), and short
# interleaved slices spread that drift over every case alike.
ROUNDS_PER_SECOND = 3
SLICE_SECONDS = 1


async def _mint(redis_url: str, keys_dir: Path) -> tuple[str, str]:
    """(valid token, revoked token), minted by the issuer's code path."""
    async with TokenMinter.open(redis_url, keys_dir) as minter:
        valid = await minter.mint(resources=[MCP_A])
        revoked = await minter.mint(resources=[MCP_A])
        await minter.ctx.redis.delete(redis_keys.token(revoked.jti))
        return valid.token, revoked.token


def _median(name: str, runs: list[Result]) -> Result:
    """Medians over the rounds (p99 too: one slice's pause is not every slice's), the worst
    slice's p99 beside them, and every round's errors."""
    return Result(
        name,
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
        non2xx=sum(r.non2xx for r in runs),
        status=runs[0].status,
        worst_p99_ms=max(r.p99_ms for r in runs),
    )


def _verifier_200_headers(url: str, headers: dict[str, str], path: Path) -> Path:
    """The verifier's 200 header block as the bare app's --headers file (without Date, which
    uvicorn adds to every response)."""
    answer = httpx.get(url, headers=headers)
    answer.raise_for_status()
    pairs = [
        [name.decode("latin-1"), value.decode("latin-1")]
        for name, value in answer.headers.raw
        if name.lower() != b"date"
    ]
    path.write_text(json.dumps(pairs))
    return path


def run(directory: Path, duration: int, *, shared_cores: bool = False) -> list[Result]:
    place = cores.placement(shared=shared_cores)
    with place.loading():
        return _run(directory, duration, place)


def _run(directory: Path, duration: int, place: cores.Placement) -> list[Result]:
    redis = RedisServer(directory / "redis").start()
    with ExitStack() as stack:
        stack.callback(redis.stop)
        keys_dir = directory / "keys"
        keys_dir.mkdir(mode=0o700)
        valid, revoked = asyncio.run(_mint(redis.url, keys_dir))
        fwd = forwarded(MCP_A)
        with_valid = {**fwd, "Authorization": f"Bearer {valid}"}

        def verifier(**overrides: str) -> ServiceProcess:
            # The default: each proxy route's auth address names its resource.
            env = verifier_env(redis.url, LOG_FORMAT="json", RESOURCE_SOURCE="address", **overrides)
            with place.serving():
                proc = start_verifier(env, directory / f"v{len(overrides)}")
            stack.callback(proc.stop)
            return proc

        def bare(*args: str) -> ServiceProcess:
            name = "bare-control" if args else "bare"
            with place.serving():
                proc = ServiceProcess(
                    python_module("bench.bare_app", "--port", "{port}", *args),
                    {},
                    directory / f"{name}.log",
                    health_path="/",
                ).start()
            stack.callback(proc.stop)
            return proc

        plain, cached = verifier(), verifier(REVOCATION_CACHE_MS=REVOCATION_CACHE_MS)
        # FORWARD_AUTH_TOKEN_HEADER=true (off by default) adds the ~1 KB JWT as X-Auth-Token
        # to every 200, so its cost is shown separately.
        passthrough = verifier(
            REVOCATION_CACHE_MS=REVOCATION_CACHE_MS, FORWARD_AUTH_TOKEN_HEADER="true"
        )
        # Decision logging on for denials: an allowed request must cost what it does with it off.
        logging_denials = verifier(REVOCATION_CACHE_MS=REVOCATION_CACHE_MS, LOG_DECISIONS="denied")
        # POLICY_FILE of 100 services x 20 tool rules: its rate against the same request (MCP
        # headers included) without a policy, below.
        policy = verifier(
            REVOCATION_CACHE_MS=REVOCATION_CACHE_MS,
            ALLOWED_RESOURCES=",".join(policy_case.resources()),
            POLICY_FILE=str(policy_case.write_policy(directory / "policy.yaml")),
        )
        with_tool = {**with_valid, **policy_case.TOOL_HEADERS}
        path = verify_path(MCP_A)
        control_file = _verifier_200_headers(
            cached.url + path, with_valid, directory / "verifier-200-headers.json"
        )
        ceiling, control = bare(), bare("--headers", str(control_file))
        cases = [
            ("bare ASGI ceiling", ceiling, with_valid),
            ("bare ASGI, verifier's 200 headers", control, with_valid),
            ("valid token (Redis check each)", plain, with_valid),
            (f"valid token (cache {REVOCATION_CACHE_MS} ms)", cached, with_valid),
            ("valid, cache, X-Auth-Token sent", passthrough, with_valid),
            ("valid, cache, LOG_DECISIONS=denied", logging_denials, with_valid),
            (NO_POLICY, cached, with_tool),
            (WITH_POLICY, policy, with_tool),
            ("no token (401)", plain, fwd),
            ("revoked token (401)", plain, {**fwd, "Authorization": f"Bearer {revoked}"}),
        ]
        threads = place.load_threads
        runs: dict[str, list[Result]] = {name: [] for name, _, _ in cases}
        for _, proc, headers in cases:
            warm_up(proc.url + path, headers, directory, threads)
        rounds = ROUNDS_PER_SECOND * duration
        for _ in range(rounds):
            for name, proc, headers in cases:
                url = proc.url + path
                status = httpx.get(url, headers=headers).status_code
                runs[name].append(
                    run_wrk(
                        name,
                        url,
                        headers,
                        duration=SLICE_SECONDS,
                        status=status,
                        directory=directory,
                        threads=threads,
                    )
                )
        results = [_median(name, runs[name]) for name, _, _ in cases]
        setup = f"wrk -t{threads}; {place.describe()}"
        quartiles = _paired_ratios(runs, cases[0][0])
        print_table(
            f"Verifier /verify, median of {rounds} rounds of {SLICE_SECONDS} s",
            results,
            results[0],
            setup,
            ratios={name: q[1] for name, q in quartiles.items()},
        )
        print(
            "ratio: median over the rounds of the case's rate / the ceiling's rate in the same "
            "round; p50, p99: medians of the rounds'; worst: the highest round's p99"
        )
        for name, (q1, median, q3) in list(quartiles.items())[1:]:
            print(f"  {name:<34} ratio quartiles {q1:.2f} {median:.2f} {q3:.2f}")
        q1, median, q3 = _paired_ratios(runs, NO_POLICY)[WITH_POLICY]
        print(
            f"policy {policy_case.SERVICES} services x {policy_case.RULES} tool rules / no policy,"
            f" same tools/call request, per round: median {median:.3f} (quartiles {q1:.3f}"
            f" {q3:.3f}); target >= 0.90"
        )
        return results


def _paired_ratios(
    runs: dict[str, list[Result]], ceiling: str
) -> dict[str, tuple[float, float, float]]:
    """Each case's quartiles (q1, median, q3) over the rounds of its rate / the ceiling's rate
    in the same round: a drift of the host's speed over a round weighs on both sides of each
    ratio, and the spread shows how far one run can be trusted."""
    quartiles = {}
    for name, results in runs.items():
        per_round = [r.rps / c.rps for r, c in zip(results, runs[ceiling], strict=True)]
        q1, median, q3 = statistics.quantiles(per_round, n=4)
        quartiles[name] = (q1, median, q3)
    return quartiles
