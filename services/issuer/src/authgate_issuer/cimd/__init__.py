"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client whose
``client_id`` is an https URL is described by the JSON document at that URL.

``client_id`` (the URL's rules), ``policy`` (the operator's host lists), ``document`` (what a
usable document is), ``freshness`` (HTTP caching, clamped) and ``resolver`` (cache, fetch,
validate, store: the one entry point the endpoints call).
"""
