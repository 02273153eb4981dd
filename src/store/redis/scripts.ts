// Lua scripts: every update of shared state is one atomic script on one slot. Rows use the engine's own
// 46-byte layout (src/detect/ip-table.ts): five u32 little-endian (lastSec, blockedUntilSec, spray sketch cur,
// prev, stuffing sketch cur:prev), then 26 bytes (7 counter pairs cur, prev; flags; the 11-slot short ring).

const ROW_LIB = `
local function parse(s)
  local u, b = {0, 0, 0, 0, 0}, {}
  for i = 1, 26 do b[i] = 0 end
  if s then
    u[1], u[2], u[3], u[4], u[5] = struct.unpack('<I4I4I4I4I4', s)
    for i = 1, 26 do b[i] = string.byte(s, 20 + i) end
  end
  return u, b
end
local function pack(u, b)
  return struct.pack('<I4I4I4I4I4', u[1], u[2], u[3], u[4], u[5]) .. string.char(unpack(b))
end
-- Kept while a window holds data, a block runs or an offence is remembered (the engine's sweep rule).
local function ttl(u, b, idle, offMem, now)
  local at = u[1] + idle
  if u[2] > at then at = u[2] end
  if b[15] % 16 > 0 and u[2] + offMem > at then at = u[2] + offMem end
  local t = at - now
  if t < 1 then t = 1 end
  return t
end
`;

/**
 * record: batches of sign-in events for one or more clients (one client per call in a Cluster, where each
 * client's keys are on their own slot), each applied in order. Returns, per client in KEYS order, its new row
 * and the (username hash, failures) pairs the batch changed (0: reset by a success), flat.
 * KEYS: row, pairs for each client. ARGV: 7 window widths (s: short, medium, long, unknown users, spray,
 * stuffing, account), idle (s), offence memory (s), caller's now (s), pair cap, then the events as one binary
 * string: per client (KEYS order) its event count (u16), then 10 bytes per event: kind (u8: 1 attempt,
 * 2 failure, 3 success, 4 failure for an unknown user; +128 when a username hash follows), sketch bit (u8,
 * 255 none), second (u32), username hash (u32). Binary because bytes on the wire cost the most here.
 */
export const RECORD_LUA = `${ROW_LIB}
local W = {}
for i = 1, 7 do W[i] = tonumber(ARGV[i]) end
local idle, offMem, now, cap = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
-- counter pairs: 1-based offset of the current bucket, window (pair 1: refused attempts)
local PAIRS = {{1, 2}, {3, 2}, {5, 2}, {7, 3}, {9, 4}, {11, 6}, {13, 7}}
-- the short window's ring: 11 one-byte sub-buckets from 1-based offset 16, each G seconds wide
local G = math.ceil(W[1] / 10)
local function ringAt(sec) return 16 + math.floor(sec / G) % 11 end
local blob, pos = ARGV[12], 1
local function record(rowKey, pairsKey, n)
  local s = redis.call('GET', rowKey)
  local u, b = parse(s)
  local fresh = not s
  local function touch(sec)
    if fresh then u[1] = sec; fresh = false; return end
    local last = u[1]
    if sec <= last then return end
    for _, p in ipairs(PAIRS) do
      local w = W[p[2]]
      local d = math.floor(sec / w) - math.floor(last / w)
      if d > 0 then
        if d == 1 then b[p[1] + 1] = b[p[1]] else b[p[1] + 1] = 0 end
        b[p[1]] = 0
      end
    end
    local li = math.floor(last / G)
    local steps = math.min(math.floor(sec / G) - li, 11)
    for k = 1, steps do b[16 + (li + k) % 11] = 0 end
    local ds = math.floor(sec / W[5]) - math.floor(last / W[5])
    if ds == 1 then u[4] = u[3]; u[3] = 0 elseif ds > 1 then u[3] = 0; u[4] = 0 end
    local du = math.floor(sec / W[6]) - math.floor(last / W[6])
    if du == 1 then u[5] = (u[5] % 65536) * 65536 elseif du > 1 then u[5] = 0 end
    u[1] = sec
  end
  local function inc(o) if b[o] < 255 then b[o] = b[o] + 1 end end
  local function setbit(i, bitIndex)
    local v = bit.bor(u[i], bit.lshift(1, bitIndex))
    if v < 0 then v = v + 4294967296 end
    u[i] = v
  end
  local pairsTouched, changed = false, {}
  for _ = 1, n do
    local kind, bitIndex, sec, h
    kind, bitIndex, sec, h, pos = struct.unpack('<BBI4I4', blob, pos)
    local uh = ''
    if kind >= 128 then kind = kind - 128; uh = string.format('%d', h) end
    if bitIndex == 255 then bitIndex = -1 end
    touch(sec)
    if kind == 1 then
      inc(11)
      if bitIndex >= 0 then setbit(5, bitIndex) end
    elseif kind == 2 or kind == 4 then
      inc(ringAt(u[1])); inc(3); inc(7)
      if kind == 4 then inc(9) end
      if uh ~= '' then
        setbit(3, bitIndex)
        local v = redis.call('HGET', pairsKey, uh)
        local c, last = nil, sec
        if v then
          v = tonumber(v)
          last = math.floor(v / 256)
          c = v % 256
          if sec - last >= W[7] then c = 0 end
        elseif redis.call('HLEN', pairsKey) < cap then
          c = 0
        end
        if c then
          c = math.min(c + 1, 255)
          if sec > last then last = sec end
          redis.call('HSET', pairsKey, uh, last * 256 + c)
          pairsTouched = true
          changed[#changed + 1] = h
          changed[#changed + 1] = c
          if b[13] < c then b[13] = c end
        end
      end
    elseif kind == 3 then
      inc(5)
      if bit.band(b[15], 64) == 0 then b[15] = b[15] + 64 end
      if uh ~= '' then
        redis.call('HDEL', pairsKey, uh)
        changed[#changed + 1] = h
        changed[#changed + 1] = 0
      end
    end
  end
  local out = pack(u, b)
  redis.call('SET', rowKey, out, 'EX', ttl(u, b, idle, offMem, now))
  if pairsTouched then redis.call('EXPIRE', pairsKey, W[7]) end
  return out, changed
end
local rows = {}
for c = 1, #KEYS, 2 do
  local n
  n, pos = struct.unpack('<I2', blob, pos)
  local row, changed = record(KEYS[c], KEYS[c + 1], n)
  rows[#rows + 1] = row
  rows[#rows + 1] = changed
end
return rows
`;

