"""The Redis key schema: every key name Authgate uses is spelled here and nowhere else.

The seed's names (``oauth:client:{client_id}``, ``oauth:token:{jti}``, ...) are kept, and the
braces are real: the part in ``{}`` is a Redis Cluster *hash tag*, so every key that a script or
transaction touches together hashes to one slot (Cluster spec, "Hash tags").

A grant (one user's consent for one client, and every access and refresh token minted from it)
lives in the slot of its grant id: its record, its token set, and the access-token records, whose
``jti`` is ``<grant_id>.<random>``. So revoking a whole grant is one atomic script on one slot,
and deleting a client is bounded by the number of its grants, never a scan of the keyspace.
"""

from __future__ import annotations

PREFIX = "oauth:"

# Pub/sub channel on which the issuer announces every revoked jti (message: the jti, or
# ``grant:<grant_id>``/``*`` for wider events). Classic PUBLISH is broadcast to every node in
# Cluster, so one channel reaches every verifier.
REVOCATION_CHANNEL = "oauth:revocations"

# The public JWK Set the issuer publishes for verifiers (RFC 7517 JSON).
JWKS = "oauth:jwks"
# Signing-key generation lock shared by issuer replicas (SET NX with a TTL).
KEYGEN_LOCK = "oauth:keygen-lock"
# Expiry schedule of registrations: sorted set, member = client_id, score = the record's
# ``expires_at`` (unix s); only clients that expire (CLIENT_LIFETIME > 0) are in it. A TTL
# removes an expired record but not the grants issued to it, so ``authgate purge-expired``
# reads the due part of this set to revoke them, at a cost proportional to what is due rather
# than to the keyspace. One key for all clients: no slot holds every client, and it is an
# index the admin CLI rebuilds (``purge-expired --scan``, ``restore``), never the source of truth.
CLIENT_EXPIRY = "oauth:client_expiry"


def client(client_id: str) -> str:
    """Client registration record (JSON), TTL = CLIENT_LIFETIME."""
    return f"{PREFIX}client:{{{client_id}}}"


def client_grants(client_id: str) -> str:
    """Sorted set of the client's grant ids, scored by their expiry (unix seconds)."""
    return f"{PREFIX}client_grants:{{{client_id}}}"


def state(state_hash: str) -> str:
    """Pending authorization request between consent and the GitHub callback (5 min, one use)."""
    return f"{PREFIX}state:{{{state_hash}}}"


def consent_request(request_hash: str) -> str:
    """A validated authorization request shown on the consent page, waiting for Approve/Deny."""
    return f"{PREFIX}consent:{{{request_hash}}}"


def code(code_hash: str) -> str:
    """Authorization code record, keyed by the SHA-256 of the code (never the code itself)."""
    return f"{PREFIX}code:{{{code_hash}}}"


def code_used(code_hash: str) -> str:
    """Marker left by a redeemed code: the grant it produced, so a replay can revoke it."""
    return f"{PREFIX}code_used:{{{code_hash}}}"


def grant(grant_id: str) -> str:
    """Grant record (hash): client, user, scope, resources, current refresh-token hash."""
    return f"{PREFIX}grant:{{{grant_id}}}"


def grant_tokens(grant_id: str) -> str:
    """Set of the access-token jtis minted from a grant."""
    return f"{PREFIX}grant_tokens:{{{grant_id}}}"


def grant_rotated(grant_id: str) -> str:
    """Set of hashes of the grant's already-rotated refresh tokens (reuse detection)."""
    return f"{PREFIX}grant_rotated:{{{grant_id}}}"


def upstream_refresh_lock(grant_id: str) -> str:
    """Held while one replica refreshes the grant's upstream token (single flight: GitHub
    rotates the refresh token, so a second concurrent refresh would be refused)."""
    return f"{PREFIX}upstream_refresh:{{{grant_id}}}"


def grant_id_of_jti(jti: str) -> str:
    """The grant id embedded in a jti of the form ``<grant_id>.<random>``."""
    return jti.partition(".")[0]


