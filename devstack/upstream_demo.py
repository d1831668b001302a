"""What ``make run`` prepares for its GitHub tools demo services (devstack.demo_github_mcp).

Two services behind the gateway call the GitHub stand-in's API as the signed-in user: one by
token exchange (RFC 8693, it asks the issuer itself), one with the upstream token the verifier
injects (policy ``inject_upstream_token``). For that the issuer keeps the user's GitHub token
(``UPSTREAM_TOKEN_KEYS``: a dev key generated once into the run directory, owner-only, never
printed), each exchanging party is an exchanger client (``authgate clients create-exchanger``,
created once and kept in the run directory beside the Redis data it lives in), and a policy file
names the services and marks the injected one.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

KEYS_FILE = "upstream-token-keys"
EXCHANGERS_FILE = "exchangers.json"
POLICY_FILE = "policy.yaml"
EXCHANGE_PATH = "/github"
INJECTED_PATH = "/github-injected"


@dataclass(frozen=True)
class Exchanger:
    client_id: str
    client_secret: str = field(repr=False)


def private_file(path: Path, text: str) -> None:
    """Written owner-only from the start (no moment where others may read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def upstream_token_keys(run_dir: Path) -> str:
    """``UPSTREAM_TOKEN_KEYS`` for this run directory: one AES-256 key, made on first use."""
    path = run_dir / KEYS_FILE
    if not path.exists():
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        private_file(path, f"dev1:{key}\n")
    return path.read_text().strip()


def _admin(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "authgate_issuer.admin", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def exchanger(run_dir: Path, name: str, resource: str, env: Mapping[str, str]) -> Exchanger:
    """The exchanger client ``name`` for ``resource``: the one this run directory made before if
    the issuer's Redis still has it, else a new one (``env``: the CLI's REDIS_URL, KEYS_DIR)."""
    path = run_dir / EXCHANGERS_FILE
    known: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}
    entry = known.get(name)
    if (
        entry is not None
        and entry.get("resource") == resource
        and _admin(env, "clients", "show", entry["client_id"], "--json").returncode == 0
    ):
        return Exchanger(entry["client_id"], entry["client_secret"])
    if entry is not None:
        # Made for another gateway port: no use any more (a failure here leaves only litter).
        _admin(env, "clients", "delete", entry["client_id"])
    done = _admin(
        env, "clients", "create-exchanger", "--name", name, "--resource", resource, "--json"
    )
    if done.returncode != 0:
        raise RuntimeError(f"authgate clients create-exchanger failed: {done.stderr.strip()}")
    created = json.loads(done.stdout)
    known[name] = {
        "client_id": created["client_id"],
        "client_secret": created["client_secret"],
        "resource": resource,
    }
    private_file(path, json.dumps(known, indent=2) + "\n")
    return Exchanger(created["client_id"], created["client_secret"])


def write_policy(run_dir: Path, gateway: str) -> Path:
    """The policy file of the demo services (docs/access-control.md): their consent names, and
    injection for the injected one. No ``allow``: the login's ALLOWED_GITHUB_* lists apply."""
    path = run_dir / POLICY_FILE
    path.write_text(
        "# Written by make run: the demo services behind the gateway.\n"
        "version: 1\n"
        "services:\n"
        f"  - resource: {gateway}\n"
        "    name: Demo (echo)\n"
        f"  - resource: {gateway}{EXCHANGE_PATH}\n"
        "    name: GitHub tools\n"
        f"  - resource: {gateway}{INJECTED_PATH}\n"
        "    name: GitHub tools (injected)\n"
        "    inject_upstream_token: true\n"
    )
    return path
