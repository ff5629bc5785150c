// The Socket.IO layer's conformance and limits: namespaces written without a trailing comma,
// unknown namespaces, binary attachments (never buffered before CONNECT, bounded in bytes after),
// far-future and just-expired tokens, and requests waiting on the core that must not stop the
// session from reading its client's pongs.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Worker } = require('node:worker_threads');
const WebSocket = require('ws');
const {
  heraldTest,
  connect,
  connectError,
  makeToken,
  nowSecs,
  rawEngine,
  withGuard,
  GUARD_MS,
  DEFAULT_NAMESPACES,
} = require('./lib/herald');
const { startHandler } = require('./lib/handler');

const CUSTOM = { namespaces: [...DEFAULT_NAMESPACES, { name: '/custom', anonymous: true }] };

heraldTest('40/custom and 41/custom without a trailing comma are read as the reference parser reads them', { config: CUSTOM }, async (t, h) => {
  const raw = await rawEngine(h);
  raw.send('40/custom');
  const first = await raw.next((m) => m.startsWith('40/custom,') || m.startsWith('44/custom,'), 'the CONNECT reply');
  assert.match(first, /^40\/custom,\{"sid":"[^"]+"/);
  raw.send('41/custom');
  // The namespace was left and the session lives on: a second CONNECT gets a new socket.
  raw.send('40/custom');
  const second = await raw.next(
    (m) => m.startsWith('40/custom,') && m !== first,
    'the second CONNECT reply',
  );
  assert.notEqual(JSON.parse(second.slice('40/custom,'.length)).sid, JSON.parse(first.slice('40/custom,'.length)).sid);
  assert.equal(raw.isClosed(), false, 'the session stays open');
});

heraldTest('an unknown namespace gets 44/random,{"message":"Invalid namespace"}', async (t, h) => {
  const raw = await rawEngine(h);
  raw.send('40/random,');
  assert.equal(await raw.next((m) => m.startsWith('44'), 'the CONNECT_ERROR'), '44/random,{"message":"Invalid namespace"}');
  raw.send('40/random');
  await raw.next((m) => m.startsWith('44') && raw.messages.filter((x) => x === m).length === 2, 'a second CONNECT_ERROR');
  assert.equal(raw.isClosed(), false);
  assert.equal(await connectError(h, '/random'), 'Invalid namespace');
});

/** VmRSS of a process, in bytes. */
function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

/**
 * Samples a process's VmRSS every few ms on a thread of its own (the test's event loop is busy
 * sending); `stop()` resolves the peak in bytes.
 */
function rssPeak(pid) {
  const peak = new Float64Array(new SharedArrayBuffer(8));
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const fs = require('node:fs');
     const { pid, peak, stop } = workerData;
     while (Atomics.load(stop, 0) === 0) {
       try {
         const m = /VmRSS:\\s+(\\d+) kB/.exec(fs.readFileSync('/proc/' + pid + '/status', 'utf8'));
         peak[0] = Math.max(peak[0], Number(m[1]) * 1024);
       } catch {}
       Atomics.wait(stop, 0, 0, 5);
     }`,
    { eval: true, workerData: { pid, peak, stop } },
  );
  return async () => {
    Atomics.store(stop, 0, 1);
    Atomics.notify(stop, 0);
    await new Promise((resolve) => worker.once('exit', resolve));
    return Math.max(peak[0], rssBytes(pid));
  };
}

const FLOOD_SESSIONS = 50;
const ATTACHMENT = Buffer.alloc(900000, 7); // under max_payload (1,000,000)
const ATTACHMENTS_PER_SESSION = 40;
// The edge must not buffer the flood: 50 sessions x 36 MB would be 1.8 GB.
const RSS_BOUND = 150 * 1024 * 1024;

/** Sends a BINARY_EVENT header announcing 1,024 attachments, then attachments until closed. */
async function attachmentFlood(raw) {
  raw.send(`451024-["flood",${JSON.stringify({ _placeholder: true, num: 0 })}]`);
  for (let i = 0; i < ATTACHMENTS_PER_SESSION && !raw.isClosed(); i += 1) {
    await new Promise((resolve) => {
      raw.ws.send(ATTACHMENT, () => resolve());
    });
  }
}

// A long ping timeout: only the flood itself may get these sessions closed.
heraldTest('attachment floods before CONNECT are refused at once and do not grow the edge', { timeout: 120000, config: { pingTimeoutMs: 60000 } }, async (t, h) => {
  const pid = h.proc.pid;
  const before = rssBytes(pid);
  const peakOf = rssPeak(pid);
  let peak;
  try {
    const raws = await Promise.all(Array.from({ length: FLOOD_SESSIONS }, () => rawEngine(h)));
    await Promise.all(raws.map(attachmentFlood));
    for (const raw of raws) await withGuard(raw.closed, GUARD_MS, 'the edge to close the flooding session');
  } finally {
    peak = await peakOf();
  }
  console.log(`# edge RSS ${Math.round(before / 1048576)} MB before, at most ${Math.round(peak / 1048576)} MB during the flood`);
  assert.ok(
    peak - before < RSS_BOUND,
    `edge RSS grew by ${Math.round((peak - before) / 1048576)} MB (bound ${RSS_BOUND / 1048576} MB)`,
  );
  // Still serving.
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'after' }) });
  assert.equal(s.connected, true);
});