def token(jti: str) -> str:
    """Access-token record ``oauth:token:{jti}``; its existence means "not revoked".

    Hot path of the verifier: one partition and one f-string.
    """
    grant_id, _, rest = jti.partition(".")
    return f"{PREFIX}token:{{{grant_id}}}.{rest}"


def user_tokens(username: str) -> str:
    """Sorted set of a user's jtis scored by expiry; pruned on every insert so it stays bounded."""
    return f"{PREFIX}user_tokens:{{{username.lower()}}}"


def user_grants(github_id: str) -> str:
    """Sorted set of a user's grant ids scored by their expiry, keyed by the GitHub numeric id
    (which survives renames); the account page's index, pruned on every insert."""
    return f"{PREFIX}user_grants:{{{github_id}}}"


def account_state(state_hash: str) -> str:
    """A pending sign-in to the account page between ``/account`` and the GitHub callback
    (5 min, one use), keyed by the SHA-256 of the OAuth ``state``."""
    return f"{PREFIX}account_state:{{{state_hash}}}"


def registrations_counter(window: int) -> str:
    """Registrations in one time window (abuse cap)."""
    return f"{PREFIX}registrations:{{{window}}}"


def rate_limit(route: str, address: str, window: int) -> str:
    """Fixed-window request counter for a route and client address."""
    return f"{PREFIX}ratelimit:{{{route}:{address}}}:{window}"


def cimd_status(client_id: str) -> str:
    """Freshness of a Client ID Metadata Document client (JSON: fetched, or the failure),
    TTL = its cache lifetime (HTTP caching, clamped) or CIMD_NEGATIVE_CACHE_SECONDS. The
    validated client itself is the ordinary client record, ``client(client_id)``."""
    return f"{PREFIX}cimd:{{{client_id}}}"


def client_jwks(uri_hash: str) -> str:
    """A client's JWK Set fetched from its ``jwks_uri`` (keyed by the URI's SHA-256), cached
    like a metadata document."""
    return f"{PREFIX}client_jwks:{{{uri_hash}}}"


def client_jwks_refetch(uri_hash: str) -> str:
    """Marker of a forced refetch of a ``jwks_uri`` (for an unknown key id), TTL
    CIMD_CACHE_MIN_SECONDS: at most one per period, so made-up kids cannot spend the host's
    fetch budget."""
    return f"{PREFIX}client_jwks_refetch:{{{uri_hash}}}"


def client_assertion(assertion_hash: str) -> str:
    """A used private_key_jwt ``jti`` (RFC 7523 §3 item 7), keyed by SHA-256 of client id and
    jti, until the assertion's ``exp``: SET NX refuses a replay."""
    return f"{PREFIX}client_assertion:{{{assertion_hash}}}"


def all_clients_pattern() -> str:
    """SCAN MATCH pattern for every client record (admin CLI only; never on a request path)."""
    return f"{PREFIX}client:*"


def all_grants_pattern() -> str:
    """SCAN MATCH pattern for every grant record (admin CLI only)."""
    return f"{PREFIX}grant:*"


def all_tokens_pattern() -> str:
    """SCAN MATCH pattern for every access-token record (admin CLI only)."""
    return f"{PREFIX}token:*"


def all_client_grants_pattern() -> str:
    """SCAN MATCH pattern for every client's grant index (admin CLI only)."""
    return f"{PREFIX}client_grants:*"


def all_user_grants_pattern() -> str:
    """SCAN MATCH pattern for every user's grant index (admin CLI only)."""
    return f"{PREFIX}user_grants:*"


def all_grant_tokens_pattern() -> str:
    """SCAN MATCH pattern for every grant's jti set (admin CLI only)."""
    return f"{PREFIX}grant_tokens:*"


def all_user_tokens_pattern() -> str:
    """SCAN MATCH pattern for every user's token index (admin CLI only)."""
    return f"{PREFIX}user_tokens:*"


def id_from_key(key: str) -> str:
    """The id inside the hash tag of a key built above (admin CLI, scans)."""
    start = key.index("{") + 1
    return key[start : key.index("}", start)]
