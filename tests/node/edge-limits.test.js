// Limits of the edge's HTTP / Engine.IO layer: slow or oversized requests, sessions and handshakes
// per address, the packet rate of an address, and each refusal counted in
// herald_edge_limit_refusals_total. Every refusal leaves other clients unaffected: a bystander
// (from another loopback address, 127.0.0.2, where the limit is per address) stays connected.
'use strict';

const assert = require('node:assert/strict');
const WebSocket = require('ws');
const {
  heraldTest,
  connect,
  makeToken,
  withGuard,
  GUARD_MS,
} = require('./lib/herald');
const { assertBystanderFine } = require('./lib/bystander');
const { request, pollingHandshake, rawTcp } = require('./lib/rawhttp');
const { parseProm, sample } = require('./lib/prom');

const OTHER_ADDRESS = '127.0.0.2';

/** A connected client from another address than the offenders'. */
function bystander(h) {
  return connect(h, '/', { token: makeToken(h.config, { sub: 'bystander' }), localAddress: OTHER_ADDRESS });
}

async function refusals(h, limit) {
  // A busy edge (a flood in progress) may take a while to answer.
  const r = await request(h, { path: '/metrics', ms: 4 * GUARD_MS });
  return sample(parseProm(r.body), 'herald_edge_limit_refusals_total', { limit }) || 0;
}

/** Polls `check` (async, truthy when done) until it holds, within the hang guard. */
async function eventually(check, what, ms = GUARD_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const handshakePath = '/socket.io/?EIO=4&transport=polling';
const poll = (sid) => `/socket.io/?EIO=4&transport=polling&sid=${sid}`;

heraldTest(
  'a connection that never completes its request head is answered 408 and closed (slowloris)',
  { config: { edge: { header_timeout_ms: 500 } } },
  async (t, h) => {
    const b = await bystander(h);
    const slow = rawTcp(h);
    await slow.connected;
    slow.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => slow.write('X'), 100);
    const silent = rawTcp(h);
    try {
      const got = await withGuard(slow.closed, GUARD_MS, 'the slow connection closing');
      assert.match(got, /^HTTP\/1\.1 408 /, got);
      await withGuard(silent.closed, GUARD_MS, 'the silent connection closing');
    } finally {
      clearInterval(trickle);
    }
    assert.ok((await refusals(h, 'header_timeout_ms')) >= 2);
    // The limit is about the head only: a normal request still works.
    assert.equal((await request(h, { path: '/healthz' })).status, 200);
    await assertBystanderFine(h, b);
  },
);

heraldTest(
  'a request head over max_header_bytes gets 431',
  { config: { edge: { max_header_bytes: 2048 } } },
  async (t, h) => {
    const b = await bystander(h);
    const big = await request(h, { path: '/healthz', headers: { 'X-Big': 'y'.repeat(4000) } });
    assert.equal(big.status, 431);
    assert.match(big.body, /too large/);
    const ws = await request(h, {
      path: '/socket.io/?EIO=4&transport=websocket',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version': '13',
        'X-Big': 'y'.repeat(4000),
      },
    });
    assert.equal(ws.status, 431);
    assert.equal((await request(h, { path: '/healthz', headers: { 'X-Small': 'y'.repeat(500) } })).status, 200);
    assert.ok((await refusals(h, 'max_header_bytes')) >= 2);
    await assertBystanderFine(h, b);
  },
);

heraldTest(
  'a polling POST whose body trickles is timed out with 408 and its session closed',
  { config: { edge: { poll_body_timeout_ms: 500 } } },
  async (t, h) => {
    const b = await bystander(h);
    const sid = await pollingHandshake(h);
    const c = rawTcp(h);
    await c.connected;
    c.write(`POST ${poll(sid)} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n`);
    const trickle = setInterval(() => c.write('4'), 100);
    try {
      await eventually(() => / 408 /.test(c.received()), 'the 408');
    } finally {
      clearInterval(trickle);
    }
    assert.match(c.received(), /request body not received in time/);
    const after = await request(h, { path: poll(sid) });
    assert.equal(after.status, 400, 'the session is closed');
    assert.ok((await refusals(h, 'poll_body_timeout_ms')) >= 1);
    await assertBystanderFine(h, b);
  },
);

