// Redis faults under a two-core cluster, on a private redis-server (never the shared one): Redis
// unreachable at start-up, paused while events are emitted (for 5 s and for 30 s), and lost
// with everything it held. Emits during an outage fail with UNAVAILABLE, nothing that returned OK
// is lost, clients stay connected, and delivery resumes by itself.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const grpc = require('@grpc/grpc-js');

const { connect, makeToken, grpcClient, jsonArg, writeConfig, assertBinaryPresent, openSocket, whenConnected } = require('./lib/herald');
const { startMulticore, clusterToml, waitFor } = require('./lib/multicore');
const { spawnListening } = require('./lib/cluster');
const { startRedis, freePort } = require('./lib/redis');
const { healthClient, check } = require('./lib/health');

test('a core whose Redis is unreachable refuses to start and names the URL', async () => {
  const bin = assertBinaryPresent();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-noredis-'));
  const url = `redis://127.0.0.1:${await freePort()}`;
  const config = writeConfig(dir, { extraToml: clusterToml(url, 'herald-test-noredis') });
  const proc = spawn(bin, ['core', '--config', config.path, '--listen', '127.0.0.1:0'], { cwd: dir });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => proc.on('exit', resolve));
  fs.rmSync(dir, { recursive: true, force: true });
  assert.notEqual(code, 0, 'the core exits with an error');
  assert.ok(out.includes(url), `the error names ${url}: ${out}`);
  assert.ok(!/listening on/.test(out), 'it never listened');
});

/** Runs `herald core` with `toml` until it exits; resolves with its exit code and output. */
async function coreExit(bin, dir, toml) {
  const config = writeConfig(dir, { extraToml: toml });
  const proc = spawn(bin, ['core', '--config', config.path, '--listen', '127.0.0.1:0'], { cwd: dir });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const code = await new Promise((resolve) => proc.on('exit', resolve));
  return { code, out };
}

