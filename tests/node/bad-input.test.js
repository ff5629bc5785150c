// Bad input from clients and callers: each is refused or closes only the offending connection,
// and the process keeps serving (checked with a fresh client afterwards).
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const {
  heraldTest,
  connect,
  makeToken,
  grpcClient,
  jsonArg,
  rawEngine,
  expectGrpcError,
  grpcStatus,
  withGuard,
  GUARD_MS,
} = require('./lib/herald');

const SMALL_PAYLOAD = { maxPayload: 2000 };

/** The process is up, and a brand-new client connects and receives an event. */
async function assertStillServing(h) {
  h.assertAlive('after the bad input');
  const sub = `fresh-${crypto.randomBytes(4).toString('hex')}`;
  const s = await connect(h, '/', { token: makeToken(h.config, { sub }) });
  await grpcClient(h).emit({ targets: [`user:${sub}`], event: 'still-alive', args: [jsonArg(sub)] });
  assert.deepEqual((await s.inbox.wait('still-alive'))[0], [sub]);
}

/** A bystander connection that must survive: it is still connected and still receives. */
async function assertBystanderFine(h, bystander) {
  assert.equal(bystander.connected, true, 'the bystander connection must stay connected');
  await grpcClient(h).emit({ targets: [`conn:${bystander.id}`], event: 'bystander', args: [jsonArg('ok')] });
  assert.deepEqual((await bystander.inbox.wait('bystander'))[0], ['ok']);
  assert.deepEqual(bystander.inbox.disconnects, []);
}

for (const transport of ['websocket', 'polling']) {
  heraldTest(`a message over max_payload closes only that connection (${transport})`, { config: SMALL_PAYLOAD }, async (t, h) => {
    const bystander = await connect(h, '/', { token: makeToken(h.config, { sub: 'bob' }) });
    const offender = await connect(h, '/', { token: makeToken(h.config, { sub: 'mallory' }), transports: [transport] });
    assert.equal(offender.io.engine.transport.name, transport);

    offender.emit('big', 'x'.repeat(20 * SMALL_PAYLOAD.maxPayload));
    const reason = await offender.inbox.disconnected();
    assert.match(reason, /transport (close|error)|ping timeout|io server disconnect|xhr post error/);

    await assertBystanderFine(h, bystander);
    await assertStillServing(h);
  });
}

heraldTest('a message just under max_payload is accepted (the limit is not too strict)', { config: SMALL_PAYLOAD }, async (t, h) => {
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice', rooms: ['r'] }) });
  // A sizeable (but allowed) message gets its ack, and the connection keeps working.
  const longRoom = 'q'.repeat(SMALL_PAYLOAD.maxPayload / 2);
  const refused = await s.timeout(10000).emitWithAck('join', longRoom);
  assert.equal(refused.ok, false, 'the rooms claim does not allow that room');
  assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'r'), { ok: true });
  assert.equal(s.connected, true);
});

const ENGINE_GARBAGE = [
  { name: 'unknown Engine.IO packet type', frame: 'X hello' },
  { name: 'out-of-range Engine.IO packet type', frame: '9' },
  { name: 'empty Engine.IO frame', frame: '' },
];

const SOCKET_GARBAGE = [
  { name: 'unknown Socket.IO packet type', frame: '4Z' },
  { name: 'out-of-range Socket.IO packet type', frame: '49["x"]' },
  { name: 'truncated JSON in an EVENT', frame: '42["ev",' },
  { name: 'EVENT payload that is not an array', frame: '42{"a":1}' },
  { name: 'EVENT with an empty array', frame: '42[]' },
  { name: 'EVENT with garbage before the payload', frame: '42abc["ev"]' },
  { name: 'binary frame with no BINARY_EVENT header', frame: Buffer.from([1, 2, 3]) },
];

