"""The local OpenID Provider of ``make run --idp oidc``: panva's certified ``oidc-provider``
(``devstack/oidc_op/server.mjs``, Node 22 from ``.tools/npm``) on loopback, with demo users and
groups, and the issuer settings that sign in through it.

Dev only: plain http on 127.0.0.1 (the issuer allows it with OIDC_ALLOW_INSECURE=true, which it
accepts only for a loopback provider), a login page that takes any password, and a fresh client
secret and signing key at every start (the issuer restarts with them).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .supervisor import Child
from .upstream_demo import private_file

ROOT = Path(__file__).resolve().parents[1]
SERVER = Path(__file__).resolve().parent / "oidc_op" / "server.mjs"
NPM_TOOLS = ROOT / "scripts" / "npm-tools"
MODULES = ROOT / ".tools" / "npm" / "node_modules"
INSTALL_TIMEOUT = 600
CLIENT_ID = "authgate"
HEALTH_PATH = "/_op/health"  # server.mjs's own: 200 once it serves
# Who may sign in by default: the members of this group (ALLOWED_OIDC_GROUPS overrides it).
ALLOWED_GROUP = "mcp-users"
# The demo users and their groups: two admitted by the default rule, one refused.
DEMO_USERS: dict[str, tuple[str, ...]] = {
    "alice": ("mcp-users", "eng"),
    "bob": ("mcp-users",),
    "carol": ("sales",),
}


def user_claims(name: str, groups: tuple[str, ...]) -> dict[str, Any]:
    """What the provider says about a demo user (its ``sub`` is the user's name)."""
    return {
        "preferred_username": name,
        "name": name.title(),
        "email": f"{name}@example.com",
        "email_verified": True,
        "groups": list(groups),
    }


def signing_jwk() -> dict[str, Any]:
    """A fresh RS256 private JWK for the provider's ID tokens."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": f"dev-{secrets.token_hex(4)}", "alg": "RS256", "use": "sig"}


def node_program() -> tuple[Path, Path]:
    """Node 22 and oidc-provider's entry module, installed into ``.tools/npm`` by
    ``scripts/npm-tools`` when missing (a no-op once installed)."""
    try:
        subprocess.run([str(NPM_TOOLS)], check=True, timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        message = f"--idp oidc needs Node 22 and oidc-provider (make npm-tools): {exc}"
        raise RuntimeError(message) from exc
    node, entry = MODULES / ".bin" / "node", MODULES / "oidc-provider" / "lib" / "index.js"
    for path in (node, entry):
        if not path.is_file():
            raise RuntimeError(f"{path} is missing: run make npm-tools")
    return node, entry


def allowed_groups() -> list[str]:
    """The issuer's ALLOWED_OIDC_GROUPS: the caller's, else the demo's group."""
    value = os.environ.get("ALLOWED_OIDC_GROUPS", ALLOWED_GROUP)
    return [group.strip() for group in value.split(",") if group.strip()]


@dataclass(frozen=True)
class LocalProvider:
    issuer: str
    client_secret: str

    def issuer_env(self) -> dict[str, str]:
        """The issuer's login settings: this provider only, admitting ``allowed_groups()``
        (plus whatever ALLOWED_OIDC_USERS / ALLOWED_EMAIL_DOMAINS the caller exports)."""
        return {
            "LOGIN_PROVIDERS": "oidc",
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": self.client_secret,
            "OIDC_ALLOW_INSECURE": "true",
            "ALLOWED_OIDC_GROUPS": ",".join(allowed_groups()),
        }


def banner_lines(issuer: str) -> list[str]:
    users = ", ".join(f"{name} ({', '.join(groups)})" for name, groups in DEMO_USERS.items())
    return [
        f"  OpenID Provider (dev login, any password): {issuer}",
        f"    users: {users}; admitted: ALLOWED_OIDC_GROUPS={','.join(allowed_groups())}",
    ]


def provider_child(port: int, run_dir: Path, callback_url: str) -> tuple[LocalProvider, Child]:
    """The provider's process (the caller sets its readiness check: ``HEALTH_PATH`` answering)
    and what the issuer needs to use it."""
    node, entry = node_program()
    provider = LocalProvider(f"http://127.0.0.1:{port}", secrets.token_urlsafe(32))
    config = {
        "port": port,
        "issuer": provider.issuer,
        "cookie_keys": [secrets.token_urlsafe(32)],
        "keys": {"keys": [signing_jwk()]},
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": provider.client_secret,
                "token_endpoint_auth_method": "client_secret_basic",
                "redirect_uris": [callback_url],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            }
        ],
        "users": {name: user_claims(name, groups) for name, groups in DEMO_USERS.items()},
    }
    state = run_dir / "oidc-op"
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    config_file = state / "config.json"  # holds the client secret and the signing key
    private_file(config_file, json.dumps(config))
    path = os.pathsep.join([str(node.parent), os.environ.get("PATH", "")])
    args = [str(node), str(SERVER), str(config_file.resolve()), str(entry)]
    # Its output (development-mode warnings, sign-ins) goes to .run/logs/oidc.log, as Redis's.
    return provider, Child("oidc", args, env={"PATH": path, "NO_COLOR": "1"}, quiet=True)
