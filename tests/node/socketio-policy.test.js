// Client-event policy the seeds' flows need: relays that skip every connection of the sender's
// user, join/leave and alias events with an object payload, events a `$connect` handler sends
// right after the CONNECT answer, and the per-user client-event rate.
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, makeToken, grpcClient, jsonArg, rawEngine, GUARD_MS, DEFAULT_NAMESPACES } = require('./lib/herald');
const { startHandler } = require('./lib/handler');

function token(h, sub, extra = {}) {
  return makeToken(h.config, { sub, ...extra });
}

/** Emits `name` to one connection and waits for it: everything sent to it before has arrived. */
async function marker(h, socket, name = 'marker', namespace = '/') {
  await grpcClient(h).emit({ namespace, targets: [`conn:${socket.id}`], event: name, args: [jsonArg(name)] });
  await socket.inbox.wait(name);
}

const TYPING_USERS = {
  namespaces: [
    { name: '/', anonymous: false, relay: ['convo_someone_typing'], relay_room_field: 'roomId', relay_exclude: 'user' },
    { name: '/anon', anonymous: true },
  ],
};

heraldTest('relay_exclude = "user": a relay skips every connection of the sender\'s user', { config: TYPING_USERS }, async (t, h) => {
  const rooms = { rooms: ['room_*'] };
  const phone = await connect(h, '/', { token: token(h, 'alice', rooms) });
  const laptop = await connect(h, '/', { token: token(h, 'alice', rooms) });
  const bob = await connect(h, '/', { token: token(h, 'bob', rooms) });
  for (const s of [phone, laptop, bob]) {
    assert.deepEqual(await s.timeout(GUARD_MS).emitWithAck('join', 'room_c1'), { ok: true });
  }
  const typing = { conversationId: 'c1', roomId: 'room_c1', user: 'alice' };
  assert.deepEqual(await phone.timeout(GUARD_MS).emitWithAck('convo_someone_typing', typing), { ok: true });
  assert.deepEqual((await bob.inbox.wait('convo_someone_typing'))[0], [typing]);
  await marker(h, laptop);
  await marker(h, phone);
  assert.deepEqual(laptop.inbox.all('convo_someone_typing'), [], 'the sender\'s other device is skipped');
  assert.deepEqual(phone.inbox.all('convo_someone_typing'), []);
  // Bob's own typing still reaches both of alice's devices.
  bob.emit('convo_someone_typing', { conversationId: 'c1', roomId: 'room_c1', user: 'bob' });
  await phone.inbox.wait('convo_someone_typing');
  await laptop.inbox.wait('convo_someone_typing');
});

const OBJECT_JOINS = {
  namespaces: [
    {
      name: '/',
      anonymous: false,
      // Seed 000: socket.emit('convo_join', {conversationId, roomId}).
      join_event: 'convo_join',
      leave_event: 'convo_leave',
      room_field: 'roomId',
      room_aliases: [{ join: 'subscribe:campaign', leave: 'unsubscribe:campaign', prefix: 'campaign:', field: 'id' }],
    },
    { name: '/anon', anonymous: true },
  ],
};

heraldTest('join/leave and alias events take an object payload and its configured field', { config: OBJECT_JOINS }, async (t, h) => {
  const grpc = grpcClient(h);
  const s = await connect(h, '/', { token: token(h, 'alice', { rooms: ['room_*', 'campaign:*'] }) });
  const convo = { conversationId: '64conv1', roomId: 'room_64conv1' };
  assert.deepEqual(await s.timeout(GUARD_MS).emitWithAck('convo_join', convo), { ok: true });
  assert.deepEqual(await s.timeout(GUARD_MS).emitWithAck('convo_join', 'room_other'), { ok: true }, 'a plain string still works');
  assert.deepEqual(await s.timeout(GUARD_MS).emitWithAck('subscribe:campaign', { id: 'c9', roomId: 'ignored' }), { ok: true });
  await grpc.emit({ targets: ['room:room_64conv1'], event: 'new_message', args: [jsonArg(1)] });
  await grpc.emit({ targets: ['room:room_other'], event: 'other', args: [jsonArg(2)] });
  await grpc.emit({ targets: ['room:campaign:c9'], event: 'campaign', args: [jsonArg(3)] });
  assert.deepEqual((await s.inbox.wait('new_message'))[0], [1]);
  assert.deepEqual((await s.inbox.wait('other'))[0], [2]);
  assert.deepEqual((await s.inbox.wait('campaign'))[0], [3]);

  assert.deepEqual(await s.timeout(GUARD_MS).emitWithAck('convo_leave', convo), { ok: true });
  await grpc.emit({ targets: ['room:room_64conv1'], event: 'new_message', args: [jsonArg(4)] });
  await marker(h, s);
  assert.deepEqual(s.inbox.all('new_message'), [[1]], 'left: nothing more from that room');

  const bad = await s.timeout(GUARD_MS).emitWithAck('convo_join', { conversationId: 'c' });
  assert.equal(bad.ok, false);
  assert.match(bad.error, /roomId/);
});