heraldTest(
  'max_sessions: a handshake over it gets 503, and a place freed is taken again',
  { config: { edge: { max_sessions: 3 } } },
  async (t, h) => {
    const b = await bystander(h);
    const sids = [await pollingHandshake(h), await pollingHandshake(h)];
    const over = await request(h, { path: handshakePath });
    assert.equal(over.status, 503);
    assert.match(over.body, /too many sessions/);
    const ws = new WebSocket(`ws://${h.edgeAddr}/socket.io/?EIO=4&transport=websocket`);
    h.track(() => ws.terminate());
    const status = await withGuard(
      new Promise((resolve) => {
        ws.on('unexpected-response', (req, res) => resolve(res.statusCode));
        ws.on('open', () => resolve(101));
        ws.on('error', () => {});
      }),
      GUARD_MS,
      'the websocket answer',
    );
    assert.equal(status, 503, 'websockets count too');
    // A session that ends frees its place.
    assert.equal((await request(h, { method: 'POST', path: poll(sids[0]), body: '1' })).status, 200);
    await eventually(async () => (await request(h, { path: handshakePath })).status === 200, 'a free place');
    assert.ok((await refusals(h, 'max_sessions')) >= 2);
    await assertBystanderFine(h, b);
  },
);

heraldTest(
  'max_sessions_per_ip: one address over it gets 429, other addresses connect',
  { config: { edge: { max_sessions_per_ip: 2 } } },
  async (t, h) => {
    const b = await bystander(h);
    await pollingHandshake(h);
    await pollingHandshake(h);
    const over = await request(h, { path: handshakePath });
    assert.equal(over.status, 429);
    assert.match(over.body, /too many sessions from this address/);
    // The bystander's address still has room.
    await pollingHandshake(h, {}, OTHER_ADDRESS);
    assert.ok((await refusals(h, 'max_sessions_per_ip')) >= 1);
    await assertBystanderFine(h, b);
  },
);

heraldTest(
  'handshakes_per_ip_per_sec: a burst over it gets 429, then the rate refills',
  { config: { edge: { handshakes_per_ip_per_sec: 1, handshake_burst_per_ip: 3 } } },
  async (t, h) => {
    const b = await bystander(h);
    // Sent together, so that they arrive within the second that refills one token.
    const answers = await Promise.all(Array.from({ length: 8 }, () => request(h, { path: handshakePath })));
    const statuses = answers.map((r) => r.status);
    assert.ok(statuses.filter((x) => x === 200).length >= 3, `the burst is admitted: ${statuses}`);
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length >= 1, `${statuses}`);
    assert.match(refused[0].body, /too many handshakes/);
    await eventually(async () => (await request(h, { path: handshakePath })).status === 200, 'the bucket refilling');
    assert.ok((await refusals(h, 'handshakes_per_ip_per_sec')) >= 1);
    await assertBystanderFine(h, b);
  },
);

heraldTest(
  'messages_per_ip_per_sec: a flooding session is disconnected with its reason',
  { config: { edge: { messages_per_ip_per_sec: 5, message_burst_per_ip: 10 } } },
  async (t, h) => {
    const b = await bystander(h);
    const s = await connect(h, '/anon', {});
    for (let i = 0; i < 40; i += 1) s.emit('flood', i);
    const [notice] = await s.inbox.wait('herald:disconnect');
    assert.deepEqual(notice, [{ reason: 'message rate exceeded' }]);
    assert.equal(await s.inbox.disconnected(), 'io server disconnect');
    assert.ok((await refusals(h, 'messages_per_ip_per_sec')) >= 1);
    await assertBystanderFine(h, b);
  },
);

/** VmRSS and VmHWM of a process, in KiB. */
function memory(pid) {
  const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)[1]);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** A raw websocket session that never reads; `flood(pings, stop)` sends ping frames until told to stop. */
