// HTTPS / WSS on the edge (`edge.tls_cert_file` / `edge.tls_key_file`) under `herald serve`, with
// certificates made by the openssl CLI at run time: socket.io-client over https with polling,
// websocket and the upgrade between them, the HTTP routes, the router's websocket path, plain HTTP
// refused while others are served, the handshake deadline, and the config errors.
'use strict';

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { test, after } = require('node:test');
const { io } = require('socket.io-client');
const WebSocket = require('ws');
const {
  heraldTest,
  makeToken,
  grpcClient,
  jsonArg,
  runCli,
  writeConfig,
  withGuard,
  GUARD_MS,
} = require('./lib/herald');
const { Inbox, whenConnected } = require('./lib/socket');
const { parseProm, sample } = require('./lib/prom');

const PKI = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-edge-tls-'));
after(() => fs.rmSync(PKI, { recursive: true, force: true }));

/** A CA and a certificate for localhost / 127.0.0.1 it signed, in PKI. */
function makePki() {
  const ssl = (...args) => execFileSync('openssl', args, { cwd: PKI, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=herald edge test CA');
  ssl('req', ...ec, '-keyout', 'edge.key', '-out', 'edge.csr', '-subj', '/CN=localhost');
  fs.writeFileSync(path.join(PKI, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'edge.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'edge.pem', '-days', '1', '-extfile', 'ext.cnf');
}
makePki();
const CA = fs.readFileSync(path.join(PKI, 'ca.pem'));
const TLS = { tls_cert_file: path.join(PKI, 'edge.pem'), tls_key_file: path.join(PKI, 'edge.key') };
const STATIC = path.join(PKI, 'static');
fs.mkdirSync(STATIC);
fs.writeFileSync(path.join(STATIC, 'index.html'), '<p>served over https</p>\n');
const ADMIN_SECRET = 'edge-tls-admin-secret';

/** GET over HTTPS with the test CA; resolves { status, body }. */
function get(h, urlPath, headers = {}) {
  return withGuard(
    new Promise((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: h.edgePort, path: urlPath, ca: CA, headers }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        })
        .on('error', reject);
    }),
    GUARD_MS,
    `GET https ${urlPath}`,
  );
}

/** A socket.io-client socket to the HTTPS edge, trusting the test CA. */
function tlsSocket(h, transports, sub, extra = {}) {
  const opts = { forceNew: true, reconnection: false, ca: CA, auth: { token: makeToken(h.config, { sub }) }, ...extra };
  if (transports) opts.transports = transports;
  const socket = io(`https://127.0.0.1:${h.edgePort}/`, opts);
  socket.inbox = new Inbox(socket);
  h.track(() => socket.disconnect());
  return socket;
}

/** Events both ways: an ack from the edge, and an emit (small and larger than TLS records) from the core. */
async function roundTrip(h, s, label) {
  const ack = await withGuard(s.emitWithAck('no-such-event', label), GUARD_MS, `${label}: ack`);
  assert.deepEqual(ack, { error: 'unknown event no-such-event' }, `${label}: the ack`);
  const big = 'x'.repeat(200 * 1024);
  const grpc = grpcClient(h);
  await grpc.emit({ targets: [`conn:${s.id}`], event: 'hello', args: [jsonArg(label)] });
  await grpc.emit({ targets: [`conn:${s.id}`], event: 'big', args: [jsonArg(big)] });
  assert.deepEqual((await s.inbox.wait('hello'))[0], [label]);
  assert.equal((await s.inbox.wait('big'))[0][0].length, big.length, `${label}: the large event arrives whole`);
}

async function metric(h, name, labels) {
  const r = await get(h, '/metrics');
  assert.equal(r.status, 200);
  return sample(parseProm(r.body), name, labels) || 0;
}

/** Polls `check` until truthy, within the hang guard. */
async function eventually(check, what) {
  const deadline = Date.now() + GUARD_MS;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

heraldTest(
  'socket.io-client over https: polling only, websocket only, and polling then upgrade; the HTTP routes',
  { config: { edge: { ...TLS, admin_secret: ADMIN_SECRET }, staticDir: STATIC } },
  async (t, h) => {
    await eventually(async () => (await get(h, '/readyz')).status === 200, '/readyz 200 over https');
    assert.equal((await get(h, '/healthz')).status, 200);
    assert.match((await get(h, '/')).body, /served over https/);
    assert.equal((await get(h, '/admin/')).status, 200);
    const stats = await get(h, '/admin/api/stats', { authorization: `Bearer ${ADMIN_SECRET}` });
    assert.equal(stats.status, 200, stats.body);
    assert.equal(typeof JSON.parse(stats.body), 'object');

    const polling = await whenConnected(tlsSocket(h, ['polling'], 'polling'));
    assert.equal(polling.io.engine.transport.name, 'polling');
    await roundTrip(h, polling, 'polling');

    const ws = await whenConnected(tlsSocket(h, ['websocket'], 'websocket'));
    assert.equal(ws.io.engine.transport.name, 'websocket');
    await roundTrip(h, ws, 'websocket');

    const upgrading = tlsSocket(h, undefined, 'upgrade');
    const upgraded = withGuard(
      new Promise((resolve) => upgrading.io.engine.once('upgrade', (tr) => resolve(tr.name))),
      GUARD_MS,
      'the polling -> websocket upgrade',
    );
    await whenConnected(upgrading);
    assert.equal(await upgraded, 'websocket');
    await roundTrip(h, upgrading, 'upgraded');

    // A request the fast path leaves to the router (an escaped query value) upgrades there.
    const raw = new WebSocket(`wss://127.0.0.1:${h.edgePort}/socket.io/?EIO=4&transport=websocket&x=%41`, { ca: CA });
    h.track(() => raw.terminate());
    const open = await withGuard(
      new Promise((resolve, reject) => {
        raw.once('message', (m) => resolve(m.toString()));
        raw.once('error', reject);
      }),
      GUARD_MS,
      'the open packet over the router',
    );
    assert.match(open, /^0\{"sid":/);

    for (const s of [polling, ws, upgrading]) {
      assert.equal(s.connected, true);
      assert.deepEqual(s.inbox.disconnects, []);
    }
  },
);

heraldTest(
  'a websocket over TLS that stops reading gets every frame, in order, once it reads again',
  // No pings during the test: only the flusher may send what the edge held.
  { config: { edge: TLS, pingIntervalMs: 30000, pingTimeoutMs: 30000 } },
  async (t, h) => {
    const s = await whenConnected(tlsSocket(h, ['websocket'], 'slow-reader'));
    const frames = () => metric(h, 'herald_edge_frames_sent_total');
    const before = await frames();
    // The client stops reading: the kernel's buffers fill, then the edge holds the rest (TLS
    // ciphertext the socket did not take, frames waiting in the sink).
    const tcp = s.io.engine.transport.ws._socket;
    tcp.pause();
    const n = 100;
    const chunk = 'y'.repeat(64 * 1024);
    const grpc = grpcClient(h);
    for (let i = 0; i < n; i += 1) {
      await grpc.emit({ targets: [`conn:${s.id}`], event: 'seq', args: [jsonArg(i), jsonArg(chunk)] });
    }
    await eventually(async () => (await frames()) >= before + n, 'every frame handed to the paused websocket');
    tcp.resume();
    const got = await s.inbox.wait('seq', n);
    assert.deepEqual(got.map((args) => args[0]), [...Array(n).keys()], 'in order, none missing');
    assert.ok(got.every((args) => args[1] === chunk), 'every frame whole');
    assert.equal(s.connected, true);
  },
);

heraldTest(
  'under TLS the per-address limits see the TCP peer',
  { config: { edge: { ...TLS, max_sessions_per_ip: 1 } } },
  async (t, h) => {
    const first = await whenConnected(tlsSocket(h, ['websocket'], 'first'));
    const refused = tlsSocket(h, ['websocket'], 'second');
    await assert.rejects(whenConnected(refused), 'a second session from 127.0.0.1 is over the limit');
    assert.equal(await metric(h, 'herald_edge_limit_refusals_total', { limit: 'max_sessions_per_ip' }), 1);
    const other = await whenConnected(tlsSocket(h, ['websocket'], 'other', { localAddress: '127.0.0.2' }));
    assert.equal(other.connected, true, 'another address has its own allowance');
    assert.equal(first.connected, true);
  },
);

heraldTest(
  'plain HTTP to the https edge is refused cleanly and counted; a client that never completes its handshake is closed',
  { config: { edge: { ...TLS, header_timeout_ms: 500 } } },
  async (t, h) => {
    const s = await whenConnected(tlsSocket(h, ['websocket'], 'bystander'));

    // No HTTP answer: the handshake fails and the connection is closed.
    const plain = await withGuard(
      new Promise((resolve) => {
        http
          .get({ host: '127.0.0.1', port: h.edgePort, path: '/readyz' }, (res) => resolve({ status: res.statusCode }))
          .on('error', (err) => resolve({ error: err.message }));
      }),
      GUARD_MS,
      'a plain HTTP request to the https edge',
    );
    assert.ok(plain.error, `plain HTTP must fail, got ${JSON.stringify(plain)}`);
    await eventually(async () => (await metric(h, 'herald_edge_tls_handshake_failures_total')) >= 1, 'the failure counted');

    // A TCP connection that sends nothing is closed after header_timeout_ms.
    const started = Date.now();
    const idle = net.connect(h.edgePort, '127.0.0.1');
    idle.on('error', () => {});
    await withGuard(new Promise((resolve) => idle.once('close', resolve)), GUARD_MS, 'the silent connection closed');
    assert.ok(Date.now() - started >= 400, 'closed at the deadline, not at once');

    // The edge kept serving the others.
    assert.equal(s.connected, true);
    await roundTrip(h, s, 'bystander');
    const again = await whenConnected(tlsSocket(h, ['polling'], 'after'));
    assert.equal(again.connected, true);
  },
);

test('a TLS certificate without its key, or an invalid one, stops start-up naming the option', { timeout: 60000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-edge-tls-cfg-'));
  try {
    const bad = path.join(dir, 'bad.pem');
    fs.writeFileSync(bad, 'not a certificate\n');
    const cases = [
      { edge: { tls_cert_file: TLS.tls_cert_file }, expect: /edge\.tls_cert_file \/ edge\.tls_key_file: set both, or neither/ },
      { edge: { tls_cert_file: bad, tls_key_file: TLS.tls_key_file }, expect: /edge\.tls_cert_file: no valid PEM certificate/ },
      { edge: { tls_cert_file: TLS.tls_cert_file, tls_key_file: path.join(dir, 'missing.key') }, expect: /edge\.tls_key_file: cannot read/ },
    ];
    for (const c of cases) {
      const config = writeConfig(dir, { edge: c.edge });
      const r = await runCli(['serve', '--config', config.path, '--core-listen', '127.0.0.1:0', '--edge-listen', '127.0.0.1:0']);
      assert.notEqual(r.code, 0, `herald serve must refuse ${JSON.stringify(c.edge)}`);
      assert.match(r.stderr, c.expect);
      assert.doesNotMatch(r.stdout, /listening on/, 'nothing listens');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
