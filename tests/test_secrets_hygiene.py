"""No credential in clear in the logs or in Redis.

One stack (issuer at LOG_LEVEL=DEBUG) runs everything a client does, including the failure paths
that tend to log request details: registration, RFC 7592 read/update/delete, the browser flow,
code exchange and replay, refresh and refresh reuse, introspection, revocation, wrong secrets.
Then the issuer's and verifier's output (stdout + stderr of the processes) and every key and
value in Redis are searched for each secret handed out: client secrets, registration access
tokens, authorization codes, access tokens (the signature part suffices to find one), refresh
tokens (their secret part; the grant id before the dot is an identifier) and PKCE verifiers.
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from testsupport import admin_cli, flows
from testsupport.admin_cli import admin_env
from testsupport.stack import RESOURCE_A, Stack, StackOptions, running_stack

UPSTREAM_KEYS = "k1:" + base64.b64encode(bytes(range(32))).decode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # UPSTREAM_TOKEN_KEYS: the users' GitHub tokens are kept (sealed) and handed out by token
    # exchange, so the run covers them too.
    issuer_env = {"LOG_LEVEL": "DEBUG", "UPSTREAM_TOKEN_KEYS": UPSTREAM_KEYS}
    options = StackOptions(issuer_env=issuer_env, verifier_env={"LOG_LEVEL": "DEBUG"})
    with running_stack(tmp_path_factory.mktemp("secrets"), options) as running:
        yield running


def exchanged(stack: Stack, http: httpx.Client, access_token: str) -> tuple[str, str]:
    """(exchanger client secret, the user's GitHub token) from an RFC 8693 exchange."""
    env = admin_env(stack.redis_url, Path(stack.env["KEYS_DIR"]))
    created = admin_cli.run(env, "clients", "create-exchanger", "--name", "mcp", "--resource",
                            RESOURCE_A, "--json")  # fmt: skip
    assert created.code == 0, created.err
    exchanger = created.json()
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": access_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
    }
    credentials = (exchanger["client_id"], exchanger["client_secret"])
    answer = http.post(f"{stack.issuer_url}/token", data=form, auth=credentials)
    assert answer.status_code == 200, answer.text
    wrong = http.post(f"{stack.issuer_url}/token", data=form, auth=(credentials[0], "x"))
    assert wrong.status_code == 401
    return exchanger["client_secret"], answer.json()["access_token"]


def secret_parts(kind: str, value: str) -> list[str]:
    if kind == "access_token":
        return [value, value.rsplit(".", 1)[1]]
    if kind == "refresh_token":
        return [value.partition(".")[2]]
    return [value]


