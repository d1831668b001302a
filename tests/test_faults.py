"""Faults with real processes: Redis killed and restarted, issuer replicas, a failing GitHub,
SIGTERM under load. Each test fails if the behaviour the issue asks for breaks.

One stack (Redis with AOF, the GitHub stand-in, two issuer replicas, a verifier) serves the
module; tests that kill Redis bring it back before they end, and ``redis_up`` restarts it if a
failed test left it down.
"""

from __future__ import annotations

import concurrent.futures as cf
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from testsupport import flows
from testsupport.browser_flow import Browser, new_pkce
from testsupport.github_standin import standin_login
from testsupport.issuer import issuer_env
from testsupport.service import ServiceProcess, python_module
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack

GITHUB_TIMEOUT_S = 1.5
RECOVERY_LIMIT_S = 5.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    options = StackOptions(
        issuers=2,
        appendonly=True,
        issuer_env={"GITHUB_TIMEOUT_MS": str(int(GITHUB_TIMEOUT_S * 1000))},
    )
    with running_stack(tmp_path_factory.mktemp("faults"), options) as running:
        yield running


@pytest.fixture
def redis_up(stack: Stack) -> Stack:
    if stack.redis.process is None:
        stack.redis.start()
    stack.standin.set_faults()
    return stack


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def wait_until(check: Callable[[], bool], limit: float = RECOVERY_LIMIT_S) -> float:
    """Seconds until ``check()`` is true; fails the test after ``limit``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < limit, f"no recovery within {limit}s"
        time.sleep(0.05)
    return time.monotonic() - start


def assert_json_503(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "temporarily_unavailable" and body["error_description"]
    assert "Traceback" not in response.text and "<html" not in response.text.lower()


def test_redis_outage_under_load_gives_503_then_recovers_without_restart(
    redis_up: Stack, http: httpx.Client
) -> None:
    stack = redis_up
    client = flows.register(http, stack.issuer_url)
    tokens = flows.login(http, stack.issuer_url, client, resources=[RESOURCE_A])
    revoked = flows.login(http, stack.issuer_url, client, resources=[RESOURCE_A])
    assert flows.revoke(http, stack.issuer_url, client, revoked["access_token"]).status_code == 200
    valid, dead = tokens["access_token"], revoked["access_token"]
    assert stack.verify(valid).status_code == 200 and stack.verify(dead).status_code == 401
    pids = [p.process.pid for p in (*stack.issuers, stack.verifier) if p and p.process]

    # Load on every path that needs Redis while it is killed; collect every answer.
    seen: dict[str, set[int]] = {"valid": set(), "revoked": set()}
    stop = threading.Event()

    def verify_loop() -> None:
        with httpx.Client(timeout=10) as own:
            while not stop.is_set():
                for name, token in (("valid", valid), ("revoked", dead)):
                    headers = {"Authorization": f"Bearer {token}"}
                    assert stack.verifier is not None
                    # As a proxy route for mcp-a calls it.
                    answer = own.get(
                        f"{stack.verifier.url}/verify",
                        params={"resource": RESOURCE_A},
                        headers=headers,
                    )
                    seen[name].add(answer.status_code)

    with cf.ThreadPoolExecutor(2) as pool:
        loops = [pool.submit(verify_loop) for _ in range(2)]
        time.sleep(0.3)
        stack.redis.stop()
        time.sleep(0.5)
        outage = stack.verify(valid)
        assert outage.status_code == 503 and outage.headers.get("retry-after")
        assert stack.verify(dead).status_code == 503  # cannot tell: never 200, never 401
        for issuer in stack.issuers:
            assert_json_503(
                http.post(
                    f"{issuer.url}/register", json={"redirect_uris": ["https://a.example.com/cb"]}
                )
            )
            assert_json_503(flows.refresh(http, issuer.url, client, tokens["refresh_token"]))
            health = http.get(f"{issuer.url}/health")
            assert health.status_code == 503 and health.json()["status"] == "unhealthy"
        assert stack.verifier is not None
        assert http.get(f"{stack.verifier.url}/health").status_code == 503
        stack.redis.start()
        verifier_s = wait_until(lambda: stack.verify(valid).status_code == 200)
        issuer_s = wait_until(
            lambda: all(http.get(f"{i.url}/health").status_code == 200 for i in stack.issuers)
        )
        time.sleep(0.3)
        stop.set()
        for loop in loops:
            loop.result()
    print(f"recovery: verifier {verifier_s:.2f}s, issuers {issuer_s:.2f}s")
    assert seen["valid"] <= {200, 503} and 503 in seen["valid"], seen
    assert seen["revoked"] <= {401, 503}, seen
    assert stack.verify(dead).status_code == 401
    assert flows.refresh(http, stack.issuer_url, client, tokens["refresh_token"]).status_code == 200
    assert [p.process.pid for p in (*stack.issuers, stack.verifier) if p and p.process] == pids


def test_aof_restart_keeps_every_client_and_token_and_no_revocation_is_undone(
    redis_up: Stack, http: httpx.Client
) -> None:
    stack = redis_up
    url = stack.issuer_url
    clients = [flows.register(http, url, public=i % 2 == 0) for i in range(4)]
    logins = [flows.login(http, url, c, resources=[RESOURCE_A]) for c in clients]
    # Revocations of every kind: an access token, a whole grant (refresh token), a client.
    extra = flows.login(http, url, clients[0], resources=[RESOURCE_A])
    flows.revoke(http, url, clients[0], extra["access_token"])
    killed_grant = flows.login(http, url, clients[1], resources=[RESOURCE_A])
    flows.revoke(http, url, clients[1], killed_grant["refresh_token"])
    doomed = flows.register(http, url)
    doomed_tokens = flows.login(http, url, doomed, resources=[RESOURCE_A])
    bearer = {"Authorization": f"Bearer {doomed.registration_access_token}"}
    assert http.delete(f"{url}/register/{doomed.client_id}", headers=bearer).status_code == 204
    dead_access = [
        extra["access_token"],
        killed_grant["access_token"],
        doomed_tokens["access_token"],
    ]

    def counts() -> dict[str, int]:
        redis = stack.redis.client()
        try:
            return {
                kind: sum(1 for _ in redis.scan_iter(f"oauth:{kind}:*", count=1000))
                for kind in ("client", "grant", "token")
            }
        finally:
            redis.close()

    before = counts()
    stack.redis.kill()  # SIGKILL: no shutdown save, only the AOF (appendfsync always)
    stack.redis.start()
    assert counts() == before
    wait_until(lambda: stack.verify(logins[0]["access_token"]).status_code == 200)
    for client, tokens in zip(clients, logins, strict=True):
        info = http.get(
            f"{url}/register/{client.client_id}",
            headers={"Authorization": f"Bearer {client.registration_access_token}"},
        )
        assert info.status_code == 200
        assert stack.verify(tokens["access_token"]).status_code == 200
    for token in dead_access:
        assert stack.verify(token).status_code == 401
    for client, token in ((clients[1], killed_grant), (doomed, doomed_tokens)):
        assert flows.refresh(http, url, client, token["refresh_token"]).status_code in (400, 401)
    assert http.get(f"{url}/register/{doomed.client_id}", headers=bearer).status_code == 401
    for client, tokens in zip(clients, logins, strict=True):
        assert flows.refresh(http, url, client, tokens["refresh_token"]).status_code == 200


def test_a_flow_started_on_one_replica_finishes_on_the_other(
    redis_up: Stack, http: httpx.Client
) -> None:
    a, b = redis_up.issuers[0], redis_up.issuers[1]
    client = flows.register(http, a.url)
    pkce = new_pkce()
    browser = Browser(a.url, issuer=http, github=http)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
    }
    page = browser.get(browser.authorize_url(params, [RESOURCE_A]))
    to_github = browser.consent(page)  # consent on A
    callback = standin_login(http, to_github.headers["location"], "octocat")
    on_b = browser.get(callback.replace(a.url, b.url, 1))  # callback on B
    assert on_b.status_code == 302
    query = dict(parse_qsl(urlsplit(on_b.headers["location"]).query))
    assert query["state"] == "xyz" and query["iss"] == redis_up.issuer_url
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": client.redirect_uri,
        "code_verifier": pkce.verifier,
    }
    tokens = flows.token_request(http, b.url, client, form)  # token on B
    assert tokens.status_code == 200, tokens.text
    assert redis_up.verify(tokens.json()["access_token"]).status_code == 200
    # ... and the refresh token works on A again.
    assert flows.refresh(http, a.url, client, tokens.json()["refresh_token"]).status_code == 200


def test_replicas_generating_the_first_key_together_end_with_one_key(
    redis_url: str, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    replicas = [
        ServiceProcess(
            python_module("authgate_issuer", "--host", "127.0.0.1", "--port", "{port}"),
            issuer_env(redis_url, keys),
            tmp_path / f"issuer{i}.log",
        )
        for i in range(3)
    ]
    try:
        with cf.ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda r: r.start(timeout=90, expect_healthy=True), replicas))
        kids = [{k["kid"] for k in httpx.get(f"{r.url}/jwks").json()["keys"]} for r in replicas]
    finally:
        for replica in replicas:
            replica.stop()
    assert len(list(keys.glob("*.pem"))) == 1
    assert kids[0] == kids[1] == kids[2] and len(kids[0]) == 1


@pytest.mark.parametrize(
    ("token_fault", "user_fault"),
    # 500s and malformed JSON map to temporarily_unavailable in
    # services/issuer/tests/test_callback.py::test_github_failures_redirect_never_500; here the
    # timeouts, through real processes: bounded wait and a worker that keeps serving.
    [("slow", "none"), ("none", "slow")],
)
def test_a_slow_github_gives_temporarily_unavailable_within_the_timeout(
    redis_up: Stack, http: httpx.Client, token_fault: str, user_fault: str
) -> None:
    stack = redis_up
    client = flows.register(http, stack.issuer_url)
    stack.standin.set_faults(token=token_fault, user=user_fault, delay=GITHUB_TIMEOUT_S * 4)
    with cf.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        flow = pool.submit(
            Browser(stack.issuer_url, issuer=httpx.Client(timeout=30), github=http).run,
            client.client_id,
            client.redirect_uri,
            new_pkce(),
        )
        # While a worker waits on GitHub, the issuer keeps answering others (no hung worker).
        time.sleep(0.3)
        health = http.get(f"{stack.issuer_url}/health", timeout=1.0)
        assert health.status_code == 200
        result = flow.result(timeout=30)
        elapsed = time.monotonic() - started
    assert result.params.get("error") == "temporarily_unavailable", result.location
    assert result.params["state"] == "client-state" and result.params["iss"] == stack.issuer_url
    assert result.location.startswith(client.redirect_uri)
    assert elapsed < GITHUB_TIMEOUT_S * 2 + 3, elapsed  # bounded by GITHUB_TIMEOUT_MS per call
    stack.standin.set_faults()
    assert (
        "code"
        in Browser(stack.issuer_url, issuer=http, github=http)
        .run(client.client_id, client.redirect_uri, new_pkce())
        .params
    )


def test_sigterm_under_load_finishes_in_flight_requests_without_resets(
    redis_up: Stack, http: httpx.Client
) -> None:
    stack = redis_up
    replica = stack.start_issuer()
    client = flows.register(http, replica.url)
    # An in-flight request that takes ~1 s: a callback waiting on a slow GitHub /user.
    stack.standin.set_faults(user="slow", delay=1.0)
    pkce = new_pkce()
    browser = Browser(replica.url, issuer=httpx.Client(timeout=30), github=http)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    to_github = browser.consent(browser.get(browser.authorize_url(params, [RESOURCE_A])))
    callback = standin_login(http, to_github.headers["location"], "octocat")
    outcomes: list[str] = []
    stop = threading.Event()

    def load() -> None:
        # One connection per request: a refused connection after shutdown is expected, a reset
        # of an accepted one is not.
        while not stop.is_set():
            try:
                answer = httpx.get(f"{replica.url}/jwks", timeout=5)
                outcomes.append(str(answer.status_code))
            except httpx.ConnectError:
                outcomes.append("refused")
            except httpx.HTTPError as exc:
                outcomes.append(type(exc).__name__)

    try:
        with cf.ThreadPoolExecutor(4) as pool:
            loaders = [pool.submit(load) for _ in range(3)]
            in_flight = pool.submit(browser.get, callback.replace(stack.issuer_url, replica.url, 1))
            time.sleep(0.4)
            assert replica.process is not None
            replica.process.send_signal(signal.SIGTERM)
            answer = in_flight.result(timeout=20)
            stop.set()
            for loader in loaders:
                loader.result()
        # It exits by itself once in-flight work is done (uvicorn re-raises the SIGTERM).
        assert replica.process.wait(timeout=25) in (0, -signal.SIGTERM)
    finally:
        stop.set()
        replica.stop()
        stack.issuers.remove(replica)
    assert answer.status_code == 302 and "code=" in answer.headers["location"]
    assert set(outcomes) <= {"200", "refused"}, sorted(set(outcomes))
    assert "200" in outcomes
