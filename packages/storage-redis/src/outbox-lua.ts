/**
 * Lua of the durable outbox (see keys.ts for the layout). Every change to a record and its
 * indexes is one script, so a claim can never see a half-made change, and claims are atomic.
 *
 * The claim does not walk lanes: `outbox:lanes` scores each lane with pending records by the
 * instant its head can next be claimed (its `nextAttemptAt`, or its lease expiry when that is
 * later). Every script that changes a lane's head or its lease rescores the lane, so a claim is
 * one `ZRANGEBYSCORE lanes -inf now LIMIT 0 limit` plus one check per lane returned:
 * O(log lanes + limit), however many lanes wait in backoff. Lanes whose head the claiming
 * owner already leases are found through that owner's `outbox:held:<owner>` set, so the owner
 * may claim them again.
 *
 * These helpers need PRELUDE (for `P`) before them.
 */
export const OUTBOX_FUNCTIONS = `
local OB = P .. 'outbox:'

-- Scores a lane by when its head can next be claimed, or drops it when nothing is pending.
local function rescoreLane(name)
  local lk = OB .. 'lane:' .. name
  while true do
    local head = redis.call('ZRANGE', lk, 0, 0)[1]
    if not head then
      redis.call('ZREM', OB .. 'lanes', name)
      return
    end
    local f = redis.call('HMGET', OB .. 'rec:' .. head, 'next', 'owner', 'until')
    if f[1] then
      local at = f[1]
      if f[2] and f[3] and tonumber(f[3]) > tonumber(at) then at = f[3] end
      redis.call('ZADD', OB .. 'lanes', at, name)
      return
    end
    -- An index entry without its record (never written by these scripts): drop it.
    redis.call('ZREM', lk, head)
  end
end

-- Clears a record's lease and the owner's hint for its lane.
local function releaseLease(rk, lane)
  local owner = redis.call('HGET', rk, 'owner')
  if owner then redis.call('ZREM', OB .. 'held:' .. owner, lane) end
  redis.call('HDEL', rk, 'owner', 'until')
end

-- Deletes a record and its index entries; returns its lane (to rescore) or false.
local function dropRecord(id)
  local rk = OB .. 'rec:' .. id
  local f = redis.call('HMGET', rk, 'lane', 'sid')
  if not f[1] then return false end
  releaseLease(rk, f[1])
  redis.call('ZREM', OB .. 'lane:' .. f[1], id)
  redis.call('ZREM', OB .. 'pending', id)
  redis.call('ZREM', OB .. 'dead', id)
  redis.call('SREM', OB .. 'session:' .. f[2], id)
  redis.call('DEL', rk)
  return f[1]
end

-- Deletes every outbox record of a session.
local function dropSessionOutbox(sid)
  local lanes = {}
  for _, id in ipairs(redis.call('SMEMBERS', OB .. 'session:' .. sid)) do
    local lane = dropRecord(id)
    if lane then lanes[lane] = true end
  end
  redis.call('DEL', OB .. 'session:' .. sid)
  for lane in pairs(lanes) do rescoreLane(lane) end
end
`;

/**
 * ARGV: P TTL n, then per record: id lane sid seq status nextMs createdMs attempts data
 * err owner untilMs. Optional values are '' when absent; a present error is sent as '=' .. text
 * (an empty error stays distinguishable). Ids already stored are left as they are.
 */
export const OUTBOX_ADD = `
local touched = {}
local i = 4
for _ = 1, tonumber(ARGV[3]) do
  local id, lane, sid, seq, status = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local created, err, owner, untl = ARGV[i + 6], ARGV[i + 9], ARGV[i + 10], ARGV[i + 11]
  local rk = OB .. 'rec:' .. id
  if redis.call('EXISTS', rk) == 0 then
    redis.call('HSET', rk, 'lane', lane, 'sid', sid, 'seq', seq, 'status', status, 'next', ARGV[i + 5],
      'created', created, 'attempts', ARGV[i + 7], 'data', ARGV[i + 8])
    if err ~= '' then redis.call('HSET', rk, 'err', string.sub(err, 2)) end
    if owner ~= '' and untl ~= '' then redis.call('HSET', rk, 'owner', owner, 'until', untl) end
    redis.call('SADD', OB .. 'session:' .. sid, id)
    if status == 'dead' then
      redis.call('ZADD', OB .. 'dead', created, id)
    else
      redis.call('ZADD', OB .. 'pending', created, id)
      redis.call('ZADD', OB .. 'lane:' .. lane, seq, id)
      touched[lane] = true
    end
  end
  i = i + 12
end
for lane in pairs(touched) do rescoreLane(lane) end
return 1
`;

