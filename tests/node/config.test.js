// Config tooling: `herald config check` names each problem's option and expected type,
// `herald config defaults` prints herald.example.toml, host-name listen addresses, unknown
// HERALD_* variables warn, and config errors come before anything listens.
'use strict';

const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test, after } = require('node:test');
const { REPO_ROOT, runCli, heraldBin, cleanEnv } = require('./lib/herald');
const { spawnListening } = require('./lib/cluster');

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-config-'));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));
let files = 0;

function tmpFile(name, text) {
  files += 1;
  const file = path.join(TMP, `${files}-${name}`);
  fs.writeFileSync(file, text);
  return file;
}

/** Runs herald with extra environment variables; resolves { code, stdout, stderr }. */
function runWithEnv(args, env) {
  return new Promise((resolve) => {
    execFile(heraldBin(), args, { env: cleanEnv(env), timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

// Each bad file and the lines `herald config check` must print for it.
const BAD = [
  {
    what: 'a string where an integer is expected',
    toml: '[edge]\nping_interval_ms = "fast"\n',
    expect: [/edge\.ping_interval_ms: expected an integer, found the string "fast"/],
  },
  {
    what: 'an integer where a string is expected',
    toml: '[core]\nlisten = 50051\n',
    expect: [/core\.listen: expected a string, found the integer 50051/],
  },
  {
    what: 'an unknown option',
    toml: '[edge]\npingInterval = 5\n',
    expect: [/edge\.pingInterval: unknown option/],
  },
  {
    what: 'every problem at once, inside namespaces too',
    toml: '[edge]\nping_timeout_ms = true\n[[namespaces]]\nname = "/"\nrelay = [1]\nmax_rooms_per_connection = -3\n',
    expect: [
      /edge\.ping_timeout_ms: expected an integer, found true/,
      /namespaces\[0\]\.relay\[0\]: expected a string, found the integer 1/,
      /namespaces\[0\]\.max_rooms_per_connection: expected a non-negative integer, found -3/,
    ],
  },
  {
    what: 'a table where a list of tables is expected',
    toml: '[namespaces]\nname = "/"\n',
    expect: [/namespaces: expected a list of tables \(\[\[namespaces\]\]\), found a table/],
  },
  {
    what: 'a bad JWT algorithm',
    toml: '[auth]\nalgorithms = ["HS999"]\n',
    expect: [/auth\.algorithms: unknown algorithm "HS999"/],
  },
  {
    what: 'a bad listen address',
    toml: '[edge]\nlisten = "nowhere"\n',
    expect: [/edge\.listen: "nowhere" is not an address/],
  },
  {
    what: 'a missing key file',
    toml: '[auth]\nalgorithms = ["RS256"]\nrsa_public_key_file = "/nonexistent/key.pem"\n',
    expect: [/auth\.rsa_public_key_file: cannot read/],
  },
  {
    what: 'a TOML syntax error',
    toml: '[edge\n',
    expect: [/line 1/],
  },
];

for (const bad of BAD) {
  test(`herald config check: ${bad.what}`, async () => {
    const file = tmpFile('bad.toml', bad.toml);
    const out = await runCli(['config', 'check', file]);
    assert.notEqual(out.code, 0, `expected a failure, got: ${out.stdout}`);
    for (const re of bad.expect) assert.match(out.stderr, re);
  });
}

test('herald config check: a good file is ok, host names are accepted as listen addresses', async () => {
  const file = tmpFile('good.toml', '[edge]\nlisten = "localhost:8080"\n[core]\nlisten = "localhost:50051"\n');
  const out = await runCli(['config', 'check', file]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /: ok$/m);
});

test('herald config defaults prints herald.example.toml, which checks clean', async () => {
  const out = await runCli(['config', 'defaults']);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, fs.readFileSync(path.join(REPO_ROOT, 'herald.example.toml'), 'utf8'));
  const file = tmpFile('defaults.toml', out.stdout);
  const check = await runCli(['config', 'check', file]);
  assert.equal(check.code, 0, check.stderr);
});

test('unknown HERALD_* variables warn; a bad value names the variable', async () => {
  const warned = await runWithEnv(['config', 'check'], { HERALD_LSTEN: '1' });
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /warning: HERALD_LSTEN is set but names no option/);
  const bad = await runWithEnv(['config', 'check'], { HERALD_EDGE_PING_INTERVAL_MS: 'soon' });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /HERALD_EDGE_PING_INTERVAL_MS: "soon" is not an integer/);
});

test('herald serve: a config error is reported before anything listens', async () => {
  const file = tmpFile('bad.toml', '[auth]\nalgorithms = ["HS999"]\n');
  const out = await runCli(['serve', '--config', file, '--core-listen', '127.0.0.1:0', '--edge-listen', '127.0.0.1:0'], {
    cwd: TMP,
  });
  assert.notEqual(out.code, 0);
  assert.match(out.stderr, /auth\.algorithms: unknown algorithm "HS999"/);
  assert.doesNotMatch(out.stdout, /listening/);
});

test('herald serve listens on a host-name address (localhost:0)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-config-'));
  const file = path.join(dir, 'h.toml');
  fs.writeFileSync(file, '[store]\nurl = ""\n');
  const core = await spawnListening(heraldBin(), ['core', '--config', file, '--listen', 'localhost:0'], dir, 'core');
  try {
    assert.match(core.addr, /:\d+$/);
  } finally {
    await core.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
