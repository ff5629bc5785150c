// Logs an operator reads: JSON lines that parse one by one with stable fields, refusals logged
// once with their reason (never the token), no colour codes when stderr is not a terminal, and
// network errors that name their peer.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const { heraldTest, connectError, grpcClient, makeToken, heraldBin, freePort } = require('./lib/herald');
const { spawnListening } = require('./lib/cluster');
const { writeConfig } = require('./lib/config');

/** Polls until `probe()` is true (generous deadline; never decides the result by time alone). */
async function waitUntil(probe, what, ms = 30000) {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The complete lines of `text` parsed as JSON (throws on the first that does not parse). */
function jsonLines(text) {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch (e) {
        throw new Error(`log line is not JSON: ${JSON.stringify(l)} (${e.message})`);
      }
    });
}

const JSON_LOGS = { config: { extraToml: '[log]\nformat = "json"' } };

heraldTest('log.format = "json": every line parses, refusals are logged once with the reason and no token', JSON_LOGS, async (t, h) => {
  // A client token signed with another secret, and a wrong service credential.
  const badToken = makeToken({ ...h.config, secret: 'some-other-secret-entirely' }, { sub: 'mallory' });
  const refused = await connectError(h, '/', { token: badToken });
  assert.equal(typeof refused, 'string');
  await assert.rejects(
    grpcClient(h).emit({ targets: ['user:x'], event: 'x', args: [] }, { token: 'wrong-service-token' }),
    /invalid service credential/,
  );
  const complete = () => h.stderr().slice(0, h.stderr().lastIndexOf('\n') + 1);
  await waitUntil(
    () => /connect refused/.test(complete()) && /gRPC call refused/.test(complete()),
    'both refusals in the log',
  );

  const lines = jsonLines(complete());
  for (const l of lines) {
    assert.equal(typeof l.timestamp, 'string', JSON.stringify(l));
    assert.match(l.level, /^(TRACE|DEBUG|INFO|WARN|ERROR)$/, JSON.stringify(l));
    assert.equal(typeof l.target, 'string', JSON.stringify(l));
    assert.equal(typeof l.message, 'string', JSON.stringify(l));
  }
  const connects = lines.filter((l) => l.message === 'connect refused');
  assert.equal(connects.length, 1, 'one refused connect, logged once');
  assert.equal(connects[0].ns, '/');
  assert.match(connects[0].reason, /signature|invalid/i);
  const calls = lines.filter((l) => l.message === 'gRPC call refused');
  assert.equal(calls.length, 1, 'one refused call, logged once');
  assert.equal(calls[0].reason, 'invalid service credential');
  assert.match(calls[0].peer, /^127\.0\.0\.1:\d+$/);
  assert.ok(!h.stderr().includes(badToken), 'the refused token is never logged');
  assert.ok(!h.stderr().includes('wrong-service-token'), 'the refused credential is never logged');
});

heraldTest('text logs carry no colour codes when stderr is not a terminal', async (t, h) => {
  await connectError(h, '/', { token: 'not-a-jwt' });
  await waitUntil(() => /connect refused/.test(h.stderr()), 'the refusal in the log');
  assert.ok(!h.stderr().includes('\u001b['), `ANSI escape in: ${h.stderr().slice(0, 300)}`);
});

test('a failed link names the core it tried, each cause once', { timeout: 60000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-logs-'));
  const config = writeConfig(dir);
  // A port nobody listens on.
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const edge = await spawnListening(heraldBin(), ['edge', '--config', config.path, '--listen', '127.0.0.1:0', '--core', url], dir, 'edge');
  try {
    await waitUntil(() => edge.stderr().includes('failed'), 'a link failure in the log');
    const line = edge.stderr().split('\n').find((l) => l.includes('link to core'));
    assert.ok(line.includes(`link to core ${url} failed:`), line);
    assert.doesNotMatch(line, /transport error: transport error/);
    assert.match(line, /refused/i, 'the cause is given');
  } finally {
    await edge.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
