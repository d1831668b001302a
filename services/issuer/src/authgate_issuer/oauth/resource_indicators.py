"""RFC 8707 resource indicators: validation and the service each one names, for /authorize and
/token, and the narrowing of a grant's resources at /token (``narrow_resources``).

A resource must be an absolute URI without a fragment (RFC 8707 §2). MCP clients send the MCP
server's URL, with varying case, trailing slashes and often the endpoint's path
(``https://mcp-a.example.com/mcp``); each is mapped to the configured service it belongs to
(``ALLOWED_RESOURCES``, ``authgate_shared.services``), and that service's canonical URI becomes
the token's ``aud``: the verifier judges requests for the same URI, so every token issued works
at the service it was issued for. In dev login mode without ``ALLOWED_RESOURCES``, loopback
http(s) URLs are services of their own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from authgate_shared.urls import canonical_uri

from ..settings import IssuerSettings, is_loopback_host
from .errors import InvalidTarget

RESOURCE_REQUIRED = (
    "'resource' is required: this gateway issues each token for one MCP service (RFC 8707)."
    " Send resource=<the MCP server's URL>; MCP clients take it from the server's protected"
    " resource metadata (RFC 9728)"
)


def service_for(value: str, settings: IssuerSettings) -> str:
    """The canonical URI of the service ``value`` names; InvalidTarget when it names none."""
    try:
        canonical = canonical_uri(value)
    except ValueError as exc:
        raise InvalidTarget(f"resource {exc} (RFC 8707 §2)") from None
    if settings.services:
        service = settings.services.service_for(canonical)
        if service is not None:
            return service
    elif settings.dev_login:
        parts = urlsplit(canonical)
        if parts.scheme in ("http", "https") and is_loopback_host(parts.hostname or ""):
            return canonical
    raise InvalidTarget("resource is not a service of this gateway")


def granted_services(values: list[str], settings: IssuerSettings) -> list[str]:
    """A stored grant's resources as services: grants made before resources were mapped to
    services may hold a service's endpoint URL (``https://mcp-a.example.com/mcp``), which the
    verifier never accepted; a refresh now issues the service's URI. Others are kept as they
    are (the verifier refuses them; the grant is not widened)."""
    services: list[str] = []
    for value in values:
        try:
            service = service_for(value, settings)
        except InvalidTarget:
            service = value
        if service not in services:
            services.append(service)
    return services


def validate_resources(values: list[str], settings: IssuerSettings) -> list[str]:
    """The services ``values`` name (canonical, duplicates dropped, order kept); InvalidTarget
    when any value is malformed or not served by this gateway, or when none is given and
    tokens must be bound to a resource."""
    if not values and settings.require_resource_tokens:
        raise InvalidTarget(RESOURCE_REQUIRED)
    services: list[str] = []
    for value in values:
        service = service_for(value, settings)
        if service not in services:
            services.append(service)
    return services


def narrow_resources(
    requested: list[str], granted: list[str], settings: IssuerSettings
) -> list[str]:
    """RFC 8707 §2.2: resources at the token endpoint may only narrow the granted ones.

    No resource requested keeps the grant's; a grant without resources (gateway-wide) may be
    narrowed to any resource of the gateway, and must be when tokens are bound to resources
    (grants from before REQUIRE_RESOURCE_TOKENS), so no token is issued that verifiers refuse.
    """
    allowed = granted_services(granted, settings)
    if not requested and (allowed or not settings.require_resource_tokens):
        return allowed
    canonical = validate_resources(requested, settings)
    if allowed and any(resource not in allowed for resource in canonical):
        raise InvalidTarget("resource was not part of the authorization grant")
    return canonical
