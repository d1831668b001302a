"""The OIDC login's failures, in the same shape as ``login.github``'s: /callback turns each into
an OAuth error redirect (never a 500 page).

* ``OidcUnavailable`` (timeouts, connection errors, 5xx, rate limits, garbled answers):
  ``temporarily_unavailable``, the client may simply retry;
* ``OidcDenied`` (the user declined at the provider, or the provider refused our code):
  ``access_denied``;
* ``OidcRefused`` (an answer that fails validation: ``state``, RFC 9207 ``iss``, the ID token's
  signature, ``iss``, ``aud``, ``azp``, ``exp``, ``iat``, ``nonce``): ``access_denied``, and
  the sign-in is abandoned; a forged or replayed answer must never become a session;
* ``OidcUnusableAccount`` (valid tokens, but no usable subject or user name claim):
  ``access_denied``, since retrying gets the same answer;
* ``OidcError`` (our configuration or the provider's metadata is wrong): ``server_error``.
"""

from __future__ import annotations


class OidcError(Exception):
    """The provider or our configuration of it is unusable (server_error)."""


class OidcUnavailable(OidcError):
    """The provider is down, slow or garbled (temporarily_unavailable)."""


class OidcDenied(OidcError):
    """The user or the provider declined the sign-in (access_denied)."""


class OidcRefused(OidcError):
    """An authorization response or ID token failed validation (access_denied)."""


class OidcUnusableAccount(OidcError):
    """The tokens are valid but name no usable account (access_denied)."""
