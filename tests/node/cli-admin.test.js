// The operator's CLI against a running herald: stats, presence, disconnect, tasks list/get/cancel/retry,
// each with --json; `--core HOST:PORT` without a scheme; errors said once with the address.
'use strict';

const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const { heraldTest, connect, makeToken, runCli, protoPackage, freePort } = require('./lib/herald');

/** `herald <args> --core ADDR --token T` (no scheme on purpose); resolves the parsed JSON. */
async function cliJson(h, args) {
  const out = await runCli([...args, '--core', h.grpcAddr, '--token', h.config.serviceToken, '--json'], { cwd: h.dir });
  assert.equal(out.code, 0, `herald ${args.join(' ')} failed: ${out.stderr}`);
  try {
    return JSON.parse(out.stdout);
  } catch {
    throw new Error(`herald ${args.join(' ')}: stdout is not JSON: ${out.stdout}`);
  }
}

heraldTest('herald stats and presence show connected users', async (t, h) => {
  const token = makeToken(h.config, { sub: 'alice', rooms: ['lobby'] });
  const s = await connect(h, '/', { token });
  assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'lobby'), { ok: true });

  const stats = await cliJson(h, ['stats']);
  const root = stats.namespaces.find((n) => n.namespace === '/');
  assert.equal(root.connections, 1);
  assert.equal(root.users, 1);
  assert.equal(root.rooms, 1);
  assert.equal(stats.edges, 1);

  const room = await cliJson(h, ['presence', '--room', 'lobby']);
  assert.equal(room.connections, 1);
  assert.deepEqual(room.users.map((u) => u.user_id), ['alice']);
  const users = await cliJson(h, ['presence', '--user', 'alice', '--user', 'bob']);
  const byId = Object.fromEntries(users.users.map((u) => [u.user_id, u.online]));
  assert.deepEqual(byId, { alice: true, bob: false });

  const text = await runCli(['stats', '--core', h.grpcAddr, '--token', h.config.serviceToken]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /namespace \/\s+connections 1\s+users 1\s+rooms 1/);
});

heraldTest('herald disconnect closes every connection of a user', async (t, h) => {
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'carol' }) });
  const r = await cliJson(h, ['disconnect', '--user', 'carol', '--reason', 'maintenance']);
  assert.equal(r.connections, 1);
  const [args] = await s.inbox.wait('herald:disconnect');
  assert.deepEqual(args, [{ reason: 'maintenance' }]);
});

heraldTest('herald tasks get, cancel, list and retry', async (t, h) => {
  const client = new (protoPackage('tasks.proto').TaskService)(h.grpcAddr, grpc.credentials.createInsecure());
  h.track(() => client.close());
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${h.config.serviceToken}`);
  const submitted = await new Promise((resolve, reject) => {
    client.SubmitTask({ queue: 'scrape', payload_json: '{"url":"https://example.org"}' }, md, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
  const id = submitted.task.id;

  const got = await cliJson(h, ['tasks', 'get', id]);
  assert.equal(got.id, id);
  assert.equal(got.status, 'queued');
  assert.deepEqual(got.payload, { url: 'https://example.org' });

  const cancelled = await cliJson(h, ['tasks', 'cancel', id, '--reason', 'not needed']);
  assert.equal(cancelled.status, 'cancelled');
  assert.equal((await cliJson(h, ['tasks', 'get', id])).status, 'cancelled');

  const listed = await cliJson(h, ['tasks', 'list', '--status', 'cancelled', '--queue', 'scrape']);
  assert.deepEqual(listed.map((x) => [x.id, x.status]), [[id, 'cancelled']]);
  assert.deepEqual(await cliJson(h, ['tasks', 'list', '--status', 'dead']), [], 'nothing is dead');
  const badStatus = await runCli(['tasks', 'list', '--status', 'sleeping', '--core', h.grpcAddr, '--token', h.config.serviceToken]);
  assert.notEqual(badStatus.code, 0);
  assert.match(badStatus.stderr, /--status "sleeping": expected queued, running/);

  const retried = await cliJson(h, ['tasks', 'retry', id]);
  assert.equal(retried.id, id);
  assert.equal(retried.status, 'queued', 'a cancelled task is queued again');

  const missing = await runCli(['tasks', 'get', 'no-such-task', '--core', h.grpcAddr, '--token', h.config.serviceToken]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, new RegExp(`GetTask at http://${h.grpcAddr.replace(/\./g, '\\.')}: .*no-such-task`));
});

heraldTest('CLI errors are said once, with the address and the cause', async (t, h) => {
  const bad = await runCli(['stats', '--core', h.grpcAddr, '--token', 'wrong-token']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /Stats at http:\/\/127\.0\.0\.1:\d+: invalid service credential/);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);

  // A closed port: the cause is said once.
  const port = await freePort();
  for (const cmd of [['stats'], ['emit', '--to', 'user:x', '--event', 'x']]) {
    const down = await runCli([...cmd, '--core', `127.0.0.1:${port}`, '--token', 'x']);
    assert.notEqual(down.code, 0);
    assert.match(down.stderr, new RegExp(`cannot connect to http://127\\.0\\.0\\.1:${port}: .*refused`, 'i'));
    assert.doesNotMatch(down.stderr, /transport error: transport error/);
    assert.doesNotMatch(down.stderr, /tcp connect error: tcp connect error/);
  }
});
