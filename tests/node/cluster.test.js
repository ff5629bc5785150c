// Several cores on one Redis: every guarantee of one core, cluster-wide. Each test starts two
// `herald core` processes, each with its own `herald edge`, on the shared Redis (a fresh key
// prefix per test), and uses npm socket.io-client and gRPC clients as users do.
'use strict';

const assert = require('node:assert/strict');
const { connect, connectError, makeToken, grpcClient, jsonArg, openSocket, whenConnected, once } = require('./lib/herald');
const { startHandler } = require('./lib/handler');
const { multicoreTest, waitFor, missAndRecoverThrough } = require('./lib/multicore');
const { freePort } = require('./lib/redis');

/** A socket of `user` on core i's edge. */
function userOn(c, i, user, rooms = []) {
  const v = c.view(i);
  return connect(v, '/', { token: makeToken(c.config, { sub: user, rooms }) });
}

multicoreTest('an emit on one core reaches user, room, conn and * targets on every core, once each', async (c) => {
  const g0 = grpcClient(c.view(0));
  const a0 = await userOn(c, 0, 'alice', ['lobby']);
  const a1 = await userOn(c, 1, 'alice', ['lobby']);
  const b1 = await userOn(c, 1, 'bob', ['lobby']);
  for (const s of [a0, a1, b1]) assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'lobby'), { ok: true });

  const toUser = await g0.emit({ targets: ['user:alice'], event: 'u', args: [jsonArg(1)] });
  assert.equal(toUser.connections, 2, 'both of alice connections, one per core, are counted');
  for (const s of [a0, a1]) assert.deepEqual((await s.inbox.wait('u'))[0], [1]);

  const toRoom = await g0.emit({ targets: ['room:lobby'], except: [`conn:${a1.id}`], event: 'r', args: [jsonArg(2)] });
  assert.equal(toRoom.connections, 2, 'three members minus the excluded connection');
  for (const s of [a0, b1]) assert.deepEqual((await s.inbox.wait('r'))[0], [2]);

  const toConn = await g0.emit({ targets: [`conn:${b1.id}`], event: 'c', args: [jsonArg(3)] });
  assert.equal(toConn.connections, 1);
  assert.deepEqual((await b1.inbox.wait('c'))[0], [3]);

  const toAll = await g0.emit({ targets: ['*', 'user:alice', 'room:lobby'], event: 'all', args: [jsonArg(4)] });
  assert.equal(toAll.connections, 3, 'each connection once, however many of its topics match');
  for (const s of [a0, a1, b1]) await s.inbox.wait('all');

  // A marker to everyone last: anything sent before it has arrived by then.
  await g0.emit({ targets: ['*'], event: 'marker', args: [jsonArg(0)] });
  for (const s of [a0, a1, b1]) await s.inbox.wait('marker');
  assert.equal(a0.inbox.all('u').length + a1.inbox.all('u').length, 2);
  assert.equal(a1.inbox.all('r').length, 0, 'the excluded connection did not get the room event');
  assert.equal(a0.inbox.all('c').length + a1.inbox.all('c').length, 0, 'conn target reached only its connection');
  for (const s of [a0, a1, b1]) assert.equal(s.inbox.all('all').length, 1, 'multi-target event delivered once');
});

multicoreTest('offline users and acks are cluster-wide', async (c) => {
  const g1 = grpcClient(c.view(1));
  const a0 = await userOn(c, 0, 'alice');
  a0.on('ask', (_x, ack) => ack({ from: 'alice' }));
  const res = await g1.emit({
    targets: ['user:alice', 'user:carol'],
    event: 'ask',
    args: [jsonArg('?')],
    ack_timeout_ms: 10000,
  });
  assert.equal(res.connections, 1);
  assert.deepEqual(res.offline_users, ['carol'], 'carol has no connection on any core');
  assert.equal(res.acks.length, 1, 'the ack of a connection on the other core comes back');
  assert.equal(res.acks[0].acked, true);
  assert.equal(res.acks[0].connection_id, a0.id);
  assert.equal(res.acks[0].user_id, 'alice');
});

