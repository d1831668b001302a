"""The whole flow over real HTTP: register → authorize → consent → GitHub stand-in → callback
→ token → refresh → revoke → introspect, against real issuer and stand-in processes."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import redis

from authgate_shared import redis_keys
from testsupport.browser_flow import Browser, new_pkce
from testsupport.github_standin import start_standin
from testsupport.issuer import start_issuer

REDIRECT_URI = "http://127.0.0.1:8765/callback"
RESOURCE = "https://mcp.example.com/server"


def test_register_authorize_token_refresh_revoke_introspect(
    env: dict[str, str], tmp_path: Path, redis_client: redis.Redis
) -> None:
    standin = start_standin(tmp_path / "standin")
    issuer = start_issuer({**env, **standin.issuer_env()}, tmp_path, issuer_url_from_port=True)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(redis_keys.REVOCATION_CHANNEL)
    try:
        http = httpx.Client(base_url=issuer.url, timeout=30)
        registered = http.post(
            "/register",
            json={
                "redirect_uris": [REDIRECT_URI],
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code", "refresh_token"],
                "client_name": "e2e",
            },
        )
        assert registered.status_code == 201, registered.text
        client_id = registered.json()["client_id"]
        basic = (client_id, registered.json()["client_secret"])

        pkce = new_pkce()
        result = Browser(issuer.url).run(
            client_id, REDIRECT_URI, pkce, login="OctoCat", resources=[RESOURCE]
        )
        assert result.params["iss"] == issuer.url
        assert result.params["state"] == "client-state"

        form = {
            "grant_type": "authorization_code",
            "code": result.code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": pkce.verifier,
        }
        first = http.post("/token", data=form, auth=basic)
        assert first.status_code == 200, first.text
        assert first.headers["cache-control"] == "no-store"
        tokens = first.json()
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        # The service the endpoint URL belongs to (ALLOWED_RESOURCES=https://*.example.com).
        assert claims["aud"] == ["https://mcp.example.com"]
        assert claims["iss"] == issuer.url
        assert claims["github_username"].lower() == "octocat"

        rotated = http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=basic,
        )
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()
        assert new["refresh_token"] != tokens["refresh_token"]

        def active(token: str) -> bool:
            answer = http.post("/introspect", data={"token": token}, auth=basic)
            assert answer.status_code == 200, answer.text
            return bool(answer.json()["active"])

        assert active(new["access_token"]) and active(new["refresh_token"])
        assert not active(tokens["refresh_token"])

        assert pubsub.get_message(timeout=5)["type"] == "subscribe"
        revoked = http.post("/revoke", data={"token": new["refresh_token"]}, auth=basic)
        assert revoked.status_code == 200
        assert not active(new["access_token"])
        assert not active(tokens["access_token"])
        assert not active(new["refresh_token"])
        jtis = {pubsub.get_message(timeout=5)["data"] for _ in range(2)}
        new_jti = jwt.decode(new["access_token"], options={"verify_signature": False})["jti"]
        assert jtis == {claims["jti"].encode(), new_jti.encode()}
    finally:
        pubsub.close()
        issuer.stop()
        standin.stop()
