//! The Lua scripts that make each cluster operation one atomic step in Redis: an emit (count the
//! recipients, sequence, append to the topic logs, publish), a connection's registration and
//! removal, room joins and leaves, and the reads of the recovery logs.
//!
//! Every script works inside one namespace and gets `KEYS = [{P:ns}, epoch key]`,
//! `ARGV = [publish command, ns, ...]`; it derives its key names from `KEYS[1]`, so each one
//! touches the keys of one hash slot. The unit that shares a slot is the namespace, not the
//! topic: an Emit sequences its event once in the namespace and, in the same atomic step, counts
//! the recipients over all its targets and appends to the log of every target topic; an Emit to
//! `room:a` and `user:7` is one script over both topics' keys, which Redis Cluster runs only when
//! they sit in one slot. So in Redis Cluster the namespaces spread over the shards, and one
//! namespace lives on one shard. The layout is the same with a standalone Redis.
//!
//! Key layout, with `B` = `{P:ns}` (`P` the key prefix):
//! - `B:seq` the namespace's sequence (`B:born` where it began), `B:events` the Emits it accepted (for Stats), `B:idem:{key}`
//!   an idempotency key's first answer; the epoch is `{P}:epoch`, the cluster's one, on a
//!   standalone Redis (new when Redis lost it), and `B:epoch`, the namespace's own, in Redis
//!   Cluster, set from the cluster's epoch so that all namespaces normally share one (a shard that
//!   lost a namespace's keys is told by `B:born`);
//! - `B:meta:{topic}` a topic log's epoch, last offset and newest dropped (seq, offset);
//!   `B:log:{topic}` its stream, entry id `{offset}-1`, fields `s` (seq), `t` (ms), `p` (payload);
//! - `B:p:all|u:{user}|r:{room}` connection sets, `B:p:c:{conn}` a connection's user, node and
//!   pid, `B:p:cr:{conn}` its rooms, `B:p:cg:{conn}` those a backend joined, `B:p:ru:{room}` user ->
//!   connections in the room, `B:p:users` user -> connections, `B:p:rooms` room -> connections;
//! - `B:nconns:{node}` the connections a node registered in the namespace (dropped when the node
//!   dies; `{P}:nns:{node}` lists the namespaces to look in);
//! - `B:sess:{pid}` a session for recovery (kept from registration while its connection lives),
//!   `B:sessrooms:{pid}` / `B:sessgranted:{pid}` the rooms its connection was in when it went,
//!   `B:usess:{user}` a user's sessions;
//! - channels `B:ch:{topic}` per topic and `B:ev:{node}` for the `conn:` targets a node holds
//!   (sharded channels in Redis Cluster, on the namespace's shard like its keys); in Redis Cluster,
//!   `B:pat` carries every event of the namespace while `B:patnodes` lists a node with pattern
//!   subscribers (sharded pub/sub has no pattern subscriptions).

/// Shared Lua helpers: set keys of topics.
const PRELUDE: &str = r#"
local PUB, ns, base = ARGV[1], ARGV[2], KEYS[1]
local pre = base .. ':p:'
local function conn_of(topic)
  local kind, name = string.match(topic, '^(%a+):(.*)$')
  if kind == 'conn' then return name end
  return nil
end
local function set_of(topic)
  if topic == '*' then return pre .. 'all' end
  local kind, name = string.match(topic, '^(%a+):(.*)$')
  if kind == 'user' then return pre .. 'u:' .. name end
  if kind == 'room' then return pre .. 'r:' .. name end
  return nil