for (const c of ENGINE_GARBAGE) {
  heraldTest(`malformed Engine.IO input closes only that connection: ${c.name}`, async (t, h) => {
    const bystander = await connect(h, '/', { token: makeToken(h.config, { sub: 'bob' }) });
    const raw = await rawEngine(h);
    assert.equal(typeof raw.handshake.sid, 'string');
    raw.send(c.frame);
    await withGuard(raw.closed, GUARD_MS, 'the edge to close the connection that sent garbage');
    await assertBystanderFine(h, bystander);
    await assertStillServing(h);
  });
}

for (const c of SOCKET_GARBAGE) {
  heraldTest(`malformed Socket.IO input closes only that connection: ${c.name}`, async (t, h) => {
    const bystander = await connect(h, '/', { token: makeToken(h.config, { sub: 'bob' }) });
    const raw = await rawEngine(h);
    await raw.connectNamespace('/', { token: makeToken(h.config, { sub: 'mallory' }) });
    raw.send(c.frame);
    await withGuard(raw.closed, GUARD_MS, 'the edge to close the connection that sent garbage');
    await assertBystanderFine(h, bystander);
    await assertStillServing(h);
  });
}

heraldTest('a raw Engine.IO client that behaves stays connected (control for the garbage tests)', async (t, h) => {
  const raw = await rawEngine(h);
  await raw.connectNamespace('/', { token: makeToken(h.config, { sub: 'alice' }) });
  await grpcClient(h).emit({ targets: ['user:alice'], event: 'hello', args: [jsonArg('raw')] });
  const msg = await raw.next((m) => m.startsWith('42'), 'the EVENT packet');
  assert.deepEqual(JSON.parse(msg.slice(2)), ['hello', 'raw']);
  assert.equal(raw.isClosed(), false);
});

heraldTest('Emit without the service credential is UNAUTHENTICATED', async (t, h) => {
  const grpc = grpcClient(h);
  const req = { targets: ['*'], event: 'x', args: [] };
  await expectGrpcError(grpc.emit(req, { token: null }), grpcStatus.UNAUTHENTICATED);
  await expectGrpcError(grpc.emit(req, { token: 'wrong-service-token' }), grpcStatus.UNAUTHENTICATED);
  await expectGrpcError(grpc.emit(req, { token: '' }), grpcStatus.UNAUTHENTICATED);
  await assertStillServing(h);
});

heraldTest('Emit with no targets is INVALID_ARGUMENT', async (t, h) => {
  const grpc = grpcClient(h);
  await expectGrpcError(grpc.emit({ targets: [], event: 'x', args: [] }), grpcStatus.INVALID_ARGUMENT);
  await assertStillServing(h);
});

heraldTest('Emit with an arg that is not valid JSON is INVALID_ARGUMENT', async (t, h) => {
  const grpc = grpcClient(h);
  await expectGrpcError(
    grpc.emit({ targets: ['*'], event: 'x', args: [{ json: '{"a":' }] }),
    grpcStatus.INVALID_ARGUMENT,
  );
  await expectGrpcError(grpc.emit({ targets: ['*'], event: 'x', args: [{ json: '' }] }), grpcStatus.INVALID_ARGUMENT);
  await assertStillServing(h);
});

heraldTest('Emit with an empty event name is INVALID_ARGUMENT', async (t, h) => {
  const grpc = grpcClient(h);
  await expectGrpcError(grpc.emit({ targets: ['*'], event: '', args: [] }), grpcStatus.INVALID_ARGUMENT);
  await assertStillServing(h);
});

heraldTest('Emit of a name Socket.IO reserves is INVALID_ARGUMENT, naming it', async (t, h) => {
  const grpc = grpcClient(h);
  for (const event of ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']) {
    const err = await expectGrpcError(grpc.emit({ targets: ['*'], event, args: [] }), grpcStatus.INVALID_ARGUMENT);
    assert.match(err.details, new RegExp(`"${event}" is reserved`));
  }
  await assertStillServing(h);
});
