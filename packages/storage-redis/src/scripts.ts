import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  OUTBOX_ADD,
  OUTBOX_CLAIM,
  OUTBOX_COMPLETE,
  OUTBOX_FUNCTIONS,
  OUTBOX_RESCHEDULE,
  OUTBOX_RETRY,
} from './outbox-lua.js';

/**
 * Every write that touches several keys, or patches a record that must exist, is one Lua
 * script: Redis runs it atomically, so concurrent patches of different fields never lose one
 * another and indexes never disagree with the records. Scripts receive the key prefix and the
 * retention in ARGV[1] and ARGV[2] and build key names from it (see keys.ts), so this storage
 * targets a single Redis (or a primary with replicas), not Redis Cluster.
 */

const PRELUDE = `
local P = ARGV[1]
local TTL = tonumber(ARGV[2])
local EVERY = math.max(1, math.min(86400, math.floor(TTL / 2)))
-- Keys owned by one record outlive the session keys by up to EVERY seconds, so a session
-- never loses old messages before it expires itself (see touch).
local LONG = TTL + EVERY

local function startsWith(s, p)
  return string.sub(s, 1, #p) == p
end

local function expireLong(key)
  if TTL > 0 then redis.call('EXPIRE', key, LONG) end
end

local function dropIfOwned(key, owner)
  if redis.call('GET', key) == owner then redis.call('DEL', key) end
end

-- A session exists when its hash has '_vid' (written by putSession). The hash alone is not
-- enough: nextSeq may create one holding only '_seq' for messages of an unknown session.
local function sessionExists(sk)
  return redis.call('HEXISTS', sk, '_vid') == 1
end

-- The session's next message sequence number, counted in its hash, so the number and the
-- write that carries it are one atomic step (no two writes of a session share a number, and
-- a reader never sees a number before the message that has it).
local function nextSeq(sid, mid)
  local seq = redis.call('HINCRBY', P .. 'session:' .. sid, '_seq', 1)
  redis.call('ZADD', P .. 'seqs:' .. sid, seq, mid)
  return seq
end

-- Retention: activity pushes back the expiry of the session's own keys every time, and of
-- every message, attachment and bridge reference key at most once per EVERY seconds.
local function touch(sid)
  if TTL <= 0 then return end
  local sk = P .. 'session:' .. sid
  if redis.call('EXISTS', sk) == 0 then return end
  redis.call('EXPIRE', sk, TTL)
  redis.call('EXPIRE', P .. 'history:' .. sid, TTL)
  redis.call('EXPIRE', P .. 'changes:' .. sid, TTL)
  redis.call('EXPIRE', P .. 'seqs:' .. sid, TTL)
  redis.call('EXPIRE', P .. 'attachments:' .. sid, TTL)
  local vid = redis.call('HGET', sk, '_vid')
  if vid then redis.call('EXPIRE', P .. 'visitor:' .. vid, TTL) end
  local now = tonumber(redis.call('TIME')[1])
  local last = tonumber(redis.call('HGET', sk, '_refreshed') or '0')
  if now - last < EVERY then return end
  redis.call('HSET', sk, '_refreshed', now)
  local fields = redis.call('HGETALL', sk)
  for i = 1, #fields, 2 do
    if startsWith(fields[i], 'bt:') then
      redis.call('EXPIRE', P .. 'thread:' .. string.sub(fields[i], 4) .. ':' .. fields[i + 1], LONG)
    end
  end
  for _, mid in ipairs(redis.call('ZRANGE', P .. 'history:' .. sid, 0, -1)) do
    local mk = P .. 'message:' .. mid
    redis.call('EXPIRE', mk, LONG)
    for _, f in ipairs(redis.call('HKEYS', mk)) do
      if startsWith(f, 'bm:') then
        redis.call('EXPIRE', P .. 'bridgemsg:' .. string.sub(f, 4) .. ':' .. redis.call('HGET', mk, f), LONG)
      end
    end
  end
  for _, aid in ipairs(redis.call('SMEMBERS', P .. 'attachments:' .. sid)) do
    redis.call('EXPIRE', P .. 'attachment:' .. aid, LONG)
  end
end
`;

