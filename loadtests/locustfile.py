"""Locust users for Authgate's real traffic shapes (``python -m loadtests.run`` runs them).

Every answer is checked for correctness (``loadtests.checks``), not only for its status: a
revoked token answered 200 or a 200 without X-User-Id is a failure. Targets and proportions are
locust options, each also settable as a LOADTEST_* environment variable (loadtests/README.md).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from locust import FastHttpUser, between, events, task
from locust.env import Environment

from loadtests import checks
from loadtests.flow_client import CheckFailed, TimedClient
from loadtests.options import add_options, weights
from loadtests.pool import PoolToken, TokenPool
from testsupport import flows

POOL: TokenPool | None = None
REGISTRATION = {
    "redirect_uris": ["http://127.0.0.1:33418/callback"],
    "client_name": "loadtest client",
    "grant_types": ["authorization_code", "refresh_token"],
}


def _options(parser: Any) -> None:
    add_options(parser)


def _targets(environment: Environment, **_: Any) -> None:
    """Each user class talks to its own service; locust's --host would override them all."""
    global POOL
    opts = environment.parsed_options
    if opts is None:
        return
    VerifierUser.host = opts.proxy_url or opts.verifier_url
    for user in (RegistrationUser, FlowUser, IntrospectionUser):
        user.host = opts.issuer_url
    if opts.token_pool:
        POOL = TokenPool.load(Path(opts.token_pool))
    for every in (VerifierUser, RegistrationUser, FlowUser, IntrospectionUser):
        every.wait_time = between(opts.wait_min, opts.wait_max)


events.init_command_line_parser.add_listener(_options)  # type: ignore[no-untyped-call]
events.init.add_listener(_targets)  # type: ignore[no-untyped-call]


def _headers(response: Any) -> dict[str, str]:
    """Lower-cased response headers (geventhttpclient's mapping yields (name, value) pairs)."""
    return {k.lower(): v for k, v in (response.headers or {}).items()}


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _pool() -> TokenPool:
    if POOL is None:
        raise RuntimeError("no token pool: pass --token-pool (python -m loadtests.run makes one)")
    return POOL


class VerifierUser(FastHttpUser):
    """ForwardAuth decisions, as a proxy asks them (or through the proxy itself)."""

    weight = 10

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        pool = _pool()
        self.proxied = bool(opts.proxy_url)
        # Direct calls name the resource as a proxy route's auth address does.
        bound = "/verify?" + urlencode({"resource": pool.resource})
        self.path = opts.proxy_path if self.proxied else bound
        self.kinds = weights(opts, {k: bool(pool.of_kind(k)) for k in checks.KINDS})
        parts = urlsplit(pool.resource)
        self.forwarded = {
            "X-Forwarded-Proto": parts.scheme,
            "X-Forwarded-Host": parts.netloc,
            "X-Forwarded-Uri": "/mcp",
            "X-Forwarded-Method": "POST",
        }

    @task
    def verify(self) -> None:
        kind = random.choices(list(self.kinds), weights=list(self.kinds.values()))[0]
        token: PoolToken = random.choice(_pool().of_kind(kind))
        headers = {"Authorization": f"Bearer {token.token}"}
        if not self.proxied:
            headers.update(self.forwarded)
        name = f"{'proxy' if self.proxied else '/verify'} [{kind}]"
        with self.client.get(self.path, headers=headers, name=name, catch_response=True) as r:
            got = _headers(r)
            if self.proxied:
                problem = checks.check_proxied(kind, r.status_code, got)
            else:
                problem = checks.check_verify(kind, r.status_code, got, token.user_id)
            if problem:
                r.failure(problem)
            else:
                r.success()


