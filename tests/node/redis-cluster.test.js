// Cores on a Redis Cluster (broker.cluster = true): the same guarantees as on one Redis, with each
// namespace's keys and sharded channels on one shard. One private three-master Redis Cluster
// serves the whole file; each test starts two `herald core` processes, each with its own
// `herald edge`, under a key prefix of its own, and uses npm socket.io-client and gRPC clients.
'use strict';

const assert = require('node:assert/strict');
const { after, before } = require('node:test');
const { connect, makeToken, grpcClient, jsonArg, openSocket, whenConnected } = require('./lib/herald');
const { startMulticore, waitFor, newPrefix, missAndRecoverThrough } = require('./lib/multicore');
const { freePort, startRedisCluster } = require('./lib/redis');
const { test } = require('node:test');

let cluster;
before(async () => {
  cluster = await startRedisCluster();
});
after(async () => {
  if (cluster) await cluster.stop();
});

/** Like multicoreTest, on the private Redis Cluster; `pick(prefix)` may choose config by prefix. */
function clusterTest(name, config, body) {
  test(name, { timeout: 120000 }, async () => {
    const prefix = newPrefix();
    const cfg = typeof config === 'function' ? await config(prefix) : config;
    const c = await startMulticore(cfg, { redisUrl: cluster.url, redisCluster: true, prefix });
    try {
      await body(c, cfg);
    } catch (err) {
      if (err && typeof err === 'object') err.stack = `${err.stack || err.message}\n--- cluster stderr ---\n${c.stderr()}`;
      throw err;
    } finally {
      await c.stop();
    }
  });
}

/** A socket of `user` on core i's edge, in namespace `ns`, joined to `rooms`. */
async function member(c, i, user, rooms = [], ns = '/') {
  const s = await connect(c.view(i), ns, { token: makeToken(c.config, { sub: user, rooms }) });
  for (const r of rooms) assert.deepEqual(await s.timeout(10000).emitWithAck('join', r), { ok: true });
  return s;
}

clusterTest('an emit to a room with members on both cores reaches each once; presence is cluster-wide', {}, async (c) => {
  const g0 = grpcClient(c.view(0));
  const g1 = grpcClient(c.view(1));
  const a0 = await member(c, 0, 'alice', ['lobby']);
  const b1 = await member(c, 1, 'bob', ['lobby']);
  const a1 = await member(c, 1, 'alice', ['lobby']);

  const res = await g0.emit({ targets: ['room:lobby', 'user:alice'], event: 'r', args: [jsonArg(1)] });
  assert.equal(res.connections, 3, 'every member on both cores, each once');
  const conn = await g1.emit({ targets: [`conn:${a0.id}`], event: 'c', args: [jsonArg(2)] });
  assert.equal(conn.connections, 1, 'a conn: target of the other core');
  await a0.inbox.wait('c');
  await g1.emit({ targets: ['*'], event: 'marker', args: [] });
  for (const s of [a0, a1, b1]) await s.inbox.wait('marker');
  for (const s of [a0, a1, b1]) assert.equal(s.inbox.all('r').length, 1, 'delivered once');
  assert.equal(a1.inbox.all('c').length + b1.inbox.all('c').length, 0);

  const room = await g1.presence({ room: 'lobby' });
  assert.equal(room.connections, 3);
  assert.deepEqual(room.users.map((u) => u.user_id).sort(), ['alice', 'bob']);
  const users = await g0.presence({ user_ids: ['bob', 'carol'] });
  assert.deepEqual(users.users.map((u) => [u.user_id, u.online]), [['bob', true], ['carol', false]]);
  const stats = (await g0.stats({})).namespaces.find((n) => n.namespace === '/');
  assert.equal(stats.connections, 3);
  assert.equal(stats.users, 2);
  b1.disconnect();
  await waitFor(async () => (await g0.presence({ user_ids: ['bob'] })).users[0].online === false, 'bob offline everywhere');
});

clusterTest(
  'a client recovers through the other core: recovered, every missed event once, in order',
  { connectionStateRecovery: true, namespaces: [{ name: '/', anonymous: false }] },
  async (c) => {
    const v0 = c.view(0);
    const v1 = c.view(1);
    const s = openSocket(v0, '/', {
      token: makeToken(c.config, { sub: 'alice', rooms: ['r1'] }),
      reconnection: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 100,
      randomizationFactor: 0,
    });
    await whenConnected(s);
    assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'r1'), { ok: true });
    const g0 = grpcClient(v0);
    const g1 = grpcClient(v1);
    await g0.emit({ targets: ['user:alice'], event: 'warmup', args: [jsonArg('w')] });
    await s.inbox.wait('warmup');
    const awayUrl = `http://127.0.0.1:${await freePort()}`;
    await missAndRecoverThrough(s, { g0, g1, edgeUrl: v1.edgeUrl, awayUrl, count: 40 });
    s.disconnect();
  },
);