end
-- Forgets a registered connection; returns the user ('' anonymous), the rooms its user is no
-- longer in, and whether the user went offline.
local function drop_conn(conn)
  local npre = pre
  local ckey = npre .. 'c:' .. conn
  local un = redis.call('HMGET', ckey, 'user', 'node')
  local user = un[1] or ''
  local left, offline = {}, false
  for _, room in ipairs(redis.call('SMEMBERS', npre .. 'cr:' .. conn)) do
    redis.call('SREM', npre .. 'r:' .. room, conn)
    if redis.call('HINCRBY', npre .. 'rooms', room, -1) <= 0 then redis.call('HDEL', npre .. 'rooms', room) end
    if user ~= '' and redis.call('HINCRBY', npre .. 'ru:' .. room, user, -1) <= 0 then
      redis.call('HDEL', npre .. 'ru:' .. room, user)
      left[#left + 1] = room
    end
  end
  redis.call('DEL', npre .. 'cr:' .. conn, npre .. 'cg:' .. conn, ckey)
  redis.call('SREM', npre .. 'all', conn)
  if un[2] then redis.call('SREM', base .. ':nconns:' .. un[2], conn) end
  if user ~= '' then
    redis.call('SREM', npre .. 'u:' .. user, conn)
    if redis.call('HINCRBY', npre .. 'users', user, -1) <= 0 then
      redis.call('HDEL', npre .. 'users', user)
      offline = true
    end
  end
  return user, left, offline
end
-- Keeps the session of a connection that goes away (before drop_conn) for `win` ms with the rooms
-- it is in and those a backend joined it to, or (`win` 0) forgets it.
local function keep_session(conn, pid, win)
  local sess, rooms, granted = base .. ':sess:' .. pid, base .. ':sessrooms:' .. pid, base .. ':sessgranted:' .. pid
  if win <= 0 then
    redis.call('DEL', sess, rooms, granted)
    return
  end
  redis.call('SUNIONSTORE', rooms, pre .. 'cr:' .. conn)
  redis.call('PEXPIRE', rooms, win)
  redis.call('SINTERSTORE', granted, pre .. 'cg:' .. conn, pre .. 'cr:' .. conn)
  redis.call('PEXPIRE', granted, win)
  redis.call('PEXPIRE', sess, win)
end
local function field(entry, name)
  local f = entry[2]
  for j = 1, #f, 2 do if f[j] == name then return f[j + 1] end end
  return nil
end
"#;

/// ARGV: PUB, ns, now_ms, recoverable (0/1), max_events, max_age_ms, want_members (0/1),
/// epoch_candidate, ack_ref, origin_node, body, n_targets, targets..., n_except, except...,
/// idempotency key ('' for none), its window in ms, the event id.
/// Returns {seq, ns_epoch, connections, {epoch:offset...}, {offline users}, {conn, user, node...}},
/// or {'dup', answer} when the idempotency key was used already (the first Emit's answer, JSON).
const EMIT: &str = r#"
local now, recoverable = tonumber(ARGV[3]), ARGV[4] == '1'
local max_events, max_age = tonumber(ARGV[5]), tonumber(ARGV[6])
local want_members, candidate = ARGV[7] == '1', ARGV[8]
local ack_ref, origin, body = ARGV[9], ARGV[10], ARGV[11]
local nt = tonumber(ARGV[12])
local targets, excepts = {}, {}
for i = 1, nt do targets[i] = ARGV[12 + i] end
local ne = tonumber(ARGV[13 + nt])
for i = 1, ne do excepts[i] = ARGV[13 + nt + i] end
local idem, idem_ms, event_id = ARGV[14 + nt + ne], ARGV[15 + nt + ne], ARGV[16 + nt + ne]
local idem_key = base .. ':idem:' .. idem
if idem ~= '' then
  local prev = redis.call('GET', idem_key)
  if prev then return {'dup', prev} end
end

local all = pre .. 'all'
-- Who is excluded: '*' excludes everyone; sets are read only when they must be.
local except_all, except_conns, except_sets = false, {}, {}
for _, t in ipairs(excepts) do
  if t == '*' then except_all = true
  else
    local c = conn_of(t)
    if c then except_conns[c] = true else except_sets[#except_sets + 1] = set_of(t) end
  end
end
local function excluded(c)
  if except_all or except_conns[c] then return true end
  for _, s in ipairs(except_sets) do
    if redis.call('SISMEMBER', s, c) == 1 then return true end
  end
  return false
end

local count, members = 0, {}
if not except_all then
  if nt == 1 and not want_members then
    -- One target: its size, minus the excluded among its members (read from the smaller side).
    local t = targets[1]
    local c = conn_of(t)
    if c then
      if redis.call('SISMEMBER', all, c) == 1 and not excluded(c) then count = 1 end
    else
      local s = set_of(t)
      count = redis.call('SCARD', s)
      if count > 0 and (next(except_conns) ~= nil or #except_sets > 0) then
        local gone = {}
        for x in pairs(except_conns) do
          if redis.call('SISMEMBER', s, x) == 1 then gone[x] = true end
        end
        for _, es in ipairs(except_sets) do
          for _, x in ipairs(redis.call('SINTER', s, es)) do gone[x] = true end
        end
        for _ in pairs(gone) do count = count - 1 end
      end
    end
  else
    local seen = {}
    for _, t in ipairs(targets) do
      local c = conn_of(t)
      local list
      if c then
        list = {}
        if redis.call('SISMEMBER', all, c) == 1 then list[1] = c end
      else
        list = redis.call('SMEMBERS', set_of(t))
      end
      for _, x in ipairs(list) do
        if not seen[x] then
          seen[x] = true
          if not excluded(x) then
            count = count + 1
            if want_members then members[#members + 1] = x end
          end
        end
      end
    end
  end
end
local flat = {}
for _, c in ipairs(members) do
  local un = redis.call('HMGET', pre .. 'c:' .. c, 'user', 'node')
  flat[#flat + 1] = c
  flat[#flat + 1] = un[1] or ''
  flat[#flat + 1] = un[2] or '0'
end
local offline = {}
for _, t in ipairs(targets) do
  local kind, name = string.match(t, '^(%a+):(.*)$')
  if kind == 'user' and redis.call('SCARD', pre .. 'u:' .. name) == 0 then
    offline[#offline + 1] = name
  end
end

local ekey = KEYS[2]
local nsepoch = redis.call('GET', ekey)
if not nsepoch then
  nsepoch = candidate
  redis.call('SET', ekey, nsepoch)
end
local seqkey = base .. ':seq'
if redis.call('EXISTS', seqkey) == 0 then
  -- A new sequence (first use, or Redis lost it) starts from the clock: above any number a lost
  -- one gave out, so that what edges and clients hold stays below it.
  local start = string.format('%.0f', now * 1024)
  redis.call('SET', seqkey, start)
  -- Where this sequence began: a position below it is of keys Redis lost (see REPLAY_SEQ).
  redis.call('SET', base .. ':born', start)
end
local seq = redis.call('INCR', seqkey)
redis.call('INCR', base .. ':events')
-- Lua writes numbers above 10^14 in exponent form: sequence numbers go out as integer text.
local seqs = string.format('%.0f', seq)

local positions, offsets = {}, {}
if recoverable then
  for i, t in ipairs(targets) do
    local meta = base .. ':meta:' .. t
    local ep = redis.call('HGET', meta, 'epoch')
    if not ep then
      ep = candidate .. '-' .. seqs .. '-' .. i
      redis.call('DEL', base .. ':log:' .. t)
      redis.call('HSET', meta, 'epoch', ep, 'last', 0, 'dseq', 0, 'doff', 0)
    end
    offsets[i] = redis.call('HINCRBY', meta, 'last', 1)
    positions[i] = ep .. ':' .. offsets[i]
  end
end
local payload = seqs .. ' ' .. nsepoch .. ' ' .. ack_ref .. ' ' .. origin .. ' 0 ' .. #positions
for _, p in ipairs(positions) do payload = payload .. ' ' .. p end
payload = payload .. '\n' .. body

for i, t in ipairs(targets) do
  if recoverable then
    local meta = base .. ':meta:' .. t
    local log = base .. ':log:' .. t
    redis.call('XADD', log, offsets[i] .. '-1', 's', seqs, 't', ARGV[3], 'p', payload)
    -- Trim to the window (count and age), remembering the newest entry dropped.
    for _ = 1, 64 do
      local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
      if not first then break end
      local old = tonumber(field(first, 't')) < now - max_age
      if not old and redis.call('XLEN', log) <= max_events then break end
      redis.call('XDEL', log, first[1])
      local off = string.match(first[1], '^(%d+)')
      redis.call('HSET', meta, 'dseq', field(first, 's'), 'doff', off)
    end
    redis.call('PEXPIRE', log, max_age + 1000)
    redis.call('PEXPIRE', meta, max_age + 1000)
  end
  local c = conn_of(t)
  if c then
    local node = redis.call('HGET', pre .. 'c:' .. c, 'node')
    if node then redis.call(PUB, base .. ':ev:' .. node, payload) end
  else
    redis.call(PUB, base .. ':ch:' .. t, payload)
  end
end
-- Nodes with pattern subscribers (`prefix*` topics) in Redis Cluster, where sharded pub/sub has no
-- patterns, follow every event of the namespace on one more channel.
if redis.call('SCARD', base .. ':patnodes') > 0 then redis.call(PUB, base .. ':pat', payload) end
if idem ~= '' then
  local answer = cjson.encode({id = event_id, connections = count, positions = positions, offline = offline})
  redis.call('SET', idem_key, answer, 'PX', idem_ms)
end
return {seq, nsepoch, count, positions, offline, flat}
"#;

/// ARGV: PUB, ns, conn, user ('' anonymous), node, max connections per user (0: no limit), pid
/// ('' without recovery), session record (JSON, kept while the connection lives).
/// Returns {floor_seq} or {-1} over the user limit, {-2} already registered on this node. A
/// registration of the same connection on another node (a client that came back elsewhere before
/// its old node noticed) replaces it.
const REGISTER: &str = r#"
local conn, user, node, max, pid, session = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8]
local ckey = pre .. 'c:' .. conn
local old = redis.call('HGET', ckey, 'node')
if old == node then return {-2} end
if old then drop_conn(conn) end
if user ~= '' then
  if max > 0 and redis.call('SCARD', pre .. 'u:' .. user) >= max then return {-1} end
  redis.call('SADD', pre .. 'u:' .. user, conn)
  redis.call('HINCRBY', pre .. 'users', user, 1)
end
redis.call('SADD', pre .. 'all', conn)
redis.call('HSET', ckey, 'user', user, 'node', node, 'pid', pid)
redis.call('SADD', base .. ':nconns:' .. node, conn)
if pid ~= '' then
  -- Kept while the connection lives, so that a client can recover even if its node dies.
  redis.call('SET', base .. ':sess:' .. pid, session, 'PX', 604800000)
  local index = base .. ':usess:' .. user
  redis.call('SADD', index, pid)
  redis.call('PEXPIRE', index, 604800000)
end
return {tonumber(redis.call('GET', base .. ':seq') or '0')}
"#;

/// ARGV: PUB, ns, conn, node, how long its session is kept for recovery in ms (0: the connection
/// ended for good, its session goes). The session and the rooms it is restored with change in the
/// same step as the connection goes, so that a client coming back elsewhere finds either the
/// live connection's rooms or the kept ones, never neither.
/// Returns {user_offline (0/1), rooms the user is no longer in...} or {} when the connection is not
/// registered by that node (its session is then not this node's to change).
const UNREGISTER: &str = r#"
local conn, node, win = ARGV[3], ARGV[4], tonumber(ARGV[5]) or 0
local c = redis.call('HMGET', pre .. 'c:' .. conn, 'node', 'pid')
if c[1] ~= node then return {} end
if c[2] and c[2] ~= '' then keep_session(conn, c[2], win) end
local _, left, offline = drop_conn(conn)
local out = {offline and 1 or 0}
for _, room in ipairs(left) do out[#out + 1] = room end
return out
"#;

/// ARGV: PUB, ns, conn, room, join (0/1), max rooms per connection.
/// Returns {changed (0/1), user presence changed (0/1), the namespace's sequence}, or {-1} unknown
/// connection, {-2} room limit.
const MEMBERSHIP: &str = r#"
local conn, room, join, max = ARGV[3], ARGV[4], ARGV[5] == '1', tonumber(ARGV[6])
local seq = tonumber(redis.call('GET', base .. ':seq') or '0')
local user = redis.call('HGET', pre .. 'c:' .. conn, 'user')
if not user then return {-1} end
local cr = pre .. 'cr:' .. conn
if join then
  if redis.call('SISMEMBER', cr, room) == 1 then return {0, 0, seq} end
  if redis.call('SCARD', cr) >= max then return {-2} end
  redis.call('SADD', cr, room)
  redis.call('SADD', pre .. 'r:' .. room, conn)
  redis.call('HINCRBY', pre .. 'rooms', room, 1)
  if user ~= '' and redis.call('HINCRBY', pre .. 'ru:' .. room, user, 1) == 1 then return {1, 1, seq} end
  return {1, 0, seq}
end
if redis.call('SREM', cr, room) == 0 then return {0, 0, seq} end
redis.call('SREM', pre .. 'r:' .. room, conn)
if redis.call('HINCRBY', pre .. 'rooms', room, -1) <= 0 then redis.call('HDEL', pre .. 'rooms', room) end
if user ~= '' and redis.call('HINCRBY', pre .. 'ru:' .. room, user, -1) <= 0 then
  redis.call('HDEL', pre .. 'ru:' .. room, user)
  return {1, 1, seq}
end
return {1, 0, seq}
"#;

/// ARGV: PUB, ns, seq, max, ns_epoch, topics...: the payloads of the topics' entries after a
/// namespace sequence number, for a Socket.IO offset. Returns {'ok', payloads...},
/// {'epoch'}, {'window'} or {'many'}.
const REPLAY_SEQ: &str = r#"
local seq, max, epoch = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
if redis.call('GET', KEYS[2]) ~= epoch then return {'epoch'} end
if seq > tonumber(redis.call('GET', base .. ':seq') or '0') then return {'epoch'} end
-- In Redis Cluster a shard may lose a namespace's keys while the epoch it is given survives
-- elsewhere: a position below the sequence's start is of the lost keys.
if seq > 0 and seq < tonumber(redis.call('GET', base .. ':born') or '0') then return {'epoch'} end
local out, n = {'ok'}, 0
for i = 6, #ARGV do
  local t = ARGV[i]
  local meta = base .. ':meta:' .. t
  if tonumber(redis.call('HGET', meta, 'dseq') or '0') > seq then return {'window'} end
  local entries = redis.call('XREVRANGE', base .. ':log:' .. t, '+', '-', 'COUNT', max + 1)
  for _, e in ipairs(entries) do
    if tonumber(field(e, 's')) <= seq then break end
    n = n + 1
    if n > max then return {'many'} end
    out[#out + 1] = field(e, 'p')
  end
end
return out
"#;

/// ARGV: PUB, ns, topic, epoch, offset, limit: a topic's entries after a position; offset -1 reads
/// the whole window, whatever the epoch. Returns {'ok', epoch, last, payloads...} or
/// {'epoch'|'window', epoch, last}.
const REPLAY_POSITION: &str = r#"
local t, epoch, offset, limit = ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local whole = offset < 0
local meta = base .. ':meta:' .. t
local m = redis.call('HMGET', meta, 'epoch', 'last', 'doff')
local cur_epoch, last = m[1] or '', tonumber(m[2] or '0')
if not m[1] then
  if whole or (offset == 0 and epoch == '') then return {'ok', '', '0'} end
  return {'epoch', '', '0'}
end
if not whole then
  if cur_epoch ~= epoch or offset > last then return {'epoch', cur_epoch, tostring(last)} end
  if offset < tonumber(m[3] or '0') then return {'window', cur_epoch, tostring(last)} end
end
local out = {'ok', cur_epoch, tostring(last)}
local from = whole and '-' or ((offset + 1) .. '-1')
local entries = redis.call('XRANGE', base .. ':log:' .. t, from, '+', 'COUNT', limit)
for _, e in ipairs(entries) do out[#out + 1] = field(e, 'p') end
return out
"#;

/// ARGV: PUB, ns, node, the namespace's recovery window in ms: removes (up to 500 at a time) the
/// connections a dead node registered in the namespace, like UNREGISTER each; the saved session of
/// each keeps its rooms (`B:sessrooms:{pid}`) for the recovery window. Returns the connections
/// removed.
const DROP_NODE: &str = r#"
local node, win = ARGV[3], tonumber(ARGV[4])
local out = {}
local key = base .. ':nconns:' .. node
for _, conn in ipairs(redis.call('SRANDMEMBER', key, 500)) do
  local pid = redis.call('HGET', pre .. 'c:' .. conn, 'pid')
  if pid and pid ~= '' then keep_session(conn, pid, win) end
  drop_conn(conn)
  redis.call('SREM', key, conn)
  out[#out + 1] = conn
end
redis.call('SREM', base .. ':patnodes', node)
return out
"#;

/// ARGV: PUB, ns, pid: takes (deletes) a session for recovery in one step with its rooms: those of
/// its connection when it is still registered (its client came back before its node saw it go),
/// else those kept when it went. Returns {} when there is none, else {session record (JSON),
/// {rooms...}, {rooms a backend joined it to...}}.
const TAKE_SESSION: &str = r#"
local pid = ARGV[3]
local sess, kept, kept_granted = base .. ':sess:' .. pid, base .. ':sessrooms:' .. pid, base .. ':sessgranted:' .. pid
local raw = redis.call('GET', sess)
if not raw then return {} end
local ok, rec = pcall(cjson.decode, raw)
local conn = ok and type(rec) == 'table' and rec['connection_id'] or nil
local rooms, granted
if type(conn) == 'string' and redis.call('HGET', pre .. 'c:' .. conn, 'pid') == pid then
  rooms = redis.call('SMEMBERS', pre .. 'cr:' .. conn)
  granted = redis.call('SINTER', pre .. 'cg:' .. conn, pre .. 'cr:' .. conn)
else
  rooms = redis.call('SMEMBERS', kept)
  granted = redis.call('SMEMBERS', kept_granted)
end
redis.call('DEL', sess, kept, kept_granted)
return {raw, rooms, granted}
"#;

fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{PRELUDE}{body}"))
}

/// The scripts, loaded once per process (EVALSHA with a fallback to EVAL).
pub struct Scripts {
    pub emit: redis::Script,
    pub register: redis::Script,
    pub unregister: redis::Script,
    pub membership: redis::Script,
    pub replay_seq: redis::Script,
    pub replay_position: redis::Script,
    pub drop_node: redis::Script,
    pub take_session: redis::Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            emit: script(EMIT),
            register: script(REGISTER),
            unregister: script(UNREGISTER),
            membership: script(MEMBERSHIP),
            replay_seq: script(REPLAY_SEQ),
            replay_position: script(REPLAY_POSITION),
            drop_node: script(DROP_NODE),
            take_session: script(TAKE_SESSION),
        }
    }
}