/** ARGV: P TTL sid visitorId createdAtMs lastActivityMs status nThreads [bridge threadId]... [field value]... */
const PUT_SESSION = `
local sid, vid, status = ARGV[3], ARGV[4], ARGV[7]
local sk = P .. 'session:' .. sid
local old = redis.call('HGETALL', sk)
local args = { '_vid', vid }
for i = 1, #old, 2 do
  if startsWith(old[i], 'bt:') then
    dropIfOwned(P .. 'thread:' .. string.sub(old[i], 4) .. ':' .. old[i + 1], sid)
  elseif old[i] == '_vid' and old[i + 1] ~= vid then
    redis.call('ZREM', P .. 'visitor:' .. old[i + 1], sid)
  elseif old[i] == '_seq' then
    -- Replacing a session keeps its sequence: numbers already handed out stay below new ones.
    table.insert(args, '_seq')
    table.insert(args, old[i + 1])
  end
end
if #old > 0 then redis.call('DEL', sk) end
local i = 9
for _ = 1, tonumber(ARGV[8]) do
  table.insert(args, 'bt:' .. ARGV[i])
  table.insert(args, ARGV[i + 1])
  local tk = P .. 'thread:' .. ARGV[i] .. ':' .. ARGV[i + 1]
  redis.call('SET', tk, sid)
  expireLong(tk)
  i = i + 2
end
for j = i, #ARGV do table.insert(args, ARGV[j]) end
if TTL > 0 then
  table.insert(args, '_refreshed')
  table.insert(args, redis.call('TIME')[1])
end
redis.call('HSET', sk, unpack(args))
redis.call('ZADD', P .. 'sessions', ARGV[6], sid)
redis.call('ZREM', P .. 'sessions:open', sid)
redis.call('ZREM', P .. 'sessions:closed', sid)
if status == 'open' or status == 'closed' then redis.call('ZADD', P .. 'sessions:' .. status, ARGV[6], sid) end
redis.call('ZADD', P .. 'visitor:' .. vid, ARGV[5], sid)
touch(sid)
return 1
`;

/**
 * The two halves of a message write with its session patch (`saveMessageWithSession`), also
 * used on their own by `saveMessage` and `updateSession`. Neither calls `touch`: each script
 * does it once at its end.
 */