multicoreTest('Join, Leave and Disconnect of a user reach connections on every core', async (c) => {
  const g0 = grpcClient(c.view(0));
  const a0 = await userOn(c, 0, 'alice');
  const a1 = await userOn(c, 1, 'alice');
  const joined = await g0.join({ user_id: 'alice', rooms: ['session:xyz'] });
  assert.equal(joined.connections, 2, 'both connections joined, one on each core');
  const res = await g0.emit({ targets: ['room:session:xyz'], event: 's', args: [jsonArg(1)] });
  assert.equal(res.connections, 2);
  for (const s of [a0, a1]) await s.inbox.wait('s');

  const left = await grpcClient(c.view(1)).leave({ user_id: 'alice', rooms: ['session:xyz'] });
  assert.equal(left.connections, 2);
  const after = await g0.emit({ targets: ['room:session:xyz'], event: 's2', args: [jsonArg(2)] });
  assert.equal(after.connections, 0, 'nobody is in the room any more');

  const reasons = [a0, a1].map((s) => new Promise((resolve) => s.on('herald:disconnect', (p) => resolve(p.reason))));
  const kicked = await g0.disconnect({ user_id: 'alice', reason: 'account suspended' });
  assert.equal(kicked.connections, 2);
  assert.deepEqual(await Promise.all(reasons), ['account suspended', 'account suspended']);
});

/** Connects carol on core 0, core 1, then core 0 again: the third is over her limit of 2. */
async function startLimited(c) {
  await userOn(c, 0, 'carol');
  await userOn(c, 1, 'carol');
  return connectError(c.view(0), '/', { token: makeToken(c.config, { sub: 'carol' }) });
}

multicoreTest('Presence and Stats answer for the whole cluster; the per-user limit holds across cores', {
  config: { namespaces: [{ name: '/', anonymous: false, max_connections_per_user: 2 }] },
}, async (c) => {
  const g0 = grpcClient(c.view(0));
  const a0 = await userOn(c, 0, 'alice', ['lobby']);
  const b1 = await userOn(c, 1, 'bob', ['lobby']);
  await a0.timeout(10000).emitWithAck('join', 'lobby');
  await b1.timeout(10000).emitWithAck('join', 'lobby');
  const room = await g0.presence({ room: 'lobby' });
  assert.equal(room.connections, 2);
  assert.deepEqual(room.users.map((u) => u.user_id).sort(), ['alice', 'bob']);
  const users = await g0.presence({ user_ids: ['bob', 'carol'] });
  assert.deepEqual(users.users.map((u) => [u.user_id, u.online]), [['bob', true], ['carol', false]]);
  const g1 = grpcClient(c.view(1));
  const stats = await g1.stats({});
  const root = stats.namespaces.find((n) => n.namespace === '/');
  assert.equal(root.connections, 2);
  assert.equal(root.users, 2);
  assert.equal(root.rooms, 1);
  await g0.emit({ targets: ['*'], event: 'counted', args: [] });
  assert.equal((await g1.stats({})).namespaces.find((n) => n.namespace === '/').events, '1', 'an Emit on the other core is counted');
  // Other nodes report their edges with their heartbeat.
  await waitFor(async () => (await g1.stats({})).edges === 2, 'Stats counting one edge on each core');

  const limited = await startLimited(c);
  assert.equal(limited, 'too many connections for this user (limit 2)');
});

multicoreTest('a relay reaches room members on the other core, minus the sender', {
  config: {
    namespaces: [{ name: '/', anonymous: false, relay: ['typing'], relay_room_field: 'room' }],
  },
}, async (c) => {
  const a0 = await userOn(c, 0, 'alice', ['chat']);
  const b1 = await userOn(c, 1, 'bob', ['chat']);
  for (const s of [a0, b1]) assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'chat'), { ok: true });
  a0.emit('typing', { room: 'chat', typing: true });
  const [args] = await b1.inbox.wait('typing');
  assert.equal(args[0].typing, true);
  b1.emit('typing', { room: 'chat', typing: false });
  await a0.inbox.wait('typing');
  assert.equal(a0.inbox.all('typing').length, 1, 'the sender does not get its own relay back');
});

