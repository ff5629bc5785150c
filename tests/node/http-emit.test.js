// `POST /v1/emit` on the edge and `herald emit`: every EmitRequest field with the gRPC meaning
// (delivery class, idempotency key, ack timeout, exclusions, binary arguments); unknown fields
// refused with 400 naming them.
'use strict';

const assert = require('node:assert/strict');
const {
  heraldTest,
  connect,
  makeToken,
  grpcClient,
  jsonArg,
  toBuffer,
  runCli,
  withGuard,
  GUARD_MS,
} = require('./lib/herald');

/** POSTs `body` (an object, or raw text) to the edge's /v1/emit with the service token. */
async function httpEmit(h, body, { token = h.config.serviceToken } = {}) {
  const res = await withGuard(
    fetch(`${h.edgeUrl}/v1/emit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
    GUARD_MS,
    'POST /v1/emit',
  );
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

const recovery = {
  connectionStateRecovery: true,
  namespaces: [{ name: '/', anonymous: false }],
};

heraldTest('POST /v1/emit: delivery class, binary args, except and acks as in gRPC', { config: recovery }, async (t, h) => {
  const alice = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const skipped = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });

  // Recoverable (the default for users): the client gets the offset as the last argument.
  let r = await httpEmit(h, { targets: ['user:alice'], except: [`conn:${skipped.id}`], event: 'rec', args: [1] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.positions.length, 1, 'a recoverable event has a position');
  const [rec] = await alice.inbox.wait('rec');
  assert.equal(rec[0], 1);
  assert.equal(typeof rec[1], 'string', 'recoverable: offset argument');

  // Volatile: no position, no offset argument.
  r = await httpEmit(h, { targets: ['user:alice'], except: [`conn:${skipped.id}`], event: 'vol', args: [2], delivery: 'volatile' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.positions, [], 'volatile: no position');
  assert.deepEqual((await alice.inbox.wait('vol'))[0], [2]);

  // Recoverable asked explicitly for a conn target (whose default is volatile).
  r = await httpEmit(h, { targets: [`conn:${alice.id}`], event: 'conn-rec', args: [3], delivery: 'recoverable' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.positions.length, 1, r.text);

  // Binary arguments, in place among JSON ones.
  r = await httpEmit(h, {
    targets: [`conn:${alice.id}`],
    event: 'bin',
    args: [{ a: 1 }, { $binary: Buffer.from([1, 2, 3]).toString('base64') }, 'tail'],
    delivery: 'volatile',
  });
  assert.equal(r.status, 200, r.text);
  const [bin] = await alice.inbox.wait('bin');
  assert.deepEqual(bin[0], { a: 1 });
  assert.deepEqual([...toBuffer(bin[1])], [1, 2, 3]);
  assert.equal(bin[2], 'tail');

  // Acks: the client's ack arguments come back.
  alice.on('ask', (...args) => args[args.length - 1]('yes'));
  r = await httpEmit(h, { targets: [`conn:${alice.id}`], event: 'ask', args: [], ack_timeout_ms: 5000 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.acks.length, 1, r.text);
  assert.equal(r.json.acks[0].acked, true);
  assert.deepEqual(r.json.acks[0].args, ['yes']);

  await grpcClient(h).emit({ targets: [`conn:${skipped.id}`], event: 'marker', args: [jsonArg(1)] });
  await skipped.inbox.wait('marker');
  assert.deepEqual(skipped.inbox.all('rec'), [], 'except honoured');
});

heraldTest('POST /v1/emit: the same idempotency key answers the first response and delivers once', async (t, h) => {
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const body = { targets: ['user:alice'], event: 'once', args: ['x'], idempotency_key: 'k-1' };
  const first = await httpEmit(h, body);
  const second = await httpEmit(h, body);
  assert.equal(first.status, 200, first.text);
  assert.equal(second.status, 200, second.text);
  assert.equal(second.json.event_id, first.json.event_id, 'same event id for the same key');
  await grpcClient(h).emit({ targets: ['user:alice'], event: 'marker', args: [] });
  await s.inbox.wait('marker');
  assert.equal(s.inbox.all('once').length, 1, 'delivered once');
});

heraldTest('POST /v1/emit: unknown fields and bad values get 400 naming them', async (t, h) => {
  let r = await httpEmit(h, { targets: ['user:alice'], event: 'x', colour: 'red', ack_timeout: 5 });
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /colour/);
  assert.match(r.text, /ack_timeout\b/);

  r = await httpEmit(h, { targets: ['user:alice'], event: 'x', delivery: 'sometimes' });
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /delivery/);

  r = await httpEmit(h, { targets: ['user:alice'], event: 'x', args: [{ $binary: 'not base64!' }] });
  assert.equal(r.status, 400, r.text);
  assert.match(r.text, /args\[0\]/);

  r = await httpEmit(h, '{"targets": ["user:alice"], "event": ');
  assert.equal(r.status, 400, r.text);
});

heraldTest('`herald emit` has flags for the delivery class, idempotency key and binary args', { config: recovery }, async (t, h) => {
  const s = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const base = ['emit', '--core', `http://${h.grpcAddr}`, '--token', h.config.serviceToken, '--to', 'user:alice'];

  let out = await runCli([...base, '--event', 'vol', '--json', '1', '--delivery', 'volatile'], { cwd: h.dir });
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout).positions, [], 'volatile: no position');
  assert.deepEqual((await s.inbox.wait('vol'))[0], [1], 'no offset argument');

  const key = ['--event', 'once', '--json', '2', '--idempotency-key', 'cli-k'];
  const first = await runCli([...base, ...key], { cwd: h.dir });
  const second = await runCli([...base, ...key], { cwd: h.dir });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).event_id, JSON.parse(first.stdout).event_id);

  out = await runCli(
    [...base, '--event', 'bin', '--json', '"a"', '--binary', Buffer.from([9, 8]).toString('base64'), '--delivery', 'volatile'],
    { cwd: h.dir },
  );
  assert.equal(out.code, 0, out.stderr);
  const [bin] = await s.inbox.wait('bin');
  assert.equal(bin[0], 'a');
  assert.deepEqual([...toBuffer(bin[1])], [9, 8]);

  await grpcClient(h).emit({ targets: ['user:alice'], event: 'marker', args: [] });
  await s.inbox.wait('marker');
  assert.equal(s.inbox.all('once').length, 1, 'the repeated key delivered once');

  out = await runCli([...base, '--event', 'x', '--delivery', 'sometimes'], { cwd: h.dir });
  assert.notEqual(out.code, 0);
  assert.match(out.stderr, /delivery/);
});
