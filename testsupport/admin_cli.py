"""Running the ``authgate`` admin CLI in tests, and making real data for it to work on.

``run`` calls the CLI in-process (fast; its environment passed explicitly), ``run_process`` runs
``python -m authgate_issuer.admin`` as a real subprocess. Data comes from the issuer's own code
paths: POST /register, an authorization code redeemed at POST /token, refreshes at /token.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
import redis
from fastapi.testclient import TestClient

from authgate_issuer.admin.__main__ import main
from authgate_issuer.app import create_app
from authgate_issuer.oauth.issuance import TokenResponse, start_grant
from authgate_issuer.settings import IssuerSettings
from authgate_issuer.store import grants

from .issuer_ctx import issuer_context
from .token_clients import RESOURCE, Credentials, auth, code_form, issue_code

REDIRECT_URI = "http://127.0.0.1:8765/callback"


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return orjson.loads(self.out)


def admin_env(redis_url: str, keys_dir: Path, **overrides: str) -> dict[str, str]:
    """What the CLI needs; deliberately no GitHub or issuer URL variables."""
    return {"REDIS_URL": redis_url, "KEYS_DIR": str(keys_dir), **overrides}


def run(env: Mapping[str, str], *args: str) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args), environ=env)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


def run_process(env: Mapping[str, str], *args: str, cwd: Path | None = None) -> CliResult:
    done = subprocess.run(
        [sys.executable, "-m", "authgate_issuer.admin", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Registered:
    client_id: str
    secret: str | None
    registration_token: str

    @property
    def credentials(self) -> Credentials:
        method = "none" if self.secret is None else "client_secret_basic"
        return Credentials(self.client_id, self.secret, method)


def register(client: TestClient, name: str, *, public: bool = False) -> Registered:
    body: dict[str, Any] = {
        "client_name": name,
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
    }
    if public:
        body["token_endpoint_auth_method"] = "none"
    response = client.post("/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return Registered(
        data["client_id"], data.get("client_secret"), data["registration_access_token"]
    )


def login(
    client: TestClient, settings: IssuerSettings, reg: Registered, username: str = "octocat"
) -> dict[str, Any]:
    """A token response for ``username``, through an authorization code redeemed at /token."""
    code = issue_code(settings, reg.client_id, username=username)
    headers, fields = auth(reg.credentials)
    response = client.post("/token", data={**code_form(code), **fields}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(client: TestClient, reg: Registered, refresh_token: str) -> Any:
    headers, fields = auth(reg.credentials)
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, **fields}
    return client.post("/token", data=form, headers=headers)


def make_grant(
    settings: IssuerSettings, client_id: str, user: str, *, age: int = 0, revoke: bool = False
) -> TokenResponse:
    """A grant made ``age`` seconds ago through the issuer's ``start_grant`` (no client check:
    it may name a client that no longer exists), optionally revoked since."""

    async def go() -> TokenResponse:
        then = time.time() - age
        async with issuer_context(settings, clock=lambda: then) as ctx:
            minted = await start_grant(
                ctx, client_id=client_id, username=user, github_id="1", scope="mcp:*", resources=[RESOURCE]
            )
            if revoke:
                await grants.revoke_grant(ctx.redis, minted.grant_id)
            return minted

    return asyncio.run(go())


@contextlib.contextmanager
def open_app(settings: IssuerSettings) -> Iterator[TestClient]:
    """The issuer app in-process on ``settings`` (lifespan run)."""
    with TestClient(create_app(settings), base_url="https://auth.example.com") as client:
        yield client


def jti_of(access_token: str) -> str:
    """The jti claim, read without verification (tests compare it with Redis and pub/sub)."""
    return str(jwt.decode(access_token, options={"verify_signature": False})["jti"])


def drain(pubsub: redis.client.PubSub, wait: float = 0.5) -> list[str]:
    """Every message received on a subscribed PubSub until ``wait`` seconds pass quietly."""
    messages: list[str] = []
    while (message := pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)) is not None:
        messages.append(message["data"].decode())
    return messages
