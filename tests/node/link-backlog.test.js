// Close notices reach the core even when the edge's link towards it is full: the core (in a
// cluster on a private redis-server) is stalled by pausing Redis while a client floods relay
// events, clients leave while the link queue is full, and once Redis is back the core's counts
// and presence have no ghost left.
'use strict';

const assert = require('node:assert/strict');
const { before, after } = require('node:test');

const { heraldTest, connect, makeToken, grpcClient, withGuard, GUARD_MS } = require('./lib/herald');
const { clusterToml, waitFor } = require('./lib/multicore');
const { startRedis } = require('./lib/redis');

/** The edge's `herald_edge_link_queue_depth`. */
async function linkQueueDepth(h) {
  const res = await withGuard(fetch(`${h.edgeUrl}/metrics`), GUARD_MS, 'GET /metrics');
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith('herald_edge_link_queue_depth '));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Connections the core counts in namespace "/". */
async function connections(h) {
  const stats = await grpcClient(h).stats();
  const ns = (stats.namespaces || []).find((n) => n.namespace === '/');
  return ns ? ns.connections : 0;
}

const LEAVERS = 20;
// The edge's link queue towards the core, in messages.
const LINK_QUEUE = 8192;

let redis;
before(async () => {
  redis = await startRedis();
});
after(() => redis.stop());

const CONFIG = {
  // Read when the test starts, once Redis is up.
  get extraToml() {
    return clusterToml(redis.url, `herald-test-backlog-${process.pid}`);
  },
  namespaces: [
    {
      name: '/',
      anonymous: false,
      relay: ['typing'],
      relay_rate_per_sec: 1000000,
      relay_burst: 1000000,
      user_event_rate_per_sec: 0,
    },
  ],
};

heraldTest('close notices reach the core when the link queue is full: no ghost connections', { timeout: 180000, config: CONFIG }, async (t, h) => {
  const flooder = await connect(h, '/', { token: makeToken(h.config, { sub: 'flooder', rooms: ['r'] }) });
  assert.deepEqual(await flooder.timeout(GUARD_MS).emitWithAck('join', 'r'), { ok: true });
  const leavers = [];
  for (let i = 0; i < LEAVERS; i += 1) {
    leavers.push(await connect(h, '/', { token: makeToken(h.config, { sub: `leaver-${i}` }) }));
  }
  await waitFor(async () => (await connections(h)) === LEAVERS + 1, 'the core to count every connection');

  // Stall the core on Redis, then fill the link with relay events it cannot take yet.
  redis.pause();
  let resumed = false;
  t.after(() => {
    if (!resumed) redis.resume();
  });
  await waitFor(async () => {
    for (let i = 0; i < 2000; i += 1) flooder.emit('typing', { room: 'r', pad: 'x'.repeat(100) });
    return (await linkQueueDepth(h)) >= LINK_QUEUE;
  }, 'the link queue to fill up', 60000);

  for (const s of leavers) s.disconnect();
  // The edge forgot them while the link was still full.
  await waitFor(async () => {
    const res = await fetch(`${h.edgeUrl}/metrics`);
    const line = (await res.text()).split('\n').find((l) => l.startsWith('herald_edge_sockets{namespace="/"}'));
    return line !== undefined && Number(line.split(' ')[1]) === 1;
  }, 'the edge to hold only the flooder');
  assert.ok((await linkQueueDepth(h)) >= LINK_QUEUE, 'the link was full when the clients left');

  redis.resume();
  resumed = true;
  await waitFor(async () => (await connections(h)) === 1, 'the core to count only the flooder', 120000);
  const users = leavers.map((_, i) => `leaver-${i}`);
  const presence = await grpcClient(h).presence({ user_ids: users });
  assert.equal(presence.users.length, LEAVERS);
  for (const u of presence.users) assert.equal(u.online, false, `${u.user_id} is offline`);
});
