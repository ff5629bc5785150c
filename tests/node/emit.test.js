// gRPC Emit to users, rooms, connections and everyone; exclusions, binary arguments and acks.
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, makeToken, grpcClient, jsonArg, binArg, toBuffer } = require('./lib/herald');

heraldTest("an emit to user:alice reaches both of alice's connections and not bob's", async (t, h) => {
  const grpc = grpcClient(h);
  const alice1 = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const alice2 = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const bob = await connect(h, '/', { token: makeToken(h.config, { sub: 'bob' }) });
  assert.notEqual(alice1.id, alice2.id);

  const res = await grpc.emit({ targets: ['user:alice'], event: 'greeting', args: [jsonArg({ text: 'hi alice' })] });
  assert.equal(typeof res.event_id, 'string');
  assert.notEqual(res.event_id, '');
  assert.equal(res.connections, 2, 'EmitResponse.connections counts both of alice connections');

  for (const s of [alice1, alice2]) {
    const [args] = await s.inbox.wait('greeting');
    assert.deepEqual(args, [{ text: 'hi alice' }]);
  }

  // Marker: once bob has it, anything sent to him before it would have arrived too.
  await grpc.emit({ targets: ['user:bob'], event: 'marker', args: [jsonArg(1)] });
  await bob.inbox.wait('marker');
  assert.deepEqual(bob.inbox.all('greeting'), [], 'bob must not receive an event for alice');
  // Each alice connection got the greeting exactly once.
  await grpc.emit({ targets: ['user:alice'], event: 'marker', args: [jsonArg(2)] });
  for (const s of [alice1, alice2]) {
    await s.inbox.wait('marker');
    assert.equal(s.inbox.all('greeting').length, 1);
  }
});

heraldTest('a room emit reaches only members; joins follow the rooms claim; leave works', async (t, h) => {
  const grpc = grpcClient(h);
  const aliceToken = makeToken(h.config, { sub: 'alice', rooms: ['lobby', 'campaign:*'] });
  const member = await connect(h, '/', { token: aliceToken });
  const sameUserNotJoined = await connect(h, '/', { token: aliceToken });
  const bob = await connect(h, '/', { token: makeToken(h.config, { sub: 'bob', rooms: ['other'] }) });

  assert.deepEqual(await member.timeout(10000).emitWithAck('join', 'lobby'), { ok: true });
  assert.deepEqual(await member.timeout(10000).emitWithAck('join', 'campaign:42'), { ok: true });

  const denied = await member.timeout(10000).emitWithAck('join', 'secret');
  assert.equal(denied.ok, false, 'a room outside the rooms claim is refused');
  assert.equal(typeof denied.error, 'string');
  assert.notEqual(denied.error, '');

  const bobDenied = await bob.timeout(10000).emitWithAck('join', 'lobby');
  assert.equal(bobDenied.ok, false, "bob's claim does not allow lobby");

  await grpc.emit({ targets: ['room:lobby'], event: 'room-msg', args: [jsonArg({ room: 'lobby' })] });
  const [args] = await member.inbox.wait('room-msg');
  assert.deepEqual(args, [{ room: 'lobby' }]);

  await grpc.emit({ targets: ['room:campaign:42'], event: 'campaign-msg', args: [jsonArg(42)] });
  assert.deepEqual((await member.inbox.wait('campaign-msg'))[0], [42]);

  await grpc.emit({ targets: ['*'], event: 'marker', args: [] });
  await bob.inbox.wait('marker');
  await sameUserNotJoined.inbox.wait('marker');
  assert.deepEqual(bob.inbox.all('room-msg'), [], 'bob is not in the room');
  assert.deepEqual(bob.inbox.all('campaign-msg'), []);
  assert.deepEqual(sameUserNotJoined.inbox.all('room-msg'), [], 'membership is per connection, not per user');

  assert.deepEqual(await member.timeout(10000).emitWithAck('leave', 'lobby'), { ok: true });
  await grpc.emit({ targets: ['room:lobby'], event: 'after-leave', args: [] });
  await grpc.emit({ targets: [`conn:${member.id}`], event: 'marker2', args: [] });
  await member.inbox.wait('marker2');
  assert.deepEqual(member.inbox.all('after-leave'), [], 'no room events after leave');
  assert.equal(member.inbox.all('room-msg').length, 1);
});

