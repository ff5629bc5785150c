// The herald CLI: `herald token` mints a token that connects; `herald emit` delivers an event.
'use strict';

const assert = require('node:assert/strict');
const { heraldTest, connect, makeToken, runCli, grpcClient, jsonArg } = require('./lib/herald');

heraldTest('`herald token --sub alice` prints a token that connects as alice', async (t, h) => {
  const out = await runCli(['token', '--sub', 'alice', '--config', h.config.path], { cwd: h.dir });
  assert.equal(out.code, 0, `herald token failed: ${out.stderr}`);
  const lines = out.stdout.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one line on stdout, got: ${JSON.stringify(out.stdout)}`);
  const token = lines[0].trim();
  assert.equal(token.split('.').length, 3, 'a JWT has three parts');
  const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
  assert.equal(header.alg, 'HS256');

  const s = await connect(h, '/', { token });
  await grpcClient(h).emit({ targets: ['user:alice'], event: 'hi', args: [jsonArg('cli token')] });
  assert.deepEqual((await s.inbox.wait('hi'))[0], ['cli token']);
});

heraldTest('`herald token --room lobby` grants the join', async (t, h) => {
  const out = await runCli(['token', '--sub', 'alice', '--room', 'lobby', '--config', h.config.path], { cwd: h.dir });
  assert.equal(out.code, 0, `herald token failed: ${out.stderr}`);
  const s = await connect(h, '/', { token: out.stdout.trim() });
  assert.deepEqual(await s.timeout(10000).emitWithAck('join', 'lobby'), { ok: true });
  const other = await s.timeout(10000).emitWithAck('join', 'elsewhere');
  assert.equal(other.ok, false);
});

heraldTest('`herald emit` delivers an event and prints the response as JSON', async (t, h) => {
  const keep = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const skipped = await connect(h, '/', { token: makeToken(h.config, { sub: 'alice' }) });
  const out = await runCli(
    [
      'emit',
      '--to',
      'user:alice',
      '--except',
      `conn:${skipped.id}`,
      '--event',
      'cli-event',
      '--json',
      '{"a":1}',
      '--json',
      '"two"',
      '--namespace',
      '/',
      '--core',
      `http://${h.grpcAddr}`,
      '--token',
      h.config.serviceToken,
    ],
    { cwd: h.dir },
  );
  assert.equal(out.code, 0, `herald emit failed: ${out.stderr}`);
  let parsed;
  assert.doesNotThrow(() => {
    parsed = JSON.parse(out.stdout);
  }, `stdout is not JSON: ${out.stdout}`);
  assert.equal(typeof parsed, 'object');

  assert.deepEqual((await keep.inbox.wait('cli-event'))[0], [{ a: 1 }, 'two']);
  await grpcClient(h).emit({ targets: [`conn:${skipped.id}`], event: 'marker', args: [] });
  await skipped.inbox.wait('marker');
  assert.deepEqual(skipped.inbox.all('cli-event'), [], '--except conn:ID is honoured');
});

heraldTest('`herald emit` with a wrong service token fails with a non-zero exit', async (t, h) => {
  const out = await runCli(
    ['emit', '--to', 'user:alice', '--event', 'x', '--core', `http://${h.grpcAddr}`, '--token', 'wrong-token'],
    { cwd: h.dir },
  );
  assert.notEqual(out.code, 0, `expected a failure, got stdout: ${out.stdout}`);
  assert.notEqual(out.stderr.trim(), '', 'the failure is explained on stderr');
});

const { test } = require('node:test');
const { assertBinaryPresent, heraldBin } = require('./lib/herald');

test('the herald binary under test exists (a missing binary fails, never skips)', () => {
  assert.equal(assertBinaryPresent(), heraldBin());
});
