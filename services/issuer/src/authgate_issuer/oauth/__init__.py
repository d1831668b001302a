"""The OAuth rules of the issuer, free of HTTP plumbing: request parsing and validation, client
authentication and metadata, redirect URIs, resource indicators, PKCE, consent, token minting,
the error vocabulary, and the grant types of ``/token`` (``oauth.grants``)."""
