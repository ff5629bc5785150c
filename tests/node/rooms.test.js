// Rooms and room-scoped client events: joins against the rooms claim, aliases, server-side
// Join/Leave, room limits and bad room names, typing relay (membership, rate limit), and gRPC
// pattern subscriptions.
'use strict';

const assert = require('node:assert/strict');
const {
  heraldTest,
  connect,
  makeToken,
  grpcClient,
  jsonArg,
  expectGrpcError,
  grpcStatus,
  GUARD_MS,
} = require('./lib/herald');
const { clusterTest } = require('./lib/cluster');

const ACK_MS = GUARD_MS;

function token(h, sub, rooms) {
  return makeToken(h.config, rooms ? { sub, rooms } : { sub });
}

function ns(extra) {
  return [{ name: '/', anonymous: false, ...extra }, { name: '/anon', anonymous: true }];
}

/** Sends `event` to the connection and waits for it: everything emitted to it before has arrived. */
async function marker(h, socket, name = 'marker') {
  await grpcClient(h).emit({ targets: [`conn:${socket.id}`], event: name, args: [jsonArg(name)] });
  await socket.inbox.wait(name);
}

const ALIAS_CONFIG = {
  namespaces: ns({
    room_aliases: [{ join: 'subscribe:campaign', leave: 'unsubscribe:campaign', prefix: 'campaign:' }],
  }),
};

heraldTest("joining another tenant's room is refused; an alias joins campaign:<id>", { config: ALIAS_CONFIG }, async (t, h) => {
  const grpc = grpcClient(h);
  const s = await connect(h, '/', { token: token(h, 'agent-1', ['whatsapp:acc-1', 'campaign:*']) });

  assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'whatsapp:acc-1'), { ok: true });
  const refused = await s.timeout(ACK_MS).emitWithAck('join', 'whatsapp:acc-2');
  assert.equal(refused.ok, false, "another tenant's room must be refused");
  assert.equal(refused.error, 'not allowed to join room whatsapp:acc-2');

  assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('subscribe:campaign', 'c9'), { ok: true });

  await grpc.emit({ targets: ['room:whatsapp:acc-2'], event: 'tenant-2', args: [jsonArg('x')] });
  await grpc.emit({ targets: ['room:campaign:c9'], event: 'campaign-update', args: [jsonArg({ id: 'c9', sent: 10 })] });
  assert.deepEqual((await s.inbox.wait('campaign-update'))[0], [{ id: 'c9', sent: 10 }]);
  await grpc.emit({ targets: ['room:whatsapp:acc-1'], event: 'tenant-1', args: [jsonArg('y')] });
  assert.deepEqual((await s.inbox.wait('tenant-1'))[0], ['y']);
  assert.deepEqual(s.inbox.all('tenant-2'), [], 'no event of the refused room');

  // Leaving through the alias stops the room's events.
  assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('unsubscribe:campaign', 'c9'), { ok: true });
  await grpc.emit({ targets: ['room:campaign:c9'], event: 'after-unsubscribe', args: [] });
  await marker(h, s);
  assert.deepEqual(s.inbox.all('after-unsubscribe'), []);
});

heraldTest('an alias still checks the rooms claim', { config: ALIAS_CONFIG }, async (t, h) => {
  const s = await connect(h, '/', { token: token(h, 'agent-2', ['whatsapp:acc-1']) });
  const refused = await s.timeout(ACK_MS).emitWithAck('subscribe:campaign', 'c9');
  assert.equal(refused.ok, false);
  assert.equal(refused.error, 'not allowed to join room campaign:c9');
});

heraldTest("a server-side Join by user_id reaches every connection of the user; Leave undoes it", async (t, h) => {
  const grpc = grpcClient(h);
  const phone = await connect(h, '/', { token: token(h, 'alice') });
  const laptop = await connect(h, '/', { token: token(h, 'alice') });
  const bob = await connect(h, '/', { token: token(h, 'bob') });

  const joined = await grpc.join({ user_id: 'alice', rooms: ['team:7'] });
  assert.equal(joined.connections, 2, 'both of alice connections joined');

  await grpc.emit({ targets: ['room:team:7'], event: 'team-msg', args: [jsonArg('standup')] });
  assert.deepEqual((await phone.inbox.wait('team-msg'))[0], ['standup']);
  assert.deepEqual((await laptop.inbox.wait('team-msg'))[0], ['standup']);
  await marker(h, bob);
  assert.deepEqual(bob.inbox.all('team-msg'), [], 'bob was not joined');

  // A Join of one connection only.
  const one = await grpc.join({ connection_id: bob.id, rooms: ['team:8'] });
  assert.equal(one.connections, 1);
  await grpc.emit({ targets: ['room:team:8'], event: 'team8', args: [] });
  await bob.inbox.wait('team8');

  const left = await grpc.leave({ user_id: 'alice', rooms: ['team:7'] });
  assert.equal(left.connections, 2);
  await grpc.emit({ targets: ['room:team:7'], event: 'after-leave', args: [] });
  await marker(h, phone);
  await marker(h, laptop);
  assert.deepEqual(phone.inbox.all('after-leave'), []);
  assert.deepEqual(laptop.inbox.all('after-leave'), []);

  // An offline user: nobody joined.
  assert.equal((await grpc.join({ user_id: 'nobody', rooms: ['team:7'] })).connections, 0);
});