def exercise(stack: Stack, http: httpx.Client) -> dict[str, list[str]]:
    """Run every flow, the failing ones included; the secrets handed out, by kind."""
    url = stack.issuer_url
    secrets: dict[str, list[str]] = {}

    def keep(kind: str, value: str | None) -> None:
        if value:
            secrets.setdefault(kind, []).append(value)

    confidential = flows.register(http, url)
    public = flows.register(http, url, public=True)
    for client in (confidential, public):
        keep("client_secret", client.client_secret)
        keep("registration_access_token", client.registration_access_token)
        code, verifier = flows.authorization_code(http, url, client, resources=[RESOURCE_A])
        keep("code", code)
        keep("code_verifier", verifier)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
        }
        first = flows.token_request(http, url, client, form).json()
        second = flows.refresh(http, url, client, first["refresh_token"]).json()
        assert flows.refresh(http, url, client, first["refresh_token"]).status_code == 400  # reuse
        assert flows.token_request(http, url, client, form).status_code == 400  # code replay
        third = flows.login(http, url, client, resources=[RESOURCE_A])
        for tokens in (first, second, third):
            keep("access_token", tokens["access_token"])
            keep("refresh_token", tokens["refresh_token"])
        assert flows.introspect(http, url, client, third["access_token"])["active"]
        exchanger_secret, github_token = exchanged(stack, http, third["access_token"])
        keep("client_secret", exchanger_secret)
        keep("github_token", github_token)
        assert stack.verify(third["access_token"]).status_code == 200
        flows.revoke(http, url, client, third["access_token"])
        assert stack.verify(third["access_token"]).status_code == 401
        flows.revoke(http, url, client, third["refresh_token"])
    # Failures that carry credentials: wrong secret, secrets in the wrong place.
    assert confidential.client_secret is not None
    wrong = flows.RegisteredClient(confidential.client_id, confidential.client_secret + "x", "")
    assert flows.refresh(http, url, wrong, "x.y").status_code == 401
    post = {"client_id": confidential.client_id, "client_secret": confidential.client_secret}
    assert http.post(f"{url}/token", data={**post, "grant_type": "password"}).status_code in (
        400,
        401,
    )
    rat = {"Authorization": f"Bearer {confidential.registration_access_token}"}
    config = f"{url}/register/{confidential.client_id}"
    info = http.get(config, headers=rat).json()
    update = {k: v for k, v in info.items() if k not in ("registration_client_uri",)}
    updated = http.put(config, headers=rat, json={**update, "client_name": "renamed"})
    assert updated.status_code == 200, updated.text
    keep("registration_access_token", updated.json().get("registration_access_token"))
    keep("client_secret", updated.json().get("client_secret"))
    assert http.get(config, headers=rat).status_code in (200, 401)
    new_rat = secrets["registration_access_token"][-1]
    assert http.delete(config, headers={"Authorization": f"Bearer {new_rat}"}).status_code == 204
    return secrets


def redis_dump(stack: Stack) -> bytes:
    """Every key and every value in Redis, concatenated."""
    client: redis.Redis = stack.redis.client()
    chunks: list[bytes] = []
    try:
        for key in client.scan_iter(count=1000):
            chunks.append(key)
            kind = client.type(key)
            if kind == b"string":
                chunks.append(client.get(key) or b"")
            elif kind == b"hash":
                for field, value in client.hgetall(key).items():
                    chunks += [field, value]
            elif kind == b"set":
                chunks += list(client.smembers(key))
            elif kind == b"zset":
                chunks += [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
            elif kind == b"list":
                chunks += list(client.lrange(key, 0, -1))
            else:
                raise AssertionError(f"unexpected Redis type {kind!r} of {key!r}")
    finally:
        client.close()
    return b"\n".join(chunks)


END = b"secrets-hygiene-end"


@contextlib.contextmanager
def redis_monitor(stack: Stack) -> Iterator[list[bytes]]:
    """Every command Redis executes meanwhile (MONITOR: arguments included, Lua calls too), so
    values written and deleted again during the flow are searched as well."""
    lines: list[bytes] = []
    client: redis.Redis = stack.redis.client()
    monitor = client.monitor()
    monitor.__enter__()

    def read() -> None:
        while True:
            line = monitor.connection.read_response()
            lines.append(line)
            if END in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield lines
    finally:
        client.echo(END)
        reader.join(timeout=10)
        monitor.__exit__()
        client.close()


def test_no_secret_in_logs_or_in_redis(stack: Stack) -> None:
    with httpx.Client(timeout=10) as http, redis_monitor(stack) as commands:
        secrets = exercise(stack, http)
    assert {"client_secret", "registration_access_token", "code", "access_token"} <= set(secrets)
    assert "github_token" in secrets
    logs = "\n".join(p.logs() for p in (*stack.issuers, stack.verifier) if p is not None)
    # The issuer did log the flow (JSON events), so searching the logs means something.
    assert '"event": "code_issued"' in logs or '"event":"code_issued"' in logs
    stored = b"\n".join(commands) + redis_dump(stack)
    assert b"oauth:client:" in stored and b"oauth:grant:" in stored
    for kind, values in secrets.items():
        for value in values:
            for part in secret_parts(kind, value):
                assert part not in logs, f"a {kind} appears in the logs"
                assert part.encode() not in stored, f"a {kind} is stored in clear in Redis"