heraldTest('a connected client whose attachments exceed max_payload together is disconnected with a reason', { config: { maxPayload: 100000 } }, async (t, h) => {
  const bystander = await connect(h, '/', { token: makeToken(h.config, { sub: 'bob' }) });
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'mallory' }) });
  // Each attachment fits in a message; together they do not.
  s.emit('upload', Buffer.alloc(60000, 1), Buffer.alloc(60000, 2));
  const [notice] = await s.inbox.wait('herald:disconnect');
  assert.deepEqual(notice, [{ reason: 'attachments too large' }]);
  assert.equal(await s.inbox.disconnected(), 'io server disconnect');
  assert.equal(bystander.connected, true);
  // Under the bound is fine.
  const ok = await connect(h, '/', { token: makeToken(h.config, { sub: 'carol' }) });
  const ack = await ok.timeout(GUARD_MS).emitWithAck('upload', Buffer.alloc(30000, 1), Buffer.alloc(30000, 2));
  assert.deepEqual(ack, { error: 'unknown event upload' });
  assert.equal(ok.connected, true);
});

/** A raw Engine.IO WebSocket that never answers pings: a peer that went away without a word. */
async function silentPeer(h) {
  const ws = new WebSocket(`ws://${h.edgeAddr}/socket.io/?EIO=4&transport=websocket`);
  h.track(() => ws.terminate());
  const messages = [];
  let onMessage = () => {};
  ws.on('message', (data, isBinary) => {
    if (!isBinary) messages.push(data.toString());
    onMessage();
  });
  ws.on('error', () => {});
  const closed = new Promise((resolve) => ws.on('close', resolve));
  const next = (pred, what) =>
    withGuard(
      new Promise((resolve) => {
        const check = () => {
          const m = messages.find(pred);
          if (m !== undefined) resolve(m);
        };
        onMessage = check;
        check();
      }),
      GUARD_MS,
      what,
    );
  await next((m) => m.startsWith('0'), 'the OPEN packet');
  return { ws, closed, next };
}

const FAST_PING = { pingIntervalMs: 300, pingTimeoutMs: 300 };

heraldTest('a token with a far-future exp (1e300) keeps the heartbeat: a dead peer is still detected', { config: FAST_PING }, async (t, h) => {
  const peer = await silentPeer(h);
  peer.ws.send(`40${JSON.stringify({ token: makeToken(h.config, { sub: 'alice', exp: 1e300 }) })}`);
  const reply = await peer.next((m) => m.startsWith('40') || m.startsWith('44'), 'the CONNECT reply');
  assert.match(reply, /^40\{"sid"/);
  // The peer never answers a ping: the edge must close it after ping_interval + ping_timeout.
  await withGuard(peer.closed, GUARD_MS, 'the edge to close a peer that never answers pings');
  h.assertAlive('after the far-future token');
});

heraldTest('exp has one leeway: a token accepted within the leeway is kicked only once exp + leeway passed', async (t, h) => {
  const exp = nowSecs() - 2; // expired, but within the 5 s leeway: accepted
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice', exp }) });
  const [notice] = await s.inbox.wait('herald:disconnect', 1, GUARD_MS);
  const at = Date.now();
  assert.deepEqual(notice, [{ reason: 'token expired' }]);
  assert.ok(at >= (exp + h.config.leewaySecs) * 1000 - 50, `kicked ${(exp + h.config.leewaySecs) * 1000 - at} ms before exp + leeway`);
});

const SLOW_HANDLERS = {
  ...FAST_PING,
  handlerTimeoutMs: 20000,
  namespaces: [
    ...DEFAULT_NAMESPACES,
    { name: '/app', anonymous: false, connect_handler: true, join_handler: true },
  ],
};

for (const transport of ['websocket', 'polling']) {
  heraldTest(`a $connect and a $join handler slower than pingInterval + pingTimeout do not time the client out (${transport})`, { config: SLOW_HANDLERS }, async (t, h) => {
    // 1.5 s per reply, against 300 ms + 300 ms of heartbeat.
    await startHandler(h, { namespace: '/app', events: ['$connect', '$join'], mode: 'slow', delayMs: 1500 });
    const s = await connect(h, '/app', { token: makeToken(h.config, { sub: 'alice' }), transports: [transport] });
    assert.equal(s.io.engine.transport.name, transport);
    const ack = await s.timeout(GUARD_MS).emitWithAck('join', 'convo:1');
    assert.deepEqual(ack, { ok: true });
    assert.equal(s.connected, true);
    assert.deepEqual(s.inbox.disconnects, []);
  });
}
