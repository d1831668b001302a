"""Sign-in with any OpenID Connect provider, configured by discovery (OpenID Connect Core 1.0,
Discovery 1.0): the authorization code flow with PKCE, ``state`` and ``nonce``, ID token
validation against the provider's JWKS (with key rollover), RFC 9207 ``iss`` in the
authorization response, userinfo when configured, and the mapping of claims to an identity.

``client.OidcLogin`` is the entry point; the other modules are its pure or single-call parts.
"""
