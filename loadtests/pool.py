"""The token pool of VerifierUser and IntrospectionUser, minted through the issuer's real flow.

Every token comes from a complete authorization code flow with PKCE through the dev login
(``testsupport.flows``: POST /register, /authorize, consent, the GitHub stand-in, /callback,
/token), never from a copy of the signing code. Kinds:

* ``valid``: for the service the requests go to;
* ``wrong_service``: a live token for another service (RFC 8707 audience);
* ``revoked``: revoked at /revoke right after minting;
* ``expired``: minted by an issuer whose ACCESS_TOKEN_LIFETIME is a few seconds (optional).

The pool is a JSON file, so a deployment without dev login can be load-tested with tokens
obtained elsewhere (see loadtests/README.md for the format).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from authgate_shared.claims import subject
from testsupport import flows

from .checks import EXPIRED, REVOKED, VALID, WRONG_SERVICE


@dataclass(frozen=True)
class PoolToken:
    token: str
    kind: str
    user_id: str | None = None
    """Expected X-User-Id (the token's ``sub``) for valid tokens."""
    client_id: str | None = None


@dataclass
class TokenPool:
    resource: str
    """The service the requests are for: X-Forwarded-Proto/Host come from it."""
    tokens: list[PoolToken] = field(default_factory=list)
    client_id: str | None = None
    client_secret: str | None = None
    """The confidential client that minted the tokens (RFC 7662: only it may introspect them)."""

    def of_kind(self, kind: str) -> list[PoolToken]:
        return [t for t in self.tokens if t.kind == kind]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> TokenPool:
        data = json.loads(path.read_text())
        tokens = [PoolToken(**t) for t in data.pop("tokens")]
        return cls(tokens=tokens, **data)


@dataclass(frozen=True)
class PoolSpec:
    issuer_url: str
    resource: str
    other_resource: str
    counts: dict[str, int]
    users: tuple[str, ...] = ("loadtest-1", "loadtest-2", "loadtest-3")
    short_lived_issuer_url: str | None = None
    """An issuer with a lifetime of a few seconds on the same Redis, for expired tokens."""


def _login(http: httpx.Client, spec: PoolSpec, issuer: str, client: flows.RegisteredClient,
           user: str, resource: str) -> dict[str, object]:  # fmt: skip
    # The browser part runs against ISSUER_URL (its callback); only /token may go elsewhere.
    code, verifier = flows.authorization_code(http, spec.issuer_url, client, user=user,
                                              resources=[resource])  # fmt: skip
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": client.redirect_uri, "code_verifier": verifier}  # fmt: skip
    response = flows.token_request(http, issuer, client, form)
    if response.status_code != 200:
        raise flows.FlowError("token", response)
    body: dict[str, object] = response.json()
    return body


def mint_pool(spec: PoolSpec, timeout: float = 300.0) -> TokenPool:
    """Log in ``sum(counts)`` times; bounded by ``timeout`` seconds overall."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=30) as http:
        client = flows.register(http, spec.issuer_url, name="loadtest pool")
        pool = TokenPool(spec.resource, [], client.client_id, client.client_secret)
        expired_at = 0.0
        for kind, count in spec.counts.items():
            if kind == EXPIRED and spec.short_lived_issuer_url is None:
                continue
            for n in range(count):
                if time.monotonic() > deadline:
                    raise TimeoutError("minting the token pool took too long")
                user = spec.users[n % len(spec.users)]
                resource = spec.other_resource if kind == WRONG_SERVICE else spec.resource
                issuer = spec.issuer_url
                if kind == EXPIRED and spec.short_lived_issuer_url:
                    issuer = spec.short_lived_issuer_url
                body = _login(http, spec, issuer, client, user, resource)
                token = str(body["access_token"])
                if kind == REVOKED:
                    answer = flows.revoke(http, spec.issuer_url, client, token)
                    if answer.status_code != 200:
                        raise flows.FlowError("revoke", answer)
                if kind == EXPIRED:
                    expired_at = time.monotonic() + float(str(body["expires_in"]))
                expected = subject(user) if kind == VALID else None
                pool.tokens.append(PoolToken(token, kind, expected, client.client_id))
        # Let the short-lived tokens expire (their records go with them) before anyone uses them.
        time.sleep(max(0.0, expired_at - time.monotonic() + 1.0))
    return pool