async function pingFlooder(h) {
  const c = rawTcp(h);
  await c.connected;
  c.write(
    'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n' +
      'Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await eventually(() => c.received().includes('"sid"'), 'the Engine.IO OPEN packet');
  c.socket.pause();
  // Masked pings with the largest control payload (125 bytes), 1000 per write.
  const frame = Buffer.alloc(2 + 4 + 125);
  frame[0] = 0x89;
  frame[1] = 0x80 | 125;
  const chunk = Buffer.concat(Array(1000).fill(frame));
  c.flood = async (pings, stop) => {
    for (let sent = 0; sent < pings && !stop(); sent += 1000) {
      if (!c.socket.write(chunk)) {
        // The server stopped reading (the session is closed) or is behind: wait a little.
        await new Promise((r) => {
          const done = () => {
            clearTimeout(timer);
            c.socket.off('drain', done);
            r();
          };
          const timer = setTimeout(done, 200);
          c.socket.on('drain', done);
        });
      }
    }
  };
  return c;
}

heraldTest(
  'memory: 100 clients flooding pings without reading are closed as slow consumers, RSS stays bounded',
  { timeout: 300000, config: { pingIntervalMs: 120000, pingTimeoutMs: 5000 } },
  async (t, h) => {
    const CLIENTS = 100;
    // Pings per client at most: the kernel's socket buffers take a few MB of pongs before the
    // edge's queue fills; an unbounded edge would keep ~150 B per pong past that.
    const PINGS = 80000;
    // Bound on the edge's growth (VmRSS and its peak VmHWM) over the idle process: 1024 frames
    // per session (outbound_queue) of ~130 B pongs, 100 sessions: ~13 MB, plus read buffers.
    const BOUND_KIB = 64 * 1024;
    const b = await bystander(h);
    const before = memory(h.proc.pid);
    const flooders = [];
    for (let i = 0; i < CLIENTS; i += 1) flooders.push(await pingFlooder(h));
    let done = false;
    const floods = flooders.map((f) => f.flood(PINGS, () => done));
    try {
      // While 100 floods are being read, a scrape may not be answered within its guard: such a
      // poll counts as "not yet" and the next one asks again.
      await eventually(
        async () => (await refusals(h, 'outbound_queue_control').catch(() => 0)) >= CLIENTS,
        'every flooding session closed as a slow consumer',
        240000,
      );
    } finally {
      done = true;
      await Promise.all(floods);
    }
    const after = memory(h.proc.pid);
    t.diagnostic(`VmRSS ${before.rss} -> ${after.rss} KiB, VmHWM ${after.hwm} KiB`);
    assert.ok(after.rss - before.rss < BOUND_KIB, `VmRSS grew by ${after.rss - before.rss} KiB`);
    assert.ok(after.hwm - before.rss < BOUND_KIB, `VmHWM grew by ${after.hwm - before.rss} KiB`);
    for (const f of flooders) f.socket.destroy();
    await assertBystanderFine(h, b);
  },
);

heraldTest(
  'behind a trusted proxy the per-address limits count X-Forwarded-For, and only its',
  { config: { edge: { max_sessions_per_ip: 2, trusted_proxies: ['127.0.0.1/32'] } } },
  async (t, h) => {
    const b = await bystander(h);
    const shake = (client, localAddress) =>
      request(h, { path: handshakePath, headers: { 'X-Forwarded-For': client }, localAddress });
    assert.equal((await shake('203.0.113.1')).status, 200);
    // The fast path (a websocket handshake) reads the header too.
    const ws = new WebSocket(`ws://${h.edgeAddr}/socket.io/?EIO=4&transport=websocket`, {
      headers: { 'X-Forwarded-For': '203.0.113.1' },
    });
    h.track(() => ws.terminate());
    await withGuard(new Promise((r) => ws.once('open', r)), GUARD_MS, 'the websocket via the proxy');
    const third = await shake('203.0.113.1');
    assert.equal(third.status, 429, 'the third session of 203.0.113.1');
    assert.equal((await shake('203.0.113.2')).status, 200, 'another client behind the proxy');
    // An untrusted peer's header is not believed: 127.0.0.2 is counted as itself.
    assert.equal((await shake('203.0.113.3', OTHER_ADDRESS)).status, 200);
    assert.equal((await shake('203.0.113.4', OTHER_ADDRESS)).status, 429, 'the bystander and one more from 127.0.0.2');
    await assertBystanderFine(h, b);
  },
);

heraldTest(
  'a session that never sends a Socket.IO CONNECT is closed after connect_timeout_ms',
  { config: { pingIntervalMs: 60000, pingTimeoutMs: 60000, edge: { connect_timeout_ms: 700 } } },
  async (t, h) => {
    const b = await bystander(h);
    const ws = new WebSocket(`ws://${h.edgeAddr}/socket.io/?EIO=4&transport=websocket`);
    h.track(() => ws.terminate());
    ws.on('error', () => {});
    const opened = Date.now();
    await withGuard(new Promise((r) => ws.once('open', r)), GUARD_MS, 'the websocket');
    await withGuard(new Promise((r) => ws.once('close', r)), GUARD_MS, 'the idle session closing');
    assert.ok(Date.now() - opened >= 600, 'not before the timeout');
    // Over polling too: the session is gone.
    const r = await request(h, { path: handshakePath });
    const sid = JSON.parse(r.body.slice(1)).sid;
    await eventually(async () => (await request(h, { path: poll(sid) })).status === 400, 'the polling session closing');
    await assertBystanderFine(h, b);
  },
);
