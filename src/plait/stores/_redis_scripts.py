"""The Lua scripts of :class:`~plait.stores.RedisStore`: each write is one script, so a
reader never sees half of it and concurrent writers (any process) are serialised."""

from __future__ import annotations

CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# ARGV: seq1, json1, seq2, json2, ... (already checked to be increasing by the caller).
# Returns {1} when stored, {0, last_seq} when the batch does not follow, {-1} unknown run.
# Publishes the last seq on the channel named like the stream, for followers (tail).
APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local last = 0
if #top > 0 then last = tonumber(string.match(top[1][1], '^(%d+)')) end
if #ARGV > 0 and tonumber(ARGV[1]) <= last then return {0, last} end
for i = 1, #ARGV, 2 do
  redis.call('XADD', KEYS[2], ARGV[i] .. '-0', 'e', ARGV[i + 1])
end
if #ARGV > 0 then redis.call('PUBLISH', KEYS[2], ARGV[#ARGV - 1]) end
return {1}
"""

# KEYS: run hash; ARGV: owner, now, lease_until, replace (the holder it may take over
# from; the owner itself when none). Returns 1 taken, 0 held by another, -1
# unknown run.
ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local lease = redis.call('HMGET', KEYS[1], 'owner', 'lease_until')
local holder = lease[1] or ''
local expiry = tonumber(lease[2] or '0') or 0
if holder == '' or holder == ARGV[1] or holder == ARGV[4] or expiry < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'lease_until', ARGV[3])
  return 1
end
return 0
"""

# KEYS: run hash; ARGV: owner. Returns -1 for an unknown run.
RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'owner', '', 'lease_until', '0.0')
  return 1
end
return 0
"""

# Publishes the status on the channel named like the run's hash, for followers (tail).
SET_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'error', ARGV[2], 'updated_at', ARGV[3])
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""

# KEYS: run hash, events stream, runs index; ARGV: run_id, then the prunable statuses.
# Deletes the run (all three keys' parts at once) only if its status is still one of them.
PRUNE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
for i = 2, #ARGV do
  if ARGV[i] == status then
    redis.call('DEL', KEYS[1], KEYS[2])
    redis.call('ZREM', KEYS[3], ARGV[1])
    return 1
  end
end
return 0
"""