heraldTest('Join with both or neither of connection_id / user_id is INVALID_ARGUMENT', async (t, h) => {
  const grpc = grpcClient(h);
  const s = await connect(h, '/', { token: token(h, 'alice') });
  await expectGrpcError(grpc.join({ rooms: ['r'] }), grpcStatus.INVALID_ARGUMENT);
  await expectGrpcError(grpc.join({ connection_id: s.id, user_id: 'alice', rooms: ['r'] }), grpcStatus.INVALID_ARGUMENT);
  await expectGrpcError(grpc.join({ user_id: 'alice', rooms: ['bad*room'] }), grpcStatus.INVALID_ARGUMENT);
});

heraldTest('a room name containing * is refused even when the claim pattern matches it', async (t, h) => {
  const s = await connect(h, '/', { token: token(h, 'alice', ['campaign:*']) });
  for (const room of ['campaign:*', 'campaign:a*b', '*']) {
    const res = await s.timeout(ACK_MS).emitWithAck('join', room);
    assert.equal(res.ok, false, `join ${room} must be refused: ${JSON.stringify(res)}`);
    assert.equal(typeof res.error, 'string');
    assert.notEqual(res.error, '');
  }
  // The connection still works and a plain room of the pattern is fine.
  assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'campaign:1'), { ok: true });
});

heraldTest(
  'joins over max_rooms_per_connection are refused with an error naming the limit',
  { config: { namespaces: ns({ max_rooms_per_connection: 2 }) } },
  async (t, h) => {
    const s = await connect(h, '/', { token: token(h, 'alice', ['r:*']) });
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'r:1'), { ok: true });
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'r:2'), { ok: true });
    const third = await s.timeout(ACK_MS).emitWithAck('join', 'r:3');
    assert.equal(third.ok, false, 'the third room is over the limit');
    assert.match(third.error, /limit/);
    assert.match(third.error, /\b2\b/, `the error names the limit: ${third.error}`);

    // Not joined: a room:r:3 emit does not reach it.
    await grpcClient(h).emit({ targets: ['room:r:3'], event: 'r3', args: [] });
    await marker(h, s);
    assert.deepEqual(s.inbox.all('r3'), []);

    // Leaving one frees a slot.
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('leave', 'r:1'), { ok: true });
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'r:3'), { ok: true });
  },
);

const RELAY_CONFIG = { namespaces: ns({ relay: ['typing:start', 'typing:stop'] }) };

heraldTest('typing relay: room members see it, the typist does not', { config: RELAY_CONFIG }, async (t, h) => {
  const typist = await connect(h, '/', { token: token(h, 'alice', ['convo:*']) });
  const typistOtherDevice = await connect(h, '/', { token: token(h, 'alice', ['convo:*']) });
  const bob = await connect(h, '/', { token: token(h, 'bob', ['convo:*']) });
  const outsider = await connect(h, '/', { token: token(h, 'carol', ['convo:*']) });
  for (const s of [typist, typistOtherDevice, bob]) {
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'convo:1'), { ok: true });
  }
  assert.deepEqual(await outsider.timeout(ACK_MS).emitWithAck('join', 'convo:2'), { ok: true });

  const ack = await typist.timeout(ACK_MS).emitWithAck('typing:start', { room: 'convo:1', name: 'Alice' });
  assert.deepEqual(ack, { ok: true });
  assert.deepEqual((await bob.inbox.wait('typing:start'))[0], [{ room: 'convo:1', name: 'Alice' }]);
  assert.deepEqual((await typistOtherDevice.inbox.wait('typing:start'))[0], [{ room: 'convo:1', name: 'Alice' }]);

  // A string first argument is the room itself; no ack asked.
  typist.emit('typing:stop', 'convo:1');
  assert.deepEqual((await bob.inbox.wait('typing:stop'))[0], ['convo:1']);

  await marker(h, typist);
  await marker(h, outsider);
  assert.deepEqual(typist.inbox.all('typing:start'), [], 'the typist does not get its own relay');
  assert.deepEqual(typist.inbox.all('typing:stop'), []);
  assert.deepEqual(outsider.inbox.all('typing:start'), [], 'a member of another room does not get it');
});