const WRITE_FUNCTIONS = `
-- A new lastActivity moves the session in the activity indexes (the per-status ones only when
-- it is in them).
local function indexActivity(sid, la)
  redis.call('ZADD', P .. 'sessions', la, sid)
  redis.call('ZADD', P .. 'sessions:open', 'XX', la, sid)
  redis.call('ZADD', P .. 'sessions:closed', 'XX', la, sid)
end

-- ARGV from i: mid sid timestampMs updatedAtMs nBridgeIds [bridge platformId]... [field value]...
-- up to ARGV[last]. Stores the message and returns its new sequence number.
local function putMessage(i, last)
  local mid, sid = ARGV[i], ARGV[i + 1]
  local mk = P .. 'message:' .. mid
  local old = redis.call('HGETALL', mk)
  for k = 1, #old, 2 do
    if startsWith(old[k], 'bm:') then
      dropIfOwned(P .. 'bridgemsg:' .. string.sub(old[k], 4) .. ':' .. old[k + 1], mid)
    elseif old[k] == '_sid' and old[k + 1] ~= sid then
      redis.call('ZREM', P .. 'history:' .. old[k + 1], mid)
      redis.call('ZREM', P .. 'changes:' .. old[k + 1], mid)
      redis.call('ZREM', P .. 'seqs:' .. old[k + 1], mid)
    end
  end
  if #old > 0 then redis.call('DEL', mk) end
  local args = { '_sid', sid }
  local j = i + 5
  for _ = 1, tonumber(ARGV[i + 4]) do
    table.insert(args, 'bm:' .. ARGV[j])
    table.insert(args, ARGV[j + 1])
    local bk = P .. 'bridgemsg:' .. ARGV[j] .. ':' .. ARGV[j + 1]
    redis.call('SET', bk, mid)
    expireLong(bk)
    j = j + 2
  end
  for k = j, last do table.insert(args, ARGV[k]) end
  local seq = nextSeq(sid, mid)
  table.insert(args, 'seq')
  table.insert(args, tostring(seq))
  redis.call('HSET', mk, unpack(args))
  expireLong(mk)
  redis.call('ZADD', P .. 'history:' .. sid, ARGV[i + 2], mid)
  redis.call('ZADD', P .. 'changes:' .. sid, ARGV[i + 3], mid)
  return seq
end

-- ARGV from i: lastActivityMs|'' status|'' replaceThreads(0|1) nThreads [bridge threadId]...
-- [field value]... up to the end. Patches session sid; false when it does not exist.
local function patchSession(sid, i)
  local la, status = ARGV[i], ARGV[i + 1]
  local sk = P .. 'session:' .. sid
  if not sessionExists(sk) then return false end
  local j = i + 4
  if ARGV[i + 2] == '1' then
    local old = redis.call('HGETALL', sk)
    for k = 1, #old, 2 do
      if startsWith(old[k], 'bt:') then
        dropIfOwned(P .. 'thread:' .. string.sub(old[k], 4) .. ':' .. old[k + 1], sid)
        redis.call('HDEL', sk, old[k])
      end
    end
    for _ = 1, tonumber(ARGV[i + 3]) do
      local tk = P .. 'thread:' .. ARGV[j] .. ':' .. ARGV[j + 1]
      redis.call('HSET', sk, 'bt:' .. ARGV[j], ARGV[j + 1])
      redis.call('SET', tk, sid)
      expireLong(tk)
      j = j + 2
    end
  end
  if j <= #ARGV then redis.call('HSET', sk, unpack(ARGV, j)) end
  if la ~= '' then indexActivity(sid, la) end
  if status ~= '' then
    local score = la
    if score == '' then score = redis.call('ZSCORE', P .. 'sessions', sid) end
    redis.call('ZREM', P .. 'sessions:open', sid)
    redis.call('ZREM', P .. 'sessions:closed', sid)
    if score and (status == 'open' or status == 'closed') then
      redis.call('ZADD', P .. 'sessions:' .. status, score, sid)
    end
  end
  return true
end
`;

/** ARGV: P TTL sid lastActivityMs|'' status|'' replaceThreads(0|1) nThreads [bridge threadId]... [field value]... */
const PATCH_SESSION = `
local sid = ARGV[3]
if not patchSession(sid, 4) then return false end
touch(sid)
return redis.call('HGETALL', P .. 'session:' .. sid)
`;

/**
 * ARGV: P TTL sid visitorId lastActivityMs lastActivityJson nKeep [keepKey]... [key valueJson]...
 * A returning visitor's `/connect`: when the session belongs to visitorId, merges the given
 * metadata members into the stored metadata (stored members named in keepKeys stay), sets
 * lastActivity and returns the session hash; false otherwise. The stored metadata is split into
 * its top-level members as raw JSON text and never decoded: cjson would turn `[]` into `{}`
 * and round numbers to 14 digits.
 */
