"""Code Authgate's issuer and verifier share: the contract between them, and common internals.

The contract (these modules talk no HTTP and open no connection); a change to one of them is a
change to the wire or storage format between the services:

* ``claims``: the access token, the JWT both sides read (RFC 9068);
* ``errors``: the OAuth error codes both services answer with (RFC 6749 §5.2, RFC 6750 §3.1,
  RFC 7591 §3.2.2, RFC 8707 §2);
* ``keys``: signing and verification keys, JWK export, RFC 7638 thumbprints, JWK Sets;
* ``redis_keys``: the Redis key schema, every key name Authgate uses;
* ``services``: the MCP services behind the gateway (``ALLOWED_RESOURCES``);
* ``urls``: canonical forms of URIs compared as strings (issuer, resource indicators);
* ``config``, ``runtime``: reading settings from the environment; time and randomness as
  parameters.

Server internals both services run (not part of the contract):

* ``logs``: the JSON log line both services write (``ts``, ``level``, ``logger``, ``message``,
  then the service's own keys and the record's fields) and the handler they install;
* ``server``: the HTTP layer, uvicorn's httptools protocol with header and head-time caps
  (``server.protocol``), prepared response heads (``server.response_head``) and the HTTP
  limits read from the environment (``server.limits``);
* ``redis``: Redis plumbing, URLs for standalone, Sentinel and Cluster (``redis.urls``), the
  connection classes (``redis.nodes``) and the clients built from the settings
  (``redis.connection``).
"""

__version__ = "0.2.0"
