"""A real OpenID Provider for tests: panva's ``oidc-provider`` (``devstack/oidc_op``) on
loopback over plain http, with the users and clients a test gives it.

    op = start_oidc_provider(tmp_path, users={"alice": {"email": "alice@example.com",
                             "preferred_username": "alice", "groups": ["eng"]}},
                             redirect_uris=["http://127.0.0.1:9/callback"])
    op.issuer, op.client_id, op.client_secret
    op.key_client_id, op.client_key                       # a private_key_jwt client (EC P-256)
    location = op.sign_in(http, authorize_url, "alice")   # the redirect back, with code/state/iss
    new_kid = op.rotate_keys()                            # new signing key first in the JWKS
    op.forge({...claims}, kid=op.kid)                     # an ID token signed with the OP's key
    op.stop()

The signing keys are made here, so a test can also sign tokens the provider never would
(expired, another audience, another nonce) with the provider's own key.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .npm_tools import node_binary, node_env, package_file
from .service import ServiceProcess

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "devstack" / "oidc_op" / "server.mjs"
CLIENT_ID = "authgate"
OTHER_CLIENT_ID = "other-app"
KEY_CLIENT_ID = "authgate-pkjwt"
_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
_PROMPT = re.compile(r'name="prompt" value="([a-z]+)"')


def new_signing_key() -> tuple[str, rsa.RSAPrivateKey]:
    """A fresh RS256 key and its ``kid``."""
    return f"k-{secrets.token_hex(4)}", rsa.generate_private_key(65537, 2048)


def private_jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


class OidcProvider(ServiceProcess):
    def __init__(
        self,
        log_dir: Path,
        *,
        users: Mapping[str, Mapping[str, Any]],
        redirect_uris: Sequence[str],
        port: int | None = None,
    ) -> None:
        super().__init__(
            [
                node_binary(),
                str(SERVER),
                str(log_dir / "oidc-op.json"),
                str(package_file("oidc-provider", "lib/index.js")),
            ],
            node_env(),
            log_dir / "oidc-op.log",
            port=port,
            health_path="/_op/health",
        )
        self.client_id = CLIENT_ID
        self.client_secret = secrets.token_urlsafe(24)
        self.other_client_secret = secrets.token_urlsafe(24)
        self.keys = [new_signing_key()]
        self.key_client_id = KEY_CLIENT_ID
        self.client_key = ec.generate_private_key(ec.SECP256R1())
        code_flow: dict[str, Any] = {
            "redirect_uris": list(redirect_uris),
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }
        clients: list[dict[str, Any]] = [
            {
                **code_flow,
                "client_id": client_id,
                "client_secret": secret,
                "token_endpoint_auth_method": "client_secret_basic",
            }
            for client_id, secret in (
                (CLIENT_ID, self.client_secret),
                (OTHER_CLIENT_ID, self.other_client_secret),
            )
        ]
        public: dict[str, Any] = ECAlgorithm.to_jwk(self.client_key.public_key(), as_dict=True)
        clients.append(
            {
                **code_flow,
                "client_id": KEY_CLIENT_ID,
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [{**public, "kid": "client-1", "alg": "ES256", "use": "sig"}]},
            }
        )
        config = {
            "port": self.port,
            "issuer": self.issuer,
            "cookie_keys": [secrets.token_urlsafe(24)],
            "keys": self.jwks(),
            "clients": clients,
            "users": {name: dict(claims) for name, claims in users.items()},
        }
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / "oidc-op.json").write_bytes(orjson.dumps(config))

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def kid(self) -> str:
        """The key the provider signs with now."""
        return self.keys[0][0]

    def jwks(self) -> dict[str, Any]:
        """The private JWK Set the provider holds (it publishes the public halves)."""
        return {"keys": [private_jwk(kid, key) for kid, key in self.keys]}

    def rotate_keys(self) -> str:
        """A key rollover: a new key first (the provider signs with it from now on), the old one
        still published; the new ``kid``."""
        self.keys.insert(0, new_signing_key())
        answer = httpx.post(f"{self.url}/_op/keys", content=orjson.dumps(self.jwks()), timeout=10)
        answer.raise_for_status()
        return self.kid

    def forge(self, claims: Mapping[str, Any], *, kid: str | None = None) -> str:
        """An RS256 JWT signed with one of the provider's keys (the current one by default)."""
        chosen = kid or self.kid
        key = dict(self.keys)[chosen]
        return jwt.encode(dict(claims), key, algorithm="RS256", headers={"kid": chosen})

    def sign_in(self, http: httpx.Client, authorize_url: str, user: str) -> str:
        """Do what a user does on the provider's login and consent pages; the redirect back to
        the client (its callback URL with ``code``, ``state`` and ``iss``, or an error)."""
        answer = http.get(authorize_url)
        for _ in range(12):
            if answer.is_redirect:
                location = urljoin(str(answer.url), answer.headers["location"])
                if not location.startswith(self.url + "/"):
                    return location
                answer = http.get(location)
                continue
            assert answer.status_code == 200, answer.text
            action, prompt = _FORM_ACTION.search(answer.text), _PROMPT.search(answer.text)
            assert action and prompt, answer.text
            form = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                form.update(login=user, password="any")  # dev interactions take any password
            answer = http.post(urljoin(str(answer.url), action.group(1)), data=form)
        raise AssertionError("the provider's sign-in did not redirect back")


def start_oidc_provider(log_dir: Path, **kwargs: Any) -> OidcProvider:
    """Start the provider (keyword arguments as for ``OidcProvider``) and wait until it answers."""
    provider = OidcProvider(log_dir, **kwargs)
    provider.start(expect_healthy=True)
    return provider
