"""What the consent page says about who a Client ID Metadata Document client is.

A registered client's name is all the page has, and it is self-asserted. A metadata document
client has more: its client id is an https URL whose document Authgate fetched over verified
TLS, so the page names that **host** as the client's verified identity, beside the name
(draft-ietf-oauth-client-id-metadata-document §6: the authorization server should show the
client id's host and MUST show the redirect URI's host, which the page always does). A host the
operator listed in CIMD_TRUSTED_HOSTS is shown as vouched for. A document that allows a loopback
redirect gets a warning: any program on the user's computer can present that client id and
receive the answer on a loopback port (MCP security best practices, localhost impersonation).

Every value is escaped and isolated in ``<bdi>`` as in ``web.pages``.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from ..cimd.client_id import client_id_host, is_url_client_id
from ..cimd.policy import is_trusted
from ..settings import CimdSettings, is_loopback_host


def _code(text: str) -> str:
    return f'<code><bdi dir="ltr">{escape(text)}</bdi></code>'


def identity_html(client_id: str, redirect_uri: str, settings: CimdSettings) -> str:
    """HTML paragraphs on the client's identity; '' for a registered client."""
    if not is_url_client_id(client_id):
        return ""
    host = client_id_host(client_id)  # the resolver accepted it, so it is valid
    lines = [
        f"<p>Verified identity: {_code(host)}. Authgate fetched this application's description "
        f"from its client id {_code(client_id)} over HTTPS.</p>"
    ]
    if is_trusted(host, settings):
        lines.append(f"<p>The operator of this gateway vouches for {_code(host)}.</p>")
    else:
        lines.append(f"<p>Approve only if you know and trust {_code(host)}.</p>")
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https") and is_loopback_host(parts.hostname or ""):
        lines.append(
            '<p class="warn">This client id lets the answer go to a program on your own computer '
            "(a loopback address). Any program running there can present the same client id, "
            f"so Authgate cannot tell whether it really comes from {_code(host)}. Approve only "
            "if you started that application yourself just now.</p>"
        )
    return "".join(lines)