const TOUCH_SESSION = `
local BS = string.char(92)
local STRING_STOP = '["' .. BS .. ']'
local NEST_STOP = '["{}%[%]]'

-- Index of the quote that closes the JSON string opening at s[i].
local function stringEnd(s, i)
  local j = i + 1
  while true do
    local k = string.find(s, STRING_STOP, j)
    if not k then return #s end
    if string.sub(s, k, k) == '"' then return k end
    j = k + 2
  end
end

-- Index of the last character of the JSON value starting at s[i].
local function valueEnd(s, i)
  local c = string.sub(s, i, i)
  if c == '"' then return stringEnd(s, i) end
  if c == '{' or c == '[' then
    local depth, j = 0, i
    while true do
      local k = string.find(s, NEST_STOP, j)
      if not k then return #s end
      local d = string.sub(s, k, k)
      if d == '"' then
        k = stringEnd(s, k)
      elseif d == '{' or d == '[' then
        depth = depth + 1
      else
        depth = depth - 1
        if depth == 0 then return k end
      end
      j = k + 1
    end
  end
  local k = string.find(s, '[,}%s]', i)
  if not k then return #s end
  return k - 1
end

local sid, vid, la = ARGV[3], ARGV[4], ARGV[5]
local sk = P .. 'session:' .. sid
if redis.call('HGET', sk, '_vid') ~= vid then return false end
local keep = {}
local n = tonumber(ARGV[7])
for j = 8, 7 + n do keep[ARGV[j]] = true end

-- The stored members, in order: raw key text, raw value text; by decoded key.
local rawKeys, values, index = {}, {}, {}
local s = redis.call('HGET', sk, 'metadata')
local j = s and string.find(s, '{', 1, true)
while j do
  local k = string.find(s, '["}]', j + 1)
  if not k or string.sub(s, k, k) == '}' then break end
  local ke = stringEnd(s, k)
  local colon = string.find(s, ':', ke + 1, true)
  local vs = colon and string.find(s, '%S', colon + 1)
  if not vs then break end
  local ve = valueEnd(s, vs)
  local raw = string.sub(s, k, ke)
  local key = string.sub(raw, 2, -2)
  if string.find(key, BS, 1, true) then key = cjson.decode(raw) end
  rawKeys[#rawKeys + 1] = raw
  values[#rawKeys] = string.sub(s, vs, ve)
  index[key] = #rawKeys
  j = ve
end
for m = 8 + n, #ARGV, 2 do
  local key = ARGV[m]
  local at = index[key]
  if not at then
    rawKeys[#rawKeys + 1] = cjson.encode(key)
    values[#rawKeys] = ARGV[m + 1]
    index[key] = #rawKeys
  elseif not keep[key] then
    values[at] = ARGV[m + 1]
  end
end
local parts = {}
for m = 1, #rawKeys do parts[m] = rawKeys[m] .. ':' .. values[m] end

redis.call('HSET', sk, 'lastActivity', ARGV[6], 'metadata', '{' .. table.concat(parts, ',') .. '}')
indexActivity(sid, la)
touch(sid)
return redis.call('HGETALL', sk)
`;

/** ARGV: P TTL sid bridge set(0|1) threadId */
const SET_THREAD = `
local sid, bridge = ARGV[3], ARGV[4]
local sk = P .. 'session:' .. sid
if not sessionExists(sk) then return 0 end
local field = 'bt:' .. bridge
local old = redis.call('HGET', sk, field)
if old then dropIfOwned(P .. 'thread:' .. bridge .. ':' .. old, sid) end
if ARGV[5] == '1' then
  local tk = P .. 'thread:' .. bridge .. ':' .. ARGV[6]
  redis.call('HSET', sk, field, ARGV[6])
  redis.call('SET', tk, sid)
  expireLong(tk)
else
  redis.call('HDEL', sk, field)
end
return 1
`;

/**
 * ARGV: P TTL mid sid timestampMs updatedAtMs nBridgeIds [bridge platformId]... [field value]...
 * Returns the message's new sequence number.
 */
const PUT_MESSAGE = `
local seq = putMessage(3, #ARGV)
touch(ARGV[4])
return seq
`;

/**
 * ARGV: P TTL nMessageArgs <message: mid sid timestampMs updatedAtMs nBridgeIds [bridge
 * platformId]... [field value]..., nMessageArgs values> <session patch: lastActivityMs|''
 * status|'' replaceThreads(0|1) nThreads [bridge threadId]... [field value]...>.
 * Stores the message (next seq of its session) and patches its session in one atomic step.
 * Returns { seq, session hash }, or false (nil) and stores nothing when the session does not
 * exist.
 */