test('a core pointed at a Redis Cluster node without broker.cluster refuses to start and says what to set', async (t) => {
  const bin = assertBinaryPresent();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-rediscluster-'));
  const redis = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf')] });
  t.after(async () => {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const { code, out } = await coreExit(bin, dir, clusterToml(redis.url, 'herald-test-rediscluster'));
  assert.notEqual(code, 0, 'the core exits with an error');
  assert.ok(out.includes(redis.url), `the error names ${redis.url}: ${out}`);
  assert.match(out, /Redis Cluster mode/, out);
  assert.match(out, /broker\.cluster = true/, out);
  assert.ok(!/listening on/.test(out), 'it never listened');
});

test('a core in Redis Cluster mode pointed at a standalone Redis refuses to start and says why', async (t) => {
  const bin = assertBinaryPresent();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-rediscluster-'));
  const redis = await startRedis();
  t.after(async () => {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const { code, out } = await coreExit(bin, dir, clusterToml(redis.url, 'herald-test-standalone', '', true));
  assert.notEqual(code, 0, 'the core exits with an error');
  assert.ok(out.includes(redis.url), `the error names ${redis.url}: ${out}`);
  assert.match(out, /standalone Redis/, out);
  assert.match(out, /broker\.cluster = false/, out);
  assert.ok(!/listening on/.test(out), 'it never listened');
});

/**
 * A backend: emits numbered events to room:r from both cores in turn, one at a time, each with an
 * idempotency key and retried until it returns OK, until `stop()`. Records every failure.
 */
function emitter(c) {
  const clients = [grpcClient(c.view(0)), grpcClient(c.view(1))];
  const ok = [];
  const failures = [];
  let running = true;
  let n = 0;
  let attempt = 0;
  const done = (async () => {
    while (running) {
      const i = n;
      const started = Date.now();
      attempt += 1;
      try {
        await clients[attempt % 2].emit(
          { targets: ['room:r'], event: 'ev', args: [jsonArg(i)], idempotency_key: `ev-${i}` },
          { deadlineMs: 10000 },
        );
        ok.push(i);
        n += 1;
      } catch (err) {
        failures.push({ i, code: err.code, details: err.details, ms: Date.now() - started });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  })();
  return {
    ok,
    failures,
    async stop() {
      running = false;
      await done;
    },
  };
}

async function members(c) {
  const sockets = [];
  for (const [i, user] of [[0, 'alice'], [1, 'bob']]) {
    const s = await connect(c.view(i), '/', { token: makeToken(c.config, { sub: user, rooms: ['r'] }) });
    assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'r'), { ok: true });
    sockets.push(s);
  }
  return sockets;
}

async function outage(pauseMs) {
  const redis = await startRedis();
  const c = await startMulticore({}, { redisUrl: redis.url });
  try {
    const sockets = await members(c);
    const e = emitter(c);
    await waitFor(async () => e.ok.length >= 20, 'emits before the outage');
    redis.pause();
    await waitFor(async () => e.failures.length >= 2, 'emits failing during the outage', pauseMs + 30000);
    const failedBefore = e.failures.length;
    await new Promise((r) => setTimeout(r, pauseMs));
    redis.resume();
    const okAtResume = e.ok.length;
    await waitFor(async () => e.ok.length >= okAtResume + 20, 'emits succeeding again after Redis returned');
    await e.stop();

    assert.ok(failedBefore >= 2);
    for (const f of e.failures) {
      assert.equal(f.code, grpc.status.UNAVAILABLE, `an Emit during the outage is UNAVAILABLE: ${JSON.stringify(f)}`);
    }
    const slowest = Math.max(...e.failures.map((f) => f.ms));
    console.log(`# Redis paused ${pauseMs} ms: ${e.failures.length} Emits refused, the slowest answered in ${slowest} ms`);

    // A last event to the room: once each member has it, everything before it has arrived.
    await grpcClient(c.view(0)).emit({ targets: ['room:r'], event: 'last', args: [jsonArg(0)] });
    for (const s of sockets) {
      await s.inbox.wait('last', 1, 30000);
      // An Emit that timed out may still have reached Redis; its retry with the same key then
      // answers with the first one, so each event arrives exactly once, in order.
      assert.deepEqual(s.inbox.all('ev').map((a) => a[0]), e.ok, 'every event once, in order');
      assert.equal(s.inbox.disconnects.length, 0, 'the client stayed connected');
    }
  } finally {
    await c.stop();
    await redis.stop();
  }
}

test('Redis paused for 5 s while emitting: UNAVAILABLE meanwhile, nothing accepted is lost', { timeout: 120000 }, () => outage(5000));

test('Redis paused for 30 s while emitting: UNAVAILABLE meanwhile, nothing accepted is lost', { timeout: 180000 }, () => outage(30000));

test('Redis lost with everything it held: clients stay, presence comes back, delivery resumes', { timeout: 120000 }, async () => {
  const redis = await startRedis();
  const c = await startMulticore({}, { redisUrl: redis.url });
  try {
    const sockets = await members(c);
    const g0 = grpcClient(c.view(0));
    assert.equal((await g0.emit({ targets: ['room:r'], event: 'before', args: [] })).connections, 2);
    const health = healthClient(c.nodes[0].core.addr);
    c.track(() => health.close());
    const status = () => check(health, 'herald.v1.HeraldService');
    assert.equal(await status(), 'SERVING');
    await redis.kill();
    await assert.rejects(g0.emit({ targets: ['room:r'], event: 'x', args: [] }), (err) => err.code === grpc.status.UNAVAILABLE);
    await waitFor(async () => (await status()) === 'NOT_SERVING', 'gRPC health NOT_SERVING without Redis');
    await redis.start();
    await waitFor(async () => (await status()) === 'SERVING', 'gRPC health SERVING with Redis back');
    // The cores notice their registrations are gone and register their connections again.
    await waitFor(async () => {
      try {
        return (await g0.presence({ room: 'r' })).connections === 2;
      } catch {
        return false;
      }
    }, 'both members present again', 60000);
    const after = await g0.emit({ targets: ['room:r'], event: 'after', args: [jsonArg(1)] });
    assert.equal(after.connections, 2);
    for (const s of sockets) {
      await s.inbox.wait('after', 1, 30000);
    }
  } finally {
    await c.stop();
    await redis.stop();
  }
});

test('kill -9 of one machine (core and edge) while emitting 200/s: every accepted event reaches every member once', { timeout: 120000 }, async () => {
  const c = await startMulticore({ connectionStateRecovery: true, namespaces: [{ name: '/', anonymous: false }] });
  try {
    const clients = [grpcClient(c.view(0)), grpcClient(c.view(1))];
    // Two members on each machine, in two rooms; they reconnect by themselves, as browsers do.
    const sockets = [];
    for (const [i, user] of [[0, 'a0'], [0, 'b0'], [1, 'a1'], [1, 'b1']]) {
      const s = openSocket(c.view(i), '/', {
        token: makeToken(c.config, { sub: user, rooms: ['x', 'y'] }),
        reconnection: true,
        reconnectionDelay: 50,
        reconnectionDelayMax: 200,
        randomizationFactor: 0,
      });
      await whenConnected(s);
      for (const room of ['x', 'y']) assert.deepEqual(await s.timeout(10000).emitWithAck('join', room), { ok: true });
      sockets.push(s);
    }
    // The load balancer in front of the edges sends reconnections to the surviving machine.
    for (const s of sockets) s.io.uri = c.view(0).edgeUrl;

    // A backend at 200 events/s, alternating cores, each event retried with its key until OK.
    const accepted = [];
    let running = true;
    const backend = (async () => {
      let n = 0;
      let attempt = 0;
      while (running) {
        const started = Date.now();
        const room = n % 2 ? 'x' : 'y';
        attempt += 1;
        try {
          await clients[attempt % 2].emit(
            { targets: [`room:${room}`], event: 'ev', args: [jsonArg(n)], idempotency_key: `k${n}` },
            { deadlineMs: 5000 },
          );
          accepted.push(n);
          n += 1;
        } catch {
          // the dead core: the next attempt goes to the other one
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 5 - (Date.now() - started))));
      }
    })();
    await waitFor(async () => accepted.length >= 200, 'a second of events before the crash');
    c.nodes[1].core.proc.kill('SIGKILL');
    c.nodes[1].edges[0].proc.kill('SIGKILL');
    const atCrash = accepted.length;
    await waitFor(async () => accepted.length >= atCrash + 400, 'two more seconds of events after the crash');
    running = false;
    await backend;

    await clients[0].emit({ targets: ['room:x', 'room:y'], event: 'last', args: [jsonArg(0)] });
    for (const s of sockets) {
      await s.inbox.wait('last', 1, 60000);
      assert.deepEqual(s.inbox.all('ev').map((a) => a[0]), accepted, `${s.id}: every accepted event once, in order`);
    }
    for (const s of sockets.slice(2)) assert.equal(s.recovered, true, 'the dead machine\'s clients recovered');
  } finally {
    await c.stop();
  }
});

test('an edge whose core dies links to the next of edge.core_urls; its clients stay connected and miss nothing', { timeout: 120000 }, async () => {
  const c = await startMulticore(
    { connectionStateRecovery: true, namespaces: [{ name: '/', anonymous: false }] },
    { edgesPerCore: 0 },
  );
  try {
    // One edge that knows both cores, core 0 first.
    const urls = c.nodes.map((n) => `http://${n.core.addr}`);
    const text = c.config.text.replace(/^core_url = .*$/m, `core_urls = ${JSON.stringify(urls)}`);
    const file = path.join(c.dir, 'edge.toml');
    fs.writeFileSync(file, text);
    const edge = await spawnListening(assertBinaryPresent(), ['edge', '--config', file, '--listen', '127.0.0.1:0'], c.dir, 'edge');
    c.track(() => edge.stop());
    const view = Object.create(c);
    view.grpcAddr = c.nodes[1].core.addr;
    view.edgeUrl = `http://${edge.addr}`;
    const s = await connect(view, '/', { token: makeToken(c.config, { sub: 'alice', rooms: ['r'] }) });
    assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'r'), { ok: true });
    const g1 = grpcClient(view);
    await g1.emit({ targets: ['room:r'], event: 'ev', args: [jsonArg(0)] });
    await s.inbox.wait('ev');

    c.nodes[0].core.proc.kill('SIGKILL');
    const sent = [0];
    for (let i = 1; i <= 50; i += 1) {
      await g1.emit({ targets: ['room:r'], event: 'ev', args: [jsonArg(i)] });
      sent.push(i);
    }
    await s.inbox.wait('ev', sent.length, 60000);
    await g1.emit({ targets: ['room:r'], event: 'last', args: [jsonArg(0)] });
    await s.inbox.wait('last', 1, 30000);
    assert.deepEqual(s.inbox.all('ev').map((a) => a[0]), sent, 'every event once, in order');
    assert.equal(s.inbox.disconnects.length, 0, 'the client never noticed the failover');
  } finally {
    await c.stop();
  }
});
