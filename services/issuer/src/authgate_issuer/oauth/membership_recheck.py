"""Is the grant's user still allowed? Asked at every refresh (OAuth 2.1 §4.3: the AS decides
whether a refresh is still warranted), so a leaver loses access at the next refresh.

* Users (``ALLOWED_GITHUB_USERS``): the login is compared with the list as it is now.
* Organisations and teams: GitHub is asked again with the user's token, kept sealed in the
  grant (login.access). No longer an active member of anything configured (and not on the
  user list): the grant is revoked and the refresh is ``invalid_grant``. A 401 to the token
  (the user revoked the app) counts the same; so does a grant whose token no key opens any more
  (a retired key), unless the user list admits the user.
* GitHub cannot answer (outage, timeout, rate limit, garbled answer): the refresh succeeds with
  the groups of the last successful check while that check is at most
  ``MEMBERSHIP_RECHECK_GRACE_SECONDS`` old (default one hour), so a GitHub hiccup does not log
  every user out; past that it is ``503 temporarily_unavailable`` and the grant is kept, so the
  client's retry succeeds once GitHub is back. It never fails open for longer than the grace:
  no refresh is served on a membership older than that. A user of ``ALLOWED_GITHUB_USERS``
  needs no membership: past the grace (or with a revoked GitHub token) the refresh succeeds
  without groups (fewer groups than the truth, never more).
* OpenID Connect grants: no GitHub call; their groups are those of the sign-in (the provider
  is not asked again before the user signs in again), and the OIDC access rules as they are
  now are applied to the user name, e-mail and groups stored at sign-in (login.oidc_login), so
  an operator who removes a user, domain or group cuts the user off at the next refresh.
"""

from __future__ import annotations

import dataclasses

from ..context import IssuerContext
from ..login import github, membership, oidc_login, service_access
from ..store import grants
from ..store.grants import Grant
from ..store.sealing import key_id_of
from ..upstream import vault
from ..upstream.tokens import UpstreamToken, open_token, seal_token
from ..web import logs
from .allowlist import is_allowed
from .errors import InvalidGrant, TemporarilyUnavailable


async def _refuse(ctx: IssuerContext, grant: Grant, reason: str) -> InvalidGrant:
    await grants.revoke_grant(ctx.redis, grant.grant_id)
    logs.event(
        "grant_revoked_user_not_allowed",
        username=grant.username,
        grant_id=grant.grant_id,
        reason=reason,
    )
    return InvalidGrant("the user is no longer allowed to use this service")


async def recheck(ctx: IssuerContext, grant: Grant) -> Grant:
    """The grant with its groups as of now; raises (after revoking when the user is out, or
    may no longer use one of the grant's services under the policy's ``allow``)."""
    if grant.provider == "oidc":
        groups = oidc_login.readmit(ctx, grant)
        if isinstance(groups, str):
            raise await _refuse(ctx, grant, groups)
        checked = dataclasses.replace(grant, groups=groups)  # fewer than at sign-in, never more
    else:
        checked = await _recheck_membership(ctx, grant)
    refused = service_access.refused(
        ctx.settings,
        checked.resources,
        checked.username,
        checked.groups,
        sub=checked.github_id if checked.provider == "oidc" else None,
    )
    if refused:
        raise await _refuse(ctx, grant, f"no longer allowed to use {', '.join(refused)}")
    return checked


async def _recheck_membership(ctx: IssuerContext, grant: Grant) -> Grant:
    settings = ctx.settings
    listed = is_allowed(grant.username, settings)
    if not settings.github.checks_membership:
        if listed:
            return grant
        raise await _refuse(ctx, grant, "not on ALLOWED_GITHUB_USERS")
    now = ctx.now()
    try:
        # Through the vault: a GitHub App's expiring token is refreshed first (single flight).
        upstream = await vault.usable(ctx, grant)
    except vault.NoUpstreamToken:
        if listed:
            return dataclasses.replace(grant, groups=[])
        raise await _refuse(ctx, grant, "no GitHub token to re-check memberships with") from None
    except vault.UpstreamRevoked:
        # The vault revoked the grant (GitHub refused its refresh token), or it is gone.
        raise InvalidGrant("the refresh token is invalid, expired or revoked") from None
    except vault.UpstreamUnavailable as exc:
        return _unanswered(ctx, grant, listed=listed, now=now, reason=str(exc))
    token = upstream.access_token
    try:
        found = await membership.check(ctx.http, settings.github, token)
    except membership.UpstreamTokenRevoked:
        if listed:  # the user list needs no GitHub token; the groups do
            return dataclasses.replace(grant, groups=[])
        raise await _refuse(ctx, grant, "GitHub refused the user's token") from None
    except github.GitHubError as exc:
        return _unanswered(ctx, grant, listed=listed, now=now, reason=str(exc))
    groups = list(found.groups)
    if not listed and not groups:
        raise await _refuse(ctx, grant, "no longer an active member of an allowed org/team")
    resealed = _resealed(ctx, grant, upstream)
    if not await grants.record_membership(
        ctx.redis, grant.grant_id, groups=groups, checked_at=now, upstream_token=resealed
    ):
        raise InvalidGrant("the refresh token is invalid, expired or revoked")
    return dataclasses.replace(
        grant,
        groups=groups,
        membership_checked_at=now,
        upstream_token=resealed or grant.upstream_token,
    )


def _unanswered(ctx: IssuerContext, grant: Grant, *, listed: bool, now: int, reason: str) -> Grant:
    """GitHub could not answer: the last groups while the last successful check is within
    MEMBERSHIP_RECHECK_GRACE_SECONDS; then no groups for a user of ALLOWED_GITHUB_USERS (who
    needs none), else 503 temporarily_unavailable, the grant kept for the retry."""
    age = now - grant.membership_checked_at
    within = age <= ctx.settings.github.recheck_grace
    outcome = "allowed_within_grace" if within else "listed_user_without_groups"
    if not within and not listed:
        outcome = "refused"
    logs.event(
        "membership_recheck_unavailable",
        username=grant.username,
        grant_id=grant.grant_id,
        last_check_age=age,
        outcome=outcome,
        reason=reason[:120],
    )
    if within:
        return grant
    if listed:
        return dataclasses.replace(grant, groups=[])
    raise TemporarilyUnavailable(
        "GitHub cannot confirm the user's organisation membership; retry later"
    )


def _resealed(ctx: IssuerContext, grant: Grant, token: UpstreamToken) -> str | None:
    """The token sealed under the current key when an older key sealed it (key rotation:
    every refreshed grant moves to the new key, so the old one can be retired once the grants
    that were not refreshed have expired); None when it already uses the current key, or when
    the vault just refreshed (and stored) it."""
    keys = ctx.settings.github.token_keys
    if keys is None or key_id_of(grant.upstream_token) == keys.current_id:
        return None
    if open_token(keys, grant.upstream_token, grant_id=grant.grant_id) != token:
        return None  # refreshed by the vault: stored under the current key already
    return seal_token(keys, token, grant_id=grant.grant_id, random=ctx.random)
