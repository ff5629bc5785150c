// Operations: the Disconnect RPC (kicks with a reason), Stats and the edge's /metrics, and system
// announcements to a whole namespace.
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, makeToken, grpcClient, jsonArg, expectGrpcError, grpcStatus, withGuard, GUARD_MS } = require('./lib/herald');
const { startHandler } = require('./lib/handler');

const ACK_MS = GUARD_MS;

function token(h, sub, rooms) {
  return makeToken(h.config, rooms ? { sub, rooms } : { sub });
}

async function marker(h, socket, name = 'marker', namespace = '/') {
  await grpcClient(h).emit({ namespace, targets: [`conn:${socket.id}`], event: name, args: [jsonArg(name)] });
  await socket.inbox.wait(name);
}

/** The inbox order: `herald:disconnect` {reason} then the local disconnect "io server disconnect". */
async function assertKicked(socket, reason) {
  assert.equal(await socket.inbox.disconnected(), 'io server disconnect');
  const names = socket.inbox.names();
  const iEvent = names.indexOf('herald:disconnect');
  assert.ok(iEvent >= 0, `herald:disconnect was received: ${JSON.stringify(names)}`);
  assert.ok(iEvent < names.indexOf('disconnect'), 'herald:disconnect comes before the disconnect');
  assert.deepEqual(socket.inbox.all('herald:disconnect')[0], [{ reason }]);
}

heraldTest('Disconnect by connection_id: herald:disconnect {reason}, then "io server disconnect"', async (t, h) => {
  const grpc = grpcClient(h);
  const kicked = await connect(h, '/', { token: token(h, 'alice') });
  const sameUser = await connect(h, '/', { token: token(h, 'alice') });
  const res = await grpc.disconnect({ connection_id: kicked.id, reason: 'kicked by admin' });
  assert.equal(res.connections, 1);
  await assertKicked(kicked, 'kicked by admin');

  await marker(h, sameUser);
  assert.equal(sameUser.connected, true, "the user's other connection stays");
  assert.deepEqual(sameUser.inbox.all('herald:disconnect'), []);
  // An unknown connection: nothing closed.
  assert.equal((await grpc.disconnect({ connection_id: 'no-such-conn', reason: 'x' })).connections, 0);
});

heraldTest('Disconnect by user_id closes every connection of the user only', async (t, h) => {
  const grpc = grpcClient(h);
  const a1 = await connect(h, '/', { token: token(h, 'alice') });
  const a2 = await connect(h, '/', { token: token(h, 'alice') });
  const bob = await connect(h, '/', { token: token(h, 'bob') });
  const res = await grpc.disconnect({ user_id: 'alice', reason: 'account suspended' });
  assert.equal(res.connections, 2);
  await assertKicked(a1, 'account suspended');
  await assertKicked(a2, 'account suspended');
  await marker(h, bob);
  assert.equal(bob.connected, true);
});

heraldTest('Disconnect needs exactly one of connection_id / user_id', async (t, h) => {
  const grpc = grpcClient(h);
  await expectGrpcError(grpc.disconnect({ reason: 'x' }), grpcStatus.INVALID_ARGUMENT);
  await expectGrpcError(grpc.disconnect({ connection_id: 'a', user_id: 'b', reason: 'x' }), grpcStatus.INVALID_ARGUMENT);
  await expectGrpcError(grpc.disconnect({ user_id: 'alice', reason: 'x' }, { token: 'wrong' }), grpcStatus.UNAUTHENTICATED);
});

heraldTest('a system announcement (*) reaches everyone in the namespace, not other namespaces', async (t, h) => {
  const grpc = grpcClient(h);
  const users = [];
  for (const sub of ['alice', 'bob', 'carol']) users.push(await connect(h, '/', { token: token(h, sub) }));
  const anon = await connect(h, '/anon');
  const res = await grpc.emit({ targets: ['*'], event: 'announcement', args: [jsonArg({ text: 'maintenance at 22:00' })] });
  assert.equal(res.connections, 3);
  for (const s of users) {
    assert.deepEqual((await s.inbox.wait('announcement'))[0], [{ text: 'maintenance at 22:00' }]);
  }
  await marker(h, anon, 'marker', '/anon');
  assert.deepEqual(anon.inbox.all('announcement'), []);
});

