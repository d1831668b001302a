"""The operator's trust policy for client-id hosts (draft-ietf-oauth-client-id-metadata-document
§6: an authorization server MAY restrict or vouch for hosts).

``CIMD_ENABLED=false`` turns metadata documents off; ``CIMD_ALLOWED_HOSTS`` (when set) is the only
hosts whose client ids are accepted; ``CIMD_TRUSTED_HOSTS`` are hosts the consent page names as
vouched for by the operator. Hosts compare exactly, lower-cased: ``example.com`` does not cover
``evil.example.com``.
"""

from __future__ import annotations

from ..settings import CimdSettings


def host_refusal(host: str, settings: CimdSettings) -> str | None:
    """Why client ids on ``host`` are refused by policy, or None."""
    if not settings.enabled:
        return "this server does not accept client metadata document URLs as client ids"
    if settings.allowed_hosts and host not in settings.allowed_hosts:
        return f"client ids on {host} are not accepted by this server (CIMD_ALLOWED_HOSTS)"
    return None


def is_trusted(host: str, settings: CimdSettings) -> bool:
    return host in settings.trusted_hosts