multicoreTest('idempotency keys hold across cores', async (c) => {
  const g0 = grpcClient(c.view(0));
  const g1 = grpcClient(c.view(1));
  const s = await userOn(c, 1, 'alice');
  const first = await g0.emit({ targets: ['user:alice'], event: 'once', args: [jsonArg(1)], idempotency_key: 'k1' });
  const again = await g1.emit({ targets: ['user:alice'], event: 'once', args: [jsonArg(1)], idempotency_key: 'k1' });
  assert.equal(again.event_id, first.event_id, 'the second core answers with the first Emit');
  await g0.emit({ targets: ['user:alice'], event: 'marker', args: [jsonArg(0)] });
  await s.inbox.wait('marker');
  assert.equal(s.inbox.all('once').length, 1);
});

multicoreTest('a core that dies is dropped from presence and counts', async (c) => {
  const g0 = grpcClient(c.view(0));
  await userOn(c, 0, 'alice');
  await userOn(c, 1, 'bob');
  assert.equal((await g0.emit({ targets: ['*'], event: 'x', args: [] })).connections, 2);
  c.nodes[1].core.proc.kill('SIGKILL');
  await waitFor(async () => (await g0.presence({ user_ids: ['bob'] })).users[0].online === false, 'bob offline after his core died');
  assert.equal((await g0.emit({ targets: ['*'], event: 'x', args: [] })).connections, 1);
});

// ---- recovery, history and subscriptions across cores ----

const RECOVERY = {
  connectionStateRecovery: true,
  namespaces: [{ name: '/', anonymous: false }],
};

/** A local URL where nothing listens: reconnection attempts to it fail. */
async function deadUrl() {
  return `http://127.0.0.1:${await freePort()}`;
}

/** A socket of `user` through view `v` that reconnects by itself, quickly, in room r1. */
async function recoverable(c, v, user) {
  const s = openSocket(v, '/', {
    token: makeToken(c.config, { sub: user, rooms: ['r1'] }),
    reconnection: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
    randomizationFactor: 0,
  });
  await whenConnected(s);
  assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'r1'), { ok: true });
  return s;
}

multicoreTest('a client recovers through the other core: recovered, every missed event once, in order', { config: RECOVERY }, async (c) => {
  const v0 = c.view(0);
  const v1 = c.view(1);
  const s = await recoverable(c, v0, 'alice');
  const g0 = grpcClient(v0);
  const g1 = grpcClient(v1);
  await g0.emit({ targets: ['user:alice'], event: 'warmup', args: [jsonArg('w')] });
  await s.inbox.wait('warmup');
  await missAndRecoverThrough(s, { g0, g1, edgeUrl: v1.edgeUrl, awayUrl: await deadUrl(), count: 60 });
});

multicoreTest('History and Subscribe from positions answer from any core', async (c) => {
  const g0 = grpcClient(c.view(0));
  const g1 = grpcClient(c.view(1));
  const first = await g0.emit({ targets: ['room:news'], event: 'n', args: [jsonArg(1)], delivery: 'DELIVERY_CLASS_RECOVERABLE' });
  const second = await g1.emit({ targets: ['room:news'], event: 'n', args: [jsonArg(2)] });
  const [p1] = first.positions;
  const [p2] = second.positions;
  assert.equal(p2.epoch, p1.epoch, 'one epoch for the topic, whichever core emitted');
  assert.equal(Number(p2.offset), Number(p1.offset) + 1, 'offsets shared by both cores');

  const hist = await g1.call('History', { namespace: '/', topic: 'room:news', limit: 10 });
  assert.deepEqual(hist.events.map((e) => JSON.parse(e.args[0].json)), [1, 2]);

  const sub = g1.subscribe({ topics: ['room:news'], since: [p1] });
  await sub.ready();
  await sub.waitEvents((evs) => evs.length >= 1, 'the replayed event');
  await g0.emit({ targets: ['room:news'], event: 'n', args: [jsonArg(3)] });
  await sub.waitEvents((evs) => evs.length >= 2, 'the live event from the other core');
  assert.deepEqual(sub.events.map((e) => JSON.parse(e.args[0].json)), [2, 3], 'replay then live, no gap, no duplicate');
});

