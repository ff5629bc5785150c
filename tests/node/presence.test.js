// Presence: the Presence RPC (by user_ids and by room) follows connections coming and going, and
// opt-in `presence` events tell room members when a user joins or leaves.
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, makeToken, grpcClient, jsonArg, withGuard, GUARD_MS, expectGrpcError, grpcStatus } = require('./lib/herald');

const ACK_MS = GUARD_MS;

function token(h, sub, rooms = ['team:*']) {
  return makeToken(h.config, { sub, rooms });
}

function ns(extra) {
  return [{ name: '/', anonymous: false, ...extra }, { name: '/anon', anonymous: true }];
}

async function marker(h, socket, name = 'marker') {
  await grpcClient(h).emit({ targets: [`conn:${socket.id}`], event: name, args: [jsonArg(name)] });
  await socket.inbox.wait(name);
}

/**
 * Presence is updated when the server has processed a disconnect, which the client cannot observe
 * directly: ask again (a few ms apart) until the answer differs from `before`, then return it for
 * the caller to assert on. Bounded by the hang guard.
 */
async function presenceChange(grpc, request, before) {
  const key = (r) => JSON.stringify(r);
  return withGuard(
    (async () => {
      for (;;) {
        const r = await grpc.presence(request);
        if (key(r) !== key(before)) return r;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })(),
    GUARD_MS,
    `the Presence answer to change from ${key(before)}`,
  );
}

function byUser(res) {
  return Object.fromEntries(res.users.map((u) => [u.user_id, u]));
}

heraldTest('two devices: one drops -> still online; both drop -> offline (by user_ids and by room)', async (t, h) => {
  const grpc = grpcClient(h);
  const phone = await connect(h, '/', { token: token(h, 'alice') });
  const laptop = await connect(h, '/', { token: token(h, 'alice') });
  const bob = await connect(h, '/', { token: token(h, 'bob') });
  for (const s of [phone, laptop, bob]) {
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'team:1'), { ok: true });
  }

  const byIds = { user_ids: ['alice', 'bob', 'nobody'] };
  const inRoom = { room: 'team:1' };
  const ids0 = await grpc.presence(byIds);
  assert.deepEqual(ids0.users, [
    { user_id: 'alice', online: true, connections: 2 },
    { user_id: 'bob', online: true, connections: 1 },
    { user_id: 'nobody', online: false, connections: 0 },
  ]);
  const room0 = await grpc.presence(inRoom);
  assert.equal(room0.connections, 3);
  assert.deepEqual(byUser(room0), {
    alice: { user_id: 'alice', online: true, connections: 2 },
    bob: { user_id: 'bob', online: true, connections: 1 },
  });

  phone.disconnect();
  const ids1 = await presenceChange(grpc, byIds, ids0);
  assert.deepEqual(byUser(ids1).alice, { user_id: 'alice', online: true, connections: 1 }, 'one device left: still online');
  assert.deepEqual(byUser(ids1).bob, { user_id: 'bob', online: true, connections: 1 });
  const room1 = await grpc.presence(inRoom);
  assert.equal(room1.connections, 2, 'the room agrees');
  assert.deepEqual(byUser(room1).alice, { user_id: 'alice', online: true, connections: 1 });

  laptop.disconnect();
  const ids2 = await presenceChange(grpc, byIds, ids1);
  assert.deepEqual(byUser(ids2).alice, { user_id: 'alice', online: false, connections: 0 }, 'both devices left: offline');
  assert.deepEqual(byUser(ids2).bob, { user_id: 'bob', online: true, connections: 1 });
  const room2 = await grpc.presence(inRoom);
  assert.equal(room2.connections, 1);
  assert.deepEqual(room2.users, [{ user_id: 'bob', online: true, connections: 1 }], 'alice is no longer listed in the room');

  // Room + user_ids: only those users, counted in the room.
  const both = await grpc.presence({ room: 'team:1', user_ids: ['alice', 'bob'] });
  assert.deepEqual(both.users, [
    { user_id: 'alice', online: false, connections: 0 },
    { user_id: 'bob', online: true, connections: 1 },
  ]);
});

heraldTest('Presence for a room lists its users with per-room connection counts', async (t, h) => {
  const grpc = grpcClient(h);
  const a1 = await connect(h, '/', { token: token(h, 'alice') });
  const a2 = await connect(h, '/', { token: token(h, 'alice') });
  const b = await connect(h, '/', { token: token(h, 'bob') });
  await connect(h, '/', { token: token(h, 'carol') });
  assert.deepEqual(await a1.timeout(ACK_MS).emitWithAck('join', 'team:2'), { ok: true });
  assert.deepEqual(await b.timeout(ACK_MS).emitWithAck('join', 'team:2'), { ok: true });
  assert.deepEqual(await a2.timeout(ACK_MS).emitWithAck('join', 'team:3'), { ok: true });

  const res = await grpc.presence({ room: 'team:2' });
  assert.equal(res.connections, 2);
  assert.deepEqual(byUser(res), {
    alice: { user_id: 'alice', online: true, connections: 1 },
    bob: { user_id: 'bob', online: true, connections: 1 },
  });
  const empty = await grpc.presence({ room: 'team:none' });
  assert.deepEqual(empty.users, []);
  assert.equal(empty.connections, 0);
  // Namespaces are separate.
  const other = await grpc.presence({ namespace: '/anon', user_ids: ['alice'] });
  assert.deepEqual(other.users, [{ user_id: 'alice', online: false, connections: 0 }]);
});