clusterTest('a pattern subscriber on one core gets matching events emitted on the other, and only those', {}, async (c) => {
  const sub = grpcClient(c.view(1)).subscribe({ topics: ['room:campaign:*'] });
  await sub.ready();
  const g0 = grpcClient(c.view(0));
  await g0.emit({ targets: ['room:campaign:7'], event: 'p', args: [jsonArg(7)] });
  await g0.emit({ targets: ['room:other'], event: 'p', args: [jsonArg(0)] });
  await g0.emit({ targets: ['room:campaign:8'], event: 'p', args: [jsonArg(8)] });
  await sub.waitEvents((evs) => evs.length >= 2, 'the two campaign events');
  assert.deepEqual(sub.events.map((e) => JSON.parse(e.args[0].json)), [7, 8]);
});

/** Two namespace names whose hash tags (`{prefix:ns}`) live on different masters. */
async function namespacesOnTwoShards(prefix) {
  const first = '/n0';
  const home = await cluster.masterOf(`{${prefix}:${first}}`);
  for (let i = 1; i < 64; i += 1) {
    const other = `/n${i}`;
    if ((await cluster.masterOf(`{${prefix}:${other}}`)) !== home) return [first, other];
  }
  throw new Error('no two namespaces on different shards');
}

clusterTest(
  "two namespaces' channels sit on different shards, and each carries its events",
  async (prefix) => {
    const [n1, n2] = await namespacesOnTwoShards(prefix);
    return { namespaces: [{ name: '/', anonymous: false }, { name: n1, anonymous: false }, { name: n2, anonymous: false }] };
  },
  async (c, cfg) => {
    const [n1, n2] = cfg.namespaces.slice(1).map((n) => n.name);
    const s1 = await member(c, 0, 'alice', ['r'], n1);
    const s2 = await member(c, 1, 'bob', ['r'], n2);
    const g = grpcClient(c.view(0));
    for (const [ns, s] of [[n1, s1], [n2, s2]]) {
      const res = await g.emit({ namespace: ns, targets: ['room:r'], event: 'e', args: [jsonArg(ns)] });
      assert.equal(res.connections, 1);
      assert.deepEqual((await s.inbox.wait('e'))[0], [ns]);
    }
    // Each master lists the sharded channels of the slots it holds: a namespace's channels are
    // all on the master of its tag, and the two namespaces are on different masters.
    const where = {};
    for (const port of cluster.ports) {
      const channels = (await cluster.cli(port, ['PUBSUB', 'SHARDCHANNELS', `{${c.prefix}:*`])).split('\n').filter(Boolean);
      for (const ch of channels) {
        const ns = ch.slice(c.prefix.length + 2, ch.indexOf('}'));
        where[ns] = [...new Set([...(where[ns] || []), port])];
      }
    }
    assert.deepEqual(where[n1], [await cluster.masterOf(`{${c.prefix}:${n1}}`)], JSON.stringify(where));
    assert.deepEqual(where[n2], [await cluster.masterOf(`{${c.prefix}:${n2}}`)], JSON.stringify(where));
    assert.notDeepEqual(where[n1], where[n2], 'the two namespaces are served by different shards');
    s1.disconnect();
    s2.disconnect();
  },
);

clusterTest(
  "a shard that comes back empty: clients stay connected, presence comes back, delivery resumes",
  { connectionStateRecovery: true, namespaces: [{ name: '/', anonymous: false }] },
  async (c) => {
    const a0 = await member(c, 0, 'alice', ['r']);
    const b1 = await member(c, 1, 'bob', ['r']);
    const g0 = grpcClient(c.view(0));
    const g1 = grpcClient(c.view(1));
    await g0.emit({ targets: ['room:r'], event: 'before', args: [jsonArg(0)] });
    for (const s of [a0, b1]) await s.inbox.wait('before');

    // The master of the namespace's slot dies and comes back with nothing.
    await cluster.restartEmpty(await cluster.masterOf(`{${c.prefix}:/}`));

    // Presence is written again by each core (it notices its connections are gone).
    await waitFor(async () => {
      try {
        return (await g1.presence({ room: 'r' })).connections === 2;
      } catch {
        return false;
      }
    }, 'both members registered again');
    // Delivery resumes on both cores: an emit that returns OK reaches both members.
    let n = 0;
    await waitFor(async () => {
      n += 1;
      try {
        await (n % 2 ? g0 : g1).emit({ targets: ['room:r'], event: 'after', args: [jsonArg(n)] });
      } catch {
        return false;
      }
      return a0.inbox.all('after').length > 0 && b1.inbox.all('after').length > 0;
    }, 'delivery on both cores after the shard came back');
    for (const s of [a0, b1]) assert.equal(s.inbox.disconnects.length, 0, 'the clients stayed connected');
  },
);
