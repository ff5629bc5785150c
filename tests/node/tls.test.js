// TLS on the core's gRPC API end to end, with certificates made by the openssl CLI at run time:
// the CLI and an edge connect with the CA from the config, plaintext is refused.
'use strict';

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const { runCli, withGuard, GUARD_MS } = require('./lib/herald');
const { coreAndEdge } = require('./lib/cluster');
const { writeConfig } = require('./lib/config');

/** A CA and a server certificate for localhost / 127.0.0.1 it signed, in `dir`. */
function makePki(dir) {
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=herald test CA');
  ssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf');
}

function readyz(port) {
  return withGuard(
    new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/readyz' }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    }),
    GUARD_MS,
    'GET /readyz',
  );
}

test('core over TLS: the CLI and an edge connect with the configured CA; plaintext is refused', { timeout: 90000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tls-'));
  const procs = [];
  try {
    makePki(dir);
    const config = writeConfig(dir);
    const f = (name) => JSON.stringify(path.join(dir, name));
    fs.writeFileSync(
      config.path,
      config.text
        .replace('[core]\n', `[core]\ntls_cert_file = ${f('server.pem')}\ntls_key_file = ${f('server.key')}\n`)
        .replace('[edge]\n', `[edge]\ncore_ca_file = ${f('ca.pem')}\n`),
    );
    const { core, edgePort } = await coreAndEdge(dir, config.path, procs, { scheme: 'https', host: 'localhost' });
    const port = core.addr.split(':').pop();

    const ok = await runCli(['stats', '--config', config.path, '--core', `localhost:${port}`, '--json']);
    assert.equal(ok.code, 0, `herald stats over TLS failed: ${ok.stderr}`);
    assert.equal(typeof JSON.parse(ok.stdout).edges, 'number');

    const emitted = await runCli(['emit', '--config', config.path, '--core', `localhost:${port}`, '--to', '*', '--event', 'x']);
    assert.equal(emitted.code, 0, `herald emit over TLS failed: ${emitted.stderr}`);
    assert.equal(typeof JSON.parse(emitted.stdout).event_id, 'string');

    const plain = await runCli(['stats', '--core', `http://127.0.0.1:${port}`, '--token', config.serviceToken]);
    assert.notEqual(plain.code, 0, 'a plaintext call must fail');
    assert.match(plain.stderr, /Stats at http:\/\/127\.0\.0\.1:\d+|cannot connect/);

    const deadline = Date.now() + 30000;
    while ((await readyz(edgePort)) !== 200) {
      assert.ok(Date.now() < deadline, `the edge never linked over TLS:\n${procs[1].stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
