// Starts several herald cores on one Redis, each with its own edges: a cluster as users run it.
// Every core shares one config with `[broker] url` and a key prefix of its own per test, so that
// tests running at once on the same Redis never see each other's keys. `view(i, j)` talks to
// core i's gRPC API and its edge j, the way a single-process herald `h` does.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, test } = require('node:test');

const assert = require('node:assert/strict');

const { writeConfig } = require('./config');
const { jsonArg } = require('./grpc');
const { once } = require('./wait');
const { spawnListening } = require('./cluster');
const { assertBinaryPresent } = require('./process');

const TEST_GUARD_MS = 120000;

/** The Redis the tests share (HERALD_TEST_REDIS_URL, default the local one). */
function sharedRedisUrl() {
  return process.env.HERALD_TEST_REDIS_URL || 'redis://127.0.0.1:6379';
}

/** A fresh key prefix, so that tests running at once on one Redis never see each other's keys. */
function newPrefix() {
  return `herald-test-${crypto.randomBytes(6).toString('hex')}`;
}

/** The `[broker]` and `[store]` TOML of a cluster node (`redisCluster`: broker.cluster = true). */
function clusterToml(redisUrl, prefix, extra = '', redisCluster = false) {
  return [
    '[broker]',
    `url = ${JSON.stringify(redisUrl)}`,
    ...(redisCluster ? ['cluster = true'] : []),
    `key_prefix = ${JSON.stringify(prefix)}`,
    'heartbeat_ms = 200',
    'node_ttl_ms = 1500',
    '',
    '[store]',
    'url = ""',
    extra,
  ].join('\n');
}

/**
 * Starts `cores` cores, each with `edgesPerCore` edges, on Redis `redisUrl`. Options as for
 * writeConfig in `configOptions` (extraToml is appended after the cluster sections).
 */
async function startMulticore(
  configOptions = {},
  { cores = 2, edgesPerCore = 1, redisUrl = sharedRedisUrl(), redisCluster = false, prefix = newPrefix() } = {},
) {
  const bin = assertBinaryPresent();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-multicore-'));
  const config = writeConfig(dir, {
    ...configOptions,
    extraToml: `${clusterToml(redisUrl, prefix, '', redisCluster)}\n${configOptions.extraToml || ''}`,
  });
  const nodes = [];
  const cleanups = [];
  const all = () => nodes.flatMap((n) => [...n.edges, n.core].filter(Boolean));
  const c = {
    dir,
    config,
    prefix,
    redisUrl,
    nodes,
    stopped: false,
    track(closeFn) {
      cleanups.push(closeFn);
    },
    /** Starts core i (again, after a stop) on `listen`, with its edges linking to it. */
    async startCore(i, { listen = '127.0.0.1:0', edges = edgesPerCore } = {}) {
      const core = await spawnListening(bin, ['core', '--config', config.path, '--listen', listen], dir, 'core');
      const node = { core, edges: [] };
      nodes[i] = node;
      for (let j = 0; j < edges; j += 1) {
        const args = ['edge', '--config', config.path, '--listen', '127.0.0.1:0', '--core', `http://${core.addr}`];
        node.edges.push(await spawnListening(bin, args, dir, 'edge'));
      }
      return node;
    },
    /** A view that talks to core i's gRPC API and its edge j. */
    view(i, j = 0) {
      const n = nodes[i];
      const view = Object.create(c);
      view.grpcAddr = n.core.addr;
      const e = n.edges[j];
      if (e) {
        view.edgeAddr = e.addr;
        view.edgeUrl = `http://${e.addr}`;
        view.edgePort = Number(e.addr.slice(e.addr.lastIndexOf(':') + 1));
      }
      return view;
    },
    stderr: () =>
      nodes
        .map((n, i) =>
          [n.core, ...n.edges]
            .map((p, k) => `--- core ${i} ${k === 0 ? '' : `edge ${k - 1}`} ---\n${p.stderr().slice(-2500)}`)
            .join('\n'),
        )
        .join('\n'),
    async stop() {
      c.stopped = true;
      for (const close of cleanups.splice(0).reverse()) {
        try {
          await close();
        } catch {
          // best effort
        }
      }
      for (const p of all().reverse()) await p.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < cores; i += 1) await c.startCore(i);
  } catch (err) {
    await c.stop();
    throw err;
  }
  return c;
}

/** Polls an async condition until it holds; rejects naming `what` after `ms` (a hang guard). */
async function waitFor(predicate, what, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// HERALD_TEST_REDIS_CLUSTER=1: every multicoreTest of the file runs on one private Redis Cluster
// (broker.cluster = true) instead of the shared Redis, started on first use and stopped at the end.
let redisCluster = null;
function privateRedisCluster() {
  if (!redisCluster) {
    const { startRedisCluster } = require('./redis');
    redisCluster = startRedisCluster();
    after(async () => (await redisCluster).stop());
  }
  return redisCluster;
}

/** A node:test test with its own cluster of cores on Redis, stopped at the end whatever happens. */
function multicoreTest(name, options, body) {
  if (typeof options === 'function') {
    body = options;
    options = {};
  }
  if (process.env.HERALD_TEST_REDIS_CLUSTER === '1') privateRedisCluster();
  test(name, { timeout: options.timeout || TEST_GUARD_MS }, async () => {
    if (redisCluster) options = { ...options, redisUrl: (await redisCluster).url, redisCluster: true };
    const c = await startMulticore(options.config || {}, options);
    try {
      await body(c);
    } catch (err) {
      const note = `\n--- cluster stderr ---\n${c.stderr()}\n--- end ---`;
      if (err && typeof err === 'object') {
        err.stack = `${err.stack || err.message}${note}`;
        throw err;
      }
      throw new Error(`${String(err)}${note}`);
    } finally {
      await c.stop();
    }
  });
}

/**
 * Takes recoverable socket `s` of user alice (in room r1, linked through core 0) away: its
 * transport drops and its reconnections go to `awayUrl`, where nothing listens. Meanwhile `count`
 * events are emitted through both cores' gRPC clients `g0` and `g1`, to room r1 and to alice.
 * Then `s` comes back through `edgeUrl` (the other core's edge) and must be recovered, with its
 * id, every missed event once and in order, and live events after them.
 */
async function missAndRecoverThrough(s, { g0, g1, edgeUrl, awayUrl, count }) {
  const id = s.id;
  s.io.uri = awayUrl;
  s.io.engine.close();
  await s.inbox.until(() => s.inbox.disconnects.length > 0, 'the disconnect');
  await waitFor(async () => (await g1.presence({ user_ids: ['alice'] })).users[0].online === false, 'alice away');

  const sent = [];
  for (let i = 0; i < count; i += 1) {
    const target = i % 2 ? 'room:r1' : 'user:alice';
    await (i % 3 ? g1 : g0).emit({ targets: [target], event: 'ev', args: [jsonArg({ i })] });
    sent.push({ i });
  }
  const back = once(s, 'connect', 'the reconnection');
  s.io.uri = edgeUrl;
  await back;
  assert.equal(s.recovered, true, 'socket.recovered through the other core');
  assert.equal(s.id, id, 'the same socket id');
  await s.inbox.wait('ev', sent.length);
  await g0.emit({ targets: ['room:r1'], event: 'after', args: [jsonArg(1)] });
  await s.inbox.wait('after');
  assert.deepEqual(s.inbox.all('ev').map((a) => a[0]), sent, 'every missed event once, in order');
}

module.exports = {
  startMulticore,
  multicoreTest,
  clusterToml,
  sharedRedisUrl,
  waitFor,
  newPrefix,
  missAndRecoverThrough,
};
