// Delivery receipts: Emit with ack_timeout_ms reports, per receiving connection, the client's ack
// (or why there is none), and names the targeted users who are offline.
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, makeToken, grpcClient, jsonArg } = require('./lib/herald');

function token(h, sub) {
  return makeToken(h.config, { sub });
}

heraldTest('3 sockets (one never acks) + 1 offline user: 2 acked, 1 timeout, offline_users', async (t, h) => {
  const grpc = grpcClient(h);
  const alicePhone = await connect(h, '/', { token: token(h, 'alice') });
  const aliceLaptop = await connect(h, '/', { token: token(h, 'alice') });
  const bob = await connect(h, '/', { token: token(h, 'bob') });
  alicePhone.on('invoice', (inv, ack) => ack({ seen: inv.n, device: 'phone' }));
  aliceLaptop.on('invoice', (inv, ack) => ack({ seen: inv.n, device: 'laptop' }, 'second'));
  bob.on('invoice', () => {
    // receives, never acks
  });

  const res = await grpc.emit({
    targets: ['user:alice', 'user:bob', 'user:carol'],
    event: 'invoice',
    args: [jsonArg({ n: 7 })],
    ack_timeout_ms: 1500,
  });
  assert.equal(res.connections, 3);
  assert.deepEqual(res.offline_users, ['carol']);
  assert.equal(res.acks.length, 3, `one entry per receiving connection: ${JSON.stringify(res.acks)}`);

  const byConn = Object.fromEntries(res.acks.map((a) => [a.connection_id, a]));
  const phone = byConn[alicePhone.id];
  const laptop = byConn[aliceLaptop.id];
  const silent = byConn[bob.id];
  assert.ok(phone && laptop && silent, `an entry for each connection: ${JSON.stringify(res.acks)}`);

  assert.equal(res.acks.filter((a) => a.acked).length, 2);
  assert.equal(phone.acked, true);
  assert.equal(phone.user_id, 'alice');
  assert.equal(phone.error, '');
  assert.deepEqual(phone.args.map((a) => JSON.parse(a.json)), [{ seen: 7, device: 'phone' }]);
  assert.equal(laptop.acked, true);
  assert.deepEqual(laptop.args.map((a) => JSON.parse(a.json)), [{ seen: 7, device: 'laptop' }, 'second']);

  assert.equal(silent.acked, false);
  assert.equal(silent.user_id, 'bob');
  assert.equal(silent.error, 'timeout');
  assert.deepEqual(silent.args, []);
  // It did receive the event.
  assert.deepEqual((await bob.inbox.wait('invoice'))[0].slice(0, 1), [{ n: 7 }]);
});

heraldTest('a connection that goes away before acking: acked=false, error "disconnected"', async (t, h) => {
  const grpc = grpcClient(h);
  const stays = await connect(h, '/', { token: token(h, 'alice') });
  const leaves = await connect(h, '/', { token: token(h, 'alice') });
  const leavesId = leaves.id; // socket.id is cleared on disconnect
  stays.on('job', (n, ack) => ack(n * 2));
  leaves.on('job', () => {
    leaves.disconnect();
  });
  // A long ack timeout: the answer must not need it to run out.
  const res = await grpc.emit({ targets: ['user:alice'], event: 'job', args: [jsonArg(21)], ack_timeout_ms: 30000 }, { deadlineMs: 40000 });
  assert.equal(res.connections, 2);
  assert.deepEqual(res.offline_users, []);
  const byConn = Object.fromEntries(res.acks.map((a) => [a.connection_id, a]));
  assert.ok(byConn[stays.id] && byConn[leavesId], `an entry per connection: ${JSON.stringify(res.acks)}`);
  assert.equal(byConn[stays.id].acked, true);
  assert.deepEqual(JSON.parse(byConn[stays.id].args[0].json), 42);
  assert.equal(byConn[leavesId].acked, false);
  assert.equal(byConn[leavesId].error, 'disconnected');
});

heraldTest('offline_users without acks; no acks list when ack_timeout_ms is 0', async (t, h) => {
  const grpc = grpcClient(h);
  const bob = await connect(h, '/', { token: token(h, 'bob') });
  const res = await grpc.emit({ targets: ['user:bob', 'user:carol', 'user:dave'], event: 'ping', args: [jsonArg(1)] });
  assert.equal(res.connections, 1);
  assert.deepEqual([...res.offline_users].sort(), ['carol', 'dave']);
  assert.deepEqual(res.acks, []);
  await bob.inbox.wait('ping');

  const none = await grpc.emit({ targets: ['user:carol'], event: 'ping', args: [] , ack_timeout_ms: 1000 });
  assert.equal(none.connections, 0);
  assert.deepEqual(none.offline_users, ['carol']);
  assert.deepEqual(none.acks, [], 'nobody received it, nothing to wait for');

  // Room targets name no users: nobody is reported offline.
  const room = await grpc.emit({ targets: ['room:empty'], event: 'ping', args: [] });
  assert.deepEqual(room.offline_users, []);
});
