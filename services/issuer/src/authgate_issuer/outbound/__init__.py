"""Requests the issuer makes to hosts its clients name (Client ID Metadata Documents, client
``jwks_uri``): the SSRF-safe fetcher (draft-ietf-oauth-client-id-metadata-document §6.4,
RFC 9700 §4.15 advice on server-side request forgery)."""