/** ARGV: P TTL owner nowMs untilMs leaseMs limit. Returns the leased records as HGETALL arrays. */
export const OUTBOX_CLAIM = `
-- Instants and sizes go to Redis as the strings received (a Lua number could be formatted
-- with an exponent).
local owner, now, untl = ARGV[3], tonumber(ARGV[4]), ARGV[5]
local leaseMs, limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local held = OB .. 'held:' .. owner
local out = {}

local function tryLease(name)
  local lk = OB .. 'lane:' .. name
  local head = redis.call('ZRANGE', lk, 0, 0)[1]
  if not head then
    redis.call('ZREM', OB .. 'lanes', name)
    return
  end
  local rk = OB .. 'rec:' .. head
  local f = redis.call('HMGET', rk, 'next', 'owner', 'until')
  if not f[1] or tonumber(f[1]) > now or (f[2] and f[2] ~= owner and tonumber(f[3]) > now) then
    redis.call('ZREM', held, name)
    rescoreLane(name)
    return
  end
  if f[2] and f[2] ~= owner then redis.call('ZREM', OB .. 'held:' .. f[2], name) end
  redis.call('HSET', rk, 'owner', owner, 'until', untl)
  redis.call('ZADD', OB .. 'lanes', untl, name)
  redis.call('ZADD', held, untl, name)
  table.insert(out, redis.call('HGETALL', rk))
end

redis.call('ZREMRANGEBYSCORE', held, '-inf', ARGV[4])
for _, name in ipairs(redis.call('ZRANGE', held, 0, limit - 1)) do tryLease(name) end
-- Each lane returned either gets leased (its score moves to untl > now) or is rescored past
-- now or dropped, so every round makes progress.
while #out < limit do
  local names = redis.call('ZRANGEBYSCORE', OB .. 'lanes', '-inf', ARGV[4], 'LIMIT', 0, limit - #out)
  if #names == 0 then break end
  for _, name in ipairs(names) do tryLease(name) end
end
if #out > 0 and redis.call('PTTL', held) < leaseMs then redis.call('PEXPIRE', held, ARGV[6]) end
return out
`;

/** ARGV: P TTL id. */
export const OUTBOX_COMPLETE = `
local lane = dropRecord(ARGV[3])
if lane then rescoreLane(lane) end
return 1
`;

/** ARGV: P TTL id attempts nextMs status err ('' to keep it, or '=' .. text). */
export const OUTBOX_RESCHEDULE = `
local id, status = ARGV[3], ARGV[6]
local rk = OB .. 'rec:' .. id
local f = redis.call('HMGET', rk, 'lane', 'seq', 'created')
if not f[1] then return 0 end
releaseLease(rk, f[1])
redis.call('HSET', rk, 'attempts', ARGV[4], 'next', ARGV[5], 'status', status)
if ARGV[7] ~= '' then redis.call('HSET', rk, 'err', string.sub(ARGV[7], 2)) end
if status == 'dead' then
  redis.call('ZREM', OB .. 'lane:' .. f[1], id)
  redis.call('ZREM', OB .. 'pending', id)
  redis.call('ZADD', OB .. 'dead', f[3], id)
else
  redis.call('ZADD', OB .. 'lane:' .. f[1], f[2], id)
  redis.call('ZREM', OB .. 'dead', id)
  redis.call('ZADD', OB .. 'pending', f[3], id)
end
rescoreLane(f[1])
return 1
`;

/** ARGV: P TTL id nowMs. Returns 1 when a dead record went back to pending. */
export const OUTBOX_RETRY = `
local id = ARGV[3]
local rk = OB .. 'rec:' .. id
local f = redis.call('HMGET', rk, 'lane', 'seq', 'created', 'status')
if not f[1] or f[4] ~= 'dead' then return 0 end
releaseLease(rk, f[1])
redis.call('HSET', rk, 'status', 'pending', 'attempts', '0', 'next', ARGV[4])
redis.call('HDEL', rk, 'err')
redis.call('ZREM', OB .. 'dead', id)
redis.call('ZADD', OB .. 'pending', f[3], id)
redis.call('ZADD', OB .. 'lane:' .. f[1], f[2], id)
rescoreLane(f[1])
return 1
`;
