// Several cores on one Redis: every guarantee of one core, cluster-wide. Each test starts two
// `herald core` processes, each with its own `herald edge`, on the shared Redis (a fresh key
// prefix per test), and uses npm socket.io-client and gRPC clients as users do.
'use strict';

const assert = require('node:assert/strict');
const { connect, connectError, makeToken, grpcClient, jsonArg } = require('./lib/herald');
const { multicoreTest, waitFor } = require('./lib/multicore');

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