// ---- handlers and presence events ----

multicoreTest('client events reach a handler connected to another core, load-balanced across cores', {
  config: { namespaces: [{ name: '/', anonymous: false, forward: ['message:send'] }] },
}, async (c) => {
  const onlyOn1 = await startHandler(c.view(1), { events: ['message:send'], ackTimeoutMs: 0 });
  const a0 = await userOn(c, 0, 'alice', ['convo:*']);
  assert.deepEqual(await a0.timeout(10000).emitWithAck('join', 'convo:1'), { ok: true });
  const ack = await a0.timeout(10000).emitWithAck('message:send', { room: 'convo:1', text: 'hi' });
  assert.equal(ack.ok, true, `the handler on the other core answered: ${JSON.stringify(ack)}`);
  const [ev] = await onlyOn1.waitEvent('message:send');
  assert.equal(ev.connection_id, a0.id);

  const on0 = await startHandler(c.view(0), { events: ['message:send'], ackTimeoutMs: 0 });
  // Both handlers are registered once the cluster has them both (each registration is visible in Stats).
  await waitFor(async () => (await grpcClient(c.view(0)).stats({})).handlers === 2, 'two handlers in the cluster');
  for (let i = 0; i < 20; i += 1) {
    const r = await a0.timeout(10000).emitWithAck('message:send', { room: 'convo:1', text: `m${i}` });
    assert.equal(r.ok, true);
  }
  const n1 = onlyOn1.events('message:send').length - 1;
  const n0 = on0.events('message:send').length;
  assert.equal(n0 + n1, 20);
  assert.ok(n0 >= 5 && n1 >= 5, `both cores' handlers take events (${n0} and ${n1})`);
});

multicoreTest('presence events fire once per user, however many cores hold the user', {
  config: { namespaces: [{ name: '/', anonymous: false, presence_events: true }] },
}, async (c) => {
  const bob = await userOn(c, 1, 'bob', ['p']);
  assert.deepEqual(await bob.timeout(10000).emitWithAck('join', 'p'), { ok: true });
  const a0 = await userOn(c, 0, 'alice', ['p']);
  const a1 = await userOn(c, 1, 'alice', ['p']);
  assert.deepEqual(await a0.timeout(10000).emitWithAck('join', 'p'), { ok: true });
  assert.deepEqual(await a1.timeout(10000).emitWithAck('join', 'p'), { ok: true });
  await a0.timeout(10000).emitWithAck('leave', 'p');
  await a1.timeout(10000).emitWithAck('leave', 'p');
  await bob.inbox.wait('presence', 2);
  await grpcClient(c.view(0)).emit({ targets: ['user:bob'], event: 'marker', args: [jsonArg(0)] });
  await bob.inbox.wait('marker');
  assert.deepEqual(
    bob.inbox.all('presence').map((a) => [a[0].user_id, a[0].status]),
    [['alice', 'join'], ['alice', 'leave']],
    'one join when alice first came, one leave when her last connection left',
  );
});

multicoreTest('a pattern subscriber on one core gets matching events emitted on the other', async (c) => {
  const sub = grpcClient(c.view(1)).subscribe({ topics: ['room:campaign:*'] });
  await sub.ready();
  const g0 = grpcClient(c.view(0));
  await g0.emit({ targets: ['room:campaign:7'], event: 'p', args: [jsonArg(7)] });
  await g0.emit({ targets: ['room:other'], event: 'p', args: [jsonArg(0)] });
  await g0.emit({ targets: ['room:campaign:8'], event: 'p', args: [jsonArg(8)] });
  await sub.waitEvents((evs) => evs.length >= 2, 'the two campaign events');
  assert.deepEqual(sub.events.map((e) => JSON.parse(e.args[0].json)), [7, 8]);
});