const SAVE_MESSAGE_WITH_SESSION = `
local last = 3 + tonumber(ARGV[3])
local sid = ARGV[5]
if redis.call('EXISTS', P .. 'session:' .. sid) == 0 then return false end
local seq = putMessage(4, last)
patchSession(sid, last + 1)
touch(sid)
return { seq, redis.call('HGETALL', P .. 'session:' .. sid) }
`;

/**
 * ARGV: P TTL mid updatedAtMs|'' replaceBridgeIds(0|1) nBridgeIds [bridge platformId]... [field value]...
 * Gives the message its session's next sequence number.
 */
const PATCH_MESSAGE = `
local mid = ARGV[3]
local mk = P .. 'message:' .. mid
if redis.call('EXISTS', mk) == 0 then return false end
local sid = redis.call('HGET', mk, '_sid')
local i = 7
if ARGV[5] == '1' then
  for _, f in ipairs(redis.call('HKEYS', mk)) do
    if startsWith(f, 'bm:') then
      dropIfOwned(P .. 'bridgemsg:' .. string.sub(f, 4) .. ':' .. redis.call('HGET', mk, f), mid)
      redis.call('HDEL', mk, f)
    end
  end
  for _ = 1, tonumber(ARGV[6]) do
    local bk = P .. 'bridgemsg:' .. ARGV[i] .. ':' .. ARGV[i + 1]
    redis.call('HSET', mk, 'bm:' .. ARGV[i], ARGV[i + 1])
    redis.call('SET', bk, mid)
    expireLong(bk)
    i = i + 2
  end
end
if i <= #ARGV then redis.call('HSET', mk, unpack(ARGV, i)) end
if sid then
  redis.call('HSET', mk, 'seq', tostring(nextSeq(sid, mid)))
  if ARGV[4] ~= '' then redis.call('ZADD', P .. 'changes:' .. sid, ARGV[4], mid) end
  touch(sid)
end
return redis.call('HGETALL', mk)
`;

/** ARGV: P TTL mid bridge platformId */
const SET_BRIDGE_MESSAGE = `
local mid, bridge, pid = ARGV[3], ARGV[4], ARGV[5]
local mk = P .. 'message:' .. mid
if redis.call('EXISTS', mk) == 0 then return 0 end
local field = 'bm:' .. bridge
local old = redis.call('HGET', mk, field)
if old then dropIfOwned(P .. 'bridgemsg:' .. bridge .. ':' .. old, mid) end
local bk = P .. 'bridgemsg:' .. bridge .. ':' .. pid
redis.call('HSET', mk, field, pid)
redis.call('SET', bk, mid)
expireLong(bk)
return 1
`;

/** ARGV: P TTL aid sid [field value]... */
const PUT_ATTACHMENT = `
local aid, sid = ARGV[3], ARGV[4]
local ak = P .. 'attachment:' .. aid
local oldSid = redis.call('HGET', ak, '_sid')
if oldSid and oldSid ~= sid then redis.call('SREM', P .. 'attachments:' .. oldSid, aid) end
redis.call('DEL', ak)
redis.call('HSET', ak, '_sid', sid, unpack(ARGV, 5))
expireLong(ak)
redis.call('SADD', P .. 'attachments:' .. sid, aid)
expireLong(P .. 'attachments:' .. sid)
return 1
`;

/** ARGV: P TTL aid [field value]... */
const PATCH_ATTACHMENT = `
local ak = P .. 'attachment:' .. ARGV[3]
if redis.call('EXISTS', ak) == 0 then return false end
if #ARGV >= 4 then redis.call('HSET', ak, unpack(ARGV, 4)) end
return redis.call('HGETALL', ak)
`;

