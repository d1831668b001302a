"""Lua scripts on one grant's hash slot (KEYS all carry the ``{grant_id}`` tag).

A script runs atomically, so minting, rotation and revocation of one grant never interleave: a
token cannot be minted into a grant that is being revoked, and of two refreshes presenting the
same refresh token exactly one rotates it (the other is then a reuse).

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
# Mints only while the grant exists. The jti set is kept near the number of live tokens by
# sampling a few members per mint and dropping those whose record expired (like Redis' own
# active expiry): each mint adds one member and removes the dead ones among 8 sampled, so dead
# members stay a small fraction however long the grant lives.
MINT = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then return 0 end
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
local skip = string.len(ARGV[2]) + 2
for _, jti in ipairs(redis.call('SRANDMEMBER', KEYS[2], 8)) do
  if redis.call('EXISTS', ARGV[1] .. string.sub(jti, skip)) == 0 then
    redis.call('SREM', KEYS[2], jti)
  end
end
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
"""

# KEYS: grant, grant_tokens, grant_rotated
# ARGV: prefix, grant id, channel, presented hash, new hash, client id, ttl (s), new expiry, now.
# Returns {'ok'}, {'invalid'} or {'reuse', revoked jtis...} (RFC 9700 §4.14.2: presenting an
# already-rotated refresh token revokes the whole grant).
ROTATE = (
    """
local current = redis.call('HMGET', KEYS[1], 'refresh_hash', 'client_id')
if not current[1] or current[2] ~= ARGV[6] then return {'invalid'} end
if current[1] == ARGV[4] then
  redis.call('HSET', KEYS[1], 'refresh_hash', ARGV[5], 'expiry', ARGV[8], 'refresh_issued_at', ARGV[9])
  redis.call('SADD', KEYS[3], ARGV[4])
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[7]) end
  return {'ok'}
end
if redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 0 then return {'invalid'} end
"""
    + _REVOKE_TOKENS
    + """
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {'reuse', unpack(revoked)}
"""
)

# KEYS: grant_tokens, token record; ARGV: jti, channel. Returns 1 when a live record was deleted.
REVOKE_TOKEN = """
if redis.call('DEL', KEYS[2]) == 0 then return 0 end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return 1
"""