class RegistrationUser(FastHttpUser):
    """RFC 7591 registration, then RFC 7592 read, update (token rotation), delete."""

    weight = 1

    def _check(self, r: Any, problem: str | None) -> None:
        if problem:
            r.failure(problem)
        else:
            r.success()

    @task
    def lifecycle(self) -> None:
        with self.client.post("/register", json=REGISTRATION, catch_response=True) as r:
            data = _json(r)
            self._check(r, checks.check_registered(r.status_code, _headers(r), data))
        if not isinstance(data, dict) or "registration_client_uri" not in data:
            return
        path, cid = urlsplit(data["registration_client_uri"]).path, data["client_id"]
        old = {"Authorization": f"Bearer {data['registration_access_token']}"}
        with self.client.get(
            path, headers=old, name="/register/{id} GET", catch_response=True
        ) as r:
            self._check(r, checks.check_client_read(r.status_code, _json(r), cid))
        update = {**REGISTRATION, "client_id": cid, "client_secret": data.get("client_secret")}
        update["client_name"] = "loadtest client (updated)"
        with self.client.put(path, json=update, headers=old, name="/register/{id} PUT", catch_response=True) as r:  # fmt: skip
            new_token = (_json(r) or {}).get("registration_access_token")
            ok = (
                r.status_code == 200
                and new_token
                and new_token != data["registration_access_token"]
            )
            self._check(r, None if ok else f"update answered {r.status_code} without a new token")
        with self.client.get(path, headers=old, name="/register/{id} GET old token", catch_response=True) as r:  # fmt: skip
            self._check(
                r, None if r.status_code == 401 else f"rotated token answered {r.status_code}"
            )
        new = {"Authorization": f"Bearer {new_token}"}
        with self.client.delete(path, headers=new, name="/register/{id} DELETE", catch_response=True) as r:  # fmt: skip
            self._check(r, None if r.status_code == 204 else f"delete answered {r.status_code}")


class IntrospectionUser(FastHttpUser):
    """RFC 7662 introspection of pool tokens by the client that minted them."""

    weight = 2

    def on_start(self) -> None:
        pool = _pool()
        self.auth = (pool.client_id or "", pool.client_secret or "")

    @task
    def introspect(self) -> None:
        token = random.choice(_pool().tokens)
        expected = {"client_id": token.client_id or ""}
        if token.user_id:
            expected["sub"] = token.user_id
        name = f"/introspect [{token.kind}]"
        form = {"token": token.token}
        with self.client.post("/introspect", data=form, auth=self.auth, name=name, catch_response=True) as r:  # fmt: skip
            problem = checks.check_introspection(token.kind, r.status_code, _json(r), expected)
            if problem:
                r.failure(problem)
            else:
                r.success()


class FlowUser(FastHttpUser):
    """An MCP client's life: register, log in (PKCE, dev login), refresh a few times, revoke."""

    weight = 1

    def on_start(self) -> None:
        self.http = TimedClient(self.environment, timeout=30)

    def on_stop(self) -> None:
        self.http.close()

    @task
    def whole_flow(self) -> None:
        opts, issuer = self.environment.parsed_options, self.host or ""
        started = time.perf_counter()
        try:
            client = flows.register(self.http, issuer, name="loadtest flow")
            body = flows.login(self.http, issuer, client, user=f"flow-{random.randrange(100)}",
                               resources=[_pool().resource])  # fmt: skip
            refresh = str(body["refresh_token"])
            for _ in range(opts.flow_refreshes):
                answer = flows.refresh(self.http, issuer, client, refresh)
                self.http.expect("refresh", checks.check_token_response(answer.status_code, _json(answer), refresh))  # fmt: skip
                refresh = str(answer.json()["refresh_token"])
            revoked = flows.revoke(self.http, issuer, client, refresh)
            self.http.expect("revoke", None if revoked.status_code == 200 else f"revoke answered {revoked.status_code}")  # fmt: skip
            after = flows.refresh(self.http, issuer, client, refresh)
            self.http.expect("refresh after revoke", checks.check_refused_grant(after.status_code, _json(after)))  # fmt: skip
        except CheckFailed:
            return  # already reported by expect()
        except (flows.FlowError, AssertionError, KeyError, httpx.HTTPError) as exc:
            self.http.expect("flow", f"{type(exc).__name__}: {exc}")
            return
        self.http.record("flow (complete)", started)
