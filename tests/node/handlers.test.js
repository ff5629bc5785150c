// Client events forwarded to a real backend handler process (backend/handler.js over
// HeraldService.Handle): the chat flows (message:send ack + new_message, read receipts, multi-device),
// $connect auto-join and data, $join and $disconnect handlers, and the failure modes (handler timeout,
// handler gone with events in flight, no handler, unknown events).
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, connectError, makeToken, grpcClient, jsonArg, GUARD_MS } = require('./lib/herald');
const { startHandler } = require('./lib/handler');

const ACK_MS = GUARD_MS;

function token(h, sub, extra = {}) {
  return makeToken(h.config, { sub, ...extra });
}

function ns(extra, more = []) {
  return [{ name: '/', anonymous: false, ...extra }, { name: '/anon', anonymous: true }, ...more];
}

async function marker(h, socket, name = 'marker', namespace = '/') {
  await grpcClient(h).emit({ namespace, targets: [`conn:${socket.id}`], event: name, args: [jsonArg(name)] });
  await socket.inbox.wait(name);
}

const CHAT = {
  namespaces: ns({ forward: ['message:send', 'message:read'], relay: ['typing:start'] }),
};

async function joinConvo(sockets, room) {
  for (const s of sockets) {
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', room), { ok: true });
  }
}

