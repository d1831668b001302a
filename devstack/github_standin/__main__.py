"""``python -m devstack.github_standin``: a local stand-in for GitHub's OAuth app endpoints and API.

Used by the tests and as the **dev login** of ``make run`` (issuer with AUTHGATE_DEV_LOGIN=true,
GITHUB_BASE_URL and GITHUB_API_URL pointing here). Anyone can sign in as any user: it only
listens on loopback unless ``--unsafe-listen-anywhere`` is given.

Endpoints (one process serves the OAuth base and the API base):

* ``GET /login/oauth/authorize?client_id&redirect_uri&state&scope``: a plain HTML login form
  (field ``login``, buttons ``action=authorize`` / ``action=deny``) posted to
  ``POST /login/oauth/authorize``, which redirects (302) to ``redirect_uri`` with ``code`` and
  ``state``, or ``error=access_denied&state=...`` on deny. Test clients submit the form directly.
* ``POST /login/oauth/access_token`` (client_id, client_secret, code, redirect_uri): answers
  ``access_token=...&scope=read:user&token_type=bearer`` (JSON with ``Accept: application/json``);
  errors ``incorrect_client_credentials``, ``bad_verification_code`` (unknown, used or expired
  code: single use, 10 minutes) and ``redirect_uri_mismatch`` come back with HTTP 200.
* ``--github-app``: answer as a GitHub App with expiring user tokens: ``access_token``
  (``ghu_``), ``expires_in`` (``--token-lifetime``, default 28800), ``refresh_token`` (``ghr_``),
  ``refresh_token_expires_in`` (``--refresh-token-lifetime``, default 15897600), ``scope`` "";
  ``grant_type=refresh_token`` rotates both (the old pair dies), ``bad_refresh_token`` for an
  unknown, used or expired one (an OAuth app, without the flag, has no refresh tokens: every
  refresh request gets ``bad_refresh_token``). See tokens.py and token_routes.py.
* ``DELETE /applications/{client_id}/grant`` and ``.../token`` (HTTP Basic client credentials,
  JSON ``access_token``): delete the user's authorization or one token (app_routes.py).
* ``GET /user`` and ``GET /api/v3/user`` with ``Authorization: Bearer|token <t>``: ``login``,
  ``id`` (a number, stable per login), ``name``, ``email``; 401 ``{"message": "Bad credentials"}``.
* ``GET /user/memberships/orgs/{org}``, ``GET /user/teams`` (and under ``/api/v3``): the
  organisations and teams the issuer checks with ``ALLOWED_GITHUB_ORGS``/``ALLOWED_GITHUB_TEAMS``,
  with GitHub's shapes and quirks (``state`` active/pending, 404 for no membership, 403 and
  ``X-GitHub-SSO`` for SAML-enforced organisations, ``Link`` pagination); see org_routes.py.
  Who belongs to what: ``--org-member ORG:LOGIN[:pending]``, ``--team-member ORG/SLUG:LOGIN``,
  ``--saml-org ORG``, ``--max-per-page N`` (all repeatable but the last), the environment
  (``GITHUB_STANDIN_ORG_MEMBERS``, ``GITHUB_STANDIN_TEAM_MEMBERS``, ``GITHUB_STANDIN_SAML_ORGS``:
  comma-separated lists of the same; what ``make run`` passes on), or at run time
  ``POST /_standin/orgs`` (orgs.py). Example, "only members of acme"::

      python -m devstack.github_standin --org-member acme:alice --team-member acme/platform:bob
      ALLOWED_GITHUB_USERS= ALLOWED_GITHUB_ORGS=acme UPSTREAM_TOKEN_KEYS=k1:… authgate-issuer …

* ``GET /_standin/health``: liveness. ``GET /_standin/stats``: request counters (refresh grants,
  token requests, ...). ``POST /_standin/expire`` ``{"login": L}``: L's access tokens expire now.
* ``POST /_standin/faults`` with JSON ``{"token": T, "user": U, "delay": seconds}``: fault
  injection for reliability tests, replacing the current faults (``GET`` shows them). ``T`` is
  one of ``none``, ``slow`` (wait ``delay`` then answer), ``error500``, ``malformed`` (200 with
  broken JSON), ``bad_code``, ``form_encoded`` (ignores ``Accept``); ``U`` one of ``none``,
  ``slow``, ``error500``, ``malformed``, ``unauthorized``, ``no_id`` (200 without ``id``),
  ``string_id`` (``id`` as a string), ``bad_login`` (a login GitHub would never issue);
  ``membership`` (org and team endpoints) one of ``none``, ``slow``, ``error500``,
  ``malformed``, ``rate_limited``. The same faults can be set at start with
  ``--fault-token``/``--fault-user``/``--fault-membership``/``--fault-delay``.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os

import uvicorn

from .app import create_standin_app
from .state import MEMBERSHIP_FAULTS, TOKEN_FAULTS, USER_FAULTS, Faults, StandinState
from .tokens import APP_REFRESH_SECONDS, APP_TOKEN_SECONDS, TokenStore

LOG = logging.getLogger("authgate.standin")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _from_env(name: str) -> list[str]:
    """A comma-separated list from the environment (dev tool: make run passes its own on)."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.github_standin",
        description="local GitHub stand-in (dev login, tests)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--client-id", default="authgate-dev")
    parser.add_argument("--client-secret", default="authgate-dev")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="LOGIN[:ID]",
        help="a selectable login (repeatable; comma-separated lists accepted); none: any login",
    )
    parser.add_argument("--callback-url", help="the OAuth app's callback URL (redirect_uri prefix)")
    parser.add_argument("--fault-token", choices=TOKEN_FAULTS, default="none")
    parser.add_argument("--fault-user", choices=USER_FAULTS, default="none")
    parser.add_argument("--fault-membership", choices=MEMBERSHIP_FAULTS, default="none")
    parser.add_argument("--fault-delay", type=float, default=30.0, help="seconds, for 'slow'")
    parser.add_argument("--org-member", action="append", default=[], metavar="ORG:LOGIN[:pending]")
    parser.add_argument("--team-member", action="append", default=[], metavar="ORG/SLUG:LOGIN")
    parser.add_argument("--saml-org", action="append", default=[], metavar="ORG")
    parser.add_argument("--max-per-page", type=int, default=100, choices=range(1, 101), metavar="N")
    parser.add_argument(
        "--github-app", action="store_true", help="expiring user tokens with refresh tokens"
    )
    parser.add_argument("--token-lifetime", type=int, default=APP_TOKEN_SECONDS, metavar="SECONDS")
    parser.add_argument(
        "--refresh-token-lifetime", type=int, default=APP_REFRESH_SECONDS, metavar="SECONDS"
    )
    parser.add_argument("--unsafe-listen-anywhere", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not _is_loopback(args.host) and not args.unsafe_listen_anywhere:
        raise SystemExit(
            "github-standin: refusing a non-loopback --host: anyone could sign in as "
            "anyone (pass --unsafe-listen-anywhere inside an isolated dev network only)"
        )
    state = StandinState(
        client_id=args.client_id,
        client_secret=args.client_secret,
        callback_url=args.callback_url,
        faults=Faults(
            token=args.fault_token,
            user=args.fault_user,
            delay=args.fault_delay,
            membership=args.fault_membership,
        ),
        tokens=TokenStore(
            github_app=args.github_app,
            token_lifetime=args.token_lifetime,
            refresh_lifetime=args.refresh_token_lifetime,
        ),
    )
    state.directory.max_per_page = args.max_per_page
    try:
        for spec in args.user:
            for item in spec.split(","):
                if item.strip():
                    state.add_user(item)
        for member in [*args.org_member, *_from_env("GITHUB_STANDIN_ORG_MEMBERS")]:
            state.directory.add_member(member)
        for team_member in [*args.team_member, *_from_env("GITHUB_STANDIN_TEAM_MEMBERS")]:
            state.directory.add_team_member(team_member)
        for org in [*args.saml_org, *_from_env("GITHUB_STANDIN_SAML_ORGS")]:
            state.directory.org(org).saml = True
    except ValueError as exc:
        raise SystemExit(f"github-standin: {exc}") from None
    logging.basicConfig(level=logging.INFO)
    LOG.warning(
        "GITHUB STAND-IN on http://%s:%s: NOT GitHub, anyone can sign in as anyone; "
        "for development and tests only",
        args.host,
        args.port,
    )
    uvicorn.run(
        create_standin_app(state),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