heraldTest('Presence with neither room nor user_ids, or a bad room, is INVALID_ARGUMENT', async (t, h) => {
  const grpc = grpcClient(h);
  await expectGrpcError(grpc.presence({}), grpcStatus.INVALID_ARGUMENT);
  await expectGrpcError(grpc.presence({ room: 'a*b' }), grpcStatus.INVALID_ARGUMENT);
});

heraldTest(
  'presence events: other room members hear join and leave; the user does not hear itself',
  { config: { namespaces: ns({ presence_events: true }) } },
  async (t, h) => {
    const bob = await connect(h, '/', { token: token(h, 'bob') });
    const outsider = await connect(h, '/', { token: token(h, 'carol') });
    assert.deepEqual(await bob.timeout(ACK_MS).emitWithAck('join', 'team:1'), { ok: true });
    assert.deepEqual(await outsider.timeout(ACK_MS).emitWithAck('join', 'team:2'), { ok: true });

    const alice = await connect(h, '/', { token: token(h, 'alice') });
    assert.deepEqual(await alice.timeout(ACK_MS).emitWithAck('join', 'team:1'), { ok: true });
    assert.deepEqual((await bob.inbox.wait('presence', 1))[0], [{ room: 'team:1', user_id: 'alice', status: 'join' }]);

    assert.deepEqual(await alice.timeout(ACK_MS).emitWithAck('leave', 'team:1'), { ok: true });
    const two = await bob.inbox.wait('presence', 2);
    assert.deepEqual(two[1], [{ room: 'team:1', user_id: 'alice', status: 'leave' }]);

    await marker(h, alice);
    await marker(h, outsider);
    assert.deepEqual(alice.inbox.all('presence'), [], 'no presence event about oneself');
    assert.deepEqual(outsider.inbox.all('presence'), [], 'members of other rooms hear nothing');
  },
);

heraldTest(
  'presence events: a second device joining is no news; the last connection going away is a leave',
  { config: { namespaces: ns({ presence_events: true }) } },
  async (t, h) => {
    const bob = await connect(h, '/', { token: token(h, 'bob') });
    assert.deepEqual(await bob.timeout(ACK_MS).emitWithAck('join', 'team:1'), { ok: true });
    const phone = await connect(h, '/', { token: token(h, 'alice') });
    const laptop = await connect(h, '/', { token: token(h, 'alice') });
    assert.deepEqual(await phone.timeout(ACK_MS).emitWithAck('join', 'team:1'), { ok: true });
    await bob.inbox.wait('presence', 1);
    assert.deepEqual(await laptop.timeout(ACK_MS).emitWithAck('join', 'team:1'), { ok: true });
    await marker(h, bob);
    assert.equal(bob.inbox.all('presence').length, 1, "alice's second connection joining is not a join");

    const grpc = grpcClient(h);
    const before = await grpc.presence({ room: 'team:1', user_ids: ['alice'] });
    phone.disconnect();
    const after = await presenceChange(grpc, { room: 'team:1', user_ids: ['alice'] }, before);
    assert.deepEqual(after.users, [{ user_id: 'alice', online: true, connections: 1 }]);
    await marker(h, bob, 'marker2');
    assert.equal(bob.inbox.all('presence').length, 1, 'one device leaving is not a leave');

    laptop.disconnect();
    const events = await bob.inbox.wait('presence', 2);
    assert.deepEqual(events, [
      [{ room: 'team:1', user_id: 'alice', status: 'join' }],
      [{ room: 'team:1', user_id: 'alice', status: 'leave' }],
    ]);
    await marker(h, bob, 'marker3');
    assert.equal(bob.inbox.all('presence').length, 2, 'exactly one join and one leave');
  },
);

heraldTest('no presence events when presence_events is off (the default)', async (t, h) => {
  const bob = await connect(h, '/', { token: token(h, 'bob') });
  assert.deepEqual(await bob.timeout(ACK_MS).emitWithAck('join', 'team:1'), { ok: true });
  const alice = await connect(h, '/', { token: token(h, 'alice') });
  assert.deepEqual(await alice.timeout(ACK_MS).emitWithAck('join', 'team:1'), { ok: true });
  await grpcClient(h).emit({ targets: ['room:team:1'], event: 'marker', args: [] });
  await bob.inbox.wait('marker');
  assert.deepEqual(bob.inbox.all('presence'), []);
});
