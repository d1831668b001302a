"""What the account page shows of a grant or a remembered consent: pure, from the records.

A registered client is named by its ``client_name`` (chosen by the client, not verified) and its
client id; a Client ID Metadata Document client by its name and the host of its client id URL,
the identity Authgate verified over HTTPS (draft-ietf-oauth-client-id-metadata-document §6), as
on the consent page. "Last token issued" is the grant's ``refresh_issued_at``: when a refresh
token (and an access token with it) was last issued, by the code or a refresh; the gateway does
not record each use of an access token. Times are UTC, ISO 8601, rendered without script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ..cimd.client_id import ClientIdProblem, client_id_host, is_url_client_id
from ..oauth.consent_cookie import REMEMBER_SECONDS, Approval
from ..store.clients import ClientRecord
from ..store.grants import Grant
from ..web.pages import describe_redirect, shown_name


@dataclass(frozen=True)
class ClientLabel:
    name: str
    """The client's self-chosen name (cut for display), or its id/host when it has none."""
    identity: str
    """The client id, or the verified host of a metadata document client."""
    is_document: bool


@dataclass(frozen=True)
class GrantRow:
    grant_id: str
    client: ClientLabel
    redirect_hosts: list[str]
    """Where the client's registered redirect URIs point ([] when the client record is gone)."""
    scopes: list[str]
    services: list[tuple[str, str]]
    """(display name or "", resource URI) per service of the grant."""
    created: Moment
    last_token_issued: Moment


@dataclass(frozen=True)
class ApprovalRow:
    fingerprint: str
    client: ClientLabel | None
    """None for an approval remembered before the cookie named its client."""
    scopes: list[str]
    remembered: Moment
    until: Moment


@dataclass(frozen=True)
class Moment:
    iso: str
    """``2026-12-05T03:34:00Z`` (RFC 3339, for ``<time datetime>``)."""
    text: str
    """``2026-12-05 03:34 UTC`` (what the page shows)."""


def utc(timestamp: int) -> Moment:
    when = datetime.fromtimestamp(timestamp, UTC)
    return Moment(when.strftime("%Y-%m-%dT%H:%M:%SZ"), when.strftime("%Y-%m-%d %H:%M UTC"))


def client_label(client_id: str, record: ClientRecord | None) -> ClientLabel:
    name = record.metadata.get("client_name") if record is not None else None
    if is_url_client_id(client_id):
        try:
            host = client_id_host(client_id)
        except ClientIdProblem:
            host = client_id  # not a usable document URL: show it whole, escaped
        return ClientLabel(shown_name(str(name or host)), host, True)
    return ClientLabel(shown_name(str(name or client_id)), client_id, False)


def redirect_hosts(record: ClientRecord | None) -> list[str]:
    hosts: list[str] = []
    for uri in record.redirect_uris if record is not None else []:
        host, _ = describe_redirect(uri)
        if host not in hosts:
            hosts.append(host)
    return hosts


def grant_row(
    grant: Grant, record: ClientRecord | None, service_names: Mapping[str, str]
) -> GrantRow:
    return GrantRow(
        grant_id=grant.grant_id,
        client=client_label(grant.client_id, record),
        redirect_hosts=redirect_hosts(record),
        scopes=grant.scope.split(),
        services=[(service_names.get(r, ""), r) for r in grant.resources],
        created=utc(grant.created_at),
        last_token_issued=utc(grant.refresh_issued_at),
    )


def approval_row(approval: Approval, record: ClientRecord | None) -> ApprovalRow:
    client = client_label(approval.client_id, record) if approval.client_id else None
    return ApprovalRow(
        fingerprint=approval.fingerprint,
        client=client,
        scopes=approval.scope.split(),
        remembered=utc(approval.expires_at - REMEMBER_SECONDS),
        until=utc(approval.expires_at),
    )
