// edge.allowed_origins: pages from an allowed origin (exact or *.domain pattern) connect over
// polling and websocket and get CORS headers (preflights included); other origins are refused with
// 403 {"code":4,...}; clients that send no Origin (not browsers) are not affected.
'use strict';

const assert = require('node:assert/strict');
const {
  heraldTest,
  connect,
  openSocket,
  makeToken,
  grpcClient,
  jsonArg,
  withGuard,
  GUARD_MS,
} = require('./lib/herald');
const { request } = require('./lib/rawhttp');

const ALLOWED = 'https://app.example.com';
const PATTERNED = 'https://tenant-1.example.org';
const FOREIGN = 'https://evil.example.net';
const CONFIG = { edge: { allowed_origins: [ALLOWED, 'https://*.example.org'] } };

/** Opens a socket.io-client whose requests carry `Origin: origin`. */
function fromOrigin(h, origin, transport) {
  return openSocket(h, '/', {
    token: makeToken(h.config, { sub: `user-${transport}` }),
    transports: [transport],
    extraHeaders: { Origin: origin },
  });
}

/** Resolves 'connect', or the connect_error itself. */
function outcome(socket) {
  return withGuard(
    new Promise((resolve) => {
      socket.once('connect', () => resolve('connect'));
      socket.once('connect_error', (err) => resolve(err));
    }),
    GUARD_MS,
    'connect or connect_error',
  );
}

async function assertBystanderFine(h, s) {
  assert.equal(s.connected, true, 'the bystander must stay connected');
  await grpcClient(h).emit({ targets: [`conn:${s.id}`], event: 'still', args: [jsonArg('here')] });
  assert.deepEqual((await s.inbox.wait('still'))[0], ['here']);
  assert.deepEqual(s.inbox.disconnects, []);
}

for (const transport of ['polling', 'websocket']) {
  heraldTest(`allowed origins connect over ${transport}, others are refused`, { config: CONFIG }, async (t, h) => {
    // A client without Origin (not a browser) is not subject to the list.
    const b = await connect(h, '/', { token: makeToken(h.config, { sub: 'bystander' }) });
    for (const origin of [ALLOWED, PATTERNED]) {
      const s = fromOrigin(h, origin, transport);
      assert.equal(await outcome(s), 'connect', `${origin} over ${transport}`);
      assert.equal(s.io.engine.transport.name, transport);
      await grpcClient(h).emit({ targets: [`conn:${s.id}`], event: 'hi', args: [jsonArg(origin)] });
      assert.deepEqual((await s.inbox.wait('hi'))[0], [origin]);
    }
    const refused = fromOrigin(h, FOREIGN, transport);
    const err = await outcome(refused);
    assert.notEqual(err, 'connect', `${FOREIGN} must be refused`);
    if (transport === 'polling') {
      assert.equal(err.message, 'xhr poll error');
      // The status is what the client exposes; the body is checked below with a plain request.
      assert.equal(err.description, 403);
    } else {
      assert.equal(err.message, 'websocket error');
      assert.match(String(err.description && err.description.message), /403/);
    }
    await assertBystanderFine(h, b);
  });
}

heraldTest('polling responses carry CORS headers for allowed origins only', { config: CONFIG }, async (t, h) => {
  const path = '/socket.io/?EIO=4&transport=polling';
  const ok = await request(h, { path, headers: { Origin: PATTERNED } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], PATTERNED);
  assert.equal(ok.headers['access-control-allow-credentials'], 'true');
  assert.match(ok.headers.vary || '', /Origin/i);

  const bad = await request(h, { path, headers: { Origin: FOREIGN } });
  assert.equal(bad.status, 403);
  assert.deepEqual(JSON.parse(bad.body), { code: 4, message: 'Forbidden: origin not allowed' });
  assert.equal(bad.headers['access-control-allow-origin'], undefined);

  // A near miss of the pattern is not allowed.
  const miss = await request(h, { path, headers: { Origin: 'https://example.org.evil.test' } });
  assert.equal(miss.status, 403);
});

heraldTest('a preflight from an allowed origin gets the CORS answer; others get 403', { config: CONFIG }, async (t, h) => {
  const path = '/socket.io/?EIO=4&transport=polling&sid=whatever';
  const asked = {
    'Access-Control-Request-Method': 'POST',
    'Access-Control-Request-Headers': 'content-type, authorization',
  };
  const ok = await request(h, { method: 'OPTIONS', path, headers: { Origin: ALLOWED, ...asked } });
  assert.equal(ok.status, 204);
  assert.equal(ok.headers['access-control-allow-origin'], ALLOWED);
  assert.equal(ok.headers['access-control-allow-credentials'], 'true');
  assert.match(ok.headers['access-control-allow-methods'], /POST/);
  assert.match(ok.headers['access-control-allow-headers'], /authorization/);
  assert.ok(Number(ok.headers['access-control-max-age']) > 0);

  const bad = await request(h, { method: 'OPTIONS', path, headers: { Origin: FOREIGN, ...asked } });
  assert.equal(bad.status, 403);
  assert.equal(bad.headers['access-control-allow-origin'], undefined);
});

heraldTest('with no list every origin is allowed and CORS answers "*"', async (t, h) => {
  const r = await request(h, { path: '/socket.io/?EIO=4&transport=polling', headers: { Origin: FOREIGN } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], '*');
  assert.equal(r.headers['access-control-allow-credentials'], undefined);
  const s = fromOrigin(h, FOREIGN, 'websocket');
  assert.equal(await outcome(s), 'connect');
});
