"""Lua scripts on one grant's hash slot (KEYS all carry the ``{grant_id}`` tag).

A script runs atomically, so minting, rotation and revocation of one grant never interleave: a
token cannot be minted into a grant that is being revoked, and of two refreshes presenting the
same refresh token exactly one rotates it (the other is then a reuse).

Every script checks before it writes: Redis does not roll a script back when a command fails,
but a script that stops before its first write has changed nothing, and one that has written
is replicated and appended to the AOF as one unit (MULTI/EXEC), so no replica or restart sees
half of it. Running a script a second time with the same arguments changes nothing more, and
ROTATE answers it as it answered the first: the client resends a command once after a lost
reply (authgate_shared.redis.connection), and that resend must not look like refresh-token reuse.

Access-token records are addressed from the jtis in ``grant_tokens``: the script receives the
record-key prefix ``oauth:token:{grant_id}.`` (built by redis_keys.token) and appends the part of
the jti after ``<grant_id>.``. Those keys are in the same slot as KEYS (same hash tag), which is
what Redis Cluster requires of a script. Every deleted record is announced on the revocation
channel from inside the script, so a crash of the issuer cannot lose an announcement.
"""

from __future__ import annotations

# Shared body: delete every access-token record of the grant, publish each revoked jti, and
# return the jtis. Expects KEYS[2] = grant_tokens, ARGV[1] = token-key prefix,
# ARGV[2] = grant id, ARGV[3] = revocation channel.
_REVOKE_TOKENS = """
local revoked = {}
local skip = string.len(ARGV[2]) + 2
for _, jti in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('DEL', ARGV[1] .. string.sub(jti, skip)) == 1 then
    redis.call('PUBLISH', ARGV[3], jti)
    table.insert(revoked, jti)
  end
end
"""

# Shared function: write one access-token record (with its TTL) and add its jti to the grant's
# set. The set is kept near the number of live tokens by sampling a few members per write and
# dropping those whose record expired (like Redis' own active expiry): each write adds one
# member and removes the dead ones among 8 sampled, so dead members stay a small fraction
# however long the grant lives. Expects KEYS[2] = grant_tokens, ARGV[1] = token-key prefix,
# ARGV[2] = grant id.
_STORE_TOKEN = """
local function store_token(record_key, jti, record, ttl)
  redis.call('SET', record_key, record, 'EX', ttl)
  local skip = string.len(ARGV[2]) + 2
  for _, member in ipairs(redis.call('SRANDMEMBER', KEYS[2], 8)) do
    if redis.call('EXISTS', ARGV[1] .. string.sub(member, skip)) == 0 then
      redis.call('SREM', KEYS[2], member)
    end
  end
  redis.call('SADD', KEYS[2], jti)
end
"""

# KEYS: grant, grant_tokens, grant_rotated; ARGV: prefix, grant id, channel.
# Returns {existed (0/1), revoked jtis...}.
REVOKE_GRANT = (
    _REVOKE_TOKENS
    + """
local existed = redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) > 0 and 1 or 0
return {existed, unpack(revoked)}
"""
)

# KEYS: grant, grant_tokens, token record; ARGV: prefix, grant id, jti, record JSON, TTL (s).
# One more access token for an existing grant; mints only while the grant exists.
MINT = (
    _STORE_TOKEN
    + """
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then return 0 end
store_token(KEYS[3], ARGV[3], ARGV[4], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
"""
)

# KEYS: grant, grant_tokens[, token record]
# ARGV: prefix, grant id, grant TTL (s), jti, record JSON, token TTL (s), field, value, ...
# A new grant and (with the third key) its first access token, both or neither: a grant
# without its token, or a token without its grant, is never visible. Rerunning it writes the
# same values again.
CREATE = (
    _STORE_TOKEN
    + """
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('EXPIRE', KEYS[1], ARGV[3])
if KEYS[3] then
  store_token(KEYS[3], ARGV[4], ARGV[5], ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 1
"""
)

