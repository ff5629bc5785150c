// Health for load balancers and probes: the edge's /healthz (live) and /readyz (linked to a core,
// not draining), and the core's gRPC health per service.
'use strict';

const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { heraldTest, heraldBin, withGuard, GUARD_MS } = require('./lib/herald');
const { healthClient, check } = require('./lib/health');
const fs = require('node:fs');
const os = require('node:os');
const { test } = require('node:test');
const { spawnListening, coreAndEdge } = require('./lib/cluster');
const { writeConfig } = require('./lib/config');

function get(port, p) {
  return withGuard(
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: p }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      req.on('error', reject);
    }),
    GUARD_MS,
    `GET ${p}`,
  );
}

/** Polls `probe` until it returns true; fails with the last value after a generous deadline. */
async function waitUntil(probe, what, ms = 30000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (last === true) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const readyIs = (port, status) => async () => {
  const r = await get(port, '/readyz');
  return r.status === status ? true : r;
};


test('/readyz follows the link to the core: 503 while the core is gone, 200 when it is back', { timeout: 90000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-health-'));
  const config = writeConfig(dir);
  const procs = [];
  try {
    const { core, edgePort: port } = await coreAndEdge(dir, config.path, procs);
    await waitUntil(readyIs(port, 200), '/readyz 200 with the core up');
    assert.equal((await get(port, '/readyz')).body.trim(), 'ready');

    await core.stop();
    await waitUntil(readyIs(port, 503), '/readyz 503 once the core is gone');
    assert.match((await get(port, '/readyz')).body, /no link to the core/);
    assert.equal((await get(port, '/healthz')).status, 200, '/healthz stays live: the process is fine');

    // The same core address again (a restart): the edge links again and becomes ready.
    const again = await spawnListening(heraldBin(), ['core', '--config', config.path, '--listen', core.addr], dir, 'core');
    procs.push(again);
    await waitUntil(readyIs(port, 200), '/readyz 200 after the core came back');
  } finally {
    for (const p of procs.reverse()) await p.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

heraldTest('gRPC health: every service of the core, TaskService with its store', async (t, h) => {
  const client = healthClient(h.grpcAddr);
  h.track(() => client.close());
  for (const service of ['', 'herald.v1.HeraldService', 'herald.v1.EdgeService']) {
    assert.equal(await check(client, service), 'SERVING', `health of "${service}"`);
  }
  // The store is checked in the background: SERVING once the first ping answered.
  await waitUntil(async () => (await check(client, 'herald.v1.TaskService')) === 'SERVING' || 'not yet', 'TaskService SERVING');
});

heraldTest('gRPC health: TaskService is NOT_SERVING without a store', { config: { extraToml: '[store]\nurl = ""' } }, async (t, h) => {
  const client = healthClient(h.grpcAddr);
  h.track(() => client.close());
  assert.equal(await check(client, 'herald.v1.HeraldService'), 'SERVING');
  await waitUntil(async () => {
    const s = await check(client, 'herald.v1.TaskService');
    return s === 'NOT_SERVING' || s;
  }, 'TaskService NOT_SERVING');
});

heraldTest('/readyz is 200 for `herald serve` (in-process link)', async (t, h) => {
  await waitUntil(readyIs(h.edgePort, 200), '/readyz 200');
});
