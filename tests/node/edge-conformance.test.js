// Engine.IO / RFC 6455 conformance of the edge's HTTP layer with the reference server, one test per
// case; every refusal leaves a bystander connection unaffected.
'use strict';

const assert = require('node:assert/strict');
const WebSocket = require('ws');
const {
  heraldTest,
  connect,
  makeToken,
  grpcClient,
  jsonArg,
  withGuard,
  GUARD_MS,
} = require('./lib/herald');
const { request, pollingHandshake, rawTcp } = require('./lib/rawhttp');

const UPGRADE_HEADERS = {
  Connection: 'Upgrade',
  Upgrade: 'websocket',
  'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version': '13',
};

/** A connected socket.io-client that must stay connected and keep receiving. */
async function bystander(h) {
  return connect(h, '/', { token: makeToken(h.config, { sub: 'bystander' }) });
}

async function assertBystanderFine(h, s) {
  assert.equal(s.connected, true, 'the bystander must stay connected');
  await grpcClient(h).emit({ targets: [`conn:${s.id}`], event: 'still', args: [jsonArg('here')] });
  assert.deepEqual((await s.inbox.wait('still'))[0], ['here']);
  assert.deepEqual(s.inbox.disconnects, []);
}

const poll = (sid) => `/socket.io/?EIO=4&transport=polling&sid=${sid}`;

/** Long-polls until a poll's body is not just pings (answering none of them). */
async function pollPastPings(h, sid) {
  for (;;) {
    const r = await request(h, { path: poll(sid) });
    if (r.status !== 200 || r.body !== '2') return r;
  }
}

// The reference server closes a polling transport whose GET is pending with a close packet when the
// server ends the session (ping timeout, forced close), and with a noop when the client sent its own
// close packet (the client is gone already).
heraldTest(
  'a polling session closed by the server (ping timeout) answers the pending GET with a close packet, then the sid is gone',
  { config: { pingIntervalMs: 300, pingTimeoutMs: 600 } },
  async (t, h) => {
    const b = await bystander(h);
    const sid = await pollingHandshake(h);
    // The first polls carry pings; never answering them makes the server close the session while
    // a GET is pending.
    const pending = await pollPastPings(h, sid);
    assert.equal(pending.status, 200);
    assert.equal(pending.body, '1', 'the pending GET of a server close gets the close packet');
    const after = await request(h, { path: poll(sid) });
    assert.equal(after.status, 400);
    assert.deepEqual(JSON.parse(after.body), { code: 1, message: 'Session ID unknown' });
    await assertBystanderFine(h, b);
  },
);

heraldTest(
  'a client close packet answers its own pending GET with a noop',
  { config: { pingIntervalMs: 60000 } },
  async (t, h) => {
    const b = await bystander(h);
    // The GET must be pending on the server before the close; when it arrives too late it finds
    // no session (400) and the exchange is tried again, waiting longer.
    for (let delay = 100; ; delay *= 2) {
      const sid = await pollingHandshake(h);
      const pending = request(h, { path: poll(sid) });
      await new Promise((r) => setTimeout(r, delay));
      const post = await request(h, { method: 'POST', path: poll(sid), body: '1' });
      assert.equal(post.status, 200);
      const r = await pending;
      if (r.status === 400 && delay < GUARD_MS / 4) continue;
      assert.equal(r.status, 200);
      assert.equal(r.body, '6', 'the pending GET gets a noop, not a close packet');
      break;
    }
    await assertBystanderFine(h, b);
  },
);

heraldTest('a second websocket for an upgraded session is accepted, then closed', async (t, h) => {
  const b = await bystander(h);
  const sid = await pollingHandshake(h);
  const url = `ws://${h.edgeAddr}/socket.io/?EIO=4&transport=websocket&sid=${sid}`;
  const first = new WebSocket(url);
  h.track(() => first.terminate());
  const texts = [];
  first.on('message', (d, bin) => {
    if (!bin) {
      const m = d.toString();
      texts.push(m);
      if (m === '2') first.send('3');
    }
  });
  await withGuard(new Promise((r) => first.once('open', r)), GUARD_MS, 'the first websocket');
  first.send('2probe');
  await withGuard(
    new Promise((r) => {
      const check = () => (texts.includes('3probe') ? r() : setTimeout(check, 20));
      check();
    }),
    GUARD_MS,
    '3probe',
  );
  first.send('5');

  const second = new WebSocket(url);
  h.track(() => second.terminate());
  let opened = false;
  second.on('open', () => {
    opened = true;
  });
  second.on('error', () => {});
  const closed = await withGuard(
    new Promise((r) => second.on('close', (code) => r(code))),
    GUARD_MS,
    'the second websocket closing',
  );
  assert.equal(opened, true, 'the second websocket was accepted (101), not refused with 400');
  assert.ok(closed > 0);

  // The upgraded session goes on: a namespace CONNECT over the first websocket is answered.
  first.send('40/anon,');
  await withGuard(
    new Promise((r) => {
      const check = () => (texts.some((m) => m.startsWith('40/anon,{')) ? r() : setTimeout(check, 20));
      check();
    }),
    GUARD_MS,
    'the CONNECT reply on the upgraded session',
  );
  assert.equal(first.readyState, WebSocket.OPEN);
  await assertBystanderFine(h, b);
});

heraldTest('an HTTP/1.0 websocket upgrade is refused', async (t, h) => {
  const b = await bystander(h);
  const c = rawTcp(h);
  await c.connected;
  const head = Object.entries(UPGRADE_HEADERS)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  c.write(`GET /socket.io/?EIO=4&transport=websocket HTTP/1.0\r\nHost: x\r\n${head}\r\n`);
  const got = await withGuard(c.closed, GUARD_MS, 'the answer to an HTTP/1.0 upgrade');
  assert.match(got, /^HTTP\/1\.[01] 400 /, got);
  assert.doesNotMatch(got, /101/);
  await assertBystanderFine(h, b);
});

for (const path of ['/socket.io/?EIO=4&transport=websocket', '/socket.io/?EIO=4&transport=websocket&t=a%20b']) {
  heraldTest(`Sec-WebSocket-Version other than 13 gets 426 with Sec-WebSocket-Version: 13 (${path})`, async (t, h) => {
    const b = await bystander(h);
    const r = await request(h, { path, headers: { ...UPGRADE_HEADERS, 'Sec-WebSocket-Version': '8' } });
    assert.equal(r.status, 426);
    assert.equal(r.headers['sec-websocket-version'], '13');
    assert.match(r.body, /version/);
    await assertBystanderFine(h, b);
  });
}