# KEYS: grant, grant_tokens, grant_rotated[, token record]
# ARGV: prefix, grant id, channel, presented hash, new hash, client id, ttl (s), new expiry,
#       now, grace (s), sealed successor[, jti, record JSON, token TTL (s)]
# Returns {'ok'}, {'invalid'}, {'grace', sealed successor} or {'reuse', revoked jtis...}.
# OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2: the current refresh token is swapped for the new one and
# (with the fourth key) the new access token is stored in the same step, so a refresh either
# happened completely or not at all and the presented token stays valid after any failure
# before the script. Presenting an already-rotated refresh token revokes the whole grant.
# The current hash already being the new one means this very rotation ran before and only its
# reply was lost (the new token is a fresh secret no other request knows): answer 'ok' again
# instead of treating the resend as reuse.
# With a grace window (ARGV[10] > 0, oauth.refresh_grace) the rotation also keeps the presented
# hash as 'previous_hash', until when it may come back, and the successor pair sealed for its
# holder; the preceding token presented again before then gets {'grace', sealed} (the same
# pair), which a later rotation overwrites, so only the immediately preceding token qualifies.
ROTATE = (
    _STORE_TOKEN
    + """
local current = redis.call('HMGET', KEYS[1], 'refresh_hash', 'client_id', 'previous_hash',
  'previous_until', 'previous_sealed')
if not current[1] or current[2] ~= ARGV[6] then return {'invalid'} end
if current[1] == ARGV[5] then return {'ok'} end
if current[1] == ARGV[4] then
  redis.call('HSET', KEYS[1], 'refresh_hash', ARGV[5], 'expiry', ARGV[8], 'refresh_issued_at', ARGV[9])
  if tonumber(ARGV[10]) > 0 and ARGV[11] ~= '' then
    redis.call('HSET', KEYS[1], 'previous_hash', ARGV[4],
      'previous_until', tonumber(ARGV[9]) + tonumber(ARGV[10]), 'previous_sealed', ARGV[11])
  elseif current[3] then
    redis.call('HDEL', KEYS[1], 'previous_hash', 'previous_until', 'previous_sealed')
  end
  redis.call('SADD', KEYS[3], ARGV[4])
  if KEYS[4] then store_token(KEYS[4], ARGV[12], ARGV[13], ARGV[14]) end
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[7]) end
  return {'ok'}
end
if current[3] == ARGV[4] and tonumber(ARGV[10]) > 0
    and tonumber(current[4]) >= tonumber(ARGV[9]) then
  return {'grace', current[5]}
end
if redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 0 then return {'invalid'} end
"""
    + _REVOKE_TOKENS
    + """
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {'reuse', unpack(revoked)}
"""
)

# KEYS: grant; ARGV: field, value, ... Updates fields of a live grant only (a refresh's
# membership re-check): HSET alone would recreate a grant revoked meanwhile as a partial hash.
RECORD_MEMBERSHIP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""

# KEYS: grant_tokens, token record; ARGV: jti, channel. Returns 1 when a live record was deleted.
REVOKE_TOKEN = """
if redis.call('DEL', KEYS[2]) == 0 then return 0 end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
"""

# KEYS: a sorted-set index (client_grants, user_grants or user_tokens); ARGV: member, score
# (its expiry, unix s), now (the issuer's clock; the TTL is relative, as for every record). Adds
# the member, prunes members already expired, and makes the key live as long as its longest-lived
# member: a plain EXPIRE with the new member's lifetime would cut an index short when a
# shorter-lived member arrives after a longer-lived one (a lowered lifetime setting), and
# revoke_client / tokens revoke would then miss live entries.
INDEX = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  local ttl = math.floor(tonumber(last[2]) - tonumber(ARGV[3])) + 1
  redis.call('EXPIRE', KEYS[1], string.format('%d', math.max(ttl, 1)))
end
return 1
"""