heraldTest('a broadcast with except conn:<id> skips exactly that connection', async (t, h) => {
  const grpc = grpcClient(h);
  const a1 = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const a2 = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const b = await connect(h, '/', { token: makeToken(h.config, { sub: 'bob' }) });

  const res = await grpc.emit({
    targets: ['*'],
    except: [`conn:${a1.id}`],
    event: 'news',
    args: [jsonArg({ headline: 'x' })],
  });
  assert.equal(res.connections, 2);
  assert.deepEqual((await a2.inbox.wait('news'))[0], [{ headline: 'x' }]);
  assert.deepEqual((await b.inbox.wait('news'))[0], [{ headline: 'x' }]);

  await grpc.emit({ targets: [`conn:${a1.id}`], event: 'marker', args: [] });
  await a1.inbox.wait('marker');
  assert.deepEqual(a1.inbox.all('news'), [], 'the excluded connection must not receive the broadcast');
});

for (const transport of ['websocket', 'polling']) {
  heraldTest(`binary arguments round-trip mixed with JSON (${transport})`, async (t, h) => {
    const grpc = grpcClient(h);
    const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }), transports: [transport] });
    const blob = Buffer.from([0, 1, 2, 3, 127, 128, 254, 255, 0x34, 0x35]);
    const big = Buffer.alloc(4096, 0xab);
    await grpc.emit({
      targets: ['user:alice'],
      event: 'file',
      args: [jsonArg({ name: 'a.bin' }), binArg(blob), jsonArg('between'), binArg(big), jsonArg([1, 2])],
    });
    const [args] = await s.inbox.wait('file');
    assert.equal(args.length, 5);
    assert.deepEqual(args[0], { name: 'a.bin' });
    const got1 = toBuffer(args[1]);
    assert.ok(got1, `argument 1 should be binary, got ${typeof args[1]}: ${JSON.stringify(args[1])}`);
    assert.deepEqual([...got1], [...blob]);
    assert.equal(args[2], 'between');
    const got3 = toBuffer(args[3]);
    assert.ok(got3, 'argument 3 should be binary');
    assert.ok(got3.equals(big));
    assert.deepEqual(args[4], [1, 2]);
  });
}

heraldTest("a client's ack reaches the emitter", async (t, h) => {
  const grpc = grpcClient(h);
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  s.on('please-ack', (payload, ack) => {
    ack({ got: payload, ok: true });
  });
  const res = await grpc.emit({
    targets: ['user:alice'],
    event: 'please-ack',
    args: [jsonArg('ping')],
    ack_timeout_ms: 8000,
  });
  assert.equal(res.acks.length, 1);
  const [ack] = res.acks;
  assert.equal(ack.connection_id, s.id);
  assert.equal(ack.user_id, 'alice');
  assert.equal(ack.acked, true, `ack error: ${ack.error}`);
  assert.equal(ack.args.length, 1);
  assert.deepEqual(JSON.parse(ack.args[0].json), { got: 'ping', ok: true });
});

heraldTest('a client that does not ack shows acked=false next to one that does', async (t, h) => {
  const grpc = grpcClient(h);
  const acker = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const silent = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  acker.on('please-ack', (n, ack) => ack(n + 1));
  silent.on('please-ack', () => {
    // deliberately no ack
  });
  const res = await grpc.emit({
    targets: ['user:alice'],
    event: 'please-ack',
    args: [jsonArg(41)],
    ack_timeout_ms: 1500,
  });
  assert.equal(res.acks.length, 2);
  const byConn = Object.fromEntries(res.acks.map((a) => [a.connection_id, a]));
  assert.ok(byConn[acker.id], `no ack entry for the acking connection: ${JSON.stringify(res.acks)}`);
  assert.ok(byConn[silent.id], `no ack entry for the silent connection: ${JSON.stringify(res.acks)}`);
  assert.equal(byConn[acker.id].acked, true);
  assert.deepEqual(JSON.parse(byConn[acker.id].args[0].json), 42);
  assert.equal(byConn[silent.id].acked, false);
  assert.notEqual(byConn[silent.id].error, '', 'a missing ack says why');
  // The silent one did receive the event (it just did not answer).
  await silent.inbox.wait('please-ack');
});