/**
 * block: compare-and-set of a row's block fields. KEYS: row. ARGV: expected blockedUntilSec, expected flags,
 * new blockedUntilSec, new flags, idle (s), offence memory (s), caller's now (s). Returns {1, row} when set,
 * {0, row} when the row changed meanwhile (the caller decides again), {0} when the row is gone.
 */
export const BLOCK_LUA = `${ROW_LIB}
local s = redis.call('GET', KEYS[1])
if not s then return {0} end
local u, b = parse(s)
if u[2] ~= tonumber(ARGV[1]) or b[15] ~= tonumber(ARGV[2]) then return {0, s} end
u[2] = tonumber(ARGV[3])
b[15] = tonumber(ARGV[4])
local out = pack(u, b)
redis.call('SET', KEYS[1], out, 'EX', ttl(u, b, tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])))
return {1, out}
`;

/**
 * share: a block this replica holds and Redis lacks (made during an outage, or Redis lost its data). KEYS: row.
 * ARGV: the local row, idle (s), offence memory (s), caller's now (s). A missing row becomes the local one;
 * otherwise the stored counters stay and the block (until, level, offences) is taken if it ends later.
 * Returns {1, row} when changed, {0, row} when Redis already had a block as long.
 */
export const SHARE_LUA = `${ROW_LIB}
local mu, mb = parse(ARGV[1])
local s = redis.call('GET', KEYS[1])
local u, b
if s then
  u, b = parse(s)
  if mu[2] <= u[2] then return {0, s} end
  u[2] = mu[2]
  b[15] = bit.bor(bit.band(mb[15], 63), bit.band(bit.bor(b[15], mb[15]), 64))
else
  u, b = mu, mb
end
local out = pack(u, b)
redis.call('SET', KEYS[1], out, 'EX', ttl(u, b, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])))
return {1, out}
`;

/** org_add: adds one replica's counts to a shared Org Under Attack bucket. KEYS: bucket, sketch. ARGV: ttl, failures, successes, unknown, sketch bits... */
export const ORG_ADD_LUA = `
local ttl = tonumber(ARGV[1])
redis.call('HINCRBY', KEYS[1], 'f', ARGV[2])
redis.call('HINCRBY', KEYS[1], 's', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'u', ARGV[4])
redis.call('EXPIRE', KEYS[1], ttl)
if #ARGV > 4 then
  for i = 5, #ARGV do redis.call('SETBIT', KEYS[2], ARGV[i], 1) end
  redis.call('EXPIRE', KEYS[2], ttl)
end
return 1
`;

/** org_cas: replaces the shared detector state if its version is still the expected one. KEYS: state. ARGV: version, state JSON, ttl. */
export const ORG_CAS_LUA = `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', v + 1, 's', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return v + 1
`;

export const SCRIPTS = { record: RECORD_LUA, block: BLOCK_LUA, share: SHARE_LUA, orgAdd: ORG_ADD_LUA, orgCas: ORG_CAS_LUA } as const;
export type ScriptName = keyof typeof SCRIPTS;
