// A core that dies (kill -9) under its edge: the edge links again (to the same address once the
// core is back, or to the next of `edge.core_urls`) and re-registers its sockets with their last
// offset. When the new core cannot replay what they missed (another broker epoch), each client is
// told (`herald:disconnect {reason}`, then its transport closes) and comes back with
// `recovered === false`: never a silent gap.
'use strict';

const assert = require('node:assert/strict');
const { test } = require('node:test');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { writeConfig } = require('./lib/config');
const { assertBinaryPresent } = require('./lib/process');
const { spawnListening } = require('./lib/cluster');
const { openSocket, whenConnected } = require('./lib/socket');
const { makeToken } = require('./lib/tokens');
const { grpcClient, jsonArg } = require('./lib/grpc');
const { GUARD_MS, once } = require('./lib/wait');

const CONFIG = {
  connectionStateRecovery: true,
  namespaces: [{ name: '/', anonymous: false }],
};

/** A core, an edge linked to it, and what the socket / gRPC helpers need of a herald `h`. */
async function startPair(t, { edgeConfig } = {}) {
  const bin = assertBinaryPresent();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-restart-'));
  const config = writeConfig(dir, CONFIG);
  const procs = [];
  const cleanups = [];
  t.after(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    for (const p of procs.splice(0).reverse()) await p.stop('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // Each core its own working directory, hence its own task store (a restart reuses it).
  const spawnCore = async (n, listen = '127.0.0.1:0') => {
    const cwd = path.join(dir, `core-${n}`);
    fs.mkdirSync(cwd, { recursive: true });
    const core = await spawnListening(bin, ['core', '--config', config.path, '--listen', listen], cwd, 'core');
    procs.push(core);
    return core;
  };
  const cores = [await spawnCore(0), await spawnCore(1)];
  let edgeArgs = ['edge', '--config', config.path, '--listen', '127.0.0.1:0', '--core', `http://${cores[0].addr}`];
  if (edgeConfig) {
    const edgePath = path.join(dir, 'edge.toml');
    fs.writeFileSync(edgePath, edgeConfig(config.text, cores));
    edgeArgs = ['edge', '--config', edgePath, '--listen', '127.0.0.1:0'];
  }
  const edge = await spawnListening(bin, edgeArgs, dir, 'edge');
  procs.push(edge);
  const view = (core) => ({
    config,
    grpcAddr: core.addr,
    edgeAddr: edge.addr,
    edgeUrl: `http://${edge.addr}`,
    track: (close) => cleanups.push(close),
  });
  return { cores, edge, spawnCore, view, stderr: () => procs.map((p) => p.stderr().slice(-2000)).join('\n---\n') };
}

/** A connected socket of `sub` that reconnects by itself, having received one recoverable event. */
async function recoverable(h, sub) {
  const s = openSocket(h, '/', {
    token: makeToken(h.config, { sub }),
    reconnection: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
    randomizationFactor: 0,
  });
  await whenConnected(s);
  await grpcClient(h).emit({ targets: [`user:${sub}`], event: 'warmup', args: [jsonArg(1)] });
  const [args] = await s.inbox.wait('warmup');
  assert.equal(typeof args[1], 'string', 'an offset to come back with');
  return s;
}

/**
 * Emits `gap` events through `h` until the client was told, then checks that it reconnects with
 * `recovered === false` and receives what is emitted afterwards.
 */
async function toldAndFresh(h, s) {
  const oldId = s.id;
  const grpc = grpcClient(h);
  let sent = 0;
  const deadline = Date.now() + GUARD_MS * 2;
  while (s.inbox.all('herald:disconnect').length === 0 && sent < 300 && Date.now() < deadline) {
    // The core may still be starting, or the edge relinking: emits may fail meanwhile.
    await grpc.emit({ targets: ['user:alice'], event: 'gap', args: [jsonArg(sent)] }).then(
      () => {
        sent += 1;
      },
      () => {},
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await s.inbox.until(() => s.inbox.all('herald:disconnect').length > 0, 'the client to be told');
  const [notice] = s.inbox.all('herald:disconnect')[0];
  assert.equal(typeof notice.reason, 'string');
  assert.match(notice.reason, /replay/, `a clear reason, got ${JSON.stringify(notice)}`);
  await s.inbox.until(() => s.inbox.disconnects.length > 0, 'the disconnect');
  if (!s.connected) await once(s, 'connect', 'the reconnection', GUARD_MS * 2);
  assert.equal(s.recovered, false, 'the reconnection says the missed events are not recovered');
  assert.notEqual(s.id, oldId, 'a fresh session');
  await grpc.emit({ targets: ['user:alice'], event: 'after', args: [jsonArg('a')] });
  assert.equal((await s.inbox.wait('after'))[0][0], 'a');
}

test('a core killed and restarted on its port: the clients are told and come back not recovered', { timeout: 120000 }, async (t) => {
  const pair = await startPair(t);
  try {
    const [core] = pair.cores;
    const s = await recoverable(pair.view(core), 'alice');
    await core.stop('SIGKILL');
    const again = await pair.spawnCore(0, core.addr);
    await toldAndFresh(pair.view(again), s);
  } catch (err) {
    err.message += `\n--- stderr ---\n${pair.stderr()}`;
    throw err;
  }
});

test('edge.core_urls: the edge fails over to the next core and tells clients whose events it cannot replay', { timeout: 120000 }, async (t) => {
  const pair = await startPair(t, {
    edgeConfig: (text, cores) =>
      text.replace(
        /^core_url = .*$/m,
        `core_urls = [${cores.map((c) => `"http://${c.addr}"`).join(', ')}]`,
      ),
  });
  try {
    const [first, second] = pair.cores;
    const s = await recoverable(pair.view(first), 'alice');
    await first.stop('SIGKILL');
    await toldAndFresh(pair.view(second), s);
  } catch (err) {
    err.message += `\n--- stderr ---\n${pair.stderr()}`;
    throw err;
  }
});