/** ARGV: P TTL sid. Returns 1 when the session existed. Outbox records of the id go in any case. */
const DELETE_SESSION = `
local sid = ARGV[3]
local sk = P .. 'session:' .. sid
local existed = 0
if sessionExists(sk) then existed = 1 end
local fields = redis.call('HGETALL', sk)
for i = 1, #fields, 2 do
  if startsWith(fields[i], 'bt:') then
    dropIfOwned(P .. 'thread:' .. string.sub(fields[i], 4) .. ':' .. fields[i + 1], sid)
  elseif fields[i] == '_vid' then
    redis.call('ZREM', P .. 'visitor:' .. fields[i + 1], sid)
  end
end
for _, mid in ipairs(redis.call('ZRANGE', P .. 'history:' .. sid, 0, -1)) do
  local mk = P .. 'message:' .. mid
  for _, f in ipairs(redis.call('HKEYS', mk)) do
    if startsWith(f, 'bm:') then
      dropIfOwned(P .. 'bridgemsg:' .. string.sub(f, 4) .. ':' .. redis.call('HGET', mk, f), mid)
    end
  end
  redis.call('DEL', mk)
end
for _, aid in ipairs(redis.call('SMEMBERS', P .. 'attachments:' .. sid)) do
  redis.call('DEL', P .. 'attachment:' .. aid)
end
redis.call('DEL', sk, P .. 'history:' .. sid, P .. 'changes:' .. sid, P .. 'seqs:' .. sid, P .. 'attachments:' .. sid)
redis.call('ZREM', P .. 'sessions', sid)
redis.call('ZREM', P .. 'sessions:open', sid)
redis.call('ZREM', P .. 'sessions:closed', sid)
dropSessionOutbox(sid)
return existed
`;

/**
 * ARGV: P TTL name owner ttlMs. Takes a free lease, or renews one `owner` holds; 1 when `owner`
 * holds it afterwards. An expired lease is a missing key (Redis expires it on its own clock).
 */
const LEASE_ACQUIRE = `
local k = P .. 'lease:' .. ARGV[3]
local holder = redis.call('GET', k)
if not holder then
  redis.call('SET', k, ARGV[4], 'PX', ARGV[5])
  return 1
end
if holder == ARGV[4] then
  redis.call('PEXPIRE', k, ARGV[5])
  return 1
end
return 0
`;

/** ARGV: P TTL name owner. Deletes the lease only while `owner` holds it. */
const LEASE_RELEASE = `
dropIfOwned(P .. 'lease:' .. ARGV[3], ARGV[4])
return 1
`;

/**
 * A Lua script run by its SHA1, loaded on first use (and again after a SCRIPT FLUSH or a
 * restart). Written here because ioredis only offers `defineCommand`, which would add methods
 * to a client that may belong to the application.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, args: (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, 0, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, 0, ...args);
    }
  }
}

const script = (body: string) => new LuaScript(PRELUDE + body);
const writeScript = (body: string) => new LuaScript(PRELUDE + WRITE_FUNCTIONS + body);
const outboxScript = (body: string) => new LuaScript(PRELUDE + OUTBOX_FUNCTIONS + body);

/** The storage's scripts. */
export const SCRIPTS = {
  putSession: script(PUT_SESSION),
  patchSession: writeScript(PATCH_SESSION),
  touchSession: writeScript(TOUCH_SESSION),
  setThread: script(SET_THREAD),
  putMessage: writeScript(PUT_MESSAGE),
  saveMessageWithSession: writeScript(SAVE_MESSAGE_WITH_SESSION),
  patchMessage: script(PATCH_MESSAGE),
  setBridgeMessage: script(SET_BRIDGE_MESSAGE),
  putAttachment: script(PUT_ATTACHMENT),
  patchAttachment: script(PATCH_ATTACHMENT),
  deleteSession: outboxScript(DELETE_SESSION),
  outboxAdd: outboxScript(OUTBOX_ADD),
  outboxClaim: outboxScript(OUTBOX_CLAIM),
  outboxComplete: outboxScript(OUTBOX_COMPLETE),
  outboxReschedule: outboxScript(OUTBOX_RESCHEDULE),
  outboxRetry: outboxScript(OUTBOX_RETRY),
  leaseAcquire: script(LEASE_ACQUIRE),
  leaseRelease: script(LEASE_RELEASE),
};
