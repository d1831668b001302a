"""``/token`` requests and checks shared by the token-endpoint tests (in-process TestClient)."""

from __future__ import annotations

from typing import Any

import jwt
import redis
from fastapi.testclient import TestClient

from authgate_shared import claims as jwt_claims
from authgate_shared import redis_keys

from .token_clients import Credentials, auth, code_form


def redeem(client: Any, creds: Credentials, code: str, **extra: str) -> Any:
    headers, fields = auth(creds)
    return client.post("/token", data={**code_form(code, **extra), **fields}, headers=headers)


def refresh(client: Any, creds: Credentials, token: str, **extra: str) -> Any:
    headers, fields = auth(creds)
    form = {"grant_type": "refresh_token", "refresh_token": token, **extra, **fields}
    return client.post("/token", data=form, headers=headers)


def claims_of(client: TestClient, token: str) -> dict[str, Any]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    return jwt_claims.decode(
        token,
        keys=ctx.keys.verification_keys,
        algorithm=ctx.keys.current.algorithm,
        issuer=ctx.settings.issuer_url,
        now=ctx.clock(),
    )


def assert_error(response: Any, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


def live(redis_client: redis.Redis, body: dict[str, Any]) -> bool:
    jti = jwt.decode(body["access_token"], options={"verify_signature": False})["jti"]
    return bool(redis_client.exists(redis_keys.token(jti)))