const CONNECT_NS = {
  namespaces: [...DEFAULT_NAMESPACES, { name: '/app', anonymous: false, connect_handler: true }],
};

heraldTest('a $connect reply\'s events reach the new socket right after its CONNECT answer, in order', { config: CONNECT_NS }, async (t, h) => {
  await startHandler(h, { namespace: '/app', events: ['$connect'] });
  const s = await connect(h, '/app', { token: token(h, 'alice', { welcome: true }) });
  assert.deepEqual((await s.inbox.wait('welcome'))[0], [{ user: 'alice' }]);
  assert.deepEqual((await s.inbox.wait('unread'))[0], [3, 'convo:1']);
  assert.deepEqual(s.inbox.events.slice(0, 2).map((e) => e.event), ['welcome', 'unread']);

  // On the wire: 40 first, then the events, before anything else.
  const raw = await rawEngine(h);
  raw.send(`40/app,${JSON.stringify({ token: token(h, 'bob', { welcome: true }) })}`);
  await raw.next((m) => m.startsWith('42/app,["unread"'), 'the second event');
  const texts = raw.messages.filter((m) => typeof m === 'string' && m.startsWith('4'));
  assert.match(texts[0], /^40\/app,\{"sid"/);
  assert.equal(texts[1], '42/app,["welcome",{"user":"bob"}]');
  assert.equal(texts[2], '42/app,["unread",3,"convo:1"]');

  // Without `emit` in the reply, nothing extra.
  const plain = await connect(h, '/app', { token: token(h, 'carol') });
  await marker(h, plain, 'marker', '/app');
  assert.deepEqual(plain.inbox.events.map((e) => e.event), ['marker']);
});

const USER_RATE = {
  namespaces: [{ name: '/', anonymous: false, user_event_rate_per_sec: 1, user_event_burst: 4 }, { name: '/anon', anonymous: true }],
};

heraldTest('a user over its client-event rate is refused with "rate limited"; other users are not', { config: USER_RATE }, async (t, h) => {
  const phone = await connect(h, '/', { token: token(h, 'alice') });
  const laptop = await connect(h, '/', { token: token(h, 'alice') });
  const bob = await connect(h, '/', { token: token(h, 'bob') });
  const answers = [];
  // The burst is shared by the user's connections: alternate them until one is refused (at one
  // event per second, well before 50).
  for (let i = 0; i < 50 && !answers.some((a) => a.error === 'rate limited'); i += 1) {
    answers.push(await [phone, laptop][i % 2].timeout(GUARD_MS).emitWithAck('ping-me', i));
  }
  assert.deepEqual(answers.at(-1), { error: 'rate limited' }, JSON.stringify(answers));
  assert.deepEqual(answers.slice(0, 4), Array(4).fill({ error: 'unknown event ping-me' }));
  // Bob has his own budget.
  for (let i = 0; i < 4; i += 1) {
    assert.deepEqual(await bob.timeout(GUARD_MS).emitWithAck('ping-me', i), { error: 'unknown event ping-me' });
  }
  assert.equal(phone.connected && laptop.connected && bob.connected, true, 'nobody is disconnected');
});