multicoreTest("acks awaited from a core that dies end as disconnected, not at the timeout", async (c) => {
  const b1 = await userOn(c, 1, 'bob');
  b1.on('ask', () => {}); // never acks
  const g0 = grpcClient(c.view(0));
  const pending = g0.emit({ targets: ['user:bob'], event: 'ask', args: [], ack_timeout_ms: 60000 }, { deadlineMs: 90000 });
  await b1.inbox.wait('ask');
  c.nodes[1].core.proc.kill('SIGKILL');
  const res = await pending;
  assert.equal(res.acks.length, 1);
  assert.equal(res.acks[0].acked, false);
  assert.equal(res.acks[0].error, 'disconnected', 'the dead core cannot ack for its connection');
});

multicoreTest('clients of a machine that dies (core and edge, kill -9) recover through the other core', { config: RECOVERY }, async (c) => {
  const v0 = c.view(0);
  const v1 = c.view(1);
  const g0 = grpcClient(v0);
  const open = async (user) => {
    const s = await recoverable(c, v1, user);
    await g0.emit({ targets: [`user:${user}`], event: 'warmup', args: [jsonArg(user)] });
    await s.inbox.wait('warmup');
    return s;
  };
  // alice comes back at once (before the cluster noticed the death), bob after it did.
  const alice = await open('alice');
  const bob = await open('bob');
  const ids = [alice.id, bob.id];
  const dead = await deadUrl();
  alice.io.uri = v0.edgeUrl;
  bob.io.uri = dead;
  const aliceBack = once(alice, 'connect', "alice's reconnection");
  c.nodes[1].core.proc.kill('SIGKILL');
  c.nodes[1].edges[0].proc.kill('SIGKILL');

  const sent = [];
  for (let i = 0; i < 30; i += 1) {
    await g0.emit({ targets: [i % 2 ? 'room:r1' : 'user:bob'], event: 'ev', args: [jsonArg({ i })] });
    sent.push({ i });
  }
  await aliceBack;
  assert.equal(alice.recovered, true, 'alice recovered through the surviving core');
  assert.equal(alice.id, ids[0]);

  await waitFor(async () => (await g0.presence({ user_ids: ['bob'] })).users[0].online === false, 'bob swept with his dead core');
  const bobBack = once(bob, 'connect', "bob's reconnection");
  bob.io.uri = v0.edgeUrl;
  await bobBack;
  assert.equal(bob.recovered, true, 'bob recovered after the cluster dropped his dead core');
  assert.equal(bob.id, ids[1]);

  await bob.inbox.wait('ev', sent.length);
  await g0.emit({ targets: ['room:r1'], event: 'after', args: [jsonArg(1)] });
  for (const s of [alice, bob]) await s.inbox.wait('after');
  assert.deepEqual(bob.inbox.all('ev').map((a) => a[0]), sent, 'bob: every missed event once, in order');
  assert.deepEqual(alice.inbox.all('ev').map((a) => a[0]), sent.filter((x) => x.i % 2), 'alice: the room events once, in order');
});

multicoreTest('a room a backend joined survives the death of the client\'s core', { config: RECOVERY }, async (c) => {
  const v0 = c.view(0);
  const g0 = grpcClient(v0);
  const s = await recoverable(c, c.view(1), 'alice');
  assert.equal((await g0.join({ user_id: 'alice', rooms: ['session:xyz'] })).connections, 1);
  await g0.emit({ targets: ['room:session:xyz'], event: 'before', args: [jsonArg(0)] });
  await s.inbox.wait('before');
  s.io.uri = await deadUrl();
  c.nodes[1].core.proc.kill('SIGKILL');
  c.nodes[1].edges[0].proc.kill('SIGKILL');
  await waitFor(async () => (await g0.presence({ user_ids: ['alice'] })).users[0].online === false, 'alice swept');
  await g0.emit({ targets: ['room:session:xyz'], event: 'missed', args: [jsonArg(1)] });
  const back = once(s, 'connect', 'the reconnection');
  s.io.uri = v0.edgeUrl;
  await back;
  assert.equal(s.recovered, true);
  await s.inbox.wait('missed');
  await g0.emit({ targets: ['room:session:xyz'], event: 'later', args: [jsonArg(2)] });
  await s.inbox.wait('later');
});
