"""The GitHub stand-in (``devstack.github_standin``) as a real process, for tests.

standin = start_standin(tmp_path)              # any login may sign in
env = issuer_env(redis_url, keys_dir, **standin.issuer_env())
standin.set_faults(token="error500")            # reliability tests
standin.set_faults()                            # back to normal
app = start_standin(tmp_path, github_app=True)  # expiring ghu_ tokens with ghr_ refresh tokens
app.expire("octocat"); app.stats()["refresh_grants"]; app.revoke_grant(token)
...
standin.stop()
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from .service import ServiceProcess, python_module

DEV_CLIENT_ID = "authgate-dev"
DEV_CLIENT_SECRET = "authgate-dev"
ROOT = Path(__file__).resolve().parents[1]
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


class GitHubStandin(ServiceProcess):
    def __init__(
        self,
        log_dir: Path,
        *,
        client_id: str = DEV_CLIENT_ID,
        client_secret: str = DEV_CLIENT_SECRET,
        users: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        port: int | None = None,
        github_app: bool = False,
        token_lifetime: int | None = None,
        refresh_token_lifetime: int | None = None,
    ) -> None:
        args = ["--host", "127.0.0.1", "--port", "{port}"]
        args += ["--client-id", client_id, "--client-secret", client_secret]
        if github_app:
            args.append("--github-app")
        if token_lifetime is not None:
            args += ["--token-lifetime", str(token_lifetime)]
        if refresh_token_lifetime is not None:
            args += ["--refresh-token-lifetime", str(refresh_token_lifetime)]
        for user in users:
            args += ["--user", user]
        super().__init__(
            python_module("devstack.github_standin", *args, *extra_args),
            # dev-only code under the repository's devstack/, not an installed package
            {
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                )
            },
            log_dir / "github-standin.log",
            port=port,
            health_path="/_standin/health",
        )
        self.client_id = client_id
        self.client_secret = client_secret
        self.github_app = github_app

    @property
    def api_url(self) -> str:
        """GitHub Enterprise style API base (the root serves /user too)."""
        return f"{self.url}/api/v3"

    def issuer_env(self) -> dict[str, str]:
        """Overrides for ``testsupport.issuer.issuer_env`` pointing the issuer here."""
        return {
            "GITHUB_BASE_URL": self.url,
            "GITHUB_API_URL": self.api_url,
            "GITHUB_CLIENT_ID": self.client_id,
            "GITHUB_CLIENT_SECRET": self.client_secret,
        }

    def set_faults(
        self,
        token: str = "none",  # noqa: S107 - a fault mode, not a password
        user: str = "none",
        delay: float = 30.0,
        membership: str = "none",
    ) -> None:
        """Replace the injected faults (see ``devstack.github_standin.__main__``)."""
        body = {"token": token, "user": user, "delay": delay, "membership": membership}
        httpx.post(f"{self.url}/_standin/faults", json=body, timeout=5).raise_for_status()

    def set_orgs(self, orgs: dict[str, Any], *, max_per_page: int = 100) -> None:
        """Replace who belongs to which organisation and team (devstack.github_standin.orgs):
        ``{"acme": {"members": {"alice": "active"}, "teams": {"platform": ["alice"]}}}``."""
        body = {"orgs": orgs, "max_per_page": max_per_page}
        httpx.post(f"{self.url}/_standin/orgs", json=body, timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        """Request counters: ``token_requests``, ``code_grants``, ``refresh_grants`` (refresh
        requests, any outcome), ``refresh_rotations``, ``bad_refresh_tokens``,
        ``user_requests``, ``bad_credentials`` (API calls answered 401), ``revocations``;
        ``live_access_tokens``, ``refresh_tokens``."""
        answer = httpx.get(f"{self.url}/_standin/stats", timeout=5)
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats

    def expire(self, login: str) -> int:
        """Expire ``login``'s access tokens now (refresh tokens stay usable); how many."""
        answer = httpx.post(f"{self.url}/_standin/expire", json={"login": login}, timeout=5)
        answer.raise_for_status()
        return int(answer.json()["expired"])

    def _delete(self, what: str, token: str) -> int:
        answer = httpx.request(
            "DELETE",
            f"{self.api_url}/applications/{self.client_id}/{what}",
            auth=(self.client_id, self.client_secret),
            json={"access_token": token},
            timeout=5,
        )
        return answer.status_code

    def revoke_grant(self, token: str) -> int:
        """What the user does under Settings > Applications: delete the app's authorization of
        ``token``'s user (every token of theirs dies); the HTTP status (204, 404 unknown)."""
        return self._delete("grant", token)

    def revoke_token(self, token: str) -> int:
        """Delete one access token; the HTTP status (204, 404 unknown)."""
        return self._delete("token", token)


def start_standin(log_dir: Path, **kwargs: Any) -> GitHubStandin:
    """Start the stand-in (keyword arguments as for ``GitHubStandin``) and wait until it answers."""
    standin = GitHubStandin(log_dir, **kwargs)
    standin.start(expect_healthy=True)
    return standin


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of a form page (the stand-in's login page, the issuer's consent page)."""
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def standin_login(http: httpx.Client, authorize_url: str, login: str, *, deny: bool = False) -> str:
    """Do what a user does on the stand-in's login page; return the redirect (the callback URL
    with ``code``/``state`` or ``error=access_denied``)."""
    page = http.get(authorize_url)
    assert page.status_code == 200, page.text
    fields = hidden_fields(page.text)
    fields.update(login=login, action="deny" if deny else "authorize")
    submit = httpx.URL(authorize_url).copy_with(query=None)
    answer = http.post(str(submit), data=fields, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]
