// What the edge owes its core reaches it even when the edge's link towards it is full: the core
// (in a cluster on a private redis-server) is stalled by pausing Redis while a client floods relay
// events; close notices, $disconnect reports and clients' acks sent while the link queue is full
// arrive, in order, once Redis is back.
'use strict';

const assert = require('node:assert/strict');
const { before, after } = require('node:test');

const { heraldTest, connect, makeToken, grpcClient, withGuard, GUARD_MS, jsonArg } = require('./lib/herald');
const { startHandler } = require('./lib/handler');
const { clusterToml, waitFor } = require('./lib/multicore');
const { startRedis } = require('./lib/redis');
const { parseProm, sample } = require('./lib/prom');

/** The edge's sample `name{labels}` (0 when it is not served). */
async function edgeMetric(h, name, labels = {}) {
  const res = await withGuard(fetch(`${h.edgeUrl}/metrics`), GUARD_MS, 'GET /metrics');
  return sample(parseProm(await res.text()), name, labels) ?? 0;
}

/** Messages waiting on the edge's link towards the core. */
const linkQueueDepth = (h) => edgeMetric(h, 'herald_edge_link_queue_depth');
/** Messages owed to the core waiting for room on the link. */
const linkBacklog = (h) => edgeMetric(h, 'herald_edge_link_backlog');
/** Relay events without an ack the edge dropped on a full link. */
const relaysDropped = (h) => edgeMetric(h, 'herald_edge_link_dropped_total', { message: 'relay' });
/** The edge's sockets in namespace "/". */
const edgeSockets = (h) => edgeMetric(h, 'herald_edge_sockets', { namespace: '/' });

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

/** A cluster config on the private Redis (its own key prefix per test) with a relay for the flood. */
function config(name, extra = {}) {
  return {
    // Read when the test starts, once Redis is up.
    get extraToml() {
      // The core waits on the paused Redis (rather than timing out its commands one by one), so
      // the link stays full until the test resumes it.
      return clusterToml(redis.url, `herald-test-backlog-${name}-${process.pid}`).replace(
        '[broker]\n',
        '[broker]\ncommand_timeout_ms = 120000\n',
      );
    },
    namespaces: [
      {
        name: '/',
        anonymous: false,
        relay: ['typing'],
        relay_rate_per_sec: 1000000,
        relay_burst: 1000000,
        user_event_rate_per_sec: 0,
        ...extra,
      },
    ],
  };
}

/** A client in room "r" that floods relay events. */
async function flooder(h) {
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'flooder', rooms: ['r'] }) });
  assert.deepEqual(await s.timeout(GUARD_MS).emitWithAck('join', 'r'), { ok: true });
  return s;
}

/**
 * Stalls the core on Redis and fills the edge's link with relay events it cannot take yet.
 * Returns `resume()`, which lets the core go on (also run when the test ends early).
 */
async function fillLink(t, h, s) {
  redis.pause();
  let resumed = false;
  const resume = () => {
    if (!resumed) redis.resume();
    resumed = true;
  };
  t.after(resume);
  await waitFor(async () => {
    for (let i = 0; i < 2000; i += 1) s.emit('typing', { room: 'r', pad: 'x'.repeat(100) });
    return (await linkQueueDepth(h)) >= LINK_QUEUE;
  }, 'the link queue to fill up', 60000);
  return resume;
}

heraldTest('close notices reach the core when the link queue is full: no ghost connections', { timeout: 180000, config: config('closed') }, async (t, h) => {
  const flood = await flooder(h);
  const leavers = [];
  for (let i = 0; i < LEAVERS; i += 1) {
    leavers.push(await connect(h, '/', { token: makeToken(h.config, { sub: `leaver-${i}` }) }));
  }
  await waitFor(async () => (await connections(h)) === LEAVERS + 1, 'the core to count every connection');

  const resume = await fillLink(t, h, flood);
  for (const s of leavers) s.disconnect();
  // The edge forgot them while the link was still full.
  await waitFor(async () => (await edgeSockets(h)) === 1, 'the edge to hold only the flooder');
  assert.ok((await linkQueueDepth(h)) >= LINK_QUEUE, 'the link was full when the clients left');
  // Relay events without an ack are what a full link drops, and counts.
  await waitFor(async () => {
    for (let i = 0; i < 100; i += 1) flood.emit('typing', { room: 'r' });
    return (await relaysDropped(h)) > 0;
  }, 'relay events on the full link to be dropped and counted');

  resume();
  await waitFor(async () => (await connections(h)) === 1, 'the core to count only the flooder', 120000);
  const users = leavers.map((_, i) => `leaver-${i}`);
  const presence = await grpcClient(h).presence({ user_ids: users });
  assert.equal(presence.users.length, LEAVERS);
  for (const u of presence.users) assert.equal(u.online, false, `${u.user_id} is offline`);
});

heraldTest('a $disconnect handler hears of every client that left while the link queue was full', { timeout: 180000, config: config('disconnect', { disconnect_handler: true }) }, async (t, h) => {
  const handler = await startHandler(h, { events: ['$disconnect'] });
  const flood = await flooder(h);
  const leavers = [];
  for (let i = 0; i < LEAVERS; i += 1) {
    leavers.push(await connect(h, '/', { token: makeToken(h.config, { sub: `leaver-${i}` }) }));
  }
  const ids = leavers.map((s) => s.id);

  const resume = await fillLink(t, h, flood);
  for (const s of leavers) s.disconnect();
  await waitFor(async () => (await edgeSockets(h)) === 1, 'the edge to hold only the flooder');
  assert.ok((await linkQueueDepth(h)) >= LINK_QUEUE, 'the link was full when the clients left');

  resume();
  await waitFor(
    async () => handler.events('$disconnect').length >= LEAVERS,
    `${LEAVERS} $disconnect reports at the handler`,
    120000,
  );
  const reported = handler.events('$disconnect').map((ev) => ev.connection_id);
  assert.deepEqual([...reported].sort(), [...ids].sort(), 'one report per client that left');
});

heraldTest('acks sent while the link queue is full reach the Emit that waits for them', { timeout: 180000, config: config('acks') }, async (t, h) => {
  const flood = await flooder(h);
  const ACKERS = 10;
  const ackers = [];
  const pending = [];
  for (let i = 0; i < ACKERS; i += 1) {
    const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'acker' }) });
    s.on('ask', (n, ack) => pending.push(() => ack({ n, from: i })));
    ackers.push(s);
  }
  // Settled either way, so a failure shows up where it is awaited.
  const emitted = grpcClient(h)
    .emit({ targets: ['user:acker'], event: 'ask', args: [jsonArg(7)], ack_timeout_ms: 60000 }, { deadlineMs: 90000 })
    .then((res) => ({ res }), (err) => ({ err }));
  await waitFor(async () => pending.length === ACKERS, 'every client to get the event');

  const resume = await fillLink(t, h, flood);
  for (const ack of pending) ack();
  // The edge took the acks off the sockets while its link was still full.
  await waitFor(async () => (await linkBacklog(h)) >= ACKERS, 'the acks to wait in the backlog');
  assert.ok((await linkQueueDepth(h)) >= LINK_QUEUE, 'the link was full when the clients acked');

  resume();
  const { res, err } = await emitted;
  assert.ifError(err);
  assert.equal(res.connections, ACKERS);
  assert.equal(res.acks.length, ACKERS, JSON.stringify(res.acks));
  for (const a of res.acks) {
    assert.equal(a.acked, true, `${a.connection_id} acked: ${JSON.stringify(a)}`);
    assert.equal(JSON.parse(a.args[0].json).n, 7);
  }
});
