// The edge's plain HTTP routes: health check and the static example page (no path traversal).
'use strict';

const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { heraldTest, REPO_ROOT, withGuard, GUARD_MS } = require('./lib/herald');

/** GET with the path sent verbatim (no URL normalisation), resolves { status, body }. */
function rawGet(h, rawPath) {
  return withGuard(
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: h.edgePort, path: rawPath, method: 'GET' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    }),
    GUARD_MS,
    `GET ${rawPath}`,
  );
}

const STATIC = { config: { staticDir: path.join(REPO_ROOT, 'clients', 'js') } };

heraldTest('GET /healthz answers 200 ok', async (t, h) => {
  const res = await rawGet(h, '/healthz');
  assert.equal(res.status, 200);
  assert.equal(res.body.trim(), 'ok');
});

heraldTest('GET / serves the example page from static_dir', STATIC, async (t, h) => {
  const res = await rawGet(h, '/');
  assert.equal(res.status, 200);
  assert.match(res.body, /socket\.io\.min\.js/);
  const again = await rawGet(h, '/index.html');
  assert.equal(again.status, 200);
  assert.equal(again.body, res.body);
});

heraldTest('static files cannot escape static_dir', STATIC, async (t, h) => {
  for (const p of ['/../../Cargo.toml', '/%2e%2e/%2e%2e/Cargo.toml', '/..%2f..%2fCargo.toml', '/does-not-exist.txt']) {
    const res = await rawGet(h, p);
    assert.notEqual(res.status, 200, `${p} must not be served`);
    assert.doesNotMatch(res.body, /\[workspace\]/, `${p} leaked a file outside static_dir`);
  }
  h.assertAlive();
});