heraldTest('message:send is answered by the handler (the ack) and the room gets new_message', { config: CHAT }, async (t, h) => {
  const handler = await startHandler(h, { events: ['message:send', 'message:read'], ackTimeoutMs: 5000 });
  const alice = await connect(h, '/', { token: token(h, 'alice', { rooms: ['convo:*'], tenant: 't1' }) });
  const bob = await connect(h, '/', { token: token(h, 'bob', { rooms: ['convo:*'] }) });
  const carol = await connect(h, '/', { token: token(h, 'carol', { rooms: ['convo:*'] }) });
  await joinConvo([alice, bob], 'convo:1');
  for (const s of [alice, bob]) {
    s.on('new_message', (msg, ack) => ack({ delivered_to: s.id }));
  }

  const ack = await alice.timeout(ACK_MS).emitWithAck('message:send', { room: 'convo:1', text: 'hello bob' });
  assert.equal(ack.ok, true, `the handler's reply is the ack: ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.id, 'string');

  // What the handler saw: the event, who sent it, the token claims.
  const [ev] = await handler.waitEvent('message:send');
  assert.equal(ev.connection_id, alice.id);
  assert.equal(ev.user_id, 'alice');
  assert.equal(ev.namespace, '/');
  assert.deepEqual(ev.args, [{ room: 'convo:1', text: 'hello bob' }]);
  assert.equal(ev.claims.sub, 'alice');
  assert.equal(ev.claims.tenant, 't1');

  const expected = { id: ack.id, room: 'convo:1', from: 'alice', text: 'hello bob' };
  assert.deepEqual((await bob.inbox.wait('new_message'))[0][0], expected);
  assert.deepEqual((await alice.inbox.wait('new_message'))[0][0], expected);

  // The handler's Emit (with ack_timeout_ms) got both members' delivery receipts.
  const emitted = await handler.waitLine((l) => l.kind === 'emitted' && l.value.event === 'new_message', 'the new_message Emit result');
  const res = emitted.value.response;
  assert.equal(res.connections, 2);
  assert.equal(res.acks.length, 2);
  for (const a of res.acks) {
    assert.equal(a.acked, true, JSON.stringify(a));
    assert.deepEqual(JSON.parse(a.args[0].json), { delivered_to: a.connection_id });
  }

  await marker(h, carol);
  assert.deepEqual(carol.inbox.all('new_message'), [], 'a non-member does not get the message');
});

heraldTest("message:read goes to the original sender's connections only", { config: CHAT }, async (t, h) => {
  const handler = await startHandler(h, { events: ['message:send', 'message:read'], ackTimeoutMs: 0 });
  const alicePhone = await connect(h, '/', { token: token(h, 'alice', { rooms: ['convo:*'] }) });
  const aliceLaptop = await connect(h, '/', { token: token(h, 'alice', { rooms: ['convo:*'] }) });
  const bob = await connect(h, '/', { token: token(h, 'bob', { rooms: ['convo:*'] }) });
  const carol = await connect(h, '/', { token: token(h, 'carol', { rooms: ['convo:*'] }) });
  await joinConvo([alicePhone, aliceLaptop, bob, carol], 'convo:1');

  const sent = await alicePhone.timeout(ACK_MS).emitWithAck('message:send', { room: 'convo:1', text: 'read me' });
  assert.equal(sent.ok, true, JSON.stringify(sent));
  const [[msg]] = await bob.inbox.wait('new_message');
  assert.equal(msg.id, sent.id);

  const readAck = await bob.timeout(ACK_MS).emitWithAck('message:read', { id: msg.id });
  assert.deepEqual(readAck, { ok: true });
  const receipt = { id: sent.id, room: 'convo:1', reader: 'bob' };
  assert.deepEqual((await alicePhone.inbox.wait('message:read'))[0], [receipt]);
  assert.deepEqual((await aliceLaptop.inbox.wait('message:read'))[0], [receipt]);

  await marker(h, bob);
  await marker(h, carol);
  assert.deepEqual(bob.inbox.all('message:read'), [], 'the reader does not get the receipt');
  assert.deepEqual(carol.inbox.all('message:read'), [], 'other room members do not get the receipt');
  assert.equal(handler.events('message:read').length, 1);
});

heraldTest('multi-device: both devices receive; an emit except conn:<sender> skips only the sender', { config: CHAT }, async (t, h) => {
  await startHandler(h, { events: ['message:send'], ackTimeoutMs: 0 });
  const phone = await connect(h, '/', { token: token(h, 'alice', { rooms: ['convo:*'] }) });
  const laptop = await connect(h, '/', { token: token(h, 'alice', { rooms: ['convo:*'] }) });
  const bob = await connect(h, '/', { token: token(h, 'bob', { rooms: ['convo:*'] }) });
  await joinConvo([phone, laptop, bob], 'convo:1');

  // A user emit reaches both devices.
  const direct = await grpcClient(h).emit({ targets: ['user:alice'], event: 'notice', args: [jsonArg('both')] });
  assert.equal(direct.connections, 2);
  await phone.inbox.wait('notice');
  await laptop.inbox.wait('notice');

  const ack = await phone.timeout(ACK_MS).emitWithAck('message:send', { room: 'convo:1', text: 'from phone', skip_sender: true });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  const expected = { id: ack.id, room: 'convo:1', from: 'alice', text: 'from phone' };
  assert.deepEqual((await laptop.inbox.wait('new_message'))[0], [expected], "the sender's other device gets it");
  assert.deepEqual((await bob.inbox.wait('new_message'))[0], [expected]);
  await marker(h, phone);
  assert.deepEqual(phone.inbox.all('new_message'), [], 'the sending connection is skipped');
});

const CONNECT_NS = {
  namespaces: ns({}, [{ name: '/app', anonymous: false, connect_handler: true, forward: ['whoami'] }]),
};

heraldTest('a $connect handler auto-joins rooms and attaches data seen by later forwards', { config: CONNECT_NS }, async (t, h) => {
  const handler = await startHandler(h, { namespace: '/app', events: ['$connect', 'whoami'] });
  const grpc = grpcClient(h);
  const s = await connect(h, '/app', { token: token(h, 'alice', { tenant: 'acme' }) });
  const other = await connect(h, '/', { token: token(h, 'alice') });

  const [ev] = await handler.waitEvent('$connect');
  assert.equal(ev.user_id, 'alice');
  assert.equal(ev.namespace, '/app');
  assert.equal(ev.claims.tenant, 'acme');

  await grpc.emit({ namespace: '/app', targets: ['room:whatsapp:acc-1'], event: 'wa', args: [jsonArg('inbound')] });
  assert.deepEqual((await s.inbox.wait('wa'))[0], ['inbound']);
  await grpc.emit({ namespace: '/app', targets: ['room:user-rooms:alice'], event: 'mine', args: [jsonArg(1)] });
  assert.deepEqual((await s.inbox.wait('mine'))[0], [1]);

  const me = await s.timeout(ACK_MS).emitWithAck('whoami', 'q');
  assert.equal(me.user_id, 'alice');
  assert.equal(me.connection_id, s.id);
  assert.deepEqual(me.data, { plan: 'pro' }, 'the $connect data reaches later forwards as data_json');
  assert.deepEqual(me.args, ['q']);

  // The room join is per namespace: the "/" connection of the same user is not in it.
  await grpc.emit({ namespace: '/', targets: ['room:whatsapp:acc-1'], event: 'wa', args: [jsonArg('wrong ns')] });
  await marker(h, other);
  assert.deepEqual(other.inbox.all('wa'), []);
});

heraldTest('a $connect handler error refuses the connection with that message', { config: CONNECT_NS }, async (t, h) => {
  const handler = await startHandler(h, { namespace: '/app', events: ['$connect'] });
  const msg = await connectError(h, '/app', { token: token(h, 'mallory', { suspended: true }) });
  assert.equal(msg, 'account suspended');
  await handler.waitEvent('$connect');
  // A normal user still gets in.
  await connect(h, '/app', { token: token(h, 'alice') });
});

heraldTest(
  'a $join handler decides joins the rooms claim does not allow',
  { config: { namespaces: ns({ join_handler: true }) } },
  async (t, h) => {
    const handler = await startHandler(h, { events: ['$join'] });
    const s = await connect(h, '/', { token: token(h, 'alice', { rooms: ['lobby'] }) });
    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'lobby'), { ok: true });
    assert.equal(handler.events('$join').length, 0, 'a join the claim allows does not ask the handler');

    assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('join', 'convo:42'), { ok: true });
    const [ev] = await handler.waitEvent('$join');
    assert.equal(ev.room, 'convo:42');
    assert.equal(ev.connection_id, s.id);

    const refused = await s.timeout(ACK_MS).emitWithAck('join', 'secret:1');
    assert.equal(refused.ok, false);
    assert.match(refused.error, /backend refuses room secret:1/);

    await grpcClient(h).emit({ targets: ['room:secret:1'], event: 'secret', args: [] });
    await grpcClient(h).emit({ targets: ['room:convo:42'], event: 'convo', args: [] });
    await s.inbox.wait('convo');
    await marker(h, s);
    assert.deepEqual(s.inbox.all('secret'), []);
  },
);

heraldTest(
  'a $disconnect handler hears about closed sockets',
  { config: { namespaces: ns({ disconnect_handler: true }) } },
  async (t, h) => {
    const handler = await startHandler(h, { events: ['$disconnect'] });
    const s = await connect(h, '/', { token: token(h, 'alice') });
    const id = s.id;
    s.disconnect();
    const [ev] = await handler.waitEvent('$disconnect');
    assert.equal(ev.connection_id, id);
    assert.equal(ev.user_id, 'alice');
    assert.equal(String(ev.call_id), '0', '$disconnect expects no reply');
  },
);

heraldTest(
  'a handler replying after core.handler_timeout_ms: the ack is {error: "handler timeout ..."}',
  { config: { handlerTimeoutMs: 300, namespaces: ns({ forward: ['message:send'] }) } },
  async (t, h) => {
    const handler = await startHandler(h, { events: ['message:send'], mode: 'slow', delayMs: 2000 });
    const s = await connect(h, '/', { token: token(h, 'alice') });
    const ack = await s.timeout(ACK_MS).emitWithAck('message:send', { room: 'convo:1', text: 'slow' });
    assert.equal(typeof ack.error, 'string', JSON.stringify(ack));
    assert.match(ack.error, /^handler timeout/);
    assert.equal(ack.ok, undefined, 'only the error');
    // The late reply is ignored (no second ack, nothing breaks) and the connection keeps working.
    await handler.waitLine((l) => l.kind === 'replied', 'the late reply');
    await marker(h, s);
    assert.equal(s.connected, true);
  },
);

heraldTest(
  'a handler that exits with events in flight: each pending ack is {error: "handler disconnected"}',
  { config: { handlerTimeoutMs: 30000, namespaces: ns({ forward: ['message:send'] }) } },
  async (t, h) => {
    const handler = await startHandler(h, { events: ['message:send'], mode: 'exit', exitAfter: 2 });
    const a = await connect(h, '/', { token: token(h, 'alice') });
    const b = await connect(h, '/', { token: token(h, 'bob') });
    const acks = Promise.all([
      a.timeout(ACK_MS).emitWithAck('message:send', { text: 'one' }),
      b.timeout(ACK_MS).emitWithAck('message:send', { text: 'two' }),
    ]);
    await handler.waitLine((l) => l.kind === 'handler exiting', 'the handler to leave', { allowExit: true });
    const [ackA, ackB] = await acks;
    assert.deepEqual(ackA, { error: 'handler disconnected' });
    assert.deepEqual(ackB, { error: 'handler disconnected' });

    // With the handler gone, the event has no handler.
    await handler.exited;
    assert.deepEqual(await a.timeout(ACK_MS).emitWithAck('message:send', { text: 'three' }), {
      error: 'no handler for message:send',
    });
  },
);

heraldTest('message:send with no handler registered: {error: "no handler for message:send"}', { config: CHAT }, async (t, h) => {
  const s = await connect(h, '/', { token: token(h, 'alice') });
  assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('message:send', { text: 'x' }), {
    error: 'no handler for message:send',
  });
  // A handler for another namespace does not count.
  await startHandler(h, { namespace: '/anon', events: ['message:send'] });
  assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('message:send', { text: 'y' }), {
    error: 'no handler for message:send',
  });
  // Once one registers for "/", it answers.
  await startHandler(h, { events: ['message:send'], ackTimeoutMs: 0 });
  const ok = await s.timeout(ACK_MS).emitWithAck('message:send', { room: 'convo:1', text: 'z' });
  assert.equal(ok.ok, true, JSON.stringify(ok));
});

heraldTest('an unknown client event gets {error: "unknown event X"}; "ignore" drops it', {
  config: { namespaces: ns({}, [{ name: '/quiet', anonymous: false, unknown_events: 'ignore', relay: ['typing:start'] }]) },
}, async (t, h) => {
  const s = await connect(h, '/', { token: token(h, 'alice') });
  assert.deepEqual(await s.timeout(ACK_MS).emitWithAck('frobnicate', 1), { error: 'unknown event frobnicate' });
  s.emit('frobnicate', 2); // no ack asked: nothing comes back, the connection stays
  await marker(h, s);
  assert.equal(s.connected, true);

  const quiet = await connect(h, '/quiet', { token: token(h, 'alice') });
  let answered = false;
  quiet.emit('frobnicate', 3, () => {
    answered = true;
  });
  // A later ack on the same connection proves the first event was processed (and ignored).
  const later = await quiet.timeout(ACK_MS).emitWithAck('typing:start', { room: 'nowhere' });
  assert.equal(later.ok, false);
  assert.equal(answered, false, 'an ignored event is not acknowledged');
  assert.equal(quiet.connected, true);
});
