// The README's five-minute tour, run as written: every `sh` block of the section, in order, from the
// repository root, with `herald` on the PATH. Long-running commands (`herald serve`, the node
// example) run in the background; the others must exit 0. Ports and the store are redirected to
// free ones with HERALD_* variables, which the tour's commands honour.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { test } = require('node:test');
const { REPO_ROOT, heraldBin, cleanEnv } = require('./lib/herald');

/** The `sh` code blocks of the README section titled `title`, as lines. */
function shLines(file, title) {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const start = text.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `${file} has a section "${title}"`);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const lines = [];
  for (const m of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const l of m[1].split('\n')) if (l.trim() !== '') lines.push(l.trim());
  }
  return lines;
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts `cmd` with bash; resolves once a stdout line matches `ready`. */
function background(cmd, env, ready, procs) {
  const proc = spawn('bash', ['-c', `exec ${cmd}`], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { proc, out: '', err: '' };
  procs.push(p);
  proc.stderr.on('data', (c) => {
    p.err += c;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd}: not ready\n${p.out}\n${p.err}`)), 60000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: exited with ${code}\n${p.out}\n${p.err}`));
    });
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      p.out += `${line}\n`;
      if (ready.test(line)) {
        clearTimeout(timer);
        resolve(p);
      }
    });
  });
}

function run(cmd, env) {
  return new Promise((resolve) => {
    const proc = spawn('bash', ['-c', cmd], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c) => {
      out += c;
    });
    proc.stderr.on('data', (c) => {
      err += c;
    });
    proc.on('exit', (code) => resolve({ code, out, err }));
  });
}

async function until(probe, what) {
  const deadline = Date.now() + 30000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the README tour runs as written', { timeout: 240000 }, async () => {
  const lines = shLines('README.md', 'A five-minute tour');
  assert.ok(lines.some((l) => l.startsWith('herald serve')), 'the tour starts herald');
  assert.ok(lines.some((l) => l.startsWith('herald emit')), 'the tour emits');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-tour-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(heraldBin(), path.join(bin, 'herald'));
  const core = `127.0.0.1:${await freePort()}`;
  const edge = `127.0.0.1:${await freePort()}`;
  const env = cleanEnv({
    PATH: `${bin}:${process.env.PATH}`,
    HERALD_CORE_LISTEN: core,
    HERALD_EDGE_LISTEN: edge,
    HERALD_STORE_URL: `sqlite://${path.join(dir, 'herald.db')}`,
    HERALD_URL: `http://${edge}/`,
  });
  const procs = [];
  let client;
  try {
    for (const line of lines) {
      if (line.startsWith('cargo install')) continue; // the binary under test is on the PATH instead
      if (line.startsWith('herald serve')) {
        await background(line, env, /^herald edge listening on/, procs);
      } else if (line.startsWith('node ')) {
        client = await background(line, env, /^connected to /, procs);
      } else {
        const r = await run(line, env);
        assert.equal(r.code, 0, `\`${line}\` failed:\n${r.out}\n${r.err}`);
        if (line.startsWith('herald emit')) JSON.parse(r.out);
      }
    }
    assert.ok(client, 'the tour connects a client');
    await until(() => client.out.includes('new_message {"text":"hello"}'), 'the user event in the example client');
    await until(() => client.out.includes('system_announcement {"title":"hi all"}'), 'the broadcast');
  } finally {
    for (const p of procs.reverse()) {
      if (p.proc.exitCode === null) {
        p.proc.kill('SIGTERM');
        await new Promise((r) => p.proc.on('exit', r));
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