/** Stats entry of a namespace (zeros when absent). */
function nsStats(stats, name) {
  return stats.namespaces.find((n) => n.namespace === name) || { namespace: name, connections: 0, users: 0, rooms: 0 };
}

heraldTest('Stats counts connections, users, rooms, edges and handlers', async (t, h) => {
  const grpc = grpcClient(h);
  const a1 = await connect(h, '/', { token: token(h, 'alice', ['lobby', 'team:*']) });
  await connect(h, '/', { token: token(h, 'alice') });
  const bob = await connect(h, '/', { token: token(h, 'bob', ['lobby']) });
  await connect(h, '/anon');
  assert.deepEqual(await a1.timeout(ACK_MS).emitWithAck('join', 'lobby'), { ok: true });
  assert.deepEqual(await a1.timeout(ACK_MS).emitWithAck('join', 'team:1'), { ok: true });
  assert.deepEqual(await bob.timeout(ACK_MS).emitWithAck('join', 'lobby'), { ok: true });
  await startHandler(h, { events: ['message:send'] });
  const sub = grpc.subscribe({ topics: ['*'] });
  await sub.ready();

  const stats = await grpc.stats();
  assert.deepEqual(nsStats(stats, '/'), { namespace: '/', connections: 3, users: 2, rooms: 2, events: '0' });
  assert.deepEqual(nsStats(stats, '/anon'), { namespace: '/anon', connections: 1, users: 0, rooms: 0, events: '0' });
  assert.equal(stats.edges, 1);
  assert.equal(stats.handlers, 1);
  assert.equal(stats.subscribers, 1);
  await expectGrpcError(grpc.stats({}, { token: null }), grpcStatus.UNAUTHENTICATED);
});

async function getMetrics(h) {
  const res = await withGuard(fetch(`${h.edgeUrl}/metrics`), GUARD_MS, 'GET /metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/plain/);
  return res.text();
}

/** The value of one sample line `name{labels} value` (labels exactly as given), or undefined. */
function sample(text, series) {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    if (i > 0 && line.slice(0, i).trim() === series) return Number(line.slice(i + 1));
  }
  return undefined;
}

heraldTest('GET /metrics reflects the connections (herald_connections{namespace="/"} 2)', async (t, h) => {
  const a = await connect(h, '/', { token: token(h, 'alice', ['lobby']) });
  await connect(h, '/', { token: token(h, 'bob') });
  await connect(h, '/anon');
  assert.deepEqual(await a.timeout(ACK_MS).emitWithAck('join', 'lobby'), { ok: true });

  const text = await getMetrics(h);
  assert.equal(sample(text, 'herald_connections{namespace="/"}'), 2, text);
  assert.equal(sample(text, 'herald_users{namespace="/"}'), 2, text);
  assert.equal(sample(text, 'herald_rooms{namespace="/"}'), 1, text);
  assert.equal(sample(text, 'herald_connections{namespace="/anon"}'), 1, text);
  assert.equal(sample(text, 'herald_edges'), 1, text);
  assert.match(text, /^# TYPE herald_connections gauge$/m);

  // After a disconnect the numbers follow (the edge needs a moment to hear about it: ask again).
  a.disconnect();
  const after = await withGuard(
    (async () => {
      for (;;) {
        const t2 = await getMetrics(h);
        if (sample(t2, 'herald_connections{namespace="/"}') !== 2) return t2;
        await new Promise((r) => setTimeout(r, 25));
      }
    })(),
    GUARD_MS,
    'herald_connections{namespace="/"} to change',
  );
  assert.equal(sample(after, 'herald_connections{namespace="/"}'), 1, after);
  assert.equal(sample(after, 'herald_rooms{namespace="/"}'), 0, after);
});