clusterTest('typing relay across edges: each other member gets it once, on either edge', { config: RELAY_CONFIG }, async (c) => {
  const [a, b] = [c.edge(0), c.edge(1)];
  const typist = await connect(a, '/', { token: token(a, 'alice', ['convo:*']) });
  const near = await connect(a, '/', { token: token(a, 'bob', ['convo:*']) });
  const far = await connect(b, '/', { token: token(b, 'carol', ['convo:*']) });
  for (const s of [typist, near, far]) {
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'convo:1'), { ok: true });
  }
  const sent = [0, 1, 2, 3, 4];
  for (const n of sent) {
    assert.deepEqual(await typist.timeout(ACK_MS).emitWithAck('typing:start', { room: 'convo:1', n }), { ok: true });
  }
  await near.inbox.wait('typing:start', sent.length);
  await far.inbox.wait('typing:start', sent.length);
  await marker(a, near);
  await marker(b, far);
  await marker(a, typist);
  const got = (s) => s.inbox.all('typing:start').map((args) => args[0].n);
  assert.deepEqual(got(near), sent, 'a member on the same edge gets each relay once, in order');
  assert.deepEqual(got(far), sent, 'a member on another edge gets each relay once, in order');
  assert.deepEqual(got(typist), [], 'the typist does not get its own relay');
});

heraldTest('a relay to a room the sender is not in is refused', { config: RELAY_CONFIG }, async (t, h) => {
  const member = await connect(h, '/', { token: token(h, 'bob', ['convo:*']) });
  const nonMember = await connect(h, '/', { token: token(h, 'mallory', ['convo:*']) });
  assert.deepEqual(await member.timeout(ACK_MS).emitWithAck('join', 'convo:1'), { ok: true });

  const res = await nonMember.timeout(ACK_MS).emitWithAck('typing:start', { room: 'convo:1' });
  assert.equal(res.ok, false);
  assert.equal(res.error, 'not a member of room convo:1');
  const noRoom = await nonMember.timeout(ACK_MS).emitWithAck('typing:start', { other: 1 });
  assert.equal(noRoom.ok, false, `a relay without a room is refused: ${JSON.stringify(noRoom)}`);

  await marker(h, member);
  assert.deepEqual(member.inbox.all('typing:start'), [], 'a refused relay reaches nobody');
  assert.equal(nonMember.connected, true, 'a refused relay does not close the connection');
});

heraldTest(
  'relay rate limit: past the burst the ack is "rate limited"',
  { config: { namespaces: ns({ relay: ['typing:start'], relay_rate_per_sec: 1, relay_burst: 3 }) } },
  async (t, h) => {
    const s = await connect(h, '/', { token: token(h, 'alice', ['convo:*']) });
    const bob = await connect(h, '/', { token: token(h, 'bob', ['convo:*']) });
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'convo:1'), { ok: true });
    assert.deepEqual(await bob.timeout(ACK_MS).emitWithAck('join', 'convo:1'), { ok: true });

    const acks = await Promise.all(
      Array.from({ length: 10 }, (_, i) => s.timeout(ACK_MS).emitWithAck('typing:start', { room: 'convo:1', n: i })),
    );
    const okCount = acks.filter((a) => a && a.ok === true).length;
    const limited = acks.filter((a) => a && a.ok === false && a.error === 'rate limited').length;
    assert.deepEqual(acks.slice(0, 3), [{ ok: true }, { ok: true }, { ok: true }], 'the burst passes');
    assert.ok(okCount <= 4, `at most burst (+1 refill) pass: ${JSON.stringify(acks)}`);
    assert.equal(okCount + limited, 10, `every other ack is "rate limited": ${JSON.stringify(acks)}`);

    // Bob saw only the ones that passed.
    await marker(h, bob);
    assert.equal(bob.inbox.all('typing:start').length, okCount);
    assert.equal(s.connected, true, 'rate limiting does not disconnect');
  },
);

heraldTest('a Subscribe to room:campaign:* receives campaign rooms only', async (t, h) => {
  const grpc = grpcClient(h);
  const sub = grpc.subscribe({ topics: ['room:campaign:*'] });
  await sub.ready();

  await grpc.emit({ targets: ['room:other'], event: 'other', args: [jsonArg(0)] });
  await grpc.emit({ targets: ['room:campaign:c1'], event: 'c1', args: [jsonArg(1)] });
  await grpc.emit({ targets: ['room:campaignX'], event: 'not-prefix', args: [jsonArg(9)] });
  await grpc.emit({ targets: ['room:campaign:c2'], event: 'c2', args: [jsonArg(2)] });
  await sub.waitEvents((evs) => evs.some((e) => e.name === 'c2'), 'the room:campaign:c2 event');
  const names = sub.events.map((e) => e.name);
  assert.deepEqual(names, ['c1', 'c2'], `only the campaign rooms' events: ${JSON.stringify(names)}`);
  assert.deepEqual(sub.events[0].targets, ['room:campaign:c1']);
  assert.equal(sub.events[0].args[0].json, '1');
});

heraldTest('a Subscribe to a bad pattern (room:a*b) is INVALID_ARGUMENT', async (t, h) => {
  const grpc = grpcClient(h);
  for (const topic of ['room:a*b', 'room:**', 'nonsense:x']) {
    const err = await grpcClient(h).subscribe({ topics: [topic] }).failed();
    assert.equal(err.code, grpcStatus.INVALID_ARGUMENT, `${topic}: ${err.details}`);
  }
  // The server still answers a good one.
  const ok = grpc.subscribe({ topics: ['room:fine:*'] });
  await ok.ready();
});
