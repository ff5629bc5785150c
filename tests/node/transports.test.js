// Engine.IO transports: long-polling only, websocket only, and the polling -> websocket upgrade.
'use strict';

const assert = require('node:assert/strict');
const {
  heraldTest,
  connect,
  openSocket,
  whenConnected,
  makeToken,
  grpcClient,
  jsonArg,
  withGuard,
  GUARD_MS,
} = require('./lib/herald');

heraldTest("transports: ['polling'] connects, receives, acks and joins", async (t, h) => {
  const grpc = grpcClient(h);
  const s = await connect(h, '/', {
    token: makeToken(h.config, { sub: 'alice', rooms: ['lobby'] }),
    transports: ['polling'],
  });
  assert.equal(s.io.engine.transport.name, 'polling');

  await grpc.emit({ targets: ['user:alice'], event: 'hello', args: [jsonArg({ n: 1 }), jsonArg('two')] });
  assert.deepEqual((await s.inbox.wait('hello'))[0], [{ n: 1 }, 'two']);

  s.on('ask', (q, ack) => ack({ answer: q * 2 }));
  const res = await grpc.emit({ targets: [`conn:${s.id}`], event: 'ask', args: [jsonArg(21)], ack_timeout_ms: 8000 });
  assert.equal(res.acks.length, 1);
  assert.equal(res.acks[0].acked, true, `ack error: ${res.acks[0].error}`);
  assert.deepEqual(JSON.parse(res.acks[0].args[0].json), { answer: 42 });

  assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'lobby'), { ok: true });
  await grpc.emit({ targets: ['room:lobby'], event: 'room-msg', args: [jsonArg('in lobby')] });
  assert.deepEqual((await s.inbox.wait('room-msg'))[0], ['in lobby']);

  // Several events in a row arrive in order over polling.
  for (let i = 0; i < 5; i += 1) {
    await grpc.emit({ targets: ['user:alice'], event: 'seq', args: [jsonArg(i)] });
  }
  const seq = await s.inbox.wait('seq', 5);
  assert.deepEqual(
    seq.map((a) => a[0]),
    [0, 1, 2, 3, 4],
  );
  assert.equal(s.io.engine.transport.name, 'polling');
});

heraldTest("transports: ['websocket'] connects and receives", async (t, h) => {
  const grpc = grpcClient(h);
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }), transports: ['websocket'] });
  assert.equal(s.io.engine.transport.name, 'websocket');
  await grpc.emit({ targets: ['user:alice'], event: 'hello', args: [jsonArg('ws')] });
  assert.deepEqual((await s.inbox.wait('hello'))[0], ['ws']);
});

heraldTest('default transports upgrade from polling to websocket, then receive', async (t, h) => {
  const grpc = grpcClient(h);
  const s = openSocket(h, '/', {
    token: makeToken(h.config, { sub: 'alice' }),
    transports: ['polling', 'websocket'],
  });
  const engine = s.io.engine;
  assert.equal(engine.transport.name, 'polling', 'the session starts with long-polling');
  const upgraded = new Promise((resolve) => {
    engine.once('upgrade', (transport) => resolve(transport.name));
  });
  await whenConnected(s);
  if (engine.transport.name !== 'websocket') {
    const name = await withGuard(upgraded, GUARD_MS, 'the engine "upgrade" event');
    assert.equal(name, 'websocket');
  }
  assert.equal(s.io.engine.transport.name, 'websocket');
  assert.equal(s.connected, true);

  await grpc.emit({ targets: ['user:alice'], event: 'after-upgrade', args: [jsonArg({ ok: 1 })] });
  assert.deepEqual((await s.inbox.wait('after-upgrade'))[0], [{ ok: 1 }]);

  s.on('ask', (q, ack) => ack(q));
  const res = await grpc.emit({ targets: [`conn:${s.id}`], event: 'ask', args: [jsonArg('x')], ack_timeout_ms: 8000 });
  assert.equal(res.acks[0].acked, true, `ack error: ${res.acks[0] && res.acks[0].error}`);
  assert.deepEqual(JSON.parse(res.acks[0].args[0].json), 'x');
});
